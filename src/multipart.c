#include "multipart.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define MAX_PART_HEADERS 16

/* ---- the document ---------------------------------------------------------------------- */

static int utf8(struct mp_str s) {
    return json_utf8_valid(s.p ? s.p : "", s.n);
}

/* "name": "value", or "name_base64" for bytes that are not UTF-8 (JSON strings must be). Each
 * part's fields after the first are preceded by a comma. */
static void put_field(struct mp_writer *w, const char *name, struct mp_str s) {
    if (!s.p) return;
    buf_printf(&w->out, "%s\"%s%s\":", w->field ? "," : "", name, utf8(s) ? "" : "_base64");
    w->field = 1;
    if (utf8(s)) {
        json_escape(&w->out, s.p, s.n);
        return;
    }
    buf_putc(&w->out, '"');
    base64_encode(&w->out, (const unsigned char *)s.p, s.n);
    buf_putc(&w->out, '"');
}

/* A header line with its name in lowercase: names are case-insensitive, values are not. */
static void put_header(struct buf *b, struct mp_str h, int *plain) {
    const char *colon = memchr(h.p, ':', h.n);
    size_t nlen = colon ? (size_t)(colon - h.p) : h.n;
    char *line = malloc(h.n + 1);
    if (!line) { b->oom = 1; return; }
    for (size_t i = 0; i < h.n; i++) line[i] = (char)(i < nlen && h.p[i] >= 'A' && h.p[i] <= 'Z' ? h.p[i] + 32 : h.p[i]);
    *plain &= json_utf8_valid(line, h.n);
    if (json_utf8_valid(line, h.n)) json_escape(b, line, h.n);
    else { buf_putc(b, '"'); base64_encode(b, (const unsigned char *)line, h.n); buf_putc(b, '"'); }
    free(line);
}

static void put_fields(struct mp_writer *w, const struct mp_fields *f) {
    buf_puts(&w->out, w->first[w->depth] ? "{" : ",{");
    w->first[w->depth] = 0;
    w->field = 0;
    put_field(w, "name", f->name);
    put_field(w, "filename", f->filename);
    put_field(w, "type", f->type);
    put_field(w, "disposition", f->disposition);
    put_field(w, "encoder", f->encoder);
    put_field(w, "source", f->source);
    put_field(w, "path_ext", f->path_ext);
    if (!f->nheaders) return;
    struct buf lines;
    buf_init(&lines);
    int plain = 1;
    for (size_t i = 0; i < f->nheaders; i++) {
        if (i) buf_putc(&lines, ',');
        put_header(&lines, f->headers[i], &plain);
    }
    buf_printf(&w->out, "%s\"headers%s\":[", w->field ? "," : "", plain ? "" : "_mixed");
    w->field = 1;
    buf_append(&w->out, lines.data ? lines.data : "", lines.len);
    buf_putc(&w->out, ']');
    if (lines.oom) w->out.oom = 1;
    buf_free(&lines);
}

/* A top-level part the key leaves out: its name is a one-segment pointer in the ignore list. */
static int ignored(const struct mp_writer *w, struct mp_str name) {
    if (w->depth != 1 || !name.p) return 0;
    for (const char *const *p = w->ignore; p && *p; p++) {
        const char *s = *p;
        if (*s++ != '/' || strchr(s, '/')) continue;
        size_t i = 0, k = 0; /* ~1 is '/', ~0 is '~' */
        for (; s[i] && k < name.n; k++) {
            char c = s[i] == '~' && (s[i + 1] == '0' || s[i + 1] == '1') ? (s[++i] == '0' ? '~' : '/') : s[i];
            if (c != name.p[k]) break;
            i++;
        }
        if (!s[i] && k == name.n) return 1;
    }
    return 0;
}

void mp_open(struct mp_writer *w, const char *const *ignore, struct mp_str content_type) {
    memset(w, 0, sizeof(*w));
    buf_init(&w->out);
    w->ignore = ignore;
    buf_puts(&w->out, "{\"multipart\":");
    json_escape(&w->out, content_type.p ? content_type.p : "", content_type.p ? content_type.n : 0);
    if (content_type.p && !utf8(content_type)) w->failed = 1;
    buf_puts(&w->out, ",\"parts\":[");
    w->depth = 1;
    w->first[1] = 1;
}

