/* hook: the only part of llmshim that knows libcurl's ABI. Internal to the hook_*.c files. */
#ifndef LLMSHIM_HOOK_H
#define LLMSHIM_HOOK_H

#define CURL_DISABLE_TYPECHECK   /* the hooks take the variadic arguments themselves */
#define CURL_DISABLE_DEPRECATION /* and mirror old options (CURLOPT_PUT) too */
#include <curl/curl.h>
#include <stdarg.h>
#include <stddef.h>

#include "buf.h"
#include "entry.h"

#define HOOK_EXPORT __attribute__((visibility("default")))
#define HOOK_CALLER() __builtin_return_address(0)

/* Every libcurl function llmshim interposes, declared once. */
#define HOOKED_FUNCTIONS(X)                                             \
    X(curl_easy_init, CURL *, (void))                                   \
    X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))            \
    X(curl_easy_perform, CURLcode, (CURL *))                            \
    X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))             \
    X(curl_easy_reset, void, (CURL *))                                  \
    X(curl_easy_duphandle, CURL *, (CURL *))                            \
    X(curl_easy_cleanup, void, (CURL *))                                \
    X(curl_multi_add_handle, CURLMcode, (CURLM *, CURL *))              \
    X(curl_multi_remove_handle, CURLMcode, (CURLM *, CURL *))           \
    X(curl_multi_perform, CURLMcode, (CURLM *, int *))                  \
    X(curl_multi_socket_action, CURLMcode, (CURLM *, curl_socket_t, int, int *)) \
    X(curl_multi_info_read, CURLMsg *, (CURLM *, int *))                \
    X(curl_multi_wait, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *)) \
    X(curl_multi_poll, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *)) \
    X(curl_multi_timeout, CURLMcode, (CURLM *, long *))                 \
    X(curl_multi_setopt, CURLMcode, (CURLM *, CURLMoption, ...))        \
    X(curl_multi_cleanup, CURLMcode, (CURLM *))

/* A setopt argument, read with the type libcurl reads it with: the option number says which
 * (curl.h CURLOPTTYPE_*: long, object pointer, function pointer, curl_off_t, blob pointer). Easy
 * and multi options share the ranges. */
struct hk_arg {
    long l;
    void *ptr;
    curl_off_t o;
};

#define HK_ARG_LONG(opt) ((opt) < CURLOPTTYPE_OBJECTPOINT)
#define HK_ARG_OFF_T(opt) ((opt) >= CURLOPTTYPE_OFF_T && (opt) < CURLOPTTYPE_BLOB)

static inline struct hk_arg hk_arg_read(long opt, va_list ap) {
    struct hk_arg a = {0, NULL, 0};
    if (HK_ARG_LONG(opt)) a.l = va_arg(ap, long);
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT) a.ptr = va_arg(ap, void *);
    else if (opt < CURLOPTTYPE_OFF_T) a.ptr = (void *)va_arg(ap, void (*)(void));
    else if (HK_ARG_OFF_T(opt)) a.o = va_arg(ap, curl_off_t);
    else a.ptr = va_arg(ap, void *);
    return a;
}

/* Calls a real setopt with the argument in the type it was read with. */
#define HK_SETOPT(fn, handle, opt, a) \
    (HK_ARG_LONG(opt) ? (fn)(handle, opt, (a).l) : HK_ARG_OFF_T(opt) ? (fn)(handle, opt, (a).o) : (fn)(handle, opt, (a).ptr))

struct real_api {
#define X(name, ret, args) ret(*name) args;
    HOOKED_FUNCTIONS(X)
#undef X
};

/* The libcurl a call from `caller` would have reached without llmshim (see hook_real.c).
 * Never NULL; individual pointers may be NULL when no libcurl is loaded. */
const struct real_api *real_for_caller(const void *caller);
/* A libcurl opened privately (handle from dlopen) whose curl_* an FFI loader looked up: calls
 * from objects without a libcurl of their own go to it. 1 when it is a usable libcurl. */
int real_register_ffi(void *handle);
typedef void *(*dlsym_fn)(void *, const char *);
dlsym_fn real_dlsym(void);

/* Re-entry depth of this thread: > 0 while libcurl itself runs, so its own calls into the
 * public API pass straight through. App callbacks run at depth 0 again. */
extern __attribute__((tls_model("initial-exec"))) __thread int hook_depth;

enum hk_method { HK_GET, HK_POST, HK_OTHER };

/* What a handle's options say about the next transfer, mirrored as libcurl stores them. */
struct hk_handle {
    CURL *curl;
    const struct real_api *real;
    struct hk_handle *next; /* hash chain */

