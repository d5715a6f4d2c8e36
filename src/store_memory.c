/* memory store: an in-process LRU map bounded by entry count and bytes, with expiry. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forksafe.h"
#include "store.h"

struct item {
    char hex[65];
    char *data;
    size_t len;
    long long expires;
    struct item *hnext;            /* hash chain */
    struct item *prev, *next;      /* LRU list: head = most recent */
};

struct mem_lock {
    char hex[65];          /* "" = a free slot */
    long long until;       /* monotonic ms; 0 = until unlocked */
    pid_t owner;           /* a lock a forked child inherited is not held in the child's world */
    struct mem_lock *next;
};

struct mem {
    struct store base;
    pthread_mutex_t lock;
    struct item **table;
    size_t nbuckets;
    struct item *head, *tail;
    size_t count, bytes, max_entries, max_bytes;
    struct stats_table stats;
    struct mem_lock *locks;
};

static size_t bucket(const struct mem *m, const char *hex) {
    uint64_t h = 0;
    memcpy(&h, hex, sizeof(h)); /* the key is already a hash: its first bytes spread well */
    return (size_t)(h % m->nbuckets);
}

static struct item **find(struct mem *m, const char *hex) {
    struct item **p = &m->table[bucket(m, hex)];
    while (*p && strcmp((*p)->hex, hex) != 0) p = &(*p)->hnext;
    return p;
}

static void lru_unlink(struct mem *m, struct item *it) {
    if (it->prev) it->prev->next = it->next; else m->head = it->next;
    if (it->next) it->next->prev = it->prev; else m->tail = it->prev;
    it->prev = it->next = NULL;
}

static void lru_push(struct mem *m, struct item *it) {
    it->next = m->head;
    it->prev = NULL;
    if (m->head) m->head->prev = it;
    m->head = it;
    if (!m->tail) m->tail = it;
}

static void drop(struct mem *m, struct item *it) {
    struct item **p = find(m, it->hex);
    *p = it->hnext;
    lru_unlink(m, it);
    m->count--;
    m->bytes -= it->len;
    free(it->data);
    free(it);
}

static int mem_get(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err) {
    struct mem *m = (struct mem *)s;
    int rc = 0;
    (void)err;
    pthread_mutex_lock(&m->lock);
    struct item *it = *find(m, k->hex);
    if (it && it->expires && now >= it->expires) {
        drop(m, it);
        it = NULL;
    }
    if (it) {
        lru_unlink(m, it);
        lru_push(m, it);
        rc = buf_append(out, it->data, it->len) == 0 ? 1 : -1;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc < 0 && err) *err = strdup("memory store: out of memory");
    return rc;
}

