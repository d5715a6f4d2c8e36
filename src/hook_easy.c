/* The exported hooks for libcurl's easy API: thin doors into hook_transfer.c. Each one
 * forwards to the real libcurl; curl_easy_setopt mirrors what the program sets, and only
 * curl_easy_perform of an LLM request and curl_easy_getinfo after a cache hit answer by
 * themselves. Calls libcurl makes into its own API pass straight through. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hook.h"
#include "log.h"

/* What libcurl would say if it were not loaded at all: never call through NULL. */
#define REAL_OR(api, fn, fallback) \
    do {                           \
        if (!(api)->fn) return fallback; \
    } while (0)

/* The program's handle, or NULL for libcurl's own calls and handles llmshim does not know. */
static struct hk_handle *program_handle(CURL *curl, const void *caller) {
    return hook_from_libcurl(caller) ? NULL : handle_find(curl);
}

static const struct real_api *api_for(struct hk_handle *h, const void *caller) {
    return h ? h->real : real_for_caller(caller);
}

HOOK_EXPORT CURL *curl_easy_init(void) {
    const void *caller = HOOK_CALLER();
    const struct real_api *r = real_for_caller(caller);
    REAL_OR(r, curl_easy_init, NULL);
    CURL *curl = r->curl_easy_init();
    if (curl && !hook_from_libcurl(caller)) handle_add(curl, r); /* untracked on failure: passes through */
    return curl;
}

HOOK_EXPORT CURLcode curl_easy_setopt(CURL *curl, CURLoption opt, ...) {
    va_list ap;
    va_start(ap, opt);
    struct hk_arg a = hk_arg_read(opt, ap);
    va_end(ap);

    const void *caller = HOOK_CALLER();
    int ours = !hook_from_libcurl(caller);
    struct hk_handle *h = ours ? handle_find(curl) : NULL;
    if (h && h->holding && hold_option(h->holding, opt, a)) return CURLE_OK; /* for the next transfer */
    if (h && h->x && xfer_option_set(h->x, opt)) { /* the recorder's to deliver through */
        handle_note_option(h, opt, a);
        return CURLE_OK;
    }
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_setopt, CURLE_FAILED_INIT);
    CURLcode rc = HK_SETOPT(r->curl_easy_setopt, curl, opt, a);
    if (rc != CURLE_OK || !ours || !curl) return rc;
    if (!h) h = handle_add(curl, r); /* a handle made before llmshim saw it */
    if (h) handle_note_option(h, opt, a);
    return rc;
}

HOOK_EXPORT CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...) {
    va_list ap;
    va_start(ap, info);
    void *arg = va_arg(ap, void *); /* every getinfo takes one pointer */
    va_end(ap);
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    if (h && h->replayed && arg && replay_getinfo(h, info, arg)) return CURLE_OK;
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_getinfo, CURLE_FAILED_INIT);
    return r->curl_easy_getinfo(curl, info, arg);
}

/* The header API reads the last transfer's headers: a replayed one's are llmshim's. */
HOOK_EXPORT CURLHcode curl_easy_header(CURL *curl, const char *name, size_t index, unsigned int origin, int request,
                                       struct curl_header **hout) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    if (h && h->replayed) return info_header(h, name, index, origin, request, hout);
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_header, CURLHE_NOT_BUILT_IN);
    return r->curl_easy_header(curl, name, index, origin, request, hout);
}

HOOK_EXPORT struct curl_header *curl_easy_nextheader(CURL *curl, unsigned int origin, int request,
                                                     struct curl_header *prev) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    if (h && h->replayed) return info_nextheader(h, origin, request, prev);
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_nextheader, NULL);
    return r->curl_easy_nextheader(curl, origin, request, prev);
}

/* A write callback that returned CURL_WRITEFUNC_PAUSE on a hit resumes it here. */
HOOK_EXPORT CURLcode curl_easy_pause(CURL *curl, int bitmask) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    if (h && h->rp) {
        CURLcode rc = replay_pause(h->rp, bitmask);
        multi_replay_resumed(h);
        return rc;
    }
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_pause, CURLE_FAILED_INIT);
    return r->curl_easy_pause(curl, bitmask);
}

HOOK_EXPORT void curl_easy_reset(CURL *curl) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    const struct real_api *r = api_for(h, caller);
    if (r->curl_easy_reset) r->curl_easy_reset(curl);
    if (h) handle_reset(h);
}

HOOK_EXPORT CURL *curl_easy_duphandle(CURL *curl) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    const struct real_api *r = api_for(h, caller);
    REAL_OR(r, curl_easy_duphandle, NULL);
    CURL *dup = r->curl_easy_duphandle(curl);
    if (dup && h && h->method == HK_POST_MIME && h->mimepost) mime_duplicated(h->mimepost);
    if (dup && h) {
        struct hk_handle *d = handle_add(dup, r);
        if (d && handle_copy(d, h) != 0) handle_remove(dup); /* untracked: passes through */
        else if (d && h->x) xfer_fix_duplicate(h->x, d); /* the copy gets none of llmshim's recorder */
    }
    return dup;
}

HOOK_EXPORT void curl_easy_cleanup(CURL *curl) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    const struct real_api *r = api_for(h, caller);
    if (h && h->multi) multi_forget(h);
    if (h) handle_remove(curl);
    if (r->curl_easy_cleanup) r->curl_easy_cleanup(curl);
}

static CURLcode real_perform(struct hk_handle *h) {
    return h->real->curl_easy_perform(h->curl);
}

HOOK_EXPORT CURLcode curl_easy_perform(CURL *curl) {
    const void *caller = HOOK_CALLER();
    struct hk_handle *h = program_handle(curl, caller);
    if (!h) {
        const struct real_api *r = real_for_caller(caller);
        REAL_OR(r, curl_easy_perform, CURLE_FAILED_INIT);
        return r->curl_easy_perform(curl);
    }
    REAL_OR(h->real, curl_easy_perform, CURLE_FAILED_INIT);
    if (h->multi) { /* libcurl's answer, also once llmshim has taken a hit out of the multi */
        if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "easy handle already used in multi handle");
        return CURLE_FAILED_INIT;
    }
    if (h->x) return real_perform(h); /* from its own callback: libcurl refuses, as it should */
    if (h->delivering) { /* from a callback of the answer llmshim is delivering: as libcurl says */
        if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "easy handle already used in multi handle");
        return CURLE_FAILED_INIT;
    }
    handle_clear_replay(h);
    struct xfer *x = xfer_start(h, 1);
    if (!x) return real_perform(h);
    CURLcode rc = CURLE_AGAIN;
    if (xfer_kind(x) == XFER_PASS) {
        rc = real_perform(h);
    } else {
        if (xfer_kind(x) != XFER_RECORD) {
            h->delivering = 1;
            rc = xfer_answer(x);
            h->delivering = 0;
        }
        if (rc == CURLE_AGAIN) { /* a miss (or a hit that could not be delivered): the network */
            if (xfer_record_begin(x) != 0) rc = real_perform(h);
            else rc = xfer_end(x, real_perform(h));
        }
    }
    xfer_free(x); /* and options the progress callback set for the next transfer */
    return rc;
}