    char *url;
    int url_is_curlu;          /* CURLOPT_CURLU: not read by llmshim, so not cached */
    const char *postfields;    /* app memory, or `copy` */
    char *copy;                /* CURLOPT_COPYPOSTFIELDS */
    curl_off_t postsize;       /* -1: strlen(postfields) */
    enum hk_method method;
    int nobody;
    char *customrequest;
    const struct curl_slist *headers;
    char *credential;          /* CURLOPT_USERPWD or XOAUTH2_BEARER: only ever hashed (key scope) */
    curl_write_callback write_cb;   /* NULL: fwrite */
    void *write_data;               /* default stdout */
    curl_write_callback header_cb;
    void *header_data;
    long include_header;
    long failonerror;
    char *errorbuffer;
    int decodes_content;       /* ACCEPT_ENCODING set and HTTP_CONTENT_DECODING on */
    int accept_encoding;
    long content_decoding;

    /* answers for curl_easy_getinfo after a transfer served from the cache */
    int replayed;
    long r_status;
    long r_http_version;
    char *r_content_type;
    char *r_url;
    curl_off_t r_size;
    curl_off_t r_upload;
    long r_header_size;
    long r_request_size;
    curl_off_t r_time_us;
    const char *r_scheme;

    struct mflow *mflow;       /* an LLM transfer on a multi handle, until its DONE message */
    int can_fetch;             /* inside curl_easy_perform: a failed replay may still fetch */
};

/* hook_multi.c: drop whatever a multi handle still holds for h (curl_easy_cleanup of a handle
 * that is still in a multi). */
void multi_forget(struct hk_handle *h);

struct hk_handle *handle_add(CURL *curl, const struct real_api *real);
struct hk_handle *handle_find(CURL *curl);
void handle_remove(CURL *curl);
void handle_reset(struct hk_handle *h); /* back to libcurl's defaults, as curl_easy_reset */
void handle_clear_replay(struct hk_handle *h); /* a new transfer starts: getinfo goes to libcurl */
/* Registers the tables' locks with forksafe (once, from hook_real.c). */
void handle_forksafe(void);
void multi_forksafe(void);
int handle_copy(struct hk_handle *dst, const struct hk_handle *src);
void handle_note_option(struct hk_handle *h, CURLoption opt, const void *ptr, long l, curl_off_t o);

/* Delivery to the application, the way libcurl would have delivered. */
size_t hk_write_body(struct hk_handle *h, char *p, size_t n);
size_t hk_write_header(struct hk_handle *h, char *p, size_t n);

/* Serves a cached entry; returns what curl_easy_perform returns. pace: see LLMSHIM_REPLAY_PACE;
 * status: the X-LLMShim-Cache value ("HIT", "STALE"). CURLE_OUT_OF_MEMORY means nothing reached
 * the application, so the caller can still fetch the answer from the network. */
CURLcode replay_entry(struct hk_handle *h, const struct entry *e, long long elapsed_us, double pace,
                      const char *status);
/* Answers getinfo for a replayed transfer: 1 answered, 0 pass to libcurl. */
int replay_getinfo(struct hk_handle *h, CURLINFO info, void *arg);

struct record_opts {
    size_t max_bytes;
    int shape;          /* enum shape: how a complete stream ends */
    long long t0_us;    /* when the request started (monotonic), for stream event times */
    int hold_errors;    /* a stale entry can stand in: keep a 429/5xx answer from the app */
};

struct record_result {
    int storable;       /* e holds a complete 2xx answer the app accepted */
    int held;           /* an error answer was kept from the app (hold_errors) */
    int delivered;      /* some of the answer reached the app */
    long status;
};

/* The real transfer with the answer copied as it passes; fills e's response part. */
CURLcode record_perform(struct hk_handle *h, struct entry *e, const struct record_opts *o,
                        struct record_result *res);
/* The same in two halves, for transfers the multi API drives: begin wraps the callbacks (NULL:
 * could not; the handle is untouched), end restores them and judges the answer (frees r). */
struct recorder;
struct recorder *record_begin(struct hk_handle *h, struct entry *e, const struct record_opts *o,
                              struct record_result *res);
void record_end(struct recorder *r, CURLcode rc);

/* ---- the flow of one LLM request (hook_flow.c), shared by the easy and multi hooks ---- */
struct call;
struct config;
/* 1: the handle's next transfer is an LLM call (c filled; call_free it), 0: pass it through. */
int flow_analyze(struct hk_handle *h, const struct config *cfg, struct call *c);
/* A hit: replays e (and frees it), logs and counts. */
CURLcode flow_hit(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                  struct entry *e);
/* LLMSHIM_MODE=replay without an entry: the message, and the error the transfer ends with. */
CURLcode flow_replay_miss(struct hk_handle *h, const struct call *c);
/* A miss by curl_easy_perform: the network, recorded. stale: an expired entry that may stand in. */
CURLcode flow_fetch(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                    struct entry *stale);
/* After a recorded transfer ended with rc: store, or let the stale entry answer, log, count.
 * Returns what the transfer ends with. rec is freed. */
CURLcode flow_fetched(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                      struct entry *rec, const struct record_result *res, CURLcode rc, struct entry *stale);
struct record_opts flow_record_opts(const struct config *cfg, const struct call *c, long long t0, int stale);

#endif
