#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canon.h"
#include "config_file.h"
#include "entry_memo.h"
#include "forksafe.h"
#include "log.h"
#include "store.h"

static struct config config;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static struct store *store;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void say_unknown(const char *msg, void *ud) {
    (void)ud;
    log_line("%s", msg);
}

static void config_init(void) {
    /* a misspelt name would otherwise be ignored without a word: LLMSHIM_MDOE=replay records */
    extern char **environ;
    config_unknown_settings(environ, say_unknown, NULL);
    /* the environment, then the first config file found ($LLMSHIM_CONFIG, ./.llmshim, ~/.config) */
    if (config_file_error()) log_line("%s; the config file is ignored", config_file_error());
    config_parse(&config, config_getenv);
    url_redact_params((const char *const *)config.redact_query);
    if (config.error) {
        log_line("%s; caching is off for this process", config.error);
        config.mode = MODE_OFF;
    }
}

const struct config *cache_config(void) {
    pthread_once(&config_once, config_init);
    return &config;
}

static void store_init(void) {
    char *err = NULL;
    if (config.backend == BACKEND_MEMORY) {
        store = store_memory_open(config.mem_max_entries, config.mem_max_bytes);
        if (!store) err = strdup("memory store: out of memory");
    } else if (config.backend == BACKEND_REDIS) {
        store = store_redis_open(config.redis_url, config.ns ? config.ns : "", config.redis_connect_ms,
                                 config.redis_timeout_ms, &err);
    } else {
        store = store_file_open(config.dir, &err);
    }
    if (store && config.memory_front) {
        struct store *front = store_memory_open(config.mem_max_entries, config.mem_max_bytes);
        struct store *tier = front ? store_tier_open(front, store) : NULL;
        if (tier) store = tier;
        else store_close(front); /* no memory for the front: the shared store alone still works */
    }
    if (!store) {
        log_line("%s; LLM calls go to the network uncached", err ? err : "cannot open the cache");
        free(err);
    }
}

static struct store *get_store(void) {
    pthread_once(&store_once, store_init);
    return store;
}

static unsigned char secret[32];
static int secret_ok;
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static int read_secret(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); /* a FIFO never blocks */
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
        close(fd);
        return -1;
    }
    if (fd < 0) return -1;
    ssize_t n = read(fd, secret, sizeof(secret));
    close(fd);
    return n == (ssize_t)sizeof(secret) ? 0 : -1;
}

static void secret_init(void) {
    if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret)) {
        log_line("cannot get random bytes for LLMSHIM_KEY_SCOPE; LLM calls go to the network uncached");
        return;
    }
    if (config.backend == BACKEND_MEMORY) { secret_ok = 1; return; }
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/.secret", config.dir);
    if (read_secret(path) == 0) { secret_ok = 1; return; }
    /* first use: write a fresh secret; link() makes the first writer win any race */
    mkdir(config.dir, 0700);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, secret, sizeof(secret));
        close(fd);
        if (w == (ssize_t)sizeof(secret)) { int rc = link(tmp, path); (void)rc; }
        unlink(tmp);
    }
    if (read_secret(path) == 0) secret_ok = 1;
    else log_line("cannot create %s for LLMSHIM_KEY_SCOPE; LLM calls go to the network uncached", path);
}

const unsigned char *cache_scope_secret(void) {
    pthread_once(&secret_once, secret_init);
    return secret_ok ? secret : NULL;
}

void cache_replay_miss(const struct call *c, char *msg, size_t size) {
    /* CI logs are all a reader has: say how to find the nearest recorded request */
    log_line("replay miss: POST %s key %s; to see why: llmshim key --explain --url '%s' < request.json",
             c->safe_url, c->hex, c->safe_url);
    snprintf(msg, size, "llmshim: replay miss: POST %s key %.12s", c->safe_url, c->hex);
}

long long cache_now(void) {
    return (long long)time(NULL);
}

long long cache_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One line per kind of failure per process: a broken disk must not flood the app's stderr.
 * Every failure of the store itself (read, write, lock, counters) is one kind: one cause. */
static atomic_int warned_store;

static void warn_once(atomic_int *flag, char *err) {
    if (err && !atomic_exchange(flag, 1)) log_line("%s; using the network", err);
    free(err);
}

static int same_body(const struct call *c, const char *body, size_t len) {
    return len == c->body.len && (!len || !memcmp(body, c->body.data, len));
}

/* The entry answers exactly this request. Its body was only compacted (entry_decode_as):
 * canonicalize it when that differs, since a person may have edited a cassette. */
static int same_request(const struct call *c, const struct entry *e) {
    if (strcmp(e->key, c->hex) || !e->method || strcmp(e->method, "POST") || !e->url ||
        strcmp(e->url, c->safe_url) || e->req_json != c->body_json)
        return 0;
    if (same_body(c, e->req_body, e->req_body_len)) return 1;
    if (!e->req_json) return 0;
    struct buf canon;
    buf_init(&canon);
    int same = canon_json(e->req_body, e->req_body_len, NULL, &canon) == 0 && same_body(c, canon.data, canon.len);
    buf_free(&canon);
    return same;
}

