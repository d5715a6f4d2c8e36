#include "call.h"

#include <bearssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "canon.h"
#include "json.h"
#include "multipart.h"

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

void key_compute_full(unsigned char out[32], const char *ns, const char *method, const char *url,
                      int body_json, const char *body, size_t body_len, const char *headers,
                      const char *scope, const char *options) {
    br_sha256_context h;
    br_sha256_init(&h);
    put_str(&h, KEY_VERSION);
    put_str(&h, ns);
    put_str(&h, method);
    put_str(&h, url);
    put_str(&h, body_json ? "json" : "raw");
    put_field(&h, body ? body : "", body ? body_len : 0);
    /* optional parts are tagged, so a key without them is unchanged and never collides */
    if (headers) { put_str(&h, "headers"); put_str(&h, headers); }
    if (scope) { put_str(&h, "scope"); put_str(&h, scope); }
    if (options) { put_str(&h, "options"); put_str(&h, options); }
    br_sha256_out(&h, out);
}

void key_compute(unsigned char out[32], const char *ns, const char *method, const char *url,
                 int body_json, const char *body, size_t body_len) {
    key_compute_full(out, ns, method, url, body_json, body, body_len, NULL, NULL, NULL);
}

/* Body fields left out of the key, per API (JSON pointers; for a multipart body, "/name" is a
 * form field). A field may be left out only if it never changes the answer and the answer never
 * contains it: otherwise one user would be served another's value. Audited per endpoint against
 * each API's answer object:
 * - OpenAI chat/completions, completions (also Mistral /v1/fim/completions, DeepSeek
 *   /beta/completions), embeddings: the answer holds id, model, choices or data, usage,
 *   service_tier, system_fingerprint; never user, metadata, store, the cache key or the safety
 *   identifier. llama.cpp's slot fields steer its cache, not the answer.
 * - OpenAI images (generations, edits, variations): the answer holds created, data, background,
 *   output_format, quality, size, usage; `user` is not echoed. audio/transcriptions,
 *   translations, speech take none of these fields (an API answers one with a 400, never
 *   stored): nothing of theirs is left out.
 * - OpenAI responses: the answer object echoes user, metadata, store, prompt_cache_key,
 *   safety_identifier, prompt_cache_retention and the sampling settings: nothing is left out.
 * - Anthropic messages (also on Vertex): metadata.user_id is not echoed. Gemini (also on
 *   Vertex, :predict included): nothing is left out.
 * - Ollama: keep_alive only says how long the model stays loaded.
 * - Bedrock converse: requestMetadata only tags the invocation logs, and the answer (output,
 *   stopReason, usage, metrics) never holds it. invoke: the body is the model's own; nothing.
 * - Cohere v1/v2 chat, embed, rerank: no field of theirs is metadata (v1 conversation_id
 *   selects a stored conversation, so it stays). Voyage and Jina rerank, Perplexity: nothing
 *   beyond credentials; Perplexity's answer echoes neither user nor metadata, but it takes
 *   neither, so the OpenAI list is not applied there. */
/* Credentials some gateways take in the body: never in a key, never in a stored body. */
#define IGNORE_CREDENTIALS "/api_key", "/apiKey", "/access_token", "/password", "/client_secret"
static const char *const ignore_openai[] = {"/user", "/metadata", "/safety_identifier", "/prompt_cache_key",
                                            "/prompt_cache_retention", "/store", "/cache_prompt", "/id_slot",
                                            IGNORE_CREDENTIALS, NULL};
static const char *const ignore_openai_responses[] = {"/cache_prompt", "/id_slot", IGNORE_CREDENTIALS, NULL};
static const char *const ignore_anthropic[] = {"/metadata", IGNORE_CREDENTIALS, NULL};
static const char *const ignore_none[] = {IGNORE_CREDENTIALS, NULL};
static const char *const ignore_ollama[] = {"/keep_alive", IGNORE_CREDENTIALS, NULL};
static const char *const ignore_converse[] = {"/requestMetadata", IGNORE_CREDENTIALS, NULL};

/* Request headers that change an answer, per shape (lowercase). Bedrock takes the guardrail,
 * trace and latency settings of invoke as headers, and Accept picks the answer's format. */
static const char *const headers_anthropic[] = {"anthropic-version", "anthropic-beta", NULL};
static const char *const headers_bedrock[] = {"accept", "x-amzn-bedrock-guardrailidentifier",
                                              "x-amzn-bedrock-guardrailversion", "x-amzn-bedrock-trace",
                                              "x-amzn-bedrock-performanceconfig-latency", NULL};

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

