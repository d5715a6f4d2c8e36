/* pause_twice: asks the same question twice in one process, waiting between the two for a file
 * to appear, so a test can change the cache directory under a running program.
 *
 *   pause_twice URL BODY GO_FILE    prints each answer on its own line; exit 0 when both ended OK */
#include <curl/curl.h>
#include <stdio.h>
#include <unistd.h>

#include "reply.h"

static int ask(const char *url, const char *body) {
    CURL *e = curl_easy_init();
    struct buf b = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    printf("%s\n", b.data ? b.data : "");
    fflush(stdout);
    free(b.data);
    curl_easy_cleanup(e);
    return rc == CURLE_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL BODY GO_FILE\n", argv[0]);
        return 2;
    }
    int bad = ask(argv[1], argv[2]);
    for (int i = 0; i < 200 && access(argv[3], F_OK) != 0; i++) usleep(50000);
    bad |= ask(argv[1], argv[2]);
    return bad;
}
