/* Unit tests for the Redis store (src/store_redis.c) against real redis-servers that the tests
 * start themselves on random loopback ports (never the system one on 6379). Without
 * redis-server installed every test is skipped, saying why. A second, plain hiredis connection
 * checks what the store really wrote. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_server.h"
#include "buf.h"
#include "store.h"

/* ---- redis-server ------------------------------------------------------------------------- */

static struct server main_srv;
static struct server own_srv; /* a test's own server, stopped by teardown even when it fails */
static const char *no_redis; /* why every test is skipped, or NULL */
static redisContext *adm;     /* a plain connection to main_srv, for checking what the store did */

static redisReply *cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(adm, fmt, ap);
    va_end(ap);
    if (!r) fail_msg("admin command failed: %s", adm->errstr);
    return r;
}

/* An admin command with an integer reply. */
static long long num(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(adm, fmt, ap);
    va_end(ap);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s: no integer reply (%s)", fmt, r && r->str ? r->str : adm->errstr);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* How many connections the main server has accepted. */
static long long connections_received(void) {
    redisReply *r = cmd("INFO stats");
    const char *p = r->str ? strstr(r->str, "total_connections_received:") : NULL;
    long long n = p ? atoll(p + strlen("total_connections_received:")) : -1;
    freeReplyObject(r);
    return n;
}

static int group_setup(void **state) {
    (void)state;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE from the store must kill us, not pass unseen */
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        no_redis = "redis-server is not installed (apt-get install redis-server)";
    else if (server_start(&main_srv, NULL, NULL) != 0 || !(adm = admin(&main_srv)))
        no_redis = "redis-server did not start";
    if (no_redis) fprintf(stderr, "test_store_redis: skipping every test: %s\n", no_redis);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (adm) redisFree(adm);
    if (main_srv.pid) server_stop(&main_srv);
    return 0;
}

/* Each test starts on an empty main server. */
static int setup(void **state) {
    (void)state;
    if (no_redis) return 0;
    freeReplyObject(cmd("SELECT 0"));
    freeReplyObject(cmd("FLUSHALL"));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (own_srv.pid) server_stop(&own_srv);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL); /* a failed signal test leaves no timer running */
    return 0;
}

static struct server *own_start(const char *password, const char *const *extra) {
    if (server_start(&own_srv, password, extra) != 0) fail_msg("a redis-server of its own did not start");
    return &own_srv;
}

#define NEED_REDIS() do { if (no_redis) { fprintf(stderr, "skipped: %s\n", no_redis); skip(); } } while (0)

/* ---- keys and helpers --------------------------------------------------------------------- */

struct key { char hex[65]; struct store_key k; };

static void key_init(struct key *k, int n) {
    for (int i = 0; i < 48; i++) k->hex[i] = "0123456789abcdef"[(unsigned)(n * 7 + i * 13) % 16];
    snprintf(k->hex + 48, 17, "%016x", (unsigned)n);
    k->k.hex = k->hex;
    k->k.name = "unused/by/redis";
}

static struct store *open_ok(const char *url, const char *ns, int connect_ms, int command_ms) {
    char *err = NULL;
    struct store_redis_opts o = {.url = url, .ns = ns, .connect_ms = connect_ms, .command_ms = command_ms};
    struct store *s = store_redis_open(&o, &err);
    if (!s) fail_msg("store_redis_open(%s): %s", url, err ? err : "(no message)");
    assert_null(err);
    return s;
}

static struct store *open_main(const char *ns) {
    return open_ok(main_srv.url, ns, 1000, 1000);
}

static int put_str(struct store *s, int n, const char *value, long long expires) {
    struct key k;
    key_init(&k, n);
    char *err = NULL;
    int rc = store_put(s, &k.k, value, strlen(value), expires, &err);
    if (rc != 0) fprintf(stderr, "put %d: %s\n", n, err ? err : "(no message)");
    free(err);
    return rc;
}

/* get n: -1, 0, or 1 with the value compared to want (mismatch = -2). */
static int get_cmp(struct store *s, int n, const char *want, char **err) {
    struct key k;
    key_init(&k, n);
    struct buf b;
    buf_init(&b);
    int rc = store_get(s, &k.k, 0, &b, err);
    if (rc == 1 && (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)) rc = -2;
    buf_free(&b);
    return rc;
}

static void assert_hit(struct store *s, int n, const char *want) {
    char *err = NULL;
    int rc = get_cmp(s, n, want, &err);
    if (rc != 1) fail_msg("key %d: get = %d (%s), want a hit with [%s]", n, rc, err ? err : "", want);
}

