/* One transfer's life, whichever libcurl API drives it (hook.h shows the whole path):
 * decided from the options in force when it starts, answered from the cache or recorded, then
 * checked and stored. hook_easy.c and hook_multi.c only say when a transfer starts and ends. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hook.h"
#include "log.h"

struct xfer {
    enum xfer_kind kind;
    struct hk_handle *h;
    const struct config *cfg;
    struct call c;
    long long t0;
    struct entry e;       /* HIT: the answer. RECORD: an expired entry that may stand in */
    int has_e;
    struct replay *rp;    /* the answer being delivered */
    int leader;           /* holds the prompt's fill lock */
    char why[CURL_ERROR_SIZE]; /* REFUSE: the error the transfer ends with ... */
    CURLcode refuse_rc;        /* ... and its code */
    char *sent;           /* RECORD: the POSTFIELDS body that was keyed, handed to libcurl */
    size_t sent_len;      /* the body's length, whichever way it is sent */
    struct upload *up;    /* a body read from the application's read callback */
    struct mime_key *mime; /* a MIMEPOST or HTTPPOST body, keyed by its parts */
    int relay;            /* only hands an upload on: nothing keyed, nothing stored */
    struct entry rec;
    struct record_result res;
    struct recorder *r;
    struct hold *hold;    /* options the progress callback set for the next transfer (precall) */
    char *url;            /* the URL judged */
    struct control ctl;   /* what X-LLMShim-Cache-Control asked */
    struct curl_slist *hdrs; /* the program's headers without it, sent in their place */
    size_t nhdrs;
    int guard;            /* replay: llmshim's pre-request callback watches where it goes */
    int guarded;          /* ... and it stopped a redirect to an LLM endpoint */
    CURLoption changed;   /* the program changed the request while it ran: never stored */
    int body_given_back;  /* ... and libcurl has the program's own body again */
};

#define SET(h, opt, val) (h)->real->curl_easy_setopt((h)->curl, opt, val)

/* ---- deciding ---------------------------------------------------------------------------- */

static struct xfer *start(struct xfer *x, const char *url, int may_wait);

/* A URL fit for a log line: without user:password@ or credential query parameters. */
static char *loggable(const char *url) {
    struct url u;
    if (url_parse(url, &u) != 0) return strdup("(a URL)");
    char *safe = url_safe(&u);
    url_free(&u);
    return safe;
}


/* The method word libcurl sends, or NULL when llmshim cannot say what the body is. */
static const char *method_word(const struct hk_handle *h) {
    static const char *const words[] = {"GET", "POST", "PUT", "HEAD", "POST", "POST"};
    return h->customrequest ? h->customrequest : words[h->method];
}

/* Why an LLM-endpoint transfer cannot be keyed; NULL when it can. */
/* *via_read: the body comes from the application's read callback (an upload, or a POST without
 * POSTFIELDS), to be read before keying. */
static const char *unkeyable(const struct hk_handle *h, const struct config *cfg, CURLoption pass, char *buf,
                             size_t size, int *via_read) {
    *via_read = 0;
    if (h->unreadable) return "an option could not be read (out of memory)";
    int multipart = h->method == HK_POST_MIME || h->method == HK_POST_FORM;
    if (h->method != HK_POST && h->method != HK_PUT && !multipart) return "not a POST";
    if (h->nobody) return "CURLOPT_NOBODY is set (libcurl sends HEAD)"; /* POSTFIELDS keeps NOBODY */
    if (cfg->key_scope && h->cookie_engine)
        return "LLMSHIM_KEY_SCOPE cannot see credentials from libcurl's cookie engine or .netrc";
    if (h->method == HK_PUT && !h->customrequest) return "a PUT (CURLOPT_UPLOAD)";
    if (h->customrequest && strcmp(h->customrequest, "POST") != 0) {
        snprintf(buf, size, "the method is \"%.40s\", not POST", h->customrequest);
        return buf;
    }
    *via_read = !multipart && (h->method == HK_PUT || !h->postfields);
    size_t len = 0;
    if (!*via_read && !multipart) handle_body(h, &len);
    if (cfg->max_entry_bytes && len > cfg->max_entry_bytes) return "the body is larger than LLMSHIM_MAX_ENTRY_BYTES";
    if (pass) {
        const char *name = opt_pass_name(pass);
        if (name) snprintf(buf, size, "%s is set", name);
        else snprintf(buf, size, "option %d, newer than llmshim, is set", (int)pass);
        return buf;
    }
    return NULL;
}

