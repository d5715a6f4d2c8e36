/* redis store: entries under llmshim:v1:<ns>:<hex> in one Redis shared by every process and
 * machine that points at it. Every command names one key (get, put, lock, unlock, add_stats;
 * each's GETs), so the store also works through sharding proxies (twemproxy), on a cluster and
 * on managed Redis; each (the llmshim command) SCANs every primary.
 *
 * Where a command goes: to the one server of the URL, to the primary of its key's slot in a
 * cluster (redis_cluster.c), or to the primary the sentinels name (redis_sentinel.c). Each
 * server's connections, their pool and the backoff after failures: redis_node.c; the wire
 * (sending, reading, deadlines): store_redis_io.c; TLS: redis_tls.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_cluster.h"
#include "redis_node.h"
#include "redis_sentinel.h"
#include "redis_tls.h"
#include "redis_url.h"
#include "store_redis_io.h"
#include "store.h"

#define NS_MAX 1024
#define KEY_MAX (NS_MAX + 96)
#define SCAN_COUNT "500"
#define EACH_BATCH 32        /* GETs pipelined at once by each */
#define DEFAULT_CONNECT_MS 100
#define DEFAULT_COMMAND_MS 250

struct rstore {
    struct store base;
    struct redis_url url;
    struct node_opts opts;          /* for the servers holding entries */
    struct node_opts watch_opts;    /* for sentinels */
    char *sentinel_password;
    struct rtls_conf *tls;
    struct redis_node *node;        /* one of these three */
    struct cluster *cluster;
    struct sentinel *sentinel;
    char label[300];                /* for messages: host:port or socket path */
    char id[33];                    /* random: tells this store's fill locks from others' */
    char prefix[NS_MAX + 16];       /* "llmshim:v1:<ns>:" */
    char pattern[2 * NS_MAX + 32];  /* the prefix with glob characters escaped, then '*' */
    size_t prefix_len;
};

static const char *const counter_names[8] = {"hits",  "misses",      "stores",       "errors",
                                             "stale", "bytes_saved", "tokens_saved", "us_saved"};

__attribute__((format(printf, 3, 4))) static int fail(const struct rstore *r, char **err, const char *fmt, ...) {
    char msg[512], full[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err) {
        snprintf(full, sizeof(full), "redis %s: %s", r->label, msg);
        *err = strdup(full);
    }
    return -1;
}

static long long clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_hex64(const char *s, size_t n) {
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* prefix + infix + hex into key (KEY_MAX bytes): its length, 0 when hex is not a key. */
static size_t key_of(const struct rstore *r, const struct store_key *k, const char *infix, char *key) {
    if (!k || !k->hex || !is_hex64(k->hex, strlen(k->hex))) return 0;
    int n = snprintf(key, KEY_MAX, "%s%s%s", r->prefix, infix, k->hex);
    return n > 0 && n < KEY_MAX ? (size_t)n : 0;
}

/* ---- routing ------------------------------------------------------------------------------ */

/* n pipelined commands that all name one key, as their first argument, on the server holding
 * it: 0 with n replies in rep (the caller frees them, error replies included), or -1 with *err. */
static int run(struct rstore *r, const struct redis_cmd *cmds, int n, redisReply **rep, char **err) {
    if (r->cluster) return cluster_run(r->cluster, cmds, n, rep, err);
    if (r->sentinel) return sentinel_run(r->sentinel, cmds, n, rep, err);
    return node_run(r->node, cmds, n, rep, err);
}

static int run1(struct rstore *r, const struct redis_cmd *c, redisReply **rep, char **err) {
    return run(r, c, 1, rep, err);
}

/* The servers holding entries (SCAN each of them): up to max into out; their number or -1. */
static int primaries(struct rstore *r, struct redis_node **out, int max, char **err) {
    if (r->cluster) return cluster_primaries(r->cluster, out, max, err);
    out[0] = r->sentinel ? sentinel_primary(r->sentinel, err) : r->node;
    return out[0] ? 1 : -1;
}

/* -1 with *err for an error reply or a reply of an unexpected type. */
static int bad_reply(const struct rstore *r, const redisReply *rep, const char *cmd, char **err) {
    if (rep->type == REDIS_REPLY_ERROR) return fail(r, err, "%s: %s", cmd, rep->str);
    return fail(r, err, "%s: unexpected reply type %d", cmd, rep->type);
}

static int bad_key(const struct rstore *r, char **err) {
    return fail(r, err, "invalid key (expected 64 hex digits)");
}

/* ---- entries ------------------------------------------------------------------------------ */

static int rs_get(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX];
    (void)now; /* Redis expires keys itself (PX); the caller checks the entry's own expiry */
    struct redis_cmd c = {2, {"GET", key}, {3, key_of(r, k, "", key)}};
    if (!c.len[1]) return bad_key(r, err);
    redisReply *rep;
    if (run1(r, &c, &rep, err)) return -1;
    int rc = rep->type == REDIS_REPLY_NIL ? 0 : rep->type == REDIS_REPLY_STRING ? 1 : bad_reply(r, rep, "GET", err);
    /* a large entry is not copied once more: the reply's own string becomes out's contents */
    if (rc == 1 && buf_adopt(out, rep->str, rep->len) == 0) rep->str = NULL;
    else if (rc == 1 && buf_append(out, rep->str, rep->len) != 0) rc = fail(r, err, "out of memory");
    freeReplyObject(rep);
    return rc;
}

