/* Unit tests for what a miss says: JSON paths that differ with both values shortened
 * (src/jsondiff.h), and the nearest recorded request (src/nearest.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "jsondiff.h"
#include "nearest.h"

static void diff(struct jsondiff *d, const char *a, const char *b, size_t max) {
    assert_int_equal(jsondiff(d, a, strlen(a), 1, b, strlen(b), 1, max), 0);
}

static void test_paths_with_both_values(void **state) {
    (void)state;
    struct jsondiff d;
    diff(&d, "{\"messages\":[{\"content\":\"sys\",\"role\":\"system\"},{\"content\":\"Name three primes\",\"role\":\"user\"}],\"t\":0.2}",
         "{\"messages\":[{\"content\":\"sys\",\"role\":\"system\"},{\"content\":\"Name four primes\",\"role\":\"user\"}],\"t\":0.7}", 10);
    assert_int_equal(d.total, 2);
    assert_string_equal(d.items[0].path, "/messages/1/content");
    assert_string_equal(d.items[0].a, "\"Name three primes\"");
    assert_string_equal(d.items[0].b, "\"Name four primes\"");
    assert_string_equal(d.items[1].path, "/t");
    assert_string_equal(d.items[1].a, "0.2");
    assert_string_equal(d.items[1].b, "0.7");
    jsondiff_free(&d);
}

static void test_added_removed_and_escaped_keys(void **state) {
    (void)state;
    struct jsondiff d;
    diff(&d, "{\"a/b\":1,\"gone\":[1,2],\"x\":[1]}", "{\"a/b\":1,\"new~\":{\"k\":true},\"x\":[1,2]}", 10);
    assert_int_equal(d.total, 3);
    assert_string_equal(d.items[0].path, "/gone");
    assert_string_equal(d.items[0].a, "[1,2]");
    assert_null(d.items[0].b);
    assert_string_equal(d.items[1].path, "/x/1");
    assert_null(d.items[1].a);
    assert_string_equal(d.items[1].b, "2");
    assert_string_equal(d.items[2].path, "/new~0");
    assert_string_equal(d.items[2].b, "{\"k\":true}");
    jsondiff_free(&d);
}

static void test_long_values_cut_around_the_change(void **state) {
    (void)state;
    char a[600], b[600];
    char pad[201];
    memset(pad, 'x', 200);
    pad[200] = '\0';
    snprintf(a, sizeof(a), "{\"p\":\"%s caf\xC3\xA9 alpha %s\"}", pad, pad);
    snprintf(b, sizeof(b), "{\"p\":\"%s caf\xC3\xA9 beta %s\"}", pad, pad);
    struct jsondiff d;
    diff(&d, a, b, 1);
    assert_int_equal(d.n, 1);
    assert_true(strlen(d.items[0].a) < JSONDIFF_WIDTH + 10);
    assert_non_null(strstr(d.items[0].a, "alpha"));
    assert_non_null(strstr(d.items[0].b, "beta"));
    assert_memory_equal(d.items[0].a, "\xE2\x80\xA6", 3); /* cut at the front: an ellipsis */
    assert_non_null(strstr(d.items[0].a, "caf\xC3\xA9")); /* never half a character */
    jsondiff_free(&d);
}

static void test_counts_beyond_max_and_raw_bodies(void **state) {
    (void)state;
    struct jsondiff d;
    diff(&d, "[1,2,3,4,5]", "[9,9,9,9,9]", 2);
    assert_int_equal(d.total, 5);
    assert_int_equal(d.n, 2);
    jsondiff_free(&d);
    assert_int_equal(jsondiff(&d, "raw a", 5, 0, "raw b", 5, 0, 3), 0);
    assert_int_equal(d.total, 1);
    assert_string_equal(d.items[0].path, ""); /* the whole body, and no raw bytes shown */
    assert_null(d.items[0].a);
    jsondiff_free(&d);
    assert_int_equal(jsondiff(&d, "same", 4, 0, "same", 4, 0, 3), 0);
    assert_int_equal(d.total, 0);
    jsondiff_free(&d);
}

/* ---- nearest ------------------------------------------------------------------------------ */

static struct entry entry(const char *key_char, const char *url, const char *model, const char *body, long long created) {
    struct entry e;
    memset(&e, 0, sizeof(e));
    memset(e.key, key_char[0], 64);
    e.method = strdup("POST");
    e.url = strdup(url);
    e.model = model ? strdup(model) : NULL;
    e.req_body = strdup(body);
    e.req_body_len = strlen(body);
    e.req_json = 1;
    e.created = created;
    return e;
}

static void test_nearest_prefers_same_url_and_model_then_fewest_paths(void **state) {
    (void)state;
    struct call c;
    memset(&c, 0, sizeof(c));
    c.safe_url = "http://h/v1/chat/completions";
    c.model = "m1";
    memset(c.hex, 'f', 64);
    buf_init(&c.body);
    buf_puts(&c.body, "{\"messages\":[{\"content\":\"Name four primes\"}],\"model\":\"m1\"}");
    c.body_json = 1;
    struct nearest n;
    nearest_init(&n, &c);
    struct entry es[] = {
        entry("a", "http://h/v1/embeddings", "m1", "{\"input\":\"x\",\"model\":\"m1\"}", 1),
        entry("b", "http://h/v1/chat/completions", "m2", "{\"messages\":[{\"content\":\"Name four primes\"}],\"model\":\"m2\"}", 2),
        entry("c", "http://h/v1/chat/completions", "m1", "{\"messages\":[{\"content\":\"Something else\"}],\"model\":\"m1\",\"t\":1}", 3),
        entry("d", "http://h/v1/chat/completions", "m1", "{\"messages\":[{\"content\":\"Name three primes\"}],\"model\":\"m1\"}", 4),
        entry("e", "http://h/v1/chat/completions", "m1", "{\"messages\":[{\"content\":\"Tell me a joke\"}],\"model\":\"m1\"}", 5),
    };
    for (size_t i = 0; i < 5; i++) nearest_consider(&n, &es[i], NULL);
    assert_int_equal(n.rank, NEAR_URL_MODEL);
    assert_int_equal(n.diffs, 1);
    assert_int_equal(n.hex[0], 'd'); /* "e" differs in one path too, but by more */
    assert_int_equal(n.same_url, 4);
    assert_int_equal(n.seen, 5);
    nearest_free(&n);
    /* without a recording of the same model at this URL: another model at this URL */
    nearest_init(&n, &c);
    nearest_consider(&n, &es[0], NULL);
    nearest_consider(&n, &es[1], NULL);
    assert_int_equal(n.rank, NEAR_URL);
    assert_int_equal(n.hex[0], 'b');
    nearest_free(&n);
    for (size_t i = 0; i < 5; i++) entry_free(&es[i]);
    buf_free(&c.body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_with_both_values),
        cmocka_unit_test(test_added_removed_and_escaped_keys),
        cmocka_unit_test(test_long_values_cut_around_the_change),
        cmocka_unit_test(test_counts_beyond_max_and_raw_bodies),
        cmocka_unit_test(test_nearest_prefers_same_url_and_model_then_fewest_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
