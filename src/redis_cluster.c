/* redis_cluster: slots, the slot map and redirections (see redis_cluster.h). */
#include "redis_cluster.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NO_NODE 0xffff
#define REFRESH_GAP_MS 250 /* the least time between two reads of the map */
#define MAX_HOPS 5         /* MOVED after MOVED: a map changing faster than we follow it */

struct cluster {
    struct node_table nodes; /* the seeds, then every node a map or a redirection named */
    const struct node_opts *o;
    _Atomic uint16_t slot[CLUSTER_SLOTS]; /* index into nodes, NO_NODE when unknown */
    _Atomic int loaded;                   /* a map has been read */
    _Atomic int stale;                    /* something said the map is out of date */
    _Atomic long long last_read;          /* CLOCK_MONOTONIC ms of the last attempt */
    _Atomic unsigned next_source;         /* where the next read starts: spreads them */
};

/* ---- slots -------------------------------------------------------------------------------- */

/* CRC16-XMODEM (polynomial 0x1021), four bits at a time: the table for each nibble. */
static const uint16_t crc_nibble[16] = {0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
                                        0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef};

static unsigned crc16(const unsigned char *p, size_t n) {
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc = ((crc << 4) & 0xffff) ^ crc_nibble[((crc >> 12) ^ (p[i] >> 4)) & 15];
        crc = ((crc << 4) & 0xffff) ^ crc_nibble[((crc >> 12) ^ (p[i] & 15)) & 15];
    }
    return crc;
}

unsigned cluster_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - key);
        }
    }
    return crc16((const unsigned char *)key, len) & (CLUSTER_SLOTS - 1);
}

/* ---- the map ------------------------------------------------------------------------------ */

static void want_map(struct cluster *c) {
    if (!atomic_load(&c->stale)) atomic_store(&c->stale, 1);
}

/* host (empty: the node that answered, as Redis 7 says when it has no better name) and port of
 * a node entry into the table: its index, or -1. */
static int node_of(struct cluster *c, const char *host, size_t hlen, long long port, const struct redis_node *from) {
    char h[256];
    if (port < 1 || port > 65535 || hlen >= sizeof(h) || (hlen == 1 && host[0] == '?')) return -1;
    if (hlen) snprintf(h, sizeof(h), "%.*s", (int)hlen, host);
    else snprintf(h, sizeof(h), "%s", from->host);
    return node_table_add(&c->nodes, h, (int)port, c->o);
}

/* CLUSTER SLOTS: [[start, end, [host, port, id, ...], replicas...], ...] into the slots. */
static int apply_slots(struct cluster *c, const redisReply *r, const struct redis_node *from, char **err) {
    if (r->type != REDIS_REPLY_ARRAY)
        return node_fail(from, err, "CLUSTER SLOTS: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    uint16_t *map = malloc(CLUSTER_SLOTS * sizeof(*map)); /* built whole, then published slot by slot */
    if (!map) return redis_fail(err, "out of memory");
    for (int i = 0; i < CLUSTER_SLOTS; i++) map[i] = NO_NODE;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 || e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
            free(map);
            return node_fail(from, err, "CLUSTER SLOTS: unexpected reply");
        }
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const redisReply *n = e->element[2];
        int idx = node_of(c, n->element[0]->str, n->element[0]->len, n->element[1]->integer, from);
        if (idx < 0 || lo < 0 || hi >= CLUSTER_SLOTS) continue; /* a node without an address: not used */
        for (long long s = lo; s <= hi; s++) map[s] = (uint16_t)idx;
    }
    for (int i = 0; i < CLUSTER_SLOTS; i++) atomic_store_explicit(&c->slot[i], map[i], memory_order_relaxed);
    free(map);
    atomic_store(&c->stale, 0);
    atomic_store(&c->loaded, 1);
    return 0;
}

/* Reads the map from the first node that answers, nodes in their backoff skipped. */
static int read_map(struct cluster *c, char **err) {
    static const struct redis_cmd slots = {2, {"CLUSTER", "SLOTS"}, {7, 5}};
    int count = 0;
    while (count < NODE_TABLE_MAX && node_table_at(&c->nodes, count)) count++;
    unsigned start = atomic_fetch_add(&c->next_source, 1);
    char *why = NULL;
    for (int k = 0; k < count; k++) {
        struct redis_node *n = node_table_at(&c->nodes, (int)((start + (unsigned)k) % (unsigned)count));
        if (node_backing_off(n)) continue;
        redisReply *r;
        free(why);
        why = NULL;
        if (node_run(n, &slots, 1, &r, &why) != 0) continue;
        int rc = apply_slots(c, r, n, &why);
        freeReplyObject(r);
        if (rc == 0) return 0;
    }
    if (!why) redis_fail(&why, "redis cluster: every node is failing: no slot map");
    if (err) *err = why;
    else free(why);
    return -1;
}

/* Reads the map when none was read yet, or when one is due and no other thread is at it. -1
 * only when there is no map to route with. */
