/* hook: the only part of llmshim that knows libcurl's ABI. Internal to the hook_*.c files.
 *
 * A transfer's life (hook_transfer.c owns it; hook_easy.c and hook_multi.c are its doors):
 *   options mirrored (every curl_easy_setopt the program makes, wherever it makes it)
 *   -> the transfer starts (curl_easy_perform, or the first multi perform after add_handle)
 *   -> decided from the options in force then: pass, hit, refuse (replay), or record
 *   -> replayed through the program's callbacks, or recorded as libcurl delivers it
 *   -> checked (the request sent is the request keyed) and stored. */
#ifndef LLMSHIM_HOOK_H
#define LLMSHIM_HOOK_H

#define CURL_DISABLE_TYPECHECK   /* the hooks take the variadic arguments themselves */
#define CURL_DISABLE_DEPRECATION /* and mirror old options (CURLOPT_PUT) too */
#include <curl/curl.h>
#include <stdarg.h>
#include <stddef.h>

#include "buf.h"
#include "call.h"
#include "entry.h"

#define HOOK_EXPORT __attribute__((visibility("default")))
#define HOOK_CALLER() __builtin_return_address(0)

/* Every libcurl function llmshim interposes, declared once. The curl_mime_* ones are mirrored
 * (hook_mime.c): libcurl's mime structure is opaque, and a MIMEPOST body is keyed by its parts. */
#define HOOKED_FUNCTIONS(X)                                             \
    X(curl_easy_init, CURL *, (void))                                   \
    X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))            \
    X(curl_easy_perform, CURLcode, (CURL *))                            \
    X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))             \
    X(curl_easy_reset, void, (CURL *))                                  \
    X(curl_easy_duphandle, CURL *, (CURL *))                            \
    X(curl_easy_cleanup, void, (CURL *))                                \
    X(curl_easy_pause, CURLcode, (CURL *, int))                         \
    X(curl_easy_header, CURLHcode, (CURL *, const char *, size_t, unsigned int, int, struct curl_header **)) \
    X(curl_easy_nextheader, struct curl_header *, (CURL *, unsigned int, int, struct curl_header *)) \
    X(curl_multi_add_handle, CURLMcode, (CURLM *, CURL *))              \
    X(curl_multi_remove_handle, CURLMcode, (CURLM *, CURL *))           \
    X(curl_multi_perform, CURLMcode, (CURLM *, int *))                  \
    X(curl_multi_socket_action, CURLMcode, (CURLM *, curl_socket_t, int, int *)) \
    X(curl_multi_socket_all, CURLMcode, (CURLM *, int *))                \
    X(curl_multi_info_read, CURLMsg *, (CURLM *, int *))                \
    X(curl_multi_wait, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *)) \
    X(curl_multi_poll, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *)) \
    X(curl_multi_timeout, CURLMcode, (CURLM *, long *))                 \
    X(curl_multi_setopt, CURLMcode, (CURLM *, CURLMoption, ...))        \
    X(curl_multi_cleanup, CURLMcode, (CURLM *))                         \
    X(curl_mime_init, curl_mime *, (CURL *))                            \
    X(curl_mime_free, void, (curl_mime *))                              \
    X(curl_mime_addpart, curl_mimepart *, (curl_mime *))                \
    X(curl_mime_name, CURLcode, (curl_mimepart *, const char *))        \
    X(curl_mime_filename, CURLcode, (curl_mimepart *, const char *))    \
    X(curl_mime_type, CURLcode, (curl_mimepart *, const char *))        \
    X(curl_mime_encoder, CURLcode, (curl_mimepart *, const char *))     \
    X(curl_mime_data, CURLcode, (curl_mimepart *, const char *, size_t)) \
    X(curl_mime_filedata, CURLcode, (curl_mimepart *, const char *))    \
    X(curl_mime_data_cb, CURLcode, (curl_mimepart *, curl_off_t, curl_read_callback, curl_seek_callback, \
                                    curl_free_callback, void *))        \
    X(curl_mime_subparts, CURLcode, (curl_mimepart *, curl_mime *))     \
    X(curl_mime_headers, CURLcode, (curl_mimepart *, struct curl_slist *, int))

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
    /* not hooked, only called: reading a CURLOPT_CURLU handle's URL */
    CURLUcode (*curl_url_get)(const CURLU *, CURLUPart, char **, unsigned int);
    void (*curl_free)(void *);
};

