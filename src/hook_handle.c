/* Per-handle state: the options llmshim needs to read back, kept as libcurl keeps them.
 * The table is locked; a handle's fields are only touched by the thread using the handle,
 * which libcurl already requires to be one at a time. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forksafe.h"
#include "hook.h"

#define NBUCKETS 1024

static struct hk_handle *table[NBUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

void handle_forksafe(void) { forksafe_register(&table_lock); }

static size_t slot(const CURL *curl) {
    uintptr_t p = (uintptr_t)curl;
    return (size_t)((p >> 4) ^ (p >> 14)) % NBUCKETS;
}

void handle_clear_replay(struct hk_handle *h) {
    free(h->r_content_type);
    free(h->r_url);
    h->r_content_type = h->r_url = NULL;
    h->replayed = 0;
}

static void set_defaults(struct hk_handle *h) {
    h->postsize = -1;
    h->write_data = stdout;
    h->content_decoding = 1;
}

void handle_reset(struct hk_handle *h) {
    const struct real_api *real = h->real;
    CURL *curl = h->curl;
    struct hk_handle *next = h->next;
    handle_clear_replay(h);
    free(h->url);
    free(h->copy);
    free(h->customrequest);
    free(h->credential);
    memset(h, 0, sizeof(*h));
    h->curl = curl;
    h->real = real;
    h->next = next;
    set_defaults(h);
}

struct hk_handle *handle_add(CURL *curl, const struct real_api *real) {
    struct hk_handle *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->curl = curl;
    h->real = real;
    set_defaults(h);
    pthread_mutex_lock(&table_lock);
    h->next = table[slot(curl)];
    table[slot(curl)] = h;
    pthread_mutex_unlock(&table_lock);
    return h;
}

struct hk_handle *handle_find(CURL *curl) {
    if (!curl) return NULL;
    pthread_mutex_lock(&table_lock);
    struct hk_handle *h = table[slot(curl)];
    while (h && h->curl != curl) h = h->next;
    pthread_mutex_unlock(&table_lock);
    return h;
}

void handle_remove(CURL *curl) {
    pthread_mutex_lock(&table_lock);
    struct hk_handle **p = &table[slot(curl)];
    while (*p && (*p)->curl != curl) p = &(*p)->next;
    struct hk_handle *h = *p;
    if (h) *p = h->next;
    pthread_mutex_unlock(&table_lock);
    if (!h) return;
    handle_reset(h);
    free(h);
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

int handle_copy(struct hk_handle *dst, const struct hk_handle *src) {
    struct hk_handle keep = *dst;
    *dst = *src;
    dst->curl = keep.curl;
    dst->real = keep.real;
    dst->next = keep.next;
    dst->replayed = 0;
    dst->r_content_type = dst->r_url = NULL;
    dst->url = dup_or_null(src->url);
    dst->customrequest = dup_or_null(src->customrequest);
    dst->credential = dup_or_null(src->credential);
    dst->copy = NULL;
    if (src->copy) {
        size_t n = src->postsize >= 0 ? (size_t)src->postsize : strlen(src->copy);
        dst->copy = malloc(n + 1);
        if (dst->copy) {
            memcpy(dst->copy, src->copy, n);
            dst->copy[n] = '\0';
        }
        dst->postfields = dst->copy;
    }
    return (src->url && !dst->url) || (src->copy && !dst->copy) || (src->credential && !dst->credential) ? -1 : 0;
}

/* Mirrors libcurl's setopt.c for the options that decide what request is sent and where the
 * answer goes. Called only after libcurl accepted the option. */
