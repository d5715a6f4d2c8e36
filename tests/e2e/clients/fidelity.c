/* fidelity: what a libcurl program sees of a transfer besides its body, printed so that a run
 * without llmshim and a hit under it can be compared (tests/e2e/test_fidelity.sh).
 *
 *   fidelity MODE URL BODY [--multi] [--timeout-ms N]
 *
 * MODE:
 *   nul       the byte after each header line and each body piece (libcurl puts a NUL there)
 *   progress  the progress callback's calls; "progress-abort" aborts from the first with data
 *   pause     the write callback pauses the first piece; the progress callback (easy) or the
 *             event loop (--multi) resumes with curl_easy_pause after 3 calls
 *   verbose   CURLOPT_VERBOSE with a debug callback: what each kind of call carried
 *   loop      an event loop (multi, curl_multi_wait with curl_multi_timeout): how often it turns,
 *             the longest curl_multi_perform, when the body pieces came
 * Prints "rc N" (the transfer's result) and "body <the body>" last. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *mode;
static CURL *easy;
static char body[1 << 20];
static size_t body_len;
static int pieces, paused, resumed, redelivered, progress_calls, progress_while_paused, bad_nul;
static size_t paused_len;
static char paused_start[64];
static long long t_start, t_first_piece, t_last_piece;
static int debug_text, debug_header_in, debug_data_in;
static char debug_first_text[256];

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_header(char *p, size_t s, size_t n, void *ud) {
    (void)ud;
    if (p[s * n] != '\0') bad_nul++;
    return s * n;
}

static size_t on_write(char *p, size_t s, size_t n, void *ud) {
    (void)ud;
    size_t len = s * n;
    if (p[len] != '\0') bad_nul++;
    if (!strcmp(mode, "pause") && !paused && !resumed) {
        paused = 1; /* libcurl hands the same bytes again once resumed */
        paused_len = len;
        snprintf(paused_start, sizeof(paused_start), "%.*s", (int)(len < 40 ? len : 40), p);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (resumed == 1 && redelivered == 0)
        redelivered = len == paused_len && !strncmp(p, paused_start, strlen(paused_start)) ? 1 : -1;
    if (!pieces++) t_first_piece = now_ms();
    t_last_piece = now_ms();
    if (body_len + len < sizeof(body)) memcpy(body + body_len, p, len);
    body_len += len;
    return len;
}

static void resume(void) {
    resumed++;
    paused = 0;
    CURLcode rc = curl_easy_pause(easy, CURLPAUSE_CONT);
    if (rc) printf("curl_easy_pause %d\n", rc);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ud;
    (void)dltotal;
    (void)ultotal;
    (void)ulnow;
    progress_calls++;
    if (!strcmp(mode, "progress-abort") && dlnow > 0) return 1;
    if (paused && !resumed && ++progress_while_paused >= 3 && !strcmp(mode, "pause")) resume();
    return 0;
}

static int on_debug(CURL *c, curl_infotype type, char *p, size_t n, void *ud) {
    (void)c;
    (void)ud;
    if (type == CURLINFO_TEXT && !debug_text++) snprintf(debug_first_text, sizeof(debug_first_text), "%.*s", (int)n, p);
    if (type == CURLINFO_HEADER_IN) debug_header_in++;
    if (type == CURLINFO_DATA_IN) debug_data_in += (int)n;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    mode = argv[1];
    int multi = 0;
    long timeout_ms = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--multi")) multi = 1;
        if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) timeout_ms = atol(argv[++i]);
    }
    if (!strcmp(mode, "loop")) multi = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    easy = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_URL, argv[2]);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, argv[3]);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    if (timeout_ms) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!strncmp(mode, "progress", 8) || !strcmp(mode, "pause")) {
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    }
    if (!strcmp(mode, "verbose")) {
        curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, on_debug);
    }
    CURLcode rc = CURLE_OK;
    int turns = 0;
    long long longest = 0;
    t_start = now_ms();
    if (!multi) {
        rc = curl_easy_perform(easy);
    } else {
        CURLM *m = curl_multi_init();
        curl_multi_add_handle(m, easy);
        int running = 1, paused_turns = 0;
        while (running) {
            long long t = now_ms();
            curl_multi_perform(m, &running);
            if (now_ms() - t > longest) longest = now_ms() - t;
            turns++;
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(m, &left)))
                if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
            if (!running) break;
            if (paused && !resumed && ++paused_turns >= 3) resume();
            long ms = -1;
            curl_multi_timeout(m, &ms);
            /* a program's loop has other work too: never wait longer than its own tick */
            curl_multi_wait(m, NULL, 0, ms < 0 || ms > 1000 ? 1000 : (int)ms, NULL);
        }
        curl_multi_remove_handle(m, easy);
        curl_multi_cleanup(m);
    }
    long long total = now_ms() - t_start;
    if (!strcmp(mode, "nul")) printf("nul-terminated %s\n", bad_nul ? "NO" : "yes");
    if (!strncmp(mode, "progress", 8)) printf("progress called %s\n", progress_calls ? "yes" : "no");
    if (!strcmp(mode, "pause"))
        printf("paused %d resumed %d redelivered %s\n", paused_len > 0, resumed,
               redelivered == 1 ? "same" : redelivered ? "different" : "none");
    if (!strcmp(mode, "verbose"))
        printf("debug text %s header_in %s data_in %d\nfirst text: %s", debug_text ? "yes" : "no",
               debug_header_in ? "yes" : "no", debug_data_in, debug_first_text);
    if (!strcmp(mode, "loop") || timeout_ms)
        fprintf(stderr, "turns %d longest_perform_ms %lld first_piece_ms %lld last_piece_ms %lld total_ms %lld\n",
                turns, longest, pieces ? t_first_piece - t_start : -1, pieces ? t_last_piece - t_start : -1, total);
    printf("rc %d\nbody %.*s\n", rc, (int)(body_len < sizeof(body) ? body_len : sizeof(body)), body);
    curl_easy_cleanup(easy);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    return 0;
}
