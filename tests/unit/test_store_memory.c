/* Unit tests for the in-memory LRU store (src/store.h, src/store_memory.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "store.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* A 64-hex-digit key derived from a small number (hex is 65 bytes): the leading digits vary
 * with n, like a real hash would, and the last 16 make every n distinct. */
static void make_hex(int n, char hex[65]) {
    for (int i = 0; i < 48; i++) hex[i] = "0123456789abcdef"[(unsigned)(n * 7 + i * 13) % 16];
    snprintf(hex + 48, 17, "%016x", (unsigned)n);
}

struct key { char hex[65]; struct store_key k; };

static void key_init(struct key *k, int n) {
    make_hex(n, k->hex);
    k->k.hex = k->hex;
    k->k.name = "unused/by/memory";
}

static int put_str(struct store *s, int n, const char *value, long long expires) {
    struct key k;
    key_init(&k, n);
    return store_put(s, &k.k, value, strlen(value), expires, NULL);
}

/* store_get(n) must hit with exactly `value`. */
static void assert_hit(struct store *s, int n, long long now, const char *value) {
    struct key k;
    key_init(&k, n);
    struct buf b;
    buf_init(&b);
    int rc = store_get(s, &k.k, now, &b, NULL);
    if (rc != 1) fail_msg("key %d: get = %d, want a hit", n, rc);
    assert_int_equal(b.len, strlen(value));
    assert_memory_equal(b.data, value, b.len);
    buf_free(&b);
}

static void assert_miss(struct store *s, int n, long long now) {
    struct key k;
    key_init(&k, n);
    struct buf b;
    buf_init(&b);
    int rc = store_get(s, &k.k, now, &b, NULL);
    if (rc != 0) fail_msg("key %d: get = %d, want a miss", n, rc);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- basics ------------------------------------------------------------------------------- */

static void test_memory_put_get_round_trip(void **state) {
    (void)state;
    struct store *s = store_memory_open(10, 1 << 20);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "memory");
    static const char bin[] = {'a', 0, (char)0xff, 'b', 0};
    struct key k;
    key_init(&k, 1);
    char *err = NULL;
    assert_int_equal(store_put(s, &k.k, bin, sizeof(bin), 0, &err), 0);
    assert_null(err);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "pre:");
    assert_int_equal(store_get(s, &k.k, 1000, &b, &err), 1);
    /* appended to what out held */
    assert_int_equal(b.len, 4 + sizeof(bin));
    assert_memory_equal(b.data, "pre:", 4);
    assert_memory_equal(b.data + 4, bin, sizeof(bin));
    buf_free(&b);
    store_close(s);
}

static void test_memory_miss_on_unknown_key(void **state) {
    (void)state;
    struct store *s = store_memory_open(10, 1 << 20);
    assert_miss(s, 1, 0);
    assert_int_equal(put_str(s, 1, "one", 0), 0);
    assert_miss(s, 2, 0);
    assert_hit(s, 1, 0, "one");
    store_close(s);
}

static void test_memory_empty_value(void **state) {
    (void)state;
    struct store *s = store_memory_open(10, 1 << 20);
    assert_int_equal(put_str(s, 1, "", 0), 0);
    assert_hit(s, 1, 0, "");
    store_close(s);
}

static void test_memory_overwrite_same_key(void **state) {
    (void)state;
    struct store *s = store_memory_open(2, 1 << 20);
    assert_int_equal(put_str(s, 1, "first", 0), 0);
    assert_int_equal(put_str(s, 1, "second, longer", 0), 0);
    assert_hit(s, 1, 0, "second, longer");
    /* the old copy does not count against the limit: two more keys still fit with it */
    assert_int_equal(put_str(s, 2, "two", 0), 0);
    assert_hit(s, 1, 0, "second, longer");
    assert_hit(s, 2, 0, "two");
    store_close(s);
}

static void test_memory_many_keys(void **state) {
    (void)state;
    struct store *s = store_memory_open(5000, 1 << 24);
    char v[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(v, sizeof(v), "value-%d", i);
        assert_int_equal(put_str(s, i, v, 0), 0);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(v, sizeof(v), "value-%d", i);
        assert_hit(s, i, 0, v);
    }
    store_close(s);
}

/* ---- eviction ----------------------------------------------------------------------------- */

