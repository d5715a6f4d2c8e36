/* call: turns what a hook saw (method, URL, body) into a cache decision input: is it an LLM call,
 * which provider and model, the canonical body and the key. Pure: no I/O, no libcurl. */
#ifndef LLMSHIM_CALL_H
#define LLMSHIM_CALL_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "endpoint.h"

#define KEY_VERSION "llmshim-key-v1"

struct call {
    struct url url;
    struct endpoint_match ep;
    char *safe_url;    /* URL without credentials: for logs and the entry's request summary */
    struct buf body;   /* canonical JSON, or the raw bytes when the body is not JSON */
    int body_json;
    char *model;       /* from the body's "model" (or the path, for Gemini); may be NULL */
    unsigned char key[32];
    char hex[65];
    char *name;        /* where the entry lives in a file store: provider/model/hh/hex.json */
};

/* Returns 1 (an LLM call: c is filled, free with call_free), 0 (not an LLM call: leave it
 * alone), or -1 (out of memory; c is freed). */
int call_analyze(struct call *c, const struct config *cfg, const char *method, const char *url,
                 const char *body, size_t body_len);
void call_free(struct call *c);

/* The key over already-canonical parts; exposed for tests and the command. */
void key_compute(unsigned char out[32], const char *ns, const char *method, const char *url,
                 int body_json, const char *body, size_t body_len);
void key_hex(const unsigned char key[32], char hex[65]);

#endif
