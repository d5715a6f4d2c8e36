/* redis_node: connections to one server, pooled, with backoff (see redis_node.h). */
#include "redis_node.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forksafe.h"
#include "redis_url.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

struct node_conn {
    struct redis_link link;
    pid_t pid; /* the process that connected: no other may use the socket */
};

int node_fail(const struct redis_node *n, char **err, const char *fmt, ...) {
    char msg[512], full[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err) {
        snprintf(full, sizeof(full), "redis %s: %s", n->label, msg);
        *err = strdup(full);
    }
    return -1;
}

long long redis_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int redis_fail(char **err, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err) *err = strdup(msg);
    return -1;
}

/* ---- failures and backoff ----------------------------------------------------------------- */

/* The message of a broken connection; e is errno right after the failing call; fresh: in the
 * first exchange of a new connection, where a reset means a server that is not what we think. */
static void ctx_error(const struct redis_node *n, const redisContext *ctx, int e, int connecting, int fresh,
                      char **err) {
    /* a TLS port cuts a plain-text client off as soon as its first bytes are not a handshake */
    const char *hint = !n->o->tls && fresh ? " (a TLS port? use rediss://)" : "";
    if (!ctx->err && e == ETIMEDOUT) /* our own wait */
        node_fail(n, err, "no answer within %d ms", n->o->command_ms);
    else if (!ctx->err)
        node_fail(n, err, "poll: %s", strerror(e));
    else if (connecting && (e == ETIMEDOUT || strstr(ctx->errstr, "timed out")))
        node_fail(n, err, "connect timed out after %d ms", n->o->connect_ms);
    else if (ctx->err == REDIS_ERR_EOF)
        node_fail(n, err, "connection closed by the server%s", hint);
    else if (ctx->err == REDIS_ERR_IO && e == ECONNRESET)
        node_fail(n, err, "connection reset by the server%s", hint);
    else if (ctx->err == REDIS_ERR_PROTOCOL && !n->o->tls && strstr(ctx->errstr, "\\x15"))
        node_fail(n, err, "the server answered in TLS: use rediss://");
    else if (ctx->err == REDIS_ERR_PROTOCOL)
        node_fail(n, err, "protocol error: %s", ctx->errstr);
    else
        node_fail(n, err, "%c%s", tolower((unsigned char)ctx->errstr[0]), ctx->errstr[0] ? ctx->errstr + 1 : "");
}

int node_backing_off(const struct redis_node *n) {
    return atomic_load(&n->retry_at) - redis_clock_ms() > 0;
}

static void backoff_fail(struct redis_node *n) {
    long long now = redis_clock_ms(), at = atomic_load(&n->retry_at);
    if (now < at) return; /* a concurrent failure already opened this window: do not double twice */
    int d = atomic_load(&n->delay_ms);
    d = !d ? BACKOFF_FIRST_MS : d >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : d * 2;
    if (atomic_compare_exchange_strong(&n->retry_at, &at, now + d)) atomic_store(&n->delay_ms, d);
}

static void backoff_ok(struct redis_node *n) {
    if (atomic_load(&n->delay_ms)) atomic_store(&n->delay_ms, 0);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_free(struct node_conn *c) {
    if (!c) return;
    rtls_free(c->link.tls);
    redisFree(c->link.ctx);
    free(c);
}

static int is_address(const char *host) {
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Whether a ROLE reply says primary; an error (NOPERM: the ACL forbids ROLE) cannot tell. */
static int role_ok(const redisReply *r) {
    if (r->type == REDIS_REPLY_ERROR) return 1;
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
           !strcmp(r->element[0]->str, "master");
}

/* AUTH, SELECT and ROLE, pipelined, as the options ask for them. */
static int handshake(struct redis_node *n, struct node_conn *c, char **err) {
    const struct node_opts *o = n->o;
    struct redis_cmd hs[3];
    redisReply *rep[3];
    char db[16];
    int k = 0, rc = 0;
    const char *user = o->user ? o->user : "", *pass = o->password ? o->password : "";
    if (user[0]) hs[k++] = (struct redis_cmd){3, {"AUTH", user, pass}, {4, strlen(user), strlen(pass)}};
    else if (pass[0]) hs[k++] = (struct redis_cmd){2, {"AUTH", pass}, {4, strlen(pass)}};
    if (o->db) hs[k++] = (struct redis_cmd){2, {"SELECT", db}, {6, (size_t)snprintf(db, sizeof(db), "%d", o->db)}};
    if (o->want_primary) hs[k++] = (struct redis_cmd){1, {"ROLE"}, {4}};
    if (k && redis_exchange(&c->link, o->command_ms, hs, k, rep) != 0) {
        ctx_error(n, c->link.ctx, errno, 0, 1, err);
        return -1;
    }
    for (int i = 0; i < k; i++) { /* AUTH first: a SELECT after a failed AUTH fails too */
        if (rc) {
        } else if (!strcmp(hs[i].argv[0], "ROLE")) {
            if (!role_ok(rep[i])) rc = node_fail(n, err, "not a primary (any more: a failover demoted it)");
        } else if (rep[i]->type == REDIS_REPLY_ERROR) {
            rc = node_fail(n, err, "%s failed: %s", hs[i].argv[0], rep[i]->str);
        }
        freeReplyObject(rep[i]);
    }
    return rc;
}

static struct node_conn *conn_new(struct redis_node *n, char **err) {
    const struct node_opts *o = n->o;
    struct timeval tv = {o->connect_ms / 1000, (o->connect_ms % 1000) * 1000};
    redisContext *ctx = n->path[0] ? redisConnectUnixWithTimeout(n->path, tv) : redisConnectWithTimeout(n->host, n->port, tv);
    int e = errno;
    struct node_conn *c = ctx ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        redisFree(ctx);
        node_fail(n, err, "out of memory");
        return NULL;
    }
    c->link.ctx = ctx;
    c->pid = forksafe_pid();
    if (ctx->err) {
        ctx_error(n, ctx, e, 1, 1, err);
        conn_free(c);
        return NULL;
    }
    /* Non-blocking, every wait ours (redis_exchange): a socket timeout restarts with each signal
     * the program gets (a profiling timer would never let it expire). Close-on-exec: programs
     * that fork and exec must not hand our socket to their children. */
    fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) | O_NONBLOCK);
    fcntl(ctx->fd, F_SETFD, fcntl(ctx->fd, F_GETFD) | FD_CLOEXEC);
    ctx->flags &= ~REDIS_BLOCK;
    /* keep the reader's buffer between replies (up to this much unused): hiredis would free and
     * regrow it for every entry over 16 KiB */
    ctx->reader->maxbuf = 512 * 1024;
    if (o->tls) {
        const char *name = o->tls_name && is_address(n->host) ? o->tls_name : n->host;
        char *why = NULL;
        c->link.tls = rtls_connect(o->tls, ctx->fd, name, &n->tls_cache, o->command_ms, &why);
        if (!c->link.tls) {
            node_fail(n, err, "TLS: %s", why ? why : "out of memory");
            free(why);
            conn_free(c);
            return NULL;
        }
    }
    if (handshake(n, c, err) == 0) return c;
    conn_free(c);
    return NULL;
}

