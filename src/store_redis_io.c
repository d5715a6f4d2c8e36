#include "store_redis_io.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "redis_tls.h"

static long long clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready, at most ms: 0, or -1 with errno (ETIMEDOUT when it was not). */
static int wait_fd(int fd, short events, int ms) {
    long long end = clock_ms() + ms;
    for (;;) {
        struct pollfd p = {fd, events, 0};
        long long left = end - clock_ms();
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc > 0) return 0; /* POLLERR and POLLHUP too: the read or write says what */
        if (rc == 0) errno = ETIMEDOUT;
        if (rc == 0 || errno != EINTR) return -1;
    }
}

/* Sends with MSG_NOSIGNAL rather than hiredis' write(2): writing to a connection the server
 * has closed must fail with EPIPE, not raise SIGPIPE, whose default action kills the program.
 * (Blocking the signal around each exchange instead cost four system calls per request.) */
static int send_all(redisContext *ctx, int command_ms, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(ctx->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(ctx->fd, POLLOUT, command_ms)) return -1;
        } else {
            int e = w < 0 ? errno : EPIPE;
            ctx->err = REDIS_ERR_IO;
            snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", strerror(e));
            errno = e;
            return -1;
        }
    }
    return 0;
}

/* The TLS side of send_all and read_more: the engine does its own waiting. */
static int tls_failed(redisContext *ctx, const struct rtls *t) {
    int e = errno;
    ctx->err = e == ECONNRESET ? REDIS_ERR_EOF : e == ETIMEDOUT ? 0 : e == EPROTO ? REDIS_ERR_OTHER : REDIS_ERR_IO;
    if (e == EPROTO) snprintf(ctx->errstr, sizeof(ctx->errstr), "TLS: %s", rtls_error(t));
    else snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", e == ECONNRESET ? "Server closed the connection" : strerror(e));
    errno = e;
    return -1;
}

static int tls_read_more(redisContext *ctx, struct rtls *t, int command_ms) {
    size_t len;
    const unsigned char *p = rtls_read(t, &len, command_ms);
    if (!p) return tls_failed(ctx, t);
    int rc = redisReaderFeed(ctx->reader, (const char *)p, len);
    rtls_read_done(t, len);
    if (rc == REDIS_OK) return 0;
    ctx->err = REDIS_ERR_PROTOCOL;
    snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", ctx->reader->errstr);
    return -1;
}

/* Feeds the reader what the socket holds. Waits (poll) only before the first read of a reply
 * and when the socket is empty; once part of a large reply is in, reads go to *big (READ_CHUNK,
 * allocated once per exchange by the caller's pointer): a 200 KiB entry then takes a few reads
 * instead of a poll and a 16 KiB read per piece. 0, or -1 (errno; ctx->err for EOF and I/O). */
#define READ_CHUNK (64 * 1024) /* under glibc's mmap threshold: a heap chunk, reused */
static int read_more(redisContext *ctx, int command_ms, int *waited, char **big) {
    if (!*waited) {
        *waited = 1;
        if (wait_fd(ctx->fd, POLLIN, command_ms)) return -1;
    }
    char small[16 * 1024];
    for (;;) {
        char *b = small;
        size_t cap = sizeof(small);
        if (ctx->reader->len - ctx->reader->pos >= sizeof(small) && (*big || (*big = malloc(READ_CHUNK)))) {
            b = *big;
            cap = READ_CHUNK;
        }
        ssize_t got = read(ctx->fd, b, cap);
        if (got > 0) {
            if (redisReaderFeed(ctx->reader, b, (size_t)got) == REDIS_OK) return 0;
            ctx->err = REDIS_ERR_PROTOCOL;
            snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", ctx->reader->errstr);
            return -1;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(ctx->fd, POLLIN, command_ms) == 0) continue;
            return -1; /* errno from wait_fd: ETIMEDOUT or the poll error */
        }
        int e = got == 0 ? ECONNRESET : errno;
        ctx->err = got == 0 ? REDIS_ERR_EOF : REDIS_ERR_IO;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", got == 0 ? "Server closed the connection" : strerror(e));
        errno = e;
        return -1;
    }
}

int redis_exchange(struct redis_link *l, int command_ms, const struct redis_cmd *cmds, int n, redisReply **rep) {
    redisContext *ctx = l->ctx;
    struct buf out;
    buf_init(&out);
    for (int i = 0; i < n; i++) {
        char *one = NULL;
        int len = redisFormatCommandArgv(&one, cmds[i].argc, (const char **)cmds[i].argv, cmds[i].len);
        if (len < 0 || buf_append(&out, one, (size_t)len) != 0) {
            free(one);
            buf_free(&out);
            errno = ENOMEM;
            return -1;
        }
        free(one);
    }
    int sent = l->tls ? (rtls_write(l->tls, out.data, out.len, command_ms) ? tls_failed(ctx, l->tls) : 0)
                      : send_all(ctx, command_ms, out.data, out.len);
    buf_free(&out);
    if (sent != 0) return -1;
    char *big = NULL;
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        int waited = 0;
        while (redisGetReplyFromReader(ctx, &p) == REDIS_OK && !p)
            if ((l->tls ? tls_read_more(ctx, l->tls, command_ms) : read_more(ctx, command_ms, &waited, &big)) != 0) break;
        if (!p) {
            int e = errno;
            while (i--) freeReplyObject(rep[i]);
            free(big);
            errno = e;
            return -1;
        }
        rep[i] = p;
    }
    free(big);
    return 0;
}

