/* canon: the canonical form of a JSON request body, the part of the cache key that decides
 * "same question". Two bodies that are equal as JSON (key order, whitespace, escapes, 1.0 vs 1)
 * give the same bytes; anything a server could tell apart gives different bytes. */
#ifndef LLMSHIM_CANON_H
#define LLMSHIM_CANON_H

#include <stddef.h>

#include "buf.h"

enum {
    CANON_NORM_WHITESPACE = 1, /* trim and collapse runs of whitespace in message text */
    CANON_NORM_CASE = 2,       /* ASCII-lowercase message text */
};

struct canon_opts {
    const char *const *ignore; /* JSON pointers to leave out ("/metadata", "/messages/0/name",
                                  "*" matches any one segment); NULL-terminated, may be NULL */
    unsigned normalize;        /* CANON_NORM_* applied to strings under message-text keys */
    struct buf *model;         /* if set: gets the top-level "model" string, decoded (one parse
                                  serves both the key and the entry's name) */
};

/* Appends the canonical form of text to out. Returns 0, or -1 when text is not strict JSON
 * (then out is unchanged apart from its length being restored) or memory ran out (then out->oom
 * is set too: such a body must not be taken for raw bytes, which would give it another key). */
int canon_json(const char *text, size_t len, const struct canon_opts *opts, struct buf *out);

#endif
