/* The exported hooks for libcurl's multi API (curl -Z, PHP curl_multi_*, R curl, pycurl
 * CurlMulti, Ruby ethon). A hit is never added to the real multi handle: its callbacks run at
 * the next curl_multi_perform/socket_action and a CURLMSG_DONE follows. A miss goes through
 * the real multi handle with the answer recorded as it passes. After every real perform the
 * DONE messages are moved into llmshim's own queue, so a recording is finished (and stored)
 * even when the application never reads its messages. Misses are not coalesced here: waiting
 * for another process would stall the application's event loop. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "forksafe.h"
#include "hook.h"

#define NBUCKETS 64

enum mflow_kind { MF_HIT, MF_FAIL, MF_RECORD };

/* One LLM transfer driven by a multi handle. */
struct mflow {
    struct mflow *next;
    struct hk_multi *m;
    struct hk_handle *h;
    enum mflow_kind kind;
    struct call c;
    long long t0;
    struct entry e;            /* MF_HIT: the answer; MF_RECORD: a stale entry (has_stale) */
    int has_stale;
    struct entry rec;          /* MF_RECORD: the answer being recorded */
    struct record_result res;
    struct recorder *r;
};

struct hk_msg {
    struct hk_msg *next;
    CURLMsg msg;
};

struct hk_multi {
    struct hk_multi *next; /* hash chain */
    CURLM *multi;
    const struct real_api *real;
    struct mflow *pending;  /* hits and replay misses not yet delivered */
    struct mflow *recording; /* misses in flight on the real multi handle */
    struct hk_msg *msgs, **msgs_tail;
    CURLMsg out;            /* what curl_multi_info_read returned last */
    curl_multi_timer_callback timer_cb;
    void *timer_data;
};

