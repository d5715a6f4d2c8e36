/* call: turns what a hook saw (method, URL, body) into a cache decision input: is it an LLM call,
 * which provider and model, the canonical body and the key. Pure: no I/O, no libcurl. */
#ifndef LLMSHIM_CALL_H
#define LLMSHIM_CALL_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "endpoint.h"

struct mp_writer;

/* v2: numbers compared by exact decimal value (v1 went through a double) */
#define KEY_VERSION "llmshim-key-v2"

struct call {
    struct url url;
    struct endpoint_match ep;
    char *safe_url;    /* URL without credentials: for logs and the entry's request summary */
    struct buf body;   /* canonical JSON, or the raw bytes when the body is not JSON */
    int body_json;
    char *model;       /* from the body's "model" (or the path, for Gemini); may be NULL */
    unsigned char key[32];
    char hex[65];
    char *name;        /* where the entry lives in a file store: call_entry_name */
    char *key_headers; /* the canonical header block that went into the key, or NULL */
    char *key_options; /* the transfer options that went into the key, or NULL */
    long long ttl;     /* the entry's time to live when stored; -1: LLMSHIM_TTL */
    long long ttl_max; /* seconds the answer may be kept at most (0: no more than ttl says) */
};

/* What a hook saw of one request. */
struct call_request {
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    const char *const *headers;   /* "Name: value" lines, as set with CURLOPT_HTTPHEADER */
    size_t nheaders;
    const char *const *credentials; /* CURLOPT_USERPWD, USERNAME, PASSWORD, XOAUTH2_BEARER, COOKIE: */
    size_t ncredentials;            /* by position, NULL where not set (only ever hashed) */
    const unsigned char *scope_secret; /* 32 bytes when LLMSHIM_KEY_SCOPE=credential, else NULL */
    const char *options;          /* transfer options that change the answer, as text; NULL: none */
    /* a body built with libcurl's MIME or form API: writes its parts (multipart.h), 0 or -1;
     * multipart_type: the Content-Type the program set (NULL: multipart/form-data) */
    int (*multipart)(void *ud, struct mp_writer *w);
    void *multipart_ud;
    const char *multipart_type;
};

/* Returns 1 (an LLM call: c is filled, free with call_free), 0 (not an LLM call: leave it
 * alone), or -1 (out of memory; c is freed). */
int call_analyze_request(struct call *c, const struct config *cfg, const struct call_request *r);
/* The same for a request without headers or credentials (the llmshim command). */
int call_analyze(struct call *c, const struct config *cfg, const char *method, const char *url,
                 const char *body, size_t body_len);
void call_free(struct call *c);
/* 1 when a request to url would be an LLM call if it were a POST llmshim can read: the URL
 * matches a built-in or configured endpoint. */
int call_is_llm_url(const struct config *cfg, const char *url);

/* Image URLs in an answer expire (OpenAI's after 60 minutes): an images answer holding them may
 * be kept 50 minutes less stale_if_error (its expiry plus LLMSHIM_STALE_IF_ERROR must come before
 * the URLs'), or not at all (-1) when that is under a minute. 0: the answer holds none. */
long long call_answer_ttl_max(const struct call *c, const char *body, size_t len, long long stale_if_error);

/* The file-store name of an entry: "<provider>/<model>/<first 16 hex of the key>.json", each
 * segment reduced to safe characters ("custom" for no provider, "_" for no model). The one
 * place names are made: the shim (call_analyze) and the command (export, import) agree.
 * NULL when out of memory. */
char *call_entry_name(const char *provider, const char *model, const char *hex);

/* The key over already-canonical parts; exposed for tests and the command. `headers` is the
 * canonical block of key headers ("name:value\n" sorted), `scope` the credential HMAC in hex;
 * `options` the transfer options that change the answer (redirects, port); each may be NULL,
 * and then the key is what it was before they existed. */
void key_compute(unsigned char out[32], const char *ns, const char *method, const char *url,
                 int body_json, const char *body, size_t body_len);
void key_compute_full(unsigned char out[32], const char *ns, const char *method, const char *url,
                      int body_json, const char *body, size_t body_len, const char *headers,
                      const char *scope, const char *options);
void key_hex(const unsigned char key[32], char hex[65]);

#endif
