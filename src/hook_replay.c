/* Serving a cached answer through the application's callbacks exactly as libcurl delivers a
 * live one: header lines one per call, each from a buffer with a NUL byte after it (TclCurl
 * relies on that), then the body in pieces of at most CURL_MAX_WRITE_SIZE, also NUL-terminated.
 * A replay is a small state machine, so that it can stop and go on later: when the write
 * callback pauses (CURL_WRITEFUNC_PAUSE, resumed by curl_easy_pause), and between a stream's
 * events replayed at the recorded pace, which the multi API delivers across calls instead of
 * blocking one curl_multi_perform. CURLOPT_TIMEOUT(_MS) ends it as it ends a slow transfer. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hook.h"

/* A stretch of the body delivered at once: a stream's event, or the whole answer. */
struct seg {
    size_t body_end; /* in what the write callback gets */
    size_t wire_end; /* in what came over the wire (encoded again, or the same) */
    long long t_us;  /* when it arrived, after the request started */
};

struct replay {
    struct hk_handle *h;
    char *block;          /* header lines, each followed by a NUL */
    size_t *line_at;      /* where line i starts; line_at[nlines] is the end */
    size_t nlines;
    int pseudo;           /* an HTTP/2 or 3 answer: ":status" comes first in the header API */
    const char *body;     /* what the write callback gets */
    size_t body_len;
    const char *wire;     /* what the network would have carried */
    char *wire_own;
    struct seg *seg;
    size_t nseg;
    int decoded;          /* libcurl would have decoded: body is not wire */
    size_t line, si, pos; /* the next header line, segment and body byte */
    int paused;           /* CURLPAUSE_RECV: the application paused the answer */
    int in_cb;            /* inside one of the application's callbacks */
    int started;
    CURLcode failed;      /* what ended it inside curl_easy_pause */
    pthread_t thread;
    long long t0_us, start_us, deadline_us;
    double pace;
    const char *status;
    char bounce[CURL_MAX_WRITE_SIZE + 1];
};

static long long mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

/* CURLOPT_VERBOSE: the debug callback, or libcurl's own stderr lines ("* ", "< "). */
static void debug(struct replay *r, curl_infotype type, const char *p, size_t n) {
    struct hk_handle *h = r->h;
    if (!h->verbose) return;
    if (h->debug_cb) {
        r->in_cb++;
        h->debug_cb(h->curl, type, (char *)p, n, h->debug_data);
        r->in_cb--;
        return;
    }
    if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN) return;
    FILE *f = h->stderr_fp ? h->stderr_fp : stderr;
    fputs(type == CURLINFO_TEXT ? "* " : "< ", f);
    fwrite(p, 1, n, f);
}

/* The Accept-Encoding the request carries: the program's own header wins over
 * CURLOPT_ACCEPT_ENCODING, whose "" stands for every coding libcurl decodes. */
static const char *accept_encoding(const struct hk_handle *h) {
    for (const struct curl_slist *l = h->headers; l; l = l->next)
        if (l->data && !strncasecmp(l->data, "Accept-Encoding", 15) && (l->data[15] == ':' || l->data[15] == ';'))
            return l->data[15] == ':' ? l->data + 16 : NULL; /* "Accept-Encoding;" sends it empty */
    if (!h->accept_encoding) return NULL;
    return h->accept_encoding[0] ? h->accept_encoding : "deflate, gzip";
}

