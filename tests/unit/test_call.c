/* Unit tests for call_analyze and the cache key (src/call.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "call.h"
#include "canon.h"

#define OPENAI_CHAT "https://api.openai.com/v1/chat/completions"

static const char body_a[] =
    "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

/* ---- helpers ------------------------------------------------------------------------------ */

#define HK_TEST_NCREDS 5 /* src/hook.h: USERPWD, USERNAME, PASSWORD, XOAUTH2_BEARER, COOKIE */

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

/* The model segment of a store name "provider/model/key16.json" (static buffer). */
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
    if (slashes != 2) fail_msg("model %s: name %s has %d slashes, want 2", model_in, name, slashes);
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
    snprintf(name, sizeof(name), "openai/gpt-4o/%.16s.json", c.hex);
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
    snprintf(name, sizeof(name), "openai/_/%.16s.json", c.hex);
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
    assert_string_equal(KEY_VERSION, "llmshim-key-v2");
    char hex[65];
    hex_of("team-a", "POST", OPENAI_CHAT, 1,
           "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"gpt-4o-mini\"}", hex);
    print_message("key_compute known answer: %s\n", hex);
    assert_string_equal(hex, "913e42a4bd2905ddd82c002c5519689d6d8b0bf376d63439a97003ba71afb60b");
    hex_of(NULL, "POST", "https://example.test/x", 0, "", hex);
    assert_string_equal(hex, "4a83284ca6bec1899d3e357fd9ab92d1449d294f29219169f0356864576481ec");
}

static void test_call_key_matches_key_compute(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    cfg.ns = "team-a";
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT "?key=S",
               "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_string_equal(c.hex, "913e42a4bd2905ddd82c002c5519689d6d8b0bf376d63439a97003ba71afb60b");
    call_free(&c);
}

/* The one naming function: what call_analyze names an entry is what the command derives from
 * the entry's own provider, model and key (export, import). */
static void test_call_entry_name(void **state) {
    (void)state;
    static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char *n = call_entry_name("openai", "gpt-4o", hex);
    assert_string_equal(n, "openai/gpt-4o/0123456789abcdef.json");
    free(n);
    n = call_entry_name(NULL, NULL, hex);
    assert_string_equal(n, "custom/_/0123456789abcdef.json");
    free(n);
    n = call_entry_name("", "../x", hex);
    assert_string_equal(n, "custom/___x/0123456789abcdef.json");
    free(n);
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, body_a);
    n = call_entry_name(c.ep.provider, c.model, c.hex);
    assert_string_equal(n, c.name);
    free(n);
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

/* ---- requests with headers and credentials (call_analyze_request) ---------------------------- */

#define ANTHROPIC_MSGS "https://api.anthropic.com/v1/messages"
#define OLLAMA_CHAT "http://localhost:11434/api/chat"
#define GEMINI_GEN "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent"
#define GEMINI_STREAM "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:streamGenerateContent"
#define AZURE_CHAT "https://myres.openai.azure.com/openai/deployments/gpt4/chat/completions"

/* A NULL-terminated list of header lines. */
#define HDRS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char claude_body[] =
    "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

