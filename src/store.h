/* store: where encoded entries live. A store sees opaque bytes under a key; it knows nothing of
 * HTTP or JSON. Every implementation is thread-safe and never leaves a partial entry visible. */
#ifndef LLMSHIM_STORE_H
#define LLMSHIM_STORE_H

#include <stddef.h>

#include "buf.h"
#include "stats.h"

struct store_key {
    const char *hex;   /* 64 hex digits */
    const char *name;  /* a relative path naming the entry (file store layout) */
};

struct store;

/* For store_ops.each: return non-zero to stop the walk. */
typedef int (*store_each_fn)(const struct store_key *k, const char *data, size_t len, void *ud);

struct store_ops {
    const char *name;
    /* 1 found (bytes appended to out), 0 not found or expired, -1 error (*err says why) */
    int (*get)(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err);
    /* expires: unix seconds, 0 = never. 0 stored, -1 error (*err says why) */
    int (*put)(struct store *s, const struct store_key *k, const void *data, size_t len,
               long long expires, char **err);
    void (*close)(struct store *s);

    /* Below: optional (NULL when a store cannot). Not used on the request path except
     * add_stats, lock and unlock. */

    /* Every entry, in no particular order (for the llmshim command: ls, export, prune, verify). */
    int (*each)(struct store *s, store_each_fn fn, void *ud, char **err);
    /* 1 deleted, 0 was not there, -1 error. */
    int (*del)(struct store *s, const struct store_key *k, char **err);
    /* Adds delta's counters to the shared counters of delta's provider and model. */
    int (*add_stats)(struct store *s, const struct stats_row *delta, char **err);
    /* Appends every provider/model row (summed over all processes) to t. */
    int (*get_stats)(struct store *s, struct stats_table *t, char **err);
    /* The fill lock of one key, so that only one process fetches a prompt at a time:
     * 1 taken by this caller, 0 held by someone else, -1 error. A lock whose holder died
     * must free itself (flock released with the process; Redis PX expiry = ttl_ms). */
    int (*lock)(struct store *s, const struct store_key *k, long long ttl_ms, char **err);
    void (*unlock)(struct store *s, const struct store_key *k);
    /* Notes that the entries with these keys (64 hex digits each) answered a request at `when`
     * (unix seconds): so that `llmshim prune --unused-since` can find recordings nothing uses. */
    int (*mark_used)(struct store *s, const char *const *hexes, size_t n, long long when, char **err);
    /* Calls fn once per mark (a key may come several times, at several times). */
    int (*each_used)(struct store *s, void (*fn)(const char *hex, long long when, void *ud), void *ud, char **err);
};

struct store {
    const struct store_ops *ops;
};

static inline int store_get(struct store *s, const struct store_key *k, long long now,
                            struct buf *out, char **err) {
    return s->ops->get(s, k, now, out, err);
}

static inline int store_put(struct store *s, const struct store_key *k, const void *data,
                            size_t len, long long expires, char **err) {
    return s->ops->put(s, k, data, len, expires, err);
}

static inline void store_close(struct store *s) {
    if (s) s->ops->close(s);
}

struct store *store_memory_open(size_t max_entries, size_t max_bytes);
/* front (a memory store) before back; owns both. */
struct store *store_tier_open(struct store *front, struct store *back);
/* The Redis store's settings: config.h's LLMSHIM_REDIS_*, or the command's own timeouts. */
struct store_redis_opts {
    const char *url;  /* redis[s]://, redis[s]+cluster://, redis[s]+sentinel://, unix:// (redis_url.h) */
    const char *ns;   /* goes into every key */
    int connect_ms, command_ms;
    const char *ca_file;   /* TLS: trust anchors; NULL: the system's bundle */
    const char *cert_file, *key_file;  /* TLS: the client's certificate and key, or NULL */
    const char *sentinel_password;     /* the sentinels' own, or NULL */
};
struct store *store_redis_open(const struct store_redis_opts *o, char **err);
/* Creates dir (0700) if needed, with a .gitignore for everything but the entries. NULL with
 * *err set when it cannot be used. */
struct store *store_file_open(const char *dir, char **err);
/* 1 when dir holds at least one entry (*.json; hidden names skipped), 0 when it holds none or
 * does not exist, -1 when it cannot be read. For LLMSHIM_MODE=once. */
int store_file_has_entries(const char *dir);

#endif
