/* bench.h: what the benchmark programs share, so that the client (through the shim), the floor
 * (in-process) and the entry generator all work on exactly the same request bytes and report
 * their timings in one format. Header-only: the client links libcurl alone, not the core. */
#ifndef LLMSHIM_BENCH_H
#define LLMSHIM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A chat request of about `bytes` bytes (never less than ~150): a system prompt of filler text
 * (with escapes and a non-ASCII letter, so canonicalization has decoding to do) and a short user
 * question naming `seq`: a different seq is a different question and so a different key. The
 * question stays short on purpose: the mock answers word by word, and a stream's length follows
 * the question's. Returns the length written; out must hold bytes + 256. */
static inline size_t bench_body(char *out, size_t cap, size_t bytes, long seq, int stream) {
    static const char *const words[] = {"lorem", "ipsum", "dolor", "sit", "amet", "consectetur",
                                        "adipiscing", "elit", "caf\\u00e9", "sed", "do", "eiusmod"};
    char tail[200];
    int tl = snprintf(tail, sizeof(tail),
                      "\"},{\"role\":\"user\",\"content\":\"question %ld: what is the answer?\"}],"
                      "\"temperature\":0.2,\"max_tokens\":256%s}",
                      seq, stream ? ",\"stream\":true" : "");
    size_t n = (size_t)snprintf(out, cap, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"");
    size_t fill_to = bytes > n + (size_t)tl ? bytes - (size_t)tl : n;
    if (fill_to + (size_t)tl + 1 > cap) fill_to = cap - (size_t)tl - 1;
    for (size_t w = 0, col = 0; n < fill_to;) {
        const char *word = (col > 70) ? "\\n" : words[w++ % (sizeof(words) / sizeof(words[0]))];
        size_t wl = strlen(word);
        col = (col > 70) ? 0 : col + wl + 1;
        if (n + wl + 1 > fill_to) { /* pad to the exact size with spaces */
            while (n < fill_to) out[n++] = ' ';
            break;
        }
        memcpy(out + n, word, wl);
        n += wl;
        out[n++] = ' ';
    }
    memcpy(out + n, tail, (size_t)tl + 1);
    return n + (size_t)tl;
}

static inline double bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints "<prefix>p50_us=.. <prefix>p99_us=.. <prefix>mean_us=.. <prefix>min_us=.." for the n
 * samples in t (sorted in place), the format run.sh reads. */
static inline void bench_print_stats(const char *prefix, double *t, size_t n) {
    if (!n) return;
    qsort(t, n, sizeof(*t), bench_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += t[i];
    size_t i99 = (size_t)((double)(n - 1) * 0.99 + 0.5);
    printf("%sp50_us=%.2f %sp99_us=%.2f %smean_us=%.2f %smin_us=%.2f ", prefix, t[(n - 1) / 2], prefix, t[i99],
           prefix, sum / (double)n, prefix, t[0]);
}

#endif