enum lookup cache_lookup(const struct call *c, struct entry *e) {
    static atomic_int warned_corrupt, warned_mismatch;
    struct store *s = get_store();
    if (!s) return LOOKUP_MISS;
    struct store_key k = {c->hex, c->name};
    struct buf raw;
    buf_init(&raw);
    char *err = NULL;
    long long now = cache_now();
    int rc = store_get(s, &k, now, &raw, &err);
    if (rc < 0) warn_once(&warned_store, err);
    else free(err);
    if (rc != 1) {
        buf_free(&raw);
        return 0;
    }
    if (!entry_memo_find(c->hex, raw.data, raw.len, e)) {
        if (entry_decode_as(e, raw.data, raw.len, 0) != 0) {
            if (!atomic_exchange(&warned_corrupt, 1))
                log_line("corrupt cache entry %s ignored; using the network", c->name);
            buf_free(&raw);
            return 0;
        }
        entry_memo_keep(c->hex, raw.data, raw.len, e);
    }
    buf_free(&raw);
    if (!same_request(c, e)) {
        /* a planted entry or a hash collision must never answer a different question */
        if (!atomic_exchange(&warned_mismatch, 1))
            log_line("cache entry %s does not match its request; ignored", c->name);
        entry_free(e);
        return 0;
    }
    if (entry_fresh(e, now)) return LOOKUP_HIT;
    if (config.stale_if_error && now < e->created + e->ttl + config.stale_if_error) return LOOKUP_STALE;
    entry_free(e);
    return LOOKUP_MISS;
}

static int fresh_hit(const struct call *c, struct entry *e) {
    enum lookup l = cache_lookup(c, e);
    if (l == LOOKUP_STALE) entry_free(e);
    return l == LOOKUP_HIT;
}

static void sleep_ms(long long ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

enum fill cache_fill_begin(const struct call *c, struct entry *e, long long deadline_us) {
    static atomic_int warned_wait;
    struct store *s = get_store();
    if (!s || !s->ops->lock || config.coalesce_ms <= 0) return FILL_ALONE;
    struct store_key k = {c->hex, c->name};
    long long deadline = cache_monotonic_us() + config.coalesce_ms * 1000;
    long long pause = 5;
    for (;;) {
        char *err = NULL;
        int rc = s->ops->lock(s, &k, config.coalesce_ms, &err);
        if (rc < 0) {
            warn_once(&warned_store, err);
            return FILL_ALONE;
        }
        free(err);
        if (rc == 1) {
            /* the previous holder may have stored it between our lookup and our lock */
            if (fresh_hit(c, e)) {
                s->ops->unlock(s, &k);
                return FILL_HIT;
            }
            return FILL_LEADER;
        }
        if (fresh_hit(c, e)) return FILL_HIT;
        long long now = cache_monotonic_us();
        if (deadline_us && now >= deadline_us) return FILL_TIMEOUT; /* the program's timeout */
        long long left = (deadline - now) / 1000;
        if (deadline_us && (deadline_us - now + 999) / 1000 < left) left = (deadline_us - now + 999) / 1000;
        if (left <= 0) {
            if (!atomic_exchange(&warned_wait, 1))
                log_line("gave up waiting %lld ms for another caller's answer to %.12s; using the network",
                         config.coalesce_ms, c->hex);
            return FILL_ALONE;
        }
        sleep_ms(pause < left ? pause : left);
        if (pause < 50) pause *= 2;
    }
}

void cache_fill_end(const struct call *c) {
    struct store *s = get_store();
    struct store_key k = {c->hex, c->name};
    if (s && s->ops->unlock) s->ops->unlock(s, &k);
}

/* Counters are summed here and written to the store at most once a second, with any request
 * that went to the network anyway, and at exit: a hit then costs no file append or Redis round
 * trip of its own. A process killed outright loses at most the last second of its counts. */
#define PENDING_ROWS 16
#define FLUSH_EVERY_US 1000000
static struct {
    pid_t pid; /* the rows belong to this process: a fork()ed child starts from zero */
    long long last_us;
    size_t n;
    struct stats_row rows[PENDING_ROWS];
} pending;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pending_once = PTHREAD_ONCE_INIT;

static void pending_init(void) {
    forksafe_register(&pending_lock);
}

static void write_rows(struct store *s, const struct stats_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        if (s->ops->add_stats(s, &rows[i], &err) != 0) warn_once(&warned_store, err);
        else free(err);
    }
}

/* Takes the pending rows for writing (into out) when `force` or a second has passed. */
static size_t take_pending(struct stats_row *out, int force) {
    size_t n = 0;
    long long now = cache_monotonic_us();
    if (force || now - pending.last_us >= FLUSH_EVERY_US || pending.n == PENDING_ROWS) {
        n = pending.n;
        memcpy(out, pending.rows, n * sizeof(*out));
        pending.n = 0;
        pending.last_us = now;
    }
    return n;
}

