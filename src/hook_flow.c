/* The flow of one LLM request, whichever libcurl API drives it: what the request is, a hit,
 * a replay miss, and what happens after a recorded transfer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "hook.h"
#include "log.h"

/* "POST" when the next transfer is a POST whose whole body llmshim can read, else NULL. */
static const char *cacheable_method(const struct hk_handle *h) {
    if (h->method != HK_POST || h->nobody || h->url_is_curlu || !h->postfields) return NULL;
    if (h->customrequest && strcasecmp(h->customrequest, "POST") != 0) return NULL;
    return "POST";
}

int flow_analyze(struct hk_handle *h, const struct config *cfg, struct call *c) {
    const char *method = cacheable_method(h);
    if (cfg->mode == MODE_OFF || !method) return 0;
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
    if (cfg->key_scope && !req.scope_secret) return 0;
    int kind = call_analyze_request(c, cfg, &req);
    if (kind < 0) log_line("out of memory while reading a request; using the network");
    return kind > 0;
}

static void log_event(const struct config *cfg, const char *what, const struct call *c, long long us) {
    if (cfg->log >= LOG_INFO)
        log_line("%s %s model=%s key=%.12s %lldus %s", what, c->ep.provider, c->model ? c->model : "-",
                 c->hex, us, c->safe_url);
    if (cfg->log >= LOG_DEBUG) /* enough to find the entry and to see what was hashed */
        log_line("  key=%s entry=%s shape=%s body=%zu bytes (%s)%s", c->hex, c->name, shape_name(c->ep.shape),
                 c->body.len, c->body_json ? "canonical JSON" : "raw", c->key_headers ? " +headers" : "");
}

CURLcode flow_hit(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                  struct entry *e) {
    CURLcode rc = replay_entry(h, e, cache_monotonic_us() - t0, cfg->replay_pace, "HIT");
    if (rc == CURLE_OUT_OF_MEMORY && h->can_fetch) { /* nothing delivered yet: ask the API */
        entry_free(e);
        return flow_fetch(h, cfg, c, t0, NULL);
    }
    long long us = cache_monotonic_us() - t0;
    log_event(cfg, "HIT", c, us);
    cache_count(c, OUTCOME_HIT, e, us);
    entry_free(e);
    return rc;
}

CURLcode flow_replay_miss(struct hk_handle *h, const struct call *c) {
    char msg[CURL_ERROR_SIZE];
    cache_replay_miss(c, msg, sizeof(msg));
    if (h->errorbuffer) snprintf(h->errorbuffer, CURL_ERROR_SIZE, "%s", msg);
    return CURLE_COULDNT_CONNECT;
}

struct record_opts flow_record_opts(const struct config *cfg, const struct call *c, long long t0, int stale) {
    return (struct record_opts){.max_bytes = cfg->max_entry_bytes, .shape = c->ep.shape, .t0_us = t0,
                                .hold_errors = stale};
}

CURLcode flow_fetched(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                      struct entry *rec, const struct record_result *res, CURLcode rc, struct entry *stale) {
    long long us = cache_monotonic_us() - t0;
    if (res->storable) {
        cache_store(c, rec, us);
        log_event(cfg, "STORE", c, us);
        cache_count(c, OUTCOME_STORE, rec, us);
    } else if (stale && (res->held || (rc != CURLE_OK && !res->delivered))) {
        /* the API failed (429, 5xx, no connection) and nothing reached the app yet */
        rc = replay_entry(h, stale, us, 0, "STALE");
        log_event(cfg, "STALE", c, cache_monotonic_us() - t0);
        cache_count(c, OUTCOME_STALE, stale, us);
    } else {
        int failed = rc != CURLE_OK || res->status < 200 || res->status >= 300;
        log_event(cfg, failed ? "ERROR" : "MISS", c, us);
        cache_count(c, failed ? OUTCOME_ERROR : OUTCOME_MISS, NULL, us);
    }
    entry_free(rec);
    return rc;
}

CURLcode flow_fetch(struct hk_handle *h, const struct config *cfg, const struct call *c, long long t0,
                    struct entry *stale) {
    struct entry rec;
    memset(&rec, 0, sizeof(rec));
    struct record_opts o = flow_record_opts(cfg, c, t0, stale != NULL);
    struct record_result res;
    CURLcode rc = record_perform(h, &rec, &o, &res);
    return flow_fetched(h, cfg, c, t0, &rec, &res, rc, stale);
}