static void test_memory_lru_evicts_least_recent_by_count(void **state) {
    (void)state;
    struct store *s = store_memory_open(2, 1 << 20);
    assert_int_equal(put_str(s, 'A', "a", 0), 0);
    assert_int_equal(put_str(s, 'B', "b", 0), 0);
    assert_hit(s, 'A', 0, "a"); /* A is now the most recent */
    assert_int_equal(put_str(s, 'C', "c", 0), 0);
    assert_miss(s, 'B', 0);
    assert_hit(s, 'A', 0, "a");
    assert_hit(s, 'C', 0, "c");
    store_close(s);
}

static void test_memory_lru_without_get_evicts_oldest(void **state) {
    (void)state;
    struct store *s = store_memory_open(3, 1 << 20);
    for (int i = 1; i <= 5; i++) assert_int_equal(put_str(s, i, "v", 0), 0);
    assert_miss(s, 1, 0);
    assert_miss(s, 2, 0);
    assert_hit(s, 3, 0, "v");
    assert_hit(s, 4, 0, "v");
    assert_hit(s, 5, 0, "v");
    store_close(s);
}

static void test_memory_evicts_by_bytes(void **state) {
    (void)state;
    char v40[41];
    memset(v40, 'x', 40);
    v40[40] = '\0';
    struct store *s = store_memory_open(100, 100);
    assert_int_equal(put_str(s, 1, v40, 0), 0);
    assert_int_equal(put_str(s, 2, v40, 0), 0);
    assert_hit(s, 1, 0, v40); /* 1 more recent than 2 */
    assert_int_equal(put_str(s, 3, v40, 0), 0); /* 120 bytes > 100: evict 2 */
    assert_miss(s, 2, 0);
    assert_hit(s, 1, 0, v40);
    assert_hit(s, 3, 0, v40);
    /* one item of exactly max_bytes fits, alone */
    char v100[101];
    memset(v100, 'y', 100);
    v100[100] = '\0';
    assert_int_equal(put_str(s, 4, v100, 0), 0);
    assert_hit(s, 4, 0, v100);
    assert_miss(s, 1, 0);
    assert_miss(s, 3, 0);
    store_close(s);
}

static void test_memory_item_larger_than_max_bytes_not_stored(void **state) {
    (void)state;
    char big[102];
    memset(big, 'z', 101);
    big[101] = '\0';
    struct store *s = store_memory_open(10, 100);
    assert_int_equal(put_str(s, 1, "small", 0), 0);
    char *err = NULL;
    struct key k;
    key_init(&k, 2);
    assert_int_equal(store_put(s, &k.k, big, 101, 0, &err), 0);
    assert_null(err);
    assert_miss(s, 2, 0);
    /* and nothing was evicted to make room for it */
    assert_hit(s, 1, 0, "small");
    store_close(s);
}

/* ---- expiry ------------------------------------------------------------------------------- */

static void test_memory_expiry(void **state) {
    (void)state;
    struct store *s = store_memory_open(10, 1 << 20);
    assert_int_equal(put_str(s, 1, "v", 100), 0);
    assert_hit(s, 1, 99, "v");
    assert_miss(s, 1, 100);
    /* once expired it is gone, even for an earlier clock */
    assert_miss(s, 1, 50);
    store_close(s);
}

static void test_memory_expires_zero_never_expires(void **state) {
    (void)state;
    struct store *s = store_memory_open(10, 1 << 20);
    assert_int_equal(put_str(s, 1, "v", 0), 0);
    assert_hit(s, 1, 0, "v");
    assert_hit(s, 1, 4102444800LL, "v"); /* 2100-01-01 */
    assert_hit(s, 1, 0x7fffffffffffffffLL, "v");
    store_close(s);
}