static void assert_miss(struct store *s, int n) {
    char *err = NULL;
    int rc = get_cmp(s, n, "", &err);
    if (rc != 0) fail_msg("key %d: get = %d (%s), want a miss", n, rc, err ? err : "");
}

/* Asserts -1 with an error containing want; returns how long the call took (ms). */
static long long assert_get_fails(struct store *s, const char *want) {
    char *err = NULL;
    long long t0 = now_ms();
    int rc = get_cmp(s, 1, "", &err);
    long long took = now_ms() - t0;
    if (rc != -1) fail_msg("get = %d, want -1 (%s)", rc, want);
    if (!err || !strstr(err, want)) fail_msg("error [%s] lacks [%s]", err ? err : "(none)", want);
    free(err);
    return took;
}

static char *key_name(const char *ns, const struct key *k) {
    static char name[256];
    snprintf(name, sizeof(name), "llmshim:v1:%s:%s", ns, k->hex);
    return name;
}

/* A TCP port on 127.0.0.1 where nothing listens (bound, then closed). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

static int pending_connection(int lfd) {
    struct pollfd p = {lfd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

/* ---- open --------------------------------------------------------------------------------- */

static void test_open_connects_nothing(void **state) {
    (void)state;
    NEED_REDIS();
    long long before = connections_received();
    struct store *s = open_main("");
    assert_string_equal(s->ops->name, "redis");
    assert_non_null(s->ops->each);
    assert_non_null(s->ops->del);
    assert_non_null(s->ops->add_stats);
    assert_non_null(s->ops->get_stats);
    assert_non_null(s->ops->lock);
    assert_non_null(s->ops->unlock);
    assert_int_equal(connections_received(), before);
    assert_miss(s, 1);
    assert_int_equal(connections_received(), before + 1);
    store_close(s);
    /* a store never used: nothing to leak */
    store_close(open_ok("redis://127.0.0.1:1", "x", 0, 0));
}

static void test_open_bad_url(void **state) {
    (void)state;
    char *err = NULL;
    assert_null(store_redis_open(&(struct store_redis_opts){.url = "http://127.0.0.1:6379", .ns = ""}, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "unsupported scheme 'http'"));
    free(err);
    err = NULL;
    assert_null(store_redis_open(&(struct store_redis_opts){.url = "redis://h:99999", .ns = ""}, &err));
    assert_non_null(strstr(err, "port 99999 is out of range"));
    free(err);
    assert_null(store_redis_open(&(struct store_redis_opts){.url = "redis://h:0", .ns = ""}, NULL)); /* err may be NULL */
}

/* ---- entries ------------------------------------------------------------------------------ */

static void test_put_get_round_trip(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("rt");
    static const char bin[] = {'a', 0, (char)0xff, '\r', '\n', 'b', 0};
    struct key k;
    key_init(&k, 1);
    char *err = NULL;
    assert_int_equal(store_put(s, &k.k, bin, sizeof(bin), 0, &err), 0);
    assert_null(err);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "pre:");
    assert_int_equal(store_get(s, &k.k, 0, &b, &err), 1); /* appended to what out held */
    assert_null(err);
    assert_int_equal(b.len, 4 + sizeof(bin));
    assert_memory_equal(b.data, "pre:", 4);
    assert_memory_equal(b.data + 4, bin, sizeof(bin));
    assert_int_equal(b.data[b.len], '\0');
    buf_free(&b);
    /* an empty value is a hit too */
    key_init(&k, 2);
    assert_int_equal(store_put(s, &k.k, "", 0, 0, NULL), 0);
    assert_hit(s, 2, "");
    /* overwrite */
    assert_int_equal(put_str(s, 3, "old", 0), 0);
    assert_int_equal(put_str(s, 3, "new", 0), 0);
    assert_hit(s, 3, "new");
    /* miss leaves out alone */
    buf_init(&b);
    buf_puts(&b, "x");
    key_init(&k, 99);
    assert_int_equal(store_get(s, &k.k, 0, &b, &err), 0);
    assert_null(err);
    assert_string_equal(b.data, "x");
    buf_free(&b);
    /* another instance on the same namespace sees it; another namespace does not */
    struct store *same = open_main("rt"), *other = open_main("rt2");
    assert_hit(same, 3, "new");
    assert_miss(other, 3);
    store_close(same);
    store_close(other);
    store_close(s);
}

static void test_large_value(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("big");
    size_t n = 8u << 20;
    char *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (char)(i * 31 + (i >> 13));
    struct key k;
    key_init(&k, 1);
    assert_int_equal(store_put(s, &k.k, v, n, 0, NULL), 0);
    struct buf b;
    buf_init(&b);
    assert_int_equal(store_get(s, &k.k, 0, &b, NULL), 1);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, v, n);
    buf_free(&b);
    free(v);
    store_close(s);
}