void mp_part(struct mp_writer *w, const struct mp_fields *f, const char *data, size_t len,
             const unsigned char sha256[32]) {
    if (w->skip || ignored(w, f->name)) return;
    put_fields(w, f);
    struct mp_str text = {data, len};
    if (data && !f->filename.p && len <= MP_CLEAR_MAX && utf8(text)) {
        put_field(w, "value", text);
        if (w->depth == 1 && f->name.p && f->name.n == 5 && !memcmp(f->name.p, "model", 5) && !w->model &&
            !(w->model = strndup(data, len)))
            w->out.oom = 1;
    } else {
        unsigned char h[32];
        if (data) {
            br_sha256_context c;
            br_sha256_init(&c);
            br_sha256_update(&c, data, len);
            br_sha256_out(&c, h);
            sha256 = h;
        }
        static const char hex[] = "0123456789abcdef";
        char s[65];
        for (int i = 0; i < 32; i++) {
            s[2 * i] = hex[sha256[i] >> 4];
            s[2 * i + 1] = hex[sha256[i] & 15];
        }
        s[64] = '\0';
        buf_printf(&w->out, "%s\"size\":%zu,\"sha256\":\"%s\"", w->field ? "," : "", len, s);
    }
    buf_putc(&w->out, '}');
}

void mp_open_sub(struct mp_writer *w, const struct mp_fields *f) {
    if (w->skip || ignored(w, f->name)) {
        w->skip++;
        return;
    }
    if (w->depth >= MP_MAX_DEPTH) {
        w->failed = 1;
        w->skip++;
        return;
    }
    put_fields(w, f);
    buf_puts(&w->out, w->field ? ",\"parts\":[" : "\"parts\":[");
    w->first[++w->depth] = 1;
}

void mp_close_sub(struct mp_writer *w) {
    if (w->skip) {
        w->skip--;
        return;
    }
    buf_puts(&w->out, "]}");
    w->depth--;
}

int mp_close(struct mp_writer *w, char **json, size_t *len, char **model) {
    buf_putc(&w->out, ']');
    buf_puts(&w->out, w->extra);
    buf_putc(&w->out, '}');
    if (w->failed || w->depth != 1 || w->out.oom) {
        mp_abort(w);
        return -1;
    }
    *json = buf_take(&w->out, len);
    *model = w->model;
    w->model = NULL;
    return 0;
}

void mp_abort(struct mp_writer *w) {
    buf_free(&w->out);
    free(w->model);
    w->model = NULL;
}

/* ---- a body the program built ---------------------------------------------------------- */

static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
    return m <= n ? memmem(hay, n, needle, m) : NULL;
}

static struct mp_str trim(const char *p, size_t n) {
    while (n && (*p == ' ' || *p == '\t')) { p++; n--; }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    return (struct mp_str){p, n};
}

/* The Content-Type without its boundary parameter (*ct, in scratch) and the boundary. 0 when it
 * is not multipart with a usable boundary. */
static int content_type(const char *v, size_t n, struct buf *ct, struct mp_str *boundary) {
    size_t semi = 0;
    while (semi < n && v[semi] != ';') semi++;
    struct mp_str media = trim(v, semi);
    if (media.n < 10 || strncasecmp(media.p, "multipart/", 10)) return 0;
    for (size_t i = 0; i < media.n; i++) buf_putc(ct, (char)(media.p[i] >= 'A' && media.p[i] <= 'Z' ? media.p[i] + 32 : media.p[i]));
    boundary->p = NULL;
    for (size_t i = semi; i < n;) {
        size_t start = ++i, quoted = 0;
        while (i < n && (v[i] != ';' || quoted)) quoted ^= v[i++] == '"';
        struct mp_str param = trim(v + start, i - start);
        if (param.n > 9 && !strncasecmp(param.p, "boundary=", 9)) {
            struct mp_str b = {param.p + 9, param.n - 9};
            if (b.n >= 2 && b.p[0] == '"' && b.p[b.n - 1] == '"') b = (struct mp_str){b.p + 1, b.n - 2};
            *boundary = b;
        } else if (param.n) {
            buf_puts(ct, "; ");
            buf_append(ct, param.p, param.n);
        }
    }
    return boundary->p && boundary->n >= 1 && boundary->n <= 200 && !ct->oom;
}

/* form-data; name="N"[; filename="F"] exactly, with no quote or backslash inside: then the name
 * and file name say all of it. */
static int plain_disposition(struct mp_str v, struct mp_fields *f) {
    static const char pre[] = "form-data; name=\"", fn[] = "; filename=\"";
    if (v.n < sizeof(pre) || memcmp(v.p, pre, sizeof(pre) - 1)) return 0;
    const char *p = v.p + sizeof(pre) - 1, *end = v.p + v.n;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || memchr(p, '\\', (size_t)(q - p))) return 0;
    struct mp_str name = {p, (size_t)(q - p)}, file = {NULL, 0};
    p = q + 1;
    if (p < end) {
        if ((size_t)(end - p) < sizeof(fn) || memcmp(p, fn, sizeof(fn) - 1) || end[-1] != '"') return 0;
        file = (struct mp_str){p + sizeof(fn) - 1, (size_t)(end - 1 - (p + sizeof(fn) - 1))};
        if (memchr(file.p, '"', file.n) || memchr(file.p, '\\', file.n)) return 0;
    }
    f->name = name;
    f->filename = file;
    return 1;
}

