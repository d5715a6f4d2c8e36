/* dup_recording: duplicates a handle from inside its own write callback while the answer is
 * being fetched (and so recorded), then performs the copy with another question. The copy must
 * not carry llmshim's recorder: its answer is its own, and the original's entry holds only the
 * original's answer. Prints both answers, one per line.
 *
 *   dup_recording URL BODY_A BODY_B */
#include <curl/curl.h>
#include <stdio.h>

#include "reply.h"

static CURL *orig, *copy;

static size_t dup_then_collect(char *p, size_t s, size_t n, void *ud) {
    if (!copy) copy = curl_easy_duphandle(orig);
    return on_body(p, s, n, ud);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL BODY_A BODY_B\n", argv[0]);
        return 2;
    }
    struct buf a = {0}, b = {0};
    orig = curl_easy_init();
    curl_easy_setopt(orig, CURLOPT_URL, argv[1]);
    curl_easy_setopt(orig, CURLOPT_COPYPOSTFIELDS, argv[2]);
    curl_easy_setopt(orig, CURLOPT_WRITEFUNCTION, dup_then_collect);
    curl_easy_setopt(orig, CURLOPT_WRITEDATA, &a);
    CURLcode ra = curl_easy_perform(orig);
    CURLcode rb = CURLE_FAILED_INIT;
    if (copy) {
        curl_easy_setopt(copy, CURLOPT_COPYPOSTFIELDS, argv[3]);
        curl_easy_setopt(copy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(copy, CURLOPT_WRITEDATA, &b);
        rb = curl_easy_perform(copy);
        curl_easy_cleanup(copy);
    }
    printf("%s\n%s\n", a.data ? a.data : "", b.data ? b.data : "");
    free(a.data);
    free(b.data);
    curl_easy_cleanup(orig);
    return ra == CURLE_OK && rb == CURLE_OK ? 0 : 1;
}
