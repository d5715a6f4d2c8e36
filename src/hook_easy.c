/* The exported hooks for libcurl's easy API. Each one forwards to the real libcurl; only
 * curl_easy_perform on a recognized LLM request and curl_easy_getinfo after a cache hit
 * answer by themselves. Calls made by libcurl itself (hook_depth > 0) pass straight through. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "hook.h"
#include "log.h"

/* What libcurl would say if it were not loaded at all: never call through NULL. */
#define REAL_OR(api, fn, fallback) \
    do {                           \
        if (!(api)->fn) return fallback; \
    } while (0)

static const struct real_api *api_for(struct hk_handle *h, const void *caller) {
    return h ? h->real : real_for_caller(caller);
}

HOOK_EXPORT CURL *curl_easy_init(void) {
    const struct real_api *r = real_for_caller(HOOK_CALLER());
    REAL_OR(r, curl_easy_init, NULL);
    CURL *curl = r->curl_easy_init();
    if (curl && hook_depth == 0) handle_add(curl, r); /* untracked on failure: passes through */
    return curl;
}

HOOK_EXPORT CURLcode curl_easy_setopt(CURL *curl, CURLoption opt, ...) {
    va_list ap;
    long l = 0;
    void *ptr = NULL;
    curl_off_t o = 0;
    va_start(ap, opt);
    /* read the argument with the type libcurl reads it with: the option number says which */
    if (opt < CURLOPTTYPE_OBJECTPOINT) l = va_arg(ap, long);
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT) ptr = va_arg(ap, void *);
    else if (opt < CURLOPTTYPE_OFF_T) ptr = (void *)va_arg(ap, void (*)(void));
    else if (opt < CURLOPTTYPE_BLOB) o = va_arg(ap, curl_off_t);
    else ptr = va_arg(ap, void *);
    va_end(ap);

    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    const struct real_api *r = api_for(h, HOOK_CALLER());
    REAL_OR(r, curl_easy_setopt, CURLE_FAILED_INIT);
    CURLcode rc;
    if (opt < CURLOPTTYPE_OBJECTPOINT) rc = r->curl_easy_setopt(curl, opt, l);
    else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) rc = r->curl_easy_setopt(curl, opt, o);
    else rc = r->curl_easy_setopt(curl, opt, ptr);
    if (rc != CURLE_OK || hook_depth || !curl) return rc;
    if (!h) h = handle_add(curl, r); /* a handle made before llmshim saw it */
    if (h) handle_note_option(h, opt, ptr, l, o);
    return rc;
}

HOOK_EXPORT CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...) {
    va_list ap;
    va_start(ap, info);
    void *arg = va_arg(ap, void *); /* every getinfo takes one pointer */
    va_end(ap);
    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    if (h && h->replayed && arg && replay_getinfo(h, info, arg)) return CURLE_OK;
    const struct real_api *r = api_for(h, HOOK_CALLER());
    REAL_OR(r, curl_easy_getinfo, CURLE_FAILED_INIT);
    return r->curl_easy_getinfo(curl, info, arg);
}

HOOK_EXPORT void curl_easy_reset(CURL *curl) {
    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    const struct real_api *r = api_for(h, HOOK_CALLER());
    if (r->curl_easy_reset) r->curl_easy_reset(curl);
    if (h) handle_reset(h);
}

HOOK_EXPORT CURL *curl_easy_duphandle(CURL *curl) {
    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    const struct real_api *r = api_for(h, HOOK_CALLER());
    REAL_OR(r, curl_easy_duphandle, NULL);
    CURL *dup = r->curl_easy_duphandle(curl);
    if (dup && h) {
        struct hk_handle *d = handle_add(dup, r);
        if (d && handle_copy(d, h) != 0) handle_remove(dup); /* untracked: passes through */
    }
    return dup;
}

HOOK_EXPORT void curl_easy_cleanup(CURL *curl) {
    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    const struct real_api *r = api_for(h, HOOK_CALLER());
    if (h) handle_remove(curl);
    if (r->curl_easy_cleanup) r->curl_easy_cleanup(curl);
}

/* ---- perform ------------------------------------------------------------------------------ */

static CURLcode pass(struct hk_handle *h) {
    hook_depth++;
    CURLcode rc = h->real->curl_easy_perform(h->curl);
    hook_depth--;
    return rc;
}

/* "POST" when the next transfer is a POST whose whole body llmshim can read, else NULL. */
static const char *cacheable_method(const struct hk_handle *h) {
    if (h->method != HK_POST || h->nobody || h->url_is_curlu || !h->postfields) return NULL;
    if (h->customrequest && strcasecmp(h->customrequest, "POST") != 0) return NULL;
    return "POST";
}