static const unsigned char secret1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                          17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const unsigned char secret2[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                          16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* call_analyze_request of a POST must say "LLM call" (1). headers: NULL-terminated or NULL. */
static void analyze_req(struct call *c, const struct config *cfg, const char *url, const char *body,
                        const char *const *headers, const char *credential, const unsigned char *secret) {
    size_t n = 0;
    while (headers && headers[n]) n++;
    const char *creds[1] = {credential}; /* CURLOPT_USERPWD */
    struct call_request r = {.method = "POST", .url = url, .body = body, .body_len = body ? strlen(body) : 0,
                             .headers = headers, .nheaders = n, .credentials = creds, .ncredentials = 1,
                             .scope_secret = secret};
    int rc = call_analyze_request(c, cfg, &r);
    if (rc != 1) fail_msg("call_analyze_request(POST %s) = %d, want 1", url, rc);
}

static void req_key(const struct config *cfg, const char *url, const char *body, const char *const *headers,
                    const char *credential, const unsigned char *secret, char hex[65]) {
    struct call c;
    analyze_req(&c, cfg, url, body, headers, credential, secret);
    memcpy(hex, c.hex, 65);
    call_free(&c);
}

/* Keys of url+bodies[i] must all be equal (same) or all pairwise different (!same). */
static void check_bodies(const struct config *cfg, const char *url, const char *const *bodies, size_t n, int same) {
    char first[65], k[65], keys[32][65];
    assert_true(n <= 32);
    key_of(cfg, url, bodies[0], first);
    for (size_t i = 0; i < n; i++) {
        key_of(cfg, url, bodies[i], k);
        memcpy(keys[i], k, 65);
        if (same && strcmp(k, first) != 0) fail_msg("%s: key of\n  %s\ndiffers from that of\n  %s", url, bodies[i], bodies[0]);
    }
    if (!same)
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (!strcmp(keys[i], keys[j])) fail_msg("%s: same key for\n  %s\nand\n  %s", url, bodies[i], bodies[j]);
}

static void test_call_openai_ignored_body_fields(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
#define M "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"
    static const char *const same[] = {
        "{\"model\":\"gpt-4o\"," M "}",
        "{\"model\":\"gpt-4o\"," M ",\"user\":\"user-123\"}",
        "{\"model\":\"gpt-4o\"," M ",\"metadata\":{\"run\":\"7\",\"team\":\"a\"}}",
        "{\"store\":true,\"model\":\"gpt-4o\"," M "}",
        "{\"model\":\"gpt-4o\"," M ",\"store\":false}",
        "{\"model\":\"gpt-4o\"," M ",\"prompt_cache_key\":\"pk-1\"}",
        "{\"model\":\"gpt-4o\"," M ",\"safety_identifier\":\"sid-9\"}",
        "{\"model\":\"gpt-4o\"," M ",\"prompt_cache_retention\":\"24h\"}",
        "{\"user\":\"u\",\"metadata\":{},\"store\":true,\"prompt_cache_key\":\"k\",\"safety_identifier\":\"s\","
        "\"model\":\"gpt-4o\"," M "}",
    };
    check_bodies(&cfg, OPENAI_CHAT, same, sizeof(same) / sizeof(same[0]), 1);
    /* the Responses API echoes every one of them in its answer: each is part of the question */
    check_bodies(&cfg, "https://api.openai.com/v1/responses", same, sizeof(same) / sizeof(same[0]), 0);
    /* llama.cpp's slot fields are ignored on every OpenAI-shaped endpoint */
    static const char *const llama[] = {
        "{\"model\":\"gpt-4o\"," M "}",
        "{\"model\":\"gpt-4o\"," M ",\"cache_prompt\":true,\"id_slot\":1}",
    };
    check_bodies(&cfg, "https://api.mistral.ai/v1/chat/completions", llama, 2, 1);
    /* the ignored fields are gone from the canonical body */
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, same[8]);
    assert_string_equal(c.body.data, "{\"messages\":[{\"content\":\"Hi\",\"role\":\"user\"}],\"model\":\"gpt-4o\"}");
    call_free(&c);
    /* only at the top level: a "user" property inside a tool schema is part of the question */
    static const char *const nested[] = {
        "{\"model\":\"gpt-4o\"," M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"string\"}}}}}]}",
        "{\"model\":\"gpt-4o\"," M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{}}}}]}",
    };
    check_bodies(&cfg, OPENAI_CHAT, nested, 2, 0);
}

static void test_call_openai_answer_fields_change_key(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char *const bodies[] = {
        "{\"model\":\"gpt-4o\"," M "}",
        "{\"model\":\"gpt-4o\"," M ",\"temperature\":0.5}",
        "{\"model\":\"gpt-4o\"," M ",\"temperature\":0.7}",
        "{\"model\":\"gpt-4o\"," M ",\"seed\":1}",
        "{\"model\":\"gpt-4o\"," M ",\"seed\":2}",
        "{\"model\":\"gpt-4o\"," M ",\"n\":2}",
        "{\"model\":\"gpt-4o\"," M ",\"stream\":true}",
        "{\"model\":\"gpt-4o\"," M ",\"stream\":false}",
        "{\"model\":\"gpt-4o\"," M ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
        "{\"model\":\"gpt-4o\"," M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
        "{\"model\":\"gpt-4o\"," M ",\"tool_choice\":\"none\"}",
        "{\"model\":\"gpt-4o\"," M ",\"response_format\":{\"type\":\"json_object\"}}",
        "{\"model\":\"gpt-4o\"," M ",\"max_tokens\":10}",
        "{\"model\":\"gpt-4o\"," M ",\"top_p\":0.9}",
        "{\"model\":\"gpt-4o\"," M ",\"stop\":[\"\\n\"]}",
        "{\"model\":\"gpt-4o\"," M ",\"keep_alive\":\"5m\"}", /* ignored for ollama only */
        "{\"model\":\"gpt-4o\"," M ",\"service_tier\":\"flex\"}",
    };
    check_bodies(&cfg, OPENAI_CHAT, bodies, sizeof(bodies) / sizeof(bodies[0]), 0);
#undef M
}

static void test_call_anthropic_metadata_ignored(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char *const same[] = {
        claude_body,
        "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
        "\"metadata\":{\"user_id\":\"u-1\"}}",
        "{\"metadata\":{\"user_id\":\"u-2\"},\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":64,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
    };
    check_bodies(&cfg, ANTHROPIC_MSGS, same, 3, 1);
    static const char *const differ[] = {
        claude_body,
        "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":65,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":64,\"system\":\"Be brief\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
    };
    check_bodies(&cfg, ANTHROPIC_MSGS, differ, 4, 0);
    struct call c;
    analyze_ok(&c, &cfg, "POST", ANTHROPIC_MSGS, claude_body);
    assert_string_equal(c.ep.provider, "anthropic");
    assert_int_equal(c.ep.shape, SHAPE_ANTHROPIC);
    assert_string_equal(c.model, "claude-3-5-sonnet-20241022");
    call_free(&c);
}

