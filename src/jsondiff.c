#include "jsondiff.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#define MAX_TOTAL 100000 /* a diff longer than this is "everything differs" anyway */
#define CONTEXT 20       /* bytes kept before the first difference of a long value */

struct ctx {
    const struct json_doc *a, *b;
    struct jsondiff *d;
    size_t max;
    int oom;
};

/* Token text as written: strings with their quotes. */
static void tok_text(const struct json_doc *doc, int i, const char **p, size_t *n) {
    const jsmntok_t *t = &doc->tok[i];
    int s = t->type == JSMN_STRING ? t->start - 1 : t->start, e = t->type == JSMN_STRING ? t->end + 1 : t->end;
    *p = doc->text + s;
    *n = (size_t)(e - s);
}

static int cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

/* p[from, to) with an ellipsis where it was cut; boundaries moved off UTF-8 continuation bytes. */
static char *cut(const char *p, size_t n, size_t from, size_t to) {
    while (from > 0 && from < n && cont((unsigned char)p[from])) from--;
    while (to < n && cont((unsigned char)p[to])) to++;
    struct buf b;
    buf_init(&b);
    if (from > 0) buf_puts(&b, "…");
    buf_append(&b, p + from, to - from);
    if (to < n) buf_puts(&b, "…");
    if (!b.data) buf_puts(&b, "");
    return b.oom ? (buf_free(&b), NULL) : buf_take(&b, NULL);
}

/* Both values, each cut to a window around the first byte where they differ. */
static void shorten_pair(const char *x, size_t xn, const char *y, size_t yn, char **xo, char **yo) {
    size_t p = 0, q = 0, m = xn < yn ? xn : yn;
    while (p < m && x[p] == y[p]) p++;
    while (q < m - p && x[xn - 1 - q] == y[yn - 1 - q]) q++;
    size_t from = p > CONTEXT ? p - CONTEXT : 0;
    if (xn <= JSONDIFF_WIDTH && yn <= JSONDIFF_WIDTH) from = 0;
    size_t xe = xn - q + CONTEXT / 2, ye = yn - q + CONTEXT / 2;
    if (xe > xn) xe = xn;
    if (ye > yn) ye = yn;
    if (xe - from > JSONDIFF_WIDTH) xe = from + JSONDIFF_WIDTH;
    if (ye - from > JSONDIFF_WIDTH) ye = from + JSONDIFF_WIDTH;
    if (xn <= JSONDIFF_WIDTH && yn <= JSONDIFF_WIDTH) xe = xn, ye = yn;
    *xo = cut(x, xn, from, xe);
    *yo = cut(y, yn, from, ye);
}

static char *shorten_one(const char *x, size_t n) {
    return cut(x, n, 0, n > JSONDIFF_WIDTH ? JSONDIFF_WIDTH : n);
}

/* One differing path; ia/ib: the value tokens, -1 where that side has none. */
static void add(struct ctx *c, const struct buf *path, int ia, int ib) {
    struct jsondiff *d = c->d;
    d->total++;
    if (d->n >= c->max || c->oom) return;
    struct jsondiff_item it = {strdup(path->data ? path->data : ""), NULL, NULL};
    const char *x = NULL, *y = NULL;
    size_t xn = 0, yn = 0;
    if (ia >= 0) tok_text(c->a, ia, &x, &xn);
    if (ib >= 0) tok_text(c->b, ib, &y, &yn);
    if (x && y) shorten_pair(x, xn, y, yn, &it.a, &it.b);
    else if (x) it.a = shorten_one(x, xn);
    else if (y) it.b = shorten_one(y, yn);
    if (!it.path || (x && !it.a) || (y && !it.b)) {
        free(it.path);
        free(it.a);
        free(it.b);
        c->oom = 1;
        return;
    }
    d->items[d->n++] = it;
}

/* Appends /segment with ~ and / escaped (RFC 6901); returns the length to restore. */
static size_t push_key(struct buf *path, const struct json_doc *doc, int key) {
    size_t old = path->len;
    struct buf k;
    buf_init(&k);
    json_tok_str(doc, key, &k);
    buf_putc(path, '/');
    for (size_t i = 0; i < k.len; i++) {
        if (k.data[i] == '~') buf_puts(path, "~0");
        else if (k.data[i] == '/') buf_puts(path, "~1");
        else buf_putc(path, k.data[i]);
    }
    buf_free(&k);
    return old;
}

