/* Unit tests for config_parse with a fake environment (src/config.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canon.h"
#include "config.h"

/* ---- fake environment --------------------------------------------------------------------- */

struct var { const char *name, *value; };

/* The environment config_parse sees: a NULL-name-terminated table. */
static const struct var *env_table;

static const char *fake_env(const char *name) {
    for (const struct var *v = env_table; v && v->name; v++)
        if (!strcmp(v->name, name)) return v->value;
    return NULL;
}

static void parse(struct config *c, const struct var *table) {
    env_table = table;
    config_parse(c, fake_env);
}

/* Parsing must succeed (no error) */
#define parse_ok(c, ...)                                                                          \
    do {                                                                                          \
        static const struct var t_[] = {__VA_ARGS__, {NULL, NULL}};                               \
        parse((c), t_);                                                                           \
        if ((c)->error) fail_msg("unexpected config error: %s", (c)->error);                      \
    } while (0)

/* Parsing must fail with a message that names the variable `vname` */
#define parse_err(vname, ...)                                                                     \
    do {                                                                                          \
        static const struct var t_[] = {__VA_ARGS__, {NULL, NULL}};                               \
        struct config c_;                                                                         \
        parse(&c_, t_);                                                                           \
        if (!c_.error) fail_msg("no error reported for bad %s", (vname));                        \
        if (!strstr(c_.error, (vname))) fail_msg("error \"%s\" does not name %s", c_.error, (vname)); \
        config_free(&c_);                                                                         \
    } while (0)

#define HOME {"HOME", "/home/u"}

/* ---- defaults ----------------------------------------------------------------------------- */

static void test_config_defaults(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME);
    assert_int_equal(c.mode, MODE_CACHE);
    assert_int_equal(c.backend, BACKEND_FILE);
    assert_int_equal(c.ttl, 604800);
    assert_int_equal(c.log, LOG_OFF);
    assert_string_equal(c.dir, "/home/u/.cache/llmshim");
    assert_null(c.ns);
    assert_int_equal(c.nendpoints, 0);
    assert_true(c.mem_max_entries > 0);
    assert_true(c.mem_max_bytes > 0);
    assert_true(c.max_entry_bytes > 0);
    config_free(&c);
    assert_null(c.dir);
}

static void test_config_empty_values_mean_default(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_MODE", ""}, {"LLMSHIM_TTL", ""}, {"LLMSHIM_BACKEND", ""}, {"LLMSHIM_DIR", ""},
             {"LLMSHIM_NAMESPACE", ""});
    assert_int_equal(c.mode, MODE_CACHE);
    assert_int_equal(c.ttl, 604800);
    assert_int_equal(c.backend, BACKEND_FILE);
    assert_string_equal(c.dir, "/home/u/.cache/llmshim");
    assert_null(c.ns);
    config_free(&c);
}

static void test_config_dir_xdg_cache_home_wins_when_absolute(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"XDG_CACHE_HOME", "/xdg/cache"});
    assert_string_equal(c.dir, "/xdg/cache/llmshim");
    config_free(&c);
    /* a relative XDG_CACHE_HOME is ignored (XDG base directory spec) */
    parse_ok(&c, HOME, {"XDG_CACHE_HOME", "rel/cache"});
    assert_string_equal(c.dir, "/home/u/.cache/llmshim");
    config_free(&c);
    /* XDG alone is enough */
    parse_ok(&c, {"XDG_CACHE_HOME", "/xdg"});
    assert_string_equal(c.dir, "/xdg/llmshim");
    config_free(&c);
}

static void test_config_dir_explicit_wins(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"XDG_CACHE_HOME", "/xdg"}, {"LLMSHIM_DIR", "/srv/cassettes"});
    assert_string_equal(c.dir, "/srv/cassettes");
    config_free(&c);
}

static void test_config_no_dir_with_file_backend_is_error(void **state) {
    (void)state;
    parse_err("LLMSHIM_DIR", {"LLMSHIM_MODE", "cache"});
    parse_err("LLMSHIM_DIR", {"HOME", ""});
    parse_err("LLMSHIM_DIR", {"XDG_CACHE_HOME", "relative"});
    parse_err("LLMSHIM_DIR", {"HOME", "relative/home"}); /* found by fuzz_config */
    /* no directory is needed by the memory backend, or when the shim is off */
    struct config c;
    parse_ok(&c, {"LLMSHIM_BACKEND", "memory"});
    assert_null(c.dir);
    config_free(&c);
    parse_ok(&c, {"LLMSHIM_MODE", "off"});
    config_free(&c);
}

