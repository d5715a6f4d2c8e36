/* The exported hooks for libcurl's multi API (curl -Z, PHP curl_multi_*, R curl, pycurl
 * CurlMulti, Ruby ethon, cpr): thin doors into hook_transfer.c.
 *
 * libcurl reads a handle's options when its transfer starts, at the first perform (or
 * socket_action) after curl_multi_add_handle, so that is when llmshim judges it too: a handle is
 * added to libcurl's multi at once, and at the next perform each newly added handle is decided
 * from the options in force. A hit is answered there (its callbacks run inside that perform, as
 * a transfer that completes at once would) and taken out of libcurl's multi before libcurl
 * starts it; a CURLMSG_DONE follows in llmshim's queue. A hit replayed at the recorded pace, or
 * paused by the application, goes on across calls: each perform delivers what is due, counts it
 * as running, and curl_multi_timeout, the timer callback and curl_multi_wait/poll see when its
 * next event is due. A miss goes through libcurl with
 * the answer recorded as it passes. After every real perform the DONE messages are moved into
 * llmshim's queue, so a recording is finished (and stored) even when the application never reads
 * its messages. Misses are not coalesced here: waiting for another process would stall the
 * application's event loop. Inside a callback of an answer llmshim delivers, the multi API
 * refuses re-entry with CURLM_RECURSIVE_API_CALL, as libcurl does inside its own callbacks. */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "forksafe.h"
#include "hook.h"

#define NBUCKETS 64

struct hk_msg {
    struct hk_msg *next;
    CURLMsg msg;
};

struct hk_multi {
    struct hk_multi *next;      /* hash chain */
    CURLM *multi;
    const struct real_api *real;
    struct hk_handle *handles;  /* added by the application and not removed yet */
    struct hk_msg *msgs, **msgs_tail;
    CURLMsg out;                /* what curl_multi_info_read returned last */
    int busy;                   /* delivering an answer: the application's callbacks run */
    /* the application's timer callback (CURLMOPT_TIMERFUNCTION), behind llmshim's: libcurl's
     * wish, or sooner when a replay has something due */
    curl_multi_timer_callback timer_cb;
    void *timer_data;
    long long lib_due;          /* when libcurl wants its timer to fire (monotonic µs; -1: never) */
    long long told;             /* when the application's timer was set to fire */
};

