/* Unit tests for the optional store ops (each, del, add_stats, get_stats, lock, unlock) of the
 * file store, and the in-process versions of the memory store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

#define HEX_A "aa0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define HEX_B "bb0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define HEX_C "cc0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"

static char dir[128];

static int setup(void **state) {
    char base[64];
    snprintf(base, sizeof(base), "/tmp/llmshim-ops-XXXXXX");
    if (!mkdtemp(base)) return -1;
    snprintf(dir, sizeof(dir), "%s/cache", base);
    char *err = NULL;
    *state = store_file_open(dir, &err);
    free(err);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    store_close(*state);
    char cmd[192];
    snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strrchr(dir, '/') - dir), dir);
    return system(cmd);
}

static void put(struct store *s, const char *hex, const char *name, const char *data) {
    struct store_key k = {hex, name};
    char *err = NULL;
    if (store_put(s, &k, data, strlen(data), 0, &err) != 0) fail_msg("put %s: %s", name, err ? err : "?");
}

static void touch(const char *rel, const char *text) {
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- each / del --------------------------------------------------------------------------- */

struct seen {
    int n, stop_after;
    char names[8][160];
    char data[8][32];
};

static int collect(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct seen *s = ud;
    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s|%s", k->hex, k->name ? k->name : "(null)");
        snprintf(s->data[s->n], sizeof(s->data[0]), "%.*s", (int)len, data);
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static int seen_has(const struct seen *s, const char *name, const char *data) {
    for (int i = 0; i < s->n && i < 8; i++)
        if (!strcmp(s->names[i], name) && !strcmp(s->data[i], data)) return 1;
    return 0;
}

static void test_each_visits_every_entry_and_nothing_else(void **state) {
    struct store *s = *state;
    put(s, HEX_A, "openai/gpt-4o/aa/" HEX_A ".json", "{\"a\":1}");
    put(s, HEX_B, "openai/gpt-4o/bb/" HEX_B ".json", "{\"b\":2}");
    put(s, HEX_C, "anthropic/claude/cc/" HEX_C ".json", "{\"c\":3}");
    touch("openai/gpt-4o/aa/.tmp-123-0", "half"); /* a writer's temp file */
    touch("openai/gpt-4o/aa/notes.txt", "not an entry");
    struct stats_row r;
    stats_row_init(&r, "openai", "gpt-4o");
    r.hits = 1;
    assert_int_equal(s->ops->add_stats(s, &r, NULL), 0);
    struct store_key lk = {HEX_A, NULL};
    assert_int_equal(s->ops->lock(s, &lk, 1000, NULL), 1);
    struct seen seen = {0};
    char *err = NULL;
    assert_int_equal(s->ops->each(s, collect, &seen, &err), 0);
    assert_null(err);
    assert_int_equal(seen.n, 3);
    assert_true(seen_has(&seen, HEX_A "|openai/gpt-4o/aa/" HEX_A ".json", "{\"a\":1}"));
    assert_true(seen_has(&seen, HEX_B "|openai/gpt-4o/bb/" HEX_B ".json", "{\"b\":2}"));
    assert_true(seen_has(&seen, HEX_C "|anthropic/claude/cc/" HEX_C ".json", "{\"c\":3}"));
    s->ops->unlock(s, &lk);
}

static void test_each_stops_when_asked(void **state) {
    struct store *s = *state;
    put(s, HEX_A, "p/m/aa/" HEX_A ".json", "1");
    put(s, HEX_B, "p/m/bb/" HEX_B ".json", "2");
    put(s, HEX_C, "p/m/cc/" HEX_C ".json", "3");
    struct seen seen = {.stop_after = 2};
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_int_equal(seen.n, 2);
}

static void test_each_on_empty_store(void **state) {
    struct store *s = *state;
    struct seen seen = {0};
    assert_int_equal(s->ops->each(s, collect, &seen, NULL), 0);
    assert_int_equal(seen.n, 0);
}

static void test_del(void **state) {
    struct store *s = *state;
    struct store_key k = {HEX_A, "p/m/aa/" HEX_A ".json"};
    put(s, HEX_A, k.name, "x");
    assert_int_equal(s->ops->del(s, &k, NULL), 1);
    assert_int_equal(s->ops->del(s, &k, NULL), 0);
    struct buf b;
    buf_init(&b);
    assert_int_equal(store_get(s, &k, 0, &b, NULL), 0);
    buf_free(&b);
    struct store_key evil = {HEX_A, "../outside.json"};
    char *err = NULL;
    assert_int_equal(s->ops->del(s, &evil, &err), -1);
    assert_non_null(err);
    free(err);
}

/* ---- stats -------------------------------------------------------------------------------- */

static void test_stats_fold_rows_and_skip_bad_lines(void **state) {
    struct store *s = *state;
    struct stats_table t = {0};
    assert_int_equal(s->ops->get_stats(s, &t, NULL), 0); /* nothing counted yet */
    assert_int_equal(t.n, 0);
    struct stats_row r;
    stats_row_init(&r, "openai", "gpt-4o");
    r.hits = 2;
    r.bytes_saved = 100;
    assert_int_equal(s->ops->add_stats(s, &r, NULL), 0);
    stats_row_init(&r, "openai", "gpt-4o");
    r.misses = 1;
    r.stores = 1;
    assert_int_equal(s->ops->add_stats(s, &r, NULL), 0);
    stats_row_init(&r, "anthropic", "claude");
    r.hits = 5;
    r.us_saved = 7;
    assert_int_equal(s->ops->add_stats(s, &r, NULL), 0);
    /* another host's log, with garbage and a line cut short by a full disk */
    touch(".stats/otherhost.log", "llmshim-stats-v1\topenai\tgpt-4o\t10\t0\t0\t0\t0\t0\t0\t0\n"
                                  "garbage\n"
                                  "llmshim-stats-v1\topenai\tgpt-4o\t1\t2\n"
                                  "llmshim-stats-v1\topenai\tgpt-4o\t1000\t0\t0\t0\t0\t0\t0\t0");
    assert_int_equal(s->ops->get_stats(s, &t, NULL), 0);
    assert_int_equal(t.n, 2);
    const struct stats_row *o = !strcmp(t.rows[0].provider, "openai") ? &t.rows[0] : &t.rows[1];
    const struct stats_row *a = o == &t.rows[0] ? &t.rows[1] : &t.rows[0];
    assert_string_equal(o->model, "gpt-4o");
    assert_int_equal(o->hits, 12);
    assert_int_equal(o->misses, 1);
    assert_int_equal(o->stores, 1);
    assert_int_equal(o->bytes_saved, 100);
    assert_string_equal(a->provider, "anthropic");
    assert_int_equal(a->hits, 5);
    assert_int_equal(a->us_saved, 7);
    stats_table_free(&t);

    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/.stats", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char host[65] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(path, sizeof(path), "%s/.stats/%s.log", dir, host[0] ? host : "localhost");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* Many processes appending at once: every line arrives whole. */
static void test_stats_concurrent_appends_never_mix(void **state) {
    struct store *s = *state;
    enum { PROCS = 6, EACH = 300 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            struct stats_row r;
            stats_row_init(&r, "openai", "a-rather-long-model-name-to-make-the-lines-longer-than-usual");
            r.hits = 1;
            r.tokens_saved = 1234567;
            for (int i = 0; i < EACH; i++)
                if (s->ops->add_stats(s, &r, NULL) != 0) _exit(1);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct stats_table t = {0};
    assert_int_equal(s->ops->get_stats(s, &t, NULL), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.rows[0].hits, PROCS * EACH);
    assert_int_equal(t.rows[0].tokens_saved, 1234567LL * PROCS * EACH);
    stats_table_free(&t);
}

/* ---- locks -------------------------------------------------------------------------------- */

static void test_lock_is_exclusive_until_unlocked(void **state) {
    struct store *s = *state;
    struct store_key k = {HEX_A, NULL}, other = {HEX_B, NULL};
    char *err = NULL;
    assert_int_equal(s->ops->lock(s, &k, 5000, &err), 1);
    assert_int_equal(s->ops->lock(s, &k, 5000, &err), 0); /* this process, another thread or caller */
    struct store *s2 = store_file_open(dir, NULL);        /* another opener of the same cache */
    assert_int_equal(s2->ops->lock(s2, &k, 5000, &err), 0);
    assert_int_equal(s2->ops->lock(s2, &other, 5000, &err), 1);
    s->ops->unlock(s, &k);
    assert_int_equal(s2->ops->lock(s2, &k, 5000, &err), 1);
    s->ops->unlock(s, &k); /* not held by s: a no-op */
    assert_int_equal(s->ops->lock(s, &k, 5000, &err), 0);
    store_close(s2); /* closing the store releases what it held */
    assert_int_equal(s->ops->lock(s, &k, 5000, &err), 1);
    assert_int_equal(s->ops->lock(s, &other, 5000, &err), 1);
    s->ops->unlock(s, &k);
    s->ops->unlock(s, &other);
    char path[256];
    snprintf(path, sizeof(path), "%s/.locks/" HEX_A ".lock", dir);
    assert_int_equal(access(path, F_OK), 0); /* never unlinked: that would race with lockers */
    assert_null(err);
}

static void test_lock_of_a_dead_holder_frees_itself(void **state) {
    struct store *s = *state;
    struct store_key k = {HEX_C, NULL};
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *c = store_file_open(dir, NULL);
        char ok = c && c->ops->lock(c, &k, 60000, NULL) == 1 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        pause(); /* holds the lock until killed */
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    assert_int_equal(s->ops->lock(s, &k, 60000, NULL), 0);
    kill(pid, SIGKILL); /* a crash: no unlock */
    waitpid(pid, NULL, 0);
    assert_int_equal(s->ops->lock(s, &k, 60000, NULL), 1);
    s->ops->unlock(s, &k);
    close(ready[0]);
    close(ready[1]);
}

static void test_lock_rejects_a_bad_key(void **state) {
    struct store *s = *state;
    struct store_key k = {"../../etc/passwd", NULL};
    char *err = NULL;
    assert_int_equal(s->ops->lock(s, &k, 1000, &err), -1);
    assert_non_null(err);
    free(err);
}

/* ---- the memory store's versions ---------------------------------------------------------- */

static void test_memory_store_ops(void **state) {
    (void)state;
    struct store *m = store_memory_open(10, 1 << 20);
    put(m, HEX_A, NULL, "one");
    put(m, HEX_B, NULL, "two");
    struct seen seen = {0};
    assert_int_equal(m->ops->each(m, collect, &seen, NULL), 0);
    assert_int_equal(seen.n, 2);
    assert_true(seen_has(&seen, HEX_A "|(null)", "one"));
    struct store_key k = {HEX_A, NULL};
    assert_int_equal(m->ops->del(m, &k, NULL), 1);
    assert_int_equal(m->ops->del(m, &k, NULL), 0);
    struct stats_row r;
    stats_row_init(&r, "openai", "m");
    r.hits = 3;
    assert_int_equal(m->ops->add_stats(m, &r, NULL), 0);
    assert_int_equal(m->ops->add_stats(m, &r, NULL), 0);
    struct stats_table t = {0};
    assert_int_equal(m->ops->get_stats(m, &t, NULL), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.rows[0].hits, 6);
    stats_table_free(&t);
    assert_int_equal(m->ops->lock(m, &k, 0, NULL), 1);
    assert_int_equal(m->ops->lock(m, &k, 0, NULL), 0);
    m->ops->unlock(m, &k);
    assert_int_equal(m->ops->lock(m, &k, 1, NULL), 1);
    usleep(5000); /* a forgotten lock expires after its ttl */
    assert_int_equal(m->ops->lock(m, &k, 1000, NULL), 1);
    store_close(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_visits_every_entry_and_nothing_else, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_stops_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_on_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_fold_rows_and_skip_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_concurrent_appends_never_mix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_is_exclusive_until_unlocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_of_a_dead_holder_frees_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_rejects_a_bad_key, setup, teardown),
        cmocka_unit_test(test_memory_store_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