/* A transfer that is not llmshim's: a GET or HEAD is never a prompt, so even replay lets it go. */
static int harmless(const struct hk_handle *h) {
    return (h->method == HK_GET || h->method == HK_HEAD || h->nobody) && !h->customrequest;
}

/* A newcomer's first try with a local server: say why nothing was cached, and how to change it. */
static void not_an_endpoint(const struct hk_handle *h, const char *url) {
    struct url u;
    if (url_parse(url, &u) != 0) return;
    char *safe = url_safe(&u);
    char port[16] = "";
    if (u.port) snprintf(port, sizeof(port), ":%d", u.port);
    size_t seg = strcspn(u.path + 1, "/") + 1; /* the first path segment, e.g. /v1 */
    log_line("PASS %s %s: not an LLM endpoint; to cache it: LLMSHIM_ENDPOINTS=%s://%s%s%.*s", method_word(h),
             safe ? safe : "(URL)", u.scheme, u.host, port, (int)seg, u.path);
    free(safe);
    url_free(&u);
}

static struct xfer *refuse(struct xfer *x, const char *fmt, const char *what, const char *url) {
    x->kind = XFER_REFUSE;
    x->refuse_rc = CURLE_COULDNT_CONNECT;
    char *safe = loggable(url);
    snprintf(x->why, sizeof(x->why), fmt, what, safe ? safe : "(a URL)");
    free(safe);
    log_line("%s", x->why + strlen("llmshim: "));
    return x;
}

static void lookup(struct xfer *x, int may_wait) {
    const struct config *cfg = x->cfg;
    x->c.ttl = x->ctl.ttl;
    /* replay stays sealed whatever the header asks; only-if-cached seals this one request */
    if ((cfg->mode == MODE_RECORD || x->ctl.no_lookup) && cfg->mode != MODE_REPLAY && !x->ctl.only_cached) {
        x->kind = XFER_RECORD;
        return;
    }
    enum lookup l = cache_lookup(&x->c, &x->e);
    if (l == LOOKUP_HIT) {
        x->kind = XFER_HIT;
        x->has_e = 1;
        return;
    }
    if (l == LOOKUP_STALE) x->has_e = 1;
    if (cfg->mode == MODE_REPLAY || x->ctl.only_cached) {
        if (x->has_e) entry_free(&x->e);
        x->has_e = 0;
        x->kind = XFER_REFUSE;
        x->refuse_rc = CURLE_COULDNT_CONNECT;
        cache_replay_miss(&x->c, x->why, sizeof(x->why));
        return;
    }
    x->kind = XFER_RECORD;
    if (!may_wait) return; /* an event loop must not wait for another process's fetch */
    struct entry fresh;
    /* the program's CURLOPT_TIMEOUT counts from the transfer's start, waiting included */
    long long deadline = x->h->timeout_ms > 0 ? x->t0 + x->h->timeout_ms * 1000 : 0;
    enum fill f = cache_fill_begin(&x->c, &fresh, deadline);
    if (f == FILL_TIMEOUT) { /* the fetch it waited for is as slow as its own would have been */
        if (x->has_e) entry_free(&x->e);
        x->has_e = 0;
        x->kind = XFER_REFUSE;
        x->refuse_rc = CURLE_OPERATION_TIMEDOUT;
        snprintf(x->why, sizeof(x->why), "Operation timed out after %lld milliseconds with 0 bytes received",
                 (cache_monotonic_us() - x->t0) / 1000);
        return;
    }
    if (f == FILL_HIT) {
        if (x->has_e) entry_free(&x->e);
        x->e = fresh;
        x->has_e = 1;
        x->kind = XFER_HIT;
    }
    x->leader = f == FILL_LEADER;
}

/* The URL libcurl will use: a CURLOPT_CURLU handle's (it wins over CURLOPT_URL), or the string.
 * *own: a copy to free with the libcurl's curl_free. */