/* ---- hook_real.c: which libcurl, and who is calling ---- */

/* The libcurl a call from `caller` would have reached without llmshim. Never NULL; individual
 * pointers may be NULL when no libcurl is loaded. */
const struct real_api *real_for_caller(const void *caller);
/* A libcurl opened privately (handle from dlopen) whose curl_* an FFI loader looked up: calls
 * from objects without a libcurl of their own go to it. 1 when it is a usable libcurl. */
int real_register_ffi(void *handle);
typedef void *(*dlsym_fn)(void *, const char *);
dlsym_fn real_dlsym(void);
/* 1 when the call was made by libcurl itself (curl_easy_perform drives a multi handle, DoH
 * makes handles): such calls pass straight through. Decided by where the caller's code lies,
 * so the program's own calls from inside libcurl callbacks are still the program's. */
int hook_from_libcurl(const void *caller);

/* ---- hook_options.c: every libcurl option, classified ---- */
enum opt_class {
    OPT_NEUTRAL,  /* changes neither the question nor the answer: forwarded, not mirrored */
    OPT_REQUEST,  /* the request: mirrored and read when the transfer starts */
    OPT_DELIVERY, /* where the answer goes: mirrored, held by the recorder during a miss */
    OPT_KEY,      /* part of the key when not at libcurl's default */
    OPT_PASS,     /* not at its default: the transfer is not cached */
    OPT_UNKNOWN,  /* newer than llmshim: treated as OPT_PASS */
};
enum opt_class opt_class(CURLoption opt);
long opt_default_long(CURLoption opt);
const char *opt_pass_name(CURLoption opt); /* "CURLOPT_RANGE", ...; NULL for others */

/* ---- hook_handle.c: what the program set on each easy handle ---- */

/* libcurl's notion of the method (lib/setopt.c: data->set.method). */
enum hk_method { HK_GET, HK_POST, HK_PUT, HK_HEAD, HK_POST_MIME, HK_POST_FORM };

/* An OPT_KEY, OPT_PASS or OPT_UNKNOWN option set to something other than its default. */
struct hk_opt {
    CURLoption opt;
    struct hk_arg a;
    char *str;             /* a copy of a string argument (libcurl copies strings too) */
};

struct xfer;
struct hk_multi;
struct hold;

/* The options that carry a credential, in the order call_request.credentials lists them. */
enum { HK_CRED_USERPWD, HK_CRED_USERNAME, HK_CRED_PASSWORD, HK_CRED_BEARER, HK_CRED_COOKIE, HK_NCREDS };

struct hk_handle {
    CURL *curl;
    const struct real_api *real;
    struct hk_handle *next; /* hash chain */

    /* the request, as libcurl will send it */
    char *url;
    void *curlu;               /* CURLOPT_CURLU: not read by llmshim, so not cached */
    const char *postfields;    /* app memory, or `copy` */
    char *copy;                /* CURLOPT_COPYPOSTFIELDS */
    curl_off_t postsize;       /* -1: strlen(postfields) */
    enum hk_method method;
    int nobody;
    char *customrequest;
    const struct curl_slist *headers;
    void *mimepost;            /* CURLOPT_MIMEPOST: the program's curl_mime */
    struct curl_httppost *httppost; /* CURLOPT_HTTPPOST */
    int mime_copied;           /* a copy (curl_easy_duphandle) whose mime is libcurl's own copy */
    curl_read_callback read_cb;     /* NULL: fread from read_data */
    void *read_data;                /* default stdin */
    curl_seek_callback seek_cb;
    void *seek_data;
    curl_off_t infilesize;          /* CURLOPT_INFILESIZE(_LARGE); -1: unknown */
    char *creds[HK_NCREDS];    /* credential options: only ever hashed (key scope) */
    struct hk_opt *opts;       /* OPT_KEY/OPT_PASS/OPT_UNKNOWN options away from their default */
    size_t nopts;
    int unreadable;            /* an option could not be mirrored (no memory): never cached */
    int cookie_engine;         /* COOKIEFILE, COOKIELIST, NETRC: credentials llmshim cannot see */

