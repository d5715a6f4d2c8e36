/* Unit tests for the decoded-entry memo (src/entry_memo.h): it answers only for the exact bytes
 * it was given, under the same key, and stays within its byte budget. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "entry.h"
#include "entry_memo.h"

#define KEY_A "aaaa456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KEY_B "bbbb456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A decoded entry with every kind of field set (body of body_len 'x' bytes). */
static void make(struct entry *e, const char *key, size_t body_len) {
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, 65);
    e->created = 1700000000;
    e->ttl = 60;
    e->method = strdup("POST");
    e->url = strdup("https://api.openai.com/v1/chat/completions");
    e->provider = strdup("openai");
    e->model = strdup("gpt-4o");
    e->req_body = strdup("{\"model\":\"gpt-4o\"}");
    e->req_body_len = strlen(e->req_body);
    e->req_json = 1;
    e->status = 200;
    e->status_line = strdup("HTTP/1.1 200 OK");
    assert_int_equal(entry_add_header(e, "Content-Type", 12, "application/json", 16), 0);
    e->body = malloc(body_len + 1);
    assert_non_null(e->body);
    memset(e->body, 'x', body_len);
    e->body[body_len] = '\0';
    e->body_len = body_len;
    assert_int_equal(entry_add_event(e, body_len / 2, 5), 0);
    e->usage_in = 3;
    e->usage_out = 4;
}