static const char *url_of(const struct hk_handle *h, char **own) {
    *own = NULL;
    if (!h->curlu) return h->url;
    if (!h->real->curl_url_get || !h->real->curl_free ||
        h->real->curl_url_get(h->curlu, CURLUPART_URL, own, 0) != CURLUE_OK)
        return NULL;
    return *own;
}

/* Before each request libcurl sends for a transfer llmshim passed in replay mode (a redirect
 * included): one to an LLM endpoint is stopped. The program's own callback is asked after. */
static int guard_request(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port) {
    struct xfer *x = ud;
    struct hk_handle *h = x->h;
    char *url = NULL;
    if (h->real->curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
        call_is_llm_url(x->cfg, url)) {
        char *safe = loggable(url);
        log_line("replay: not sent, because a redirect led to an LLM endpoint: %s", safe ? safe : "(a URL)");
        free(safe);
        x->guarded = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return h->prereq_cb ? h->prereq_cb(h->prereq_data, primary_ip, local_ip, primary_port, local_port)
                        : CURL_PREREQFUNC_OK;
}

static int install_guard(struct xfer *x) {
    struct hk_handle *h = x->h;
    if (SET(h, CURLOPT_PREREQFUNCTION, guard_request) != CURLE_OK) return -1;
    if (SET(h, CURLOPT_PREREQDATA, x) != CURLE_OK) {
        SET(h, CURLOPT_PREREQFUNCTION, h->prereq_cb);
        return -1;
    }
    return 0;
}

struct xfer *xfer_start(struct hk_handle *h, int may_wait) {
    const struct config *cfg = cache_config();
    if (cfg->mode == MODE_OFF) return NULL;
    struct xfer *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->h = h;
    x->cfg = cfg;
    x->t0 = cache_monotonic_us();
    /* libcurl asks the progress callback before it sends the request: so does llmshim, before
     * it reads the options (hook_precall.c) */
    if (!h->noprogress && (h->url || h->curlu)) { /* without a URL libcurl fails before asking */
        if (precall_progress(h, &x->hold)) {
            x->kind = XFER_REFUSE;
            x->refuse_rc = CURLE_ABORTED_BY_CALLBACK;
            snprintf(x->why, sizeof(x->why), "Callback aborted");
            return x;
        }
    }
    /* llmshim's own header is read here and never leaves the machine */
    if (control_read(h->headers, &x->ctl) && (x->hdrs = control_strip(h->headers, &x->nhdrs)) != NULL)
        SET(h, CURLOPT_HTTPHEADER, x->nhdrs ? x->hdrs : NULL);
    char *own;
    const char *url = url_of(h, &own);
    struct xfer *decided = url ? start(x, url, may_wait) : NULL;
    if (own) h->real->curl_free(own);
    if (decided) return decided;
    /* replay: a request that is not an LLM call may still become one on the way (a redirect
     * to an LLM endpoint, an HSTS upgrade): libcurl asks llmshim before each request it sends */
    if (cfg->mode == MODE_REPLAY && !harmless(h) && install_guard(x) == 0) x->guard = 1;
    if (x->hold || x->hdrs || x->guard) { /* libcurl passes it, and gets the program's options back after */
        x->kind = XFER_PASS;
        return x;
    }
    xfer_free(x);
    return NULL;
}

/* A body read ahead, whole or in part, that cannot be keyed: in replay the transfer fails; else
 * what was read is handed on first and the rest is the program's, nothing stored. */
static struct xfer *relay(struct xfer *x, const char *what, const char *why, const char *url) {
    if (x->cfg->mode == MODE_REPLAY) return refuse(x, "llmshim: replay: not sent, because %s: %s", why, url);
    if (x->cfg->log >= LOG_INFO) {
        char *safe = loggable(url);
        log_line("BYPASS %s%s: %s", what, why, safe ? safe : "(a URL)");
        free(safe);
    }
    x->kind = XFER_RECORD;
    x->relay = 1;
    return x;
}

/* NULL: the transfer passes through (x is the caller's to free). */
static struct xfer *start(struct xfer *x, const char *url, int may_wait) {
    struct hk_handle *h = x->h;
    const struct config *cfg = x->cfg;
    if (!call_is_llm_url(cfg, url)) {
        if (cfg->log >= LOG_DEBUG && !harmless(h)) not_an_endpoint(h, url);
        return NULL;
    }
    if (!(x->url = strdup(url))) return NULL;

    CURLoption pass;
    char *options = handle_key_options(h, &pass);
    char why[96];
    int via_read;
    const char *reason = unkeyable(h, cfg, pass, why, sizeof(why), &via_read);
    const unsigned char *secret = NULL;
    if (!reason && cfg->key_scope && !(secret = cache_scope_secret())) reason = "no LLMSHIM_KEY_SCOPE secret";
    if (reason) {
        free(options);
        if (harmless(h) || cfg->mode != MODE_REPLAY) {
            if (!harmless(h) && cfg->log >= LOG_INFO) {
                char *safe = loggable(url);
                log_line("BYPASS %s: %s", reason, safe ? safe : "(a URL)");
                free(safe);
            }
            return NULL;
        }
        return refuse(x, "llmshim: replay: not sent, because %s: %s", reason, url);
    }
    size_t len = 0;
    const char *body = NULL;
    int multipart = h->method == HK_POST_MIME || h->method == HK_POST_FORM;
    if (multipart) { /* files hashed, callback parts read ahead: libcurl sends what is keyed */
        const char *mwhy = mime_prepare(h, cfg->max_entry_bytes, &x->mime);
        if (mwhy) {
            free(options);
            return relay(x, "", mwhy, url);
        }
    } else if (via_read) {
        const char *uwhy;
        x->up = upload_read(h, cfg->max_entry_bytes, &uwhy);
        if (!x->up) { /* nothing was read: libcurl can still send it all */
            free(options);
            return NULL;
        }
        if (!upload_complete(x->up)) {
            free(options);
            return relay(x, "an upload whose body ", uwhy, url);
        }
        body = upload_data(x->up, &len);
    } else {
        body = handle_body(h, &len);
    }

    const struct curl_slist *sent_headers = x->hdrs ? (x->nhdrs ? x->hdrs : NULL) : h->headers;
    size_t nlines = 0; /* every header line counts, however many */
    for (const struct curl_slist *l = sent_headers; l; l = l->next) nlines++;
    const char **lines = malloc((nlines ? nlines : 1) * sizeof(*lines));
    nlines = 0;
    for (const struct curl_slist *l = sent_headers; l && lines; l = l->next) lines[nlines++] = l->data;
    struct call_request req = {
        .method = method_word(h),
        .url = url,
        .body = body,
        .body_len = len,
        .headers = lines,
        .nheaders = nlines,
        .credentials = (const char *const *)h->creds,
        .ncredentials = HK_NCREDS,
        .scope_secret = secret,
        .options = options,
        .multipart = multipart ? mime_describe : NULL,
        .multipart_ud = x->mime,
        .multipart_type = multipart ? mime_content_type(h) : NULL,
    };
    x->sent = via_read || multipart ? NULL : malloc(len + 1);
    int kind = (x->sent || via_read || multipart) && lines ? call_analyze_request(&x->c, cfg, &req) : -1;
    free(options);
    free(lines);
    if (kind <= 0) {
        if (kind < 0) log_line("out of memory while reading a request; using the network");
        if (!x->up && !x->mime) {
            free(x->sent);
            x->sent = NULL;
            call_free(&x->c);
            return NULL;
        }
        x->kind = XFER_RECORD; /* the body was read: hand it on */
        x->relay = 1;
        return x;
    }
    /* the bytes keyed are the bytes sent: libcurl gets this copy, whatever happens to the
     * application's buffer while the transfer runs */
    if (x->sent) {
        memcpy(x->sent, body, len);
        x->sent[len] = '\0';
    }
    x->sent_len = len;
    lookup(x, may_wait);
    return x;
}

enum xfer_kind xfer_kind(const struct xfer *x) {
    return x->kind;
}

/* ---- answering from the cache ------------------------------------------------------------ */

static void log_event(const struct xfer *x, const char *what, long long us) {
    const struct config *cfg = x->cfg;
    const struct call *c = &x->c;
    if (cfg->log >= LOG_INFO)
        log_line("%s %s model=%s key=%.12s %lldus %s", what, c->ep.provider, c->model ? c->model : "-",
                 c->hex, us, c->safe_url);
    if (cfg->log >= LOG_DEBUG) /* enough to find the entry and to see what was hashed */
        log_line("  key=%s entry=%s shape=%s body=%zu bytes (%s)%s%s%s", c->hex, c->name, shape_name(c->ep.shape),
                 c->body.len, c->body_json ? "canonical JSON" : "raw", c->key_headers ? " +headers" : "",
                 c->key_options ? " +options " : "", c->key_options ? c->key_options : "");
}

/* Starts delivering x->e: 0, or -1 when out of memory before anything reached the program. */
static int replay_begin(struct xfer *x, const char *status, double pace) {
    struct replay_opts o = {.pace = pace, .status = status, .sent = (curl_off_t)x->sent_len, .url = x->url,
                            .method = method_word(x->h), .t0_us = x->t0};
    x->rp = replay_new(x->h, &x->e, &o);
    return x->rp ? 0 : -1;
}

/* The replay ended with rc: logged, counted, let go. */
static CURLcode replay_done(struct xfer *x, CURLcode rc) {
    replay_free(x->rp);
    x->rp = NULL;
    long long us = cache_monotonic_us() - x->t0;
    log_event(x, "HIT", us);
    cache_count(&x->c, OUTCOME_HIT, &x->e, us);
    entry_free(&x->e);
    x->has_e = 0;
    return rc;
}

CURLcode xfer_answer_start(struct xfer *x, int *more) {
    struct hk_handle *h = x->h;
    *more = 0;
    if (x->kind != XFER_HIT && x->kind != XFER_REFUSE) return CURLE_AGAIN;
    /* libcurl would have started this transfer by now: what the progress callback set for the
     * next one is in force from here on (the answer's callbacks may set more) */
    hold_apply(x->hold, h);
    x->hold = NULL;
    if (x->kind == XFER_REFUSE) {
        info_unanswered(h, x->url ? x->url : h->url, method_word(h));
        if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "%s", x->why);
        return x->refuse_rc;
    }
    if (replay_begin(x, "HIT", x->cfg->replay_pace) != 0) {
        if (x->cfg->mode == MODE_REPLAY) return CURLE_OUT_OF_MEMORY;
        /* nothing reached the application yet: ask the API instead */
        entry_free(&x->e);
        x->has_e = 0;
        x->kind = XFER_RECORD;
        return CURLE_AGAIN;
    }
    return xfer_answer_step(x, more);
}