static struct hk_multi *table[NBUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

void multi_forksafe(void) { forksafe_register(&table_lock); }

static size_t slot(const CURLM *m) {
    uintptr_t p = (uintptr_t)m;
    return (size_t)((p >> 4) ^ (p >> 12)) % NBUCKETS;
}

/* The application's multi handle as llmshim knows it; NULL for libcurl's own calls. */
static struct hk_multi *multi_find(CURLM *multi, const void *caller) {
    if (!multi || hook_from_libcurl(caller)) return NULL;
    pthread_mutex_lock(&table_lock);
    struct hk_multi *m = table[slot(multi)];
    while (m && m->multi != multi) m = m->next;
    pthread_mutex_unlock(&table_lock);
    return m;
}

static struct hk_multi *multi_get(CURLM *multi, const struct real_api *real, const void *caller) {
    struct hk_multi *m = multi_find(multi, caller);
    if (m) return m;
    m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->multi = multi;
    m->real = real;
    m->msgs_tail = &m->msgs;
    m->lib_due = -1;
    m->told = -2;
    pthread_mutex_lock(&table_lock);
    m->next = table[slot(multi)];
    table[slot(multi)] = m;
    pthread_mutex_unlock(&table_lock);
    return m;
}

static const struct real_api *api_of(struct hk_multi *m, const void *caller) {
    return m ? m->real : real_for_caller(caller);
}

static void queue(struct hk_multi *m, const CURLMsg *msg) {
    struct hk_msg *q = calloc(1, sizeof(*q));
    if (!q) return; /* without memory the message is lost: the app sees the transfer vanish */
    q->msg = *msg;
    *m->msgs_tail = q;
    m->msgs_tail = &q->next;
}

static void queue_done(struct hk_multi *m, CURL *easy, CURLcode result) {
    CURLMsg msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg = CURLMSG_DONE;
    msg.easy_handle = easy;
    msg.data.result = result;
    queue(m, &msg);
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

/* The handle leaves the multi in llmshim's books (libcurl's are the caller's business). */
static void forget(struct hk_multi *m, struct hk_handle *h) {
    for (struct hk_handle **p = &m->handles; *p; p = &(*p)->mnext)
        if (*p == h) {
            *p = h->mnext;
            break;
        }
    drop_msgs_of(m, h->curl);
    xfer_free(h->x); /* a recording cut short stores nothing */
    h->x = NULL;
    h->multi = NULL;
    h->mnext = NULL;
    h->fresh = h->taken = 0;
}

/* A newly added handle's transfer starts: decide it from the options in force now. */
/* A newly added handle's transfer starts: decided from the options in force now (its progress
 * callback asked first, as libcurl asks it before sending). */
static struct xfer *judge(struct hk_multi *m, struct hk_handle *h) {
    handle_clear_replay(h);
    m->busy++; /* the application's progress callback runs inside this multi's transfer */
    struct xfer *x = xfer_start(h, 0);
    m->busy--;
    return x;
}

/* Acts on the decision: a hit is answered, a miss handed to libcurl with the recorder. */
static void act(struct hk_multi *m, struct hk_handle *h, struct xfer *x) {
    CURLcode rc = CURLE_AGAIN;
    int more = 0;
    if (xfer_kind(x) == XFER_HIT || xfer_kind(x) == XFER_REFUSE) {
        m->busy++;
        rc = xfer_answer_start(x, &more);
        m->busy--;
    }
    if (xfer_kind(x) == XFER_PASS) { /* libcurl's; finished when its DONE comes */
        h->x = x;
        return;
    }
    if (rc == CURLE_AGAIN && !more) { /* a miss: libcurl runs it, llmshim records it */
        if (xfer_record_begin(x) != 0) xfer_free(x);
        return;
    }
    /* answered, or being answered: libcurl never starts it (it is still waiting to, so no
     * connection is made) */
    if (m->real->curl_multi_remove_handle) m->real->curl_multi_remove_handle(m->multi, h->curl);
    h->taken = 1;
    if (more) { /* paced or paused: delivered by the performs to come */
        h->x = x;
        return;
    }
    xfer_free(x);
    queue_done(m, h->curl, rc);
}

/* The hits still being delivered: each gets what is due now. Returns how many go on. */
static int step_replays(struct hk_multi *m) {
    int going = 0;
    long long now = cache_monotonic_us();
    struct hk_handle *h = m->handles;
    while (h) {
        struct hk_handle *next = h->mnext;
        if (h->taken && h->x) {
            struct xfer *x = h->x;
            int more = 1;
            CURLcode rc = CURLE_AGAIN;
            if (xfer_due(x) <= now) {
                m->busy++;
                rc = xfer_answer_step(x, &more);
                m->busy--;
            }
            if (more) {
                going++;
            } else {
                h->x = NULL;
                xfer_free(x);
                queue_done(m, h->curl, rc);
            }
        }
        h = next;
    }
    return going;
}

/* When the first replay has something due (monotonic µs), -1 when none waits on time. */
static long long replay_due_us(struct hk_multi *m) {
    long long due = LLONG_MAX;
    for (struct hk_handle *h = m->handles; h; h = h->mnext)
        if (h->taken && h->x && xfer_due(h->x) < due) due = xfer_due(h->x);
    return due == LLONG_MAX ? -1 : due;
}

static long ms_until(long long due) {
    if (due < 0) return -1;
    long long left = (due - cache_monotonic_us() + 999) / 1000;
    return left < 0 ? 0 : left > LONG_MAX ? LONG_MAX : (long)left;
}

/* Milliseconds until a replay has something due (0: now), -1 when none waits on time. */
static long replay_timeout_ms(struct hk_multi *m) {
    return ms_until(replay_due_us(m));
}

/* The application's timer: libcurl's wish, or the next replay event when that is sooner. lib_ms:
 * what libcurl just asked for (its timer callback), or -2 after a call of llmshim's own, when,
 * as libcurl does, the application is told only if the time it should fire at changed. */
static void tell_timer(struct hk_multi *m, long lib_ms) {
    if (!m->timer_cb) return;
    long long now = cache_monotonic_us(), want = m->lib_due;
    if (lib_ms == -2 && want >= 0 && want <= now) want = -1; /* fired: libcurl says when it wants more */
    long long ours = replay_due_us(m);
    int mine = ours >= 0 && (want < 0 || ours < want);
    if (mine) want = ours;
    if (lib_ms == -2 && want == m->told) return;
    m->told = want;
    m->timer_cb(m->multi, mine || lib_ms == -2 ? ms_until(want) : lib_ms, m->timer_data);
}

static int on_timer(CURLM *multi, long ms, void *ud) {
    (void)multi;
    struct hk_multi *m = ud;
    m->lib_due = ms < 0 ? -1 : cache_monotonic_us() + (long long)ms * 1000;
    tell_timer(m, ms);
    return 0;
}

void multi_replay_resumed(struct hk_handle *h) {
    if (h->multi) tell_timer(h->multi, -2);
}

/* libcurl starts every newly added transfer, in the order they were added, before any answer
 * arrives: so all are judged first (their progress callbacks asked), then answered. */
static void start_fresh(struct hk_multi *m) {
    size_t n = 0;
    for (struct hk_handle *h = m->handles; h; h = h->mnext) n += h->fresh;
    if (!n) return;
    struct hk_handle **hs = malloc(n * sizeof(*hs));
    struct xfer **xs = malloc(n * sizeof(*xs));
    if (!hs || !xs) { /* no memory for the order: one at a time, newest first */
        free(hs);
        free(xs);
        for (struct hk_handle *h = m->handles, *next; h; h = next) {
            next = h->mnext;
            if (!h->fresh) continue;
            h->fresh = 0;
            struct xfer *x = judge(m, h);
            if (x) act(m, h, x);
        }
        return;
    }
    size_t k = n; /* the list is newest first */
    for (struct hk_handle *h = m->handles; h && k; h = h->mnext)
        if (h->fresh) hs[--k] = h;
    for (size_t i = 0; i < n; i++) {
        hs[i]->fresh = 0;
        xs[i] = judge(m, hs[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (xs[i]) act(m, hs[i], xs[i]);
    free(hs);
    free(xs);
}

/* Moves libcurl's messages into ours, finishing the recordings they complete. */
static void drain(struct hk_multi *m) {
    if (!m->real->curl_multi_info_read) return;
    for (;;) {
        int left;
        CURLMsg *msg = m->real->curl_multi_info_read(m->multi, &left);
        if (!msg) break;
        CURLMsg copy = *msg;
        struct hk_handle *h = copy.msg == CURLMSG_DONE ? handle_find(copy.easy_handle) : NULL;
        if (h && h->x && h->multi == m) {
            struct xfer *x = h->x;
            m->busy++; /* a stale answer may be delivered */
            copy.data.result = xfer_end(x, copy.data.result);
            m->busy--;
            xfer_free(x);
        }
        queue(m, &copy);
    }
}

HOOK_EXPORT CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy) {
    const void *caller = HOOK_CALLER();
    int ours = !hook_from_libcurl(caller);
    struct hk_handle *h = ours ? handle_find(easy) : NULL;
    const struct real_api *r = h ? h->real : real_for_caller(caller);
    if (!r->curl_multi_add_handle) return CURLM_INTERNAL_ERROR;
    if (!h) return r->curl_multi_add_handle(multi, easy);
    struct hk_multi *m = multi_get(multi, r, caller);
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    if (h->multi) return CURLM_ADDED_ALREADY; /* also after llmshim took an answered one out */
    CURLMcode rc = r->curl_multi_add_handle(multi, easy);
    if (rc != CURLM_OK || !m) return rc; /* without memory for m: the transfer passes through */
    h->multi = m;
    h->fresh = 1;
    h->taken = 0;
    h->mnext = m->handles;
    m->handles = h;
    return CURLM_OK;
}

HOOK_EXPORT CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_remove_handle) return CURLM_INTERNAL_ERROR;
    if (!m) return r->curl_multi_remove_handle(multi, easy);
    if (m->busy) return CURLM_RECURSIVE_API_CALL;
    struct hk_handle *h = handle_find(easy);
    CURLMcode rc = CURLM_OK;
    if (!h || h->multi != m || !h->taken) rc = r->curl_multi_remove_handle(multi, easy);
    if (rc != CURLM_OK) return rc; /* e.g. from inside libcurl's callbacks: nothing changes */
    if (h && h->multi == m) forget(m, h);
    else drop_msgs_of(m, easy); /* libcurl forgets a removed handle's messages too */
    return CURLM_OK;
}

HOOK_EXPORT CURLMcode curl_multi_perform(CURLM *multi, int *running) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_perform) return CURLM_INTERNAL_ERROR;
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    int going = 0;
    if (m) {
        start_fresh(m);
        going = step_replays(m);
    }
    CURLMcode rc = r->curl_multi_perform(multi, running);
    if (m) {
        drain(m);
        if (running) *running += going; /* transfers llmshim is still answering are running */
        tell_timer(m, -2);
    }
    return rc;
}

