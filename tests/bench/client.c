/* client: the benchmark's libcurl program. Sends N chat requests on one reused easy handle (so
 * one keep-alive connection when the network is used, as a real application would) and times
 * each curl_easy_perform alone: building the body and setting options happen outside the clock.
 * Prints one line of key=value figures (see bench_print_stats) for tests/bench/run.sh.
 *
 *   client --url URL [-n N] [--warmup W] [--body-bytes B] [--answer-bytes A] [--vary]
 *          [--seq-start S] [--seq-stride K] [--stream --event-delay MS] [--delay MS]
 *          [--start-at UNIX_NS]
 *   client --spawn PROG [--preload LIB[,LIB2]] [-n N]      fork+exec+wait timing, alternating
 *
 * Without --vary every request is the same question (seq S); with it request k asks question
 * S + k*K, and the warm-up asks questions past the measured ones, so it never pre-fills them. */
#include <curl/curl.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

struct xfer {
    size_t bytes;
    double t0, first; /* perform start; the first body byte (0: none yet) */
    int hit;          /* the answer says it came from a cache (the shim's or nginx's) */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    (void)p;
    if (!x->first) x->first = bench_now_us();
    x->bytes += size * n;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    size_t len = size * n;
    if ((len >= 20 && !strncasecmp(p, "X-LLMShim-Cache: HIT", 20)) ||
        (len >= 19 && !strncasecmp(p, "X-Cache-Status: HIT", 19)))
        x->hit = 1;
    return len;
}

static void usage(void) {
    fprintf(stderr, "usage: client --url URL [-n N] [--warmup W] [--body-bytes B] [--answer-bytes A] [--vary]\n"
                    "              [--seq-start S] [--seq-stride K] [--stream] [--event-delay MS] [--delay MS]\n"
                    "              [--start-at UNIX_NS]\n"
                    "       client --spawn PROG [--preload LIB[,LIB2]] [-n N]\n");
    exit(2);
}

