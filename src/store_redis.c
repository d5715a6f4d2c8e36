/* redis store: entries under llmshim:v1:<ns>:<hex> in one Redis shared by every process and
 * machine that points at it. The request path (get, put, lock, unlock, add_stats) uses only
 * single-key commands, so the store also works through sharding proxies (twemproxy) and managed
 * Redis; each and get_stats (the llmshim command) may use SCAN and HGETALL.
 *
 * Connections: a small lock-free pool (POOL_SLOTS atomic slots; a caller takes a connection
 * with an exchange and owns it until it puts it back). Not one per thread: a library has no
 * thread-exit hook but pthread_key destructors, which cannot be cancelled when the store closes
 * and give a thread pool of 200 threads 200 connections; the pool needs as many connections as
 * callers at once. No mutex either: a fork() while another thread held one would leave the
 * child's copy locked forever, and the shim must never hang. Each connection remembers the pid
 * that made it; the child of a fork() drops its parent's (redisFree closes only the child's copy
 * of the descriptor and sends nothing) and connects anew.
 *
 * Failures: any connection-level error (refused, timeout, closed, protocol) frees the
 * connection and opens a backoff window (1 s, doubling on each failure after a window ended, up
 * to 30 s, reset by a success) during which every call fails at once without connecting, so a
 * dead or stalled Redis costs the program one timeout per window, not one per request. An error
 * reply (-ERR, -OOM) leaves the connection in sync: that call fails, nothing else changes.
 * The wire itself (sending, reading, deadlines): store_redis_io.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "forksafe.h"
#include "redis_url.h"
#include "store_redis_io.h"
#include "store.h"

#define POOL_SLOTS 16        /* idle connections kept; more callers at once use extra ones */
#define NS_MAX 1024
#define KEY_MAX (NS_MAX + 96)
#define SCAN_COUNT "500"
#define EACH_BATCH 32        /* GETs pipelined at once by each */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define DEFAULT_CONNECT_MS 100
#define DEFAULT_COMMAND_MS 250

struct conn {
    redisContext *ctx;
    pid_t pid;  /* the process that connected: no other may use the socket */
};