    /* where the answer goes */
    curl_write_callback write_cb;   /* NULL: fwrite */
    void *write_data;               /* default stdout */
    curl_write_callback header_cb;
    void *header_data;
    long include_header;
    long failonerror;
    char *errorbuffer;
    long noprogress;                          /* default 1: no progress callback */
    curl_xferinfo_callback xferinfo_cb;       /* wins over progress_cb */
    curl_progress_callback progress_cb;
    void *progress_data;                      /* XFERINFODATA = PROGRESSDATA */
    curl_prereq_callback prereq_cb;           /* CURLOPT_PREREQFUNCTION (also an OPT_PASS) */
    void *prereq_data;
    int decodes_content;       /* ACCEPT_ENCODING set and HTTP_CONTENT_DECODING on */
    char *accept_encoding;     /* CURLOPT_ACCEPT_ENCODING ("": all libcurl decodes); NULL: unset */
    long content_decoding;
    long verbose;              /* CURLOPT_VERBOSE: the debug callback, or stderr lines */
    curl_debug_callback debug_cb;
    void *debug_data;
    FILE *stderr_fp;           /* CURLOPT_STDERR; NULL: stderr */
    long long timeout_ms;      /* CURLOPT_TIMEOUT(_MS); 0: none */

    /* answers for curl_easy_getinfo and the header API after a transfer served from the cache
     * (hook_info.c) */
    int replayed;
    long r_status;
    long r_http_version;
    char *r_content_type;
    char *r_url;
    char *r_method;
    curl_off_t r_size;         /* the bytes the network would have carried so far */
    curl_off_t r_length;       /* the Content-Length shown */
    curl_off_t r_upload;
    long r_header_size;
    curl_off_t r_time_us;
    curl_off_t r_start_us;
    const char *r_scheme;
    struct hk_hdr *r_hdrs;     /* the replayed headers, for curl_easy_header */
    size_t r_nhdrs, r_hvisible; /* all of them; those delivered so far */
    char *r_hdrbuf;
    struct curl_header r_hout;
    struct replay *rp;         /* the hit being delivered (paused or paced) */

    /* the transfer in progress */
    struct xfer *x;            /* from the start of a recorded (or held-option) transfer to its end */
    struct hold *holding;      /* while llmshim asks the progress callback before deciding */
    int delivering;            /* curl_easy_perform is delivering a cached answer */
    struct hk_multi *multi;    /* the multi handle it was added to, until it is removed */
    struct hk_handle *mnext;   /* the multi's list of its handles */
    int fresh;                 /* added to the multi, not started yet: judged at the next perform */
    int taken;                 /* answered by llmshim: no longer in libcurl's multi */
};

struct hk_handle *handle_add(CURL *curl, const struct real_api *real);
struct hk_handle *handle_find(CURL *curl);
void handle_remove(CURL *curl);
void handle_reset(struct hk_handle *h); /* back to libcurl's defaults, as curl_easy_reset */
void handle_clear_replay(struct hk_handle *h); /* a new transfer starts: getinfo goes to libcurl */
/* Registers the tables' locks with forksafe (once, from hook_real.c). */
void handle_forksafe(void);
void multi_forksafe(void);
int handle_copy(struct hk_handle *dst, const struct hk_handle *src);
/* Mirrors an option libcurl accepted. 0, or -1 when out of memory (then the handle is marked
 * so that its transfers pass through uncached). */
void handle_note_option(struct hk_handle *h, CURLoption opt, struct hk_arg a);
/* The canonical text of the OPT_KEY options in force ("number=value\n" in option order); NULL
 * when all are at their defaults. *pass: the first OPT_PASS/OPT_UNKNOWN option in force, or 0. */
char *handle_key_options(const struct hk_handle *h, CURLoption *pass);
/* The body the next transfer sends (NULL: none from POSTFIELDS) and its length. */
const char *handle_body(const struct hk_handle *h, size_t *len);
/* Reads from the application's read callback (or fread from READDATA), as libcurl would. */
size_t handle_read(struct hk_handle *h, char *buf, size_t n);

