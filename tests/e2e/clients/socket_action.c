/* socket_action: an event-driven libcurl client (curl_multi_socket_action with socket and timer
 * callbacks, the way libuv/libevent programs drive libcurl). Asks each prompt given on the command
 * line in parallel and prints the answers in order, one per line; exit 0 when every transfer
 * ended with CURLE_OK and the loop finished on its own. A prompt starting with '~' is streamed
 * ("stream": true), and the mock then waits X-Mock-Event-Delay-Ms=100 between events.
 *
 *   socket_action URL PROMPT...   */
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FDS 64

static struct pollfd fds[MAX_FDS];
static int nfds;
static long timer_ms = -1; /* what libcurl (or llmshim) asked for: -1 = no timer */

static int on_socket(CURL *e, curl_socket_t s, int what, void *up, void *sp) {
    (void)e; (void)up; (void)sp;
    int i;
    for (i = 0; i < nfds && fds[i].fd != s; i++) {}
    if (what == CURL_POLL_REMOVE) {
        if (i < nfds) fds[i] = fds[--nfds];
        return 0;
    }
    if (i == nfds) {
        if (nfds == MAX_FDS) return -1;
        fds[nfds++].fd = s;
    }
    fds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

static int on_timer(CURLM *m, long ms, void *up) {
    (void)m; (void)up;
    timer_ms = ms;
    return 0;
}

struct answer { char *data; size_t len; };

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct answer *a = ud;
    char *d = realloc(a->data, a->len + size * n + 1);
    if (!d) return 0;
    memcpy(d + a->len, p, size * n);
    a->data = d;
    a->len += size * n;
    d[a->len] = '\0';
    return size * n;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s URL PROMPT...\n", argv[0]); return 2; }
    int n = argc - 2, done = 0, failed = 0, running = 0;
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    CURL **easy = calloc((size_t)n, sizeof(*easy));
    struct answer *ans = calloc((size_t)n, sizeof(*ans));
    char **body = calloc((size_t)n, sizeof(*body));
    struct curl_slist *slow = curl_slist_append(NULL, "X-Mock-Event-Delay-Ms: 100");
    for (int i = 0; i < n; i++) {
        int stream = argv[i + 2][0] == '~';
        body[i] = malloc(strlen(argv[i + 2]) + 128);
        sprintf(body[i], "{\"model\":\"ev\",%s\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
                stream ? "\"stream\":true," : "", argv[i + 2] + stream);
        easy[i] = curl_easy_init();
        if (stream) curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, slow);
        curl_easy_setopt(easy[i], CURLOPT_URL, argv[1]);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body[i]);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &ans[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    /* the event loop: act on whatever the timer and the sockets say, until every transfer is done */
    for (int rounds = 0; done < n && rounds < 100000; rounds++) {
        if (timer_ms < 0 && nfds == 0) { /* a real event loop would now block forever */
            fprintf(stderr, "stuck: no timer and no socket with %d of %d transfers done\n", done, n);
            break;
        }
        int wait = timer_ms < 0 ? 1000 : (int)timer_ms;
        int ready = nfds || wait ? poll(fds, (nfds_t)nfds, wait) : 0;
        if (ready <= 0) {
            timer_ms = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        } else {
            for (int i = 0; i < nfds; i++) {
                if (!fds[i].revents) continue;
                int ev = ((fds[i].revents & POLLIN) ? CURL_CSELECT_IN : 0) |
                         ((fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                         ((fds[i].revents & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(m, fds[i].fd, ev, &running);
            }
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                done++;
                if (msg->data.result != CURLE_OK) failed++;
            }
    }
    for (int i = 0; i < n; i++) {
        printf("%s\n", ans[i].data ? ans[i].data : "(none)");
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        free(ans[i].data);
        free(body[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(slow);
    free(easy); free(ans); free(body);
    fprintf(stderr, "done=%d failed=%d\n", done, failed);
    return done == n && !failed ? 0 : 1;
}
