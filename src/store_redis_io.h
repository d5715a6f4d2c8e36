/* store_redis_io: the Redis store's wire: commands sent and replies read on a non-blocking
 * hiredis connection, in plain text or through TLS (redis_tls.c), every wait bounded by our own
 * poll() deadline (a socket timeout restarts with each signal the program gets), never a
 * SIGPIPE. hiredis only formats commands and parses replies. */
#ifndef LLMSHIM_STORE_REDIS_IO_H
#define LLMSHIM_STORE_REDIS_IO_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Up to 6 arguments: the longest command is SCAN cursor MATCH pattern COUNT n. */
struct redis_cmd {
    int argc;
    const char *argv[6];
    size_t len[6];
};

struct rtls;

/* One connection: hiredis' context (socket, reader, error) and, over TLS, its engine. */
struct redis_link {
    redisContext *ctx;
    struct rtls *tls; /* NULL: plain text */
};

/* Writes n commands at once and reads their n replies into rep (the caller frees them). Each
 * wait lasts at most command_ms: a server that stops answering fails it, a large value that
 * keeps coming does not. 0, or -1: the connection is broken (errno, ctx->err; a TLS failure is
 * EPROTO with ctx->errstr "TLS: why"). */
int redis_exchange(struct redis_link *l, int command_ms, const struct redis_cmd *cmds, int n, redisReply **rep);

#endif
