/* nearest: the recorded request nearest to one that missed, so a miss can say what changed.
 * Ranked by: same URL and model, then same URL, then same model at another URL; then by the
 * fewest differing JSON paths; then the smallest change; then the newest. Pure: the caller feeds it decoded entries. */
#ifndef LLMSHIM_NEAREST_H
#define LLMSHIM_NEAREST_H

#include <stddef.h>

#include "buf.h"
#include "call.h"
#include "entry.h"

enum nearest_rank { NEAR_URL_MODEL, NEAR_URL, NEAR_MODEL, NEAR_NONE };

struct nearest {
    const struct call *c; /* what missed */
    size_t seen;          /* entries considered */
    size_t same_url;      /* of which for the same URL */
    int exact;            /* an entry with c's very key was among them */
    char *exact_name;
    /* the best so far (rank NEAR_NONE: none) */
    enum nearest_rank rank;
    size_t diffs;
    size_t shared; /* bytes both bodies share at their ends: the smaller change wins a tie */
    long long created;
    char hex[65];
    char *name;  /* where the store keeps it, or NULL */
    char *url;
    struct buf body;
    int body_json;
    int oom;
};

void nearest_init(struct nearest *n, const struct call *c);
/* Considers e, kept under name (may be NULL). */
void nearest_consider(struct nearest *n, const struct entry *e, const char *name);
void nearest_free(struct nearest *n);
const char *nearest_rank_text(enum nearest_rank r); /* "same URL and model", ... */

#endif