/* Entries of sizes around the read sizes (16 KiB first read, 64 KiB after) one after another on
 * the same connection, whose reader keeps its buffer between replies; and a get into a buffer
 * that already holds something appends (the reply's string is only taken over by an empty one). */
static void test_values_of_every_size_in_turn(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("sizes");
    static const size_t sizes[] = {1, 16383, 16384, 16385, 65536 + 7, 300000, 5, 200000, 16 * 1024 * 3 + 1};
    size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
    char *v = malloc(300000);
    assert_non_null(v);
    for (size_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < nsizes; i++) {
            for (size_t j = 0; j < sizes[i]; j++) v[j] = (char)(j * 7 + i + round);
            struct key k;
            key_init(&k, (int)(100 + i));
            assert_int_equal(store_put(s, &k.k, v, sizes[i], 0, NULL), 0);
            struct buf b;
            buf_init(&b);
            if (round) buf_puts(&b, "prefix");
            assert_int_equal(store_get(s, &k.k, 0, &b, NULL), 1);
            size_t off = round ? 6 : 0;
            assert_int_equal(b.len, off + sizes[i]);
            if (round) assert_memory_equal(b.data, "prefix", 6);
            assert_memory_equal(b.data + off, v, sizes[i]);
            assert_int_equal(b.data[b.len], '\0');
            buf_free(&b);
        }
    }
    free(v);
    store_close(s);
}

static void test_key_names_and_ttl(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("team:a");
    struct key k;
    key_init(&k, 7);
    long long expires = (long long)time(NULL) + 100;
    assert_int_equal(store_put(s, &k.k, "v", 1, expires, NULL), 0);
    assert_int_equal(num("EXISTS %s", key_name("team:a", &k)), 1);
    long long pttl = num("PTTL %s", key_name("team:a", &k));
    if (pttl < 98000 || pttl > 100000) fail_msg("PTTL %lld, want about 100000", pttl);
    /* expires 0: no TTL at all */
    key_init(&k, 8);
    assert_int_equal(store_put(s, &k.k, "v", 1, 0, NULL), 0);
    assert_int_equal(num("PTTL %s", key_name("team:a", &k)), -1);
    /* already expired: not stored, not an error, and an older value is not refreshed */
    key_init(&k, 9);
    assert_int_equal(store_put(s, &k.k, "v", 1, (long long)time(NULL) - 1, NULL), 0);
    assert_int_equal(num("EXISTS %s", key_name("team:a", &k)), 0);
    assert_miss(s, 9);
    store_close(s);
    /* an empty namespace still has its colon */
    s = open_main("");
    key_init(&k, 10);
    assert_int_equal(store_put(s, &k.k, "v", 1, 0, NULL), 0);
    char name[128];
    snprintf(name, sizeof(name), "llmshim:v1::%s", k.hex);
    assert_int_equal(num("EXISTS %s", name), 1);
    assert_int_equal(num("DBSIZE"), 3);
    store_close(s);
}

static void test_del(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("d");
    struct key k;
    key_init(&k, 1);
    assert_int_equal(put_str(s, 1, "v", 0), 0);
    assert_int_equal(s->ops->del(s, &k.k, NULL), 1);
    assert_miss(s, 1);
    assert_int_equal(s->ops->del(s, &k.k, NULL), 0);
    store_close(s);
}

static void test_invalid_key(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("");
    struct store_key bad = {"abc", "x"};
    struct buf b;
    buf_init(&b);
    char *err = NULL;
    assert_int_equal(store_get(s, &bad, 0, &b, &err), -1);
    assert_non_null(strstr(err, "invalid key"));
    free(err);
    assert_int_equal(store_put(s, &bad, "v", 1, 0, NULL), -1);
    assert_int_equal(s->ops->lock(s, &bad, 1000, NULL), -1);
    s->ops->unlock(s, &bad);
    buf_free(&b);
    store_close(s);
}

/* An error reply (here WRONGTYPE) fails that call only: no backoff afterwards. */
static void test_error_reply_no_backoff(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("w");
    struct key k;
    key_init(&k, 1);
    freeReplyObject(cmd("HSET %s f v", key_name("w", &k)));
    char *err = NULL;
    assert_int_equal(get_cmp(s, 1, "", &err), -1);
    assert_non_null(strstr(err, "WRONGTYPE"));
    free(err);
    assert_int_equal(put_str(s, 2, "fine", 0), 0);
    assert_hit(s, 2, "fine");
    store_close(s);
}

/* ---- each --------------------------------------------------------------------------------- */

struct seen { int count, found[1300]; int stop_after; char bad[128]; };