static void log_event(const struct config *cfg, const char *what, const struct call *c, long long us) {
    if (cfg->log >= LOG_INFO)
        log_line("%s %s model=%s key=%.12s %lldus %s", what, c->ep.provider, c->model ? c->model : "-",
                 c->hex, us, c->safe_url);
}

/* A miss: the network, with the answer recorded; a stale entry stands in if the call fails. */
static CURLcode fetch(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                      struct entry *stale) {
    struct entry e;
    memset(&e, 0, sizeof(e));
    struct record_opts o = {.max_bytes = cfg->max_entry_bytes, .shape = c->ep.shape, .t0_us = t0,
                            .hold_errors = stale != NULL};
    struct record_result res;
    CURLcode rc = record_perform(h, &e, &o, &res);
    long long us = cache_monotonic_us() - t0;
    if (res.storable) {
        cache_store(c, &e, us);
        log_event(cfg, "STORE", c, us);
        cache_count(c, OUTCOME_STORE, &e, us);
    } else if (stale && (res.held || (rc != CURLE_OK && !res.delivered))) {
        /* the API failed (429, 5xx, no connection) and nothing reached the app yet */
        rc = replay_entry(h, stale, us, 0, "STALE");
        log_event(cfg, "STALE", c, cache_monotonic_us() - t0);
        cache_count(c, OUTCOME_STALE, stale, us);
    } else {
        int failed = rc != CURLE_OK || res.status < 200 || res.status >= 300;
        log_event(cfg, failed ? "ERROR" : "MISS", c, us);
        cache_count(c, failed ? OUTCOME_ERROR : OUTCOME_MISS, NULL, us);
    }
    entry_free(&e);
    return rc;
}

static CURLcode hit(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                    struct entry *e) {
    CURLcode rc = replay_entry(h, e, cache_monotonic_us() - t0, cfg->replay_pace, "HIT");
    long long us = cache_monotonic_us() - t0;
    log_event(cfg, "HIT", c, us);
    cache_count(c, OUTCOME_HIT, e, us);
    entry_free(e);
    return rc;
}

static CURLcode fetch_or_replay(struct hk_handle *h, const struct config *cfg, const struct call *c,
                                long long t0) {
    struct entry e;
    if (cfg->mode == MODE_RECORD) return fetch(h, cfg, c, t0, NULL);
    enum lookup l = cache_lookup(c, &e);
    if (l == LOOKUP_HIT) return hit(h, cfg, c, t0, &e);
    if (cfg->mode == MODE_REPLAY) {
        if (l == LOOKUP_STALE) entry_free(&e);
        char msg[CURL_ERROR_SIZE];
        cache_replay_miss(c, msg, sizeof(msg));
        if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "%s", msg);
        return CURLE_COULDNT_CONNECT;
    }
    struct entry fresh;
    enum fill f = cache_fill_begin(c, &fresh);
    if (f == FILL_HIT) {
        if (l == LOOKUP_STALE) entry_free(&e);
        return hit(h, cfg, c, t0, &fresh);
    }
    CURLcode rc = fetch(h, cfg, c, t0, l == LOOKUP_STALE ? &e : NULL);
    if (f == FILL_LEADER) cache_fill_end(c);
    if (l == LOOKUP_STALE) entry_free(&e);
    return rc;
}

HOOK_EXPORT CURLcode curl_easy_perform(CURL *curl) {
    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    if (!h) {
        const struct real_api *r = real_for_caller(HOOK_CALLER());
        REAL_OR(r, curl_easy_perform, CURLE_FAILED_INIT);
        return r->curl_easy_perform(curl);
    }
    REAL_OR(h->real, curl_easy_perform, CURLE_FAILED_INIT);
    free(h->r_content_type);
    free(h->r_url);
    h->r_content_type = h->r_url = NULL;
    h->replayed = 0;

    const struct config *cfg = cache_config();
    const char *method = cacheable_method(h);
    if (cfg->mode == MODE_OFF || !method) return pass(h);
    long long t0 = cache_monotonic_us();
    const char *lines[128];
    size_t nlines = 0;
    for (const struct curl_slist *l = h->headers; l && nlines < 128; l = l->next) lines[nlines++] = l->data;
    struct call_request req = {
        .method = method,
        .url = h->url,
        .body = h->postfields,
        .body_len = h->postsize >= 0 ? (size_t)h->postsize : strlen(h->postfields),
        .headers = lines,
        .nheaders = nlines,
        .credential = h->credential,
        .scope_secret = cfg->key_scope ? cache_scope_secret() : NULL,
    };
    struct call c;
    int kind = (cfg->key_scope && !req.scope_secret) ? 0 : call_analyze_request(&c, cfg, &req);
    if (kind < 0) log_line("out of memory while reading a request; using the network");
    if (kind <= 0) return pass(h);

    CURLcode rc = fetch_or_replay(h, cfg, &c, t0);
    call_free(&c);
    return rc;
}