/* ---- enumerations ------------------------------------------------------------------------- */

static void test_config_mode_values(void **state) {
    (void)state;
    static const struct { const char *v; enum mode m; } cases[] = {
        {"cache", MODE_CACHE}, {"record", MODE_RECORD}, {"replay", MODE_REPLAY}, {"off", MODE_OFF},
        {"once", MODE_ONCE}};
    for (size_t i = 0; i < 5; i++) {
        struct var t[] = {HOME, {"LLMSHIM_MODE", cases[i].v}, {NULL, NULL}};
        struct config c;
        parse(&c, t);
        assert_null(c.error);
        assert_int_equal(c.mode, cases[i].m);
        assert_string_equal(mode_name(c.mode), cases[i].v);
        config_free(&c);
    }
}

static void test_config_once_needs_a_directory(void **state) {
    (void)state;
    parse_err("LLMSHIM_MODE=once", HOME, {"LLMSHIM_MODE", "once"}, {"LLMSHIM_BACKEND", "redis"});
    parse_err("LLMSHIM_MODE=once", HOME, {"LLMSHIM_MODE", "once"}, {"LLMSHIM_BACKEND", "memory"});
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_MODE", "once"}, {"LLMSHIM_BACKEND", "memory,file"});
    assert_int_equal(c.mode, MODE_ONCE);
    config_free(&c);
}

static void test_config_redis_url_checked_for_the_redis_backend(void **state) {
    (void)state;
    parse_err("LLMSHIM_REDIS_URL", HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "http://h:6380"});
    parse_err("LLMSHIM_REDIS_URL", HOME, {"LLMSHIM_BACKEND", "memory,redis"}, {"LLMSHIM_REDIS_URL", "redis://h:99999"});
    struct config c; /* not used by the file backend: not its business */
    parse_ok(&c, HOME, {"LLMSHIM_REDIS_URL", "memcached://h:6380"});
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "redis://:secret@h:6380/2"});
    config_free(&c);
}

static void test_config_backend_values(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "file"});
    assert_int_equal(c.backend, BACKEND_FILE);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "memory"});
    assert_int_equal(c.backend, BACKEND_MEMORY);
    config_free(&c);
}

static void test_config_log_values(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_LOG", "off"});
    assert_int_equal(c.log, LOG_OFF);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_LOG", "info"});
    assert_int_equal(c.log, LOG_INFO);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_LOG", "debug"});
    assert_int_equal(c.log, LOG_DEBUG);
    config_free(&c);
}

static void test_config_namespace(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_NAMESPACE", "ci-run-7"});
    assert_string_equal(c.ns, "ci-run-7");
    config_free(&c);
}

/* ---- numbers with units ------------------------------------------------------------------- */

static void test_config_ttl_units(void **state) {
    (void)state;
    static const struct { const char *v; long long want; } cases[] = {
        {"0", 0}, {"3600", 3600}, {"45s", 45}, {"90m", 5400}, {"2h", 7200}, {"7d", 604800}, {"1D", 86400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct var t[] = {HOME, {"LLMSHIM_TTL", cases[i].v}, {NULL, NULL}};
        struct config c;
        parse(&c, t);
        if (c.error) fail_msg("LLMSHIM_TTL=%s: %s", cases[i].v, c.error);
        if (c.ttl != cases[i].want) fail_msg("LLMSHIM_TTL=%s gave %lld, want %lld", cases[i].v, c.ttl, cases[i].want);
        config_free(&c);
    }
}

static void test_config_sizes_with_suffixes(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_MEM_MAX_ENTRIES", "500"}, {"LLMSHIM_MEM_MAX_BYTES", "64m"},
             {"LLMSHIM_MAX_ENTRY_BYTES", "512k"});
    assert_int_equal(c.mem_max_entries, 500);
    assert_int_equal(c.mem_max_bytes, 64ULL * 1024 * 1024);
    assert_int_equal(c.max_entry_bytes, 512ULL * 1024);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_MEM_MAX_ENTRIES", "2k"}, {"LLMSHIM_MEM_MAX_BYTES", "1g"},
             {"LLMSHIM_MAX_ENTRY_BYTES", "3M"});
    assert_int_equal(c.mem_max_entries, 2048);
    assert_int_equal(c.mem_max_bytes, 1024ULL * 1024 * 1024);
    assert_int_equal(c.max_entry_bytes, 3ULL * 1024 * 1024);
    config_free(&c);
}