static int collect(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct seen *s = ud;
    s->count++;
    unsigned n = (unsigned)strtoul(k->hex + 48, NULL, 16);
    char want[32];
    snprintf(want, sizeof(want), "value-%u", n);
    if (n >= 1300 || len != strlen(want) || memcmp(data, want, len) || strcmp(k->name, k->hex))
        snprintf(s->bad, sizeof(s->bad), "unexpected entry %.64s", k->hex);
    else s->found[n]++;
    return s->stop_after && s->count >= s->stop_after;
}

static void put_values(struct store *s, int from, int to) {
    for (int i = from; i < to; i++) {
        char v[32];
        snprintf(v, sizeof(v), "value-%d", i);
        assert_int_equal(put_str(s, i, v, 0), 0);
    }
}

static void test_each_finds_exactly_the_entries(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("e"), *near = open_main("e:x"), *glob = open_main("e*");
    put_values(s, 0, 5);
    put_values(near, 100, 103); /* llmshim:v1:e:x:<hex> also matches llmshim:v1:e:* */
    put_values(glob, 200, 202);
    struct stats_row row;
    stats_row_init(&row, "openai", "gpt-4o");
    row.hits = 1;
    assert_int_equal(s->ops->add_stats(s, &row, NULL), 0);
    struct key k;
    key_init(&k, 4);
    assert_int_equal(s->ops->lock(s, &k.k, 10000, NULL), 1);
    struct seen seen = {0};
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_string_equal(seen.bad, "");
    assert_int_equal(seen.count, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(seen.found[i], 1);
    /* the namespace "e*" is a namespace, not a pattern */
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(glob->ops->each(glob, collect, &seen, NULL), 0);
    assert_int_equal(seen.count, 2);
    assert_int_equal(seen.found[200] + seen.found[201], 2);
    struct store *bracket = open_main("x[y"); /* an unbalanced glob class */
    put_values(bracket, 300, 303);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(bracket->ops->each(bracket, collect, &seen, NULL), 0);
    assert_int_equal(seen.count, 3);
    store_close(bracket);
    /* fn asks to stop */
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 2;
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_int_equal(seen.count, 2);
    s->ops->unlock(s, &k.k);
    store_close(s);
    store_close(near);
    store_close(glob);
}

static void test_each_many_pages(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("many");
    put_values(s, 0, 1300);
    struct seen seen = {0};
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_string_equal(seen.bad, "");
    assert_int_equal(seen.count, 1300); /* SCAN may repeat a key; this server does not rehash */
    for (int i = 0; i < 1300; i++) assert_int_equal(seen.found[i], 1);
    store_close(s);
}

/* each's callback may use the store (prune deletes while walking). */
static int delete_each(const struct store_key *k, const char *data, size_t len, void *ud) {
    (void)data;
    (void)len;
    struct store *s = ud;
    return s->ops->del(s, k, NULL) == 1 ? 0 : 1;
}

static void test_each_callback_uses_store(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("prune");
    put_values(s, 0, 20);
    assert_int_equal(s->ops->each(s, delete_each, s, NULL), 0);
    struct seen seen = {0};
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_int_equal(seen.count, 0);
    store_close(s);
}

/* ---- stats -------------------------------------------------------------------------------- */

static const struct stats_row *find_row(const struct stats_table *t, const char *provider, const char *model) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].provider, provider) && !strcmp(t->rows[i].model, model)) return &t->rows[i];
    fail_msg("no stats row %s/%s", provider, model);
    return NULL;
}