static struct hk_multi *table[NBUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

void multi_forksafe(void) { forksafe_register(&table_lock); }

static size_t slot(const CURLM *m) {
    uintptr_t p = (uintptr_t)m;
    return (size_t)((p >> 4) ^ (p >> 12)) % NBUCKETS;
}

static struct hk_multi *multi_find(CURLM *multi) {
    if (!multi || hook_depth) return NULL;
    pthread_mutex_lock(&table_lock);
    struct hk_multi *m = table[slot(multi)];
    while (m && m->multi != multi) m = m->next;
    pthread_mutex_unlock(&table_lock);
    return m;
}

static struct hk_multi *multi_get(CURLM *multi, const struct real_api *real) {
    struct hk_multi *m = multi_find(multi);
    if (m) return m;
    m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->multi = multi;
    m->real = real;
    m->msgs_tail = &m->msgs;
    pthread_mutex_lock(&table_lock);
    m->next = table[slot(multi)];
    table[slot(multi)] = m;
    pthread_mutex_unlock(&table_lock);
    return m;
}

static const struct real_api *api_of(struct hk_multi *m, const void *caller) {
    return m ? m->real : real_for_caller(caller);
}

static void queue_msg(struct hk_multi *m, CURL *easy, CURLcode result) {
    struct hk_msg *q = calloc(1, sizeof(*q));
    if (!q) return; /* without memory the message is lost: the app sees the transfer vanish */
    q->msg.msg = CURLMSG_DONE;
    q->msg.easy_handle = easy;
    q->msg.data.result = result;
    *m->msgs_tail = q;
    m->msgs_tail = &q->next;
}

static void drop_msgs_of(struct hk_multi *m, CURL *easy) {
    struct hk_msg **p = &m->msgs;
    while (*p) {
        if ((*p)->msg.easy_handle == easy) {
            struct hk_msg *dead = *p;
            *p = dead->next;
            free(dead);
        } else {
            p = &(*p)->next;
        }
    }
    m->msgs_tail = &m->msgs;
    while (*m->msgs_tail) m->msgs_tail = &(*m->msgs_tail)->next;
}

static void unlink_flow(struct mflow *f) {
    struct mflow **lists[] = {&f->m->pending, &f->m->recording};
    for (int i = 0; i < 2; i++)
        for (struct mflow **p = lists[i]; *p; p = &(*p)->next)
            if (*p == f) {
                *p = f->next;
                return;
            }
}

/* Frees a flow that is on no list (unlink_flow first). */
static void mflow_free(struct mflow *f) {
    if (f->r) record_end(f->r, CURLE_ABORTED_BY_CALLBACK); /* removed early: never stored */
    if (f->kind == MF_HIT || f->has_stale) entry_free(&f->e);
    entry_free(&f->rec);
    call_free(&f->c);
    if (f->h) f->h->mflow = NULL;
    free(f);
}

/* Serves the hits added since the last perform: callbacks now, a DONE message for each. */
static void deliver(struct hk_multi *m) {
    const struct config *cfg = cache_config();
    while (m->pending) {
        struct mflow *f = m->pending;
        m->pending = f->next;
        struct hk_handle *h = f->h;
        CURLcode rc = f->kind == MF_HIT ? flow_hit(h, cfg, &f->c, f->t0, &f->e) : flow_replay_miss(h, &f->c);
        f->kind = MF_FAIL; /* the entry is gone (flow_hit frees it) */
        CURL *easy = h->curl;
        mflow_free(f);
        queue_msg(m, easy, rc);
    }
}

/* Moves libcurl's messages into ours, finishing the recordings they complete. */
static void drain(struct hk_multi *m) {
    const struct config *cfg = cache_config();
    if (!m->real->curl_multi_info_read) return;
    for (;;) {
        int left;
        hook_depth++;
        CURLMsg *msg = m->real->curl_multi_info_read(m->multi, &left);
        hook_depth--;
        if (!msg) break;
        CURLcode rc = msg->data.result;
        CURL *easy = msg->easy_handle;
        CURLMSG kind = msg->msg;
        struct hk_handle *h = kind == CURLMSG_DONE ? handle_find(easy) : NULL;
        if (h && h->mflow && h->mflow->kind == MF_RECORD) {
            struct mflow *f = h->mflow;
            unlink_flow(f);
            record_end(f->r, rc);
            f->r = NULL;
            rc = flow_fetched(h, cfg, &f->c, f->t0, &f->rec, &f->res, rc, f->has_stale ? &f->e : NULL);
            mflow_free(f);
        }
        struct hk_msg *q = calloc(1, sizeof(*q));
        if (!q) continue;
        q->msg = *msg;
        q->msg.msg = kind;
        q->msg.easy_handle = easy;
        if (kind == CURLMSG_DONE) q->msg.data.result = rc;
        *m->msgs_tail = q;
        m->msgs_tail = &q->next;
    }
}

HOOK_EXPORT CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy) {
    struct hk_handle *h = hook_depth ? NULL : handle_find(easy);
    const struct real_api *r = h ? h->real : real_for_caller(HOOK_CALLER());
    if (!r->curl_multi_add_handle) return CURLM_INTERNAL_ERROR;
    if (!h) return r->curl_multi_add_handle(multi, easy);
    if (h->mflow) return CURLM_ADDED_ALREADY;
    const struct config *cfg = cache_config();
    handle_clear_replay(h);
    struct mflow *f = calloc(1, sizeof(*f));
    struct hk_multi *m = f ? multi_get(multi, r) : NULL;
    if (!m) {
        free(f);
        return r->curl_multi_add_handle(multi, easy);
    }
    f->t0 = cache_monotonic_us();
    if (!flow_analyze(h, cfg, &f->c)) {
        free(f);
        return r->curl_multi_add_handle(multi, easy);
    }
    f->m = m;
    if (cfg->mode != MODE_RECORD) {
        enum lookup l = cache_lookup(&f->c, &f->e);
        if (l == LOOKUP_HIT || cfg->mode == MODE_REPLAY) {
            if (l == LOOKUP_STALE) entry_free(&f->e);
            f->kind = l == LOOKUP_HIT ? MF_HIT : MF_FAIL;
            f->h = h;
            h->mflow = f;
            struct mflow **tail = &m->pending;
            while (*tail) tail = &(*tail)->next;
            *tail = f;
            /* an event-driven application calls socket_action when its timer fires: fire it now */
            if (m->timer_cb) m->timer_cb(multi, 0, m->timer_data);
            return CURLM_OK;
        }
        f->has_stale = l == LOOKUP_STALE;
    }
    struct record_opts o = flow_record_opts(cfg, &f->c, f->t0, f->has_stale);
    f->kind = MF_RECORD;
    f->r = record_begin(h, &f->rec, &o, &f->res);
    if (!f->r) {
        mflow_free(f);
        return r->curl_multi_add_handle(multi, easy);
    }
    CURLMcode rc = r->curl_multi_add_handle(multi, easy);
    if (rc != CURLM_OK) {
        mflow_free(f);
        return rc;
    }
    f->h = h;
    h->mflow = f;
    f->next = m->recording;
    m->recording = f;
    return CURLM_OK;
}