static void test_call_anthropic_version_and_beta_headers_in_key(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char none[65], v1[65], v2[65], beta_a[65], beta_b[65], k[65];
    key_of(&cfg, ANTHROPIC_MSGS, claude_body, none);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("anthropic-version: 2023-06-01"), NULL, NULL, v1);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("anthropic-version: 2024-01-01"), NULL, NULL, v2);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body,
            HDRS("anthropic-version: 2023-06-01", "anthropic-beta: prompt-caching-2024-07-31"), NULL, NULL, beta_a);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body,
            HDRS("anthropic-version: 2023-06-01", "anthropic-beta: output-128k-2025-02-19"), NULL, NULL, beta_b);
    assert_string_not_equal(v1, none);
    assert_string_not_equal(v1, v2);
    assert_string_not_equal(beta_a, v1);
    assert_string_not_equal(beta_a, beta_b);
    /* header names are case-insensitive; whitespace around the value does not count */
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("Anthropic-Version: 2023-06-01"), NULL, NULL, k);
    assert_string_equal(k, v1);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("ANTHROPIC-VERSION:2023-06-01 \r\n"), NULL, NULL, k);
    assert_string_equal(k, v1);
    /* the order of the lines does not count */
    req_key(&cfg, ANTHROPIC_MSGS, claude_body,
            HDRS("Anthropic-Beta: prompt-caching-2024-07-31", "Content-Type: application/json",
                 "anthropic-version: 2023-06-01"),
            NULL, NULL, k);
    assert_string_equal(k, beta_a);
    /* a header that merely starts like one does not count */
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("anthropic-version-x: 1", "anthropic-betas: 2"), NULL, NULL, k);
    assert_string_equal(k, none);
    /* the block that went into the key, and the key made of it */
    struct call c;
    analyze_req(&c, &cfg, ANTHROPIC_MSGS, claude_body,
                HDRS("anthropic-version: 2023-06-01", "anthropic-beta: prompt-caching-2024-07-31"), NULL, NULL);
    assert_string_equal(c.key_headers, "anthropic-beta:prompt-caching-2024-07-31\nanthropic-version:2023-06-01\n");
    unsigned char want[32];
    char want_hex[65];
    key_compute_full(want, NULL, "POST", c.safe_url, c.body_json, c.body.data, c.body.len, c.key_headers, NULL, NULL);
    key_hex(want, want_hex);
    assert_string_equal(c.hex, want_hex);
    call_free(&c);
}

static void test_call_unrelated_and_credential_headers_not_in_key(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char v1[65], k[65];
    req_key(&cfg, ANTHROPIC_MSGS, claude_body, HDRS("anthropic-version: 2023-06-01"), NULL, NULL, v1);
    const char *const *const variants[] = {
        HDRS("anthropic-version: 2023-06-01", "User-Agent: Anthropic/Python 0.34.0"),
        HDRS("User-Agent: curl/8.5.0", "anthropic-version: 2023-06-01", "X-Stainless-Os: Linux",
             "X-Stainless-Lang: python", "Accept: application/json", "Content-Type: application/json"),
        HDRS("anthropic-version: 2023-06-01", "x-api-key: sk-ant-api03-AAAA"),
        HDRS("anthropic-version: 2023-06-01", "x-api-key: sk-ant-api03-BBBB"),
        HDRS("anthropic-version: 2023-06-01", "Authorization: Bearer sk-ant-oat-CCCC"),
        HDRS("X-Api-Key: sk-ant-api03-DDDD", "anthropic-version: 2023-06-01", "Idempotency-Key: 42",
             "traceparent: 00-abc-def-01"),
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct call c;
        analyze_req(&c, &cfg, ANTHROPIC_MSGS, claude_body, variants[i], NULL, NULL);
        if (strcmp(c.hex, v1) != 0) fail_msg("header set %zu changed the key", i);
        assert_string_equal(c.key_headers, "anthropic-version:2023-06-01\n");
        assert_null(strstr(c.key_headers, "sk-"));
        assert_null(strstr(c.name, "sk-"));
        call_free(&c);
    }
    /* on OpenAI: no header at all goes into the key */
    char plain[65];
    key_of(&cfg, OPENAI_CHAT, body_a, plain);
    struct call c;
    analyze_req(&c, &cfg, OPENAI_CHAT, body_a,
                HDRS("Authorization: Bearer sk-proj-1", "OpenAI-Organization: org-1", "OpenAI-Project: p",
                     "anthropic-version: 2023-06-01", "User-Agent: OpenAI/Python 1.40.0", "X-Stainless-Arch: x64"),
                NULL, NULL);
    assert_null(c.key_headers);
    assert_string_equal(c.hex, plain);
    call_free(&c);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-proj-2"), "user:pw", NULL, k);
    assert_string_equal(k, plain);
}