/* ---- invalid values ----------------------------------------------------------------------- */

static void test_config_invalid_enums_named_in_error(void **state) {
    (void)state;
    parse_err("LLMSHIM_MODE", HOME, {"LLMSHIM_MODE", "bogus"});
    parse_err("LLMSHIM_MODE", HOME, {"LLMSHIM_MODE", "CACHE"});
    parse_err("LLMSHIM_BACKEND", HOME, {"LLMSHIM_BACKEND", "redis-ish"});
    parse_err("LLMSHIM_LOG", HOME, {"LLMSHIM_LOG", "verbose"});
}

static void test_config_invalid_ttl_named_in_error(void **state) {
    (void)state;
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "-5"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "abc"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "5x"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "5mm"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "1.5h"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "m"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "99999999999999999999"});
    parse_err("LLMSHIM_TTL", HOME, {"LLMSHIM_TTL", "9999999999999999d"}); /* overflows */
}

static void test_config_invalid_sizes_named_in_error(void **state) {
    (void)state;
    parse_err("LLMSHIM_MEM_MAX_ENTRIES", HOME, {"LLMSHIM_MEM_MAX_ENTRIES", "0"});
    parse_err("LLMSHIM_MEM_MAX_ENTRIES", HOME, {"LLMSHIM_MEM_MAX_ENTRIES", "-1"});
    parse_err("LLMSHIM_MEM_MAX_BYTES", HOME, {"LLMSHIM_MEM_MAX_BYTES", "64q"});
    parse_err("LLMSHIM_MEM_MAX_BYTES", HOME, {"LLMSHIM_MEM_MAX_BYTES", "lots"});
    parse_err("LLMSHIM_MAX_ENTRY_BYTES", HOME, {"LLMSHIM_MAX_ENTRY_BYTES", "1d"}); /* time unit */
    parse_err("LLMSHIM_MAX_ENTRY_BYTES", HOME, {"LLMSHIM_MAX_ENTRY_BYTES", "0"});
}

static void test_config_relative_dir_is_error(void **state) {
    (void)state;
    parse_err("LLMSHIM_DIR", HOME, {"LLMSHIM_DIR", "cache/here"});
    parse_err("LLMSHIM_DIR", HOME, {"LLMSHIM_DIR", "~/cache"});
}

static void test_config_first_error_is_reported(void **state) {
    (void)state;
    static const struct var t[] = {HOME, {"LLMSHIM_MODE", "bogus"}, {"LLMSHIM_TTL", "abc"}, {NULL, NULL}};
    struct config c;
    parse(&c, t);
    assert_non_null(c.error);
    assert_non_null(strstr(c.error, "LLMSHIM_MODE"));
    assert_null(strstr(c.error, "LLMSHIM_TTL"));
    config_free(&c);
    assert_null(c.error);
}

/* ---- LLMSHIM_ENDPOINTS -------------------------------------------------------------------- */

static void test_config_endpoints_several_items_with_spaces(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME,
             {"LLMSHIM_ENDPOINTS", "  http://127.0.0.1:8000/v1 ,https://llm.corp.example/* ,, "
                                   "anthropic=https://gw.corp/claude  "});
    assert_int_equal(c.nendpoints, 3);
    assert_string_equal(c.endpoints[0].pattern, "http://127.0.0.1:8000/v1");
    assert_int_equal(c.endpoints[0].shape, SHAPE_NONE);
    assert_string_equal(c.endpoints[1].pattern, "https://llm.corp.example/*");
    assert_int_equal(c.endpoints[1].shape, SHAPE_NONE);
    assert_string_equal(c.endpoints[2].pattern, "https://gw.corp/claude");
    assert_int_equal(c.endpoints[2].shape, SHAPE_ANTHROPIC);
    config_free(&c);
    assert_int_equal(c.nendpoints, 0);
}

