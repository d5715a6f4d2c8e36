/* endpoint: which URLs are LLM API calls, and of which shape. Built-in providers live in one
 * table in endpoint.c; users add URL prefixes with LLMSHIM_ENDPOINTS. */
#ifndef LLMSHIM_ENDPOINT_H
#define LLMSHIM_ENDPOINT_H

#include <stddef.h>

enum shape {
    SHAPE_NONE = 0,
    SHAPE_OPENAI, /* OpenAI and every OpenAI-compatible API */
    SHAPE_ANTHROPIC,
    SHAPE_GEMINI,
    SHAPE_OLLAMA,
    SHAPE_BEDROCK,    /* AWS Bedrock runtime: invoke and converse, eventstream answers */
    SHAPE_COHERE,     /* Cohere v1 and v2 */
    SHAPE_PERPLEXITY, /* OpenAI's shape, but a stream may end with a finish_reason, no [DONE] */
};

const char *shape_name(enum shape s);
enum shape shape_from_name(const char *s, size_t n);

/* A URL split into the parts the cache cares about. Strings are owned (url_free). */
struct url {
    char *scheme; /* lowercase, "http" when the URL had none (as libcurl guesses) */
    char *host;   /* lowercase; IPv6 keeps its brackets */
    int port;     /* 0 when it is the scheme's default */
    char *path;   /* starts with '/' */
    char *query;  /* without '?' and without credential parameters; NULL if none */
    char *base;   /* scheme://host[:port]path: what endpoint patterns match */
};

int url_parse(const char *text, struct url *u);
/* The credential a raw URL carries (user:password@ or a credential query parameter such as
 * ?key=), as a pointer into text and a length; 0 when none. */
int url_credential(const char *text, const char **cred, size_t *len);
void url_free(struct url *u);
/* More query parameter names to treat as credentials (LLMSHIM_REDACT_QUERY), process-wide; the
 * list must outlive every url_parse. */
void url_redact_params(const char *const *names);
/* base + "?" + query: a URL safe to write down (no credentials). Caller frees. */
char *url_safe(const struct url *u);

struct endpoint_rule {
    char *pattern;     /* URL prefix; '*' matches any run of characters */
    enum shape shape;  /* SHAPE_NONE: infer from the path */
};

struct endpoint_match {
    enum shape shape;
    const char *provider; /* "openai", ... or "custom"; static storage */
};

/* Is a POST to u an LLM call? Returns 1 and fills m, or 0. User rules are tried first. */
int endpoint_match(const struct endpoint_rule *rules, size_t nrules, const struct url *u,
                   struct endpoint_match *m);

/* 1 if glob pattern matches a prefix of s ('*' = any run of characters). */
int glob_prefix(const char *pattern, const char *s);

#endif
