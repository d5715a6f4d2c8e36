/* log: the shim's only voice, one "llmshim: ..." line per event on stderr, written with a single
 * write(2) so lines from many threads and processes do not interleave. */
#ifndef LLMSHIM_LOG_H
#define LLMSHIM_LOG_H

void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
