/* Unit tests for the file store (src/store.h, src/store_file.c). Every test works in its own
 * fresh directory under /tmp, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "store.h"

#define HEX "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define NAME "openai/gpt-4o/ab/" HEX ".json"

struct fixture {
    char base[64];   /* the temporary directory */
    char dir[128];   /* base/cache: where the store lives */
};

/* ---- setup / teardown --------------------------------------------------------------------- */

static int chmod_dirs(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR || (st && S_ISDIR(st->st_mode))) chmod(path, 0700);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path) {
    nftw(path, chmod_dirs, 16, FTW_PHYS);               /* make everything deletable first */
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);   /* then children before parents */
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    snprintf(f->base, sizeof(f->base), "/tmp/llmshim-test-XXXXXX");
    if (!mkdtemp(f->base)) { free(f); return -1; }
    snprintf(f->dir, sizeof(f->dir), "%s/cache", f->base);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    remove_tree(f->base);
    struct stat st;
    int gone = lstat(f->base, &st) != 0 && errno == ENOENT;
    free(f);
    return gone ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static struct store *open_ok(const char *dir) {
    char *err = NULL;
    struct store *s = store_file_open(dir, &err);
    if (!s) fail_msg("store_file_open(%s): %s", dir, err ? err : "(no error)");
    assert_null(err);
    assert_string_equal(s->ops->name, "file");
    return s;
}

static int put(struct store *s, const char *name, const void *data, size_t len, char **err) {
    struct store_key k = {HEX, name};
    return store_put(s, &k, data, len, 0, err);
}

static int get(struct store *s, const char *name, struct buf *out, char **err) {
    struct store_key k = {HEX, name};
    return store_get(s, &k, 0, out, err);
}

static void assert_get_equals(struct store *s, const char *name, const void *data, size_t len) {
    struct buf b;
    buf_init(&b);
    char *err = NULL;
    int rc = get(s, name, &b, &err);
    if (rc != 1) fail_msg("get(%s) = %d: %s", name, rc, err ? err : "");
    assert_int_equal(b.len, len);
    if (len) assert_memory_equal(b.data, data, len);
    buf_free(&b);
}

/* get must not find anything (0, or -1 with an error), and must not hand out bytes. */
static void assert_get_refused(struct store *s, const char *name) {
    struct buf b;
    buf_init(&b);
    char *err = NULL;
    int rc = get(s, name, &b, &err);
    if (rc == 1) fail_msg("get(%s) returned %zu bytes: %.*s", name, b.len, (int)b.len, b.data);
    assert_true(rc == 0 || rc == -1);
    assert_int_equal(b.len, 0);
    free(err);
    buf_free(&b);
}

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void path_join(char *out, size_t n, const char *a, const char *b) {
    int w = snprintf(out, n, "%s/%s", a, b);
    assert_true(w > 0 && (size_t)w < n);
}

static void assert_mode(const char *path, mode_t want) {
    struct stat st;
    if (stat(path, &st) != 0) fail_msg("stat(%s): %s", path, strerror(errno));
    if ((st.st_mode & 07777) != want) fail_msg("%s has mode %04o, want %04o", path, (unsigned)(st.st_mode & 07777), (unsigned)want);
}

static int tmp_files_seen;

static int count_tmp(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    if (!strncmp(path + ftw->base, ".tmp-", 5)) tmp_files_seen++;
    return 0;
}

/* ---- opening ------------------------------------------------------------------------------ */

static void test_file_open_creates_dir_0700(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_mode(f->dir, 0700);
    store_close(s);
    /* opening again reuses it */
    s = open_ok(f->dir);
    store_close(s);
}

static void test_file_open_creates_nested_parents(void **state) {
    struct fixture *f = *state;
    char deep[256], mid[256];
    path_join(mid, sizeof(mid), f->dir, "a");
    path_join(deep, sizeof(deep), mid, "b/c");
    struct store *s = open_ok(deep);
    assert_mode(f->dir, 0700);
    assert_mode(mid, 0700);
    assert_mode(deep, 0700);
    store_close(s);
}

static void test_file_open_accepts_existing_private_dir(void **state) {
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->dir, 0755), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    struct store *s = open_ok(f->dir);
    store_close(s);
}

static void test_file_open_refuses_world_writable_dir(void **state) {
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(chmod(f->dir, 0777), 0);
    char *err = NULL;
    assert_null(store_file_open(f->dir, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, f->dir));
    assert_non_null(strstr(err, "world-writable"));
    free(err);
}

static void test_file_open_refuses_regular_file(void **state) {
    struct fixture *f = *state;
    write_file(f->dir, "not a directory");
    char *err = NULL;
    assert_null(store_file_open(f->dir, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, f->dir));
    free(err);
    /* a file in the middle of the path */
    char below[256];
    path_join(below, sizeof(below), f->dir, "sub");
    err = NULL;
    assert_null(store_file_open(below, &err));
    assert_non_null(err);
    free(err);
}

static void test_file_open_refuses_dir_of_another_user(void **state) {
    struct fixture *f = *state;
    if (geteuid() != 0) skip(); /* only root can give a directory away */
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(chown(f->dir, 65534, 65534), 0);
    char *err = NULL;
    assert_null(store_file_open(f->dir, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "another user"));
    free(err);
}

