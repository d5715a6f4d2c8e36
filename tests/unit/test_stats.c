/* Unit tests for the counter rows (src/stats.h): merging by provider and model into a fixed
 * array (the shim's in-process sums) and a growing table (llmshim stats), and the line format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stats.h"

static struct stats_row row(const char *provider, const char *model, long long hits, long long bytes) {
    struct stats_row r;
    stats_row_init(&r, provider, model);
    r.hits = hits;
    r.misses = 1;
    r.bytes_saved = bytes;
    return r;
}

static void test_rows_add_merges_appends_and_refuses_when_full(void **state) {
    (void)state;
    struct stats_row rows[2];
    size_t n = 0;
    struct stats_row a = row("openai", "gpt-4o", 1, 100), b = row("openai", "gpt-4o-mini", 2, 10),
                     c = row("anthropic", "claude", 5, 0);
    assert_int_equal(stats_rows_add(rows, &n, 2, &a), 0);
    assert_int_equal(stats_rows_add(rows, &n, 2, &a), 0); /* same provider and model: summed */
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].hits, 2);
    assert_int_equal(rows[0].misses, 2);
    assert_int_equal(rows[0].bytes_saved, 200);
    assert_int_equal(stats_rows_add(rows, &n, 2, &b), 0); /* another model: its own row */
    assert_int_equal(n, 2);
    assert_int_equal(stats_rows_add(rows, &n, 2, &c), -1); /* full: nothing changed */
    assert_int_equal(n, 2);
    assert_string_equal(rows[1].model, "gpt-4o-mini");
    assert_int_equal(stats_rows_add(rows, &n, 2, &b), 0); /* full, but its row exists */
    assert_int_equal(rows[1].hits, 4);
}

static void test_table_add_grows(void **state) {
    (void)state;
    struct stats_table t = {0};
    char model[16];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 20; i++) {
            snprintf(model, sizeof(model), "m%d", i);
            struct stats_row r = row("p", model, i, 1);
            assert_int_equal(stats_table_add(&t, &r), 0);
        }
    assert_int_equal(t.n, 20);
    assert_string_equal(t.rows[19].model, "m19");
    assert_int_equal(t.rows[19].hits, 57);
    assert_int_equal(t.rows[0].misses, 3);
    stats_table_free(&t);
}

static void test_line_round_trip(void **state) {
    (void)state;
    struct stats_row r = row("openai", "gpt\t4o\nx", 7, 2048), back;
    r.tokens_saved = 30;
    r.us_saved = 1500000;
    r.input_saved = 20;
    r.output_saved = 10;
    r.cached_saved = 5;
    struct buf b;
    buf_init(&b);
    assert_int_equal(stats_format_line(&r, &b), 0);
    assert_int_equal(stats_parse_line(b.data, b.len, &back), 0);
    assert_string_equal(back.model, r.model); /* tabs and newlines were replaced at init */
    assert_null(strchr(back.model, '\t'));
    assert_int_equal(back.hits, 7);
    assert_int_equal(back.tokens_saved, 30);
    assert_int_equal(back.us_saved, 1500000);
    assert_int_equal(back.input_saved, 20);
    assert_int_equal(back.output_saved, 10);
    assert_int_equal(back.cached_saved, 5);
    assert_int_equal(stats_parse_line("not a stats line", 16, &back), -1);
    /* lines of an older llmshim: no split by kind */
    static const char v1[] = "llmshim-stats-v1\topenai\tgpt-4o\t1\t2\t3\t4\t5\t6\t7\t8\n";
    assert_int_equal(stats_parse_line(v1, sizeof(v1) - 1, &back), 0);
    assert_int_equal(back.hits, 1);
    assert_int_equal(back.us_saved, 8);
    assert_int_equal(back.input_saved, 0);
    static const char v2short[] = "llmshim-stats-v2\topenai\tgpt-4o\t1\t2\t3\t4\t5\t6\t7\t8\n";
    assert_int_equal(stats_parse_line(v2short, sizeof(v2short) - 1, &back), -1);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_add_merges_appends_and_refuses_when_full),
        cmocka_unit_test(test_table_add_grows),
        cmocka_unit_test(test_line_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