static int part_headers(const char *p, size_t n, struct mp_fields *f, struct mp_str *hdrs) {
    memset(f, 0, sizeof(*f));
    f->headers = hdrs;
    for (size_t i = 0; i < n;) {
        const char *eol = find(p + i, n - i, "\r\n", 2);
        size_t len = eol ? (size_t)(eol - (p + i)) : n - i;
        struct mp_str line = {p + i, len};
        const char *colon = memchr(line.p, ':', line.n);
        if (!colon || colon == line.p || line.p[0] == ' ' || line.p[0] == '\t') return 0;
        struct mp_str value = trim(colon + 1, (size_t)(line.p + line.n - colon - 1));
        size_t nlen = (size_t)(colon - line.p);
        if (nlen == 19 && !strncasecmp(line.p, "content-disposition", 19) && !f->disposition.p && !f->name.p) {
            if (!plain_disposition(value, f)) f->disposition = value;
        } else if (nlen == 12 && !strncasecmp(line.p, "content-type", 12) && !f->type.p) {
            f->type = value;
        } else {
            if (f->nheaders == MAX_PART_HEADERS) return 0;
            hdrs[f->nheaders++] = line;
        }
        i += len + 2;
    }
    return 1;
}

/* Bytes before the first delimiter or after the last: servers ignore them, but they were sent. */
static void put_extra(struct mp_writer *w, const char *name, const char *p, size_t n) {
    unsigned char h[32];
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, p, n);
    br_sha256_out(&c, h);
    size_t at = strlen(w->extra);
    at += (size_t)snprintf(w->extra + at, sizeof(w->extra) - at, ",\"%s\":\"", name);
    for (int i = 0; i < 32; i++) at += (size_t)snprintf(w->extra + at, sizeof(w->extra) - at, "%02x", h[i]);
    snprintf(w->extra + at, sizeof(w->extra) - at, "\"");
}

int multipart_parse(struct mp_writer *w, const char *const *ignore, const char *ctv, size_t ctlen, const char *body,
                    size_t len) {
    struct buf ct, delim;
    buf_init(&ct);
    buf_init(&delim);
    struct mp_str boundary;
    int ok = 0;
    if (!content_type(ctv, ctlen, &ct, &boundary)) goto out;
    buf_puts(&delim, "\r\n--");
    buf_append(&delim, boundary.p, boundary.n);
    if (delim.oom) goto out;
    mp_open(w, ignore, (struct mp_str){ct.data, ct.len});
    /* the first delimiter may open the body (no CRLF before it) or follow a preamble */
    size_t pos;
    if (len >= delim.len - 2 && !memcmp(body, delim.data + 2, delim.len - 2)) {
        pos = delim.len - 2;
    } else {
        const char *d = find(body, len, delim.data, delim.len);
        if (!d) goto fail;
        put_extra(w, "preamble_sha256", body, (size_t)(d - body));
        pos = (size_t)(d - body) + delim.len;
    }
    for (;;) {
        if (len - pos >= 2 && !memcmp(body + pos, "--", 2)) { /* the close delimiter */
            pos += 2;
            if (len - pos != 0 && !(len - pos == 2 && !memcmp(body + pos, "\r\n", 2)))
                put_extra(w, "epilogue_sha256", body + pos, len - pos);
            break;
        }
        if (len - pos < 2 || memcmp(body + pos, "\r\n", 2)) goto fail;
        pos += 2;
        size_t hstart = pos, hlen = 0;
        if (len - pos >= 2 && !memcmp(body + pos, "\r\n", 2)) {
            pos += 2; /* no headers */
        } else {
            const char *e = find(body + pos, len - pos, "\r\n\r\n", 4);
            if (!e) goto fail;
            hlen = (size_t)(e - (body + pos));
            pos += hlen + 4;
        }
        const char *next = find(body + pos, len - pos, delim.data, delim.len);
        if (!next) goto fail;
        struct mp_fields f;
        struct mp_str hdrs[MAX_PART_HEADERS];
        if (!part_headers(body + hstart, hlen, &f, hdrs)) goto fail;
        mp_part(w, &f, body + pos, (size_t)(next - (body + pos)), NULL);
        pos = (size_t)(next - body) + delim.len;
    }
    ok = !w->out.oom;
fail:
    if (!ok) mp_abort(w);
out:
    buf_free(&ct);
    buf_free(&delim);
    return ok;
}
