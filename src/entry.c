#include "entry.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "canon.h"
#include "json.h"
#include "jsonfmt.h"
#include "stream.h"

/* Never stored: cookies and framing that no longer applies; headers that differ on every call
 * and mean nothing on replay (they would make every re-recorded cassette a diff); account
 * identifiers, which a committed cassette must not publish. */
static const char *const dropped_headers[] = {
    "set-cookie", "set-cookie2", "content-length", "transfer-encoding", "content-encoding",
    "date", "age", "retry-after", "server-timing",
    "x-request-id", "request-id", "openai-request-id", "x-amzn-requestid", "x-amzn-trace-id",
    "x-amzn-bedrock-invocation-latency", "x-debug-trace-id",
    "x-amz-cf-id", "x-amz-cf-pop", "cf-ray", "cf-cache-status", "x-cloud-trace-context",
    "x-goog-request-id", "x-kong-request-id", "x-kong-upstream-latency", "x-kong-proxy-latency",
    "openai-processing-ms", "x-envoy-upstream-service-time", "alt-svc", "via", "report-to", "nel",
    "openai-organization", "openai-project", "anthropic-organization-id", NULL};
static const char *const dropped_prefixes[] = {"x-ratelimit-", "anthropic-ratelimit-", "ratelimit-", NULL};

int entry_keep_header(const char *name, size_t len) {
    for (const char *const *d = dropped_headers; *d; d++)
        if (strlen(*d) == len && strncasecmp(*d, name, len) == 0) return 0;
    for (const char *const *d = dropped_prefixes; *d; d++)
        if (strlen(*d) <= len && strncasecmp(*d, name, strlen(*d)) == 0) return 0;
    return 1;
}

int entry_add_header(struct entry *e, const char *name, size_t nlen, const char *value, size_t vlen) {
    struct entry_header *h = realloc(e->headers, (e->nheaders + 1) * sizeof(*h));
    if (!h) return -1;
    e->headers = h;
    h[e->nheaders].name = strndup(name, nlen);
    h[e->nheaders].value = strndup(value, vlen);
    if (!h[e->nheaders].name || !h[e->nheaders].value) {
        free(h[e->nheaders].name);
        free(h[e->nheaders].value);
        return -1;
    }
    e->nheaders++;
    return 0;
}

int entry_add_event(struct entry *e, size_t end, long long t_us) {
    struct entry_event *ev = realloc(e->events, (e->nevents + 1) * sizeof(*ev));
    if (!ev) return -1;
    e->events = ev;
    ev[e->nevents].end = end;
    ev[e->nevents].t_us = t_us;
    e->nevents++;
    return 0;
}

const char *entry_header(const struct entry *e, const char *name) {
    for (size_t i = 0; i < e->nheaders; i++)
        if (!strcasecmp(e->headers[i].name, name)) return e->headers[i].value;
    return NULL;
}

int entry_fresh(const struct entry *e, long long now) {
    return e->ttl == 0 || now < e->created + e->ttl;
}

static void put_str(struct buf *b, const char *s) {
    if (s) json_escape(b, s, strlen(s));
    else buf_puts(b, "null");
}

/* A body as readable text when it is UTF-8, else as base64 under another name. */
static void put_body(struct buf *b, const char *indent, const char *name, const char *p, size_t n) {
    if (json_utf8_valid(p, n)) {
        buf_printf(b, "%s\"%s\": ", indent, name);
        json_escape(b, p ? p : "", n);
    } else {
        buf_printf(b, "%s\"%s_base64\": \"", indent, name);
        base64_encode(b, (const unsigned char *)p, n);
        buf_putc(b, '"');
    }
}

/* ---- answers kept as JSON ---------------------------------------------------------------- */

/* How a JSON answer's bytes are laid out, so that the entry can hold the value itself (one
 * field per line: a changed answer is a readable diff) and give back the exact bytes. */