/* Calls the application's progress callback as libcurl would (nothing when NOPROGRESS is on):
 * non-zero means it asked to abort the transfer. */
int handle_progress(struct hk_handle *h, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow);

/* Delivery to the application, the way libcurl would have delivered. */
size_t hk_write_body(struct hk_handle *h, char *p, size_t n);
size_t hk_write_header(struct hk_handle *h, char *p, size_t n);

/* ---- hook_coding.c: content codings llmshim undoes and redoes (zlib) ---- */
enum hk_coding { CODING_NONE, CODING_GZIP, CODING_DEFLATE, CODING_OTHER };
/* A Content-Encoding value: identity (or empty), gzip (x-gzip), deflate, or anything else. */
enum hk_coding coding_of(const char *value, size_t len);
/* 1 when an Accept-Encoding value (NULL: none sent) accepts gzip or deflate c. */
int coding_accepted(const char *accept, enum hk_coding c);
/* Decodes a gzip or zlib stream piece by piece (NULL: out of memory). feed: -1 on corrupt data,
 * data after the end, or no memory. */
struct inflater;
struct inflater *inflater_new(void);
int inflater_feed(struct inflater *f, const char *p, size_t n, struct buf *out);
int inflater_done(const struct inflater *f);
void inflater_free(struct inflater *f);
/* Encodes body[0, seg_end[nseg-1]) into out, flushing at each seg_end so every segment (a
 * stream's event) decodes as it arrives; wire_end[i]: where segment i ends in out. 0 or -1. */
int coding_encode(enum hk_coding c, const char *body, const size_t *seg_end, size_t nseg, struct buf *out,
                  size_t *wire_end);

/* ---- hook_info.c: getinfo and the header API for a transfer served from the cache ---- */
struct hk_hdr {
    char *name, *value;
    unsigned int type;  /* CURLH_HEADER, CURLH_PSEUDO */
};
/* Forgets what the last replayed transfer reported: getinfo goes to libcurl again. */
void info_clear(struct hk_handle *h);
/* A transfer llmshim ended without an answer (replay miss, a timeout while waiting): what
 * libcurl reports for a transfer that never connected, not the previous one's. */
void info_unanswered(struct hk_handle *h, const char *url, const char *method);
/* The headers of a replayed header block (status line first), for the header API; pseudo_status:
 * an HTTP/2 or 3 answer's status, given first as ":status" (0: none). 0, or -1 out of memory. */
int info_headers(struct hk_handle *h, const char *block, size_t len, int pseudo_status);
/* Answers getinfo for a replayed transfer: 1 answered, 0 pass to libcurl. */
int replay_getinfo(struct hk_handle *h, CURLINFO info, void *arg);
/* curl_easy_header and curl_easy_nextheader (lib/headers.c) over the replayed headers. */
CURLHcode info_header(struct hk_handle *h, const char *name, size_t nameindex, unsigned int type, int request,
                      struct curl_header **hout);
struct curl_header *info_nextheader(struct hk_handle *h, unsigned int type, int request, struct curl_header *prev);

/* ---- hook_replay.c: a hit delivered through the application's callbacks ---- */
struct replay_opts {
    double pace;         /* LLMSHIM_REPLAY_PACE */
    const char *status;  /* the X-LLMShim-Cache value: "HIT", "STALE" */
    curl_off_t sent;     /* the request body's length (reported as uploaded) */
    const char *url;     /* the URL asked (the effective URL) */
    const char *method;  /* the method word sent */
    long long t0_us;     /* when the transfer started (monotonic) */
};
struct replay;
/* Prepares the answer e (which must outlive the replay) for h; sets what getinfo reports. NULL:
 * out of memory, nothing reached the application, the network can still answer. */
struct replay *replay_new(struct hk_handle *h, const struct entry *e, const struct replay_opts *o);
/* Delivers what is due now: CURLE_OK done, CURLE_AGAIN more at replay_due(), else what ended it. */
CURLcode replay_step(struct replay *r);
/* When replay_step has something to do (monotonic µs): 0 now, LLONG_MAX not until resumed. */
long long replay_due(const struct replay *r);
/* Waits for replay_due, calling the progress callback while paused, as curl_easy_perform does. */
CURLcode replay_wait(struct replay *r);
/* curl_easy_pause on the handle being replayed. */
CURLcode replay_pause(struct replay *r, int bitmask);
void replay_free(struct replay *r);

