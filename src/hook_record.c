/* A miss: the real transfer runs with llmshim's callbacks in front of the application's. Each
 * piece is handed on at once (no buffering before the application sees it, so a stream's first
 * token is not delayed) and copied aside; a stream's event boundaries are noted with the time
 * they arrived. Only a complete 2xx answer that the application accepted becomes an entry. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hook.h"
#include "stream.h"
#include "usage.h"

struct recorder {
    struct hk_handle *h;
    struct entry *e;
    struct buf body;
    struct record_opts o;
    struct record_result *res;
    int holding;      /* the current response is an error kept from the app */
    enum stream_kind kind;
    int kind_known;
    size_t scanned;   /* body offset up to which event boundaries were looked for */
    int broken;       /* something makes this answer unstorable */
    int encoded;      /* a Content-Encoding that neither libcurl nor llmshim undoes */
    struct inflater *inflate; /* gzip or deflate that libcurl does not undo: llmshim does */
};

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void free_headers(struct entry *e) {
    for (size_t i = 0; i < e->nheaders; i++) {
        free(e->headers[i].name);
        free(e->headers[i].value);
    }
    free(e->headers);
    e->headers = NULL;
    e->nheaders = 0;
}

static void note_header(struct recorder *r, const char *p, size_t n) {
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n')) n--;
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
        /* a new response (after a redirect or 1xx): only the last one is the answer */
        free_headers(r->e);
        free(r->e->status_line);
        r->e->status_line = strndup(p, n);
        r->encoded = 0;
        inflater_free(r->inflate);
        r->inflate = NULL;
        buf_free(&r->body); /* a redirect's or 1xx's body is not the answer's */
        r->scanned = 0;
        r->kind_known = 0;
        if (!r->e->status_line) r->broken = 1;
        int code = n >= 12 ? atoi(p + 9) : 0; /* "HTTP/1.1 503 ..." and "HTTP/2 503" */
        if (n >= 6 && !memcmp(p, "HTTP/2", 6)) code = atoi(p + 7);
        r->holding = r->o.hold_errors && (code == 429 || code >= 500);
        if (r->holding) r->res->held = 1;
        return;
    }
    if (!n || p[0] == ' ' || p[0] == '\t') return; /* end of block; obsolete line folding */
    const char *colon = memchr(p, ':', n);
    if (!colon) return;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < p + n && (*v == ' ' || *v == '\t')) v++;
    size_t vlen = (size_t)(p + n - v);
    if (nlen == 16 && !strncasecmp(p, "content-encoding", 16)) {
        /* the entry keeps the body decoded and the coding's name, to encode it again on a hit
         * for a program that asked for it */
        enum hk_coding c = coding_of(v, vlen);
        if (c == CODING_GZIP || c == CODING_DEFLATE) {
            if (entry_add_header(r->e, p, nlen, v, vlen) != 0) r->broken = 1;
            if (!r->h->decodes_content && !r->inflate && !(r->inflate = inflater_new())) r->broken = 1;
        } else if (c == CODING_OTHER && !r->h->decodes_content) {
            r->encoded = 1;
        }
        return;
    }
    if (entry_keep_header(p, nlen) && entry_add_header(r->e, p, nlen, v, vlen) != 0) r->broken = 1;
}

static size_t tee_header(char *p, size_t size, size_t nmemb, void *userdata) {
    struct recorder *r = userdata;
    size_t n = size * nmemb;
    if (!r->e->status_line && r->o.answering) r->o.answering(r->o.answering_ud);
    note_header(r, p, n);
    if (r->holding) return n;
    r->res->delivered = 1;
    return hk_write_header(r->h, p, n);
}

/* Event boundaries completed by the bytes just added. */
static void note_events(struct recorder *r) {
    if (!r->kind_known) {
        r->kind = stream_kind_of(entry_header(r->e, "Content-Type"));
        r->kind_known = 1;
    }
    if (r->kind == STREAM_NONE) return;
    long long t = now_us() - r->o.t0_us;
    size_t next;
    while ((next = stream_next_event(r->kind, r->body.data, r->body.len, r->scanned)) != 0) {
        if (entry_add_event(r->e, next, t) != 0) r->broken = 1;
        r->scanned = next;
    }
    /* a text boundary may straddle two pieces: look again from just before the end next time
     * (a binary frame is only ever found from where it starts) */
    if (r->kind != STREAM_EVENTSTREAM && r->body.len > r->scanned + 3) r->scanned = r->body.len - 3;
}