static int mem_put(struct store *s, const struct store_key *k, const void *data, size_t len,
                   long long expires, char **err) {
    struct mem *m = (struct mem *)s;
    if (len > m->max_bytes) { /* larger than the whole cache: keep nothing, not the old value */
        pthread_mutex_lock(&m->lock);
        struct item *old = *find(m, k->hex);
        if (old) drop(m, old);
        pthread_mutex_unlock(&m->lock);
        return 0;
    }
    struct item *it = calloc(1, sizeof(*it));
    char *copy = malloc(len ? len : 1);
    if (!it || !copy) {
        free(it);
        free(copy);
        if (err) *err = strdup("memory store: out of memory");
        return -1;
    }
    memcpy(it->hex, k->hex, 64);
    memcpy(copy, data, len);
    it->data = copy;
    it->len = len;
    it->expires = expires;
    pthread_mutex_lock(&m->lock);
    struct item *old = *find(m, k->hex);
    if (old) drop(m, old);
    while (m->tail && (m->count + 1 > m->max_entries || m->bytes + len > m->max_bytes)) drop(m, m->tail);
    struct item **slot = &m->table[bucket(m, it->hex)];
    it->hnext = *slot;
    *slot = it;
    lru_push(m, it);
    m->count++;
    m->bytes += len;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void mem_close(struct store *s) {
    struct mem *m = (struct mem *)s;
    forksafe_unregister(&m->lock);
    while (m->head) drop(m, m->head);
    stats_table_free(&m->stats);
    while (m->locks) {
        struct mem_lock *l = m->locks;
        m->locks = l->next;
        free(l);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->table);
    free(m);
}

/* ---- optional ops: in-process only -------------------------------------------------------- */

/* fn runs with the store locked: it must not call back into this store. */
static int mem_each(struct store *s, store_each_fn fn, void *ud, char **err) {
    struct mem *m = (struct mem *)s;
    (void)err;
    pthread_mutex_lock(&m->lock);
    for (struct item *it = m->head; it; it = it->next) {
        struct store_key k = {it->hex, NULL};
        if (fn(&k, it->data, it->len, ud)) break;
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_del(struct store *s, const struct store_key *k, char **err) {
    struct mem *m = (struct mem *)s;
    (void)err;
    pthread_mutex_lock(&m->lock);
    struct item *it = *find(m, k->hex);
    if (it) drop(m, it);
    pthread_mutex_unlock(&m->lock);
    return it ? 1 : 0;
}

static int mem_add_stats(struct store *s, const struct stats_row *delta, char **err) {
    struct mem *m = (struct mem *)s;
    pthread_mutex_lock(&m->lock);
    int rc = stats_table_add(&m->stats, delta);
    pthread_mutex_unlock(&m->lock);
    if (rc != 0 && err) *err = strdup("memory store: out of memory");
    return rc;
}

static int mem_get_stats(struct store *s, struct stats_table *t, char **err) {
    struct mem *m = (struct mem *)s;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->stats.n && rc == 0; i++) rc = stats_table_add(t, &m->stats.rows[i]);
    pthread_mutex_unlock(&m->lock);
    if (rc != 0 && err) *err = strdup("memory store: out of memory");
    return rc;
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A lock whose holder forgot it frees itself after ttl_ms, as a Redis lock would. */
static int mem_lock(struct store *s, const struct store_key *k, long long ttl_ms, char **err) {
    struct mem *m = (struct mem *)s;
    long long now = mono_ms();
    int rc = 1;
    pthread_mutex_lock(&m->lock);
    struct mem_lock *free_slot = NULL;
    pid_t me = forksafe_pid();
    for (struct mem_lock *l = m->locks; l; l = l->next) {
        int live = l->hex[0] && (!l->until || now < l->until) && l->owner == me;
        if (live && !strcmp(l->hex, k->hex)) { rc = 0; break; }
        if (!free_slot && !live) free_slot = l;
    }
    if (rc == 1 && !free_slot && (free_slot = calloc(1, sizeof(*free_slot)))) {
        free_slot->next = m->locks;
        m->locks = free_slot;
    }
    if (rc == 1 && free_slot) {
        snprintf(free_slot->hex, sizeof(free_slot->hex), "%s", k->hex);
        free_slot->until = ttl_ms > 0 ? now + ttl_ms : 0;
        free_slot->owner = me;
    } else if (rc == 1) {
        rc = -1;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc < 0 && err) *err = strdup("memory store: out of memory");
    return rc;
}

static void mem_unlock(struct store *s, const struct store_key *k) {
    struct mem *m = (struct mem *)s;
    pthread_mutex_lock(&m->lock);
    pid_t me = forksafe_pid();
    for (struct mem_lock *l = m->locks; l; l = l->next)
        if (!strcmp(l->hex, k->hex) && l->owner == me) l->hex[0] = '\0'; /* reused by the next lock */
    pthread_mutex_unlock(&m->lock);
}

static const struct store_ops mem_ops = {.name = "memory", .get = mem_get, .put = mem_put, .close = mem_close,
                                         .each = mem_each, .del = mem_del, .add_stats = mem_add_stats,
                                         .get_stats = mem_get_stats, .lock = mem_lock, .unlock = mem_unlock};

struct store *store_memory_open(size_t max_entries, size_t max_bytes) {
    struct mem *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->nbuckets = max_entries < 64 ? 64 : max_entries > (1u << 20) ? (1u << 20) : max_entries;
    m->table = calloc(m->nbuckets, sizeof(*m->table));
    if (!m->table) { free(m); return NULL; }
    pthread_mutex_init(&m->lock, NULL);
    m->base.ops = &mem_ops;
    m->max_entries = max_entries;
    m->max_bytes = max_bytes;
    forksafe_register(&m->lock); /* a thread inside the store must not freeze a forked child */
    return &m->base;
}