static int rs_put(struct store *s, const struct store_key *k, const void *data, size_t len,
                  long long expires, char **err) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX], px[24];
    struct redis_cmd c = {3, {"SET", key, data, "PX", px}, {3, key_of(r, k, "", key), len, 2, 0}};
    if (!c.len[1]) return bad_key(r, err);
    if (expires && expires < LLONG_MAX / 1000) {
        long long ms = expires * 1000 - clock_ms(CLOCK_REALTIME);
        if (ms <= 0) return 0; /* expired already: nothing worth keeping */
        c.len[4] = (size_t)snprintf(px, sizeof(px), "%lld", ms);
        c.argc = 5;
    }
    redisReply *rep;
    if (run1(r, &c, &rep, err)) return -1;
    int rc = rep->type == REDIS_REPLY_STATUS ? 0 : bad_reply(r, rep, "SET", err);
    freeReplyObject(rep);
    return rc;
}

static int rs_del(struct store *s, const struct store_key *k, char **err) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX];
    struct redis_cmd c = {2, {"DEL", key}, {3, key_of(r, k, "", key)}};
    if (!c.len[1]) return bad_key(r, err);
    redisReply *rep;
    if (run1(r, &c, &rep, err)) return -1;
    int rc = rep->type == REDIS_REPLY_INTEGER ? rep->integer > 0 : bad_reply(r, rep, "DEL", err);
    freeReplyObject(rep);
    return rc;
}

/* One SCAN page: GETs its entry keys (not lock or stats keys) EACH_BATCH at a time, so that at
 * most that many values are in memory at once, and hands each value still there to fn.
 * 1 when fn asked to stop, 0 to go on, -1 on error. */
static int each_page(struct rstore *r, const redisReply *keys, store_each_fn fn, void *ud, char **err) {
    struct redis_cmd cmds[EACH_BATCH];
    redisReply *reps[EACH_BATCH];
    int rc = 0;
    for (size_t next = 0; !rc && next < keys->elements;) {
        int n = 0;
        for (; next < keys->elements && n < EACH_BATCH; next++) {
            const redisReply *kr = keys->element[next];
            if (kr->type == REDIS_REPLY_STRING && kr->len == r->prefix_len + 64 &&
                !memcmp(kr->str, r->prefix, r->prefix_len) && is_hex64(kr->str + r->prefix_len, 64))
                cmds[n++] = (struct redis_cmd){2, {"GET", kr->str}, {3, kr->len}};
        }
        if (n && run(r, cmds, n, reps, err)) return -1;
        for (int i = 0; i < n; i++) {
            if (!rc && reps[i]->type == REDIS_REPLY_STRING) { /* NIL: expired or deleted meanwhile */
                char hex[65];
                memcpy(hex, cmds[i].argv[1] + r->prefix_len, 64);
                hex[64] = '\0';
                struct store_key k = {hex, hex}; /* Redis has no file layout: the name is the key */
                if (fn(&k, reps[i]->str, reps[i]->len, ud)) rc = 1;
            }
            freeReplyObject(reps[i]);
        }
    }
    return rc;
}

