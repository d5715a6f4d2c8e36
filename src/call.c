#include "call.h"

#include <bearssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "json.h"

/* Each field is length-prefixed, so ("ab","c") and ("a","bc") never hash alike. */
static void put_field(br_sha256_context *h, const void *p, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * (7 - i)));
    br_sha256_update(h, len, sizeof(len));
    br_sha256_update(h, p, n);
}

static void put_str(br_sha256_context *h, const char *s) {
    put_field(h, s ? s : "", s ? strlen(s) : 0);
}

void key_compute(unsigned char out[32], const char *ns, const char *method, const char *url,
                 int body_json, const char *body, size_t body_len) {
    br_sha256_context h;
    br_sha256_init(&h);
    put_str(&h, KEY_VERSION);
    put_str(&h, ns);
    put_str(&h, method);
    put_str(&h, url);
    put_str(&h, body_json ? "json" : "raw");
    put_field(&h, body ? body : "", body ? body_len : 0);
    br_sha256_out(&h, out);
}

void key_hex(const unsigned char key[32], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[64] = '\0';
}

/* Model names become one path segment: safe characters only, never "." or "..". */
static void put_segment(struct buf *b, const char *s) {
    size_t n = 0;
    for (; s && s[n] && n < 64; n++) {
        char ch = s[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || (ch == '.' && n > 0 && s[n - 1] != '.');
        buf_putc(b, ok ? ch : '_');
    }
    if (!n) buf_putc(b, '_');
}

static char *model_of(const struct call *c) {
    if (c->body_json) {
        struct json_doc d;
        if (json_parse(&d, c->body.data, c->body.len) == 0) {
            struct buf m;
            buf_init(&m);
            int t = json_get(&d, 0, "model");
            if (t >= 0 && json_tok_str(&d, t, &m) == 0) { json_doc_free(&d); return buf_take(&m, NULL); }
            buf_free(&m);
            json_doc_free(&d);
        }
    }
    /* Gemini and Azure name the model in the path: .../models/NAME:verb, .../deployments/NAME/ */
    const char *p = strstr(c->url.path, "/models/");
    size_t skip = 8;
    if (!p) { p = strstr(c->url.path, "/deployments/"); skip = 13; }
    if (!p) return NULL;
    p += skip;
    size_t n = strcspn(p, ":/");
    return n ? strndup(p, n) : NULL;
}

int call_analyze(struct call *c, const struct config *cfg, const char *method, const char *url,
                 const char *body, size_t body_len) {
    memset(c, 0, sizeof(*c));
    buf_init(&c->body);
    if (!url || !method || strcmp(method, "POST") != 0) return 0;
    if (url_parse(url, &c->url) != 0) return 0;
    if (!endpoint_match(cfg->endpoints, cfg->nendpoints, &c->url, &c->ep)) {
        call_free(c);
        return 0;
    }
    c->safe_url = url_safe(&c->url);
    if (!c->safe_url) goto oom;
    c->body_json = canon_json(body ? body : "", body ? body_len : 0, NULL, &c->body) == 0;
    if (!c->body_json && body_len) buf_append(&c->body, body, body_len);
    if (c->body.oom) goto oom;
    c->model = model_of(c);
    key_compute(c->key, cfg->ns, method, c->safe_url, c->body_json, c->body.data, c->body.len);
    key_hex(c->key, c->hex);
    struct buf name;
    buf_init(&name);
    buf_puts(&name, c->ep.provider);
    buf_putc(&name, '/');
    put_segment(&name, c->model);
    buf_printf(&name, "/%.2s/%s.json", c->hex, c->hex);
    if (name.oom) { buf_free(&name); goto oom; }
    c->name = buf_take(&name, NULL);
    return 1;
oom:
    call_free(c);
    return -1;
}

void call_free(struct call *c) {
    url_free(&c->url);
    free(c->safe_url);
    buf_free(&c->body);
    free(c->model);
    free(c->name);
    memset(c, 0, sizeof(*c));
}