CURLcode xfer_answer_step(struct xfer *x, int *more) {
    CURLcode rc = replay_step(x->rp);
    *more = rc == CURLE_AGAIN;
    return *more ? rc : replay_done(x, rc);
}

long long xfer_due(const struct xfer *x) {
    return x->rp ? replay_due(x->rp) : LLONG_MAX;
}

CURLcode xfer_answer(struct xfer *x) {
    int more;
    CURLcode rc = xfer_answer_start(x, &more);
    while (more) { /* paced or paused: curl_easy_perform waits, as libcurl's loop would */
        if ((rc = replay_wait(x->rp)) != CURLE_OK) return replay_done(x, rc);
        rc = xfer_answer_step(x, &more);
    }
    return rc;
}

/* ---- recording a miss -------------------------------------------------------------------- */

/* The application's body options, as it set them, back in libcurl. */
static void restore_body(struct hk_handle *h) {
    if (h->copy && h->postfields == h->copy) { /* COPYPOSTFIELDS: libcurl copies it again */
        SET(h, CURLOPT_POSTFIELDSIZE_LARGE, h->postsize);
        SET(h, CURLOPT_COPYPOSTFIELDS, h->copy);
    } else {
        SET(h, CURLOPT_POSTFIELDS, h->postfields);
        SET(h, CURLOPT_POSTFIELDSIZE_LARGE, h->postsize);
    }
    /* setting a body makes libcurl's method POST: the program may have chosen another since */
    if (h->method == HK_GET) SET(h, CURLOPT_HTTPGET, 1L);
    else if (h->method == HK_HEAD) SET(h, CURLOPT_NOBODY, 1L);
    else if (h->method == HK_PUT) SET(h, CURLOPT_UPLOAD, 1L);
}