/* SCAN over one server (each primary of a cluster holds its own part of the keys). */
static int each_on(struct rstore *r, struct redis_node *node, store_each_fn fn, void *ud, char **err) {
    char cursor[32] = "0";
    int rc = 0;
    do {
        struct redis_cmd c = {6, {"SCAN", cursor, "MATCH", r->pattern, "COUNT", SCAN_COUNT},
                        {4, strlen(cursor), 5, strlen(r->pattern), 5, strlen(SCAN_COUNT)}};
        redisReply *rep;
        if (node_run(node, &c, 1, &rep, err)) return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[0]->len >= sizeof(cursor) || rep->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = node_fail(node, err, "SCAN: %s", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        } else {
            memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
            rc = each_page(r, rep->element[1], fn, ud, err);
        }
        freeReplyObject(rep);
    } while (!rc && strcmp(cursor, "0") != 0);
    return rc;
}

static int rs_each(struct store *s, store_each_fn fn, void *ud, char **err) {
    struct rstore *r = (struct rstore *)s;
    struct redis_node *nodes[NODE_TABLE_MAX];
    int n = primaries(r, nodes, NODE_TABLE_MAX, err), rc = n < 0 ? -1 : 0;
    for (int i = 0; !rc && i < n; i++) rc = each_on(r, nodes[i], fn, ud, err);
    return rc < 0 ? -1 : 0;
}

/* ---- shared counters ---------------------------------------------------------------------- */

static int rs_add_stats(struct store *s, const struct stats_row *d, char **err) {
    struct rstore *r = (struct rstore *)s;
    const long long v[8] = {d->hits,  d->misses,      d->stores,       d->errors,
                            d->stale, d->bytes_saved, d->tokens_saved, d->us_saved};
    char key[KEY_MAX], field[8][160], num[8][24];
    struct redis_cmd cmds[8];
    int n = 0;
    size_t klen = (size_t)snprintf(key, sizeof(key), "%sstats", r->prefix);
    for (int i = 0; i < 8; i++) {
        if (!v[i]) continue;
        size_t flen = (size_t)snprintf(field[n], sizeof(field[n]), "%s\t%s\t%s", d->provider, d->model,
                                       counter_names[i]);
        size_t nlen = (size_t)snprintf(num[n], sizeof(num[n]), "%lld", v[i]);
        cmds[n] = (struct redis_cmd){4, {"HINCRBY", key, field[n], num[n]}, {7, klen, flen, nlen}};
        n++;
    }
    if (!n) return 0;
    redisReply *reps[8];
    if (run(r, cmds, n, reps, err)) return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc && reps[i]->type != REDIS_REPLY_INTEGER) rc = bad_reply(r, reps[i], "HINCRBY", err);
        freeReplyObject(reps[i]);
    }
    return rc;
}

/* "provider\tmodel\tcounter" = value: added to t as a row with that one counter. */
static int fold_field(struct stats_table *t, const redisReply *f, const redisReply *v) {
    const char *t1 = f->type == REDIS_REPLY_STRING ? memchr(f->str, '\t', f->len) : NULL;
    const char *t2 = t1 ? memchr(t1 + 1, '\t', f->len - (size_t)(t1 + 1 - f->str)) : NULL;
    if (!t2 || v->type != REDIS_REPLY_STRING) return 0; /* not ours: skipped */
    char provider[128], model[256], *end;
    snprintf(provider, sizeof(provider), "%.*s", (int)(t1 - f->str), f->str);
    snprintf(model, sizeof(model), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
    const char *name = t2 + 1;
    size_t nlen = f->len - (size_t)(name - f->str);
    long long value = strtoll(v->str, &end, 10);
    struct stats_row row;
    stats_row_init(&row, provider, model);
    long long *slot[8] = {&row.hits, &row.misses, &row.stores, &row.errors, &row.stale,
                          &row.bytes_saved, &row.tokens_saved, &row.us_saved};
    for (int i = 0; i < 8; i++) {
        if (strlen(counter_names[i]) != nlen || memcmp(counter_names[i], name, nlen) || *end) continue;
        *slot[i] = value;
        return stats_table_add(t, &row);
    }
    return 0;
}

static int rs_get_stats(struct store *s, struct stats_table *t, char **err) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX];
    struct redis_cmd c = {2, {"HGETALL", key}, {7, (size_t)snprintf(key, sizeof(key), "%sstats", r->prefix)}};
    redisReply *rep;
    if (run1(r, &c, &rep, err)) return -1;
    int rc = rep->type == REDIS_REPLY_ARRAY ? 0 : bad_reply(r, rep, "HGETALL", err);
    for (size_t i = 0; !rc && i + 1 < rep->elements; i += 2)
        if (fold_field(t, rep->element[i], rep->element[i + 1]) != 0) rc = fail(r, err, "out of memory");
    freeReplyObject(rep);
    return rc;
}

