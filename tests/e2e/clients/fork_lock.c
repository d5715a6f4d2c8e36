/* fork_lock: forks while its own request is being fetched (from the progress callback, once
 * the transfer has run 150 ms), the way a program that spawns workers mid-request does.
 *
 *   fork_lock hold URL BODY   the child sleeps 6 s then exits: it must not keep the prompt's
 *                             fill lock (inherited descriptors) from other processes
 *   fork_lock ask URL BODY    the child asks the same question at once and prints how long it
 *                             took: it must not wait for the parent's fetch, which it cannot see
 * The parent's request carries X-Mock-Delay-Ms: 1500 and X-Mock-Status: 500 (hold) or a 3000 ms
 * delay (ask). Prints "parent rc=N" and, for ask, "child ms=N rc=N". */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mode, *url, *body;
static int forked;
static pid_t child = -1;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t sink(char *p, size_t s, size_t n, void *u) {
    (void)p;
    (void)u;
    return s * n;
}

static CURLcode ask(const char *extra1, const char *extra2, int progress);

static long long t0;
static int on_progress(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)p; (void)a; (void)b; (void)c; (void)d;
    if (forked || now_ms() - t0 < 150) return 0;
    forked = 1;
    fflush(NULL);
    child = fork();
    if (child != 0) return 0;
    /* the child */
    if (!strcmp(mode, "hold")) {
        sleep(6);
        _exit(0);
    }
    long long c0 = now_ms();
    CURLcode rc = ask(NULL, NULL, 0);
    printf("child ms=%lld rc=%d\n", now_ms() - c0, (int)rc);
    fflush(stdout);
    _exit(0);
}

static CURLcode ask(const char *extra1, const char *extra2, int progress) {
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (extra1) h = curl_slist_append(h, extra1);
    if (extra2) h = curl_slist_append(h, extra2);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    if (progress) {
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    }
    t0 = now_ms();
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s hold|ask URL BODY\n", argv[0]);
        return 2;
    }
    mode = argv[1], url = argv[2], body = argv[3];
    int hold = !strcmp(mode, "hold");
    CURLcode rc = ask(hold ? "X-Mock-Delay-Ms: 1500" : "X-Mock-Delay-Ms: 3000", hold ? "X-Mock-Status: 500" : NULL, 1);
    printf("parent rc=%d\n", (int)rc);
    fflush(stdout);
    if (!hold && child > 0) waitpid(child, NULL, 0);
    return 0;
}