static void test_config_endpoints_shape_prefixes(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME,
             {"LLMSHIM_ENDPOINTS", "openai=http://a/v1,gemini=https://b/x,ollama=http://c:11434,Anthropic=https://d/"});
    assert_int_equal(c.nendpoints, 4);
    assert_int_equal(c.endpoints[0].shape, SHAPE_OPENAI);
    assert_string_equal(c.endpoints[0].pattern, "http://a/v1");
    assert_int_equal(c.endpoints[1].shape, SHAPE_GEMINI);
    assert_int_equal(c.endpoints[2].shape, SHAPE_OLLAMA);
    assert_string_equal(c.endpoints[2].pattern, "http://c:11434");
    assert_int_equal(c.endpoints[3].shape, SHAPE_ANTHROPIC);
    config_free(&c);
}

static void test_config_endpoints_host_lowercased_path_kept(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_ENDPOINTS", "HTTPS://GW.Corp.EXAMPLE:8443/Claude/V1,http://LOCALHOST"});
    assert_int_equal(c.nendpoints, 2);
    assert_string_equal(c.endpoints[0].pattern, "https://gw.corp.example:8443/Claude/V1");
    assert_string_equal(c.endpoints[1].pattern, "http://localhost");
    config_free(&c);
}

static void test_config_endpoints_query_with_equals_is_not_a_shape(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_ENDPOINTS", "http://h/p?x=1"});
    assert_int_equal(c.nendpoints, 1);
    assert_int_equal(c.endpoints[0].shape, SHAPE_NONE);
    assert_string_equal(c.endpoints[0].pattern, "http://h/p?x=1");
    config_free(&c);
}

static void test_config_endpoints_invalid_items(void **state) {
    (void)state;
    parse_err("LLMSHIM_ENDPOINTS", HOME, {"LLMSHIM_ENDPOINTS", "localhost:8000"});
    parse_err("LLMSHIM_ENDPOINTS", HOME, {"LLMSHIM_ENDPOINTS", "http://ok/v1,not-a-url"});
    parse_err("LLMSHIM_ENDPOINTS", HOME, {"LLMSHIM_ENDPOINTS", "foo=http://x"});
    parse_err("LLMSHIM_ENDPOINTS", HOME, {"LLMSHIM_ENDPOINTS", "none=http://x"});
    parse_err("LLMSHIM_ENDPOINTS", HOME, {"LLMSHIM_ENDPOINTS", "openai="});
    /* the message quotes the offending item */
    static const struct var t[] = {HOME, {"LLMSHIM_ENDPOINTS", "foo=http://x"}, {NULL, NULL}};
    struct config c;
    parse(&c, t);
    assert_non_null(c.error);
    assert_non_null(strstr(c.error, "foo"));
    config_free(&c);
}

/* Spaces are trimmed around each comma-separated item but not around '=', so
 * "anthropic= https://gw/x" stores the pattern " https://gw/x" (leading space) that can never
 * match a URL, and "anthropic =https://gw/x" is rejected as the unknown shape "anthropic ". */
static void test_config_endpoints_spaces_around_equals(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_ENDPOINTS", "anthropic= https://gw/x, ollama = http://o:11434"});
    assert_int_equal(c.nendpoints, 2);
    assert_string_equal(c.endpoints[0].pattern, "https://gw/x");
    assert_int_equal(c.endpoints[0].shape, SHAPE_ANTHROPIC);
    assert_string_equal(c.endpoints[1].pattern, "http://o:11434");
    assert_int_equal(c.endpoints[1].shape, SHAPE_OLLAMA);
    config_free(&c);
}

/* ---- key settings and replay pace --------------------------------------------------------- */

static void test_config_key_settings_defaults(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME);
    assert_null(c.key_ignore);
    assert_null(c.key_headers);
    assert_int_equal(c.normalize, 0);
    assert_int_equal(c.key_scope, 0);
    assert_true(c.replay_pace == 0);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_KEY_IGNORE", ""}, {"LLMSHIM_KEY_HEADERS", ""}, {"LLMSHIM_NORMALIZE", ""},
             {"LLMSHIM_KEY_SCOPE", ""}, {"LLMSHIM_REPLAY_PACE", ""});
    assert_null(c.key_ignore);
    assert_null(c.key_headers);
    assert_int_equal(c.normalize, 0);
    assert_int_equal(c.key_scope, 0);
    assert_true(c.replay_pace == 0);
    config_free(&c);
}

