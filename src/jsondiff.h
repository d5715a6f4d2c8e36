/* jsondiff: where two request bodies differ, as JSON pointers with both values shortened
 * ("/messages/1/content": "Name three primes" → "Name four primes"): what a replay miss and
 * `llmshim key --explain` show. Pure; both bodies canonical, so equal values have equal bytes. */
#ifndef LLMSHIM_JSONDIFF_H
#define LLMSHIM_JSONDIFF_H

#include <stddef.h>

#define JSONDIFF_WIDTH 60 /* a value longer than this is cut around where the two differ */

struct jsondiff_item {
    char *path; /* RFC 6901 pointer; "" for the whole body */
    char *a;    /* a's value as short JSON text; NULL where a has none (or the body is not JSON) */
    char *b;
};

struct jsondiff {
    struct jsondiff_item *items; /* the first `max` differences, in document order */
    size_t n;                    /* items filled */
    size_t total;                /* paths that differ in all (counting stops at a large bound) */
};

/* Compares body a with body b (ajson/bjson: canonical JSON, else raw bytes that differ as a
 * whole). max: how many differences to describe; 0 only counts. 0, or -1 when out of memory
 * (d holds what was found). Free with jsondiff_free either way. */
int jsondiff(struct jsondiff *d, const char *a, size_t alen, int ajson, const char *b, size_t blen, int bjson,
             size_t max);
void jsondiff_free(struct jsondiff *d);

#endif