/* Header names all lowercase, as HTTP/2 and 3 write them: llmshim's own lines follow suit. */
static int lowercase_names(const struct entry *e) {
    for (size_t i = 0; i < e->nheaders; i++)
        for (const char *c = e->headers[i].name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') return 0;
    return e->nheaders > 0;
}

static void add_line(struct buf *b, size_t *line_at, size_t *n, const char *fmt, const char *a, const char *v) {
    line_at[(*n)++] = b->len;
    buf_printf(b, fmt, a, v);
    buf_putc(b, '\0');
}

/* The header block as the network would show it to this program, and the body it gets. */
static int prepare(struct replay *r, const struct entry *e) {
    enum hk_coding coding = CODING_NONE;
    for (size_t i = 0; i < e->nheaders; i++)
        if (!strcasecmp(e->headers[i].name, "Content-Encoding"))
            coding = coding_of(e->headers[i].value, strlen(e->headers[i].value));
    int encoded = coding_accepted(accept_encoding(r->h), coding);
    r->decoded = encoded && r->h->decodes_content;

    size_t nev = e->nevents, nseg = nev + 1;
    r->seg = calloc(nseg, sizeof(*r->seg));
    size_t *ends = calloc(nseg, sizeof(*ends)), *wire_end = calloc(nseg, sizeof(*wire_end));
    if (!r->seg || !ends || !wire_end) {
        free(ends);
        free(wire_end);
        return -1;
    }
    for (size_t i = 0; i < nev; i++) {
        r->seg[i].t_us = e->events[i].t_us;
        ends[i] = e->events[i].end;
    }
    r->seg[nev].t_us = nev ? e->events[nev - 1].t_us : 0;
    ends[nev] = e->body_len;
    r->nseg = nseg;
    r->body = e->body ? e->body : "";
    r->body_len = e->body_len;
    r->wire = r->body;
    int rc = 0;
    if (encoded) {
        struct buf w;
        buf_init(&w);
        rc = coding_encode(coding, r->body, ends, nseg, &w, wire_end);
        r->wire_own = w.data;
        r->wire = w.data;
    } else {
        memcpy(wire_end, ends, nseg * sizeof(*ends));
    }
    for (size_t i = 0; i < nseg; i++) {
        r->seg[i].body_end = encoded && !r->decoded ? wire_end[i] : ends[i];
        r->seg[i].wire_end = wire_end[i];
    }
    if (encoded && !r->decoded) {
        r->body = r->wire;
        r->body_len = wire_end[nseg - 1];
    }
    size_t wire_len = wire_end[nseg - 1];
    free(ends);
    free(wire_end);
    if (rc != 0) return -1;

    /* the status line, the recorded headers, Content-Length for what is sent, X-LLMShim-Cache */
    struct buf b;
    buf_init(&b);
    r->line_at = calloc(e->nheaders + 5, sizeof(*r->line_at));
    if (!r->line_at) return -1;
    size_t n = 0;
    char status[32];
    snprintf(status, sizeof(status), "HTTP/1.1 %d", e->status);
    add_line(&b, r->line_at, &n, "%s%s\r\n", e->status_line ? e->status_line : status, "");
    for (size_t i = 0; i < e->nheaders; i++) {
        if (!encoded && !strcasecmp(e->headers[i].name, "Content-Encoding")) continue;
        add_line(&b, r->line_at, &n, "%s: %s\r\n", e->headers[i].name, e->headers[i].value);
    }
    int lower = lowercase_names(e);
    char len[32];
    snprintf(len, sizeof(len), "%zu", wire_len);
    add_line(&b, r->line_at, &n, "%s: %s\r\n", lower ? "content-length" : "Content-Length", len);
    add_line(&b, r->line_at, &n, "%s: %s\r\n", lower ? "x-llmshim-cache" : "X-LLMShim-Cache", r->status);
    add_line(&b, r->line_at, &n, "%s%s\r\n", "", "");
    r->line_at[n] = b.len;
    r->nlines = n;
    r->block = b.data;
    r->h->r_length = (curl_off_t)wire_len;
    r->pseudo = http_version_of(e->status_line) >= CURL_HTTP_VERSION_2_0;
    return b.oom || info_headers(r->h, b.data, b.len, r->pseudo ? e->status : 0) != 0 ? -1 : 0;
}

struct replay *replay_new(struct hk_handle *h, const struct entry *e, const struct replay_opts *o) {
    /* everything that needs memory comes first: until the first header is delivered, running
     * out is a NULL here and the caller may still use the network instead */
    struct replay *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->h = h;
    r->status = o->status;
    info_clear(h);
    const char *ct = entry_header(e, "Content-Type");
    h->r_content_type = ct ? strdup(ct) : NULL;
    h->r_url = o->url ? strdup(o->url) : NULL;
    h->r_method = strdup(o->method ? o->method : "POST");
    if (prepare(r, e) != 0 || (ct && !h->r_content_type) || (o->url && !h->r_url) || !h->r_method) {
        info_clear(h);
        replay_free(r);
        return NULL;
    }
    r->t0_us = o->t0_us;
    r->start_us = mono_us();
    r->pace = o->pace;
    r->deadline_us = h->timeout_ms > 0 ? o->t0_us + h->timeout_ms * 1000 : 0;
    r->thread = pthread_self();
    if (h->errorbuffer) h->errorbuffer[0] = '\0';
    h->replayed = 1;
    h->r_status = e->status;
    h->r_http_version = http_version_of(e->status_line);
    h->r_scheme = o->url && !strncasecmp(o->url, "https:", 6) ? "HTTPS" : "HTTP";
    h->r_size = 0;
    h->r_header_size = 0;
    h->r_time_us = h->r_start_us = 0;
    h->r_upload = o->sent;
    h->rp = r;
    return r;
}

void replay_free(struct replay *r) {
    if (!r) return;
    if (r->h->rp == r) r->h->rp = NULL;
    free(r->block);
    free(r->line_at);
    free(r->seg);
    free(r->wire_own);
    free(r);
}

/* The progress callback, as libcurl calls it while an answer arrives: 0, or -1 when it aborted. */
static int progress(struct replay *r) {
    struct hk_handle *h = r->h;
    r->in_cb++;
    int abort = handle_progress(h, h->r_length, h->r_size, h->r_upload, h->r_upload);
    r->in_cb--;
    if (!abort) return 0;
    set_error(h, "Callback aborted");
    return -1;
}

static CURLcode timed_out(struct replay *r, long long now) {
    struct hk_handle *h = r->h;
    char msg[160];
    snprintf(msg, sizeof(msg), "Operation timed out after %lld milliseconds with %lld out of %lld bytes received",
             (now - r->t0_us) / 1000, (long long)h->r_size, (long long)h->r_length);
    set_error(h, msg);
    return CURLE_OPERATION_TIMEDOUT;
}

static CURLcode headers(struct replay *r) {
    struct hk_handle *h = r->h;
    while (r->line < r->nlines) {
        size_t at = r->line_at[r->line], n = r->line_at[r->line + 1] - at - 1; /* without the NUL */
        r->in_cb++;
        size_t w = hk_write_header(h, r->block + at, n);
        r->in_cb--;
        if (w == CURL_WRITEFUNC_PAUSE) {
            r->paused = CURLPAUSE_RECV;
            return CURLE_AGAIN;
        }
        if (w != n) {
            set_error(h, "Failed writing header");
            return CURLE_WRITE_ERROR;
        }
        if (!r->line) h->r_start_us = mono_us() - r->t0_us;
        r->line++;
        h->r_header_size += (long)n;
        /* the header API sees each header once it has been delivered, as with libcurl */
        size_t seen = r->line - 1 + (size_t)r->pseudo;
        h->r_hvisible = seen < h->r_nhdrs ? seen : h->r_nhdrs;
        debug(r, CURLINFO_HEADER_IN, r->block + at, n);
    }
    return progress(r) ? CURLE_ABORTED_BY_CALLBACK : CURLE_OK;
}

/* The body of segment si from r->pos on, in pieces of at most CURL_MAX_WRITE_SIZE. */
static CURLcode segment(struct replay *r) {
    struct hk_handle *h = r->h;
    const struct seg *s = &r->seg[r->si];
    size_t wire_from = r->si ? r->seg[r->si - 1].wire_end : 0;
    while (r->pos < s->body_end) {
        size_t n = s->body_end - r->pos;
        if (n > CURL_MAX_WRITE_SIZE) n = CURL_MAX_WRITE_SIZE;
        memcpy(r->bounce, r->body + r->pos, n); /* libcurl's buffer has a NUL after the data */
        r->bounce[n] = '\0';
        r->in_cb++;
        size_t w = hk_write_body(h, r->bounce, n);
        r->in_cb--;
        if (w == CURL_WRITEFUNC_PAUSE) { /* delivered again, whole, once resumed */
            r->paused = CURLPAUSE_RECV;
            return CURLE_AGAIN;
        }
        if (w != n) {
            set_error(h, "Failure writing output to destination");
            return CURLE_WRITE_ERROR;
        }
        if (!r->decoded) debug(r, CURLINFO_DATA_IN, r->wire + r->pos, n);
        r->pos += n;
        /* size_download counts what came over the wire */
        h->r_size = (curl_off_t)(r->decoded ? (r->pos == s->body_end ? s->wire_end : wire_from) : r->pos);
        if (progress(r) != 0) return CURLE_ABORTED_BY_CALLBACK;
    }
    if (r->decoded) debug(r, CURLINFO_DATA_IN, r->wire + wire_from, s->wire_end - wire_from);
    h->r_size = (curl_off_t)s->wire_end;
    return CURLE_OK;
}

long long replay_due(const struct replay *r) {
    long long due = LLONG_MAX;
    if (!r->paused) {
        due = 0;
        if (r->line >= r->nlines && r->si < r->nseg && r->pace > 0)
            due = r->start_us + (long long)((double)r->seg[r->si].t_us * r->pace);
    }
    if (r->deadline_us && r->deadline_us < due) due = r->deadline_us;
    return due;
}

CURLcode replay_step(struct replay *r) {
    struct hk_handle *h = r->h;
    long long now = mono_us();
    CURLcode rc = CURLE_OK;
    if (!r->started) {
        r->started = 1;
        if (h->verbose) {
            char msg[96];
            int n = snprintf(msg, sizeof(msg), "llmshim: answered from the cache (%s); no connection made\n", r->status);
            debug(r, CURLINFO_TEXT, msg, (size_t)n);
        }
        if (h->failonerror && h->r_status >= 400) {
            char msg[64];
            snprintf(msg, sizeof(msg), "The requested URL returned error: %ld", h->r_status);
            set_error(h, msg);
            return CURLE_HTTP_RETURNED_ERROR;
        }
    }
    if (r->failed) return r->failed;
    if (r->deadline_us && now >= r->deadline_us) return timed_out(r, now);
    if (r->paused) return CURLE_AGAIN;
    if (r->line < r->nlines && (rc = headers(r)) != CURLE_OK) return rc;
    while (r->si < r->nseg) {
        now = mono_us();
        long long due = replay_due(r);
        if (due > now) return r->deadline_us && now >= r->deadline_us ? timed_out(r, now) : CURLE_AGAIN;
        if ((rc = segment(r)) != CURLE_OK) break;
        r->si++;
    }
    h->r_time_us = mono_us() - r->t0_us;
    return rc;
}

CURLcode replay_wait(struct replay *r) {
    long long now = mono_us(), due = replay_due(r);
    /* paused: libcurl's loop keeps calling the progress callback, from which programs resume */
    long long until = r->paused ? now + 100000 : due;
    if (until > due) until = due;
    if (until > now) {
        long long left = until - now;
        struct timespec ts = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    if (r->paused && progress(r) != 0) return CURLE_ABORTED_BY_CALLBACK;
    return CURLE_OK;
}

CURLcode replay_pause(struct replay *r, int bitmask) {
    int was = r->paused;
    r->paused = bitmask & CURLPAUSE_RECV;
    /* libcurl hands the held data over inside curl_easy_pause; so does llmshim, on the
     * transfer's own thread and outside the callback that is delivering it */
    if (was && !r->paused && !r->in_cb && pthread_equal(r->thread, pthread_self()) && r->line >= r->nlines &&
        r->si < r->nseg && replay_due(r) <= mono_us()) {
        CURLcode rc = segment(r);
        if (rc == CURLE_OK) r->si++;
        if (rc == CURLE_AGAIN) return CURLE_OK; /* paused again */
        r->failed = rc;
        return rc;
    }
    return CURLE_OK;
}
