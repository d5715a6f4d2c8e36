/* Asking the progress callback before deciding a transfer.
 *
 * libcurl calls a transfer's progress callback for the first time once the connection is set
 * up and before the request is sent. What the callback sets then splits in two: the options
 * libcurl reads later (the body's bytes, headers, the method word, redirect rules, callbacks)
 * reach this very request; those it read as the transfer started (URL, port, method, body
 * length, credentials, resolve lists) only the next transfer. llmshim must judge a transfer
 * from what will be sent, so it calls the callback first, forwards the first kind at once and
 * holds the second until the transfer ends, as libcurl would have. (The callback is then called
 * once more by libcurl for a miss: progress callbacks are called many times anyway.) */
#include <stdlib.h>
#include <string.h>

#include "hook.h"

struct held_opt {
    CURLoption opt;
    struct hk_arg a;
    char *copy; /* a string libcurl would have copied */
};

struct hold {
    struct held_opt *v;
    size_t n;
    int method_touched; /* a body option was forwarded: libcurl set its method to POST */
};

/* Read after the first progress call (lib/http.c builds the request then): forwarded. */
static int read_late(CURLoption opt) {
    switch (opt) {
    case CURLOPT_POSTFIELDS: case CURLOPT_COPYPOSTFIELDS: case CURLOPT_HTTPHEADER: case CURLOPT_CUSTOMREQUEST:
    case CURLOPT_USERAGENT: case CURLOPT_REFERER: case CURLOPT_COOKIE: case CURLOPT_ACCEPT_ENCODING:
    case CURLOPT_TRANSFER_ENCODING: case CURLOPT_FOLLOWLOCATION: case CURLOPT_POSTREDIR: case CURLOPT_MAXREDIRS:
    case CURLOPT_MAXFILESIZE: case CURLOPT_MAXFILESIZE_LARGE: case CURLOPT_WRITEFUNCTION: case CURLOPT_WRITEDATA:
    case CURLOPT_HEADERFUNCTION: case CURLOPT_HEADERDATA: case CURLOPT_READFUNCTION: case CURLOPT_READDATA:
    case CURLOPT_SEEKFUNCTION: case CURLOPT_SEEKDATA: case CURLOPT_XFERINFOFUNCTION: case CURLOPT_XFERINFODATA:
    case CURLOPT_PROGRESSFUNCTION: case CURLOPT_NOPROGRESS: case CURLOPT_DEBUGFUNCTION: case CURLOPT_DEBUGDATA:
    case CURLOPT_VERBOSE: case CURLOPT_HEADER: case CURLOPT_FAILONERROR: case CURLOPT_ERRORBUFFER:
    case CURLOPT_HTTP_CONTENT_DECODING: case CURLOPT_HTTP_TRANSFER_DECODING: case CURLOPT_TIMECONDITION:
    case CURLOPT_TIMEVALUE: case CURLOPT_TIMEVALUE_LARGE: case CURLOPT_EXPECT_100_TIMEOUT_MS: case CURLOPT_PRIVATE:
    case CURLOPT_MAX_RECV_SPEED_LARGE: case CURLOPT_MAX_SEND_SPEED_LARGE: case CURLOPT_LOW_SPEED_LIMIT:
    case CURLOPT_LOW_SPEED_TIME: case CURLOPT_TRAILERFUNCTION: case CURLOPT_TRAILERDATA:
    case CURLOPT_KEEP_SENDING_ON_ERROR: case CURLOPT_IGNORE_CONTENT_LENGTH: case CURLOPT_STDERR:
        return 1;
    default:
        return 0;
    }
}

/* A pointer option that may be held: an object libcurl keeps as given, or a string copied here
 * as libcurl would copy it. Other pointer options are forwarded (no copy could be made). */
static int holdable_pointer(CURLoption opt, int *string) {
    *string = 0;
    switch (opt) {
    case CURLOPT_CURLU: case CURLOPT_RESOLVE: case CURLOPT_CONNECT_TO:
        return 1;
    case CURLOPT_URL: case CURLOPT_USERPWD: case CURLOPT_USERNAME: case CURLOPT_PASSWORD:
    case CURLOPT_XOAUTH2_BEARER: case CURLOPT_RANGE: case CURLOPT_UNIX_SOCKET_PATH:
    case CURLOPT_ABSTRACT_UNIX_SOCKET: case CURLOPT_DEFAULT_PROTOCOL: case CURLOPT_REQUEST_TARGET:
        *string = 1;
        return 1;
    default:
        return 0;
    }
}

static int push(struct hold *hd, CURLoption opt, struct hk_arg a, char *copy) {
    struct held_opt *v = realloc(hd->v, (hd->n + 1) * sizeof(*v));
    if (!v) return -1;
    hd->v = v;
    v[hd->n++] = (struct held_opt){.opt = opt, .a = a, .copy = copy};
    return 0;
}

int hold_option(struct hold *hd, CURLoption opt, struct hk_arg a) {
    if (read_late(opt)) {
        /* the body's bytes reach this request, its method was fixed when the transfer
         * started: the method part waits, as a POST set after the transfer */
        if (opt == CURLOPT_POSTFIELDS || opt == CURLOPT_COPYPOSTFIELDS) {
            hd->method_touched = 1;
            push(hd, CURLOPT_POST, (struct hk_arg){.l = 1}, NULL);
        }
        return 0;
    }
    int string = 0;
    if (!HK_ARG_LONG(opt) && !HK_ARG_OFF_T(opt) && !holdable_pointer(opt, &string)) return 0;
    char *copy = NULL;
    if (string && a.ptr && !(copy = strdup(a.ptr))) return 0; /* forwarded: the best left */
    if (copy) a.ptr = copy;
    if (push(hd, opt, a, copy) != 0) {
        free(copy);
        return 0;
    }
    return 1;
}

/* libcurl's method, set back to what it was when the callback was asked. */
static void restore_method(struct hk_handle *h, enum hk_method method, int nobody) {
    CURLoption opt = method == HK_GET ? CURLOPT_HTTPGET : method == HK_HEAD ? CURLOPT_NOBODY
                   : method == HK_PUT ? CURLOPT_UPLOAD : method == HK_POST ? CURLOPT_POST : 0;
    if (!opt) return; /* a multipart method: left as the callback made it */
    h->real->curl_easy_setopt(h->curl, opt, 1L);
    h->method = method;
    h->nobody = nobody;
}

int precall_progress(struct hk_handle *h, struct hold **out) {
    *out = NULL;
    struct hold *hd = calloc(1, sizeof(*hd));
    if (!hd) return handle_progress(h, 0, 0, 0, 0); /* asked all the same; nothing held */
    enum hk_method method = h->method;
    int nobody = h->nobody;
    h->holding = hd;
    int abort = handle_progress(h, 0, 0, 0, 0);
    h->holding = NULL;
    if (hd->method_touched && (h->method != method || h->nobody != nobody)) restore_method(h, method, nobody);
    if (!hd->n) {
        free(hd);
        return abort;
    }
    *out = hd;
    return abort;
}

void hold_apply(struct hold *hd, struct hk_handle *h) {
    if (!hd) return;
    for (size_t i = 0; i < hd->n; i++) {
        if (HK_SETOPT(h->real->curl_easy_setopt, h->curl, hd->v[i].opt, hd->v[i].a) == CURLE_OK)
            handle_note_option(h, hd->v[i].opt, hd->v[i].a);
        free(hd->v[i].copy);
    }
    free(hd->v);
    free(hd);
}