static const char *const *shape_ignores(enum shape s, const char *path) {
    switch (s) {
    case SHAPE_ANTHROPIC: return ignore_anthropic;
    case SHAPE_GEMINI: case SHAPE_COHERE: case SHAPE_PERPLEXITY: return ignore_none;
    case SHAPE_OLLAMA: return ignore_ollama;
    case SHAPE_BEDROCK: return path && (ends_with(path, "/converse") || ends_with(path, "/converse-stream"))
                                   ? ignore_converse : ignore_none;
    default:
        if (path && ends_with(path, "/responses")) return ignore_openai_responses;
        return path && ends_with(path, "/rerank") ? ignore_none : ignore_openai;
    }
}

static size_t count(const char *const *list) {
    size_t n = 0;
    while (list && list[n]) n++;
    return n;
}

/* Value of the first request header `name` (lowercase) at or after line *from, trimmed; NULL
 * if there is none. *from is left after the line found. */
static const char *header_next(const struct call_request *r, const char *name, size_t *from, size_t *len) {
    size_t nlen = strlen(name);
    for (size_t i = *from; i < r->nheaders; i++) {
        const char *h = r->headers[i];
        if (!h || strncasecmp(h, name, nlen) != 0 || h[nlen] != ':') continue;
        const char *v = h + nlen + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n')) n--;
        *len = n;
        *from = i + 1;
        return v;
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "name:value\n" for every key header present, sorted by name; NULL when none is. */
static char *key_header_block(const struct call_request *r, const struct config *cfg, enum shape s, int *oom) {
    const char *names[64];
    size_t n = 0;
    const char *const *shape_headers = s == SHAPE_ANTHROPIC ? headers_anthropic : s == SHAPE_BEDROCK ? headers_bedrock : NULL;
    for (const char *const *p = shape_headers; p && *p && n < 64; p++) names[n++] = *p;
    /* a Host header routes the request to another virtual host behind the same address */
    names[n++] = "host";
    for (char **p = cfg->key_headers; p && *p && n < 64; p++) names[n++] = *p;
    qsort(names, n, sizeof(names[0]), cmp_str);
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        size_t len, from = 0;
        const char *v;
        /* libcurl sends every line: two anthropic-beta lines are both part of the question */
        while ((v = header_next(r, names[i], &from, &len)) != NULL) buf_printf(&b, "%s:%.*s\n", names[i], (int)len, v);
    }
    if (b.oom) { /* without them the key would merge questions that differ in them */
        buf_free(&b);
        *oom = 1;
        return NULL;
    }
    return b.len ? buf_take(&b, NULL) : (buf_free(&b), NULL);
}

/* A request header that carries a credential, for LLMSHIM_KEY_SCOPE=credential: the known
 * ones, cookies, and any header whose name says it holds a key, token, secret, password,
 * signature or session (X-Tenant-Key, X-Auth-Token, X-Session-Id, ...). */
static int credential_header(const char *line, size_t nlen) {
    static const char *const names[] = {"authorization", "cookie", "x-api-key", "api-key", "x-goog-api-key", NULL};
    static const char *const words[] = {"key", "token", "auth", "secret", "passw", "signature", "session",
                                        "credential", NULL};
    char name[64];
    if (nlen == 0 || nlen >= sizeof(name)) return nlen >= sizeof(name);
    for (size_t i = 0; i < nlen; i++) name[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i]);
    name[nlen] = '\0';
    if (!strncmp(name, "proxy-", 6)) return 0; /* goes to the proxy, never to the API */
    for (const char *const *n = names; *n; n++)
        if (!strcmp(name, *n)) return 1;
    for (const char *const *w = words; *w; w++)
        if (strstr(name, *w)) return 1;
    return 0;
}

static void hmac_field(br_hmac_context *hc, const char *tag, const char *p, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * (7 - i)));
    br_hmac_update(hc, tag, strlen(tag) + 1);
    br_hmac_update(hc, len, sizeof(len));
    br_hmac_update(hc, p, n);
}

/* What of an Authorization value names the tenant. A SigV4 signature changes every second
 * (X-Amz-Date is signed): its access key id (Credential=AKID/date/region/service/...) names the
 * tenant. A Vertex OAuth token changes every hour: the project in the URL (already in the key)
 * names the tenant, so the token is left out (returns 0). */
static int scope_value(const char **v, size_t *vlen, int rotating_bearer) {
    if (*vlen > 17 && !strncmp(*v, "AWS4-HMAC-SHA256 ", 17)) {
        const char *c = memmem(*v, *vlen, "Credential=", 11);
        if (!c) return 1;
        c += 11;
        size_t n = 0;
        while (c + n < *v + *vlen && c[n] != '/' && c[n] != ',' && c[n] != ' ') n++;
        *v = c;
        *vlen = n;
        return 1;
    }
    return !(rotating_bearer && *vlen > 7 && !strncasecmp(*v, "Bearer ", 7));
}

