/* A request body that comes from the application's read callback (curl -T with -X POST,
 * CURLOPT_POST without POSTFIELDS, Guzzle bodies of 1 MB and more): read whole before the
 * transfer starts, so it can be keyed, then handed to libcurl byte for byte through llmshim's
 * own read callback, which can also rewind (redirects, auth retries). When the whole body cannot
 * be read (the callback aborts, pauses or fails, or the body is too large), what was read is
 * handed on first and the application's callback takes over from there: the transfer is the
 * application's own, uncached. */
#include <stdlib.h>
#include <string.h>

#include "hook.h"

#define CHUNK 16384

#define SET(h, opt, val) (h)->real->curl_easy_setopt((h)->curl, opt, val)

struct upload {
    struct hk_handle *h;
    char *data;
    size_t len, cap;
    size_t fed;        /* how much of data libcurl has read */
    int complete;      /* data is the whole body */
    size_t tail;       /* incomplete: what the application's callback said after data */
    int tail_due;      /* ... and it has not been said to libcurl yet */
};

/* The size libcurl will send, when the application said it (-1: until the callback ends). */
static curl_off_t declared_size(const struct hk_handle *h) {
    return h->method == HK_PUT ? h->infilesize : h->postsize;
}

struct upload *upload_read(struct hk_handle *h, size_t max, const char **why) {
    struct upload *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->h = h;
    curl_off_t want = declared_size(h);
    *why = NULL;
    for (;;) {
        if (want >= 0 && u->len == (size_t)want) break; /* libcurl stops reading there too */
        if (u->cap - u->len < CHUNK) { /* room first, so no byte read is ever lost */
            char *d = realloc(u->data, u->cap + CHUNK + 1);
            if (!d) {
                *why = "out of memory while reading it";
                return u;
            }
            u->data = d;
            u->cap += CHUNK;
        }
        size_t n = CHUNK;
        if (want >= 0 && (size_t)want - u->len < n) n = (size_t)want - u->len;
        size_t got = handle_read(h, u->data + u->len, n);
        if (got == 0) break;
        if (got > n) { /* CURL_READFUNC_ABORT, CURL_READFUNC_PAUSE or nonsense */
            u->tail = got;
            u->tail_due = 1;
            *why = got == CURL_READFUNC_ABORT   ? "its read callback aborted"
                   : got == CURL_READFUNC_PAUSE ? "its read callback paused"
                                                : "its read callback failed";
            return u;
        }
        u->len += got;
        if (max && u->len > max) {
            *why = "the body is larger than LLMSHIM_MAX_ENTRY_BYTES";
            return u;
        }
    }
    if (want >= 0 && u->len != (size_t)want) {
        *why = "its read callback ended before the size it declared";
        return u;
    }
    u->complete = 1;
    if (!u->data && !(u->data = malloc(1))) {
        free(u);
        return NULL;
    }
    u->data[u->len] = '\0';
    return u;
}

const char *upload_data(const struct upload *u, size_t *len) {
    *len = u->len;
    return u->data;
}

int upload_chunked(const struct upload *u) {
    return declared_size(u->h) < 0;
}

int upload_complete(const struct upload *u) {
    return u->complete;
}

static size_t feed(char *buf, size_t size, size_t nitems, void *ud) {
    struct upload *u = ud;
    size_t want = size * nitems;
    if (u->fed < u->len) {
        size_t n = u->len - u->fed < want ? u->len - u->fed : want;
        memcpy(buf, u->data + u->fed, n);
        u->fed += n;
        return n;
    }
    if (u->complete) return 0;
    if (u->tail_due) {
        u->tail_due = 0;
        return u->tail;
    }
    return handle_read(u->h, buf, want); /* the rest is the application's to give */
}

static int rewind_to(void *ud, curl_off_t offset, int origin) {
    struct upload *u = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > u->len) return CURL_SEEKFUNC_CANTSEEK;
    if (!u->complete && u->fed >= u->len && !u->tail_due) return CURL_SEEKFUNC_CANTSEEK; /* handed on */
    u->fed = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

int upload_install(struct upload *u) {
    struct hk_handle *h = u->h;
    if (SET(h, CURLOPT_READFUNCTION, feed) != CURLE_OK || SET(h, CURLOPT_READDATA, u) != CURLE_OK ||
        SET(h, CURLOPT_SEEKFUNCTION, rewind_to) != CURLE_OK || SET(h, CURLOPT_SEEKDATA, u) != CURLE_OK) {
        upload_restore(h);
        return -1;
    }
    return 0;
}

void upload_restore(struct hk_handle *h) {
    SET(h, CURLOPT_READFUNCTION, h->read_cb); /* NULL: libcurl's own fread again */
    SET(h, CURLOPT_READDATA, h->read_data);
    SET(h, CURLOPT_SEEKFUNCTION, h->seek_cb);
    SET(h, CURLOPT_SEEKDATA, h->seek_data);
}

void upload_free(struct upload *u) {
    if (!u) return;
    free(u->data);
    free(u);
}