/* ---- put / get ---------------------------------------------------------------------------- */

static void test_file_put_get_round_trip(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    static const char data[] = "{\"llmshim\": 1}\n\0binary\xff";
    char *err = NULL;
    assert_int_equal(put(s, NAME, data, sizeof(data), &err), 0);
    assert_null(err);
    assert_get_equals(s, NAME, data, sizeof(data));
    /* the file is where the name says */
    char path[512];
    path_join(path, sizeof(path), f->dir, NAME);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizeof(data));
    /* a fresh store on the same directory sees it (nothing kept in memory) */
    store_close(s);
    s = open_ok(f->dir);
    assert_get_equals(s, NAME, data, sizeof(data));
    store_close(s);
}

static void test_file_get_appends_to_out(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_int_equal(put(s, "x.json", "abc", 3, NULL), 0);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "pre:");
    assert_int_equal(get(s, "x.json", &b, NULL), 1);
    assert_string_equal(b.data, "pre:abc");
    buf_free(&b);
    store_close(s);
}

static void test_file_empty_and_large_values(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_int_equal(put(s, "empty.json", "", 0, NULL), 0);
    assert_get_equals(s, "empty.json", "", 0);
    size_t n = 3 * 1024 * 1024 + 17;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) big[i] = (char)(i * 2654435761u >> 24);
    assert_int_equal(put(s, "big.json", big, n, NULL), 0);
    assert_get_equals(s, "big.json", big, n);
    free(big);
    store_close(s);
}

static void test_file_entry_and_subdirs_are_private(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_int_equal(put(s, NAME, "x", 1, NULL), 0);
    char path[512];
    path_join(path, sizeof(path), f->dir, NAME);
    assert_mode(path, 0600);
    path_join(path, sizeof(path), f->dir, "openai");
    assert_mode(path, 0700);
    path_join(path, sizeof(path), f->dir, "openai/gpt-4o/ab");
    assert_mode(path, 0700);
    store_close(s);
}

static void test_file_get_missing_is_not_found(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    struct buf b;
    buf_init(&b);
    char *err = NULL;
    assert_int_equal(get(s, NAME, &b, &err), 0); /* parents missing too */
    assert_null(err);
    assert_int_equal(b.len, 0);
    assert_int_equal(put(s, "openai/other.json", "x", 1, NULL), 0);
    assert_int_equal(get(s, "openai/missing.json", &b, &err), 0);
    assert_null(err);
    /* a file where a directory of the name should be */
    assert_int_equal(get(s, "openai/other.json/x.json", &b, &err), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    store_close(s);
}

static void test_file_overwrite_replaces(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_int_equal(put(s, NAME, "a much longer first value", 25, NULL), 0);
    assert_int_equal(put(s, NAME, "second", 6, NULL), 0);
    assert_get_equals(s, NAME, "second", 6); /* no tail of the first value left */
    store_close(s);
}

static void test_file_no_temporary_files_left(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    char name[64];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "p/m/%02x/e%d.json", i % 3, i);
        assert_int_equal(put(s, name, "data", 4, NULL), 0);
        assert_int_equal(put(s, name, "data2", 5, NULL), 0);
    }
    tmp_files_seen = 0;
    assert_int_equal(nftw(f->dir, count_tmp, 16, FTW_PHYS), 0);
    assert_int_equal(tmp_files_seen, 0);
    store_close(s);
}

static void test_file_garbage_returned_as_bytes(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    assert_int_equal(put(s, NAME, "valid", 5, NULL), 0);
    char path[512];
    path_join(path, sizeof(path), f->dir, NAME);
    write_file(path, "}{ not json at all");
    /* decoding is the caller's job: the store hands back what is there */
    assert_get_equals(s, NAME, "}{ not json at all", 18);
    store_close(s);
}

/* ---- what get and put refuse -------------------------------------------------------------- */

static void test_file_directory_in_place_of_entry(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    char path[512];
    path_join(path, sizeof(path), f->dir, "e.json");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_get_refused(s, "e.json");
    /* put cannot replace a directory with a file either */
    char *err = NULL;
    assert_int_equal(put(s, "e.json", "x", 1, &err), -1);
    assert_non_null(err);
    free(err);
    store_close(s);
}

static void test_file_symlink_entry_not_followed(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    char target[256], link[512];
    path_join(target, sizeof(target), f->base, "secret.txt");
    write_file(target, "SECRET outside the store");
    path_join(link, sizeof(link), f->dir, "e.json");
    assert_int_equal(symlink(target, link), 0);
    assert_get_refused(s, "e.json");
    /* a dangling link does not count as an entry either */
    path_join(link, sizeof(link), f->dir, "d.json");
    assert_int_equal(symlink("/nonexistent/llmshim", link), 0);
    assert_get_refused(s, "d.json");
    store_close(s);
}

