/* redis_url: where the Redis store connects, parsed from a URL. Pure: no I/O.
 *
 *   redis://[[user]:password@]host[:port][/db][?param=value&...]
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N&password=P&user=U]
 *
 * Defaults: host 127.0.0.1, port 6379, db 0. IPv6 hosts in brackets: redis://[::1]:6380.
 * Userinfo follows redis-cli: "user:pass" is an ACL user, ":pass" and a bare "pass" (no colon)
 * are the password of the default user. User, password, path and parameter values are
 * percent-decoded. Parameters (both forms): db, password, user (alias username). */
#ifndef LLMSHIM_REDIS_URL_H
#define LLMSHIM_REDIS_URL_H

#include <stddef.h>

struct redis_url {
    int is_unix;         /* 1: connect to path; 0: host and port */
    char host[256];      /* IPv6 without brackets */
    int port;
    char path[108];      /* fits sockaddr_un.sun_path */
    int db;              /* SELECT when non-zero */
    char user[256];      /* ACL user; empty: AUTH with the password alone */
    char password[512];  /* AUTH when user or password is non-empty */
};

/* 0 and out filled, or -1 with *err (caller frees) naming what is wrong. Error messages never
 * repeat user or password. */
int redis_url_parse(const char *url, struct redis_url *out, char **err);

/* "127.0.0.1:6379", "[::1]:6380" or the socket path, for messages (no credentials). */
void redis_url_label(const struct redis_url *u, char *out, size_t n);

#endif
