/* config: the shim's settings, from LLMSHIM_* environment variables. Parsing is pure (it takes
 * a lookup function), so tests can feed it any environment. */
#ifndef LLMSHIM_CONFIG_H
#define LLMSHIM_CONFIG_H

#include <stddef.h>

#include "endpoint.h"

/* MODE_ONCE is resolved before anything else sees it (cache.c, the command's run): REPLAY when
 * the cassette directory holds entries, else RECORD. */
enum mode { MODE_CACHE, MODE_RECORD, MODE_REPLAY, MODE_OFF, MODE_ONCE };
enum backend { BACKEND_FILE, BACKEND_MEMORY, BACKEND_REDIS };
enum log_level { LOG_OFF, LOG_INFO, LOG_DEBUG };

struct config {
    enum mode mode;
    enum backend backend;  /* the shared store */
    int memory_front;      /* LLMSHIM_BACKEND=memory,file|memory,redis: an in-process tier before it */
    char *redis_url;
    int redis_connect_ms;
    int redis_timeout_ms;
    char *redis_ca;          /* TLS: trust anchors (PEM); NULL: the system's bundle */
    char *redis_cert, *redis_key; /* TLS: the client's certificate and key, both or neither */
    char *sentinel_password; /* the sentinels' own password, when they have one */
    long long coalesce_ms; /* wait this long for another process fetching the same prompt; 0 = off */
    long long stale_if_error; /* seconds after expiry an entry may still answer a failed call */
    char *dir;            /* file store directory */
    long long ttl;        /* seconds; 0 = entries never expire */
    struct endpoint_rule *endpoints;
    size_t nendpoints;
    char *ns;             /* namespace mixed into every key */
    enum log_level log;
    size_t mem_max_entries;
    size_t mem_max_bytes;
    size_t max_entry_bytes;  /* larger answers pass through uncached */
    char **key_ignore;       /* JSON pointers left out of every key (NULL-terminated) */
    char **key_headers;      /* lowercase request header names put into every key (NULL-terminated) */
    char **redact_query;     /* more query parameter names that carry credentials (NULL-terminated) */
    unsigned normalize;      /* CANON_NORM_* */
    int key_scope;           /* 1: keys include an HMAC of the request's credential */
    double replay_pace;      /* 0: replay streams at once; 1: at the recorded pace; 0.5: twice as fast */
    char *error;          /* the first invalid setting, explained; NULL when all is well */
};

typedef const char *(*config_lookup)(const char *name);

/* Fills c from lookup (usually getenv). Never fails outright: a bad value sets c->error, and
 * the caller then turns the shim off for this process. */
void config_parse(struct config *c, config_lookup lookup);
void config_free(struct config *c);

const char *mode_name(enum mode m);

#endif