void handle_note_option(struct hk_handle *h, CURLoption opt, const void *ptr, long l, curl_off_t o) {
    switch (opt) {
    case CURLOPT_URL:
        free(h->url);
        h->url = dup_or_null(ptr);
        break;
    case CURLOPT_CURLU:
        h->url_is_curlu = ptr != NULL;
        break;
    case CURLOPT_POSTFIELDS:
        free(h->copy);
        h->copy = NULL;
        h->postfields = ptr;
        h->method = HK_POST;
        break;
    case CURLOPT_COPYPOSTFIELDS: {
        free(h->copy);
        h->copy = NULL;
        if (ptr) {
            size_t n = h->postsize >= 0 ? (size_t)h->postsize : strlen(ptr);
            h->copy = malloc(n + 1);
            if (h->copy) {
                memcpy(h->copy, ptr, n);
                h->copy[n] = '\0';
            }
        }
        h->postfields = h->copy;
        h->method = HK_POST;
        break;
    }
    case CURLOPT_POSTFIELDSIZE:
    case CURLOPT_POSTFIELDSIZE_LARGE: {
        curl_off_t size = opt == CURLOPT_POSTFIELDSIZE ? (curl_off_t)l : o;
        if (h->postsize < size && h->postfields == h->copy) { /* libcurl drops a shorter copy */
            free(h->copy);
            h->copy = NULL;
            h->postfields = NULL;
        }
        h->postsize = size;
        break;
    }
    case CURLOPT_POST:
        h->method = l ? HK_POST : HK_GET;
        break;
    case CURLOPT_HTTPGET:
        if (l) h->method = HK_GET;
        break;
    case CURLOPT_UPLOAD:
    case CURLOPT_PUT:
        h->method = l ? HK_OTHER : HK_GET;
        break;
    case CURLOPT_MIMEPOST:
    case CURLOPT_HTTPPOST:
        h->method = HK_OTHER;
        break;
    case CURLOPT_NOBODY:
        h->nobody = l != 0;
        break;
    case CURLOPT_CUSTOMREQUEST:
        free(h->customrequest);
        h->customrequest = dup_or_null(ptr);
        break;
    case CURLOPT_HTTPHEADER:
        h->headers = ptr;
        break;
    case CURLOPT_USERPWD:
    case CURLOPT_XOAUTH2_BEARER:
        free(h->credential);
        h->credential = dup_or_null(ptr);
        break;
    case CURLOPT_WRITEFUNCTION:
        h->write_cb = (curl_write_callback)ptr;
        break;
    case CURLOPT_WRITEDATA:
        h->write_data = (void *)ptr;
        break;
    case CURLOPT_HEADERFUNCTION:
        h->header_cb = (curl_write_callback)ptr;
        break;
    case CURLOPT_HEADERDATA:
        h->header_data = (void *)ptr;
        break;
    case CURLOPT_HEADER:
        h->include_header = l;
        break;
    case CURLOPT_FAILONERROR:
        h->failonerror = l;
        break;
    case CURLOPT_ERRORBUFFER:
        h->errorbuffer = (char *)ptr;
        break;
    case CURLOPT_ACCEPT_ENCODING:
        h->accept_encoding = ptr != NULL;
        break;
    case CURLOPT_HTTP_CONTENT_DECODING:
        h->content_decoding = l;
        break;
    default:
        break;
    }
    h->decodes_content = h->accept_encoding && h->content_decoding;
}

size_t hk_write_body(struct hk_handle *h, char *p, size_t n) {
    int depth = hook_depth;
    hook_depth = 0; /* the application's code runs as if llmshim were not there */
    size_t w = h->write_cb ? h->write_cb(p, 1, n, h->write_data)
                           : fwrite(p, 1, n, h->write_data ? (FILE *)h->write_data : stdout);
    hook_depth = depth;
    return w;
}

/* libcurl: headers go to HEADERFUNCTION(HEADERDATA); without one but with HEADERDATA, to the
 * write function with HEADERDATA; with CURLOPT_HEADER also into the body stream. */
size_t hk_write_header(struct hk_handle *h, char *p, size_t n) {
    if (h->include_header) {
        size_t w = hk_write_body(h, p, n);
        if (w != n) return w;
    }
    if (!h->header_cb && !h->header_data) return n;
    int depth = hook_depth;
    hook_depth = 0;
    size_t w;
    if (h->header_cb) w = h->header_cb(p, 1, n, h->header_data);
    else if (h->write_cb) w = h->write_cb(p, 1, n, h->header_data);
    else w = fwrite(p, 1, n, (FILE *)h->header_data);
    hook_depth = depth;
    return w;
}