void cache_count(const struct call *c, enum outcome o, const struct entry *e, long long us) {
    struct store *s = get_store();
    if (!s || !s->ops->add_stats) return;
    struct stats_row r;
    stats_row_init(&r, c->ep.provider, c->model);
    switch (o) {
    case OUTCOME_HIT: r.hits = 1; break;
    case OUTCOME_STALE: r.stale = 1; break;
    case OUTCOME_MISS: r.misses = 1; break;
    case OUTCOME_STORE: r.misses = 1; r.stores = 1; break;
    case OUTCOME_ERROR: r.misses = 1; r.errors = 1; break;
    }
    if (e && (o == OUTCOME_HIT || o == OUTCOME_STALE)) {
        r.bytes_saved = (long long)e->body_len;
        r.tokens_saved = e->usage_in + e->usage_out;
        r.us_saved = e->latency_us > us ? e->latency_us - us : 0;
    }
    struct stats_row out[PENDING_ROWS + 1];
    size_t n = 0;
    pthread_once(&pending_once, pending_init);
    pthread_mutex_lock(&pending_lock);
    pid_t pid = forksafe_pid();
    if (pending.pid != pid) pending = (__typeof__(pending)){.pid = pid};
    if (stats_rows_add(pending.rows, &pending.n, PENDING_ROWS, &r) != 0)
        out[n++] = r; /* every row taken by other models: this one is written at once */
    n += take_pending(out + n, o != OUTCOME_HIT && o != OUTCOME_STALE);
    pthread_mutex_unlock(&pending_lock);
    write_rows(s, out, n);
}

/* What is still pending when the program exits normally (exit(), return from main). */
__attribute__((destructor)) static void cache_count_at_exit(void) {
    struct stats_row out[PENDING_ROWS];
    size_t n = 0;
    if (!store) return; /* never used: nothing to write, nothing to initialize */
    pthread_mutex_lock(&pending_lock);
    if (pending.pid == forksafe_pid()) n = take_pending(out, 1);
    pthread_mutex_unlock(&pending_lock);
    if (n) write_rows(store, out, n);
}

/* Re-recording an answer that did not change: only when it never expires, since the creation
 * time of an entry with a TTL is what keeps it fresh and must move on. */
static int unchanged(struct store *s, const struct store_key *k, const struct entry *e) {
    if (e->ttl != 0) return 0;
    struct buf raw;
    buf_init(&raw);
    char *err = NULL;
    int same = store_get(s, k, cache_now(), &raw, &err) == 1 && entry_same_record(e, raw.data, raw.len);
    free(err);
    buf_free(&raw);
    return same;
}

int cache_store(const struct call *c, struct entry *e, long long latency_us) {
    static atomic_int warned_write;
    struct store *s = get_store();
    /* only a whole 2xx answer becomes an entry, whatever a caller got wrong */
    if (!s || e->status < 200 || e->status > 299 || !e->status_line || !e->body) return -1;
    memcpy(e->key, c->hex, 65);
    e->created = cache_now();
    e->ttl = config.ttl;
    if (c->ttl_max > 0 && (!e->ttl || e->ttl > c->ttl_max)) e->ttl = c->ttl_max; /* image URLs expire */
    e->latency_us = latency_us;
    e->method = strdup("POST");
    e->url = strdup(c->safe_url);
    e->provider = strdup(c->ep.provider);
    e->model = c->model ? strdup(c->model) : NULL;
    e->req_json = c->body_json;
    e->req_body_len = c->body.len;
    e->req_body = malloc(c->body.len + 1);
    if (!e->method || !e->url || !e->provider || (c->model && !e->model) || !e->req_body) {
        warn_once(&warned_write, strdup("out of memory while storing an answer"));
        return -1;
    }
    memcpy(e->req_body, c->body.data ? c->body.data : "", c->body.len);
    e->req_body[c->body.len] = '\0';
    struct buf out;
    buf_init(&out);
    if (entry_encode(e, &out) != 0) {
        static atomic_int warned_text;
        if (out.oom) warn_once(&warned_write, strdup("out of memory while storing an answer"));
        else warn_once(&warned_text, strdup("an answer whose URL or headers are not UTF-8 is not stored"));
        buf_free(&out);
        return -1;
    }
    struct store_key k = {c->hex, c->name};
    char *err = NULL;
    if (unchanged(s, &k, e)) { /* leaves a committed cassette as it was: no diff, no new mtime */
        buf_free(&out);
        return 0;
    }
    /* kept past its TTL for as long as it may still stand in for a failed call */
    long long expires = e->ttl ? e->created + e->ttl + config.stale_if_error : 0;
    int rc = store_put(s, &k, out.data, out.len, expires, &err);
    if (rc != 0) warn_once(&warned_store, err);
    else free(err);
    buf_free(&out);
    return rc != 0 ? -1 : 0;
}
