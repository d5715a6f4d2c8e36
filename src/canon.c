#include "canon.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CANON_MAX_DEPTH 64
#define CANON_MAX_IGNORE 64

/* One step of the path from the root to the value being written. */
struct seg {
    const char *key; /* decoded member name, or NULL for an array index */
    size_t key_len;
    int index;
};

struct ctx {
    const struct json_doc *doc;
    const struct canon_opts *opts;
    struct buf *out;
    struct seg path[CANON_MAX_DEPTH];
    int depth;
    int err;
    int model_seen;
    int ignore_depth[CANON_MAX_IGNORE]; /* segments in each ignore pointer: others never match */
};

/* Does JSON pointer p (RFC 6901) name exactly the current path? */
static int pointer_matches(const char *p, const struct seg *path, int depth) {
    for (int d = 0; d < depth; d++) {
        if (*p != '/') return 0;
        p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!(n == 1 && *p == '*')) {
            if (path[d].key) {
                /* compare with ~1 → / and ~0 → ~ decoded */
                size_t k = 0, i = 0;
                for (; i < n; i++, k++) {
                    char c = p[i];
                    if (c == '~') {
                        if (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1')) return 0;
                        c = p[++i] == '1' ? '/' : '~';
                    }
                    if (k >= path[d].key_len || path[d].key[k] != c) return 0;
                }
                if (k != path[d].key_len) return 0;
            } else {
                char num[16];
                if (n == 0 || n >= sizeof(num)) return 0;
                memcpy(num, p, n);
                num[n] = '\0';
                char *e;
                long v = strtol(num, &e, 10);
                if (*e || v != path[d].index) return 0;
            }
        }
        p += n;
    }
    return *p == '\0';
}

static int ignored(const struct ctx *c) {
    if (!c->opts || !c->opts->ignore) return 0;
    int k = 0;
    for (const char *const *p = c->opts->ignore; *p; p++, k++)
        if ((k >= CANON_MAX_IGNORE || c->ignore_depth[k] == c->depth) && pointer_matches(*p, c->path, c->depth))
            return 1;
    return 0;
}

static int is_text_key(const struct seg *s) {
    static const char *const keys[] = {"content", "text", "prompt", "input", "system",
                                       "instructions", NULL};
    if (!s->key) return 0;
    for (const char *const *k = keys; *k; k++)
        if (strlen(*k) == s->key_len && memcmp(*k, s->key, s->key_len) == 0) return 1;
    return 0;
}

/* The nearest named segment decides whether a string is message text ("content": [..."x"]). */
static int in_text(const struct ctx *c) {
    for (int d = c->depth - 1; d >= 0; d--)
        if (c->path[d].key) return is_text_key(&c->path[d]);
    return 0;
}