/* Key stability: with no key header and no scope, a request's key is the one it always had. */
static void test_call_request_without_key_parts_keeps_old_key(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    cfg.ns = "team-a";
    struct call c;
    analyze_req(&c, &cfg, OPENAI_CHAT "?key=S",
                "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                HDRS("Authorization: Bearer sk-1", "User-Agent: x", "X-Stainless-Os: Linux"), "u:p", NULL);
    assert_null(c.key_headers);
    assert_string_equal(c.hex, "913e42a4bd2905ddd82c002c5519689d6d8b0bf376d63439a97003ba71afb60b");
    call_free(&c);
    /* every built-in shape, with no headers */
    static const struct { const char *url, *body; } cases[] = {
        {ANTHROPIC_MSGS, claude_body},
        {OLLAMA_CHAT, "{\"model\":\"llama3\",\"messages\":[]}"},
        {GEMINI_GEN "?key=K", "{\"contents\":[]}"},
        {AZURE_CHAT "?api-version=2024-02-01", "{\"messages\":[]}"},
    };
    cfg.ns = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char old[65], now[65];
        key_of(&cfg, cases[i].url, cases[i].body, old);
        req_key(&cfg, cases[i].url, cases[i].body, NULL, NULL, NULL, now);
        assert_string_equal(old, now);
        req_key(&cfg, cases[i].url, cases[i].body, HDRS("User-Agent: x", "Accept: */*"), NULL, NULL, now);
        assert_string_equal(old, now);
        /* and it is key_compute over the parts, with nothing added */
        analyze_ok(&c, &cfg, "POST", cases[i].url, cases[i].body);
        unsigned char k[32];
        char hex[65];
        key_compute(k, NULL, "POST", c.safe_url, c.body_json, c.body.data, c.body.len);
        key_hex(k, hex);
        assert_string_equal(c.hex, hex);
        call_free(&c);
    }
}

static void test_call_ollama_keep_alive_ignored(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char *const same[] = {
        "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"keep_alive\":\"5m\"}",
        "{\"keep_alive\":0,\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
    };
    check_bodies(&cfg, OLLAMA_CHAT, same, 3, 1);
    static const char *const differ[] = {
        same[0],
        "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":false}",
        "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"options\":{\"temperature\":0}}",
        "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"format\":\"json\"}",
    };
    check_bodies(&cfg, OLLAMA_CHAT, differ, 4, 0);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OLLAMA_CHAT, same[1]);
    assert_string_equal(c.ep.provider, "ollama");
    assert_int_equal(c.ep.shape, SHAPE_OLLAMA);
    assert_string_equal(c.model, "llama3");
    assert_null(strstr(c.body.data, "keep_alive"));
    call_free(&c);
}

static void test_call_gemini_native(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char body[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}]}";
    struct call c;
    analyze_ok(&c, &cfg, "POST", GEMINI_GEN "?key=SECRET", body);
    assert_string_equal(c.ep.provider, "gemini");
    assert_int_equal(c.ep.shape, SHAPE_GEMINI);
    assert_string_equal(c.model, "gemini-pro");
    assert_string_equal(c.safe_url, GEMINI_GEN);
    assert_null(strstr(c.name, "SECRET"));
    assert_true(strncmp(c.name, "gemini/gemini-pro/", 18) == 0);
    char k1[65], k[65];
    memcpy(k1, c.hex, 65);
    call_free(&c);
    /* the credential, in the query or in a header, is not part of the question */
    key_of(&cfg, GEMINI_GEN "?key=OTHER", body, k);
    assert_string_equal(k, k1);
    req_key(&cfg, GEMINI_GEN, body, HDRS("x-goog-api-key: AIzaXYZ"), NULL, NULL, k);
    assert_string_equal(k, k1);
    /* another model in the path is another question */
    key_of(&cfg, "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=SECRET",
           body, k);
    assert_string_not_equal(k, k1);
    /* alt=sse changes the framing of the answer */
    char plain[65], sse[65];
    analyze_ok(&c, &cfg, "POST", GEMINI_STREAM "?alt=sse&key=SECRET", body);
    assert_string_equal(c.safe_url, GEMINI_STREAM "?alt=sse");
    assert_string_equal(c.model, "gemini-pro");
    memcpy(sse, c.hex, 65);
    call_free(&c);
    key_of(&cfg, GEMINI_STREAM "?key=SECRET", body, plain);
    assert_string_not_equal(sse, plain);
    key_of(&cfg, GEMINI_STREAM "?key=X&alt=sse", body, k);
    assert_string_equal(k, sse);
    /* the generation config is part of the question */
    key_of(&cfg, GEMINI_GEN "?key=SECRET",
           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"generationConfig\":{\"temperature\":0}}", k);
    assert_string_not_equal(k, k1);
}