/* HMAC-SHA-256(secret, every credential the request carries) in hex: tells tenants apart
 * without storing what they hold. Every way a credential reaches the server counts: credential
 * headers (in the order sent), the URL's user:password@ or credential query parameter, and
 * libcurl's USERPWD, USERNAME, PASSWORD, XOAUTH2_BEARER and COOKIE options. */
static void scope_hex(const struct call_request *r, int rotating_bearer, char hex[65]) {
    br_hmac_key_context kc;
    br_hmac_context hc;
    unsigned char mac[32];
    br_hmac_key_init(&kc, &br_sha256_vtable, r->scope_secret, 32);
    br_hmac_init(&hc, &kc, 0);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *h = r->headers[i], *colon = h ? strchr(h, ':') : NULL;
        if (!colon || !credential_header(h, (size_t)(colon - h))) continue;
        char name[64]; /* the name in any case is one header */
        size_t nlen = (size_t)(colon - h) < sizeof(name) ? (size_t)(colon - h) : sizeof(name) - 1;
        for (size_t k = 0; k < nlen; k++) name[k] = (char)(h[k] >= 'A' && h[k] <= 'Z' ? h[k] + 32 : h[k]);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t vlen = strlen(v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r' || v[vlen - 1] == '\n')) vlen--;
        if (nlen == 13 && !memcmp(name, "authorization", 13) && !scope_value(&v, &vlen, rotating_bearer)) continue;
        hmac_field(&hc, "header", name, nlen);
        hmac_field(&hc, "value", v, vlen);
    }
    const char *cred;
    size_t len;
    if (r->url && url_credential(r->url, &cred, &len)) hmac_field(&hc, "url", cred, len);
    for (size_t i = 0; i < r->ncredentials; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "option%zu", i);
        if (r->credentials[i]) hmac_field(&hc, tag, r->credentials[i], strlen(r->credentials[i]));
    }
    br_hmac_out(&hc, mac);
    key_hex(mac, hex);
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

char *call_entry_name(const char *provider, const char *model, const char *hex) {
    struct buf name;
    buf_init(&name);
    put_segment(&name, provider && *provider ? provider : "custom");
    buf_putc(&name, '/');
    put_segment(&name, model);
    /* 64 bits of the key: a reviewer can read it, and a collision is only a miss (the entry
     * holds the whole key and request, checked on every read) */
    buf_printf(&name, "/%.16s.json", hex ? hex : "");
    if (!name.oom) return buf_take(&name, NULL);
    buf_free(&name);
    return NULL;
}

/* The model: the body's top-level "model" (taken while canonicalizing), else the path's.
 * *oom when there is one but no memory to copy it (the entry would be filed where no lookup
 * finds it). */
static char *model_of(const struct call *c, struct buf *from_body, int *oom) {
    if (from_body->data) return buf_take(from_body, NULL);
    /* Gemini, Vertex and Azure name the model in the path: .../models/NAME:verb,
     * .../deployments/NAME/; Bedrock's ids hold a ':' (.../model/vendor.name-v1:0/converse) */
    const char *p = strstr(c->url.path, "/models/");
    size_t skip = 8;
    const char *stop = ":/";
    if (!p) { p = strstr(c->url.path, "/deployments/"); skip = 13; }
    if (!p && c->ep.shape == SHAPE_BEDROCK && (p = strstr(c->url.path, "/model/"))) { skip = 7; stop = "/"; }
    if (!p) return NULL;
    p += skip;
    size_t n = strcspn(p, stop);
    char *m = n ? strndup(p, n) : NULL;
    if (n && !m) *oom = 1;
    return m;
}

/* A multipart body (multipart.h): from libcurl's MIME or form API (r->multipart writes its
 * parts), or one the program built, named by its Content-Type header. 1 with the document, 0
 * when the body is not multipart, -1 when out of memory. */
static int multipart_of(const struct call_request *r, const char *const *ignore, char **doc, size_t *len,
                        char **model) {
    struct mp_writer w;
    if (r->multipart) {
        const char *ct = r->multipart_type ? r->multipart_type : "multipart/form-data";
        mp_open(&w, ignore, (struct mp_str){ct, strlen(ct)});
        if (r->multipart(r->multipart_ud, &w) != 0) {
            mp_abort(&w);
            return -1;
        }
        return mp_close(&w, doc, len, model) == 0 ? 1 : -1;
    }
    size_t from = 0, n;
    const char *ct = header_next(r, "content-type", &from, &n);
    if (!ct || !r->body || !multipart_parse(&w, ignore, ct, n, r->body, r->body_len)) return 0;
    return mp_close(&w, doc, len, model) == 0 ? 1 : -1;
}

int call_analyze(struct call *c, const struct config *cfg, const char *method, const char *url,
                 const char *body, size_t body_len) {
    struct call_request r = {.method = method, .url = url, .body = body, .body_len = body_len};
    return call_analyze_request(c, cfg, &r);
}

