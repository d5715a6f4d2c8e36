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
    va_start(ap, opt);
    struct hk_arg a = hk_arg_read(opt, ap);
    va_end(ap);

    struct hk_handle *h = hook_depth ? NULL : handle_find(curl);
    const struct real_api *r = api_for(h, HOOK_CALLER());
    REAL_OR(r, curl_easy_setopt, CURLE_FAILED_INIT);
    CURLcode rc = HK_SETOPT(r->curl_easy_setopt, curl, opt, a);
    if (rc != CURLE_OK || hook_depth || !curl) return rc;
    if (!h) h = handle_add(curl, r); /* a handle made before llmshim saw it */
    if (h) handle_note_option(h, opt, a.ptr, a.l, a.o);
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
    if (h && h->mflow) multi_forget(h);
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

static CURLcode fetch_or_replay(struct hk_handle *h, const struct config *cfg, const struct call *c,
                                long long t0) {
    struct entry e;
    if (cfg->mode == MODE_RECORD) return flow_fetch(h, cfg, c, t0, NULL);
    enum lookup l = cache_lookup(c, &e);
    if (l == LOOKUP_HIT) return flow_hit(h, cfg, c, t0, &e);
    if (cfg->mode == MODE_REPLAY) {
        if (l == LOOKUP_STALE) entry_free(&e);
        return flow_replay_miss(h, c);
    }
    struct entry fresh;
    enum fill f = cache_fill_begin(c, &fresh);
    if (f == FILL_HIT) {
        if (l == LOOKUP_STALE) entry_free(&e);
        return flow_hit(h, cfg, c, t0, &fresh);
    }
    CURLcode rc = flow_fetch(h, cfg, c, t0, l == LOOKUP_STALE ? &e : NULL);
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
    handle_clear_replay(h);

    const struct config *cfg = cache_config();
    long long t0 = cache_monotonic_us();
    struct call c;
    if (flow_analyze(h, cfg, &c) <= 0) return pass(h);
    h->can_fetch = 1;
    CURLcode rc = fetch_or_replay(h, cfg, &c, t0);
    h->can_fetch = 0;
    call_free(&c);
    return rc;
}