static const char *const layouts[] = {"compact", "indented", "spaced", NULL};
enum layout { LAYOUT_COMPACT, LAYOUT_INDENTED, LAYOUT_SPACED, LAYOUT_NONE };

static int is_blank(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The answer's bytes from its compact value, layout and tail. */
static void relayout(struct buf *out, const char *compact, size_t n, enum layout l, const char *tail, size_t tn) {
    if (l == LAYOUT_INDENTED) jsonfmt_indent(out, compact, n, 0);
    else if (l == LAYOUT_SPACED) jsonfmt_spaced(out, compact, n);
    else buf_append(out, compact, n);
    buf_append(out, tail, tn);
}

/* Writes body_layout, body_tail and body_json for a JSON object or array answer whose bytes one
 * of the layouts gives back exactly; 0 when it wrote nothing (the answer is kept as a string). */
static int put_json_body(struct buf *out, const char *p, size_t n) {
    size_t vn = n;
    while (vn && is_blank(p[vn - 1])) vn--;
    if (!vn || (p[0] != '{' && p[0] != '[') || !json_utf8_valid(p, n)) return 0;
    struct json_doc d;
    if (json_parse(&d, p, vn) != 0) return 0;
    json_doc_free(&d);
    struct buf c, again;
    buf_init(&c);
    buf_init(&again);
    enum layout l = LAYOUT_NONE;
    if (jsonfmt_compact(p, vn, &c) == 0) {
        for (int i = LAYOUT_COMPACT; i < LAYOUT_NONE && l == LAYOUT_NONE; i++) {
            buf_clear(&again);
            relayout(&again, c.data, c.len, (enum layout)i, p + vn, n - vn);
            if (!again.oom && again.len == n && !memcmp(again.data, p, n)) l = (enum layout)i;
        }
    }
    if (l != LAYOUT_NONE) {
        buf_printf(out, "    \"body_layout\": \"%s\",\n", layouts[l]);
        if (n > vn) {
            buf_puts(out, "    \"body_tail\": ");
            json_escape(out, p + vn, n - vn);
            buf_puts(out, ",\n");
        }
        buf_puts(out, "    \"body_json\": ");
        jsonfmt_indent(out, c.data, c.len, 2);
    }
    buf_free(&c);
    buf_free(&again);
    return l != LAYOUT_NONE;
}

/* body_json back into the answer's bytes; -1 when the entry's fields do not fit together. */
static int get_json_body(const struct json_doc *d, int res, int t, char **out, size_t *len) {
    int lt = json_get(d, res, "body_layout"), tt = json_get(d, res, "body_tail"), rc = -1;
    struct buf b, c, tb;
    buf_init(&b);
    buf_init(&c);
    buf_init(&tb);
    int li = LAYOUT_NONE;
    if (lt >= 0 && json_tok_str(d, lt, &b) == 0 && b.data)
        for (int i = 0; layouts[i]; i++)
            if (!strcmp(b.data, layouts[i])) li = i;
    const jsmntok_t *v = &d->tok[t];
    if (li != LAYOUT_NONE && (v->type == JSMN_OBJECT || v->type == JSMN_ARRAY) &&
        (tt < 0 || json_tok_str(d, tt, &tb) == 0) &&
        jsonfmt_compact(d->text + v->start, (size_t)(v->end - v->start), &c) == 0) {
        buf_clear(&b);
        relayout(&b, c.data, c.len, (enum layout)li, tb.data ? tb.data : "", tb.len);
        if (!b.data) buf_puts(&b, "");
        if (!b.oom) {
            *out = buf_take(&b, len);
            rc = 0;
        }
    }
    buf_free(&b);
    buf_free(&c);
    buf_free(&tb);
    return rc;
}

static int text_ok(const char *s) {
    return !s || json_utf8_valid(s, strlen(s));
}

/* Text fields are written as JSON strings, which must be UTF-8; bodies have base64 instead. */
static int encodable(const struct entry *e) {
    if (!text_ok(e->method) || !text_ok(e->url) || !text_ok(e->provider) || !text_ok(e->model) ||
        !text_ok(e->status_line))
        return 0;
    for (size_t i = 0; i < e->nheaders; i++)
        if (!text_ok(e->headers[i].name) || !text_ok(e->headers[i].value)) return 0;
    /* events are written as text (binary eventstream frames as base64); a text stream that is
     * not UTF-8 is not worth a second format */
    if (e->stream && e->stream != STREAM_EVENTSTREAM && e->nevents && !json_utf8_valid(e->body, e->body_len))
        return 0;
    for (size_t i = 0; i < e->nevents; i++)
        if (e->events[i].end > e->body_len || (i && e->events[i].end < e->events[i - 1].end)) return 0;
    return 1;
}

static void put_event(struct buf *b, int kind, const char *p, size_t n) {
    if (kind != STREAM_EVENTSTREAM) {
        json_escape(b, p, n);
        return;
    }
    buf_putc(b, '"');
    base64_encode(b, (const unsigned char *)p, n);
    buf_putc(b, '"');
}

int entry_encode(const struct entry *e, struct buf *out) {
    if (!encodable(e)) return -1;
    size_t version_at = out->len + 15; /* where the version digit goes: known once the body is */
    buf_printf(out, "{\n  \"llmshim\": %d,\n  \"key\": \"%s\",\n", 1, e->key);
    buf_printf(out, "  \"created\": %lld,\n  \"ttl\": %lld,\n  \"latency_us\": %lld,\n", e->created,
               e->ttl, e->latency_us);
    buf_puts(out, "  \"request\": {\n    \"method\": ");
    put_str(out, e->method);
    buf_puts(out, ",\n    \"url\": ");
    put_str(out, e->url);
    buf_puts(out, ",\n    \"provider\": ");
    put_str(out, e->provider);
    buf_puts(out, ",\n    \"model\": ");
    put_str(out, e->model);
    buf_puts(out, ",\n");
    if (e->req_json) {
        buf_puts(out, "    \"body\": ");
        jsonfmt_indent(out, e->req_body, e->req_body_len, 2);
    } else {
        put_body(out, "    ", "body_text", e->req_body, e->req_body_len);
    }
    buf_printf(out, "\n  },\n  \"response\": {\n    \"status\": %d,\n    \"status_line\": ", e->status);
    put_str(out, e->status_line);
    buf_puts(out, ",\n    \"headers\": [");
    for (size_t i = 0; i < e->nheaders; i++) {
        buf_puts(out, i ? ",\n      [" : "\n      [");
        put_str(out, e->headers[i].name);
        buf_puts(out, ", ");
        put_str(out, e->headers[i].value);
        buf_putc(out, ']');
    }
    buf_puts(out, e->nheaders ? "\n    ],\n" : "],\n");
    if (e->usage_in || e->usage_out) {
        buf_printf(out, "    \"usage\": {\"input\": %lld, \"output\": %lld", e->usage_in, e->usage_out);
        if (e->usage_cached) buf_printf(out, ", \"cached\": %lld", e->usage_cached);
        buf_puts(out, "},\n");
    }
    if (e->stream && e->nevents) {
        /* one event per line, with when it arrived: replay can keep the pace */
        buf_printf(out, "    \"stream\": \"%s\",\n    \"events\": [", stream_kind_name((enum stream_kind)e->stream));
        size_t start = 0;
        for (size_t i = 0; i < e->nevents; i++) {
            buf_printf(out, "%s\n      [%lld, ", i ? "," : "", e->events[i].t_us);
            put_event(out, e->stream, e->body + start, e->events[i].end - start);
            buf_putc(out, ']');
            start = e->events[i].end;
        }
        if (start < e->body_len) { /* trailing bytes after the last boundary */
            buf_printf(out, ",\n      [%lld, ", e->nevents ? e->events[e->nevents - 1].t_us : 0);
            put_event(out, e->stream, e->body + start, e->body_len - start);
            buf_putc(out, ']');
        }
        buf_puts(out, "\n    ]");
    } else if (put_json_body(out, e->body, e->body_len)) {
        if (!out->oom) out->data[version_at] = '2'; /* an older llmshim cannot read body_json */
    } else {
        put_body(out, "    ", "body", e->body, e->body_len);
    }
    buf_puts(out, "\n  }\n}\n");
    return out->oom ? -1 : 0;
}

int entry_same_record(const struct entry *e, const char *old, size_t len) {
    struct entry o;
    if (entry_decode(&o, old, len) != 0) return 0;
    int same = 0;
    struct entry_event *ev = e->nevents ? malloc(e->nevents * sizeof(*ev)) : NULL;
    if (o.nevents == e->nevents && (ev || !e->nevents)) {
        /* e as it would be written had it arrived exactly when the old one did */
        struct entry t = *e;
        for (size_t i = 0; i < e->nevents; i++) ev[i] = (struct entry_event){e->events[i].end, o.events[i].t_us};
        t.created = o.created;
        t.latency_us = o.latency_us;
        t.events = ev;
        struct buf b;
        buf_init(&b);
        same = entry_encode(&t, &b) == 0 && b.len == len && !memcmp(b.data, old, len);
        buf_free(&b);
    }
    free(ev);
    entry_free(&o);
    return same;
}

/* ---- decoding --------------------------------------------------------------------------- */

static int get_ll(const struct json_doc *d, int obj, const char *name, long long *out) {
    return json_tok_ll(d, json_get(d, obj, name), out);
}

/* A string member, or NULL when absent/null. -1 only when present but malformed. */
static int get_str(const struct json_doc *d, int obj, const char *name, char **out) {
    *out = NULL;
    int t = json_get(d, obj, name);
    if (t < 0 || (d->tok[t].type == JSMN_PRIMITIVE && d->text[d->tok[t].start] == 'n')) return 0;
    struct buf b;
    buf_init(&b);
    if (json_tok_str(d, t, &b) != 0) { buf_free(&b); return -1; }
    if (!b.data) buf_puts(&b, "");
    if (b.oom) { buf_free(&b); return -1; }
    *out = buf_take(&b, NULL);
    return 0;
}

/* body (text) or body_base64 → bytes. */
static int get_body(const struct json_doc *d, int obj, const char *name, char **out, size_t *len) {
    char b64name[32];
    snprintf(b64name, sizeof(b64name), "%s_base64", name);
    struct buf b;
    buf_init(&b);
    int t = json_get(d, obj, name), rc;
    if (t >= 0) {
        rc = json_tok_str(d, t, &b);
    } else if ((t = json_get(d, obj, b64name)) >= 0 && d->tok[t].type == JSMN_STRING) {
        rc = base64_decode(&b, d->text + d->tok[t].start, (size_t)(d->tok[t].end - d->tok[t].start));
    } else {
        return -1;
    }
    if (rc == 0 && !b.data) buf_puts(&b, "");
    if (rc != 0 || b.oom) { buf_free(&b); return -1; }
    *out = buf_take(&b, len);
    return 0;
}

int entry_decode(struct entry *e, const char *data, size_t len) {
    return entry_decode_as(e, data, len, 1);
}

int entry_decode_as(struct entry *e, const char *data, size_t len, int canonical) {
    memset(e, 0, sizeof(*e));
    struct json_doc d;
    if (json_parse(&d, data, len) != 0) return -1;
    long long version = 0, status = 0;
    char *key = NULL;
    int req = json_get(&d, 0, "request"), res = json_get(&d, 0, "response");
    if (get_ll(&d, 0, "llmshim", &version) != 0 || version < 1 || version > ENTRY_VERSION) goto fail;
    if (get_str(&d, 0, "key", &key) != 0 || !key || strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64)
        goto fail; /* only what the shim writes: a key is also written back unescaped */
    memcpy(e->key, key, 65);
    if (get_ll(&d, 0, "created", &e->created) != 0 || get_ll(&d, 0, "ttl", &e->ttl) != 0) goto fail;
    get_ll(&d, 0, "latency_us", &e->latency_us);
    if (req < 0 || d.tok[req].type != JSMN_OBJECT || res < 0 || d.tok[res].type != JSMN_OBJECT) goto fail;
    if (get_str(&d, req, "method", &e->method) || get_str(&d, req, "url", &e->url) ||
        get_str(&d, req, "provider", &e->provider) || get_str(&d, req, "model", &e->model))
        goto fail;
    int body = json_get(&d, req, "body");
    if (body >= 0) {
        /* re-canonicalize: a person may have edited a cassette (or, on the hit path, just drop
         * the pretty-printing and let the caller canonicalize only when that differs) */
        struct buf cb;
        buf_init(&cb);
        const jsmntok_t *t = &d.tok[body];
        int start = t->type == JSMN_STRING ? t->start - 1 : t->start;
        int end = t->type == JSMN_STRING ? t->end + 1 : t->end;
        int rc = canonical ? canon_json(data + start, (size_t)(end - start), NULL, &cb)
                           : jsonfmt_compact(data + start, (size_t)(end - start), &cb);
        if (rc != 0) { buf_free(&cb); goto fail; }
        e->req_body = buf_take(&cb, &e->req_body_len);
        e->req_json = 1;
    } else if (get_body(&d, req, "body_text", &e->req_body, &e->req_body_len) != 0) {
        goto fail;
    }
    if (get_ll(&d, res, "status", &status) != 0 || status < 100 || status > 999) goto fail;
    e->status = (int)status;
    if (get_str(&d, res, "status_line", &e->status_line) != 0) goto fail;
    int hs = json_get(&d, res, "headers");
    if (hs < 0 || d.tok[hs].type != JSMN_ARRAY) goto fail;
    for (int i = 0; i < d.tok[hs].size; i++) {
        int pair = json_child(&d, hs, i);
        if (d.tok[pair].type != JSMN_ARRAY || d.tok[pair].size != 2) goto fail;
        struct buf n, v;
        buf_init(&n);
        buf_init(&v);
        int ok = json_tok_str(&d, pair + 1, &n) == 0 && json_tok_str(&d, pair + 2, &v) == 0 &&
                 entry_add_header(e, n.data ? n.data : "", n.len, v.data ? v.data : "", v.len) == 0;
        buf_free(&n);
        buf_free(&v);
        if (!ok) goto fail;
    }
    int usage = json_get(&d, res, "usage");
    if (usage >= 0) {
        get_ll(&d, usage, "input", &e->usage_in);
        get_ll(&d, usage, "output", &e->usage_out);
        get_ll(&d, usage, "cached", &e->usage_cached);
    }
    int events = json_get(&d, res, "events"), t_json;
    if (events >= 0) {
        char *kind = NULL;
        if (get_str(&d, res, "stream", &kind) != 0) goto fail;
        e->stream = stream_kind_from_name(kind);
        free(kind);
        if (!e->stream || d.tok[events].type != JSMN_ARRAY) goto fail;
        struct buf body;
        buf_init(&body);
        for (int i = 0; i < d.tok[events].size; i++) {
            int ev = json_child(&d, events, i);
            long long t;
            int binary = e->stream == STREAM_EVENTSTREAM;
            if (d.tok[ev].type != JSMN_ARRAY || d.tok[ev].size != 2 || json_tok_ll(&d, ev + 1, &t) != 0 ||
                (binary ? d.tok[ev + 2].type != JSMN_STRING ||
                              base64_decode(&body, d.text + d.tok[ev + 2].start,
                                            (size_t)(d.tok[ev + 2].end - d.tok[ev + 2].start)) != 0
                        : json_tok_str(&d, ev + 2, &body) != 0) ||
                entry_add_event(e, body.len, t) != 0) {
                buf_free(&body);
                goto fail;
            }
        }
        if (!body.data) buf_puts(&body, "");
        if (body.oom) { buf_free(&body); goto fail; }
        e->body = buf_take(&body, &e->body_len);
    } else if ((t_json = json_get(&d, res, "body_json")) >= 0) {
        if (version < 2 || get_json_body(&d, res, t_json, &e->body, &e->body_len) != 0) goto fail;
    } else if (get_body(&d, res, "body", &e->body, &e->body_len) != 0) {
        goto fail;
    }
    free(key);
    json_doc_free(&d);
    return 0;
fail:
    free(key);
    json_doc_free(&d);
    entry_free(e);
    return -1;
}

static int dup_str(char **dst, const char *src) {
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

static int dup_mem(char **dst, const char *src, size_t n) {
    *dst = NULL;
    if (!src) return 0;
    if (!(*dst = malloc(n + 1))) return -1;
    memcpy(*dst, src, n);
    (*dst)[n] = '\0';
    return 0;
}

/* Large answers are served many times: each hit must not copy (nor malloc and free) them. */
struct entry_share {
    atomic_long refs;
    char body[];
};

int entry_share_body(struct entry *e) {
    if (e->share || !e->body) return 0;
    struct entry_share *sh = malloc(sizeof(*sh) + e->body_len + 1);
    if (!sh) return -1;
    atomic_init(&sh->refs, 1);
    memcpy(sh->body, e->body, e->body_len);
    sh->body[e->body_len] = '\0';
    free(e->body);
    e->body = sh->body;
    e->share = sh;
    return 0;
}

int entry_copy(struct entry *dst, const struct entry *src) {
    *dst = *src;
    dst->method = dst->url = dst->provider = dst->model = dst->req_body = dst->status_line = dst->body = NULL;
    dst->share = NULL;
    dst->headers = NULL;
    dst->nheaders = 0;
    dst->events = NULL;
    dst->nevents = 0;
    if (src->share) {
        atomic_fetch_add(&src->share->refs, 1);
        dst->share = src->share;
        dst->body = src->body;
    } else if (dup_mem(&dst->body, src->body, src->body_len)) {
        goto fail;
    }
    if (dup_str(&dst->method, src->method) || dup_str(&dst->url, src->url) ||
        dup_str(&dst->provider, src->provider) || dup_str(&dst->model, src->model) ||
        dup_str(&dst->status_line, src->status_line) || dup_mem(&dst->req_body, src->req_body, src->req_body_len))
        goto fail;
    for (size_t i = 0; i < src->nheaders; i++) {
        const struct entry_header *h = &src->headers[i];
        if (entry_add_header(dst, h->name, strlen(h->name), h->value, strlen(h->value)) != 0) goto fail;
    }
    if (src->nevents) {
        if (!(dst->events = malloc(src->nevents * sizeof(*dst->events)))) goto fail;
        memcpy(dst->events, src->events, src->nevents * sizeof(*dst->events));
        dst->nevents = src->nevents;
    }
    return 0;
fail:
    entry_free(dst);
    return -1;
}

void entry_free(struct entry *e) {
    free(e->method);
    free(e->url);
    free(e->provider);
    free(e->model);
    free(e->req_body);
    free(e->status_line);
    for (size_t i = 0; i < e->nheaders; i++) {
        free(e->headers[i].name);
        free(e->headers[i].value);
    }
    free(e->headers);
    if (!e->share) free(e->body);
    else if (atomic_fetch_sub(&e->share->refs, 1) == 1) free(e->share);
    free(e->events);
    memset(e, 0, sizeof(*e));
}