static void test_file_dot_dot_names_refused(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    char outside[256];
    path_join(outside, sizeof(outside), f->base, "escape.json");
    write_file(outside, "outside the store");
    static const char *const names[] = {"../escape.json", "openai/../../escape.json", "..", "a/..", NULL};
    for (const char *const *n = names; *n; n++) assert_get_refused(s, *n);
    /* put never writes outside the store */
    char *err = NULL;
    assert_int_equal(put(s, "../planted.json", "x", 1, &err), -1);
    assert_non_null(err);
    free(err);
    err = NULL;
    assert_int_equal(put(s, "a/../../planted.json", "x", 1, &err), -1);
    free(err);
    char planted[256];
    path_join(planted, sizeof(planted), f->base, "planted.json");
    struct stat st;
    assert_int_equal(lstat(planted, &st), -1);
    /* absolute names and no name at all are refused too */
    err = NULL;
    assert_int_equal(put(s, "/tmp/llmshim-absolute.json", "x", 1, &err), -1);
    free(err);
    assert_int_equal(lstat("/tmp/llmshim-absolute.json", &st), -1);
    assert_get_refused(s, "/etc/passwd");
    struct store_key k = {HEX, NULL};
    struct buf b;
    buf_init(&b);
    assert_true(store_get(s, &k, 0, &b, NULL) != 1);
    err = NULL;
    assert_int_equal(store_put(s, &k, "x", 1, 0, &err), -1);
    free(err);
    buf_free(&b);
    store_close(s);
}

static void test_file_put_into_read_only_dir_fails(void **state) {
    struct fixture *f = *state;
    if (geteuid() == 0) skip(); /* root bypasses permission checks */
    struct store *s = open_ok(f->dir);
    assert_int_equal(chmod(f->dir, 0500), 0);
    char *err = NULL;
    assert_int_equal(put(s, "flat.json", "x", 1, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, f->dir));
    free(err);
    err = NULL;
    assert_int_equal(put(s, NAME, "x", 1, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, f->dir));
    free(err);
    chmod(f->dir, 0700);
    store_close(s);
}

/* ---- concurrency -------------------------------------------------------------------------- */

enum { WRITERS = 4, READERS = 4, ROUNDS = 300, VAL_A = 5000, VAL_B = 70000 };

struct racer {
    struct store *s;
    int writer;
    long seen, bad;
};

static char *value_a, *value_b;

static void *racer_main(void *arg) {
    struct racer *r = arg;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < ROUNDS; i++) {
        if (r->writer) {
            const char *v = (i + r->writer) % 2 ? value_a : value_b;
            if (put(r->s, NAME, v, v == value_a ? VAL_A : VAL_B, NULL) != 0) r->bad++;
        } else {
            buf_clear(&b);
            int rc = get(r->s, NAME, &b, NULL);
            if (rc != 1) { r->bad++; continue; }
            r->seen++;
            int is_a = b.len == VAL_A && !memcmp(b.data, value_a, VAL_A);
            int is_b = b.len == VAL_B && !memcmp(b.data, value_b, VAL_B);
            if (!is_a && !is_b) r->bad++;
        }
    }
    buf_free(&b);
    return NULL;
}

static void test_file_concurrent_readers_never_see_partial_entry(void **state) {
    struct fixture *f = *state;
    struct store *s = open_ok(f->dir);
    value_a = malloc(VAL_A);
    value_b = malloc(VAL_B);
    assert_non_null(value_a);
    assert_non_null(value_b);
    memset(value_a, 'a', VAL_A);
    memset(value_b, 'b', VAL_B);
    assert_int_equal(put(s, NAME, value_a, VAL_A, NULL), 0); /* readers always find something */
    struct racer r[WRITERS + READERS];
    pthread_t t[WRITERS + READERS];
    for (int i = 0; i < WRITERS + READERS; i++) {
        r[i] = (struct racer){.s = s, .writer = i < WRITERS ? i + 1 : 0};
        assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
    }
    long bad = 0, seen = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        bad += r[i].bad;
        seen += r[i].seen;
    }
    free(value_a);
    free(value_b);
    assert_int_equal(bad, 0);
    assert_int_equal(seen, READERS * ROUNDS);
    tmp_files_seen = 0;
    assert_int_equal(nftw(f->dir, count_tmp, 16, FTW_PHYS), 0);
    assert_int_equal(tmp_files_seen, 0);
    store_close(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_file_open_creates_dir_0700),
        T(test_file_open_creates_nested_parents),
        T(test_file_open_accepts_existing_private_dir),
        T(test_file_open_refuses_world_writable_dir),
        T(test_file_open_refuses_regular_file),
        T(test_file_open_refuses_dir_of_another_user),
        T(test_file_put_get_round_trip),
        T(test_file_get_appends_to_out),
        T(test_file_empty_and_large_values),
        T(test_file_entry_and_subdirs_are_private),
        T(test_file_get_missing_is_not_found),
        T(test_file_overwrite_replaces),
        T(test_file_no_temporary_files_left),
        T(test_file_garbage_returned_as_bytes),
        T(test_file_directory_in_place_of_entry),
        T(test_file_symlink_entry_not_followed),
        T(test_file_dot_dot_names_refused),
        T(test_file_put_into_read_only_dir_fails),
        T(test_file_concurrent_readers_never_see_partial_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