/* The ways a program drives the multi handle's transfers on: each starts what was added (so
 * every one of them judges first), steps the replays, then moves libcurl's messages. */
#define DRIVE(real_call)                                              \
    const void *caller = HOOK_CALLER();                               \
    struct hk_multi *m = multi_find(multi, caller);                   \
    const struct real_api *r = api_of(m, caller);                     \
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;                \
    int going = 0;                                                    \
    if (m) {                                                          \
        start_fresh(m);                                               \
        going = step_replays(m);                                      \
    }                                                                 \
    CURLMcode rc = real_call;                                         \
    if (m) {                                                          \
        drain(m);                                                     \
        if (running) *running += going;                               \
        tell_timer(m, -2);                                            \
    }                                                                 \
    return rc

HOOK_EXPORT CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev, int *running) {
    DRIVE(r->curl_multi_socket_action ? r->curl_multi_socket_action(multi, s, ev, running) : CURLM_INTERNAL_ERROR);
}

/* curl_multi_socket_all (deprecated, still exported; pycurl's CurlMulti.socket_all): a
 * transfer driven through it is judged like any other. */
HOOK_EXPORT CURLMcode curl_multi_socket_all(CURLM *multi, int *running) {
    DRIVE(r->curl_multi_socket_all ? r->curl_multi_socket_all(multi, running) : CURLM_INTERNAL_ERROR);
}