static void test_call_azure_deployment_and_api_version(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0}";
    struct call c;
    analyze_ok(&c, &cfg, "POST", AZURE_CHAT "?api-version=2024-02-01", body);
    assert_string_equal(c.ep.provider, "azure");
    assert_int_equal(c.ep.shape, SHAPE_OPENAI);
    assert_string_equal(c.model, "gpt4");
    assert_string_equal(c.safe_url, AZURE_CHAT "?api-version=2024-02-01");
    assert_true(strncmp(c.name, "azure/gpt4/", 11) == 0);
    char k1[65], k[65];
    memcpy(k1, c.hex, 65);
    call_free(&c);
    key_of(&cfg, AZURE_CHAT "?api-version=2024-06-01", body, k);
    assert_string_not_equal(k, k1);
    key_of(&cfg, "https://myres.openai.azure.com/openai/deployments/gpt35/chat/completions?api-version=2024-02-01",
           body, k);
    assert_string_not_equal(k, k1);
    key_of(&cfg, "https://otherres.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-02-01",
           body, k);
    assert_string_not_equal(k, k1);
    /* the api-key header is a credential */
    req_key(&cfg, AZURE_CHAT "?api-version=2024-02-01", body, HDRS("api-key: 0123456789abcdef"), NULL, NULL, k);
    assert_string_equal(k, k1);
    /* a model in the body wins over the deployment */
    analyze_ok(&c, &cfg, "POST", AZURE_CHAT "?api-version=2024-02-01", "{\"model\":\"gpt-4o\",\"messages\":[]}");
    assert_string_equal(c.model, "gpt-4o");
    call_free(&c);
}

static void test_call_key_ignore_pointer(void **state) {
    (void)state;
    static char p0[] = "/messages/0/name";
    char *ignore[] = {p0, NULL};
    static const char alice[] =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"name\":\"alice\",\"content\":\"Hi\"},"
        "{\"role\":\"user\",\"name\":\"carol\",\"content\":\"Yo\"}]}";
    static const char bob[] =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"name\":\"bob\",\"content\":\"Hi\"},"
        "{\"role\":\"user\",\"name\":\"carol\",\"content\":\"Yo\"}]}";
    static const char second[] =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"name\":\"alice\",\"content\":\"Hi\"},"
        "{\"role\":\"user\",\"name\":\"dave\",\"content\":\"Yo\"}]}";
    static const char with_user[] =
        "{\"user\":\"u1\",\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"name\":\"zed\",\"content\":\"Hi\"},"
        "{\"role\":\"user\",\"name\":\"carol\",\"content\":\"Yo\"}]}";
    struct config cfg;
    cfg_init(&cfg);
    char a[65], b[65], s[65], u[65];
    key_of(&cfg, OPENAI_CHAT, alice, a);
    key_of(&cfg, OPENAI_CHAT, bob, b);
    assert_string_not_equal(a, b); /* without the setting the name counts */
    cfg.key_ignore = ignore;
    key_of(&cfg, OPENAI_CHAT, alice, a);
    key_of(&cfg, OPENAI_CHAT, bob, b);
    key_of(&cfg, OPENAI_CHAT, second, s);
    key_of(&cfg, OPENAI_CHAT, with_user, u);
    assert_string_equal(a, b);
    assert_string_not_equal(a, s); /* only the first message's name */
    assert_string_equal(a, u);     /* the shape's own list still applies */
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, alice);
    assert_null(strstr(c.body.data, "alice"));
    assert_non_null(strstr(c.body.data, "carol"));
    call_free(&c);
}

static void test_call_key_headers_setting(void **state) {
    (void)state;
    static char xt[] = "x-tenant";
    char *names[] = {xt, NULL};
    struct config cfg;
    cfg_init(&cfg);
    char none[65], a[65], b[65], k[65];
    key_of(&cfg, OPENAI_CHAT, body_a, none);
    /* without the setting the header does not count */
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("X-Tenant: a"), NULL, NULL, k);
    assert_string_equal(k, none);
    cfg.key_headers = names;
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("X-Tenant: a"), NULL, NULL, a);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("X-Tenant: b"), NULL, NULL, b);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, none);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("User-Agent: z", "x-tenant:a"), NULL, NULL, k);
    assert_string_equal(k, a);
    /* absent: the key without headers */
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("User-Agent: z"), NULL, NULL, k);
    assert_string_equal(k, none);
    struct call c;
    analyze_req(&c, &cfg, OPENAI_CHAT, body_a, HDRS("X-Tenant: a", "Authorization: Bearer sk-1"), NULL, NULL);
    assert_string_equal(c.key_headers, "x-tenant:a\n");
    call_free(&c);
    /* together with Anthropic's own headers, sorted by name */
    analyze_req(&c, &cfg, ANTHROPIC_MSGS, claude_body, HDRS("X-Tenant: t1", "anthropic-version: 2023-06-01"), NULL, NULL);
    assert_string_equal(c.key_headers, "anthropic-version:2023-06-01\nx-tenant:t1\n");
    call_free(&c);
}

