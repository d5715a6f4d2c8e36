/* cpr_pattern: what C++ cpr (and other wrappers that keep one handle per session) does: question
 * A with curl_easy_perform, then the same handle goes into a multi and only then gets question B,
 * and the multi runs it. libcurl sends B: options count when the transfer starts, not when the
 * handle is added.
 *
 *   cpr_pattern URL BODY_A BODY_B [--a-header 'X-Mock-Status: 500']
 *
 * With --a-header, A is sent with that request header and B without it (HTTPHEADER is changed
 * after curl_multi_add_handle too). Prints for each transfer (A, then B):
 *   A rc=0 code=200 cache=- saw=<port METHOD path sha12 len>
 *   A body=<the answer body>
 * saw is the X-Mock-Saw answer header (tools/mockllm.py), cache the X-LLMShim-Cache one. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct reply {
    char *body;
    size_t len;
    char saw[256], cache[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct reply *r = ud;
    char *d = realloc(r->body, r->len + size * n + 1);
    if (!d) return 0;
    memcpy(d + r->len, p, size * n);
    r->body = d;
    r->len += size * n;
    d[r->len] = '\0';
    return size * n;
}

static void value(char *dst, size_t cap, const char *p, size_t n, size_t skip) {
    p += skip;
    n -= skip;
    while (n && *p == ' ') p++, n--;
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n')) n--;
    snprintf(dst, cap, "%.*s", (int)n, p);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct reply *r = ud;
    size_t len = size * n;
    if (len > 11 && !strncasecmp(p, "x-mock-saw:", 11)) value(r->saw, sizeof(r->saw), p, len, 11);
    if (len > 16 && !strncasecmp(p, "x-llmshim-cache:", 16)) value(r->cache, sizeof(r->cache), p, len, 16);
    return len;
}

static void print(const char *name, CURL *e, CURLcode rc, struct reply *r) {
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    printf("%s rc=%d code=%ld cache=%s saw=<%s>\n", name, (int)rc, code, *r->cache ? r->cache : "-",
           *r->saw ? r->saw : "-");
    printf("%s body=%s\n", name, r->body ? r->body : "");
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 6 && !strcmp(argv[4], "--a-header"))) {
        fprintf(stderr, "usage: %s URL BODY_A BODY_B [--a-header HEADER]\n", argv[0]);
        return 2;
    }
    struct curl_slist *hdr = argc == 6 ? curl_slist_append(NULL, argv[5]) : NULL;
    struct reply r;
    memset(&r, 0, sizeof(r));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    CURLM *m = curl_multi_init();
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);

    curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]); /* question A */
    CURLcode rc = curl_easy_perform(e);
    print("A", e, rc, &r);

    curl_multi_add_handle(m, e);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[3]); /* question B, after add_handle */
    if (hdr) curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    int running = 1, rounds = 0;
    rc = (CURLcode)-1;
    while (running && rounds++ < 2000) {
        if (curl_multi_perform(m, &running) != CURLM_OK) break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == e) rc = msg->data.result;
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    print("B", e, rc, &r);

    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    curl_global_cleanup();
    return 0;
}