struct rstore {
    struct store base;
    struct redis_url url;
    char label[300];                /* for messages: host:port or socket path */
    char id[33];                    /* random: tells this store's fill locks from others' */
    char prefix[NS_MAX + 16];       /* "llmshim:v1:<ns>:" */
    char pattern[2 * NS_MAX + 32];  /* the prefix with glob characters escaped, then '*' */
    size_t prefix_len;
    struct timeval connect_tv;
    int connect_ms, command_ms;
    _Atomic(struct conn *) pool[POOL_SLOTS];
    _Atomic long long retry_at;  /* CLOCK_MONOTONIC ms before which nothing is tried */
    _Atomic int delay_ms;        /* the last backoff; 0 after a success */
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

/* ---- failures and backoff ----------------------------------------------------------------- */

/* The message of a broken connection; e is errno right after the failing call. */
static void ctx_error(const struct rstore *r, const redisContext *ctx, int e, int connecting, char **err) {
    if (!ctx->err && e == ETIMEDOUT) /* our own wait */
        fail(r, err, "no answer within %d ms", r->command_ms);
    else if (!ctx->err)
        fail(r, err, "poll: %s", strerror(e));
    else if (connecting && (e == ETIMEDOUT || strstr(ctx->errstr, "timed out")))
        fail(r, err, "connect timed out after %d ms", r->connect_ms);
    else if (ctx->err == REDIS_ERR_EOF)
        fail(r, err, "connection closed by the server");
    else if (ctx->err == REDIS_ERR_PROTOCOL)
        fail(r, err, "protocol error: %s", ctx->errstr);
    else
        fail(r, err, "%c%s", tolower((unsigned char)ctx->errstr[0]), ctx->errstr[0] ? ctx->errstr + 1 : "");
}

static int backing_off(const struct rstore *r, char **err) {
    long long left = atomic_load(&r->retry_at) - clock_ms(CLOCK_MONOTONIC);
    if (left <= 0) return 0;
    fail(r, err, "unavailable, retrying in %llds", (left + 999) / 1000);
    return 1;
}

static void backoff_fail(struct rstore *r) {
    long long now = clock_ms(CLOCK_MONOTONIC), at = atomic_load(&r->retry_at);
    if (now < at) return; /* a concurrent failure already opened this window: do not double twice */
    int d = atomic_load(&r->delay_ms);
    d = !d ? BACKOFF_FIRST_MS : d >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : d * 2;
    if (atomic_compare_exchange_strong(&r->retry_at, &at, now + d)) atomic_store(&r->delay_ms, d);
}

static void backoff_ok(struct rstore *r) {
    if (atomic_load(&r->delay_ms)) atomic_store(&r->delay_ms, 0);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_free(struct conn *c) {
    if (!c) return;
    redisFree(c->ctx);
    free(c);
}

static struct conn *conn_new(const struct rstore *r, char **err) {
    const struct redis_url *u = &r->url;
    redisContext *ctx = u->is_unix ? redisConnectUnixWithTimeout(u->path, r->connect_tv)
                                   : redisConnectWithTimeout(u->addr[0].host, u->addr[0].port, r->connect_tv);
    int e = errno;
    struct conn *c = ctx ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        redisFree(ctx);
        fail(r, err, "out of memory");
        return NULL;
    }
    c->ctx = ctx;
    c->pid = forksafe_pid();
    if (ctx->err) {
        ctx_error(r, ctx, e, 1, err);
        conn_free(c);
        return NULL;
    }
    /* Non-blocking, every wait ours (exchange): a socket timeout restarts with each signal the
     * program gets (a profiling timer would never let it expire). Close-on-exec: programs that
     * fork and exec must not hand our socket to their children. */
    fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) | O_NONBLOCK);
    fcntl(ctx->fd, F_SETFD, fcntl(ctx->fd, F_GETFD) | FD_CLOEXEC);
    ctx->flags &= ~REDIS_BLOCK;
    /* keep the reader's buffer between replies (up to this much unused): hiredis would free and
     * regrow it for every entry over 16 KiB */
    ctx->reader->maxbuf = 512 * 1024;
    struct redis_cmd hs[2];
    redisReply *rep[2];
    char db[16];
    int n = 0, rc = 0;
    if (u->user[0])
        hs[n++] = (struct redis_cmd){3, {"AUTH", u->user, u->password}, {4, strlen(u->user), strlen(u->password)}};
    else if (u->password[0])
        hs[n++] = (struct redis_cmd){2, {"AUTH", u->password}, {4, strlen(u->password)}};
    if (u->db) hs[n++] = (struct redis_cmd){2, {"SELECT", db}, {6, (size_t)snprintf(db, sizeof(db), "%d", u->db)}};
    if (n && redis_exchange(ctx, r->command_ms, hs, n, rep) != 0) {
        ctx_error(r, ctx, errno, 0, err);
        n = 0, rc = -1;
    }
    for (int i = 0; i < n; i++) { /* AUTH first: a SELECT after a failed AUTH fails too */
        if (!rc && rep[i]->type == REDIS_REPLY_ERROR) rc = fail(r, err, "%s failed: %s", hs[i].argv[0], rep[i]->str);
        freeReplyObject(rep[i]);
    }
    if (!rc) return c;
    conn_free(c);
    return NULL;
}

/* An idle connection of this process, or a new one. Connections made before a fork() are the
 * parent's: dropped here without a word to the server. */
static struct conn *conn_take(struct rstore *r, int *reused, char **err) {
    pid_t pid = forksafe_pid();
    for (int i = 0; i < POOL_SLOTS; i++) {
        struct conn *c = atomic_exchange(&r->pool[i], NULL);
        if (!c) continue;
        if (c->pid == pid) {
            *reused = 1;
            return c;
        }
        conn_free(c);
    }
    *reused = 0;
    return conn_new(r, err);
}

static void conn_give(struct rstore *r, struct conn *c) {
    for (int i = 0; i < POOL_SLOTS; i++) {
        struct conn *none = NULL;
        if (atomic_compare_exchange_strong(&r->pool[i], &none, c)) return;
    }
    conn_free(c); /* more callers at once than slots: this one is not kept */
}

static void pool_drain(struct rstore *r) {
    for (int i = 0; i < POOL_SLOTS; i++) conn_free(atomic_exchange(&r->pool[i], NULL));
}

/* Runs n pipelined commands; 0 with n replies in rep (the caller frees them, error replies
 * included), or -1 with *err. A pooled connection the server has closed meanwhile (restart,
 * idle timeout, proxy) fails at once: that is retried once on a new connection. */