static void normalize(struct buf *s, unsigned how) {
    size_t w = 0;
    int space = 0;
    for (size_t r = 0; r < s->len; r++) {
        char ch = s->data[r];
        if ((how & CANON_NORM_WHITESPACE) &&
            (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v')) {
            space = w > 0;
            continue;
        }
        if (space) { s->data[w++] = ' '; space = 0; }
        if ((how & CANON_NORM_CASE) && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        s->data[w++] = ch;
    }
    s->len = w;
    if (s->data) s->data[w] = '\0';
}

static int emit(struct ctx *c, int i);

/* A member name points into the text unless it holds escapes (then into the owned copy). */
struct member { const char *key; size_t key_len; struct buf own; int val; int order; };

static int member_cmp(const void *a, const void *b) {
    const struct member *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = n ? memcmp(x->key, y->key, n) : 0;
    if (r) return r;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->order - y->order; /* duplicate names keep their order */
}

/* A string token as written when it holds no escape: json_parse checked it is UTF-8 without
 * control characters, which is exactly what json_escape leaves alone. */
static int plain_string(const struct json_doc *d, int i, const char **s, size_t *n) {
    const jsmntok_t *t = &d->tok[i];
    *s = d->text + t->start;
    *n = (size_t)(t->end - t->start);
    return memchr(*s, '\\', *n) == NULL;
}

/* The top-level "model" string, when the caller asked for it (the first one, as json_get). */
static void capture_model(struct ctx *c, const struct member *m) {
    if (!c->opts || !c->opts->model || c->depth != 0 || c->model_seen) return;
    if (m->key_len != 5 || memcmp(m->key, "model", 5) != 0) return;
    c->model_seen = 1;
    if (c->doc->tok[m->val].type == JSMN_STRING && json_tok_str(c->doc, m->val, c->opts->model) != 0)
        c->opts->model->oom = 1;
}

static int emit_object(struct ctx *c, int i) {
    const struct json_doc *d = c->doc;
    int n = d->tok[i].size;
    struct member stack[16]; /* the common small object, near the top only: a deep document
                                must not take the host thread's stack */
    struct member *m = n <= 16 && c->depth < 4 ? stack : calloc((size_t)(n ? n : 1), sizeof(*m));
    if (!m) { c->out->oom = 1; return -1; }
    int k = i + 1, rc = 0;
    for (int j = 0; j < n; j++) {
        buf_init(&m[j].own);
        if (!plain_string(d, k, &m[j].key, &m[j].key_len)) {
            json_tok_str(d, k, &m[j].own);
            m[j].key = m[j].own.data ? m[j].own.data : "";
            m[j].key_len = m[j].own.len;
            if (m[j].own.oom) rc = -1;
        }
        m[j].val = k + 1;
        m[j].order = j;
        k = json_skip(d, k);
    }
    if (rc == 0) qsort(m, (size_t)n, sizeof(*m), member_cmp);
    else c->out->oom = 1;
    buf_putc(c->out, '{');
    int first = 1;
    for (int j = 0; j < n && rc == 0; j++) {
        capture_model(c, &m[j]);
        c->path[c->depth] = (struct seg){m[j].key, m[j].key_len, 0};
        c->depth++;
        if (!ignored(c)) {
            if (!first) buf_putc(c->out, ',');
            first = 0;
            json_escape(c->out, m[j].key, m[j].key_len);
            buf_putc(c->out, ':');
            rc = emit(c, m[j].val);
        }
        c->depth--;
    }
    buf_putc(c->out, '}');
    for (int j = 0; j < n; j++) buf_free(&m[j].own);
    if (m != stack) free(m);
    return rc;
}

static int emit_array(struct ctx *c, int i) {
    const struct json_doc *d = c->doc;
    int k = i + 1, first = 1;
    buf_putc(c->out, '[');
    for (int j = 0; j < d->tok[i].size; j++) {
        c->path[c->depth] = (struct seg){NULL, 0, j};
        c->depth++;
        if (!ignored(c)) {
            if (!first) buf_putc(c->out, ',');
            first = 0;
            if (emit(c, k) != 0) return -1;
        }
        c->depth--;
        k = json_skip(d, k);
    }
    buf_putc(c->out, ']');
    return 0;
}

static int emit(struct ctx *c, int i) {
    const struct json_doc *d = c->doc;
    const jsmntok_t *t = &d->tok[i];
    if (c->depth >= CANON_MAX_DEPTH - 1) return -1;
    switch (t->type) {
    case JSMN_OBJECT: return emit_object(c, i);
    case JSMN_ARRAY: return emit_array(c, i);
    case JSMN_STRING: {
        const char *raw;
        size_t rn;
        int norm = c->opts && c->opts->normalize && in_text(c);
        if (!norm && plain_string(d, i, &raw, &rn)) return buf_append(c->out, raw - 1, rn + 2);
        struct buf s;
        buf_init(&s);
        if (json_tok_str(d, i, &s) != 0) { /* valid by now: only memory can run out */
            c->out->oom = 1;
            buf_free(&s);
            return -1;
        }
        if (norm) normalize(&s, c->opts->normalize);
        json_escape(c->out, s.data ? s.data : "", s.len);
        buf_free(&s);
        return 0;
    }
    default: {
        const char *s = d->text + t->start;
        size_t n = (size_t)(t->end - t->start);
        if (s[0] == 't' || s[0] == 'f' || s[0] == 'n') return buf_append(c->out, s, n);
        return json_number_canon(s, n, c->out);
    }
    }
}

int canon_json(const char *text, size_t len, const struct canon_opts *opts, struct buf *out) {
    struct json_doc doc;
    int parsed = json_parse(&doc, text, len);
    if (parsed != 0) {
        if (parsed == JSON_NOMEM) out->oom = 1;
        return -1;
    }
    size_t mark = out->len;
    struct ctx c = {.doc = &doc, .opts = opts, .out = out};
    for (int k = 0; opts && opts->ignore && opts->ignore[k] && k < CANON_MAX_IGNORE; k++) {
        int segs = 0;
        for (const char *p = opts->ignore[k]; *p; p++) segs += *p == '/';
        c.ignore_depth[k] = segs;
    }
    int rc = emit(&c, 0);
    json_doc_free(&doc);
    if (rc != 0 || out->oom) {
        out->len = mark;
        if (out->data) out->data[mark] = '\0';
        return -1;
    }
    return 0;
}