static void test_stats_sum_over_stores(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *a = open_main("st"), *b = open_main("st"), *other = open_main("st2");
    struct stats_row r;
    stats_row_init(&r, "openai", "gpt-4o");
    r.hits = 2, r.misses = 1, r.stores = 1, r.bytes_saved = 1000, r.tokens_saved = 50, r.us_saved = 123456;
    assert_int_equal(a->ops->add_stats(a, &r, NULL), 0);
    r.hits = 3, r.errors = 1, r.stale = 4, r.bytes_saved = -10;
    assert_int_equal(b->ops->add_stats(b, &r, NULL), 0);
    struct stats_row z;
    stats_row_init(&z, "anthropic", "claude-3");
    z.misses = 7;
    assert_int_equal(b->ops->add_stats(b, &z, NULL), 0);
    stats_row_init(&z, "idle", "nothing"); /* all zero: nothing written */
    assert_int_equal(b->ops->add_stats(b, &z, NULL), 0);
    assert_int_equal(other->ops->add_stats(other, &r, NULL), 0);

    struct store *reader = open_main("st");
    struct stats_table t = {0};
    assert_int_equal(reader->ops->get_stats(reader, &t, NULL), 0);
    assert_int_equal(t.n, 2);
    const struct stats_row *o = find_row(&t, "openai", "gpt-4o");
    assert_int_equal(o->hits, 5);
    assert_int_equal(o->misses, 2);
    assert_int_equal(o->stores, 2);
    assert_int_equal(o->errors, 1);
    assert_int_equal(o->stale, 4);
    assert_int_equal(o->bytes_saved, 990);
    assert_int_equal(o->tokens_saved, 100);
    assert_int_equal(o->us_saved, 246912);
    assert_int_equal(find_row(&t, "anthropic", "claude-3")->misses, 7);
    stats_table_free(&t);

    /* the hash and its fields, as documented */
    redisReply *rep = cmd("HGET llmshim:v1:st:stats %s", "openai\tgpt-4o\thits");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "5");
    freeReplyObject(rep);
    assert_int_equal(num("HLEN %s", "llmshim:v1:st:stats"), 9);
    /* fields that are not ours are skipped */
    freeReplyObject(cmd("HSET llmshim:v1:st:stats junk 1 %s x", "a\tb\tunknown"));
    assert_int_equal(reader->ops->get_stats(reader, &t, NULL), 0);
    assert_int_equal(t.n, 2);
    stats_table_free(&t);
    store_close(a);
    store_close(b);
    store_close(other);
    store_close(reader);
}

/* ---- fill locks --------------------------------------------------------------------------- */

static void test_lock_unlock(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *a = open_main("l"), *b = open_main("l");
    struct key k;
    key_init(&k, 1);
    char *err = NULL;
    assert_int_equal(a->ops->lock(a, &k.k, 10000, &err), 1);
    assert_null(err);
    char name[160];
    snprintf(name, sizeof(name), "llmshim:v1:l:lock:%s", k.hex);
    long long pttl = num("PTTL %s", name);
    if (pttl < 9000 || pttl > 10000) fail_msg("lock PTTL %lld, want about 10000", pttl);
    assert_int_equal(b->ops->lock(b, &k.k, 10000, NULL), 0); /* held */
    assert_int_equal(a->ops->lock(a, &k.k, 10000, NULL), 0); /* by anyone, this store too */
    b->ops->unlock(b, &k.k);                                 /* not b's: nothing happens */
    assert_int_equal(num("EXISTS %s", name), 1);
    a->ops->unlock(a, &k.k);
    assert_int_equal(num("EXISTS %s", name), 0);
    assert_int_equal(b->ops->lock(b, &k.k, 10000, NULL), 1);
    a->ops->unlock(a, &k.k); /* a no longer holds it */
    assert_int_equal(num("EXISTS %s", name), 1);
    b->ops->unlock(b, &k.k);
    assert_int_equal(num("EXISTS %s", name), 0);
    /* many keys at once */
    for (int i = 0; i < 40; i++) {
        key_init(&k, 100 + i);
        assert_int_equal(a->ops->lock(a, &k.k, 10000, NULL), 1);
    }
    for (int i = 0; i < 40; i++) {
        key_init(&k, 100 + i);
        a->ops->unlock(a, &k.k);
    }
    assert_int_equal(num("DBSIZE"), 0);
    store_close(a);
    store_close(b);
}

static void test_lock_expires(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *a = open_main("lx"), *b = open_main("lx");
    struct key k;
    key_init(&k, 1);
    assert_int_equal(a->ops->lock(a, &k.k, 200, NULL), 1); /* a "dies" holding it */
    assert_int_equal(b->ops->lock(b, &k.k, 10000, NULL), 0);
    sleep_ms(300);
    assert_int_equal(b->ops->lock(b, &k.k, 10000, NULL), 1);
    a->ops->unlock(a, &k.k); /* a's token is gone: b's lock stays */
    char name[160];
    snprintf(name, sizeof(name), "llmshim:v1:lx:lock:%s", k.hex);
    assert_int_equal(num("EXISTS %s", name), 1);
    b->ops->unlock(b, &k.k);
    assert_int_equal(num("EXISTS %s", name), 0);
    store_close(a); /* closing with nothing held */
    /* closing while holding a lock frees its memory; the key expires by itself */
    assert_int_equal(b->ops->lock(b, &k.k, 100, NULL), 1);
    store_close(b);
}

/* ---- connection settings ------------------------------------------------------------------ */