static void test_memory_expired_entry_frees_its_slot(void **state) {
    (void)state;
    struct store *s = store_memory_open(2, 1 << 20);
    assert_int_equal(put_str(s, 2, "keep", 0), 0);
    assert_int_equal(put_str(s, 1, "old", 10), 0); /* 1 most recent, 2 least */
    assert_miss(s, 1, 10);                         /* expired: dropped on sight */
    assert_int_equal(put_str(s, 3, "new", 0), 0);
    /* 2 survives: the expired entry's slot was reused, no eviction needed */
    assert_hit(s, 2, 10, "keep");
    assert_hit(s, 3, 10, "new");
    store_close(s);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { THREADS = 8, OPS = 2000, KEYS = 50, MAX_ENTRIES = 20 };

/* Two possible values per key, both derived from the key: a get may see either, never a mix. */
static size_t value_len(int key, int version) {
    return 16 + (size_t)key * 13 + (size_t)version * 7;
}

static void value_fill(int key, int version, unsigned char *out) {
    size_t n = value_len(key, version);
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(key * 31 + version * 101 + i * 7);
}

static int value_is(int key, int version, const char *p, size_t n) {
    unsigned char want[16 + KEYS * 13 + 7];
    if (n != value_len(key, version)) return 0;
    value_fill(key, version, want);
    return memcmp(p, want, n) == 0;
}

struct worker {
    struct store *s;
    unsigned seed;
    long hits, misses, bad, errors;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct buf b;
    buf_init(&b);
    unsigned char val[16 + KEYS * 13 + 7];
    for (int op = 0; op < OPS; op++) {
        int key = (int)(rand_r(&w->seed) % KEYS);
        struct key k;
        key_init(&k, key);
        if (rand_r(&w->seed) % 2) {
            int version = (int)(rand_r(&w->seed) % 2);
            value_fill(key, version, val);
            if (store_put(w->s, &k.k, val, value_len(key, version), 0, NULL) != 0) w->errors++;
        } else {
            buf_clear(&b);
            int rc = store_get(w->s, &k.k, 0, &b, NULL);
            if (rc == 0) w->misses++;
            else if (rc == 1 && (value_is(key, 0, b.data, b.len) || value_is(key, 1, b.data, b.len))) w->hits++;
            else if (rc == 1) w->bad++;
            else w->errors++;
        }
    }
    buf_free(&b);
    return NULL;
}

static void test_memory_threads_never_see_torn_data(void **state) {
    (void)state;
    struct store *s = store_memory_open(MAX_ENTRIES, 1 << 20);
    struct worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.s = s, .seed = 12345u + (unsigned)i * 7919u};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    long hits = 0, misses = 0, bad = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        hits += w[i].hits;
        misses += w[i].misses;
        bad += w[i].bad;
        errors += w[i].errors;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(errors, 0);
    assert_true(hits + misses > 0);
    assert_true(hits > 0); /* with 20 of 50 keys cached, some gets must hit */
    /* afterwards: never more than max_entries alive, and each one intact */
    int alive = 0;
    struct buf b;
    buf_init(&b);
    for (int key = 0; key < KEYS; key++) {
        struct key k;
        key_init(&k, key);
        buf_clear(&b);
        int rc = store_get(s, &k.k, 0, &b, NULL);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            alive++;
            assert_true(value_is(key, 0, b.data, b.len) || value_is(key, 1, b.data, b.len));
        }
    }
    buf_free(&b);
    assert_true(alive > 0);
    assert_true(alive <= MAX_ENTRIES);
    store_close(s);
}

/* mem_put returns 0 ("stored") for a value larger than max_bytes without touching the map, so an
 * older value under the same key stays and is served: after a successful put, a get returns data
 * that was never the latest for that key. Expected: the old value is dropped (get misses). */
static void test_memory_oversize_overwrite_drops_old_value(void **state) {
    (void)state;
    char big[102];
    memset(big, 'z', 101);
    big[101] = '\0';
    struct store *s = store_memory_open(10, 100);
    assert_int_equal(put_str(s, 1, "old", 0), 0);
    assert_int_equal(put_str(s, 1, big, 0), 0);
    assert_miss(s, 1, 0);
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_put_get_round_trip),
        cmocka_unit_test(test_memory_miss_on_unknown_key),
        cmocka_unit_test(test_memory_empty_value),
        cmocka_unit_test(test_memory_overwrite_same_key),
        cmocka_unit_test(test_memory_many_keys),
        cmocka_unit_test(test_memory_lru_evicts_least_recent_by_count),
        cmocka_unit_test(test_memory_lru_without_get_evicts_oldest),
        cmocka_unit_test(test_memory_evicts_by_bytes),
        cmocka_unit_test(test_memory_item_larger_than_max_bytes_not_stored),
        cmocka_unit_test(test_memory_expiry),
        cmocka_unit_test(test_memory_expires_zero_never_expires),
        cmocka_unit_test(test_memory_expired_entry_frees_its_slot),
        cmocka_unit_test(test_memory_threads_never_see_torn_data),
        cmocka_unit_test(test_memory_oversize_overwrite_drops_old_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