#undef DRIVE

HOOK_EXPORT CURLMsg *curl_multi_info_read(CURLM *multi, int *left) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
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

/* A wait on the multi must not sleep past a replay's next event. */
static int sooner(struct hk_multi *m, int timeout_ms) {
    long ours = replay_timeout_ms(m);
    return ours >= 0 && ours < timeout_ms ? (int)ours : timeout_ms;
}

HOOK_EXPORT CURLMcode curl_multi_wait(CURLM *multi, struct curl_waitfd *extra, unsigned int n, int timeout_ms,
                                      int *numfds) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_wait) return CURLM_INTERNAL_ERROR;
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    return r->curl_multi_wait(multi, extra, n, m ? sooner(m, timeout_ms) : timeout_ms, numfds);
}

HOOK_EXPORT CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int n, int timeout_ms,
                                      int *numfds) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_poll) return CURLM_INTERNAL_ERROR;
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    return r->curl_multi_poll(multi, extra, n, m ? sooner(m, timeout_ms) : timeout_ms, numfds);
}

HOOK_EXPORT CURLMcode curl_multi_timeout(CURLM *multi, long *ms) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_timeout) return CURLM_INTERNAL_ERROR;
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    CURLMcode rc = r->curl_multi_timeout(multi, ms);
    long ours = m && rc == CURLM_OK && ms ? replay_timeout_ms(m) : -1;
    if (ours >= 0 && (*ms < 0 || ours < *ms)) *ms = ours;
    return rc;
}

HOOK_EXPORT CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption opt, ...) {
    va_list ap;
    va_start(ap, opt);
    struct hk_arg a = hk_arg_read(opt, ap);
    va_end(ap);
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (!r->curl_multi_setopt) return CURLM_INTERNAL_ERROR;
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    if ((opt == CURLMOPT_TIMERFUNCTION || opt == CURLMOPT_TIMERDATA) && !hook_from_libcurl(caller) &&
        (m || (m = multi_get(multi, r, caller)))) {
        /* llmshim's callback in front of the application's: replays need the timer too */
        if (opt == CURLMOPT_TIMERDATA) {
            m->timer_data = a.ptr;
            return CURLM_OK;
        }
        CURLMcode rc = a.ptr ? r->curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer)
                             : r->curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, (void *)NULL);
        if (rc == CURLM_OK) rc = r->curl_multi_setopt(multi, CURLMOPT_TIMERDATA, a.ptr ? (void *)m : NULL);
        if (rc == CURLM_OK) m->timer_cb = (curl_multi_timer_callback)a.ptr;
        return rc;
    }
    return HK_SETOPT(r->curl_multi_setopt, multi, opt, a);
}

HOOK_EXPORT CURLMcode curl_multi_cleanup(CURLM *multi) {
    const void *caller = HOOK_CALLER();
    struct hk_multi *m = multi_find(multi, caller);
    const struct real_api *r = api_of(m, caller);
    if (m && m->busy) return CURLM_RECURSIVE_API_CALL;
    CURLMcode rc = r->curl_multi_cleanup ? r->curl_multi_cleanup(multi) : CURLM_INTERNAL_ERROR;
    if (!m || rc != CURLM_OK) return rc;
    pthread_mutex_lock(&table_lock);
    struct hk_multi **p = &table[slot(multi)];
    while (*p && *p != m) p = &(*p)->next;
    if (*p) *p = m->next;
    pthread_mutex_unlock(&table_lock);
    while (m->handles) forget(m, m->handles); /* recordings in flight: callbacks given back */
    while (m->msgs) {
        struct hk_msg *q = m->msgs;
        m->msgs = q->next;
        free(q);
    }
    free(m);
    return rc;
}

void multi_forget(struct hk_handle *h) {
    forget(h->multi, h);
}
