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
#include "replay_miss.h"
#include "store.h"
#include "store_redis_io.h"
#include "usage.h"

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
    if (config.mode == MODE_ONCE) { /* decided once per process (llmshim run decides once per run) */
        int has = store_file_has_entries(config.dir);
        config.mode = has > 0 ? MODE_REPLAY : MODE_RECORD;
        if (config.log >= LOG_INFO)
            log_line("once: %s holds %s: %s", config.dir, has > 0 ? "entries" : "none", mode_name(config.mode));
    }
}

const struct config *cache_config(void) {
    pthread_once(&config_once, config_init);
    return &config;
}

/* Replay from a directory that is not there: a misspelt --dir, a cassette never committed.
 * Said once, here; the misses that follow add nothing to it. */
static int replay_without_dir;

static int replay_dir_missing(void) {
    struct stat st;
    if (config.mode != MODE_REPLAY || config.backend != BACKEND_FILE || !config.dir) return 0;
    if (stat(config.dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    log_line("replay: cassette directory %s does not exist (LLMSHIM_DIR from %s); every LLM request fails",
             config.dir, config_source("LLMSHIM_DIR"));
    return replay_without_dir = 1;
}

static void store_init(void) {
    char *err = NULL;
    if (replay_dir_missing()) return;
    if (config.backend == BACKEND_MEMORY) {
        store = store_memory_open(config.mem_max_entries, config.mem_max_bytes);
        if (!store) err = strdup("memory store: out of memory");
    } else if (config.backend == BACKEND_REDIS) {
        struct store_redis_opts o = {config.redis_url, config.ns,           config.redis_connect_ms,
                                     config.redis_timeout_ms, config.redis_ca, config.redis_cert,
                                     config.redis_key, config.sentinel_password};
        if (config.max_entry_bytes) redis_io_max_reply = config.max_entry_bytes + (64u << 10); /* + framing */
        store = store_redis_open(&o, &err);
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
    if (config.mode == MODE_REPLAY) { /* replay writes nothing: no secret means no key */
        log_line("no %s for LLMSHIM_KEY_SCOPE: replay cannot make keys; LLM requests fail", path);
        return;
    }
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
    snprintf(msg, size, "llmshim: replay miss: POST %s key %.12s", c->safe_url, c->hex);
    if (replay_without_dir) return; /* said once already, with the reason */
    replay_miss_report(&config, c);
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
        errno = 0;
        if (entry_decode_as(e, raw.data, raw.len, 0) != 0) {
            /* a failed allocation leaves ENOMEM behind: that entry is fine, the process is short */
            if (errno == ENOMEM) {
                static atomic_int warned_oom;
                if (!atomic_exchange(&warned_oom, 1))
                    log_line("out of memory while reading cache entry %s; using the network", c->name);
            } else if (!atomic_exchange(&warned_corrupt, 1)) {
                log_line("corrupt cache entry %s ignored; using the network", c->name);
            }
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
    /* a cassette must not rot: replay serves what was recorded, however old; but image URLs
     * the provider has expired are no answer, in replay neither */
    if (entry_fresh(e, now) ||
        (config.mode == MODE_REPLAY && !call_answer_ttl_max(c, e->body, e->body_len, 0)))
        return LOOKUP_HIT;
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
#define PENDING_USED 32
#define FLUSH_EVERY_US 1000000
/* An entry served again within this long is not marked again: a busy process writes one line
 * per entry per hour, not one per hit (`prune --unused-since` is exact to within that). */
#define USED_EVERY_S 3600
#define RECENT_SLOTS 256
static struct {
    pid_t pid; /* the rows belong to this process: a fork()ed child starts from zero */
    long long last_us;
    size_t n;
    struct stats_row rows[PENDING_ROWS];
    size_t nused;
    char used[PENDING_USED][65]; /* keys served since the last flush (usage marks) */
    long long used_at;
    struct {
        char hex[17];
        long long when;
    } recent[RECENT_SLOTS];
} pending;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pending_once = PTHREAD_ONCE_INIT;

static void pending_init(void) {
    forksafe_register(&pending_lock);
}

struct flush {
    struct stats_row rows[PENDING_ROWS + 1];
    size_t n;
    char used[PENDING_USED][65];
    size_t nused;
    long long used_at;
};

static void write_flush(struct store *s, const struct flush *f) {
    for (size_t i = 0; i < f->n; i++) {
        char *err = NULL;
        if (s->ops->add_stats(s, &f->rows[i], &err) != 0) warn_once(&warned_store, err);
        else free(err);
    }
    if (f->nused && s->ops->mark_used) {
        const char *hexes[PENDING_USED];
        for (size_t i = 0; i < f->nused; i++) hexes[i] = f->used[i];
        char *err = NULL;
        if (s->ops->mark_used(s, hexes, f->nused, f->used_at, &err) != 0) warn_once(&warned_store, err);
        else free(err);
    }
}

/* Takes the pending rows and marks for writing (into f) when `force` or a second has passed. */
static void take_pending(struct flush *f, int force) {
    long long now = cache_monotonic_us();
    if (!force && now - pending.last_us < FLUSH_EVERY_US && pending.n < PENDING_ROWS && pending.nused < PENDING_USED)
        return;
    memcpy(f->rows + f->n, pending.rows, pending.n * sizeof(*f->rows));
    f->n += pending.n;
    memcpy(f->used, pending.used, pending.nused * sizeof(*f->used));
    f->nused = pending.nused;
    f->used_at = pending.used_at;
    pending.n = pending.nused = 0;
    pending.last_us = now;
}

/* Notes that the entry for hex was served (under pending_lock). */
static void note_used(const char *hex) {
    long long now = cache_now();
    unsigned slot = 0;
    for (int i = 0; i < 4; i++) slot = slot * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    slot %= RECENT_SLOTS;
    if (!strncmp(pending.recent[slot].hex, hex, 16) && now - pending.recent[slot].when < USED_EVERY_S) return;
    for (size_t i = 0; i < pending.nused; i++)
        if (!strcmp(pending.used[i], hex)) return;
    if (pending.nused == PENDING_USED) return; /* taken at the next flush: the caller forces one */
    snprintf(pending.recent[slot].hex, sizeof(pending.recent[slot].hex), "%.16s", hex);
    pending.recent[slot].when = now;
    snprintf(pending.used[pending.nused++], 65, "%s", hex);
    pending.used_at = now;
}

/* An entry that answered without being served as a hit (record mode found the answer
 * unchanged): written with the next counters, which follow at once. */
static void mark_used(const char *hex) {
    pthread_once(&pending_once, pending_init);
    pthread_mutex_lock(&pending_lock);
    if (pending.pid != forksafe_pid()) {
        memset(&pending, 0, sizeof(pending));
        pending.pid = forksafe_pid();
    }
    note_used(hex);
    pthread_mutex_unlock(&pending_lock);
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
    int served = e && (o == OUTCOME_HIT || o == OUTCOME_STALE);
    if (served) {
        r.bytes_saved = (long long)e->body_len;
        r.tokens_saved = e->usage_in + e->usage_out;
        r.input_saved = e->usage_in;
        r.output_saved = e->usage_out;
        r.cached_saved = e->usage_cached;
        r.us_saved = e->latency_us > us ? e->latency_us - us : 0;
    }
    struct flush f;
    f.n = f.nused = 0;
    pthread_once(&pending_once, pending_init);
    pthread_mutex_lock(&pending_lock);
    pid_t pid = forksafe_pid();
    if (pending.pid != pid) {
        memset(&pending, 0, sizeof(pending));
        pending.pid = pid;
    }
    if (stats_rows_add(pending.rows, &pending.n, PENDING_ROWS, &r) != 0)
        f.rows[f.n++] = r; /* every row taken by other models: this one is written at once */
    if (served) note_used(c->hex);
    take_pending(&f, !served || pending.nused == PENDING_USED);
    pthread_mutex_unlock(&pending_lock);
    write_flush(s, &f);
}

/* What is still pending when the program exits normally (exit(), return from main). */
__attribute__((destructor)) static void cache_count_at_exit(void) {
    struct flush f;
    f.n = f.nused = 0;
    if (!store) return; /* never used: nothing to write, nothing to initialize */
    pthread_mutex_lock(&pending_lock);
    if (pending.pid == forksafe_pid()) take_pending(&f, 1);
    pthread_mutex_unlock(&pending_lock);
    if (f.n || f.nused) write_flush(store, &f);
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
    e->ttl = c->ttl >= 0 ? c->ttl : config.ttl;
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
    /* what the answer would cost again: the cached part of the input is billed apart */
    long long cached = 0;
    usage_scan_cached((enum stream_kind)e->stream, e->body, e->body_len, &cached);
    e->usage_cached = cached;
    if (cached && c->ep.shape == SHAPE_ANTHROPIC) e->usage_in += cached; /* counted apart from input_tokens */
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
        mark_used(c->hex); /* still asked for: not an unused recording */
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
