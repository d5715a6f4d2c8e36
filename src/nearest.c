#include "nearest.h"

#include <stdlib.h>
#include <string.h>

#include "jsondiff.h"

void nearest_init(struct nearest *n, const struct call *c) {
    memset(n, 0, sizeof(*n));
    n->c = c;
    n->rank = NEAR_NONE;
    buf_init(&n->body);
}

static int same_str(const char *a, const char *b) {
    return a && b ? !strcmp(a, b) : a == b;
}

static void replace(char **dst, const char *src, int *oom) {
    free(*dst);
    *dst = src ? strdup(src) : NULL;
    if (src && !*dst) *oom = 1;
}

/* Bytes the two bodies share at both ends: among entries differing in as many paths, the one
 * whose differences are smallest (a word changed, not the whole prompt). */
static size_t shared_ends(const char *a, size_t an, const char *b, size_t bn) {
    size_t p = 0, q = 0, m = an < bn ? an : bn;
    if (!a || !b) return 0;
    while (p < m && a[p] == b[p]) p++;
    while (q < m - p && a[an - 1 - q] == b[bn - 1 - q]) q++;
    return p + q;
}

void nearest_consider(struct nearest *n, const struct entry *e, const char *name) {
    const struct call *c = n->c;
    n->seen++;
    if (!strcmp(e->key, c->hex) && !n->exact) {
        n->exact = 1;
        replace(&n->exact_name, name, &n->oom);
    }
    if (!e->method || strcmp(e->method, "POST") != 0) return;
    int url = same_str(e->url, c->safe_url), model = c->model && same_str(e->model, c->model);
    enum nearest_rank r = url && same_str(e->model, c->model) ? NEAR_URL_MODEL : url ? NEAR_URL
                          : model                             ? NEAR_MODEL
                                                              : NEAR_NONE;
    n->same_url += url;
    if (r == NEAR_NONE || r > n->rank) return;
    struct jsondiff d;
    int rc = jsondiff(&d, e->req_body, e->req_body_len, e->req_json, c->body.data, c->body.len, c->body_json, 0);
    size_t diffs = d.total;
    jsondiff_free(&d);
    if (rc != 0) {
        n->oom = 1;
        return;
    }
    size_t shared = shared_ends(e->req_body, e->req_body_len, c->body.data, c->body.len);
    if (r == n->rank && (diffs > n->diffs ||
                         (diffs == n->diffs && (shared < n->shared || (shared == n->shared && e->created <= n->created)))))
        return;
    n->rank = r;
    n->diffs = diffs;
    n->shared = shared;
    n->created = e->created;
    memcpy(n->hex, e->key, sizeof(n->hex));
    replace(&n->name, name, &n->oom);
    replace(&n->url, e->url, &n->oom);
    buf_clear(&n->body);
    buf_append(&n->body, e->req_body ? e->req_body : "", e->req_body_len);
    n->body_json = e->req_json;
    if (n->body.oom) n->oom = 1;
}

void nearest_free(struct nearest *n) {
    free(n->exact_name);
    free(n->name);
    free(n->url);
    buf_free(&n->body);
    memset(n, 0, sizeof(*n));
}

const char *nearest_rank_text(enum nearest_rank r) {
    static const char *const t[] = {"same URL and model", "same URL, another model", "same model, another URL", "none"};
    return t[r <= NEAR_NONE ? r : NEAR_NONE];
}
