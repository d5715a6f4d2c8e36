/* Serving a cached answer through the application's callbacks exactly as libcurl delivers a
 * live one: header lines one per call, then the body in pieces of at most CURL_MAX_WRITE_SIZE. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hook.h"

static long http_version_of(const char *status_line) {
    if (!status_line) return CURL_HTTP_VERSION_1_1;
    if (!strncmp(status_line, "HTTP/1.0", 8)) return CURL_HTTP_VERSION_1_0;
    if (!strncmp(status_line, "HTTP/2", 6)) return CURL_HTTP_VERSION_2_0;
    if (!strncmp(status_line, "HTTP/3", 6)) return CURL_HTTP_VERSION_3;
    return CURL_HTTP_VERSION_1_1;
}


static void set_error(struct hk_handle *h, const char *msg) {
    if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "%s", msg);
}

/* The progress callback, as libcurl calls it while an answer arrives: 0, or -1 when it aborted. */
static int progress(struct hk_handle *h, const struct entry *e) {
    if (!handle_progress(h, (curl_off_t)e->body_len, h->r_size, h->r_upload, h->r_upload)) return 0;
    set_error(h, "Callback aborted");
    return -1;
}

/* Body bytes [from, to) in pieces of at most CURL_MAX_WRITE_SIZE: CURLE_OK, or what ended it. */
static CURLcode send_body(struct hk_handle *h, const struct entry *e, size_t from, size_t to) {
    while (from < to) {
        size_t n = to - from;
        if (n > CURL_MAX_WRITE_SIZE) n = CURL_MAX_WRITE_SIZE;
        size_t w = hk_write_body(h, e->body + from, n);
        if (w != n) {
            /* CURL_WRITEFUNC_PAUSE cannot be honoured without a transfer to pause */
            set_error(h, w == CURL_WRITEFUNC_PAUSE ? "llmshim: pausing a cached answer is not supported"
                                                    : "Failure writing output to destination");
            return CURLE_WRITE_ERROR;
        }
        from += n;
        h->r_size += (curl_off_t)n;
        if (progress(h, e) != 0) return CURLE_ABORTED_BY_CALLBACK;
    }
    return CURLE_OK;
}