/* ---- hook_record.c ---- */
struct record_opts {
    size_t max_bytes;
    int shape;          /* enum shape: how a complete stream ends */
    long long t0_us;    /* when the request started (monotonic), for stream event times */
    int hold_errors;    /* a stale entry can stand in: keep a 429/5xx answer from the app */
    void (*answering)(void *ud); /* called once, when the answer's first line arrives */
    void *answering_ud;
};

struct record_result {
    int storable;       /* e holds a complete 2xx answer the app accepted */
    int held;           /* an error answer was kept from the app (hold_errors) */
    int delivered;      /* some of the answer reached the app */
    long status;
    const char *why;    /* a complete answer that cannot be stored: why */
};

/* Wraps the handle's delivery callbacks with llmshim's tee (NULL: could not; the handle is
 * untouched); end gives the application's callbacks back and judges the answer (frees r). */
struct recorder;
struct recorder *record_begin(struct hk_handle *h, struct entry *e, const struct record_opts *o,
                              struct record_result *res);
void record_end(struct recorder *r, CURLcode rc);
/* 1 once the answer's first line arrived: the request has gone out. */
int record_answering(const struct recorder *r);
/* Sets the handle's delivery options in libcurl to what the application chose. */
void record_restore_delivery(struct hk_handle *h);

/* ---- hook_upload.c: a body from the application's read callback ---- */
struct upload;
/* Reads h's body from its read callback, up to max bytes (0: no limit). NULL: out of memory
 * before anything was read. Otherwise an upload whose data is the whole body, or, with *why
 * set, only its start: the transfer then passes through, the application's callback taking
 * over where llmshim stopped. */
struct upload *upload_read(struct hk_handle *h, size_t max, const char **why);
const char *upload_data(const struct upload *u, size_t *len);
int upload_complete(const struct upload *u);
int upload_chunked(const struct upload *u); /* no size declared: sent in chunks */
/* Puts llmshim's read and seek callbacks in place (-1: could not; the handle is restored). */
int upload_install(struct upload *u);
/* The application's read and seek options back in libcurl. */
void upload_restore(struct hk_handle *h);
void upload_free(struct upload *u);

/* ---- hook_mime.c, hook_mimekey.c: multipart bodies of libcurl's MIME API and forms ---- */
struct mime_key;
struct mp_writer;
/* Reads what h's MIMEPOST or HTTPPOST body holds so that it can be keyed (files hashed, parts
 * from read callbacks read ahead, at most max bytes each). NULL, or why it cannot be keyed; *out
 * is for mime_describe and must be given to mime_done either way. */
const char *mime_prepare(struct hk_handle *h, size_t max, struct mime_key **out);
/* The Content-Type the program set for such a body (libcurl sends it, with its boundary, instead
 * of multipart/form-data); NULL: none. */
const char *mime_content_type(const struct hk_handle *h);
/* Writes the parts (call_request.multipart). 0, or -1 when out of memory. */
int mime_describe(void *mime_key, struct mp_writer *w);
/* After the transfer: NULL when libcurl sent what was keyed, else why not. */
const char *mime_sent_other(const struct mime_key *k);
/* The transfer is over (mime_key may be NULL). */
void mime_done(struct mime_key *k);
/* curl_easy_duphandle copied a handle with this MIMEPOST: libcurl's copy holds llmshim's
 * callbacks too. */
void mime_duplicated(const void *mime);

/* ---- hook_control.c: X-LLMShim-Cache-Control, the program's per-request say ---- */
struct control {
    int no_lookup;   /* no-cache, refresh, no-store: ask the API */
    int no_store;    /* no-store */
    int only_cached; /* only-if-cached: never the network */
    long long ttl;   /* ttl=SECONDS; -1: LLMSHIM_TTL */
};
/* Reads the control header lines among headers into c; returns how many there were. */
int control_read(const struct curl_slist *headers, struct control *c);
/* headers without the control lines, as nodes pointing at the program's strings (free() the
 * result; *count nodes, 0 when none is left). NULL when out of memory. */