static void test_call_normalize_message_text(void **state) {
    (void)state;
    static const char upper[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello   World\"}]}";
    static const char lower[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\" hello world \"}]}";
    static const char model_upper[] = "{\"model\":\"GPT-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}]}";
    static const char model_lower[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}]}";
    struct config cfg;
    cfg_init(&cfg);
    char a[65], b[65];
    key_of(&cfg, OPENAI_CHAT, upper, a);
    key_of(&cfg, OPENAI_CHAT, lower, b);
    assert_string_not_equal(a, b);
    cfg.normalize = CANON_NORM_WHITESPACE;
    key_of(&cfg, OPENAI_CHAT, upper, a);
    key_of(&cfg, OPENAI_CHAT, lower, b);
    assert_string_not_equal(a, b); /* case still differs */
    cfg.normalize = CANON_NORM_WHITESPACE | CANON_NORM_CASE;
    key_of(&cfg, OPENAI_CHAT, upper, a);
    key_of(&cfg, OPENAI_CHAT, lower, b);
    assert_string_equal(a, b);
    /* never the model */
    key_of(&cfg, OPENAI_CHAT, model_upper, a);
    key_of(&cfg, OPENAI_CHAT, model_lower, b);
    assert_string_not_equal(a, b);
    struct call c;
    analyze_ok(&c, &cfg, "POST", OPENAI_CHAT, model_upper);
    assert_string_equal(c.model, "GPT-4o");
    call_free(&c);
}

/* ---- key scope: an HMAC of the credential ----------------------------------------------------- */

static void test_call_key_scope_authorization(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char k1[65], k1b[65], k2[65], k1s2[65], plain[65], k[65];
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-1"), NULL, secret1, k1);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("User-Agent: x", "Authorization: Bearer sk-1"), NULL, secret1, k1b);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-2"), NULL, secret1, k2);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-1"), NULL, secret2, k1s2);
    key_of(&cfg, OPENAI_CHAT, body_a, plain);
    assert_string_equal(k1, k1b);
    assert_string_not_equal(k1, k2);
    assert_string_not_equal(k1, k1s2);
    assert_string_not_equal(k1, plain);
    assert_string_not_equal(k2, plain);
    /* the header name in any case */
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("authorization: Bearer sk-1"), NULL, secret1, k);
    assert_string_equal(k, k1);
    /* the credential is never written down */
    struct call c;
    analyze_req(&c, &cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-1"), NULL, secret1);
    assert_null(c.key_headers);
    assert_null(strstr(c.name, "sk-1"));
    assert_null(strstr(c.safe_url, "sk-1"));
    call_free(&c);
    /* without a secret the credential does not matter */
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-1"), NULL, NULL, k1);
    req_key(&cfg, OPENAI_CHAT, body_a, HDRS("Authorization: Bearer sk-2"), NULL, NULL, k2);
    assert_string_equal(k1, plain);
    assert_string_equal(k2, plain);
}

static void test_call_key_scope_other_credential_headers(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const struct { const char *url, *body, *h1, *h2; } cases[] = {
        {ANTHROPIC_MSGS, claude_body, "x-api-key: sk-ant-1", "X-Api-Key: sk-ant-2"},
        {AZURE_CHAT "?api-version=2024-02-01", "{\"messages\":[]}", "api-key: k1", "api-key: k2"},
        {GEMINI_GEN, "{\"contents\":[]}", "x-goog-api-key: AIza1", "x-goog-api-key: AIza2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char a[65], b[65], a2[65], na[65], nb[65];
        req_key(&cfg, cases[i].url, cases[i].body, HDRS(cases[i].h1), NULL, secret1, a);
        req_key(&cfg, cases[i].url, cases[i].body, HDRS(cases[i].h2), NULL, secret1, b);
        req_key(&cfg, cases[i].url, cases[i].body, HDRS(cases[i].h1), NULL, secret1, a2);
        req_key(&cfg, cases[i].url, cases[i].body, HDRS(cases[i].h1), NULL, NULL, na);
        req_key(&cfg, cases[i].url, cases[i].body, HDRS(cases[i].h2), NULL, NULL, nb);
        if (!strcmp(a, b)) fail_msg("%s: %s and %s share a scoped key", cases[i].url, cases[i].h1, cases[i].h2);
        assert_string_equal(a, a2);
        assert_string_equal(na, nb);
    }
}

static void test_call_key_scope_query_key_and_credential_option(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char gbody[] = "{\"contents\":[]}";
    char a[65], b[65], a2[65], na[65], nb[65];
    req_key(&cfg, GEMINI_GEN "?key=AIzaA", gbody, NULL, NULL, secret1, a);
    req_key(&cfg, GEMINI_GEN "?key=AIzaB", gbody, NULL, NULL, secret1, b);
    req_key(&cfg, GEMINI_GEN "?key=AIzaA", gbody, NULL, NULL, secret1, a2);
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2);
    /* the key parameter anywhere in the query */
    req_key(&cfg, GEMINI_STREAM "?alt=sse&key=AIzaA", gbody, NULL, NULL, secret1, a);
    req_key(&cfg, GEMINI_STREAM "?alt=sse&key=AIzaB", gbody, NULL, NULL, secret1, b);
    assert_string_not_equal(a, b);
    req_key(&cfg, GEMINI_STREAM "?alt=sse&key=AIzaA", gbody, NULL, NULL, NULL, na);
    req_key(&cfg, GEMINI_STREAM "?alt=sse&key=AIzaB", gbody, NULL, NULL, NULL, nb);
    assert_string_equal(na, nb);
    /* CURLOPT_USERPWD / XOAUTH2_BEARER */
    req_key(&cfg, OPENAI_CHAT, body_a, NULL, "user:pw1", secret1, a);
    req_key(&cfg, OPENAI_CHAT, body_a, NULL, "user:pw2", secret1, b);
    req_key(&cfg, OPENAI_CHAT, body_a, NULL, "user:pw1", secret1, a2);
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2);
    req_key(&cfg, OPENAI_CHAT, body_a, NULL, "user:pw1", NULL, na);
    req_key(&cfg, OPENAI_CHAT, body_a, NULL, "user:pw2", NULL, nb);
    assert_string_equal(na, nb);
    /* the scope is HMAC-SHA-256(secret, credential) in hex, added to the key */
    br_hmac_key_context kc;
    br_hmac_context hc;
    unsigned char mac[32], want[32];
    char scope[65], want_hex[65];
    br_hmac_key_init(&kc, &br_sha256_vtable, secret1, 32);
    br_hmac_init(&hc, &kc, 0);
    static const unsigned char len8[8] = {0, 0, 0, 0, 0, 0, 0, 8};
    br_hmac_update(&hc, "option0", 8); /* the tag with its NUL, the length, the value */
    br_hmac_update(&hc, len8, 8);
    br_hmac_update(&hc, "user:pw1", 8);
    br_hmac_out(&hc, mac);
    key_hex(mac, scope);
    struct call c;
    analyze_req(&c, &cfg, OPENAI_CHAT, body_a, NULL, "user:pw1", secret1);
    key_compute_full(want, NULL, "POST", c.safe_url, c.body_json, c.body.data, c.body.len, NULL, scope, NULL);
    key_hex(want, want_hex);
    assert_string_equal(c.hex, want_hex);
    call_free(&c);
}

