/* reentry: calls the multi API from inside a transfer's write callback, as a careless program
 * might: remove_handle, perform, add_handle of another handle, cleanup. libcurl refuses each with
 * CURLM_RECURSIVE_API_CALL and finishes the transfer; so must a cached answer. Prints the codes
 * the calls returned, the transfer's result and its body length.
 *
 *   reentry URL BODY */
#include <curl/curl.h>
#include <stdio.h>

static CURLM *multi;
static CURL *other;
static int tried;
static size_t total;

static size_t on_body(char *p, size_t s, size_t n, void *ud) {
    (void)p;
    CURL *self = ud;
    if (!tried++) {
        int running;
        printf("remove=%d perform=%d add=%d cleanup=%d\n", (int)curl_multi_remove_handle(multi, self),
               (int)curl_multi_perform(multi, &running), (int)curl_multi_add_handle(multi, other),
               (int)curl_multi_cleanup(multi));
    }
    total += s * n;
    return s * n;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL BODY\n", argv[0]);
        return 2;
    }
    multi = curl_multi_init();
    other = curl_easy_init();
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, e);
    curl_multi_add_handle(multi, e);
    int running = 1;
    for (int i = 0; i < 400 && running; i++) {
        curl_multi_perform(multi, &running);
        if (running) curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)))
        if (m->msg == CURLMSG_DONE) printf("result=%d bytes=%zu\n", (int)m->data.result, total);
    printf("remove=%d cleanup=%d\n", (int)curl_multi_remove_handle(multi, e), (int)curl_multi_cleanup(multi));
    curl_easy_cleanup(e);
    curl_easy_cleanup(other);
    return 0;
}
