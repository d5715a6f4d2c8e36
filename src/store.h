/* store: where encoded entries live. A store sees opaque bytes under a key; it knows nothing of
 * HTTP or JSON. Every implementation is thread-safe and never leaves a partial entry visible. */
#ifndef LLMSHIM_STORE_H
#define LLMSHIM_STORE_H

#include <stddef.h>

#include "buf.h"

struct store_key {
    const char *hex;   /* 64 hex digits */
    const char *name;  /* a relative path naming the entry (file store layout) */
};

struct store;

struct store_ops {
    const char *name;
    /* 1 found (bytes appended to out), 0 not found or expired, -1 error (*err says why) */
    int (*get)(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err);
    /* expires: unix seconds, 0 = never. 0 stored, -1 error (*err says why) */
    int (*put)(struct store *s, const struct store_key *k, const void *data, size_t len,
               long long expires, char **err);
    void (*close)(struct store *s);
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
/* Creates dir (0700) if needed. NULL with *err set when it cannot be used. */
struct store *store_file_open(const char *dir, char **err);

#endif
