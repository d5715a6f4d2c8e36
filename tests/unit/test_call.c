/* Unit tests for call_analyze and the cache key (src/call.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"

#define OPENAI_CHAT "https://api.openai.com/v1/chat/completions"

static const char body_a[] =
    "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

/* ---- helpers ------------------------------------------------------------------------------ */

static void cfg_init(struct config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
}

/* call_analyze must say "LLM call" (1). */
static void analyze_ok(struct call *c, const struct config *cfg, const char *method, const char *url,
                       const char *body) {
    int rc = call_analyze(c, cfg, method, url, body, body ? strlen(body) : 0);
    if (rc != 1) fail_msg("call_analyze(%s %s) = %d, want 1", method, url, rc);
}

/* The hex key of a POST of body to url under cfg. */
static void key_of(const struct config *cfg, const char *url, const char *body, char hex[65]) {
    struct call c;
    analyze_ok(&c, cfg, "POST", url, body);
    memcpy(hex, c.hex, 65);
    call_free(&c);
}

static void assert_is_hex64(const char *hex) {
    assert_int_equal(strlen(hex), 64);
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", hex[i])) fail_msg("not lowercase hex: %s", hex);
}

/* The model segment of a store name "provider/model/hh/hex.json" (static buffer). */
static const char *model_segment(const char *name) {
    static char seg[256];
    const char *a = strchr(name, '/');
    assert_non_null(a);
    const char *b = strchr(a + 1, '/');
    assert_non_null(b);
    assert_true((size_t)(b - a - 1) < sizeof(seg));
    memcpy(seg, a + 1, (size_t)(b - a - 1));
    seg[b - a - 1] = '\0';
    return seg;
}

static void check_safe_segment(const char *model_in, const char *name) {
    int slashes = 0;
    for (const char *p = name; *p; p++) slashes += *p == '/';
    if (slashes != 3) fail_msg("model %s: name %s has %d slashes, want 3", model_in, name, slashes);
    const char *seg = model_segment(name);
    if (!seg[0] || !strcmp(seg, ".") || !strcmp(seg, "..") || seg[0] == '.')
        fail_msg("model %s: unsafe segment \"%s\"", model_in, seg);
    for (const char *p = seg; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *p))
            fail_msg("model %s: segment \"%s\" has character 0x%02x", model_in, seg, (unsigned char)*p);
}

/* ---- which calls ------------------------------------------------------------------------- */

static void test_call_get_is_not_analyzed(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    assert_int_equal(call_analyze(&c, &cfg, "GET", OPENAI_CHAT, NULL, 0), 0);
    assert_int_equal(call_analyze(&c, &cfg, "PUT", OPENAI_CHAT, body_a, strlen(body_a)), 0);
    assert_int_equal(call_analyze(&c, &cfg, NULL, OPENAI_CHAT, body_a, strlen(body_a)), 0);
    assert_int_equal(call_analyze(&c, &cfg, "POST", NULL, body_a, strlen(body_a)), 0);
}

static void test_call_non_llm_url_is_not_analyzed(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    assert_int_equal(call_analyze(&c, &cfg, "POST", "https://example.com/v1/chat/completions", body_a, strlen(body_a)), 0);
    assert_int_equal(call_analyze(&c, &cfg, "POST", "https://api.openai.com/v1/models", body_a, strlen(body_a)), 0);
    assert_int_equal(call_analyze(&c, &cfg, "POST", "http://api.openai.com/v1/chat/completions", body_a, strlen(body_a)), 0);
    assert_null(c.name);
    assert_null(c.safe_url);
}

static void test_call_openai_analyzed(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body_a);
    assert_string_equal(c.ep.provider, "openai");
    assert_int_equal(c.ep.shape, SHAPE_OPENAI);
    assert_string_equal(c.model, "gpt-4o");
    assert_int_equal(c.body_json, 1);
    assert_string_equal(c.body.data,
                        "{\"messages\":[{\"content\":\"Hi\",\"role\":\"user\"}],\"model\":\"gpt-4o\",\"temperature\":0.2}");
    assert_string_equal(c.safe_url, OPENAI_CHAT);
    assert_is_hex64(c.hex);
    char hex[65];
    key_hex(c.key, hex);
    assert_string_equal(hex, c.hex);
    char name[256];
    snprintf(name, sizeof(name), "openai/gpt-4o/%.2s/%s.json", c.hex, c.hex);
    assert_string_equal(c.name, name);
    call_free(&c);
    assert_null(c.name);
}

