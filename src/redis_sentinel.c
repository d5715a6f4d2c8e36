/* redis_sentinel: the primary as the sentinels name it (see redis_sentinel.h). */
#include "redis_sentinel.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASK_GAP_MS 250    /* the least time between two questions to the sentinels */
#define ASK_AGAIN_MS 2000 /* asked again this often even when all is well: see sentinel_primary */

struct sentinel {
    char master[256];
    int nwatchers;
    struct redis_node *watchers[REDIS_URL_MAX_HOSTS];
    struct node_table primaries; /* every primary named so far; the current one by index */
    const struct node_opts *data;
    _Atomic int current;       /* index into primaries, -1 before the first answer */
    _Atomic int stale;         /* the current one failed or was demoted */
    _Atomic long long last_ask; /* CLOCK_MONOTONIC ms */
    _Atomic unsigned next_watcher;
};

/* One sentinel's answer: the primary's index, or -1 with *err. */
static int ask_one(struct sentinel *s, struct redis_node *w, char **err) {
    struct redis_cmd q = {3, {"SENTINEL", "get-master-addr-by-name", s->master}, {8, 23, strlen(s->master)}};
    redisReply *r;
    if (node_run(w, &q, 1, &r, err) != 0) return -1;
    int idx = -1;
    if (r->type == REDIS_REPLY_NIL)
        node_fail(w, err, "the sentinel knows no primary named '%s'", s->master);
    else if (r->type == REDIS_REPLY_ERROR)
        node_fail(w, err, "SENTINEL get-master-addr-by-name: %s", r->str);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
             r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len >= 256)
        node_fail(w, err, "SENTINEL get-master-addr-by-name: unexpected reply");
    else if ((idx = node_table_add(&s->primaries, r->element[0]->str, atoi(r->element[1]->str), s->data)) < 0)
        redis_fail(err, "redis sentinel: too many primaries");
    freeReplyObject(r);
    return idx;
}

/* Asks the sentinels in turn, those in their backoff skipped, until one names the primary. */
static int ask(struct sentinel *s, char **err) {
    unsigned start = atomic_fetch_add(&s->next_watcher, 1);
    char *why = NULL;
    for (int k = 0; k < s->nwatchers; k++) {
        struct redis_node *w = s->watchers[(start + (unsigned)k) % (unsigned)s->nwatchers];
        if (node_backing_off(w)) continue;
        free(why);
        why = NULL;
        int idx = ask_one(s, w, &why);
        if (idx < 0) continue;
        free(why);
        atomic_store(&s->current, idx);
        atomic_store(&s->stale, 0);
        return 0;
    }
    if (!why) redis_fail(&why, "redis sentinel: every sentinel is failing: primary '%s' unknown", s->master);
    if (err) *err = why;
    else free(why);
    return -1;
}

/* After a failover the sentinels demote the old primary only when they next poll it, up to 10 s
 * later; until then it takes writes that its demotion throws away. So besides after failures,
 * the sentinels are asked again every ASK_AGAIN_MS: one request in that time pays a round trip
 * to a sentinel. */
struct redis_node *sentinel_primary(struct sentinel *s, char **err) {
    int cur = atomic_load(&s->current);
    long long now = redis_clock_ms(), last = atomic_load(&s->last_ask);
    if (cur >= 0 && !atomic_load(&s->stale) && now - last < ASK_AGAIN_MS) return node_table_at(&s->primaries, cur);
    if (now - last >= ASK_GAP_MS && atomic_compare_exchange_strong(&s->last_ask, &last, now)) {
        char *why = NULL;
        if (ask(s, &why) == 0 || cur >= 0) { /* a failed question leaves the last answer */
            free(why);
            return node_table_at(&s->primaries, atomic_load(&s->current));
        }
        if (err) *err = why;
        else free(why);
        return NULL;
    }
    if (cur >= 0) return node_table_at(&s->primaries, cur);
    redis_fail(err, "redis sentinel: primary '%s' not known yet (the sentinels did not answer)", s->master);
    return NULL;
}

int sentinel_run(struct sentinel *s, const struct redis_cmd *cmds, int n, redisReply **rep, char **err) {
    struct redis_node *p = sentinel_primary(s, err);
    if (!p) return -1;
    if (node_run(p, cmds, n, rep, err) != 0) {
        atomic_store(&s->stale, 1); /* it may have been replaced */
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR && !strncmp(rep[i]->str, "READONLY", 8))
            atomic_store(&s->stale, 1); /* demoted to a replica: the caller fails this once */
    return 0;
}

struct sentinel *sentinel_new(const struct redis_url *u, const struct node_opts *data,
                              const struct node_opts *watchers) {
    struct sentinel *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    snprintf(s->master, sizeof(s->master), "%s", u->master);
    s->data = data;
    atomic_init(&s->current, -1);
    for (int i = 0; i < u->naddr; i++) {
        s->watchers[i] = node_new(u->addr[i].host, u->addr[i].port, NULL, watchers);
        if (!s->watchers[i]) {
            sentinel_free(s);
            return NULL;
        }
        s->nwatchers++;
    }
    return s;
}

void sentinel_free(struct sentinel *s) {
    if (!s) return;
    for (int i = 0; i < s->nwatchers; i++) node_free(s->watchers[i]);
    node_table_free(&s->primaries);
    free(s);
}
