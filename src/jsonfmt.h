/* jsonfmt: layouts of JSON text that change only the whitespace between tokens, so each can be
 * undone exactly: compact (none), indented (two spaces per level, as entries are written, and
 * as OpenAI and Gemini write their answers) and spaced (", " and ": " on one line). Pure. */
#ifndef LLMSHIM_JSONFMT_H
#define LLMSHIM_JSONFMT_H

#include <stddef.h>

#include "buf.h"

/* Appends s without the whitespace between tokens (strings are kept as they are). */
int jsonfmt_compact(const char *s, size_t n, struct buf *out);
/* Appends compact JSON indented by two spaces per level starting at depth, one member or
 * element per line; levels deeper than 32 stay on one line. */
void jsonfmt_indent(struct buf *out, const char *compact, size_t n, int depth);
/* Appends compact JSON with a space after every ',' and ':' between tokens. */
void jsonfmt_spaced(struct buf *out, const char *compact, size_t n);

#endif