static void test_call_custom_endpoint_and_model_from_path(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {{"https://generativelanguage.googleapis.com/", SHAPE_NONE}};
    struct config cfg;
    cfg_init(&cfg);
    cfg.endpoints = rules;
    cfg.nendpoints = 1;
    struct call c;
    analyze_ok(&c, &cfg, "POST",
               "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent?key=SECRET",
               "{\"contents\":[{\"parts\":[{\"text\":\"Hi\"}]}]}");
    assert_string_equal(c.ep.provider, "custom");
    assert_int_equal(c.ep.shape, SHAPE_GEMINI);
    assert_string_equal(c.model, "gemini-1.5-pro");
    assert_null(strstr(c.safe_url, "SECRET"));
    assert_true(strncmp(c.name, "custom/gemini-1.5-pro/", 22) == 0);
    call_free(&c);
}

/* ---- what the key depends on --------------------------------------------------------------- */

static void test_call_key_ignores_key_order_and_whitespace(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char k1[65], k2[65], k3[65];
    key_of(&cfg, OPENAI_CHAT, body_a, k1);
    key_of(&cfg, OPENAI_CHAT,
           "{ \"messages\" : [ { \"content\" : \"Hi\", \"role\" : \"user\" } ],\n"
           "  \"temperature\" : 0.20, \"model\" : \"gpt-4o\" }\n",
           k2);
    key_of(&cfg, OPENAI_CHAT, "{\"temperature\":2e-1,\"model\":\"gpt\\u002d4o\",\"messages\":[{\"content\":\"Hi\",\"role\":\"user\"}]}", k3);
    assert_string_equal(k1, k2);
    assert_string_equal(k1, k3);
}

static void test_call_key_changes_with_the_question(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char *const bodies[] = {
        body_a,
        "{\"model\":\"gpt-4o-mini\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        "{\"model\":\"gpt-4o\",\"temperature\":0.3,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}]}",
        "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"messages\":[{\"role\":\"system\",\"content\":\"Hi\"}]}",
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
    };
    enum { N = sizeof(bodies) / sizeof(bodies[0]) };
    char keys[N][65];
    for (size_t i = 0; i < N; i++) key_of(&cfg, OPENAI_CHAT, bodies[i], keys[i]);
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (!strcmp(keys[i], keys[j])) fail_msg("bodies %zu and %zu share a key", i, j);
    /* and with the endpoint */
    char e[65];
    key_of(&cfg, "https://api.openai.com/v1/responses", body_a, e);
    assert_string_not_equal(e, keys[0]);
}

static void test_call_key_changes_with_namespace(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char none[65], a[65], b[65], a2[65];
    key_of(&cfg, OPENAI_CHAT, body_a, none);
    cfg.ns = "team-a";
    key_of(&cfg, OPENAI_CHAT, body_a, a);
    cfg.ns = "team-b";
    key_of(&cfg, OPENAI_CHAT, body_a, b);
    cfg.ns = "team-a";
    key_of(&cfg, OPENAI_CHAT, body_a, a2);
    assert_string_not_equal(none, a);
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2);
}

static void test_call_credentials_in_query_not_in_key_or_url(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT "?key=SECRET", body_a);
    assert_null(strstr(c.safe_url, "SECRET"));
    assert_string_equal(c.safe_url, OPENAI_CHAT);
    char plain[65], other[65];
    key_of(&cfg, OPENAI_CHAT, body_a, plain);
    assert_string_equal(c.hex, plain);
    call_free(&c);
    /* a different secret is still the same question */
    key_of(&cfg, OPENAI_CHAT "?api_key=OTHER&access_token=T", body_a, other);
    assert_string_equal(other, plain);
    /* other parameters do count */
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT "?key=SECRET&api-version=2", body_a);
    assert_string_equal(c.safe_url, OPENAI_CHAT "?api-version=2");
    assert_string_not_equal(c.hex, plain);
    call_free(&c);
}