/* The answer starts: libcurl has long read what it reads as a transfer starts, so the options
 * held from the progress callback go to libcurl now, before the answer's callbacks set more. */
static void answering(void *ud) {
    struct xfer *x = ud;
    hold_apply(x->hold, x->h);
    x->hold = NULL;
}

int xfer_record_begin(struct xfer *x) {
    struct hk_handle *h = x->h;
    if (x->relay) { /* no recorder: only the body read so far is handed on */
        if (x->up && upload_install(x->up) != 0) return -1;
        h->x = x;
        return 0;
    }
    struct record_opts o = {.max_bytes = x->cfg->max_entry_bytes, .shape = x->c.ep.shape, .t0_us = x->t0,
                            .hold_errors = x->has_e, .answering = answering, .answering_ud = x};
    x->r = record_begin(h, &x->rec, &o, &x->res);
    if (!x->r) return -1;
    /* libcurl reads the header list when it builds the request, later than llmshim keyed it: it
     * gets a copy of the list as keyed (a program appending to its list meanwhile changes the
     * next request, not this one's key) */
    if (!x->hdrs && h->headers && (x->hdrs = control_strip(h->headers, &x->nhdrs)) != NULL)
        SET(h, CURLOPT_HTTPHEADER, x->nhdrs ? x->hdrs : NULL);
    if (x->mime) { /* libcurl sends the program's parts itself (hook_mime.c) */
    } else if (x->up ? upload_install(x->up) != 0
                     : (SET(h, CURLOPT_POSTFIELDS, x->sent) != CURLE_OK ||
                        SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->sent_len) != CURLE_OK)) {
        record_end(x->r, CURLE_ABORTED_BY_CALLBACK);
        x->r = NULL;
        if (!x->up) restore_body(h);
        return -1;
    }
    h->x = x;
    return 0;
}