/* ---- fill locks --------------------------------------------------------------------------- */

/* The value of our lock keys: this store's random id and the pid, so that unlock releases only
 * a lock this store took in this process (not one that expired and was retaken elsewhere, nor
 * the parent's after a fork). Not a random token per lock remembered per key: a table shared by
 * threads needs a mutex, which fork() can leave locked, or lock-free code five times as long;
 * and two locks on one key in one process exist only once the first overran its ttl. */
static size_t token_of(const struct rstore *r, char *out, size_t n) {
    return (size_t)snprintf(out, n, "%s:%ld", r->id, (long)getpid());
}

static int rs_lock(struct store *s, const struct store_key *k, long long ttl_ms, char **err) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX], px[24], token[64];
    size_t klen = key_of(r, k, "lock:", key);
    if (!klen) return bad_key(r, err);
    size_t plen = (size_t)snprintf(px, sizeof(px), "%lld", ttl_ms > 0 ? ttl_ms : 1);
    struct redis_cmd c = {6, {"SET", key, token, "NX", "PX", px}, {3, klen, token_of(r, token, sizeof(token)), 2, 2, plen}};
    redisReply *rep;
    if (run1(r, &c, &rep, err)) return -1;
    int rc = rep->type == REDIS_REPLY_STATUS ? 1 : rep->type == REDIS_REPLY_NIL ? 0 : bad_reply(r, rep, "SET NX", err);
    freeReplyObject(rep);
    return rc;
}

/* GET, then DEL only while the key still holds our token. (Two commands: the lock could expire
 * and be retaken between them, which needs its holder to have overrun the whole ttl.) */
static void rs_unlock(struct store *s, const struct store_key *k) {
    struct rstore *r = (struct rstore *)s;
    char key[KEY_MAX], token[64];
    size_t klen = key_of(r, k, "lock:", key), tlen = token_of(r, token, sizeof(token));
    struct redis_cmd get = {2, {"GET", key}, {3, klen}}, del = {2, {"DEL", key}, {3, klen}};
    redisReply *rep;
    if (!klen || run1(r, &get, &rep, NULL) != 0) return; /* the lock frees itself after its ttl */
    int ours = rep->type == REDIS_REPLY_STRING && rep->len == tlen && !memcmp(rep->str, token, tlen);
    freeReplyObject(rep);
    if (ours && run1(r, &del, &rep, NULL) == 0) freeReplyObject(rep);
}

/* ---- open / close ------------------------------------------------------------------------- */

static void rs_close(struct store *s) {
    struct rstore *r = (struct rstore *)s;
    if (!r) return;
    node_free(r->node);
    cluster_free(r->cluster);
    sentinel_free(r->sentinel);
    rtls_conf_free(r->tls);
    if (r->sentinel_password) explicit_bzero(r->sentinel_password, strlen(r->sentinel_password));
    free(r->sentinel_password);
    explicit_bzero(&r->url, sizeof(r->url)); /* the password */
    free(r);
}

static const struct store_ops redis_ops = {
    .name = "redis", .get = rs_get, .put = rs_put, .close = rs_close, .each = rs_each, .del = rs_del,
    .add_stats = rs_add_stats, .get_stats = rs_get_stats, .lock = rs_lock, .unlock = rs_unlock,
};

