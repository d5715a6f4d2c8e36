/* Unit tests for settings files (src/config_file.c): the line format, the search order, the
 * file checks, and the process-wide lookup where the environment wins. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_file.h"

static struct config_file parse_ok(const char *text) {
    struct config_file cf;
    int rc = config_file_parse(&cf, "/etc/x", text, strlen(text));
    if (rc != 0) fail_msg("parse failed: %s", cf.error ? cf.error : "?");
    return cf;
}

static void parse_fails(const char *text, const char *expect) {
    struct config_file cf;
    assert_int_equal(config_file_parse(&cf, "/etc/x", text, strlen(text)), -1);
    assert_non_null(cf.error);
    if (!strstr(cf.error, expect)) fail_msg("error [%s] lacks [%s]", cf.error, expect);
    config_file_free(&cf);
}

static void test_names_values_comments_quotes(void **state) {
    (void)state;
    struct config_file cf = parse_ok("# settings\n"
                                     "\n"
                                     "LLMSHIM_MODE=replay\n"
                                     "   LLMSHIM_TTL = 1h   # an hour\n"
                                     "LLMSHIM_NAMESPACE=\"team a # not a comment\"\n"
                                     "export LLMSHIM_DIR='/var/cache/llm shim'\n"
                                     "LLMSHIM_ENDPOINTS=http://x/v1#frag\n"
                                     "LLMSHIM_LOG=\"say \\\"hi\\\" \\\\ \"\r\n"
                                     "LLMSHIM_KEY_IGNORE=\n"
                                     "\t# indented comment");
    assert_int_equal(cf.n, 7);
    assert_string_equal(config_file_get(&cf, "LLMSHIM_MODE"), "replay");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_TTL"), "1h");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_NAMESPACE"), "team a # not a comment");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_DIR"), "/var/cache/llm shim");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_ENDPOINTS"), "http://x/v1#frag");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_LOG"), "say \"hi\" \\ ");
    assert_string_equal(config_file_get(&cf, "LLMSHIM_KEY_IGNORE"), "");
    assert_null(config_file_get(&cf, "LLMSHIM_BACKEND"));
    assert_string_equal(cf.path, "/etc/x");
    config_file_free(&cf);
}

static void test_later_line_wins(void **state) {
    (void)state;
    struct config_file cf = parse_ok("LLMSHIM_MODE=record\nLLMSHIM_MODE=off\n");
    assert_int_equal(cf.n, 1);
    assert_string_equal(config_file_get(&cf, "LLMSHIM_MODE"), "off");
    config_file_free(&cf);
}

static void test_bad_lines_name_file_and_line(void **state) {
    (void)state;
    parse_fails("LLMSHIM_MODE=cache\nthis is not a setting\n", "/etc/x:2: expected NAME=value");
    parse_fails("\n\nLLMSHIM_MOD=cache\n", "/etc/x:3: unknown setting LLMSHIM_MOD");
    parse_fails("HOME=/tmp\n", "/etc/x:1: unknown setting HOME");
    parse_fails("LLMSHIM_DIR=\"/tmp\n", "/etc/x:1: LLMSHIM_DIR has no closing \" quote");
    parse_fails("LLMSHIM_DIR='/tmp' extra\n", "/etc/x:1: unexpected text after the quoted value");
    parse_fails("=value\n", "/etc/x:1: expected NAME=value");
}

static void test_nul_byte_is_an_error(void **state) {
    (void)state;
    struct config_file cf;
    static const char text[] = "LLMSHIM_MODE=a\0b\n";
    assert_int_equal(config_file_parse(&cf, "/etc/x", text, sizeof(text) - 1), -1);
    assert_non_null(strstr(cf.error, "NUL byte"));
    config_file_free(&cf);
}

static void test_every_setting_name_is_known(void **state) {
    (void)state;
    static const char *const expected[] = {"LLMSHIM_MODE", "LLMSHIM_BACKEND", "LLMSHIM_DIR", "LLMSHIM_TTL",
                                           "LLMSHIM_ENDPOINTS", "LLMSHIM_NAMESPACE", "LLMSHIM_LOG",
                                           "LLMSHIM_MEM_MAX_ENTRIES", "LLMSHIM_MEM_MAX_BYTES",
                                           "LLMSHIM_MAX_ENTRY_BYTES", "LLMSHIM_REDIS_URL", "LLMSHIM_KEY_IGNORE",
                                           "LLMSHIM_KEY_HEADERS", "LLMSHIM_KEY_SCOPE", "LLMSHIM_NORMALIZE",
                                           "LLMSHIM_REPLAY_PACE", "LLMSHIM_COALESCE_MS", "LLMSHIM_STALE_IF_ERROR",
                                           NULL};
    for (const char *const *n = expected; *n; n++)
        if (!config_setting_known(*n)) fail_msg("%s missing from config_setting_names", *n);
    assert_false(config_setting_known("LLMSHIM_CONFIG")); /* names the file; cannot be in it */
    assert_false(config_setting_known("PATH"));
}

/* ---- files on disk ------------------------------------------------------------------------ */

static char tmpdir[64];
static const char *fake_env[8][2];

static const char *fake_get(const char *name) {
    for (int i = 0; i < 8 && fake_env[i][0]; i++)
        if (!strcmp(fake_env[i][0], name)) return fake_env[i][1];
    return NULL;
}

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/llmshim-cfg-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    memset(fake_env, 0, sizeof(fake_env));
    return chdir(tmpdir);
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return chdir("/") || system(cmd);
}