int xfer_option_set(struct xfer *x, CURLoption opt) {
    if (!x || x->kind != XFER_RECORD || !x->h->x) return 0;
    enum opt_class c = opt_class(opt);
    if (c == OPT_NEUTRAL) return 0;
    if (c == OPT_DELIVERY) return x->r != NULL; /* the recorder's tee calls what the mirror says */
    /* forwarded, libcurl acts on it as it would without llmshim. Before the answer starts, the
     * request may not have gone out yet (or an upload may read on): the answer is then not the
     * keyed request's. Once it has started, the request is sent (redirected answers are never
     * stored), and the change is for the next transfer. */
    int upload_source = opt == CURLOPT_READFUNCTION || opt == CURLOPT_READDATA || opt == CURLOPT_SEEKFUNCTION ||
                        opt == CURLOPT_SEEKDATA;
    if (!x->changed && (!x->r || !record_answering(x->r) || upload_source)) x->changed = opt;
    if (!x->up && !x->mime && !x->body_given_back) { /* libcurl reads the program's body from now on */
        restore_body(x->h);
        x->body_given_back = 1;
    }
    return 0;
}

/* Takes llmshim's recorder and body out of the handle and applies what the application set
 * meanwhile. */
static void give_back(struct xfer *x, CURLcode rc) {
    struct hk_handle *h = x->h;
    h->x = NULL;
    if (x->r) record_end(x->r, rc);
    x->r = NULL;
    if (x->up) upload_restore(h);
    else if (!x->mime && !x->body_given_back) restore_body(h);
}

/* NULL when libcurl says it sent the request that was keyed, else why not. */
static const char *sent_other(const struct xfer *x) {
    const struct hk_handle *h = x->h;
    long redirects = 0; /* a hit could not show the program the redirect's own headers */
    if (h->real->curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_COUNT, &redirects) == CURLE_OK && redirects > 0)
        return "the answer came through a redirect";
    char *method = NULL;
    if (h->real->curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_METHOD, &method) == CURLE_OK && method &&
        strcmp(method, "POST") != 0)
        return "libcurl sent another method than the one keyed (a redirect was followed)";
    if (x->mime) return mime_sent_other(x->mime); /* libcurl counts the boundaries too */
    curl_off_t up = -1; /* a chunked upload counts its chunks' framing too */
    int chunked = x->up && upload_chunked(x->up);
    if (h->real->curl_easy_getinfo(h->curl, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up >= 0 &&
        (chunked ? (size_t)up < x->sent_len : (size_t)up != x->sent_len))
        return "libcurl sent another body than the one keyed";
    return NULL;
}