static int is_address(const char *host) {
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The nodes' options, TLS settings loaded, and the nodes the URL names. */
static int open_nodes(struct rstore *r, const struct store_redis_opts *o, char **err) {
    struct redis_url *u = &r->url;
    r->opts = (struct node_opts){.user = u->user, .password = u->password, .db = u->db,
                                 .connect_ms = r->opts.connect_ms, .command_ms = r->opts.command_ms};
    if (u->tls) {
        char *why = NULL;
        if (rtls_conf_load(&r->tls, o->ca_file, o->cert_file, o->key_file, &why) != 0) {
            fail(r, err, "%s", why ? why : "out of memory");
            free(why);
            return -1;
        }
        r->opts.tls = r->tls;
        /* nodes a cluster or the sentinels name by address must hold the name the URL gave */
        for (int i = 0; i < u->naddr && !r->opts.tls_name; i++)
            if (!is_address(u->addr[i].host)) r->opts.tls_name = u->addr[i].host;
    }
    if (u->topology == REDIS_CLUSTER) {
        r->cluster = cluster_new(u, &r->opts);
        return r->cluster ? 0 : fail(r, err, "out of memory");
    }
    if (u->topology == REDIS_SENTINEL) {
        if (o->sentinel_password && !(r->sentinel_password = strdup(o->sentinel_password)))
            return fail(r, err, "out of memory");
        r->opts.want_primary = 1;
        r->watch_opts = r->opts;
        r->watch_opts.want_primary = 0;
        r->watch_opts.user = NULL;
        r->watch_opts.password = r->sentinel_password;
        r->watch_opts.db = 0;
        r->sentinel = sentinel_new(u, &r->opts, &r->watch_opts);
        return r->sentinel ? 0 : fail(r, err, "out of memory");
    }
    r->node = node_new(u->addr[0].host, u->addr[0].port, u->is_unix ? u->path : NULL, &r->opts);
    return r->node ? 0 : fail(r, err, "out of memory");
}

struct store *store_redis_open(const struct store_redis_opts *o, char **err) {
    struct redis_url u;
    if (redis_url_parse(o->url, &u, err) != 0) return NULL;
    const char *ns = o->ns ? o->ns : "";
    if (strlen(ns) > NS_MAX) {
        if (err) *err = strdup("redis store: namespace longer than 1024 bytes");
        return NULL;
    }
    struct rstore *r = calloc(1, sizeof(*r));
    if (!r) {
        if (err) *err = strdup("redis store: out of memory");
        return NULL;
    }
    r->base.ops = &redis_ops;
    r->url = u;
    explicit_bzero(&u, sizeof(u));
    redis_url_label(&r->url, r->label, sizeof(r->label));
    r->prefix_len = (size_t)snprintf(r->prefix, sizeof(r->prefix), "llmshim:v1:%s:", ns);
    /* SCAN MATCH is a glob: a namespace with * ? [ ] \ must match only itself */
    char *p = r->pattern;
    for (const char *c = r->prefix; *c; c++) {
        if (strchr("*?[]\\", *c)) *p++ = '\\';
        *p++ = *c;
    }
    *p++ = '*';
    *p = '\0';
    r->opts.connect_ms = o->connect_ms > 0 ? o->connect_ms : DEFAULT_CONNECT_MS;
    r->opts.command_ms = o->command_ms > 0 ? o->command_ms : DEFAULT_COMMAND_MS;
    unsigned char b[16];
    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
        /* no entropy yet (early boot): clock, pid and address tell stores apart well enough */
        long long x[2] = {clock_ms(CLOCK_REALTIME) ^ ((long long)getpid() << 40), (long long)(uintptr_t)r};
        memcpy(b, x, sizeof(b));
    }
    for (int i = 0; i < 16; i++) snprintf(r->id + 2 * i, 3, "%02x", b[i]);
    if (open_nodes(r, o, err) != 0) {
        rs_close(&r->base);
        return NULL;
    }
    return &r->base; /* nothing connects before the first call */
}