static void test_call_non_json_body_hashed_raw(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c1, c2;
    analyze_ok(&c1, &cfg, "POST", OPENAI_CHAT, "prompt=hello&n=1");
    assert_int_equal(c1.body_json, 0);
    assert_int_equal(c1.body.len, 16);
    assert_memory_equal(c1.body.data, "prompt=hello&n=1", 16);
    assert_null(c1.model);
    analyze_ok(&c2, &cfg, "POST", OPENAI_CHAT, "prompt=hello&n=2");
    assert_int_equal(c2.body_json, 0);
    assert_string_not_equal(c1.hex, c2.hex);
    call_free(&c2);
    /* malformed JSON is raw too, byte for byte (whitespace matters) */
    analyze_ok(&c2, &cfg, "POST", OPENAI_CHAT, "{\"model\": \"gpt-4o\",}");
    assert_int_equal(c2.body_json, 0);
    assert_string_equal(c2.body.data, "{\"model\": \"gpt-4o\",}");
    char k[65];
    key_of(&cfg, OPENAI_CHAT, "{\"model\":\"gpt-4o\",}", k);
    assert_string_not_equal(c2.hex, k);
    call_free(&c2);
    call_free(&c1);
}

static void test_call_empty_body(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    assert_int_equal(call_analyze(&c, &cfg, "POST", OPENAI_CHAT, NULL, 0), 1);
    assert_int_equal(c.body_json, 0);
    assert_int_equal(c.body.len, 0);
    assert_is_hex64(c.hex);
    char name[256];
    snprintf(name, sizeof(name), "openai/_/%.2s/%s.json", c.hex, c.hex);
    assert_string_equal(c.name, name);
    call_free(&c);
}

/* ---- store names ------------------------------------------------------------------------- */

static void test_call_name_model_segment_sanitized(void **state) {
    (void)state;
    static const char *const models[] = {
        "a/b", "../../etc/passwd", "..", ".", ".hidden", "gpt 4o:latest",
        "\xD0\xBC\xD0\xBE\xD0\xB4", "accounts/fireworks/models/llama-v3",
    };
    struct config cfg;
    cfg_init(&cfg);
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"model\":\"%s\",\"messages\":[]}", models[i]);
        struct call c;
        analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body);
        assert_string_equal(c.model, models[i]); /* the model itself is kept as sent */
        check_safe_segment(models[i], c.name);
        call_free(&c);
    }
}

static void test_call_name_model_segment_values(void **state) {
    (void)state;
    static const struct { const char *model, *segment; } cases[] = {
        {"gpt-4o", "gpt-4o"},
        {"gpt-4o-2024-08-06", "gpt-4o-2024-08-06"},
        {"llama3.1:8b", "llama3.1_8b"},
        {"a/b", "a_b"},
        {"..", "__"},
        {"v1..2", "v1._2"},
        {".env", "_env"},
        {"", "_"},
    };
    struct config cfg;
    cfg_init(&cfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"model\":\"%s\"}", cases[i].model);
        struct call c;
        analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body);
        assert_string_equal(model_segment(c.name), cases[i].segment);
        call_free(&c);
    }
}

static void test_call_name_long_model_truncated(void **state) {
    (void)state;
    char model[201], body[300];
    memset(model, 'x', 200);
    model[200] = '\0';
    snprintf(body, sizeof(body), "{\"model\":\"%s\"}", model);
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body);
    assert_int_equal(strlen(model_segment(c.name)), 64);
    call_free(&c);
}

/* ---- key_compute ------------------------------------------------------------------------- */

static void hex_of(const char *ns, const char *method, const char *url, int json, const char *body,
                   char hex[65]) {
    unsigned char k[32];
    key_compute(k, ns, method, url, json, body, body ? strlen(body) : 0);
    key_hex(k, hex);
}

static void test_key_compute_fields_are_length_prefixed(void **state) {
    (void)state;
    char a[65], b[65];
    hex_of(NULL, "ab", "c", 1, "{}", a);
    hex_of(NULL, "a", "bc", 1, "{}", b);
    assert_string_not_equal(a, b);
    hex_of("x", "POST", "u", 1, "{}", a);
    hex_of("", "xPOST", "u", 1, "{}", b);
    assert_string_not_equal(a, b);
    hex_of(NULL, "POST", "u/", 1, "{}", a);
    hex_of(NULL, "POST", "u", 1, "/{}", b);
    assert_string_not_equal(a, b);
}