/* Every way a credential reaches the server scopes the key: CURLOPT_USERNAME and PASSWORD,
 * cookies (header and CURLOPT_COOKIE), custom credential headers; a proxy's does not. */
static void scope_creds(const char *const *headers, const char *const creds[HK_TEST_NCREDS], char hex[65]) {
    struct config cfg;
    cfg_init(&cfg);
    size_t n = 0;
    while (headers && headers[n]) n++;
    struct call_request r = {.method = "POST", .url = OPENAI_CHAT, .body = body_a, .body_len = strlen(body_a),
                             .headers = headers, .nheaders = n, .credentials = creds,
                             .ncredentials = HK_TEST_NCREDS, .scope_secret = secret1};
    struct call c;
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    memcpy(hex, c.hex, 65);
    call_free(&c);
}

static void test_call_key_scope_every_credential(void **state) {
    (void)state;
    const char *none[HK_TEST_NCREDS] = {0};
    char base[65], a[65], b[65];
    scope_creds(NULL, none, base);
    /* username / password options (by position: USERPWD, USERNAME, PASSWORD, BEARER, COOKIE) */
    for (int i = 0; i < HK_TEST_NCREDS; i++) {
        const char *c1[HK_TEST_NCREDS] = {0}, *c2[HK_TEST_NCREDS] = {0};
        c1[i] = "alice";
        c2[i] = "bob";
        scope_creds(NULL, c1, a);
        scope_creds(NULL, c2, b);
        if (!strcmp(a, b) || !strcmp(a, base)) fail_msg("credential option %d does not scope the key", i);
    }
    /* the same text as username or as password: two tenants */
    const char *u[HK_TEST_NCREDS] = {NULL, "x"}, *pw[HK_TEST_NCREDS] = {NULL, NULL, "x"};
    scope_creds(NULL, u, a);
    scope_creds(NULL, pw, b);
    assert_string_not_equal(a, b);
    static const char *const pairs[][2] = {
        {"Cookie: session=alice", "Cookie: session=bob"},
        {"X-Tenant-Token: t1", "X-Tenant-Token: t2"},
        {"X-Custom-Key: k1", "X-Custom-Key: k2"},
        {"X-Session-Id: s1", "X-Session-Id: s2"},
        {"Ocp-Apim-Subscription-Key: k1", "Ocp-Apim-Subscription-Key: k2"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        scope_creds(HDRS(pairs[i][0]), none, a);
        scope_creds(HDRS(pairs[i][1]), none, b);
        if (!strcmp(a, b)) fail_msg("%s and %s share a scoped key", pairs[i][0], pairs[i][1]);
    }
    /* headers that carry no credential, and a proxy's credential, leave the key alone */
    scope_creds(HDRS("User-Agent: a", "Proxy-Authorization: Basic eDp5"), none, a);
    scope_creds(HDRS("User-Agent: b", "Proxy-Authorization: Basic eTp6"), none, b);
    assert_string_equal(a, base);
    assert_string_equal(b, base);
}

/* ---- known bugs --------------------------------------------------------------------------- */

/* BUG (src/call.c, credential_of): with LLMSHIM_KEY_SCOPE=credential, only a query parameter
 * spelled exactly "key=" is taken as the credential. The URL parser (endpoint.c secret_param)
 * treats api_key, api-key, apikey, access_token and any-case KEY as credentials too and strips
 * them from the key, so two tenants who authenticate with ?api_key=A and ?api_key=B (or
 * ?access_token=..., ?KEY=...) get the same scope (HMAC of "") and the same key: one tenant is
 * served the other's cached answers, which is what the scope exists to prevent. The same holds
 * for credentials in the URL's userinfo (https://user:password@host/...), which url_parse drops. */
static void test_call_key_scope_other_query_credentials(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    static const char *const params[] = {"api_key", "api-key", "apikey", "access_token", "KEY"};
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        char u1[256], u2[256], a[65], b[65];
        snprintf(u1, sizeof(u1), "%s?%s=tenant-A", OPENAI_CHAT, params[i]);
        snprintf(u2, sizeof(u2), "%s?%s=tenant-B", OPENAI_CHAT, params[i]);
        req_key(&cfg, u1, body_a, NULL, NULL, secret1, a);
        req_key(&cfg, u2, body_a, NULL, NULL, secret1, b);
        if (!strcmp(a, b)) fail_msg("?%s=tenant-A and ?%s=tenant-B share a scoped key", params[i], params[i]);
    }
    /* credentials in the URL's userinfo (basic auth, as CURLOPT_USERPWD) are stripped the same way */
    char a[65], b[65];
    req_key(&cfg, "https://tenantA:pw@api.openai.com/v1/chat/completions", body_a, NULL, NULL, secret1, a);
    req_key(&cfg, "https://tenantB:pw@api.openai.com/v1/chat/completions", body_a, NULL, NULL, secret1, b);
    assert_string_not_equal(a, b);
}