CURLcode xfer_record_end(struct xfer *x, CURLcode rc) {
    give_back(x, rc);
    if (x->relay) return rc;
    long long us = cache_monotonic_us() - x->t0;
    const char *other = x->res.storable ? sent_other(x) : NULL;
    char changed[96];
    if (x->res.storable && x->ctl.no_store) {
        x->res.storable = 0; /* as asked: X-LLMShim-Cache-Control: no-store */
        other = NULL;
    }
    if (x->res.storable && x->changed) {
        snprintf(changed, sizeof(changed), "the program changed option %d while the transfer ran", (int)x->changed);
        other = changed;
    }
    if (!x->res.storable && x->res.why) other = x->res.why;
    if (!other && x->res.storable &&
        (x->c.ttl_max = call_answer_ttl_max(&x->c, x->rec.body, x->rec.body_len, x->cfg->stale_if_error)) < 0)
        other = "its image URLs expire within the hour (LLMSHIM_STALE_IF_ERROR is too long to keep them)";
    if (other) {
        log_line("not stored: %s (key %.12s, %s)", other, x->c.hex, x->c.safe_url);
        x->res.storable = 0;
    }
    if (x->res.storable) {
        int stored = cache_store(&x->c, &x->rec, us) == 0;
        log_event(x, stored ? "STORE" : "MISS (not stored)", us);
        cache_count(&x->c, stored ? OUTCOME_STORE : OUTCOME_MISS, stored ? &x->rec : NULL, us);
    } else if (x->has_e && (x->res.held || (rc != CURLE_OK && !x->res.delivered))) {
        /* the API failed (429, 5xx, no connection) and nothing reached the app yet */
        if (replay_begin(x, "STALE", 0) == 0) {
            while ((rc = replay_step(x->rp)) == CURLE_AGAIN)
                if ((rc = replay_wait(x->rp)) != CURLE_OK) break;
            replay_free(x->rp);
            x->rp = NULL;
        } else {
            rc = CURLE_OUT_OF_MEMORY;
        }
        log_event(x, "STALE", cache_monotonic_us() - x->t0);
        cache_count(&x->c, OUTCOME_STALE, &x->e, us);
    } else {
        int failed = rc != CURLE_OK || x->res.status < 200 || x->res.status >= 300;
        log_event(x, failed ? "ERROR" : "MISS", us);
        cache_count(&x->c, failed ? OUTCOME_ERROR : OUTCOME_MISS, NULL, us);
    }
    return rc;
}

void xfer_fix_duplicate(const struct xfer *x, struct hk_handle *dup) {
    if (x->kind != XFER_RECORD || (!x->r && !x->relay)) return; /* nothing of llmshim's in place */
    record_restore_delivery(dup);
    if (x->up) upload_restore(dup);
    else if (!x->mime) restore_body(dup);
    if (x->hdrs) SET(dup, CURLOPT_HTTPHEADER, dup->headers);
}

CURLcode xfer_end(struct xfer *x, CURLcode rc) {
    if (x->kind == XFER_RECORD) rc = xfer_record_end(x, rc);
    x->h->x = NULL;
    return rc;
}

void xfer_free(struct xfer *x) {
    if (!x) return;
    if (x->r || (x->relay && x->h->x == x)) give_back(x, CURLE_ABORTED_BY_CALLBACK); /* never finished: nothing stored */
    if (x->leader) cache_fill_end(&x->c);
    replay_free(x->rp); /* a hit cut short: removed from its multi, or its handle cleaned up */
    if (x->has_e) entry_free(&x->e);
    entry_free(&x->rec);
    call_free(&x->c);
    free(x->sent);
    upload_free(x->up);
    mime_done(x->mime);
    if (x->guard) { /* the program's own pre-request callback back */
        SET(x->h, CURLOPT_PREREQFUNCTION, x->h->prereq_cb);
        SET(x->h, CURLOPT_PREREQDATA, x->h->prereq_data);
        if (x->guarded && x->h->errorbuffer)
            snprintf(x->h->errorbuffer, CURL_ERROR_SIZE, "llmshim: replay: not sent, because a redirect led to an LLM endpoint");
    }
    if (x->hdrs) { /* the program's own header list back in libcurl */
        SET(x->h, CURLOPT_HTTPHEADER, x->h->headers);
        free(x->hdrs);
    }
    hold_apply(x->hold, x->h);
    free(x->url);
    free(x);
}
