/* tier store: a bounded in-process memory store in front of a shared one (file or redis).
 * Reads go down the tiers and fill the front on a lower hit; writes go to both. Everything
 * that concerns the shared state (iteration, counters, fill locks) is the lower tier's. */
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct tier {
    struct store base;
    struct store *front;
    struct store *back;
    struct store_ops ops; /* per instance: optional ops exist only where the back has them */
};

static int tier_get(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err) {
    struct tier *t = (struct tier *)s;
    size_t mark = out->len;
    if (store_get(t->front, k, now, out, NULL) == 1) return 1;
    out->len = mark;
    int rc = store_get(t->back, k, now, out, err);
    /* the front keeps it as long as the back would: expiry is checked from the entry itself */
    if (rc == 1) store_put(t->front, k, out->data + mark, out->len - mark, 0, NULL);
    return rc;
}

static int tier_put(struct store *s, const struct store_key *k, const void *data, size_t len,
                    long long expires, char **err) {
    struct tier *t = (struct tier *)s;
    store_put(t->front, k, data, len, expires, NULL);
    return store_put(t->back, k, data, len, expires, err);
}

static void tier_close(struct store *s) {
    struct tier *t = (struct tier *)s;
    store_close(t->front);
    store_close(t->back);
    free(t);
}

static int tier_each(struct store *s, store_each_fn fn, void *ud, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->each(t->back, fn, ud, err);
}

static int tier_del(struct store *s, const struct store_key *k, char **err) {
    struct tier *t = (struct tier *)s;
    if (t->front->ops->del) t->front->ops->del(t->front, k, NULL);
    return t->back->ops->del(t->back, k, err);
}

static int tier_add_stats(struct store *s, const struct stats_row *d, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->add_stats(t->back, d, err);
}

static int tier_get_stats(struct store *s, struct stats_table *tab, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->get_stats(t->back, tab, err);
}

static int tier_lock(struct store *s, const struct store_key *k, long long ttl_ms, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->lock(t->back, k, ttl_ms, err);
}

static void tier_unlock(struct store *s, const struct store_key *k) {
    struct tier *t = (struct tier *)s;
    t->back->ops->unlock(t->back, k);
}

static int tier_mark_used(struct store *s, const char *const *hexes, size_t n, long long when, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->mark_used(t->back, hexes, n, when, err);
}

static int tier_each_used(struct store *s, void (*fn)(const char *, long long, void *), void *ud, char **err) {
    struct tier *t = (struct tier *)s;
    return t->back->ops->each_used(t->back, fn, ud, err);
}

struct store *store_tier_open(struct store *front, struct store *back) {
    struct tier *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    const struct store_ops *b = back->ops;
    t->ops = (struct store_ops){
        .name = b->name,
        .get = tier_get,
        .put = tier_put,
        .close = tier_close,
        .each = b->each ? tier_each : NULL,
        .del = b->del ? tier_del : NULL,
        .add_stats = b->add_stats ? tier_add_stats : NULL,
        .get_stats = b->get_stats ? tier_get_stats : NULL,
        .lock = b->lock && b->unlock ? tier_lock : NULL,
        .unlock = b->lock && b->unlock ? tier_unlock : NULL,
        .mark_used = b->mark_used ? tier_mark_used : NULL,
        .each_used = b->each_used ? tier_each_used : NULL,
    };
    t->base.ops = &t->ops;
    t->front = front;
    t->back = back;
    return &t->base;
}