static void test_auth_password_and_acl_user(void **state) {
    (void)state;
    NEED_REDIS();
    static const char *const acl[] = {"--user", "alice", "on", ">wonder land", "~llmshim:*", "&*", "+@all", NULL};
    struct server *srv = own_start("pw:1@x", acl);
    char url[400];
    /* the default user's password, percent-encoded */
    snprintf(url, sizeof(url), "redis://:pw%%3A1%%40x@127.0.0.1:%d/0", srv->port);
    struct store *s = open_ok(url, "auth", 500, 500);
    assert_int_equal(put_str(s, 1, "by default", 0), 0);
    assert_hit(s, 1, "by default");
    store_close(s);
    /* an ACL user */
    snprintf(url, sizeof(url), "redis://alice:wonder%%20land@127.0.0.1:%d", srv->port);
    s = open_ok(url, "auth", 500, 500);
    assert_hit(s, 1, "by default");
    assert_int_equal(put_str(s, 2, "by alice", 0), 0);
    assert_hit(s, 2, "by alice");
    store_close(s);
    /* over the unix socket, credentials as parameters */
    snprintf(url, sizeof(url), "unix://%s?user=alice&password=wonder%%20land", srv->sock);
    s = open_ok(url, "auth", 500, 500);
    assert_hit(s, 2, "by alice");
    store_close(s);
    /* wrong password: -1, a clear message, no secret in it */
    snprintf(url, sizeof(url), "redis://alice:nope@127.0.0.1:%d", srv->port);
    s = open_ok(url, "auth", 500, 500);
    char *err = NULL;
    assert_int_equal(get_cmp(s, 1, "", &err), -1);
    if (!strstr(err, "AUTH failed") || !strstr(err, "WRONGPASS") || strstr(err, "nope"))
        fail_msg("message: %s", err);
    char want[64];
    snprintf(want, sizeof(want), "redis 127.0.0.1:%d: ", srv->port);
    assert_memory_equal(err, want, strlen(want));
    free(err);
    store_close(s);
    /* no password at all */
    s = open_ok(srv->url, "auth", 500, 500);
    err = NULL;
    assert_int_equal(get_cmp(s, 1, "", &err), -1);
    assert_non_null(strstr(err, "NOAUTH"));
    free(err);
    store_close(s);
}

static void test_unix_socket(void **state) {
    (void)state;
    NEED_REDIS();
    char url[200];
    snprintf(url, sizeof(url), "unix://%s", main_srv.sock);
    struct store *u = open_ok(url, "sock", 500, 500), *t = open_main("sock");
    assert_int_equal(put_str(u, 1, "through the socket", 0), 0);
    assert_hit(t, 1, "through the socket");
    store_close(u);
    store_close(t);
    /* a socket that is not there */
    snprintf(url, sizeof(url), "unix://%s/absent.sock", main_srv.dir);
    u = open_ok(url, "", 500, 500);
    char *err = NULL;
    assert_int_equal(get_cmp(u, 1, "", &err), -1);
    if (!strstr(err, "absent.sock: no such file or directory")) fail_msg("message: %s", err);
    free(err);
    store_close(u);
}

static void test_select_db_isolates(void **state) {
    (void)state;
    NEED_REDIS();
    char url[200];
    snprintf(url, sizeof(url), "%s/3", main_srv.url);
    struct store *db3 = open_ok(url, "db", 500, 500), *db0 = open_main("db");
    snprintf(url, sizeof(url), "unix://%s?db=3", main_srv.sock);
    struct store *sock3 = open_ok(url, "db", 500, 500);
    assert_int_equal(put_str(db3, 1, "in three", 0), 0);
    assert_miss(db0, 1);
    assert_hit(sock3, 1, "in three");
    assert_int_equal(put_str(db0, 1, "in zero", 0), 0);
    assert_hit(db3, 1, "in three");
    struct key k;
    key_init(&k, 1);
    freeReplyObject(cmd("SELECT 3"));
    redisReply *r = cmd("GET %s", key_name("db", &k));
    assert_string_equal(r->str, "in three");
    freeReplyObject(r);
    /* a db the server does not have */
    snprintf(url, sizeof(url), "%s/99", main_srv.url);
    struct store *bad = open_ok(url, "db", 500, 500);
    char *err = NULL;
    assert_int_equal(get_cmp(bad, 1, "", &err), -1);
    if (!strstr(err, "SELECT failed") || !strstr(err, "out of range")) fail_msg("message: %s", err);
    free(err);
    store_close(bad);
    store_close(db3);
    store_close(db0);
    store_close(sock3);
}

/* ---- failures ----------------------------------------------------------------------------- */