static void test_key_compute_json_and_raw_bodies_differ(void **state) {
    (void)state;
    char a[65], b[65];
    hex_of(NULL, "POST", "u", 1, "{\"a\":1}", a);
    hex_of(NULL, "POST", "u", 0, "{\"a\":1}", b);
    assert_string_not_equal(a, b);
}

static void test_key_compute_deterministic(void **state) {
    (void)state;
    char a[65], b[65];
    hex_of("ns", "POST", "u", 1, "{}", a);
    hex_of("ns", "POST", "u", 1, "{}", b);
    assert_string_equal(a, b);
    assert_is_hex64(a);
    /* NULL strings hash like empty ones */
    hex_of(NULL, "POST", "u", 0, NULL, a);
    hex_of("", "POST", "u", 0, "", b);
    assert_string_equal(a, b);
}

/* Known answer. This pins the key format: SHA-256 over 8-byte big-endian length-prefixed fields
 * KEY_VERSION, namespace, method, safe URL, "json"/"raw", body. Changing this value invalidates
 * every user's cache and every committed cassette, so it must only ever change together with
 * KEY_VERSION (and then this expected value is updated deliberately). */
static void test_key_compute_known_answer(void **state) {
    (void)state;
    assert_string_equal(KEY_VERSION, "llmshim-key-v1");
    char hex[65];
    hex_of("team-a", "POST", OPENAI_CHAT, 1,
           "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"gpt-4o-mini\"}", hex);
    print_message("key_compute known answer: %s\n", hex);
    assert_string_equal(hex, "8de6a1f5aef8ea8a75656e4a92adf635c9af69f2d505b2518a94c50960381728");
    hex_of(NULL, "POST", "https://example.test/x", 0, "", hex);
    assert_string_equal(hex, "35154b7ad05c4a145f973fc176711a3727924f1852309e94805ffe7c4c1180ee");
}

static void test_call_key_matches_key_compute(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    cfg.ns = "team-a";
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT "?key=S",
               "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_string_equal(c.hex, "8de6a1f5aef8ea8a75656e4a92adf635c9af69f2d505b2518a94c50960381728");
    call_free(&c);
}

/* put_segment keeps a '.' anywhere after the first character, so a model such as "v1..2" or
 * "../../etc/passwd" yields a name containing "..". store_file refuses every name containing ".."
 * (path_of: strstr(name, "..")), so such calls are never cached by the file store, and put reports
 * the misleading error "entry name too long". */
static void test_call_name_has_no_dot_dot(void **state) {
    (void)state;
    static const char *const models[] = {"v1..2", "../../etc/passwd", "a..", "..."};
    struct config cfg;
    cfg_init(&cfg);
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"model\":\"%s\"}", models[i]);
        struct call c;
        analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body);
        if (strstr(c.name, "..")) fail_msg("model %s: name %s contains \"..\"", models[i], c.name);
        call_free(&c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_get_is_not_analyzed),
        cmocka_unit_test(test_call_non_llm_url_is_not_analyzed),
        cmocka_unit_test(test_call_openai_analyzed),
        cmocka_unit_test(test_call_custom_endpoint_and_model_from_path),
        cmocka_unit_test(test_call_key_ignores_key_order_and_whitespace),
        cmocka_unit_test(test_call_key_changes_with_the_question),
        cmocka_unit_test(test_call_key_changes_with_namespace),
        cmocka_unit_test(test_call_credentials_in_query_not_in_key_or_url),
        cmocka_unit_test(test_call_non_json_body_hashed_raw),
        cmocka_unit_test(test_call_empty_body),
        cmocka_unit_test(test_call_name_model_segment_sanitized),
        cmocka_unit_test(test_call_name_model_segment_values),
        cmocka_unit_test(test_call_name_long_model_truncated),
        cmocka_unit_test(test_key_compute_fields_are_length_prefixed),
        cmocka_unit_test(test_key_compute_json_and_raw_bodies_differ),
        cmocka_unit_test(test_key_compute_deterministic),
        cmocka_unit_test(test_key_compute_known_answer),
        cmocka_unit_test(test_call_key_matches_key_compute),
        cmocka_unit_test(test_call_name_has_no_dot_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