static long long mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until(long long deadline_us) {
    long long left = deadline_us - mono_us();
    if (left <= 0) return;
    struct timespec ts = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* The whole header block, one line after another; line_end[i] is where line i ends. */
static int build_headers(const struct entry *e, const char *status, struct buf *block, size_t *line_end,
                         size_t max_lines) {
    size_t n = 0;
    if (e->status_line) buf_printf(block, "%s\r\n", e->status_line);
    else buf_printf(block, "HTTP/1.1 %d\r\n", e->status);
    line_end[n++] = block->len;
    for (size_t i = 0; i < e->nheaders && n + 3 < max_lines; i++) {
        buf_printf(block, "%s: %s\r\n", e->headers[i].name, e->headers[i].value);
        line_end[n++] = block->len;
    }
    buf_printf(block, "Content-Length: %zu\r\n", e->body_len);
    line_end[n++] = block->len;
    buf_printf(block, "X-LLMShim-Cache: %s\r\n", status);
    line_end[n++] = block->len;
    buf_puts(block, "\r\n");
    line_end[n++] = block->len;
    return block->oom ? -1 : (int)n;
}

CURLcode replay_entry(struct hk_handle *h, const struct entry *e, long long elapsed_us, double pace,
                      const char *status, curl_off_t sent, const char *url) {
    /* everything that needs memory comes first: until the first header is delivered, running
     * out is CURLE_OUT_OF_MEMORY and the caller may still use the network instead */
    enum { MAX_LINES = 256 };
    size_t line_end[MAX_LINES];
    struct buf block;
    buf_init(&block);
    int nlines = build_headers(e, status, &block, line_end, MAX_LINES);
    const char *ct = entry_header(e, "Content-Type");
    char *ct_copy = ct ? strdup(ct) : NULL;
    char *url_copy = url ? strdup(url) : NULL;
    if (nlines < 0 || (ct && !ct_copy) || (url && !url_copy)) {
        buf_free(&block);
        free(ct_copy);
        free(url_copy);
        return CURLE_OUT_OF_MEMORY;
    }
    if (h->errorbuffer) h->errorbuffer[0] = '\0';
    handle_clear_replay(h);
    h->replayed = 1;
    h->r_status = e->status;
    h->r_http_version = http_version_of(e->status_line);
    h->r_content_type = ct_copy;
    h->r_url = url_copy;
    h->r_scheme = url && !strncasecmp(url, "https:", 6) ? "HTTPS" : "HTTP";
    h->r_size = 0;
    h->r_header_size = 0;
    h->r_time_us = elapsed_us;
    h->r_upload = sent;
    h->r_request_size = (long)sent;

    if (h->failonerror && e->status >= 400) {
        char msg[64];
        snprintf(msg, sizeof(msg), "The requested URL returned error: %d", e->status);
        set_error(h, msg);
        buf_free(&block);
        return CURLE_HTTP_RETURNED_ERROR;
    }
    size_t from = 0;
    for (int i = 0; i < nlines; i++) {
        size_t n = line_end[i] - from;
        h->r_header_size += (long)n;
        if (hk_write_header(h, block.data + from, n) != n) {
            buf_free(&block);
            set_error(h, "Failed writing header");
            return CURLE_WRITE_ERROR;
        }
        from = line_end[i];
    }
    buf_free(&block);
    if (progress(h, e) != 0) return CURLE_ABORTED_BY_CALLBACK;
    /* a stream goes out event by event, at once or (pace > 0) at the recorded pace */
    long long start = mono_us() - elapsed_us;
    from = 0;
    CURLcode rc;
    for (size_t i = 0; i < e->nevents; i++) {
        if (pace > 0) sleep_until(start + (long long)((double)e->events[i].t_us * pace));
        if ((rc = send_body(h, e, from, e->events[i].end)) != CURLE_OK) return rc;
        from = e->events[i].end;
    }
    return send_body(h, e, from, e->body_len);
}

int replay_getinfo(struct hk_handle *h, CURLINFO info, void *arg) {
    double secs = (double)h->r_time_us / 1e6;
    double speed = secs > 0 ? (double)h->r_size / secs : 0;
    switch (info) {
    case CURLINFO_RESPONSE_CODE: *(long *)arg = h->r_status; return 1;
    case CURLINFO_HTTP_VERSION: *(long *)arg = h->r_http_version; return 1;
    case CURLINFO_CONTENT_TYPE: *(char **)arg = h->r_content_type; return 1;
    case CURLINFO_EFFECTIVE_URL: *(char **)arg = h->r_url; return 1;
    case CURLINFO_SCHEME: *(const char **)arg = h->r_scheme; return 1;
    case CURLINFO_PROTOCOL:
        *(long *)arg = h->r_scheme[4] ? CURLPROTO_HTTPS : CURLPROTO_HTTP;
        return 1;
    case CURLINFO_SIZE_DOWNLOAD: *(double *)arg = (double)h->r_size; return 1;
    case CURLINFO_SIZE_DOWNLOAD_T: *(curl_off_t *)arg = h->r_size; return 1;
    case CURLINFO_CONTENT_LENGTH_DOWNLOAD: *(double *)arg = (double)h->r_size; return 1;
    case CURLINFO_CONTENT_LENGTH_DOWNLOAD_T: *(curl_off_t *)arg = h->r_size; return 1;
    case CURLINFO_SIZE_UPLOAD: *(double *)arg = (double)h->r_upload; return 1;
    case CURLINFO_SIZE_UPLOAD_T: *(curl_off_t *)arg = h->r_upload; return 1;
    case CURLINFO_HEADER_SIZE: *(long *)arg = h->r_header_size; return 1;
    case CURLINFO_REQUEST_SIZE: *(long *)arg = h->r_request_size; return 1;
    case CURLINFO_SPEED_DOWNLOAD: *(double *)arg = speed; return 1;
    case CURLINFO_SPEED_DOWNLOAD_T: *(curl_off_t *)arg = (curl_off_t)speed; return 1;
    case CURLINFO_SPEED_UPLOAD: *(double *)arg = 0; return 1;
    case CURLINFO_SPEED_UPLOAD_T: *(curl_off_t *)arg = 0; return 1;
    case CURLINFO_TOTAL_TIME:
    case CURLINFO_STARTTRANSFER_TIME: *(double *)arg = secs; return 1;
    case CURLINFO_TOTAL_TIME_T:
    case CURLINFO_STARTTRANSFER_TIME_T: *(curl_off_t *)arg = h->r_time_us; return 1;
    case CURLINFO_NAMELOOKUP_TIME:
    case CURLINFO_CONNECT_TIME:
    case CURLINFO_APPCONNECT_TIME:
    case CURLINFO_PRETRANSFER_TIME:
    case CURLINFO_REDIRECT_TIME: *(double *)arg = 0; return 1;
    case CURLINFO_NAMELOOKUP_TIME_T:
    case CURLINFO_CONNECT_TIME_T:
    case CURLINFO_APPCONNECT_TIME_T:
    case CURLINFO_PRETRANSFER_TIME_T:
    case CURLINFO_REDIRECT_TIME_T: *(curl_off_t *)arg = 0; return 1;
    case CURLINFO_REDIRECT_COUNT:
    case CURLINFO_NUM_CONNECTS:
    case CURLINFO_OS_ERRNO:
    case CURLINFO_HTTP_CONNECTCODE: *(long *)arg = 0; return 1;
    case CURLINFO_REDIRECT_URL: *(char **)arg = NULL; return 1;
    default: return 0;
    }
}