/* Encoded forms compared: the copy holds everything the original did. */
static void assert_same_entry(const struct entry *a, const struct entry *b) {
    struct buf x, y;
    buf_init(&x);
    buf_init(&y);
    assert_int_equal(entry_encode(a, &x), 0);
    assert_int_equal(entry_encode(b, &y), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    assert_int_equal(a->nevents, b->nevents);
    assert_int_equal(a->events[0].end, b->events[0].end);
    buf_free(&x);
    buf_free(&y);
}

static int setup(void **state) {
    (void)state;
    entry_memo_clear();
    return 0;
}

static void test_memo_finds_what_it_kept(void **state) {
    (void)state;
    struct entry e, got;
    make(&e, KEY_A, 100);
    const char raw[] = "the bytes the store returned";
    entry_memo_keep(KEY_A, raw, sizeof(raw), &e);
    assert_int_equal(entry_memo_find(KEY_A, raw, sizeof(raw), &got), 1);
    assert_same_entry(&e, &got);
    assert_ptr_not_equal(got.body, e.body); /* a copy the caller owns */
    entry_free(&got);
    /* a second find works too: the memo keeps its own */
    assert_int_equal(entry_memo_find(KEY_A, raw, sizeof(raw), &got), 1);
    entry_free(&got);
    entry_free(&e);
}

static void test_memo_other_bytes_or_key_miss(void **state) {
    (void)state;
    struct entry e, got;
    make(&e, KEY_A, 10);
    char raw[] = "stored bytes, version 1";
    entry_memo_keep(KEY_A, raw, sizeof(raw), &e);
    char changed[] = "stored bytes, version 2"; /* same length, one byte differs */
    assert_int_equal(entry_memo_find(KEY_A, changed, sizeof(changed), &got), 0);
    assert_int_equal(entry_memo_find(KEY_A, raw, sizeof(raw) - 1, &got), 0);
    assert_int_equal(entry_memo_find(KEY_B, raw, sizeof(raw), &got), 0);
    assert_int_equal(entry_memo_find("short", raw, sizeof(raw), &got), 0);
    entry_free(&e);
}

static void test_memo_replaces_an_older_decoding(void **state) {
    (void)state;
    struct entry e1, e2, got;
    make(&e1, KEY_A, 10);
    make(&e2, KEY_A, 20);
    entry_memo_keep(KEY_A, "one", 3, &e1);
    entry_memo_keep(KEY_A, "two", 3, &e2);
    assert_int_equal(entry_memo_find(KEY_A, "one", 3, &got), 0);
    assert_int_equal(entry_memo_find(KEY_A, "two", 3, &got), 1);
    assert_int_equal(got.body_len, 20);
    entry_free(&got);
    entry_free(&e1);
    entry_free(&e2);
}

static void test_memo_skips_huge_entries_and_keeps_its_budget(void **state) {
    (void)state;
    struct entry big, got;
    make(&big, KEY_A, ENTRY_MEMO_MAX_BYTES / 4 + 1);
    entry_memo_keep(KEY_A, "big", 3, &big);
    assert_int_equal(entry_memo_find(KEY_A, "big", 3, &got), 0);
    entry_free(&big);
    /* entries of a fifth of the budget each, in 12 different slots (the 4th hex digit picks one): never more than the budget
     * is held, so the oldest ones go, the newest stays */
    char key[65];
    struct entry e;
    make(&e, KEY_A, ENTRY_MEMO_MAX_BYTES / 5);
    for (int i = 0; i < 12; i++) {
        memcpy(key, KEY_A, 65);
        key[3] = "0123456789abcdef"[i];
        entry_memo_keep(key, "r", 1, &e);
    }
    int found = 0;
    for (int i = 0; i < 12; i++) {
        key[3] = "0123456789abcdef"[i];
        if (entry_memo_find(key, "r", 1, &got) == 1) {
            found++;
            entry_free(&got);
        }
    }
    assert_in_range(found, 1, 4);
    key[3] = "0123456789abcdef"[11];
    assert_int_equal(entry_memo_find(key, "r", 1, &got), 1);
    entry_free(&got);
    entry_free(&e);
}

static void test_entry_copy_is_deep_and_complete(void **state) {
    (void)state;
    struct entry e, c;
    make(&e, KEY_A, 64);
    assert_int_equal(entry_copy(&c, &e), 0);
    assert_same_entry(&e, &c);
    assert_ptr_not_equal(c.headers, e.headers);
    assert_ptr_not_equal(c.events, e.events);
    assert_int_equal(c.usage_in, 3);
    entry_free(&e); /* the copy outlives its source */
    assert_string_equal(c.headers[0].value, "application/json");
    assert_int_equal(c.body[63], 'x');
    entry_free(&c);
}

/* Hits share the memo's body instead of copying it: each copy keeps it alive, the last one to
 * go frees it (ASan and valgrind runs check the order does not matter). */
static void test_memo_copies_share_one_body(void **state) {
    (void)state;
    struct entry e, a, b;
    make(&e, KEY_A, 300000);
    entry_memo_keep(KEY_A, "raw", 3, &e);
    entry_free(&e);
    assert_int_equal(entry_memo_find(KEY_A, "raw", 3, &a), 1);
    assert_int_equal(entry_memo_find(KEY_A, "raw", 3, &b), 1);
    assert_ptr_equal(a.body, b.body);
    assert_non_null(a.share);
    entry_free(&a);
    entry_memo_clear(); /* the memo lets go too: b alone holds the body now */
    assert_int_equal(b.body_len, 300000);
    assert_int_equal(b.body[0], 'x');
    assert_int_equal(b.body[299999], 'x');
    struct entry c;
    assert_int_equal(entry_copy(&c, &b), 0); /* a copy of a copy shares as well */
    assert_ptr_equal(c.body, b.body);
    entry_free(&b);
    assert_int_equal(c.body[12345], 'x');
    entry_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_memo_finds_what_it_kept, setup),
        cmocka_unit_test_setup(test_memo_other_bytes_or_key_miss, setup),
        cmocka_unit_test_setup(test_memo_replaces_an_older_decoding, setup),
        cmocka_unit_test_setup(test_memo_skips_huge_entries_and_keeps_its_budget, setup),
        cmocka_unit_test_setup(test_entry_copy_is_deep_and_complete, setup),
        cmocka_unit_test_setup(test_memo_copies_share_one_body, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