static size_t tee_body(char *p, size_t size, size_t nmemb, void *userdata) {
    struct recorder *r = userdata;
    size_t n = size * nmemb;
    if (r->holding) return n; /* the stale entry will answer instead */
    r->res->delivered = 1;
    size_t w = hk_write_body(r->h, p, n);
    if (w == CURL_WRITEFUNC_PAUSE) return w; /* libcurl delivers the same bytes again later */
    if (w != n) {
        r->broken = 1;
        return w;
    }
    if (!r->broken && r->inflate) { /* the decoded bytes are kept */
        if (inflater_feed(r->inflate, p, n, &r->body) != 0 || r->body.len > r->o.max_bytes) {
            r->broken = 1;
            buf_free(&r->body);
        } else {
            note_events(r);
        }
    } else if (!r->broken) {
        if (r->body.len + n > r->o.max_bytes || buf_append(&r->body, p, n) != 0) {
            r->broken = 1; /* too large to cache, or no memory: let it pass, keep no copy */
            buf_free(&r->body);
        } else {
            note_events(r);
        }
    }
    return w;
}

#define SET(opt, val) h->real->curl_easy_setopt(h->curl, opt, val)

void record_restore_delivery(struct hk_handle *h) {
    SET(CURLOPT_WRITEFUNCTION, h->write_cb);
    SET(CURLOPT_WRITEDATA, h->write_data);
    SET(CURLOPT_HEADERFUNCTION, h->header_cb);
    SET(CURLOPT_HEADERDATA, h->header_data);
    SET(CURLOPT_HEADER, h->include_header);
}

/* The events must cover the body: a last event without its boundary was cut. Blank lines after
 * the last boundary belong to it. */
static int events_whole(struct recorder *r) {
    if (r->kind == STREAM_NONE) return 1;
    if (!r->e->nevents) return 0;
    struct entry_event *last = &r->e->events[r->e->nevents - 1];
    if (r->kind == STREAM_EVENTSTREAM) return last->end == r->body.len; /* frames, nothing after */
    for (size_t i = last->end; i < r->body.len; i++)
        if (r->body.data[i] != '\r' && r->body.data[i] != '\n') return 0;
    last->end = r->body.len;
    return 1;
}

int record_answering(const struct recorder *r) {
    return r->e->status_line != NULL;
}

struct recorder *record_begin(struct hk_handle *h, struct entry *e, const struct record_opts *o,
                              struct record_result *res) {
    memset(res, 0, sizeof(*res)); /* also when the recorder cannot be made: nothing is storable */
    struct recorder *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    *r = (struct recorder){.h = h, .e = e, .o = *o, .res = res};
    buf_init(&r->body);
    if (SET(CURLOPT_WRITEFUNCTION, tee_body) != CURLE_OK || SET(CURLOPT_WRITEDATA, r) != CURLE_OK ||
        SET(CURLOPT_HEADERFUNCTION, tee_header) != CURLE_OK || SET(CURLOPT_HEADERDATA, r) != CURLE_OK ||
        SET(CURLOPT_HEADER, 0L) != CURLE_OK) { /* hk_write_header adds headers to the body itself */
        record_restore_delivery(h);
        free(r);
        return NULL;
    }
    return r;
}

void record_end(struct recorder *r, CURLcode rc) {
    struct hk_handle *h = r->h;
    struct entry *e = r->e;
    struct record_result *res = r->res;
    record_restore_delivery(h);
    long status = 0;
    h->real->curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    res->status = status;
    if (r->encoded && rc == CURLE_OK && status >= 200 && status < 300)
        res->why = "its Content-Encoding is not gzip or deflate, and libcurl did not decode it";
    if (r->inflate && !inflater_done(r->inflate)) r->broken = 1; /* cut inside the coded data */
    if (rc == CURLE_OK && !r->broken && !r->encoded && status >= 200 && status < 300 && e->status_line &&
        !r->body.oom && events_whole(r) &&
        (r->kind == STREAM_NONE || stream_complete((enum shape)r->o.shape, r->kind, r->body.data, r->body.len))) {
        e->status = (int)status;
        e->stream = r->kind;
        if (!r->body.data) buf_puts(&r->body, "");
        usage_scan(r->kind, r->body.data, r->body.len, &e->usage_in, &e->usage_out);
        if (!r->body.oom) {
            e->body = buf_take(&r->body, &e->body_len);
            res->storable = 1;
        }
    }
    buf_free(&r->body);
    inflater_free(r->inflate);
    free(r);
}