static int map_ready(struct cluster *c, char **err) {
    int loaded = atomic_load(&c->loaded);
    if (loaded && !atomic_load(&c->stale)) return 0;
    long long now = redis_clock_ms(), last = atomic_load(&c->last_read);
    if (now - last < REFRESH_GAP_MS || !atomic_compare_exchange_strong(&c->last_read, &last, now))
        return loaded ? 0 : redis_fail(err, "redis cluster: no slot map yet (the nodes did not answer)");
    char *why = NULL;
    if (read_map(c, &why) == 0 || loaded) { /* a failed read leaves the old map to route with */
        free(why);
        return 0;
    }
    if (err) *err = why;
    else free(why);
    return -1;
}

/* ---- redirections ------------------------------------------------------------------------- */

struct redirect {
    int ask;
    unsigned slot;
    const char *host;
    size_t hlen;
    long long port;
};

/* "-MOVED 3999 10.0.0.2:6381" or "-ASK 3999 10.0.0.2:6381" (an IPv6 host has colons too: the
 * port is after the last one). */
static int redirect_of(const redisReply *r, struct redirect *d) {
    if (r->type != REDIS_REPLY_ERROR) return 0;
    const char *p;
    if (!strncmp(r->str, "MOVED ", 6)) d->ask = 0, p = r->str + 6;
    else if (!strncmp(r->str, "ASK ", 4)) d->ask = 1, p = r->str + 4;
    else return 0;
    char *end;
    unsigned long slot = strtoul(p, &end, 10);
    if (end == p || *end != ' ' || slot >= CLUSTER_SLOTS) return 0;
    const char *addr = end + 1, *colon = strrchr(addr, ':');
    if (!colon) return 0;
    d->slot = (unsigned)slot;
    d->host = addr;
    d->hlen = (size_t)(colon - addr);
    d->port = strtoll(colon + 1, &end, 10);
    return *end == '\0';
}

/* One command's reply *rep was a redirection: follows it (MOVED at most MAX_HOPS times, ASK
 * once) and puts the final reply in its place. -1 when a node failed. */
static int follow(struct cluster *c, const struct redis_node *from, const struct redis_cmd *cmd, redisReply **rep,
                  char **err) {
    struct redirect d;
    for (int hop = 0; hop < MAX_HOPS && redirect_of(*rep, &d); hop++) {
        int idx = node_of(c, d.host, d.hlen, d.port, from);
        struct redis_node *to = node_table_at(&c->nodes, idx);
        if (!to) return redis_fail(err, "redis cluster: cannot follow %.100s (too many nodes)", (*rep)->str);
        redisReply *r[2];
        if (!d.ask) {
            atomic_store(&c->slot[d.slot], (uint16_t)idx);
            want_map(c); /* a slot moved: others may have too */
            if (node_run(to, cmd, 1, r, err) != 0) return -1;
            freeReplyObject(*rep);
            *rep = r[0];
        } else {
            /* the slot is migrating and this key is already there: this once */
            const struct redis_cmd two[2] = {{1, {"ASKING"}, {6}}, *cmd};
            if (node_run(to, two, 2, r, err) != 0) return -1;
            freeReplyObject(r[0]);
            freeReplyObject(*rep);
            *rep = r[1];
            return 0;
        }
        from = to;
    }
    return 0;
}

int cluster_run(struct cluster *c, const struct redis_cmd *cmds, int n, redisReply **rep, char **err) {
    if (map_ready(c, err) != 0) return -1;
    unsigned slot = cluster_slot(cmds[0].argv[1], cmds[0].len[1]);
    struct redis_node *node = node_table_at(&c->nodes, atomic_load_explicit(&c->slot[slot], memory_order_relaxed));
    if (!node) {
        want_map(c);
        return redis_fail(err, "redis cluster: no primary serves slot %u (the cluster is failing over or incomplete)", slot);
    }
    if (node_run(node, cmds, n, rep, err) != 0) {
        want_map(c); /* a primary that fails may be replaced */
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR && !strncmp(rep[i]->str, "CLUSTERDOWN", 11)) want_map(c);
        if (follow(c, node, &cmds[i], &rep[i], err) == 0) continue;
        want_map(c);
        for (int k = 0; k < n; k++) freeReplyObject(rep[k]);
        return -1;
    }
    return 0;
}

int cluster_primaries(struct cluster *c, struct redis_node **out, int max, char **err) {
    if (!atomic_load(&c->loaded) && map_ready(c, err) != 0) return -1;
    unsigned char seen[NODE_TABLE_MAX] = {0};
    int k = 0;
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        unsigned i = atomic_load_explicit(&c->slot[s], memory_order_relaxed);
        if (i == NO_NODE || seen[i] || k == max) continue;
        seen[i] = 1;
        out[k++] = node_table_at(&c->nodes, (int)i);
    }
    return k ? k : redis_fail(err, "redis cluster: the slot map names no primary");
}

struct cluster *cluster_new(const struct redis_url *u, const struct node_opts *o) {
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->o = o;
    for (int i = 0; i < CLUSTER_SLOTS; i++) atomic_init(&c->slot[i], NO_NODE);
    for (int i = 0; i < u->naddr; i++)
        if (node_table_add(&c->nodes, u->addr[i].host, u->addr[i].port, o) < 0) {
            cluster_free(c);
            return NULL;
        }
    return c;
}

void cluster_free(struct cluster *c) {
    if (!c) return;
    node_table_free(&c->nodes);
    free(c);
}