static void test_config_key_ignore(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_KEY_IGNORE", " /metadata, /messages/0/name ,,/messages/*/Name"});
    assert_non_null(c.key_ignore);
    assert_string_equal(c.key_ignore[0], "/metadata");
    assert_string_equal(c.key_ignore[1], "/messages/0/name");
    assert_string_equal(c.key_ignore[2], "/messages/*/Name"); /* JSON pointers keep their case */
    assert_null(c.key_ignore[3]);
    config_free(&c);
    assert_null(c.key_ignore);
    parse_err("LLMSHIM_KEY_IGNORE", HOME, {"LLMSHIM_KEY_IGNORE", "metadata"});
    parse_err("LLMSHIM_KEY_IGNORE", HOME, {"LLMSHIM_KEY_IGNORE", "/user,messages/0/name"});
    parse_err("LLMSHIM_KEY_IGNORE", HOME, {"LLMSHIM_KEY_IGNORE", "$.user"});
    /* the message quotes the entry */
    static const struct var t[] = {HOME, {"LLMSHIM_KEY_IGNORE", "/ok,user_id"}, {NULL, NULL}};
    parse(&c, t);
    assert_non_null(c.error);
    assert_non_null(strstr(c.error, "user_id"));
    config_free(&c);
}

static void test_config_key_headers(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_KEY_HEADERS", "X-Tenant, OpenAI-Beta"});
    assert_non_null(c.key_headers);
    assert_string_equal(c.key_headers[0], "x-tenant"); /* lowercase */
    assert_string_equal(c.key_headers[1], "openai-beta");
    assert_null(c.key_headers[2]);
    config_free(&c);
    /* credential headers never go into a key, in any case */
    static const char *const refused[] = {"authorization", "Authorization", "x-api-key", "X-API-Key", "api-key",
                                          "x-goog-api-key", "proxy-authorization", "Cookie",
                                          "x-tenant,authorization"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct var t[] = {HOME, {"LLMSHIM_KEY_HEADERS", refused[i]}, {NULL, NULL}};
        parse(&c, t);
        if (!c.error) fail_msg("LLMSHIM_KEY_HEADERS=%s accepted", refused[i]);
        if (!strstr(c.error, "LLMSHIM_KEY_HEADERS")) fail_msg("error \"%s\" does not name the variable", c.error);
        config_free(&c);
    }
    /* a name that merely contains one is fine */
    parse_ok(&c, HOME, {"LLMSHIM_KEY_HEADERS", "x-api-key-id,authorization-mode"});
    assert_string_equal(c.key_headers[0], "x-api-key-id");
    config_free(&c);
}