HOOK_EXPORT CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy) {
    struct hk_multi *m = multi_find(multi);
    struct hk_handle *h = m ? handle_find(easy) : NULL;
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (!r->curl_multi_remove_handle) return CURLM_INTERNAL_ERROR;
    if (m) drop_msgs_of(m, easy); /* libcurl forgets a removed handle's messages too */
    if (h && h->mflow && h->mflow->kind != MF_RECORD) { /* a hit removed before it was delivered */
        unlink_flow(h->mflow);
        mflow_free(h->mflow);
        return CURLM_OK;
    }
    hook_depth++;
    CURLMcode rc = r->curl_multi_remove_handle(multi, easy);
    hook_depth--;
    if (h && h->mflow) { /* removed before it finished: nothing stored */
        unlink_flow(h->mflow);
        mflow_free(h->mflow);
    }
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_perform(CURLM *multi, int *running) {
    struct hk_multi *m = multi_find(multi);
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (!r->curl_multi_perform) return CURLM_INTERNAL_ERROR;
    if (m) deliver(m);
    hook_depth++;
    CURLMcode rc = r->curl_multi_perform(multi, running);
    hook_depth--;
    if (m) drain(m);
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev, int *running) {
    struct hk_multi *m = multi_find(multi);
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (!r->curl_multi_socket_action) return CURLM_INTERNAL_ERROR;
    if (m) deliver(m);
    hook_depth++;
    CURLMcode rc = r->curl_multi_socket_action(multi, s, ev, running);
    hook_depth--;
    if (m) drain(m);
    return rc;
}

HOOK_EXPORT CURLMsg *curl_multi_info_read(CURLM *multi, int *left) {
    struct hk_multi *m = multi_find(multi);
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (!r->curl_multi_info_read) return NULL;
    if (!m) return r->curl_multi_info_read(multi, left);
    drain(m); /* messages that arrived without our perform (or before we knew this multi) */
    struct hk_msg *q = m->msgs;
    if (!q) {
        if (left) *left = 0;
        return NULL;
    }
    m->msgs = q->next;
    if (!m->msgs) m->msgs_tail = &m->msgs;
    m->out = q->msg;
    free(q);
    if (left) {
        *left = 0;
        for (struct hk_msg *p = m->msgs; p; p = p->next) (*left)++;
    }
    return &m->out;
}

/* wait and poll return at once while a hit waits to be delivered by the next perform. */
static int pending(CURLM *multi) {
    struct hk_multi *m = multi_find(multi);
    return m && m->pending;
}

HOOK_EXPORT CURLMcode curl_multi_wait(CURLM *multi, struct curl_waitfd *extra, unsigned int n, int timeout_ms,
                                      int *numfds) {
    const struct real_api *r = api_of(multi_find(multi), HOOK_CALLER());
    if (!r->curl_multi_wait) return CURLM_INTERNAL_ERROR;
    hook_depth++;
    CURLMcode rc = r->curl_multi_wait(multi, extra, n, pending(multi) ? 0 : timeout_ms, numfds);
    hook_depth--;
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int n, int timeout_ms,
                                      int *numfds) {
    const struct real_api *r = api_of(multi_find(multi), HOOK_CALLER());
    if (!r->curl_multi_poll) return CURLM_INTERNAL_ERROR;
    int wait = pending(multi) ? 0 : timeout_ms;
    hook_depth++;
    CURLMcode rc = r->curl_multi_poll(multi, extra, n, wait, numfds);
    hook_depth--;
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_timeout(CURLM *multi, long *ms) {
    const struct real_api *r = api_of(multi_find(multi), HOOK_CALLER());
    if (!r->curl_multi_timeout) return CURLM_INTERNAL_ERROR;
    CURLMcode rc = r->curl_multi_timeout(multi, ms);
    if (rc == CURLM_OK && ms && pending(multi)) *ms = 0;
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption opt, ...) {
    va_list ap;
    va_start(ap, opt);
    struct hk_arg a = hk_arg_read(opt, ap);
    va_end(ap);
    struct hk_multi *m = multi_find(multi);
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (!r->curl_multi_setopt) return CURLM_INTERNAL_ERROR;
    CURLMcode rc = HK_SETOPT(r->curl_multi_setopt, multi, opt, a);
    if (rc != CURLM_OK || hook_depth) return rc;
    if (opt == CURLMOPT_TIMERFUNCTION || opt == CURLMOPT_TIMERDATA) {
        if (!m) m = multi_get(multi, r);
        if (m && opt == CURLMOPT_TIMERFUNCTION) m->timer_cb = (curl_multi_timer_callback)a.ptr;
        if (m && opt == CURLMOPT_TIMERDATA) m->timer_data = a.ptr;
    }
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_cleanup(CURLM *multi) {
    struct hk_multi *m = multi_find(multi);
    const struct real_api *r = api_of(m, HOOK_CALLER());
    if (m) {
        pthread_mutex_lock(&table_lock);
        struct hk_multi **p = &table[slot(multi)];
        while (*p && *p != m) p = &(*p)->next;
        if (*p) *p = m->next;
        pthread_mutex_unlock(&table_lock);
        while (m->pending || m->recording) {
            struct mflow *f = m->pending ? m->pending : m->recording;
            unlink_flow(f);
            mflow_free(f); /* a recording in flight is dropped: its callbacks given back */
        }
        while (m->msgs) {
            struct hk_msg *q = m->msgs;
            m->msgs = q->next;
            free(q);
        }
    }
    CURLMcode rc = r->curl_multi_cleanup ? r->curl_multi_cleanup(multi) : CURLM_INTERNAL_ERROR;
    free(m);
    return rc;
}

void multi_forget(struct hk_handle *h) {
    struct mflow *f = h->mflow;
    drop_msgs_of(f->m, h->curl);
    unlink_flow(f);
    mflow_free(f);
}