static void test_search_order(void **state) {
    (void)state;
    char xdg[128], home[128], p[256];
    snprintf(xdg, sizeof(xdg), "%s/xdg", tmpdir);
    snprintf(home, sizeof(home), "%s/home", tmpdir);
    fake_env[0][0] = "XDG_CONFIG_HOME";
    fake_env[0][1] = xdg;
    fake_env[1][0] = "HOME";
    fake_env[1][1] = home;
    char *err = NULL;
    assert_null(config_file_find(fake_get, &err)); /* nothing anywhere: no file, no error */
    assert_null(err);

    mkdir(home, 0700);
    snprintf(p, sizeof(p), "%s/home/.config", tmpdir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/home/.config/llmshim", tmpdir);
    mkdir(p, 0700);
    strcat(p, "/config");
    write_file(p, "LLMSHIM_MODE=off\n", 0600);
    assert_null(config_file_find(fake_get, &err)); /* XDG_CONFIG_HOME set: ~/.config is not looked at */
    fake_env[0][1] = "relative/is/ignored";
    char *found = config_file_find(fake_get, &err);
    assert_non_null(found);
    assert_string_equal(found, p);
    free(found);

    snprintf(p, sizeof(p), "%s/xdg", tmpdir);
    mkdir(p, 0700);
    strcat(p, "/llmshim");
    mkdir(p, 0700);
    strcat(p, "/config");
    write_file(p, "LLMSHIM_MODE=record\n", 0600);
    fake_env[0][1] = xdg;
    found = config_file_find(fake_get, &err);
    assert_string_equal(found, p);
    free(found);

    write_file(".llmshim", "LLMSHIM_MODE=replay\n", 0600); /* the current directory comes first */
    snprintf(p, sizeof(p), "%s/.llmshim", tmpdir);
    found = config_file_find(fake_get, &err);
    assert_string_equal(found, p);
    free(found);

    fake_env[2][0] = "LLMSHIM_CONFIG"; /* and $LLMSHIM_CONFIG before everything */
    fake_env[2][1] = xdg;
    found = config_file_find(fake_get, &err);
    assert_string_equal(found, xdg);
    free(found);

    fake_env[2][1] = "/nonexistent/llmshim.conf"; /* named but missing: an error, not a fallback */
    assert_null(config_file_find(fake_get, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "LLMSHIM_CONFIG=/nonexistent/llmshim.conf: No such file"));
    free(err);
}

static void test_load_checks_the_file(void **state) {
    (void)state;
    struct config_file cf;
    write_file("good", "LLMSHIM_TTL=2h\n", 0644);
    assert_int_equal(config_file_load(&cf, "good"), 0);
    assert_string_equal(config_file_get(&cf, "LLMSHIM_TTL"), "2h");
    config_file_free(&cf);

    write_file("open", "LLMSHIM_TTL=2h\n", 0666);
    chmod("open", 0666);
    assert_int_equal(config_file_load(&cf, "open"), -1);
    assert_non_null(strstr(cf.error, "world-writable"));
    config_file_free(&cf);

    assert_int_equal(config_file_load(&cf, "missing"), -1);
    assert_non_null(strstr(cf.error, "cannot read config file missing"));
    config_file_free(&cf);

    assert_int_equal(config_file_load(&cf, "."), -1);
    assert_non_null(strstr(cf.error, "not a regular file"));
    config_file_free(&cf);
}

/* The process-wide file is read once: this is the only test that touches it. */
static void test_environment_wins_over_the_file(void **state) {
    (void)state;
    write_file("shared.conf", "LLMSHIM_MODE=replay\nLLMSHIM_TTL=1h\nLLMSHIM_LOG=info\n", 0600);
    char path[128];
    snprintf(path, sizeof(path), "%s/shared.conf", tmpdir);
    setenv("LLMSHIM_CONFIG", path, 1);
    setenv("LLMSHIM_MODE", "record", 1);
    setenv("LLMSHIM_LOG", "", 1); /* set but empty: as if unset */
    unsetenv("LLMSHIM_TTL");
    unsetenv("LLMSHIM_NAMESPACE");
    assert_string_equal(config_getenv("LLMSHIM_MODE"), "record");
    assert_string_equal(config_source("LLMSHIM_MODE"), "environment");
    assert_string_equal(config_getenv("LLMSHIM_TTL"), "1h");
    assert_string_equal(config_source("LLMSHIM_TTL"), path);
    assert_string_equal(config_getenv("LLMSHIM_LOG"), "info");
    assert_null(config_getenv("LLMSHIM_NAMESPACE"));
    assert_string_equal(config_source("LLMSHIM_NAMESPACE"), "default");
    assert_string_equal(config_file_path(), path);
    assert_null(config_file_error());
    /* read once: a change to the file is not seen by this process */
    write_file("shared.conf", "LLMSHIM_TTL=5m\n", 0600);
    assert_string_equal(config_getenv("LLMSHIM_TTL"), "1h");
    /* and it feeds config_parse like getenv does */
    struct config c;
    config_parse(&c, config_getenv);
    assert_null(c.error);
    assert_int_equal(c.mode, MODE_RECORD);
    assert_int_equal(c.ttl, 3600);
    config_free(&c);
    unsetenv("LLMSHIM_CONFIG");
    unsetenv("LLMSHIM_MODE");
    unsetenv("LLMSHIM_LOG");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_values_comments_quotes),
        cmocka_unit_test(test_later_line_wins),
        cmocka_unit_test(test_bad_lines_name_file_and_line),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_every_setting_name_is_known),
        cmocka_unit_test_setup_teardown(test_search_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_checks_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_wins_over_the_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
