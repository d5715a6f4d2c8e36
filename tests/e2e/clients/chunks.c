/* chunks: one POST with libcurl's easy API, printing how the answer reached the write callback.
 *
 *     chunks URL BODY [-H LINE]... [--sigv4 PARAM --user KEY:SECRET] [--connect-to H:P:H:P]
 *            [--cacert FILE]
 *
 * The body goes to stdout as it arrives; stderr gets one line:
 *     rc=N status=S cache=HIT|none writes=N1,N2,...
 * where each Ni is the size of one write callback call: a stream replayed event by event (frame
 * by frame for Bedrock's eventstream) shows one write per event. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char writes[65536];
static size_t wlen;
static char cache[16] = "none";

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    (void)ud;
    fwrite(p, size, n, stdout);
    wlen += (size_t)snprintf(writes + wlen, sizeof(writes) - wlen, "%s%zu", wlen ? "," : "", size * n);
    if (wlen >= sizeof(writes)) wlen = sizeof(writes) - 1;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    (void)ud;
    if (size * n > 16 && !strncasecmp(p, "X-LLMShim-Cache:", 16)) sscanf(p + 16, " %15s", cache);
    return size * n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: chunks URL BODY [-H LINE]... [--sigv4 P --user K:S] [--connect-to C] [--cacert F]\n");
        return 2;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL, *connect = NULL;
    curl_easy_setopt(c, CURLOPT_URL, argv[1]);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, argv[2]);
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-H")) hdrs = curl_slist_append(hdrs, argv[i + 1]);
        else if (!strcmp(argv[i], "--sigv4")) curl_easy_setopt(c, CURLOPT_AWS_SIGV4, argv[i + 1]);
        else if (!strcmp(argv[i], "--user")) curl_easy_setopt(c, CURLOPT_USERPWD, argv[i + 1]);
        else if (!strcmp(argv[i], "--connect-to")) connect = curl_slist_append(connect, argv[i + 1]);
        else if (!strcmp(argv[i], "--cacert")) curl_easy_setopt(c, CURLOPT_CAINFO, argv[i + 1]);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (connect) curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fflush(stdout);
    fprintf(stderr, "rc=%d status=%ld cache=%s writes=%s\n", (int)rc, status, cache, writes);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : 1;
}
