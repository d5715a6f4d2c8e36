/* ask_loop: a long-running libcurl program asking a chat endpoint a few questions in turn, one
 * easy handle, a pause between transfers: what a service does while its Redis fails over or
 * reshards under it. It knows nothing of llmshim.
 *
 *   ask_loop URL [--prompts 10] [--requests 100] [--pause-ms 20] [--tag T] [--until FILE]
 *
 * --until: stop before the next transfer once FILE exists (--requests is then the most).
 * Transfer i asks prompt i % prompts ("loop prompt <p> <tag>"). One line per transfer on stdout:
 *   <i> <ms since start> <prompt> <CURLcode> <status> <HIT|MISS> <ok|WRONG>
 * WRONG: the answer is not to its own question. Exit status 0 when every transfer succeeded with
 * 200 and answered its own question, 1 otherwise. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: ask_loop URL [--prompts N] [--requests N] [--pause-ms MS] [--tag T] [--until FILE]\n");
        return 2;
    }
    const char *url = argv[1], *tag = "", *until = NULL;
    int prompts = 10, requests = 100, pause_ms = 20;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--prompts")) prompts = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pause-ms")) pause_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tag")) tag = argv[i + 1];
        else if (!strcmp(argv[i], "--until")) until = argv[i + 1];
    }
    if (prompts < 1) prompts = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    int bad = 0;
    long long t0 = now_ms();
    for (int i = 0; i < requests && !(until && access(until, F_OK) == 0); i++) {
        char prompt[128], body[400];
        snprintf(prompt, sizeof(prompt), "loop prompt %d %s", i % prompts, tag);
        snprintf(body, sizeof(body), "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
                 prompt);
        struct buf b = {0};
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &b);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        char want[160];
        snprintf(want, sizeof(want), "to: %s\"", prompt);
        int ok = rc == CURLE_OK && status == 200 && b.data && strstr(b.data, want);
        printf("%d %lld %d %d %ld %s %s\n", i, now_ms() - t0, i % prompts, (int)rc, status, b.hit ? "HIT" : "MISS",
               ok ? "ok" : "WRONG");
        fflush(stdout);
        bad += !ok;
        free(b.data);
        struct timespec ts = {pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L};
        if (pause_ms) nanosleep(&ts, NULL);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return bad ? 1 : 0;
}