static int run(struct rstore *r, const struct redis_cmd *cmds, int n, redisReply **rep, char **err) {
    if (backing_off(r, err)) return -1;
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = 0;
        struct conn *c = attempt ? conn_new(r, err) : conn_take(r, &reused, err);
        if (!c) break;
        if (redis_exchange(c->ctx, r->command_ms, cmds, n, rep) == 0) {
            conn_give(r, c);
            backoff_ok(r);
            rc = 0;
            break;
        }
        int e = errno, kind = c->ctx->err;
        int stale = reused && (kind == REDIS_ERR_EOF || (kind == REDIS_ERR_IO && (e == EPIPE || e == ECONNRESET)));
        if (!stale) ctx_error(r, c->ctx, e, 0, err);
        conn_free(c);
        if (!stale) break;
        pool_drain(r); /* the others idled as long: most likely closed too */
    }
    if (rc) backoff_fail(r);
    return rc;
}

static int run1(struct rstore *r, const struct redis_cmd *c, redisReply **rep, char **err) {
    return run(r, c, 1, rep, err);
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

static int rs_each(struct store *s, store_each_fn fn, void *ud, char **err) {
    struct rstore *r = (struct rstore *)s;
    char cursor[32] = "0";
    int rc = 0;
    do {
        struct redis_cmd c = {6, {"SCAN", cursor, "MATCH", r->pattern, "COUNT", SCAN_COUNT},
                        {4, strlen(cursor), 5, strlen(r->pattern), 5, strlen(SCAN_COUNT)}};
        redisReply *rep;
        if (run1(r, &c, &rep, err)) return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[0]->len >= sizeof(cursor) || rep->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = bad_reply(r, rep, "SCAN", err);
        } else {
            memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
            rc = each_page(r, rep->element[1], fn, ud, err);
        }
        freeReplyObject(rep);
    } while (!rc && strcmp(cursor, "0") != 0);
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
    pool_drain(r);
    free(r);
}

static const struct store_ops redis_ops = {
    .name = "redis", .get = rs_get, .put = rs_put, .close = rs_close, .each = rs_each, .del = rs_del,
    .add_stats = rs_add_stats, .get_stats = rs_get_stats, .lock = rs_lock, .unlock = rs_unlock,
};

struct store *store_redis_open(const char *url, const char *ns, int connect_timeout_ms,
                               int command_timeout_ms, char **err) {
    struct redis_url u;
    if (redis_url_parse(url, &u, err) != 0) return NULL;
    if (u.tls || u.topology != REDIS_SINGLE) {
        if (err) *err = strdup("redis store: TLS, cluster and sentinel URLs are not supported yet");
        return NULL;
    }
    if (!ns) ns = "";
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
    redis_url_label(&u, r->label, sizeof(r->label));
    r->prefix_len = (size_t)snprintf(r->prefix, sizeof(r->prefix), "llmshim:v1:%s:", ns);
    /* SCAN MATCH is a glob: a namespace with * ? [ ] \ must match only itself */
    char *p = r->pattern;
    for (const char *c = r->prefix; *c; c++) {
        if (strchr("*?[]\\", *c)) *p++ = '\\';
        *p++ = *c;
    }
    *p++ = '*';
    *p = '\0';
    r->connect_ms = connect_timeout_ms > 0 ? connect_timeout_ms : DEFAULT_CONNECT_MS;
    r->command_ms = command_timeout_ms > 0 ? command_timeout_ms : DEFAULT_COMMAND_MS;
    r->connect_tv = (struct timeval){r->connect_ms / 1000, (r->connect_ms % 1000) * 1000};
    unsigned char b[16];
    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
        /* no entropy yet (early boot): clock, pid and address tell stores apart well enough */
        long long x[2] = {clock_ms(CLOCK_REALTIME) ^ ((long long)getpid() << 40), (long long)(uintptr_t)r};
        memcpy(b, x, sizeof(b));
    }
    for (int i = 0; i < 16; i++) snprintf(r->id + 2 * i, 3, "%02x", b[i]);
    for (int i = 0; i < POOL_SLOTS; i++) atomic_init(&r->pool[i], NULL);
    atomic_init(&r->retry_at, 0);
    atomic_init(&r->delay_ms, 0);
    return &r->base; /* nothing connects before the first call */
}
