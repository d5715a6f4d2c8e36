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

/* One deadline for a whole exchange: a reply trickled a byte at a time must not stretch it. */
static int left_ms(long long end) {
    long long left = end - clock_ms();
    return left > 0 ? (int)left : 0;
}

/* Nothing llmshim asks for is larger than an entry: a reply that claims more is refused at once
 * rather than let it grow the program's memory (a bulk string) or allocate a huge array. */
size_t redis_io_max_reply = (64u << 20) + (64u << 10);
#define MAX_ELEMENTS (1 << 20)

static redisReplyObjectFunctions bounded_fns;
static void *(*default_create_array)(const redisReadTask *, int);

static void *create_array_bounded(const redisReadTask *task, int elements) {
    if (elements > MAX_ELEMENTS) return NULL; /* the reader reports it as an error */
    return default_create_array(task, elements);
}

static void bound_reader(redisReader *r) {
    if (r->fn == &bounded_fns || !r->fn) return;
    if (!default_create_array) { /* the same defaults for every connection */
        bounded_fns = *r->fn;
        default_create_array = r->fn->createArray;
        bounded_fns.createArray = create_array_bounded;
    }
    r->fn = &bounded_fns;
}

static int too_large(redisContext *ctx) {
    if (ctx->reader->len - ctx->reader->pos <= redis_io_max_reply) return 0;
    ctx->err = REDIS_ERR_PROTOCOL;
    snprintf(ctx->errstr, sizeof(ctx->errstr), "a reply larger than any entry (over %zu bytes)", redis_io_max_reply);
    errno = EPROTO;
    return 1;
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
static int send_all(redisContext *ctx, long long end, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(ctx->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(ctx->fd, POLLOUT, left_ms(end))) return -1;
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

static int tls_read_more(redisContext *ctx, struct rtls *t, long long end) {
    size_t len;
    const unsigned char *p = rtls_read(t, &len, left_ms(end));
    if (!p) return tls_failed(ctx, t);
    int rc = redisReaderFeed(ctx->reader, (const char *)p, len);
    rtls_read_done(t, len);
    if (rc == REDIS_OK) return too_large(ctx) ? -1 : 0;
    ctx->err = REDIS_ERR_PROTOCOL;
    snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", ctx->reader->errstr);
    return -1;
}

/* Feeds the reader what the socket holds. Waits (poll) only before the first read of a reply
 * and when the socket is empty; once part of a large reply is in, reads go to *big (READ_CHUNK,
 * allocated once per exchange by the caller's pointer): a 200 KiB entry then takes a few reads
 * instead of a poll and a 16 KiB read per piece. 0, or -1 (errno; ctx->err for EOF and I/O). */
#define READ_CHUNK (64 * 1024) /* under glibc's mmap threshold: a heap chunk, reused */
static int read_more(redisContext *ctx, long long end, int *waited, char **big) {
    if (!*waited) {
        *waited = 1;
        if (wait_fd(ctx->fd, POLLIN, left_ms(end))) return -1;
    }
    char small[16 * 1024];
    for (;;) {
        char *b = small;
        size_t cap = sizeof(small);
        if (ctx->reader->len - ctx->reader->pos >= sizeof(small) && (*big || (*big = malloc(READ_CHUNK)))) {
            b = *big;
            cap = READ_CHUNK;
        }
        if (clock_ms() >= end) { /* a reply that keeps coming still ends at the deadline */
            ctx->err = REDIS_ERR_IO;
            snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", strerror(ETIMEDOUT));
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t got = read(ctx->fd, b, cap);
        if (got > 0) {
            if (redisReaderFeed(ctx->reader, b, (size_t)got) == REDIS_OK) return too_large(ctx) ? -1 : 0;
            ctx->err = REDIS_ERR_PROTOCOL;
            snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", ctx->reader->errstr);
            return -1;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(ctx->fd, POLLIN, left_ms(end)) == 0) continue;
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
    long long end = clock_ms() + command_ms;
    bound_reader(ctx->reader);
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
    int sent = l->tls ? (rtls_write(l->tls, out.data, out.len, left_ms(end)) ? tls_failed(ctx, l->tls) : 0)
                      : send_all(ctx, end, out.data, out.len);
    buf_free(&out);
    if (sent != 0) return -1;
    char *big = NULL;
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        int waited = 0;
        while (redisGetReplyFromReader(ctx, &p) == REDIS_OK && !p)
            if ((l->tls ? tls_read_more(ctx, l->tls, end) : read_more(ctx, end, &waited, &big)) != 0) break;
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