static void test_refused_then_backoff(void **state) {
    (void)state;
    int port = free_port();
    char url[64], want[96];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    struct store *s = open_ok(url, "", 1000, 100);
    snprintf(want, sizeof(want), "redis 127.0.0.1:%d: connection refused", port);
    long long took = assert_get_fails(s, want);
    if (took > 500) fail_msg("refused after %lld ms", took);
    /* from now on something listens there, but within the backoff nobody tries */
    int lfd = listen_on(port);
    snprintf(want, sizeof(want), "redis 127.0.0.1:%d: unavailable, retrying in 1s", port);
    took = assert_get_fails(s, want);
    if (took >= 50) fail_msg("a call in the backoff took %lld ms", took);
    assert_int_equal(put_str(s, 1, "v", 0), -1);
    struct key k;
    key_init(&k, 1);
    assert_int_equal(s->ops->lock(s, &k.k, 1000, NULL), -1);
    struct stats_row row;
    stats_row_init(&row, "p", "m");
    row.hits = 1;
    assert_int_equal(s->ops->add_stats(s, &row, NULL), -1);
    s->ops->unlock(s, &k.k);
    assert_int_equal(pending_connection(lfd), 0);
    /* after it: one attempt, to a server that never answers: a timeout, and twice the wait */
    sleep_ms(1050);
    took = assert_get_fails(s, "no answer within 100 ms");
    if (took < 90 || took > 1000) fail_msg("timeout after %lld ms, want about 100", took);
    assert_int_equal(pending_connection(lfd), 1);
    assert_get_fails(s, "unavailable, retrying in 2s");
    close(lfd);
    store_close(s);
}

/* A listener whose accept queue is full drops new SYNs: connecting hangs like a blackholed host. */
static void test_connect_timeout(void **state) {
    (void)state;
    int port = free_port(), lfd = listen_on(port), c[4];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    listen(lfd, 0);
    for (int i = 0; i < 4; i++) {
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c[i], (struct sockaddr *)&a, sizeof(a));
    }
    sleep_ms(50);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    struct store *s = open_ok(url, "", 100, 250);
    long long took = assert_get_fails(s, "connect timed out after 100 ms");
    if (took < 90 || took >= 1000) fail_msg("connect gave up after %lld ms, want about 100", took);
    store_close(s);
    for (int i = 0; i < 4; i++) close(c[i]);
    close(lfd);
}

static void test_stalled_server(void **state) {
    (void)state;
    NEED_REDIS();
    struct server *srv = own_start(NULL, NULL);
    struct store *s = open_ok(srv->url, "stall", 100, 250);
    struct store *fresh = open_ok(srv->url, "stall", 100, 250); /* connects while stalled */
    assert_int_equal(put_str(s, 1, "before", 0), 0);
    assert_int_equal(kill(srv->pid, SIGSTOP), 0);
    long long took = assert_get_fails(s, "no answer within 250 ms");
    fprintf(stderr, "    stalled server: get failed after %lld ms (command timeout 250 ms)\n", took);
    if (took < 200 || took >= 2000) fail_msg("stalled get returned after %lld ms", took);
    took = assert_get_fails(s, "unavailable, retrying in 1s");
    if (took >= 50) fail_msg("a call in the backoff took %lld ms", took);
    long long t0 = now_ms();
    assert_int_equal(put_str(fresh, 2, "x", 0), -1);
    took = now_ms() - t0;
    fprintf(stderr, "    stalled server: put on a new connection failed after %lld ms\n", took);
    if (took >= 2000) fail_msg("stalled put returned after %lld ms", took);
    assert_int_equal(kill(srv->pid, SIGCONT), 0);
    sleep_ms(1100);
    assert_hit(s, 1, "before");
    assert_int_equal(put_str(s, 3, "after", 0), 0);
    assert_hit(s, 3, "after");
    /* a success reset the backoff: the next failure waits 1 s again, not 2 */
    assert_int_equal(kill(srv->pid, SIGSTOP), 0);
    assert_get_fails(s, "no answer within 250 ms");
    assert_get_fails(s, "unavailable, retrying in 1s");
    store_close(s);
    store_close(fresh);
}

static volatile sig_atomic_t ticks;
static void on_tick(int sig) { (void)sig; ticks++; }

/* A program that gets a signal every 20 ms (a profiler's timer) must still see the timeout:
 * a wait that restarted with each signal would never end. */