static void test_config_normalize(void **state) {
    (void)state;
    static const struct { const char *v; unsigned want; } cases[] = {
        {"whitespace", CANON_NORM_WHITESPACE},
        {"case", CANON_NORM_CASE},
        {"whitespace,case", CANON_NORM_WHITESPACE | CANON_NORM_CASE},
        {"case, whitespace", CANON_NORM_WHITESPACE | CANON_NORM_CASE},
        {"Whitespace", CANON_NORM_WHITESPACE},
        {"none", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct var t[] = {HOME, {"LLMSHIM_NORMALIZE", cases[i].v}, {NULL, NULL}};
        struct config c;
        parse(&c, t);
        if (c.error) fail_msg("LLMSHIM_NORMALIZE=%s: %s", cases[i].v, c.error);
        if (c.normalize != cases[i].want) fail_msg("LLMSHIM_NORMALIZE=%s gave %u, want %u", cases[i].v, c.normalize, cases[i].want);
        config_free(&c);
    }
    parse_err("LLMSHIM_NORMALIZE", HOME, {"LLMSHIM_NORMALIZE", "punctuation"});
    parse_err("LLMSHIM_NORMALIZE", HOME, {"LLMSHIM_NORMALIZE", "whitespace,unicode"});
    parse_err("LLMSHIM_NORMALIZE", HOME, {"LLMSHIM_NORMALIZE", "all"});
}

static void test_config_key_scope(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_KEY_SCOPE", "credential"});
    assert_int_equal(c.key_scope, 1);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_KEY_SCOPE", "none"});
    assert_int_equal(c.key_scope, 0);
    config_free(&c);
    parse_err("LLMSHIM_KEY_SCOPE", HOME, {"LLMSHIM_KEY_SCOPE", "tenant"});
    parse_err("LLMSHIM_KEY_SCOPE", HOME, {"LLMSHIM_KEY_SCOPE", "1"});
    parse_err("LLMSHIM_KEY_SCOPE", HOME, {"LLMSHIM_KEY_SCOPE", "credentials"});
}

static void test_config_replay_pace(void **state) {
    (void)state;
    static const struct { const char *v; double want; } cases[] = {
        {"0", 0}, {"1", 1}, {"0.5", 0.5}, {".25", 0.25}, {"2", 2}, {"100", 100}, {"0.125", 0.125},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct var t[] = {HOME, {"LLMSHIM_REPLAY_PACE", cases[i].v}, {NULL, NULL}};
        struct config c;
        parse(&c, t);
        if (c.error) fail_msg("LLMSHIM_REPLAY_PACE=%s: %s", cases[i].v, c.error);
        double d = c.replay_pace - cases[i].want;
        if (d > 1e-12 || d < -1e-12) fail_msg("LLMSHIM_REPLAY_PACE=%s gave %g, want %g", cases[i].v, c.replay_pace, cases[i].want);
        config_free(&c);
    }
    struct config c;
    parse_ok(&c, HOME, {"LLMSHIM_REPLAY_PACE", "0.5"});
    assert_true(c.replay_pace == 0.5);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_REPLAY_PACE", "1"});
    assert_true(c.replay_pace == 1.0);
    config_free(&c);
    static const char *const bad[] = {"abc", "-1", "1,5", "0,5", ".", "1.2.3", "1e2", "0x1", " 1", "1 ", "+1",
                                      "101", "100.5", "inf", "nan", "99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct var t[] = {HOME, {"LLMSHIM_REPLAY_PACE", bad[i]}, {NULL, NULL}};
        parse(&c, t);
        if (!c.error) fail_msg("LLMSHIM_REPLAY_PACE=%s accepted as %g", bad[i], c.replay_pace);
        if (!strstr(c.error, "LLMSHIM_REPLAY_PACE")) fail_msg("error \"%s\" does not name the variable", c.error);
        config_free(&c);
    }
}

/* ---- locale ------------------------------------------------------------------------------- */

#include "comma_locale.h"


/* The host program may have called setlocale: "0.5" is still a half, and "1,5" still wrong. */
static void test_config_replay_pace_ignores_decimal_comma_locale(void **state) {
    (void)state;
    char tmpdir[64];
    const char *name = enter_comma_locale(tmpdir, sizeof(tmpdir));
    if (!name) {
        leave_comma_locale(tmpdir);
        skip(); /* no locale with a decimal comma can be had on this machine */
    }
    struct config half, quarter, comma;
    static const struct var t1[] = {HOME, {"LLMSHIM_REPLAY_PACE", "0.5"}, {NULL, NULL}};
    static const struct var t2[] = {HOME, {"LLMSHIM_REPLAY_PACE", "2.25"}, {NULL, NULL}};
    static const struct var t3[] = {HOME, {"LLMSHIM_REPLAY_PACE", "1,5"}, {NULL, NULL}};
    parse(&half, t1);
    parse(&quarter, t2);
    parse(&comma, t3);
    leave_comma_locale(tmpdir);
    if (half.error) fail_msg("LLMSHIM_REPLAY_PACE=0.5 under %s: %s", name, half.error);
    assert_true(half.replay_pace == 0.5);
    assert_null(quarter.error);
    assert_true(quarter.replay_pace > 2.2499999 && quarter.replay_pace < 2.2500001);
    assert_non_null(comma.error);
    config_free(&half);
    config_free(&quarter);
    config_free(&comma);
}

/* TLS files and the sentinels' password: absolute paths, certificate and key together, and
 * only with a URL they apply to (a CA with redis:// would let someone think it is encrypted). */
static void test_config_redis_tls_and_sentinel(void **state) {
    (void)state;
    struct config c;
    parse_ok(&c, HOME);
    assert_null(c.redis_ca);
    assert_null(c.redis_cert);
    assert_null(c.sentinel_password);
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "rediss://h:6380"},
             {"LLMSHIM_REDIS_CA", "/etc/ca.pem"}, {"LLMSHIM_REDIS_CERT", "/c.pem"}, {"LLMSHIM_REDIS_KEY", "/c.key"});
    assert_string_equal(c.redis_ca, "/etc/ca.pem");
    assert_string_equal(c.redis_cert, "/c.pem");
    assert_string_equal(c.redis_key, "/c.key");
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "memory,redis"}, {"LLMSHIM_REDIS_URL", "REDISS+CLUSTER://h"},
             {"LLMSHIM_REDIS_CA", "/ca.pem"});
    config_free(&c);
    parse_ok(&c, HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "rediss+sentinel://s/m"},
             {"LLMSHIM_SENTINEL_PASSWORD", "sp"});
    assert_string_equal(c.sentinel_password, "sp");
    config_free(&c);
    /* for the file backend they are not used, and not judged */
    parse_ok(&c, HOME, {"LLMSHIM_REDIS_CA", "/ca.pem"}, {"LLMSHIM_SENTINEL_PASSWORD", "sp"});
    config_free(&c);
    parse_err("LLMSHIM_REDIS_CA", HOME, {"LLMSHIM_REDIS_CA", "ca.pem"});
    parse_err("LLMSHIM_REDIS_KEY", HOME, {"LLMSHIM_REDIS_CERT", "/c.pem"});
    parse_err("LLMSHIM_REDIS_CERT", HOME, {"LLMSHIM_REDIS_KEY", "/c.key"});
    parse_err("LLMSHIM_REDIS_CA", HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_CA", "/ca.pem"});
    parse_err("LLMSHIM_REDIS_CERT", HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "redis+cluster://h"},
              {"LLMSHIM_REDIS_CERT", "/c.pem"}, {"LLMSHIM_REDIS_KEY", "/c.key"});
    parse_err("LLMSHIM_SENTINEL_PASSWORD", HOME, {"LLMSHIM_BACKEND", "redis"}, {"LLMSHIM_REDIS_URL", "rediss://h"},
              {"LLMSHIM_SENTINEL_PASSWORD", "sp"});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_redis_tls_and_sentinel),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_once_needs_a_directory),
        cmocka_unit_test(test_config_redis_url_checked_for_the_redis_backend),
        cmocka_unit_test(test_config_empty_values_mean_default),
        cmocka_unit_test(test_config_dir_xdg_cache_home_wins_when_absolute),
        cmocka_unit_test(test_config_dir_explicit_wins),
        cmocka_unit_test(test_config_no_dir_with_file_backend_is_error),
        cmocka_unit_test(test_config_mode_values),
        cmocka_unit_test(test_config_backend_values),
        cmocka_unit_test(test_config_log_values),
        cmocka_unit_test(test_config_namespace),
        cmocka_unit_test(test_config_ttl_units),
        cmocka_unit_test(test_config_sizes_with_suffixes),
        cmocka_unit_test(test_config_invalid_enums_named_in_error),
        cmocka_unit_test(test_config_invalid_ttl_named_in_error),
        cmocka_unit_test(test_config_invalid_sizes_named_in_error),
        cmocka_unit_test(test_config_relative_dir_is_error),
        cmocka_unit_test(test_config_first_error_is_reported),
        cmocka_unit_test(test_config_endpoints_several_items_with_spaces),
        cmocka_unit_test(test_config_endpoints_shape_prefixes),
        cmocka_unit_test(test_config_endpoints_host_lowercased_path_kept),
        cmocka_unit_test(test_config_endpoints_query_with_equals_is_not_a_shape),
        cmocka_unit_test(test_config_endpoints_invalid_items),
        cmocka_unit_test(test_config_endpoints_spaces_around_equals),
        cmocka_unit_test(test_config_key_settings_defaults),
        cmocka_unit_test(test_config_key_ignore),
        cmocka_unit_test(test_config_key_headers),
        cmocka_unit_test(test_config_normalize),
        cmocka_unit_test(test_config_key_scope),
        cmocka_unit_test(test_config_replay_pace),
        cmocka_unit_test(test_config_replay_pace_ignores_decimal_comma_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
