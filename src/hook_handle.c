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
    info_clear(h);
}

static void set_defaults(struct hk_handle *h) {
    h->postsize = -1;
    h->write_data = stdout;
    h->read_data = stdin;
    h->infilesize = -1;
    h->noprogress = 1;
    h->content_decoding = 1;
}

static void free_opts(struct hk_handle *h) {
    for (size_t i = 0; i < h->nopts; i++) free(h->opts[i].str);
    free(h->opts);
    h->opts = NULL;
    h->nopts = 0;
}

void handle_reset(struct hk_handle *h) {
    const struct real_api *real = h->real;
    CURL *curl = h->curl;
    struct hk_handle *next = h->next;
    struct xfer *x = h->x;
    struct hk_multi *multi = h->multi;
    struct hk_handle *mnext = h->mnext;
    int fresh = h->fresh, taken = h->taken, delivering = h->delivering;
    struct hold *holding = h->holding;
    handle_clear_replay(h);
    free(h->url);
    free(h->copy);
    free(h->customrequest);
    free(h->accept_encoding);
    for (int i = 0; i < HK_NCREDS; i++) free(h->creds[i]);
    free_opts(h);
    struct replay *rp = h->rp;
    memset(h, 0, sizeof(*h));
    h->rp = rp; /* a hit being delivered goes on, like a transfer under way */
    h->curl = curl;
    h->real = real;
    h->next = next;
    /* curl_easy_reset changes options, not membership in a multi nor a transfer under way */
    h->x = x;
    h->multi = multi;
    h->mnext = mnext;
    h->fresh = fresh;
    h->taken = taken;
    h->delivering = delivering;
    h->holding = holding;
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
    h->x = NULL;
    h->multi = NULL;
    handle_reset(h);
    free(h);
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static char *dup_bytes(const char *p, curl_off_t size) {
    size_t n = size >= 0 ? (size_t)size : strlen(p);
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* An option llmshim could not mirror (no memory): its transfers must not be cached. */
static void mark_unreadable(struct hk_handle *h) {
    h->unreadable = 1;
}

int handle_copy(struct hk_handle *dst, const struct hk_handle *src) {
    struct hk_handle keep = *dst;
    *dst = *src;
    dst->curl = keep.curl;
    dst->real = keep.real;
    dst->next = keep.next;
    /* a copy is a new handle: in no multi, no transfer, nothing replayed (curl_easy_duphandle) */
    dst->x = NULL;
    dst->multi = NULL;
    dst->mnext = NULL;
    dst->fresh = dst->taken = 0;
    dst->replayed = 0;
    dst->r_content_type = dst->r_url = dst->r_method = dst->r_hdrbuf = NULL;
    dst->r_hdrs = NULL;
    dst->r_nhdrs = dst->r_hvisible = 0;
    dst->rp = NULL;
    /* libcurl copies a MIMEPOST body into a mime of its own, built inside libcurl: not mirrored */
    dst->mime_copied = src->mime_copied || (src->method == HK_POST_MIME && src->mimepost);
    dst->url = dup_or_null(src->url);
    dst->customrequest = dup_or_null(src->customrequest);
    dst->accept_encoding = dup_or_null(src->accept_encoding);
    int failed = (src->accept_encoding && !dst->accept_encoding);
    for (int i = 0; i < HK_NCREDS; i++) {
        dst->creds[i] = dup_or_null(src->creds[i]);
        if (src->creds[i] && !dst->creds[i]) failed = 1;
    }
    dst->copy = src->copy ? dup_bytes(src->copy, src->postsize) : NULL;
    if (src->copy) dst->postfields = dst->copy;
    dst->opts = NULL;
    dst->nopts = 0;
    failed |= (src->url && !dst->url) || (src->copy && !dst->copy) || (src->customrequest && !dst->customrequest);
    if (src->nopts && !failed) {
        dst->opts = calloc(src->nopts, sizeof(*dst->opts));
        failed = !dst->opts;
        for (size_t i = 0; !failed && i < src->nopts; i++) {
            dst->opts[i] = src->opts[i];
            dst->opts[i].str = dup_or_null(src->opts[i].str);
            failed = src->opts[i].str && !dst->opts[i].str;
            dst->nopts = i + 1;
        }
    }
    return failed ? -1 : 0;
}

/* The string options libcurl copies (CURLOPTTYPE_STRINGPOINT) among the generic ones. */
static int is_string_option(CURLoption opt) {
    switch (opt) {
    case CURLOPT_RANGE: case CURLOPT_REQUEST_TARGET: case CURLOPT_AWS_SIGV4: case CURLOPT_DEFAULT_PROTOCOL:
    case CURLOPT_UNIX_SOCKET_PATH: case CURLOPT_ABSTRACT_UNIX_SOCKET:
        return 1;
    default:
        return 0;
    }
}

static int at_default(CURLoption opt, struct hk_arg a) {
    if (HK_ARG_LONG(opt)) return a.l == opt_default_long(opt);
    if (HK_ARG_OFF_T(opt)) return a.o == 0;
    return a.ptr == NULL;
}

/* OPT_KEY, OPT_PASS and OPT_UNKNOWN options: kept while away from their default. */
static void note_generic(struct hk_handle *h, CURLoption opt, struct hk_arg a) {
    size_t i = 0;
    while (i < h->nopts && h->opts[i].opt != opt) i++;
    if (i < h->nopts) { /* replace or drop the old value */
        free(h->opts[i].str);
        memmove(&h->opts[i], &h->opts[i + 1], (h->nopts - i - 1) * sizeof(*h->opts));
        h->nopts--;
    }
    if (at_default(opt, a)) return;
    char *str = is_string_option(opt) ? strdup(a.ptr) : NULL;
    struct hk_opt *o = (str || !is_string_option(opt)) ? realloc(h->opts, (h->nopts + 1) * sizeof(*o)) : NULL;
    if (!o) {
        free(str);
        mark_unreadable(h);
        return;
    }
    h->opts = o;
    /* kept in option order, so the key text does not depend on the order they were set in */
    for (i = h->nopts; i > 0 && o[i - 1].opt > opt; i--) o[i] = o[i - 1];
    o[i] = (struct hk_opt){.opt = opt, .a = a, .str = str};
    h->nopts++;
}

static int follows(const struct hk_handle *h) {
    for (size_t i = 0; i < h->nopts; i++)
        if (h->opts[i].opt == CURLOPT_FOLLOWLOCATION) return 1;
    return 0;
}

/* Strings and list lines are length-prefixed, so no value can pass for another option. */
char *handle_key_options(const struct hk_handle *h, CURLoption *pass) {
    *pass = 0;
    struct buf b;
    buf_init(&b);
    int follow = follows(h);
    for (size_t i = 0; i < h->nopts; i++) {
        const struct hk_opt *o = &h->opts[i];
        if (opt_class(o->opt) != OPT_KEY) {
            if (!*pass) *pass = o->opt;
            continue;
        }
        /* how redirects are followed matters only when they are (the curl tool always sets 50) */
        if ((o->opt == CURLOPT_MAXREDIRS || o->opt == CURLOPT_POSTREDIR) && !follow) continue;
        /* 2TLS is what libcurl 7.88 does when nothing is set (and what the curl tool sets) */
        if (o->opt == CURLOPT_HTTP_VERSION && o->a.l == CURL_HTTP_VERSION_2TLS) continue;
        buf_printf(&b, "%d=", (int)o->opt);
        if (HK_ARG_LONG(o->opt)) buf_printf(&b, "%ld", o->a.l);
        else if (HK_ARG_OFF_T(o->opt)) buf_printf(&b, "%lld", (long long)o->a.o);
        else if (o->str) buf_printf(&b, "%zu:%s", strlen(o->str), o->str);
        else /* an slist (RESOLVE, CONNECT_TO): its lines as they are now */
            for (const struct curl_slist *l = o->a.ptr; l; l = l->next)
                buf_printf(&b, "%zu:%s", l->data ? strlen(l->data) : 0, l->data ? l->data : "");
        buf_putc(&b, ';');
    }
    if (b.oom) { /* cannot say what the options are: treat the transfer as one to pass */
        buf_free(&b);
        *pass = CURLOPT_URL;
        return NULL;
    }
    return b.len ? buf_take(&b, NULL) : (buf_free(&b), NULL);
}

const char *handle_body(const struct hk_handle *h, size_t *len) {
    if (!h->postfields) return NULL;
    *len = h->postsize >= 0 ? (size_t)h->postsize : strlen(h->postfields);
    return h->postfields;
}

/* Mirrors libcurl's lib/setopt.c (7.88) for the options that decide what request is sent and
 * where the answer goes. Called only after libcurl accepted the option. */
void handle_note_option(struct hk_handle *h, CURLoption opt, struct hk_arg a) {
    const void *ptr = a.ptr;
    long l = a.l;
    switch (opt) {
    case CURLOPT_URL:
        free(h->url);
        h->url = dup_or_null(ptr);
        if (ptr && !h->url) mark_unreadable(h);
        break;
    case CURLOPT_CURLU:
        h->curlu = a.ptr;
        break;
    case CURLOPT_POSTFIELDS:
        free(h->copy);
        h->copy = NULL;
        h->postfields = ptr;
        h->method = HK_POST;
        break;
    case CURLOPT_COPYPOSTFIELDS:
        free(h->copy);
        h->copy = ptr ? dup_bytes(ptr, h->postsize) : NULL;
        if (ptr && !h->copy) mark_unreadable(h);
        h->postfields = h->copy;
        h->method = HK_POST;
        break;
    case CURLOPT_POSTFIELDSIZE:
    case CURLOPT_POSTFIELDSIZE_LARGE: {
        curl_off_t size = opt == CURLOPT_POSTFIELDSIZE ? (curl_off_t)l : a.o;
        if (h->postsize < size && h->postfields == h->copy) { /* libcurl drops a shorter copy */
            free(h->copy);
            h->copy = NULL;
            h->postfields = NULL;
        }
        h->postsize = size;
        break;
    }
    case CURLOPT_POST:
        if (l) {
            h->method = HK_POST;
            h->nobody = 0;
        } else {
            h->method = HK_GET;
        }
        break;
    case CURLOPT_HTTPGET:
        if (l) {
            h->method = HK_GET;
            h->nobody = 0;
        }
        break;
    case CURLOPT_NOBODY:
        h->nobody = l != 0;
        if (h->nobody) h->method = HK_HEAD;
        else if (h->method == HK_HEAD) h->method = HK_GET;
        break;
    case CURLOPT_UPLOAD:
    case CURLOPT_PUT:
        if (l) {
            h->method = HK_PUT;
            h->nobody = 0;
        } else {
            h->method = HK_GET;
        }
        break;
    case CURLOPT_MIMEPOST:
        h->method = HK_POST_MIME;
        h->mimepost = a.ptr;
        h->mime_copied = 0;
        break;
    case CURLOPT_HTTPPOST:
        h->method = HK_POST_FORM;
        h->httppost = a.ptr;
        h->nobody = 0;
        break;
    case CURLOPT_CUSTOMREQUEST:
        free(h->customrequest);
        h->customrequest = dup_or_null(ptr);
        if (ptr && !h->customrequest) mark_unreadable(h);
        break;
    case CURLOPT_HTTPHEADER:
        h->headers = ptr;
        break;
    case CURLOPT_READFUNCTION:
        h->read_cb = (curl_read_callback)ptr;
        break;
    case CURLOPT_READDATA:
        h->read_data = (void *)ptr;
        break;
    case CURLOPT_SEEKFUNCTION:
        h->seek_cb = (curl_seek_callback)ptr;
        break;
    case CURLOPT_SEEKDATA:
        h->seek_data = (void *)ptr;
        break;
    case CURLOPT_INFILESIZE:
        h->infilesize = l;
        break;
    case CURLOPT_INFILESIZE_LARGE:
        h->infilesize = a.o;
        break;
    case CURLOPT_USERPWD:
    case CURLOPT_USERNAME:
    case CURLOPT_PASSWORD:
    case CURLOPT_XOAUTH2_BEARER:
    case CURLOPT_COOKIE: {
        int i = opt == CURLOPT_USERPWD ? HK_CRED_USERPWD : opt == CURLOPT_USERNAME ? HK_CRED_USERNAME
              : opt == CURLOPT_PASSWORD ? HK_CRED_PASSWORD : opt == CURLOPT_XOAUTH2_BEARER ? HK_CRED_BEARER
              : HK_CRED_COOKIE;
        free(h->creds[i]);
        h->creds[i] = dup_or_null(ptr);
        if (ptr && !h->creds[i]) mark_unreadable(h);
        break;
    }
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
    case CURLOPT_NOPROGRESS:
        h->noprogress = l;
        break;
    case CURLOPT_COOKIEFILE:
    case CURLOPT_COOKIELIST:
    case CURLOPT_NETRC_FILE:
        if (ptr) h->cookie_engine = 1; /* once engaged, it stays for the handle's life */
        break;
    case CURLOPT_NETRC:
        if (l) h->cookie_engine = 1;
        break;
    case CURLOPT_PREREQFUNCTION:
        h->prereq_cb = (curl_prereq_callback)ptr;
        note_generic(h, opt, a); /* and it makes LLM transfers pass */
        break;
    case CURLOPT_PREREQDATA:
        h->prereq_data = (void *)ptr;
        break;
    case CURLOPT_XFERINFOFUNCTION:
        h->xferinfo_cb = (curl_xferinfo_callback)ptr;
        break;
    case CURLOPT_PROGRESSFUNCTION:
        h->progress_cb = (curl_progress_callback)ptr;
        break;
    case CURLOPT_XFERINFODATA:
        h->progress_data = (void *)ptr;
        break;
    case CURLOPT_ACCEPT_ENCODING:
        free(h->accept_encoding);
        h->accept_encoding = dup_or_null(ptr);
        if (ptr && !h->accept_encoding) mark_unreadable(h);
        break;
    /* what a hit shows the debug callback, and how long it may take */
    case CURLOPT_VERBOSE:
        h->verbose = l;
        break;
    case CURLOPT_DEBUGFUNCTION:
        h->debug_cb = (curl_debug_callback)ptr;
        break;
    case CURLOPT_DEBUGDATA:
        h->debug_data = (void *)ptr;
        break;
    case CURLOPT_STDERR:
        h->stderr_fp = (FILE *)ptr;
        break;
    case CURLOPT_TIMEOUT:
        h->timeout_ms = (long long)l * 1000;
        break;
    case CURLOPT_TIMEOUT_MS:
        h->timeout_ms = l;
        break;
    case CURLOPT_HTTP_CONTENT_DECODING:
        h->content_decoding = l;
        break;
    default: {
        enum opt_class c = opt_class(opt);
        if (c == OPT_KEY || c == OPT_PASS || c == OPT_UNKNOWN) note_generic(h, opt, a);
        break;
    }
    }
    h->decodes_content = h->accept_encoding != NULL && h->content_decoding;
}

int handle_progress(struct hk_handle *h, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow) {
    if (h->noprogress) return 0;
    int r = 0;
    if (h->xferinfo_cb) r = h->xferinfo_cb(h->progress_data, dltotal, dlnow, ultotal, ulnow);
    else if (h->progress_cb)
        r = h->progress_cb(h->progress_data, (double)dltotal, (double)dlnow, (double)ultotal, (double)ulnow);
    return r == CURL_PROGRESSFUNC_CONTINUE ? 0 : r; /* "carry on with the built-in meter" */
}

size_t handle_read(struct hk_handle *h, char *buf, size_t n) {
    return h->read_cb ? h->read_cb(buf, 1, n, h->read_data)
                      : fread(buf, 1, n, h->read_data ? (FILE *)h->read_data : stdin);
}

size_t hk_write_body(struct hk_handle *h, char *p, size_t n) {
    return h->write_cb ? h->write_cb(p, 1, n, h->write_data)
                       : fwrite(p, 1, n, h->write_data ? (FILE *)h->write_data : stdout);
}

/* libcurl: headers go to HEADERFUNCTION(HEADERDATA); without one but with HEADERDATA, to the
 * write function with HEADERDATA; with CURLOPT_HEADER also into the body stream. */
size_t hk_write_header(struct hk_handle *h, char *p, size_t n) {
    if (h->include_header) {
        size_t w = hk_write_body(h, p, n);
        if (w != n) return w;
    }
    if (!h->header_cb && !h->header_data) return n;
    if (h->header_cb) return h->header_cb(p, 1, n, h->header_data);
    if (h->write_cb) return h->write_cb(p, 1, n, h->header_data);
    return fwrite(p, 1, n, (FILE *)h->header_data);
}