/* An idle connection of this process, or a new one. Connections made before a fork() are the
 * parent's: dropped here without a word to the server. */
static struct node_conn *conn_take(struct redis_node *n, int *reused, char **err) {
    pid_t pid = forksafe_pid();
    for (int i = 0; i < NODE_POOL_SLOTS; i++) {
        struct node_conn *c = atomic_exchange(&n->pool[i], NULL);
        if (!c) continue;
        if (c->pid == pid) {
            *reused = 1;
            return c;
        }
        conn_free(c);
    }
    *reused = 0;
    return conn_new(n, err);
}

static void conn_give(struct redis_node *n, struct node_conn *c) {
    for (int i = 0; i < NODE_POOL_SLOTS; i++) {
        struct node_conn *none = NULL;
        if (atomic_compare_exchange_strong(&n->pool[i], &none, c)) return;
    }
    conn_free(c); /* more callers at once than slots: this one is not kept */
}

void node_drain(struct redis_node *n) {
    for (int i = 0; i < NODE_POOL_SLOTS; i++) conn_free(atomic_exchange(&n->pool[i], NULL));
}

int node_run(struct redis_node *n, const struct redis_cmd *cmds, int ncmds, redisReply **rep, char **err) {
    long long left = atomic_load(&n->retry_at) - redis_clock_ms();
    if (left > 0) return node_fail(n, err, "unavailable, retrying in %llds", (left + 999) / 1000);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = 0;
        struct node_conn *c = attempt ? conn_new(n, err) : conn_take(n, &reused, err);
        if (!c) break;
        if (redis_exchange(&c->link, n->o->command_ms, cmds, ncmds, rep) == 0) {
            conn_give(n, c);
            backoff_ok(n);
            rc = 0;
            break;
        }
        int e = errno, kind = c->link.ctx->err;
        int stale = reused && (kind == REDIS_ERR_EOF || (kind == REDIS_ERR_IO && (e == EPIPE || e == ECONNRESET)));
        if (!stale) ctx_error(n, c->link.ctx, e, 0, !reused, err);
        conn_free(c);
        if (!stale) break;
        node_drain(n);
    }
    if (rc) backoff_fail(n);
    return rc;
}

/* ---- nodes -------------------------------------------------------------------------------- */

struct redis_node *node_new(const char *host, int port, const char *path, const struct node_opts *o) {
    struct redis_node *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->o = o;
    n->port = port;
    snprintf(n->host, sizeof(n->host), "%s", host ? host : "");
    snprintf(n->path, sizeof(n->path), "%s", path ? path : "");
    if (path) snprintf(n->label, sizeof(n->label), "%s", path);
    else redis_addr_label(n->host, port, n->label, sizeof(n->label));
    for (int i = 0; i < NODE_POOL_SLOTS; i++) atomic_init(&n->pool[i], NULL);
    atomic_init(&n->retry_at, 0);
    atomic_init(&n->delay_ms, 0);
    atomic_init(&n->tls_cache.slot, NULL);
    return n;
}

void node_free(struct redis_node *n) {
    if (!n) return;
    node_drain(n);
    rtls_cache_clear(&n->tls_cache);
    free(n);
}

int node_table_add(struct node_table *t, const char *host, int port, const struct node_opts *o) {
    struct redis_node *mine = NULL;
    for (int i = 0; i < NODE_TABLE_MAX; i++) {
        struct redis_node *n = atomic_load(&t->node[i]);
        if (!n) {
            if (!mine && !(mine = node_new(host, port, NULL, o))) return -1;
            if (atomic_compare_exchange_strong(&t->node[i], &n, mine)) return i;
        }
        if (n->port == port && !strcmp(n->host, host)) { /* there already, or added meanwhile */
            node_free(mine);
            return i;
        }
    }
    node_free(mine);
    return -1;
}

struct redis_node *node_table_at(struct node_table *t, int i) {
    return i >= 0 && i < NODE_TABLE_MAX ? atomic_load(&t->node[i]) : NULL;
}

void node_table_free(struct node_table *t) {
    for (int i = 0; i < NODE_TABLE_MAX; i++) node_free(atomic_exchange(&t->node[i], NULL));
}
