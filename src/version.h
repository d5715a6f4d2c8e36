/* version: the release, and the formats it reads and writes (README.md, "Versions").
 * MAJOR.MINOR.PATCH: PATCH fixes; MINOR adds without breaking what exists (a newer entry format
 * may be written, every older one is still read); MAJOR breaks something on purpose: a new key
 * format (every entry misses until re-recorded) or a dropped setting. */
#ifndef LLMSHIM_VERSION_H
#define LLMSHIM_VERSION_H

#define LLMSHIM_VERSION "0.2.0"

#endif
