/* redis_node: one Redis server as the store sees it: its address, a lock-free pool of
 * connections to it, its failure backoff and its TLS session. A single-server store has one; a
 * cluster one per primary; a sentinel store one per sentinel and per primary it was told of.
 *
 * Connections: POOL_SLOTS atomic slots; a caller takes a connection for one exchange and puts it
 * back. Not one per thread: a library has no thread-exit hook but pthread_key destructors, which
 * cannot be cancelled when the store closes and give a pool of 200 threads 200 connections. No
 * mutex either: a fork() while another thread held one would leave the child's copy locked
 * forever, and the shim must never hang. Each connection remembers the pid that made it; the
 * child of a fork() drops its parent's (closing only its own copy of the descriptor, sending
 * nothing, not even a TLS close_notify) and connects anew.
 *
 * Failures: a connection-level error (refused, timeout, closed, protocol, TLS) frees the
 * connection and opens the node's backoff window (1 s, doubling after each window that ended in
 * another failure, up to 30 s, reset by a success) during which every call to it fails at once,
 * so a dead or stalled server costs one timeout per window, not one per request. An error reply
 * (-ERR, -MOVED, -READONLY) leaves the connection in sync: the caller judges it. */
#ifndef LLMSHIM_REDIS_NODE_H
#define LLMSHIM_REDIS_NODE_H

#include <stdatomic.h>

#include <hiredis/hiredis.h>

#include "redis_tls.h"
#include "store_redis_io.h"

#define NODE_POOL_SLOTS 16 /* idle connections kept; more callers at once use extra ones */
#define NODE_TABLE_MAX 128

/* How to talk to the nodes of one kind (a store's data nodes, or its sentinels): shared. */
struct node_opts {
    const char *user, *password;  /* AUTH when either is non-empty */
    int db;                       /* SELECT when non-zero */
    int connect_ms, command_ms;   /* TCP connect; each wait of an exchange, and the TLS handshake */
    const struct rtls_conf *tls;  /* NULL: plain text */
    /* the name certificates must carry when a node is known by address only (a cluster's or a
     * sentinel's answer) and the URL named its hosts: NULL to check the address itself */
    const char *tls_name;
    /* connect only to a primary (ROLE, pipelined with AUTH and SELECT): a sentinel's answer may
     * be out of date, and a demoted primary still serves reads. An ACL user who may not run ROLE
     * is taken at its word. */
    int want_primary;
};

struct node_conn;

struct redis_node {
    char host[256];
    int port;
    char path[108];  /* a unix socket instead of host and port */
    char label[300]; /* host:port or the path, for messages */
    const struct node_opts *o;
    _Atomic(struct node_conn *) pool[NODE_POOL_SLOTS];
    _Atomic long long retry_at; /* CLOCK_MONOTONIC ms before which nothing is tried */
    _Atomic int delay_ms;       /* the last backoff; 0 after a success */
    struct rtls_cache tls_cache;
};

/* path non-NULL: a unix socket. NULL when out of memory. */
struct redis_node *node_new(const char *host, int port, const char *path, const struct node_opts *o);
void node_free(struct redis_node *n);

/* n pipelined commands on the node: 0 with n replies in rep (the caller frees them, error
 * replies included), or -1 with *err ("redis host:port: why"). A pooled connection the server
 * closed meanwhile (restart, idle timeout, proxy) is retried once on a new one. */
int node_run(struct redis_node *n, const struct redis_cmd *cmds, int ncmds, redisReply **rep, char **err);
int node_backing_off(const struct redis_node *n);
/* Frees the idle connections (the others idled as long: most likely closed too). */
void node_drain(struct redis_node *n);

__attribute__((format(printf, 3, 4))) int node_fail(const struct redis_node *n, char **err, const char *fmt, ...);
/* -1, with *err (when err is not NULL) set to the formatted message: for the Redis parts that
 * are not about one node (cluster map, sentinels, TLS configuration). */
__attribute__((format(printf, 2, 3))) int redis_fail(char **err, const char *fmt, ...);
long long redis_clock_ms(void); /* CLOCK_MONOTONIC in ms */

/* Nodes by address, each added once and kept until the table is freed (threads may hold them):
 * a cluster's primaries, the primaries sentinels named. Lock-free. */
struct node_table {
    _Atomic(struct redis_node *) node[NODE_TABLE_MAX];
};

/* The index of host:port, added if new; -1 when the table is full or out of memory. */
int node_table_add(struct node_table *t, const char *host, int port, const struct node_opts *o);
struct redis_node *node_table_at(struct node_table *t, int i); /* NULL past the last */
void node_table_free(struct node_table *t);

#endif
