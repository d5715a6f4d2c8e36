/* A miss: the real transfer runs with llmshim's callbacks in front of the application's. Each
 * piece is handed on at once (no buffering before the application sees it) and copied aside;
 * only a complete 2xx answer that the application accepted becomes an entry. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hook.h"

struct recorder {
    struct hk_handle *h;
    struct entry *e;
    struct buf body;
    size_t max_bytes;
    int broken;       /* something makes this answer unstorable */
    int encoded;      /* Content-Encoding that libcurl did not undo */
};

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
        if (!r->e->status_line) r->broken = 1;
        return;
    }
    if (!n || p[0] == ' ' || p[0] == '\t') return; /* end of block; obsolete line folding */
    const char *colon = memchr(p, ':', n);
    if (!colon) return;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < p + n && (*v == ' ' || *v == '\t')) v++;
    size_t vlen = (size_t)(p + n - v);
    if (nlen == 16 && !strncasecmp(p, "content-encoding", 16) && !r->h->decodes_content) r->encoded = 1;
    if (entry_keep_header(p, nlen) && entry_add_header(r->e, p, nlen, v, vlen) != 0) r->broken = 1;
}

static size_t tee_header(char *p, size_t size, size_t nmemb, void *userdata) {
    struct recorder *r = userdata;
    size_t n = size * nmemb;
    note_header(r, p, n);
    return hk_write_header(r->h, p, n);
}

static size_t tee_body(char *p, size_t size, size_t nmemb, void *userdata) {
    struct recorder *r = userdata;
    size_t n = size * nmemb;
    size_t w = hk_write_body(r->h, p, n);
    if (w == CURL_WRITEFUNC_PAUSE) return w; /* libcurl delivers the same bytes again later */
    if (w != n) {
        r->broken = 1;
        return w;
    }
    if (!r->broken) {
        if (r->body.len + n > r->max_bytes) {
            r->broken = 1; /* too large to cache: let it pass, keep no copy */
            buf_free(&r->body);
        } else if (buf_append(&r->body, p, n) != 0) {
            r->broken = 1;
            buf_free(&r->body);
        }
    }
    return w;
}

#define SET(opt, val) h->real->curl_easy_setopt(h->curl, opt, val)

CURLcode record_perform(struct hk_handle *h, struct entry *e, int *storable, size_t max_bytes) {
    struct recorder r = {.h = h, .e = e, .max_bytes = max_bytes};
    buf_init(&r.body);
    *storable = 0;
    int wrapped = SET(CURLOPT_WRITEFUNCTION, tee_body) == CURLE_OK &&
                  SET(CURLOPT_WRITEDATA, &r) == CURLE_OK &&
                  SET(CURLOPT_HEADERFUNCTION, tee_header) == CURLE_OK &&
                  SET(CURLOPT_HEADERDATA, &r) == CURLE_OK &&
                  SET(CURLOPT_HEADER, 0L) == CURLE_OK; /* hk_write_header adds them to the body */
    CURLcode rc;
    hook_depth++;
    if (wrapped) {
        rc = h->real->curl_easy_perform(h->curl);
    } else {
        r.broken = 1;
        rc = CURLE_OK;
    }
    hook_depth--;
    /* give the handle back exactly as the application configured it */
    SET(CURLOPT_WRITEFUNCTION, h->write_cb);
    SET(CURLOPT_WRITEDATA, h->write_data);
    SET(CURLOPT_HEADERFUNCTION, h->header_cb);
    SET(CURLOPT_HEADERDATA, h->header_data);
    SET(CURLOPT_HEADER, h->include_header);
    if (!wrapped) {
        hook_depth++;
        rc = h->real->curl_easy_perform(h->curl);
        hook_depth--;
        buf_free(&r.body);
        return rc;
    }
    long status = 0;
    h->real->curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && !r.broken && !r.encoded && status >= 200 && status < 300 && e->status_line) {
        e->status = (int)status;
        if (!r.body.data) buf_puts(&r.body, "");
        if (!r.body.oom) {
            e->body = buf_take(&r.body, &e->body_len);
            *storable = 1;
        }
    }
    buf_free(&r.body);
    return rc;
}