/* Until CLOCK_REALTIME reaches ns: lets several processes start their request together. */
static void wait_until(long long ns) {
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long left = ns - ((long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        if (left <= 0) return;
        struct timespec ts = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
        if (left > 2000000) ts = (struct timespec){0, 1000000}; /* re-check, then sleep the rest */
        nanosleep(&ts, NULL);
    }
}

/* One fork+exec+wait of prog, with env; its wall time in µs, or -1. */
static double spawn_once(const char *prog, char **env) {
    char *argv[] = {(char *)prog, NULL};
    pid_t pid;
    double t0 = bench_now_us();
    if (posix_spawn(&pid, prog, NULL, NULL, argv, env) != 0) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return bench_now_us() - t0;
}

/* Runs prog without LD_PRELOAD and with each library of the comma-separated list in turn, one
 * after the other in every iteration, so that drift on a noisy machine hits all of them alike.
 * Prints plain_*, lib1_*, lib2_*... figures. */
static int spawn_bench(const char *prog, const char *preload, long n) {
    enum { MAXLIB = 4 };
    static char ld[MAXLIB][4200];
    char *env[MAXLIB + 1][3];
    int nenv = 1;
    env[0][0] = "PATH=/usr/bin:/bin";
    env[0][1] = NULL;
    for (const char *p = preload; p && *p && nenv <= MAXLIB; nenv++) {
        size_t len = strcspn(p, ",");
        snprintf(ld[nenv - 1], sizeof(ld[0]), "LD_PRELOAD=%.*s", (int)len, p);
        env[nenv][0] = "PATH=/usr/bin:/bin";
        env[nenv][1] = ld[nenv - 1];
        env[nenv][2] = NULL;
        p += len + (p[len] == ',');
    }
    double *t[MAXLIB + 1];
    for (int e = 0; e < nenv; e++)
        if (!(t[e] = calloc((size_t)n, sizeof(double)))) return 1;
    for (long i = -(n / 10) - 1; i < n; i++) { /* the first tenth warms the page cache */
        for (int e = 0; e < nenv; e++) {
            double us = spawn_once(prog, env[e]);
            if (us < 0) {
                fprintf(stderr, "client: cannot run %s\n", prog);
                return 1;
            }
            if (i >= 0) t[e][i] = us;
        }
    }
    printf("n=%ld ", n);
    for (int e = 0; e < nenv; e++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), e ? "lib%d_" : "plain_", e);
        bench_print_stats(prefix, t[e], (size_t)n);
        free(t[e]);
    }
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *url = NULL, *spawn = NULL, *preload = NULL;
    long n = 1000, warmup = 20, body_bytes = 1024, answer_bytes = 0, seq_start = 0, seq_stride = 1;
    long event_delay = 0, delay = 0;
    long long start_at = 0;
    int vary = 0, stream = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--vary")) { vary = 1; continue; }
        if (!strcmp(a, "--stream")) { stream = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--spawn")) spawn = v;
        else if (!strcmp(a, "--preload")) preload = v;
        else if (!strcmp(a, "-n")) n = atol(v);
        else if (!strcmp(a, "--warmup")) warmup = atol(v);
        else if (!strcmp(a, "--body-bytes")) body_bytes = atol(v);
        else if (!strcmp(a, "--answer-bytes")) answer_bytes = atol(v);
        else if (!strcmp(a, "--seq-start")) seq_start = atol(v);
        else if (!strcmp(a, "--seq-stride")) seq_stride = atol(v);
        else if (!strcmp(a, "--event-delay")) event_delay = atol(v);
        else if (!strcmp(a, "--delay")) delay = atol(v);
        else if (!strcmp(a, "--start-at")) start_at = atoll(v);
        else usage();
    }
    if (n < 1 || warmup < 0 || body_bytes < 0) usage();
    if (spawn) return spawn_bench(spawn, preload, n);
    if (!url) usage();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char line[128];
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip for large bodies */
    if (answer_bytes) {
        snprintf(line, sizeof(line), "X-Mock-Body-Bytes: %ld", answer_bytes);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (event_delay) {
        snprintf(line, sizeof(line), "X-Mock-Event-Delay-Ms: %ld", event_delay);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (delay) {
        snprintf(line, sizeof(line), "X-Mock-Delay-Ms: %ld", delay);
        hdrs = curl_slist_append(hdrs, line);
    }
    struct xfer x;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");

    size_t cap = (size_t)body_bytes + 256;
    char *body = malloc(cap);
    double *t = calloc((size_t)n, sizeof(double)), *ttfe = calloc((size_t)n, sizeof(double));
    if (!h || !body || !t || !ttfe) return 1;
    long hits = 0;
    double bytes = 0;
    if (start_at) { warmup = 0; wait_until(start_at); }
    for (long k = -warmup; k < n; k++) {
        /* warm-up k < 0: questions past the measured ones when varying, else the same one */
        long seq = vary ? seq_start + (k < 0 ? n - k : k) * seq_stride : seq_start;
        if (vary || k == -warmup) {
            size_t len = bench_body(body, cap, (size_t)body_bytes, seq, stream);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        }
        memset(&x, 0, sizeof(x));
        x.t0 = bench_now_us();
        CURLcode rc = curl_easy_perform(h);
        double t1 = bench_now_us();
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) {
            fprintf(stderr, "client: request %ld: %s, HTTP %ld\n", k, curl_easy_strerror(rc), status);
            return 1;
        }
        if (k < 0) continue;
        t[k] = t1 - x.t0;
        ttfe[k] = x.first ? x.first - x.t0 : t[k];
        hits += x.hit;
        bytes += (double)x.bytes;
    }
    printf("n=%ld hits=%ld answer_bytes=%.0f ", n, hits, bytes / (double)n);
    bench_print_stats("", t, (size_t)n);
    if (stream) bench_print_stats("ttfe_", ttfe, (size_t)n);
    printf("\n");
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    free(body);
    free(t);
    free(ttfe);
    return 0;
}