static void restore(struct buf *path, size_t len) {
    path->len = len;
    if (path->data) path->data[len] = '\0';
}

static int same_token(const struct json_doc *a, int i, const struct json_doc *b, int j) {
    const jsmntok_t *x = &a->tok[i], *y = &b->tok[j];
    return x->type == y->type && x->end - x->start == y->end - y->start &&
           !memcmp(a->text + x->start, b->text + y->start, (size_t)(x->end - x->start));
}

/* The value of member `name` (a decoded key) in object obj, or -1. */
static int member(const struct json_doc *doc, int obj, const struct json_doc *kdoc, int key) {
    struct buf name;
    buf_init(&name);
    json_tok_str(kdoc, key, &name);
    int v = json_get(doc, obj, name.data ? name.data : "");
    buf_free(&name);
    return v;
}

static void diff_at(struct ctx *c, int i, int j, struct buf *path, int depth) {
    const jsmntok_t *x = &c->a->tok[i], *y = &c->b->tok[j];
    if (c->d->total >= MAX_TOTAL) return;
    if (x->type != y->type || (x->type != JSMN_OBJECT && x->type != JSMN_ARRAY) || depth > 64) {
        if (!same_token(c->a, i, c->b, j)) add(c, path, i, j);
        return;
    }
    if (x->type == JSMN_ARRAY) {
        int n = x->size > y->size ? x->size : y->size;
        for (int k = 0; k < n; k++) {
            size_t old = path->len;
            buf_printf(path, "/%d", k);
            int ea = k < x->size ? json_child(c->a, i, k) : -1, eb = k < y->size ? json_child(c->b, j, k) : -1;
            if (ea >= 0 && eb >= 0) diff_at(c, ea, eb, path, depth + 1);
            else add(c, path, ea, eb);
            restore(path, old);
        }
        return;
    }
    for (int k = 0; k < x->size; k++) { /* keys of a, then keys only b has */
        int ka = json_child(c->a, i, k), vb = member(c->b, j, c->a, ka);
        size_t old = push_key(path, c->a, ka);
        if (vb < 0) add(c, path, ka + 1, -1);
        else diff_at(c, ka + 1, vb, path, depth + 1);
        restore(path, old);
    }
    for (int k = 0; k < y->size; k++) {
        int kb = json_child(c->b, j, k);
        if (member(c->a, i, c->b, kb) >= 0) continue;
        size_t old = push_key(path, c->b, kb);
        add(c, path, -1, kb + 1);
        restore(path, old);
    }
}

int jsondiff(struct jsondiff *d, const char *a, size_t alen, int ajson, const char *b, size_t blen, int bjson,
             size_t max) {
    memset(d, 0, sizeof(*d));
    if (max && !(d->items = calloc(max, sizeof(*d->items)))) return -1;
    struct json_doc da, db;
    struct ctx c = {&da, &db, d, max, 0};
    struct buf path;
    buf_init(&path);
    int pa = ajson && bjson ? json_parse(&da, a, alen) : -1;
    int pb = pa == 0 ? json_parse(&db, b, blen) : -1;
    if (pa == 0 && pb == 0) {
        diff_at(&c, 0, 0, &path, 0);
    } else if (alen != blen || ajson != bjson || (alen && memcmp(a, b, alen))) {
        /* not both JSON: the whole body differs, and raw bytes are not shown */
        d->total = 1;
        if (max && (d->items[0].path = strdup(""))) d->n = 1;
        else if (max) c.oom = 1;
    }
    if (pa == 0) json_doc_free(&da);
    if (pb == 0) json_doc_free(&db);
    c.oom |= path.oom;
    buf_free(&path);
    return c.oom ? -1 : 0;
}

void jsondiff_free(struct jsondiff *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].path);
        free(d->items[i].a);
        free(d->items[i].b);
    }
    free(d->items);
    memset(d, 0, sizeof(*d));
}
