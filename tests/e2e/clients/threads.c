/* threads: a libcurl program with several threads, one easy handle each, asking a chat endpoint
 * the same few questions over and over; it knows nothing of llmshim.
 *
 *   threads URL [--threads 8] [--requests 25] [--prompts 5] [--delay-ms 0] [--count-url URL]
 *
 * curl_global_init once, then each thread t makes `requests` transfers on its own easy handle,
 * transfer i asking prompt (t + i) % prompts ("thread prompt <p>"). All threads meet at a barrier
 * after the first round (the first `prompts` transfers, in which each thread asked every prompt
 * once), so from the second round on each answer can come from a cache. --delay-ms is sent as
 * X-Mock-Delay-Ms to keep transfers in flight together. --count-url (the mock's /__count) is
 * read at the barrier and at the end: no request may reach the server after the first round.
 *
 * Checks: every transfer is CURLE_OK with status 200 and answers its own prompt; from the second
 * round on, all answers to one prompt are byte-identical. Prints on stdout, per prompt, the answer
 * given from the second round on; on stderr one summary line:
 *   requests=200 errors=0 wrong_prompt=0 mismatches=0 hits=160 upstream_after_round1=0
 * Exit status: 0 when all checks hold, 1 otherwise. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

static const char *url, *count_url;
static int nthreads = 8, nrequests = 25, nprompts = 5, delay_ms = 0;
static pthread_barrier_t round1;
static struct buf **answers; /* [thread][request] */
static int *results;         /* CURLcode, or -status for a non-200 answer */
static long count_at_barrier = -1;

/* GET the mock's request count (an admin path: never counted, never cached). */
static long upstream_count(void) {
    CURL *h = curl_easy_init();
    struct buf b = {0};
    long n = -1;
    if (!h) return -1;
    curl_easy_setopt(h, CURLOPT_URL, count_url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h) == CURLE_OK && b.data) {
        const char *c = strstr(b.data, "\"count\":");
        if (c) n = strtol(c + 8, NULL, 10);
    }
    free(b.data);
    curl_easy_cleanup(h);
    return n;
}

static void *worker(void *arg) {
    int t = (int)(long)arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    char delay[64], body[256];
    snprintf(delay, sizeof(delay), "X-Mock-Delay-Ms: %d", delay_ms);
    if (delay_ms > 0) hdrs = curl_slist_append(hdrs, delay);
    for (int i = 0; i < nrequests; i++) {
        if (i == nprompts) {
            if (pthread_barrier_wait(&round1) == PTHREAD_BARRIER_SERIAL_THREAD && count_url)
                count_at_barrier = upstream_count();
            pthread_barrier_wait(&round1); /* the count is read before anyone goes on */
        }
        struct buf *b = &answers[t][i];
        snprintf(body, sizeof(body),
                 "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"thread prompt %d\"}]}",
                 (t + i) % nprompts);
        int *res = &results[t * nrequests + i];
        if (!h) { *res = CURLE_FAILED_INIT; continue; }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
        *res = (int)curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (*res == CURLE_OK && status != 200) *res = -(int)status;
    }
    if (nrequests <= nprompts) { /* never reached the barrier inside the loop */
        pthread_barrier_wait(&round1);
        pthread_barrier_wait(&round1);
    }
    curl_slist_free_all(hdrs);
    if (h) curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [--threads N] [--requests N] [--prompts N] [--delay-ms N] [--count-url URL]\n",
                argv[0]);
        return 2;
    }
    url = argv[1];
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) { fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]); return 2; }
        if (!strcmp(argv[i], "--threads")) nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--requests")) nrequests = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompts")) nprompts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--delay-ms")) delay_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count-url")) count_url = argv[++i];
        else { fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]); return 2; }
    }
    if (nthreads < 1 || nprompts < 1 || nrequests < 1) return 2;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    answers = calloc(nthreads, sizeof(*answers));
    results = calloc((size_t)nthreads * nrequests, sizeof(*results));
    for (int t = 0; t < nthreads; t++) answers[t] = calloc(nrequests, sizeof(**answers));
    pthread_barrier_init(&round1, NULL, nthreads);
    pthread_t *tids = calloc(nthreads, sizeof(*tids));
    for (int t = 0; t < nthreads; t++) pthread_create(&tids[t], NULL, worker, (void *)(long)t);
    for (int t = 0; t < nthreads; t++) pthread_join(tids[t], NULL);
    long count_at_end = count_url ? upstream_count() : -1;

    int errors = 0, wrong = 0, mismatches = 0, hits = 0;
    char want[64];
    for (int t = 0; t < nthreads; t++)
        for (int i = 0; i < nrequests; i++) {
            struct buf *b = &answers[t][i];
            int p = (t + i) % nprompts;
            hits += b->hit;
            if (results[t * nrequests + i] != 0) {
                if (errors++ < 5) fprintf(stderr, "thread %d transfer %d: result %d\n", t, i, results[t * nrequests + i]);
                continue;
            }
            snprintf(want, sizeof(want), "to: thread prompt %d\"", p);
            if (!b->data || !strstr(b->data, want)) {
                if (wrong++ < 5) fprintf(stderr, "thread %d transfer %d asked prompt %d, got: %.200s\n", t, i, p,
                                         b->data ? b->data : "(nothing)");
            }
        }
    /* from the second round on: one answer per prompt */
    for (int p = 0; p < nprompts; p++) {
        const struct buf *ref = NULL;
        for (int t = 0; t < nthreads; t++)
            for (int i = nprompts; i < nrequests; i++) {
                if ((t + i) % nprompts != p || results[t * nrequests + i] != 0) continue;
                const struct buf *b = &answers[t][i];
                if (!ref) { ref = b; continue; }
                if (b->len != ref->len || memcmp(b->data, ref->data, b->len) != 0) {
                    if (mismatches++ < 5)
                        fprintf(stderr, "prompt %d: thread %d transfer %d got %.120s\n    expected %.120s\n", p, t, i,
                                b->data ? b->data : "", ref->data ? ref->data : "");
                }
            }
        printf("prompt %d: %s\n", p, ref && ref->data ? ref->data : "(none)");
    }
    long after = count_url && count_at_barrier >= 0 && count_at_end >= 0 ? count_at_end - count_at_barrier : 0;
    if (count_url && (count_at_barrier < 0 || count_at_end < 0)) after = -1;
    fprintf(stderr, "requests=%d errors=%d wrong_prompt=%d mismatches=%d hits=%d upstream_after_round1=%ld\n",
            nthreads * nrequests, errors, wrong, mismatches, hits, after);

    for (int t = 0; t < nthreads; t++) {
        for (int i = 0; i < nrequests; i++) free(answers[t][i].data);
        free(answers[t]);
    }
    free(answers);
    free(results);
    free(tids);
    pthread_barrier_destroy(&round1);
    curl_global_cleanup();
    return errors || wrong || mismatches || after != 0 ? 1 : 0;
}
