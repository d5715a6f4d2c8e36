/* redis_url: where the Redis store connects, parsed from a URL. Pure: no I/O.
 *
 *   redis://[[user]:password@]host[:port][/db][?param=value&...]        one server
 *   rediss://...                                                        the same over TLS
 *   redis+cluster://[[user]:password@]host[:port][,host[:port]...][/0]  a cluster's seed nodes
 *   redis+sentinel://[[user]:password@]host[:port][,...]/MASTER[/db]    sentinels and the name
 *                                                                       of the primary they watch
 *   rediss+cluster://, rediss+sentinel://                               those over TLS
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N&password=P&user=U]
 *
 * Defaults: host 127.0.0.1, port 6379 (26379 for sentinels), db 0. IPv6 hosts in brackets:
 * redis://[::1]:6380. Userinfo follows redis-cli: "user:pass" is an ACL user, ":pass" and a bare
 * "pass" (no colon) are the password of the default user; in sentinel URLs they are the
 * primary's. User, password, path, master name and parameter values are percent-decoded.
 * Parameters (every form): db, password, user (alias username). A cluster has database 0 only. */
#ifndef LLMSHIM_REDIS_URL_H
#define LLMSHIM_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_MAX_HOSTS 16

enum redis_topology { REDIS_SINGLE, REDIS_CLUSTER, REDIS_SENTINEL };

struct redis_addr {
    char host[256];  /* IPv6 without brackets */
    int port;
};

struct redis_url {
    int is_unix;         /* 1: connect to path; 0: to addr */
    int tls;             /* rediss: every connection (nodes and sentinels) over TLS */
    enum redis_topology topology;
    int naddr;           /* 1 for a single server; the seeds of a cluster; the sentinels */
    struct redis_addr addr[REDIS_URL_MAX_HOSTS];
    char path[108];      /* fits sockaddr_un.sun_path */
    char master[256];    /* sentinel: the name of the primary */
    int db;              /* SELECT when non-zero */
    char user[256];      /* ACL user; empty: AUTH with the password alone */
    char password[512];  /* AUTH when user or password is non-empty */
};

/* 0 and out filled, or -1 with *err (caller frees) naming what is wrong. Error messages never
 * repeat user or password. */
int redis_url_parse(const char *url, struct redis_url *out, char **err);

/* For messages (no credentials): "127.0.0.1:6379", "[::1]:6380", the socket path; a cluster's
 * seeds "h1:7000,h2:7001"; "primary 'mymaster' via h1:26379,h2:26379" for sentinels. */
void redis_url_label(const struct redis_url *u, char *out, size_t n);

/* The URL as given, its password (userinfo or ?password=) replaced by "***": for showing a
 * setting. Works on any text, parsed or not. */
void redis_url_redact(const char *url, char *out, size_t n);

/* "host:port" or "[v6]:port" into out. */
void redis_addr_label(const char *host, int port, char *out, size_t n);

#endif