struct curl_slist *control_strip(const struct curl_slist *headers, size_t *count);

/* ---- hook_precall.c: the progress callback asked before deciding ---- */
/* Calls h's progress callback as libcurl first would (NOPROGRESS off). Returns non-zero when it
 * asked to abort. *hold: the options it set that libcurl would only have seen at the next
 * transfer (NULL: none), to hold_apply when this transfer ends. */
int precall_progress(struct hk_handle *h, struct hold **hold);
/* An option set while h->holding: 1 held (do not forward), 0 forward it now. */
int hold_option(struct hold *hd, CURLoption opt, struct hk_arg a);
/* Gives libcurl (and the mirror) the held options, in order, and frees hd. */
void hold_apply(struct hold *hd, struct hk_handle *h);

/* ---- hook_transfer.c: one transfer's life ---- */
enum xfer_kind {
    XFER_PASS,    /* not llmshim's: libcurl does it all (an xfer only when options are held) */
    XFER_HIT,     /* answered from the cache */
    XFER_REFUSE,  /* replay mode, and no entry (or no key): fails without the network */
    XFER_RECORD,  /* a miss: libcurl fetches it, llmshim records it */
};

/* Decides h's transfer from the options in force now. may_wait: a miss may wait for another
 * process fetching the same prompt (curl_easy_perform; never inside an event loop). Returns NULL
 * for XFER_PASS (also when out of memory), else a transfer to finish with xfer_answer or
 * xfer_record_begin/xfer_record_end, then xfer_free. */
struct xfer *xfer_start(struct hk_handle *h, int may_wait);
enum xfer_kind xfer_kind(const struct xfer *x);
/* HIT or REFUSE: delivers through the application's callbacks, waiting where the answer must
 * (paced, paused); returns the transfer's result. For a hit that ran out of memory before
 * anything was delivered, the transfer becomes a RECORD and CURLE_AGAIN is returned: record it
 * instead. Frees nothing. */
CURLcode xfer_answer(struct xfer *x);
/* The same without waiting (the multi API): delivers what is due now; *more: the answer goes on
 * at xfer_due() (monotonic µs; LLONG_MAX: once resumed) through xfer_answer_step. */
CURLcode xfer_answer_start(struct xfer *x, int *more);
CURLcode xfer_answer_step(struct xfer *x, int *more);
long long xfer_due(const struct xfer *x);
/* RECORD: puts llmshim's recorder and a private copy of the keyed body in place. -1: could not
 * (the handle is as the application left it; pass the transfer through). */
int xfer_record_begin(struct xfer *x);
/* RECORD: the real transfer ended with rc: gives the handle back, checks that what was sent is
 * what was keyed, stores, logs, counts. Returns what the transfer ends with. */
CURLcode xfer_record_end(struct xfer *x, CURLcode rc);
/* An option the application sets on a handle whose transfer llmshim records (from a callback).
 * 1: a delivery option, mirrored only (the recorder calls it; do not forward). 0: forward it to
 * libcurl, which acts on it as it would without llmshim; a change to the request means the
 * answer is not stored. */
int xfer_option_set(struct xfer *x, CURLoption opt);
/* The transfer ended with rc (RECORD: records, checks, stores). Returns what it ends with. */
CURLcode xfer_end(struct xfer *x, CURLcode rc);
/* Frees x, first giving libcurl any option held for after the transfer. A transfer that did not finish (removed from its multi, handle cleaned up) stores
 * nothing; a recorder still in place is taken down first. */
void xfer_free(struct xfer *x);
/* A copy made by curl_easy_duphandle while x records: give the copy the application's callbacks,
 * body and held options instead of llmshim's. */
void xfer_fix_duplicate(const struct xfer *x, struct hk_handle *dup);

/* hook_multi.c: a handle that is cleaned up while still in a multi leaves it. */
void multi_forget(struct hk_handle *h);
/* A replay in a multi was resumed (curl_easy_pause): the application's timer must know. */
void multi_replay_resumed(struct hk_handle *h);

#endif