/* BUG (src/call.c, header_value via key_header_block): when a key header appears on several
 * lines (curl sends every CURLOPT_HTTPHEADER line, so "anthropic-beta: a" plus
 * "anthropic-beta: b" reach the server as both betas), only the first line goes into the key:
 * betas {a, b} and {a, c} share a key and one is answered with the other's cached answer. */
static void test_call_repeated_key_header_lines(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    char ab[65], ac[65];
    req_key(&cfg, ANTHROPIC_MSGS, claude_body,
            HDRS("anthropic-version: 2023-06-01", "anthropic-beta: prompt-caching-2024-07-31",
                 "anthropic-beta: output-128k-2025-02-19"),
            NULL, NULL, ab);
    req_key(&cfg, ANTHROPIC_MSGS, claude_body,
            HDRS("anthropic-version: 2023-06-01", "anthropic-beta: prompt-caching-2024-07-31",
                 "anthropic-beta: token-efficient-tools-2025-02-19"),
            NULL, NULL, ac);
    assert_string_not_equal(ab, ac);
}

/* Transfer options (redirects followed, another port) are a tagged part of the key: present,
 * they change it; absent, the key is what it always was. */
static void test_call_transfer_options_in_the_key(void **state) {
    (void)state;
    struct config cfg;
    cfg_init(&cfg);
    struct call c;
    struct call_request r = {.method = "POST", .url = OPENAI_CHAT, .body = body_a, .body_len = strlen(body_a)};
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    char plain[65];
    memcpy(plain, c.hex, 65);
    unsigned char want[32];
    char hex[65];
    key_compute(want, NULL, "POST", c.safe_url, c.body_json, c.body.data, c.body.len);
    key_hex(want, hex);
    assert_string_equal(plain, hex);
    assert_null(c.key_options);
    call_free(&c);
    r.options = "52=1;";
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    assert_string_not_equal(plain, c.hex);
    assert_string_equal(c.key_options, "52=1;");
    char follow[65];
    memcpy(follow, c.hex, 65);
    call_free(&c);
    r.options = "3=8080;";
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    assert_string_not_equal(plain, c.hex);
    assert_string_not_equal(follow, c.hex);
    call_free(&c);
    config_free(&cfg);
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
        cmocka_unit_test(test_call_entry_name),
        cmocka_unit_test(test_call_openai_ignored_body_fields),
        cmocka_unit_test(test_call_openai_answer_fields_change_key),
        cmocka_unit_test(test_call_anthropic_metadata_ignored),
        cmocka_unit_test(test_call_anthropic_version_and_beta_headers_in_key),
        cmocka_unit_test(test_call_unrelated_and_credential_headers_not_in_key),
        cmocka_unit_test(test_call_request_without_key_parts_keeps_old_key),
        cmocka_unit_test(test_call_ollama_keep_alive_ignored),
        cmocka_unit_test(test_call_gemini_native),
        cmocka_unit_test(test_call_azure_deployment_and_api_version),
        cmocka_unit_test(test_call_key_ignore_pointer),
        cmocka_unit_test(test_call_key_headers_setting),
        cmocka_unit_test(test_call_normalize_message_text),
        cmocka_unit_test(test_call_key_scope_authorization),
        cmocka_unit_test(test_call_key_scope_other_credential_headers),
        cmocka_unit_test(test_call_key_scope_query_key_and_credential_option),
        cmocka_unit_test(test_call_transfer_options_in_the_key),
        cmocka_unit_test(test_call_key_scope_every_credential),
        cmocka_unit_test(test_call_key_scope_other_query_credentials),
        cmocka_unit_test(test_call_repeated_key_header_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
