/* floor: what any exact cache must pay before it can even look an answer up: canonicalize the
 * request and hash it. Times call_analyze (the same function the shim runs on every request:
 * endpoint match, canonical JSON, model, SHA-256 key, entry name) in-process on the bytes the
 * client sends, with the settings the shim reads (LLMSHIM_* from the environment).
 *
 *   floor --url URL [--body-bytes B] [--seq S] [-n N] [--stream]   one line of key=value figures
 *   floor --ping PORT [-n N] [--get-bytes B]                Redis PING (or GET of a B-byte value)
 *                                                           round trips, via hiredis
 *   floor --tls-conf FILE [-n N]                            reading a CA file as a TLS Redis
 *                                                           store does once per process
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "call.h"
#include "config.h"
#include "redis_tls.h"

static const char *env(const char *name) {
    return getenv(name);
}

/* PING round trips, or with value_bytes > 0 GETs of a value that size (what a Redis hit
 * fetches: the encoded entry). */
static int ping(int port, long n, long value_bytes) {
    struct timeval tv = {2, 0};
    redisContext *r = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!r || r->err) {
        fprintf(stderr, "floor: cannot connect to redis on port %d\n", port);
        return 1;
    }
    double *t = calloc((size_t)n, sizeof(double));
    if (!t) return 1;
    if (value_bytes > 0) {
        char *v = malloc((size_t)value_bytes);
        if (!v) return 1;
        memset(v, 'x', (size_t)value_bytes);
        redisReply *rep = redisCommand(r, "SET llmshim-bench:get %b", v, (size_t)value_bytes);
        free(v);
        if (!rep || rep->type != REDIS_REPLY_STATUS) {
            fprintf(stderr, "floor: SET failed\n");
            return 1;
        }
        freeReplyObject(rep);
    }
    for (long k = -n / 10 - 1; k < n; k++) { /* the first tenth warms the connection */
        double t0 = bench_now_us();
        redisReply *rep = value_bytes > 0 ? redisCommand(r, "GET llmshim-bench:get") : redisCommand(r, "PING");
        double t1 = bench_now_us();
        if (!rep || rep->type != (value_bytes > 0 ? REDIS_REPLY_STRING : REDIS_REPLY_STATUS)) {
            fprintf(stderr, "floor: %s failed\n", value_bytes > 0 ? "GET" : "PING");
            return 1;
        }
        freeReplyObject(rep);
        if (k >= 0) t[k] = t1 - t0;
    }
    printf("n=%ld ", n);
    bench_print_stats("", t, (size_t)n);
    printf("\n");
    free(t);
    redisFree(r);
    return 0;
}

/* What a TLS store pays once per process before its first handshake: the trust anchors. */
static int tls_conf(const char *file, long n) {
    double *t = calloc((size_t)n, sizeof(double));
    if (!t) return 1;
    for (long k = -1; k < n; k++) {
        struct rtls_conf *c = NULL;
        char *err = NULL;
        double t0 = bench_now_us();
        int rc = rtls_conf_load(&c, file, NULL, NULL, &err);
        double t1 = bench_now_us();
        if (rc != 0) {
            fprintf(stderr, "floor: %s\n", err);
            return 1;
        }
        rtls_conf_free(c);
        if (k >= 0) t[k] = t1 - t0;
    }
    printf("n=%ld ", n);
    bench_print_stats("", t, (size_t)n);
    printf("\n");
    free(t);
    return 0;
}

int main(int argc, char **argv) {
    const char *url = NULL, *ca = NULL;
    long n = 1000, body_bytes = 1024, seq = 0, get_bytes = 0;
    int port = 0, stream = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stream")) { stream = 1; continue; }
        if (i + 1 >= argc) goto usage;
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--ping")) port = atoi(v);
        else if (!strcmp(a, "-n")) n = atol(v);
        else if (!strcmp(a, "--body-bytes")) body_bytes = atol(v);
        else if (!strcmp(a, "--seq")) seq = atol(v);
        else if (!strcmp(a, "--get-bytes")) get_bytes = atol(v);
        else if (!strcmp(a, "--tls-conf")) ca = v;
        else goto usage;
    }
    if (n < 1) goto usage;
    if (port) return ping(port, n, get_bytes);
    if (ca) return tls_conf(ca, n);
    if (!url) goto usage;

    struct config cfg;
    config_parse(&cfg, env);
    if (cfg.error) {
        fprintf(stderr, "floor: %s\n", cfg.error);
        return 1;
    }
    size_t cap = (size_t)body_bytes + 256;
    char *body = malloc(cap);
    double *t = calloc((size_t)n, sizeof(double));
    if (!body || !t) return 1;
    size_t len = bench_body(body, cap, (size_t)body_bytes, seq, stream);
    for (long k = -n / 10 - 1; k < n; k++) { /* the first tenth warms caches, as the hit path's are */
        struct call c;
        double t0 = bench_now_us();
        int rc = call_analyze(&c, &cfg, "POST", url, body, len);
        if (rc == 1) call_free(&c);
        double t1 = bench_now_us();
        if (rc != 1) {
            fprintf(stderr, "floor: %s is not an LLM endpoint under these settings\n", url);
            return 1;
        }
        if (k >= 0) t[k] = t1 - t0;
    }
    printf("n=%ld body_bytes=%zu ", n, len);
    bench_print_stats("", t, (size_t)n);
    printf("\n");
    free(body);
    free(t);
    config_free(&cfg);
    return 0;
usage:
    fprintf(stderr, "usage: floor --url URL [--body-bytes B] [--seq S] [-n N] [--stream] | floor --ping PORT [-n N] "
                    "[--get-bytes B] | floor --tls-conf FILE [-n N]\n");
    return 2;
}