int call_analyze_request(struct call *c, const struct config *cfg, const struct call_request *r) {
    memset(c, 0, sizeof(*c));
    c->ttl = -1;
    buf_init(&c->body);
    const char *body = r->body;
    size_t body_len = r->body_len;
    if (!r->url || !r->method || strcmp(r->method, "POST") != 0) return 0;
    /* a body larger than any entry may be is never cached: no canonical copy of it is made */
    if (cfg->max_entry_bytes && r->body_len > cfg->max_entry_bytes) return 0;
    if (url_parse(r->url, &c->url) != 0) return 0;
    if (!endpoint_match(cfg->endpoints, cfg->nendpoints, &c->url, &c->ep)) {
        call_free(c);
        return 0;
    }
    c->safe_url = url_safe(&c->url);
    if (!c->safe_url) goto oom;
    const char *const *shape_list = shape_ignores(c->ep.shape, c->url.path);
    size_t ns = count(shape_list), nu = count((const char *const *)cfg->key_ignore);
    const char **ignore = calloc(ns + nu + 1, sizeof(*ignore));
    if (!ignore) goto oom;
    memcpy(ignore, shape_list, ns * sizeof(*ignore));
    if (nu) memcpy(ignore + ns, cfg->key_ignore, nu * sizeof(*ignore));
    struct buf model;
    buf_init(&model);
    struct canon_opts opts = {.ignore = ignore, .normalize = cfg->normalize, .model = &model};
    char *parts = NULL, *parts_model = NULL;
    size_t parts_len = 0;
    int mp = multipart_of(r, ignore, &parts, &parts_len, &parts_model);
    if (mp < 0) { free(ignore); goto oom; }
    if (mp) { /* the parts, without the boundary: already canonical but for key order */
        c->body_json = canon_json(parts, parts_len, NULL, &c->body) == 0;
        if (parts_model) buf_puts(&model, parts_model);
        free(parts);
        free(parts_model);
        if (!c->body_json) { free(ignore); buf_free(&model); goto oom; }
    } else {
        c->body_json = canon_json(body ? body : "", body ? body_len : 0, &opts, &c->body) == 0;
    }
    free(ignore);
    if (!c->body_json) buf_free(&model);
    if (!c->body_json && body_len) buf_append(&c->body, body, body_len);
    if (c->body.oom || model.oom) { buf_free(&model); goto oom; }
    int oom = 0;
    c->model = model_of(c, &model, &oom);
    c->key_headers = key_header_block(r, cfg, c->ep.shape, &oom);
    if (oom) goto oom;
    c->key_options = r->options ? strdup(r->options) : NULL;
    if (r->options && !c->key_options) goto oom;
    char scope[65];
    if (r->scope_secret) scope_hex(r, !strcmp(c->ep.provider, "vertex"), scope);
    key_compute_full(c->key, cfg->ns, r->method, c->safe_url, c->body_json, c->body.data, c->body.len,
                     c->key_headers, r->scope_secret ? scope : NULL, r->options);
    key_hex(c->key, c->hex);
    c->name = call_entry_name(c->ep.provider, c->model, c->hex);
    if (!c->name) goto oom;
    return 1;
oom:
    call_free(c);
    return -1;
}

#define IMAGE_URL_LIFE 3600 /* OpenAI's; Azure's last 24 hours */
#define IMAGE_URL_MARGIN 600

long long call_answer_ttl_max(const struct call *c, const char *body, size_t len, long long stale_if_error) {
    const char *path = c->url.path;
    if (!path || !(ends_with(path, "/images/generations") || ends_with(path, "/images/edits") ||
                   ends_with(path, "/images/variations")))
        return 0;
    struct json_doc d;
    if (!body || json_parse(&d, body, len) != 0) return 0;
    int data = json_get(&d, 0, "data"), urls = 0;
    for (int i = 0; data >= 0 && d.tok[data].type == JSMN_ARRAY && i < d.tok[data].size; i++)
        urls |= json_get(&d, json_child(&d, data, i), "url") >= 0;
    json_doc_free(&d);
    if (!urls) return 0;
    long long cap = IMAGE_URL_LIFE - IMAGE_URL_MARGIN - stale_if_error;
    return cap < 60 ? -1 : cap;
}

int call_is_llm_url(const struct config *cfg, const char *url) {
    struct url u;
    struct endpoint_match m;
    if (!url || url_parse(url, &u) != 0) return 0;
    int llm = endpoint_match(cfg->endpoints, cfg->nendpoints, &u, &m);
    url_free(&u);
    return llm;
}

void call_free(struct call *c) {
    url_free(&c->url);
    free(c->safe_url);
    buf_free(&c->body);
    free(c->model);
    free(c->name);
    free(c->key_headers);
    free(c->key_options);
    memset(c, 0, sizeof(*c));
}
