/* curlu: POSTs a chat body to a URL given as a CURLU handle (CURLOPT_CURLU), the way programs
 * that build URLs with curl_url_set do. Prints the answer, then "cache=HIT|none rc=N" on stderr.
 *
 *   curlu URL BODY   */
#include <curl/curl.h>
#include <stdio.h>

#include "reply.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL BODY\n", argv[0]);
        return 2;
    }
    CURLU *u = curl_url();
    CURL *e = curl_easy_init();
    if (!u || !e || curl_url_set(u, CURLUPART_URL, argv[1], 0) != CURLUE_OK) return 2;
    struct buf b = {0};
    curl_easy_setopt(e, CURLOPT_CURLU, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    printf("%s\n", b.data ? b.data : "");
    fprintf(stderr, "cache=%s rc=%d\n", b.hit ? "HIT" : "none", (int)rc);
    free(b.data);
    curl_easy_cleanup(e);
    curl_url_cleanup(u);
    return rc == CURLE_OK ? 0 : 1;
}