static void test_stalled_server_under_signals(void **state) {
    (void)state;
    NEED_REDIS();
    struct server *srv = own_start(NULL, NULL);
    struct store *s = open_ok(srv->url, "sig", 100, 250);
    assert_int_equal(put_str(s, 1, "v", 0), 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    assert_int_equal(kill(srv->pid, SIGSTOP), 0);
    ticks = 0;
    long long took = assert_get_fails(s, "no answer within 250 ms");
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    fprintf(stderr, "    stalled server, signal every 20 ms: get failed after %lld ms (%d signals)\n", took,
            (int)ticks);
    if (took >= 2000) fail_msg("stalled get under signals returned after %lld ms", took);
    assert_true(ticks >= 5);
    store_close(s);
}

/* The server closed our idle pooled connection (restart, idle timeout, a proxy): the next call
 * reconnects at once instead of failing, and writing into the dead socket raises no SIGPIPE. */
static void test_server_closed_idle_connection(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("kill");
    assert_int_equal(put_str(s, 1, "v", 0), 0);
    freeReplyObject(cmd("CLIENT KILL TYPE normal SKIPME yes"));
    assert_hit(s, 1, "v");
    freeReplyObject(cmd("CLIENT KILL TYPE normal SKIPME yes"));
    size_t n = 4u << 20;
    char *big = calloc(1, n);
    struct key k;
    key_init(&k, 2);
    char *err = NULL;
    if (store_put(s, &k.k, big, n, 0, &err) != 0) fail_msg("put after kill: %s", err);
    free(big);
    assert_hit(s, 1, "v");
    store_close(s);
}

/* ---- processes and threads ---------------------------------------------------------------- */

/* put/get of keys from..from+n with values tagged by who; the number of wrong answers. */
static int hammer(struct store *s, const char *who, int from, int n) {
    int bad = 0;
    for (int i = from; i < from + n; i++) {
        char v[64];
        snprintf(v, sizeof(v), "%s-%d", who, i);
        if (put_str(s, i, v, 0) != 0) bad++;
        char *err = NULL;
        if (get_cmp(s, i, v, &err) != 1) bad++;
        free(err);
    }
    return bad;
}

static void test_fork_child_uses_its_own_connection(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("fork");
    assert_int_equal(put_str(s, 1, "parent", 0), 0); /* the parent's connection is pooled now */
    struct key k;
    key_init(&k, 5);
    assert_int_equal(s->ops->lock(s, &k.k, 10000, NULL), 1);
    long long before = connections_received();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* no cmocka here: exit status says it all */
        int bad = hammer(s, "child", 1000, 300);
        char *err = NULL;
        if (get_cmp(s, 1, "parent", &err) != 1) bad++;
        free(err);
        s->ops->unlock(s, &k.k); /* the parent's lock: not the child's to release */
        if (s->ops->lock(s, &k.k, 10000, NULL) != 0) bad++;
        store_close(s);
        redisFree(adm); /* the parent's admin connection: our copy only, for valgrind */
        _exit(bad ? 1 : 0);
    }
    /* at the same time: on one shared socket the answers would mix */
    int bad = hammer(s, "parent", 2000, 300);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(bad, 0);
    assert_true(connections_received() >= before + 1); /* the child connected itself */
    assert_hit(s, 1000, "child-1000");
    assert_hit(s, 2299, "parent-2299");
    assert_int_equal(s->ops->lock(s, &k.k, 10000, NULL), 0); /* still held */
    s->ops->unlock(s, &k.k);
    assert_int_equal(s->ops->lock(s, &k.k, 10000, NULL), 1);
    store_close(s);
}

struct worker { struct store *s; int id, bad; };

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char who[16];
    snprintf(who, sizeof(who), "t%d", w->id);
    w->bad = hammer(w->s, who, w->id * 1000, 500);
    return NULL;
}

static void test_threads_share_one_store(void **state) {
    (void)state;
    NEED_REDIS();
    struct store *s = open_main("threads");
    pthread_t t[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){s, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        if (w[i].bad) fail_msg("thread %d: %d wrong answers", i, w[i].bad);
    }
    for (int i = 0; i < 8; i++) { /* and afterwards, from this thread */
        char v[32];
        snprintf(v, sizeof(v), "t%d-%d", i, i * 1000 + 499);
        assert_hit(s, i * 1000 + 499, v);
    }
    store_close(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_open_connects_nothing),
        T(test_open_bad_url),
        T(test_put_get_round_trip),
        T(test_large_value),
        T(test_values_of_every_size_in_turn),
        T(test_key_names_and_ttl),
        T(test_del),
        T(test_invalid_key),
        T(test_error_reply_no_backoff),
        T(test_each_finds_exactly_the_entries),
        T(test_each_many_pages),
        T(test_each_callback_uses_store),
        T(test_stats_sum_over_stores),
        T(test_lock_unlock),
        T(test_lock_expires),
        T(test_auth_password_and_acl_user),
        T(test_unix_socket),
        T(test_select_db_isolates),
        T(test_refused_then_backoff),
        T(test_connect_timeout),
        T(test_stalled_server),
        T(test_stalled_server_under_signals),
        T(test_server_closed_idle_connection),
        T(test_fork_child_uses_its_own_connection),
        T(test_threads_share_one_store),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
