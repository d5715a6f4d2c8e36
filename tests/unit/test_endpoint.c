/* Unit tests for URL parsing and endpoint matching (src/endpoint.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void parse_ok(const char *text, struct url *u) {
    if (url_parse(text, u) != 0) fail_msg("url_parse rejected %s", text);
    assert_non_null(u->scheme);
    assert_non_null(u->host);
    assert_non_null(u->path);
    assert_non_null(u->base);
}

/* url_parse(text) has this base and query (NULL: none). */
static void check_url(const char *text, const char *base, const char *query) {
    struct url u;
    parse_ok(text, &u);
    assert_string_equal(u.base, base);
    if (query) {
        assert_non_null(u.query);
        assert_string_equal(u.query, query);
    } else {
        assert_null(u.query);
    }
    url_free(&u);
}

/* endpoint_match with the given rules; returns 1/0 and fills m. */
static int match(const struct endpoint_rule *rules, size_t n, const char *text, struct endpoint_match *m) {
    struct url u;
    parse_ok(text, &u);
    memset(m, 0, sizeof(*m));
    int rc = endpoint_match(rules, n, &u, m);
    url_free(&u);
    return rc;
}

static void check_builtin(const char *text, int want) {
    struct endpoint_match m;
    int rc = match(NULL, 0, text, &m);
    if (rc != want) fail_msg("endpoint_match(%s) = %d, want %d", text, rc, want);
    if (want) {
        assert_string_equal(m.provider, "openai");
        assert_int_equal(m.shape, SHAPE_OPENAI);
    }
}

/* ---- url_parse ---------------------------------------------------------------------------- */

static void test_url_parse_splits_parts(void **state) {
    (void)state;
    struct url u;
    parse_ok("https://api.example.com:8443/v1/chat?stream=true#frag", &u);
    assert_string_equal(u.scheme, "https");
    assert_string_equal(u.host, "api.example.com");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.path, "/v1/chat");
    assert_string_equal(u.query, "stream=true");
    assert_string_equal(u.base, "https://api.example.com:8443/v1/chat");
    url_free(&u);
    assert_null(u.base); /* url_free leaves the struct empty */
}

static void test_url_parse_lowercases_scheme_and_host_not_path(void **state) {
    (void)state;
    struct url u;
    parse_ok("HTTPS://API.OpenAI.COM/V1/Chat?Q=A", &u);
    assert_string_equal(u.scheme, "https");
    assert_string_equal(u.host, "api.openai.com");
    assert_string_equal(u.path, "/V1/Chat");
    assert_string_equal(u.query, "Q=A");
    url_free(&u);
}

static void test_url_parse_drops_default_port(void **state) {
    (void)state;
    check_url("https://h.example:443/p", "https://h.example/p", NULL);
    check_url("http://h.example:80/p", "http://h.example/p", NULL);
    /* only the scheme's own default */
    check_url("http://h.example:443/p", "http://h.example:443/p", NULL);
    check_url("https://h.example:80/p", "https://h.example:80/p", NULL);
    check_url("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", NULL);
    struct url u;
    parse_ok("https://h.example:443/p", &u);
    assert_int_equal(u.port, 0);
    url_free(&u);
}

static void test_url_parse_drops_userinfo(void **state) {
    (void)state;
    check_url("https://user:pa55@h.example/p", "https://h.example/p", NULL);
    check_url("https://user@h.example:8080/p", "https://h.example:8080/p", NULL);
    /* a password containing '@': everything up to the last '@' is userinfo */
    check_url("https://u:p@ss@h.example/p", "https://h.example/p", NULL);
    struct url u;
    parse_ok("https://user:SECRET@h.example/p", &u);
    char *safe = url_safe(&u);
    assert_null(strstr(safe, "SECRET"));
    assert_null(strstr(safe, "user"));
    free(safe);
    url_free(&u);
}

static void test_url_parse_ipv6_host(void **state) {
    (void)state;
    struct url u;
    parse_ok("http://[::1]:8080/v1/chat/completions", &u);
    assert_string_equal(u.host, "[::1]");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/v1/chat/completions");
    assert_string_equal(u.base, "http://[::1]:8080/v1/chat/completions");
    url_free(&u);
    check_url("http://[::1]/x", "http://[::1]/x", NULL);
    check_url("https://[FE80::1]:443/x", "https://[fe80::1]/x", NULL);
    assert_int_equal(url_parse("http://[::1/x", &u), -1);
}

static void test_url_parse_no_scheme_is_http(void **state) {
    (void)state;
    struct url u;
    parse_ok("api.openai.com/v1/chat/completions", &u);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "api.openai.com");
    assert_string_equal(u.base, "http://api.openai.com/v1/chat/completions");
    url_free(&u);
    check_url("localhost:11434/api/chat", "http://localhost:11434/api/chat", NULL);
    /* a "://" later in the path does not make a scheme */
    check_url("h.example/p?u=https://x/y", "http://h.example/p", "u=https://x/y");
}

static void test_url_parse_empty_path_is_slash(void **state) {
    (void)state;
    check_url("https://h.example", "https://h.example/", NULL);
    check_url("https://h.example?a=1", "https://h.example/", "a=1");
}

static void test_url_parse_removes_credential_params(void **state) {
    (void)state;
    check_url("https://h/p?key=S1&a=1&api_key=S2&b=2&access_token=S3&c=3", "https://h/p", "a=1&b=2&c=3");
    check_url("https://h/p?z=9&KEY=S&y=8", "https://h/p", "z=9&y=8");
    check_url("https://h/p?api-key=S&apikey=S&x=1", "https://h/p", "x=1");
    /* a name that merely contains "key" is not a credential */
    check_url("https://h/p?monkey=1&key2=2&keys=3", "https://h/p", "monkey=1&key2=2&keys=3");
    /* a bare name counts too */
    check_url("https://h/p?key&a=1", "https://h/p", "a=1");
}

static void test_url_parse_query_of_only_secrets_is_null(void **state) {
    (void)state;
    check_url("https://h/p?key=SECRET", "https://h/p", NULL);
    check_url("https://h/p?key=A&api_key=B&access_token=C", "https://h/p", NULL);
    check_url("https://h/p?", "https://h/p", NULL);
}

static void test_url_parse_drops_fragment(void **state) {
    (void)state;
    check_url("https://h/p#frag", "https://h/p", NULL);
    check_url("https://h/p?a=1#frag", "https://h/p", "a=1");
    check_url("https://h/p#frag?a=1", "https://h/p", NULL);
}

static void test_url_parse_rejects_bad(void **state) {
    (void)state;
    static const char *const bad[] = {"", "https://", "https:///path", "http://h:99999/", "http://h:12x/",
                                      "http://h:-1/", "http://user@/p"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct url u;
        if (url_parse(bad[i], &u) != -1) fail_msg("url_parse accepted %s", bad[i]);
        assert_null(u.base);
    }
}

static void test_url_safe_has_no_credentials(void **state) {
    (void)state;
    struct url u;
    parse_ok("https://API.h.example:443/v1/x?key=SECRET&stream=1#f", &u);
    char *s = url_safe(&u);
    assert_string_equal(s, "https://api.h.example/v1/x?stream=1");
    free(s);
    url_free(&u);
    parse_ok("https://h/v1/x?api_key=SECRET", &u);
    s = url_safe(&u);
    assert_string_equal(s, "https://h/v1/x");
    free(s);
    url_free(&u);
}

/* ---- glob_prefix -------------------------------------------------------------------------- */

static void test_glob_prefix_is_a_prefix_match(void **state) {
    (void)state;
    assert_true(glob_prefix("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"));
    assert_true(glob_prefix("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions"));
    assert_true(glob_prefix("", "anything"));
    assert_true(glob_prefix("", ""));
    assert_false(glob_prefix("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v"));
    assert_false(glob_prefix("http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1/chat"));
    assert_false(glob_prefix("abc", "xabc"));
    assert_false(glob_prefix("a", ""));
}

static void test_glob_prefix_star_matches_any_run(void **state) {
    (void)state;
    assert_true(glob_prefix("https://*.corp.example/v1", "https://llm.corp.example/v1/chat"));
    assert_true(glob_prefix("https://*.corp.example/v1", "https://a.b.corp.example/v1"));
    assert_true(glob_prefix("https://llm.corp.example/*", "https://llm.corp.example/"));
    assert_true(glob_prefix("https://llm.corp.example/*", "https://llm.corp.example/x/y"));
    assert_true(glob_prefix("a*c", "abc"));
    assert_true(glob_prefix("a*c", "ac"));
    assert_true(glob_prefix("a*c", "abbbcd"));
    assert_true(glob_prefix("a*b*c", "axxbyyc"));
    assert_true(glob_prefix("*", ""));
    assert_true(glob_prefix("*", "x"));
    /* backtracking: the first 'c' is not the one that completes the match */
    assert_true(glob_prefix("a*cd", "acxcd"));
}

static void test_glob_prefix_no_match(void **state) {
    (void)state;
    assert_false(glob_prefix("https://*.corp.example/v1", "https://llm.corp.example/v2"));
    assert_false(glob_prefix("https://*.corp.example/v1", "http://llm.corp.example/v1"));
    assert_false(glob_prefix("https://llm.corp.example/*", "https://llm.corp.example.evil.test/"));
    assert_false(glob_prefix("a*c", "abd"));
    assert_false(glob_prefix("a*c", "a"));
    assert_false(glob_prefix("a*b*c", "axxbyy"));
    assert_false(glob_prefix("x*", "ab"));
}

/* ---- endpoint_match: built-ins ------------------------------------------------------------ */

static void test_endpoint_builtin_openai_calls_match(void **state) {
    (void)state;
    check_builtin("https://api.openai.com/v1/chat/completions", 1);
    check_builtin("https://api.openai.com/v1/completions", 1);
    check_builtin("https://api.openai.com/v1/embeddings", 1);
    check_builtin("https://api.openai.com/v1/responses", 1);
    /* equivalent spellings of the same URL */
    check_builtin("HTTPS://API.OPENAI.COM:443/v1/chat/completions", 1);
    check_builtin("https://api.openai.com/v1/chat/completions?key=x#f", 1);
}

static void test_endpoint_builtin_other_paths_do_not_match(void **state) {
    (void)state;
    check_builtin("https://api.openai.com/v1/models", 0);
    check_builtin("https://api.openai.com/v1/files", 0);
    check_builtin("https://api.openai.com/v1/chat/completions/abc", 0);
    check_builtin("https://api.openai.com/v1/xcompletions", 0);
    check_builtin("https://api.openai.com/v2/chat/completions", 0);
    check_builtin("https://example.com/v1/chat/completions", 0);
    check_builtin("https://api.openai.com.evil.test/v1/chat/completions", 0);
}

static void test_endpoint_builtin_requires_https_and_default_port(void **state) {
    (void)state;
    check_builtin("http://api.openai.com/v1/chat/completions", 0);
    check_builtin("api.openai.com/v1/chat/completions", 0); /* no scheme: http */
    check_builtin("https://api.openai.com:8443/v1/chat/completions", 0);
}

/* ---- endpoint_match: user rules ----------------------------------------------------------- */

static void test_endpoint_user_rules_match_as_custom(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {
        {"http://127.0.0.1:8000/v1", SHAPE_NONE},
        {"https://llm.corp.example/*", SHAPE_NONE},
    };
    struct endpoint_match m;
    assert_int_equal(match(rules, 2, "http://127.0.0.1:8000/v1/chat/completions", &m), 1);
    assert_string_equal(m.provider, "custom");
    assert_int_equal(m.shape, SHAPE_OPENAI);
    assert_int_equal(match(rules, 2, "https://llm.corp.example/any/path", &m), 1);
    assert_string_equal(m.provider, "custom");
    /* the rule applies to the normalized URL */
    assert_int_equal(match(rules, 2, "HTTPS://LLM.corp.example:443/x", &m), 1);
    assert_int_equal(match(rules, 2, "http://127.0.0.1:8000/v1?key=s", &m), 1);
    /* outside every rule */
    assert_int_equal(match(rules, 2, "http://127.0.0.1:8001/v1/chat/completions", &m), 0);
    assert_int_equal(match(rules, 2, "http://localhost:8000/v1/chat/completions", &m), 0);
    assert_int_equal(match(rules, 2, "http://llm.corp.example/x", &m), 0);
    /* the built-ins still apply when no rule matches */
    assert_int_equal(match(rules, 2, "https://api.openai.com/v1/embeddings", &m), 1);
    assert_string_equal(m.provider, "openai");
}

static void test_endpoint_user_rule_tried_before_builtin(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {{"https://api.openai.com/", SHAPE_NONE}};
    struct endpoint_match m;
    assert_int_equal(match(rules, 1, "https://api.openai.com/v1/chat/completions", &m), 1);
    assert_string_equal(m.provider, "custom");
    /* a user rule covers every path under it, not only the known call paths */
    assert_int_equal(match(rules, 1, "https://api.openai.com/v1/models", &m), 1);
}

static void test_endpoint_rule_shape_inferred_from_path(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {{"https://gw.example/", SHAPE_NONE}};
    static const struct { const char *url; enum shape shape; } cases[] = {
        {"https://gw.example/claude/v1/messages", SHAPE_ANTHROPIC},
        {"https://gw.example/v1beta/models/gemini-pro:generateContent", SHAPE_GEMINI},
        {"https://gw.example/v1beta/models/gemini-pro:streamGenerateContent", SHAPE_GEMINI},
        {"https://gw.example/v1beta/models/e:embedContent", SHAPE_GEMINI},
        {"https://gw.example/api/chat", SHAPE_OLLAMA},
        {"https://gw.example/api/generate", SHAPE_OLLAMA},
        {"https://gw.example/api/embed", SHAPE_OLLAMA},
        {"https://gw.example/v1/chat/completions", SHAPE_OPENAI},
        {"https://gw.example/anything/else", SHAPE_OPENAI},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct endpoint_match m;
        assert_int_equal(match(rules, 1, cases[i].url, &m), 1);
        if (m.shape != cases[i].shape)
            fail_msg("%s: shape %s, want %s", cases[i].url, shape_name(m.shape), shape_name(cases[i].shape));
    }
}

static void test_endpoint_rule_explicit_shape_wins(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {{"https://gw.example/", SHAPE_ANTHROPIC}};
    struct endpoint_match m;
    assert_int_equal(match(rules, 1, "https://gw.example/api/chat", &m), 1);
    assert_int_equal(m.shape, SHAPE_ANTHROPIC);
    rules[0].shape = SHAPE_OLLAMA;
    assert_int_equal(match(rules, 1, "https://gw.example/v1/messages", &m), 1);
    assert_int_equal(m.shape, SHAPE_OLLAMA);
}

static void test_endpoint_first_matching_rule_wins(void **state) {
    (void)state;
    struct endpoint_rule rules[] = {
        {"https://gw.example/a", SHAPE_GEMINI},
        {"https://gw.example/", SHAPE_OLLAMA},
    };
    struct endpoint_match m;
    assert_int_equal(match(rules, 2, "https://gw.example/a/x", &m), 1);
    assert_int_equal(m.shape, SHAPE_GEMINI);
    assert_int_equal(match(rules, 2, "https://gw.example/b/x", &m), 1);
    assert_int_equal(m.shape, SHAPE_OLLAMA);
}

/* ---- shape names -------------------------------------------------------------------------- */

static void test_shape_names_round_trip(void **state) {
    (void)state;
    for (int s = SHAPE_OPENAI; s <= SHAPE_OLLAMA; s++) {
        const char *n = shape_name((enum shape)s);
        assert_int_equal(shape_from_name(n, strlen(n)), s);
    }
    assert_string_equal(shape_name(SHAPE_ANTHROPIC), "anthropic");
    assert_int_equal(shape_from_name("Gemini", 6), SHAPE_GEMINI);
    assert_int_equal(shape_from_name("openaix", 6), SHAPE_OPENAI); /* only n bytes are read */
    assert_int_equal(shape_from_name("foo", 3), SHAPE_NONE);
    assert_int_equal(shape_from_name("none", 4), SHAPE_NONE);
    assert_int_equal(shape_from_name("open", 4), SHAPE_NONE);
    assert_string_equal(shape_name((enum shape)99), "none");
}

/* Without a scheme, a "://" inside the query is taken as the end of a scheme when no '/' comes
 * before it: "h.example?u=http://x/y" gets scheme "h.example?u=http" and host "x". */
static void test_url_parse_no_scheme_query_with_url(void **state) {
    (void)state;
    check_url("h.example?u=http://x/y", "http://h.example/", "u=http://x/y");
}

/* ---- endpoint_match: every built-in provider ---------------------------------------------- */

/* Each row of the built-in table matches its documented call paths, with its provider and shape. */
static void test_endpoint_builtin_every_provider_call_paths(void **state) {
    (void)state;
    static const struct { const char *url, *provider; enum shape shape; } cases[] = {
        {"https://api.openai.com/v1/chat/completions", "openai", SHAPE_OPENAI},
        {"https://api.openai.com/v1/responses", "openai", SHAPE_OPENAI},
        {"https://myres.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-02-01", "azure",
         SHAPE_OPENAI},
        {"https://my-res-2.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-02-01", "azure",
         SHAPE_OPENAI},
        {"https://myres.openai.azure.com/openai/deployments/gpt35/completions?api-version=2024-02-01", "azure",
         SHAPE_OPENAI},
        {"https://api.anthropic.com/v1/messages", "anthropic", SHAPE_ANTHROPIC},
        {"https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini", SHAPE_OPENAI},
        {"https://generativelanguage.googleapis.com/v1beta/openai/embeddings", "gemini", SHAPE_OPENAI},
        {"https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key=K", "gemini",
         SHAPE_GEMINI},
        {"https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse",
         "gemini", SHAPE_GEMINI},
        {"https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:embedContent", "gemini",
         SHAPE_GEMINI},
        {"https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents", "gemini",
         SHAPE_GEMINI},
        {"https://generativelanguage.googleapis.com/v1/models/gemini-pro:generateContent", "gemini", SHAPE_GEMINI},
        {"https://openrouter.ai/api/v1/chat/completions", "openrouter", SHAPE_OPENAI},
        {"https://openrouter.ai/api/v1/completions", "openrouter", SHAPE_OPENAI},
        {"https://api.mistral.ai/v1/chat/completions", "mistral", SHAPE_OPENAI},
        {"https://api.mistral.ai/v1/embeddings", "mistral", SHAPE_OPENAI},
        {"https://api.groq.com/openai/v1/chat/completions", "groq", SHAPE_OPENAI},
        {"https://api.deepseek.com/chat/completions", "deepseek", SHAPE_OPENAI},
        {"https://api.deepseek.com/v1/chat/completions", "deepseek", SHAPE_OPENAI},
        {"https://api.together.xyz/v1/chat/completions", "together", SHAPE_OPENAI},
        {"https://api.together.xyz/v1/completions", "together", SHAPE_OPENAI},
        {"https://api.x.ai/v1/chat/completions", "xai", SHAPE_OPENAI},
        {"https://api.x.ai/v1/responses", "xai", SHAPE_OPENAI},
        {"https://api.fireworks.ai/inference/v1/chat/completions", "fireworks", SHAPE_OPENAI},
        {"http://localhost:11434/api/chat", "ollama", SHAPE_OLLAMA},
        {"http://localhost:11434/api/generate", "ollama", SHAPE_OLLAMA},
        {"http://localhost:11434/api/embed", "ollama", SHAPE_OLLAMA},
        {"http://localhost:11434/api/embeddings", "ollama", SHAPE_OLLAMA},
        {"http://127.0.0.1:11434/api/chat", "ollama", SHAPE_OLLAMA},
        {"localhost:11434/api/generate", "ollama", SHAPE_OLLAMA}, /* no scheme: http, as libcurl guesses */
        {"http://localhost:11434/v1/chat/completions", "ollama", SHAPE_OPENAI},
        {"http://127.0.0.1:11434/v1/embeddings", "ollama", SHAPE_OPENAI},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct endpoint_match m;
        if (match(NULL, 0, cases[i].url, &m) != 1) fail_msg("%s is not recognized", cases[i].url);
        if (strcmp(m.provider, cases[i].provider) != 0 || m.shape != cases[i].shape)
            fail_msg("%s: %s/%s, want %s/%s", cases[i].url, m.provider, shape_name(m.shape), cases[i].provider,
                     shape_name(cases[i].shape));
    }
}

/* Other paths on the same hosts (models, files, batches, token counting) are left alone, as are
 * the call paths under another scheme, port or prefix. */
static void test_endpoint_builtin_every_provider_other_paths(void **state) {
    (void)state;
    static const char *const urls[] = {
        /* openai */
        "https://api.openai.com/v1/models", "https://api.openai.com/v1/files", "https://api.openai.com/v1/batches",
        "https://api.openai.com/v1/fine_tuning/jobs", "https://api.openai.com/v1/responses/resp_1/cancel",
        /* azure */
        "https://myres.openai.azure.com/openai/deployments?api-version=2024-02-01",
        "https://myres.openai.azure.com/openai/models?api-version=2024-02-01",
        "https://myres.openai.azure.com/openai/files?api-version=2024-02-01",
        "https://openai.azure.com/openai/deployments/gpt4/chat/completions",
        "https://a.b.openai.azure.com/openai/deployments/gpt4/chat/completions",
        "https://myres.openai.azure.com.evil.test/openai/deployments/gpt4/chat/completions",
        "https://myres.openai.azure.com/deployments/gpt4/chat/completions",
        /* anthropic */
        "https://api.anthropic.com/v1/models", "https://api.anthropic.com/v1/messages/count_tokens",
        "https://api.anthropic.com/v1/messages/batches", "https://api.anthropic.com/v1/files",
        "https://api.anthropic.com/v2/messages", "http://api.anthropic.com/v1/messages",
        /* gemini */
        "https://generativelanguage.googleapis.com/v1beta/models",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:countTokens",
        "https://generativelanguage.googleapis.com/v1beta/files",
        "https://generativelanguage.googleapis.com/upload/v1beta/files",
        "https://generativelanguage.googleapis.com/v1beta/cachedContents",
        "https://generativelanguage.googleapis.com/v1beta/openai/models",
        "http://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent",
        /* openai-compatible providers */
        "https://openrouter.ai/api/v1/models", "https://openrouter.ai/api/v1/credits",
        "https://openrouter.ai/v1/chat/completions", "http://openrouter.ai/api/v1/chat/completions",
        "https://api.mistral.ai/v1/models", "https://api.mistral.ai/v1/files", "https://api.mistral.ai/chat/completions",
        "https://api.groq.com/openai/v1/models", "https://api.groq.com/v1/chat/completions",
        "https://api.deepseek.com/models", "https://api.deepseek.com/user/balance",
        "http://api.deepseek.com/chat/completions",
        "https://api.together.xyz/v1/models", "https://api.together.xyz/v1/files",
        "https://api.together.xyz/chat/completions",
        "https://api.x.ai/v1/models", "https://api.x.ai/v1/api-key", "https://api.x.ai/chat/completions",
        "https://api.fireworks.ai/inference/v1/models", "https://api.fireworks.ai/v1/chat/completions",
        "http://api.fireworks.ai/inference/v1/chat/completions",
        /* ollama: its model management, other ports, https */
        "http://localhost:11434/api/tags", "http://localhost:11434/api/pull", "http://localhost:11434/api/show",
        "http://localhost:11434/api/create", "http://localhost:11434/api/delete", "http://localhost:11434/api/ps",
        "http://localhost:11434/api/version", "http://localhost:11434/v1/models",
        "http://localhost/api/chat", "http://localhost:80/api/chat", "http://localhost:11435/api/chat",
        "http://localhost:8080/api/chat", "http://127.0.0.1:8000/api/generate", "https://localhost:11434/api/chat",
        "http://0.0.0.0:11434/api/chat", "http://localhost:11434/chat",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct endpoint_match m;
        if (match(NULL, 0, urls[i], &m) != 0) fail_msg("%s taken as a %s call", urls[i], m.provider);
    }
}

/* The hosted APIs are https only, Ollama is http only. */
static void test_endpoint_builtin_scheme_mismatch(void **state) {
    (void)state;
    static const char *const hosted[] = {
        "api.openai.com/v1/chat/completions", "api.anthropic.com/v1/messages",
        "myres.openai.azure.com/openai/deployments/gpt4/chat/completions",
        "generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent",
        "openrouter.ai/api/v1/chat/completions", "api.mistral.ai/v1/chat/completions",
        "api.groq.com/openai/v1/chat/completions", "api.deepseek.com/chat/completions",
        "api.together.xyz/v1/chat/completions", "api.x.ai/v1/chat/completions",
        "api.fireworks.ai/inference/v1/chat/completions",
    };
    for (size_t i = 0; i < sizeof(hosted) / sizeof(hosted[0]); i++) {
        char url[256];
        struct endpoint_match m;
        snprintf(url, sizeof(url), "https://%s", hosted[i]);
        if (match(NULL, 0, url, &m) != 1) fail_msg("%s is not recognized", url);
        snprintf(url, sizeof(url), "http://%s", hosted[i]);
        if (match(NULL, 0, url, &m) != 0) fail_msg("%s (plain http) taken as a call", url);
        snprintf(url, sizeof(url), "https://%s", hosted[i]);
        char *slash = strchr(url + 8, '/');
        char with_port[300];
        snprintf(with_port, sizeof(with_port), "%.*s:8443%s", (int)(slash - url), url, slash);
        if (match(NULL, 0, with_port, &m) != 0) fail_msg("%s (other port) taken as a call", with_port);
    }
    struct endpoint_match m;
    assert_int_equal(match(NULL, 0, "http://localhost:11434/api/chat", &m), 1);
    assert_int_equal(match(NULL, 0, "https://localhost:11434/api/chat", &m), 0);
    assert_int_equal(match(NULL, 0, "https://127.0.0.1:11434/api/chat", &m), 0);
}

/* Spellings libcurl sends to the same place are one URL to llmshim too (a replay that did not
 * recognize them let the request go out). */
static void test_url_normalized_as_libcurl_sends_it(void **state) {
    (void)state;
    static const char *const same[][2] = {
        {"https://api.openai.com./v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/x/../v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/./v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
        {"https://%61pi.openai.com/v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
        {"https:/api.openai.com/v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
        {"https://api.anthropic.com/v1/./messages", "https://api.anthropic.com/v1/messages"},
        {"http://127.1:8000/v1/x", "http://127.0.0.1:8000/v1/x"},
        {"http://0x7f000001:8000/v1/x", "http://127.0.0.1:8000/v1/x"},
        {"http://%31%32%37.0.0.1:8000/v1/x", "http://127.0.0.1:8000/v1/x"},
        {"http://h/a/b/../../v1/./c/.", "http://h/v1/c/"},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        struct url u;
        assert_int_equal(url_parse(same[i][0], &u), 0);
        if (strcmp(u.base, same[i][1])) fail_msg("%s parsed as %s, want %s", same[i][0], u.base, same[i][1]);
        url_free(&u);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse_splits_parts),
        cmocka_unit_test(test_url_parse_lowercases_scheme_and_host_not_path),
        cmocka_unit_test(test_url_parse_drops_default_port),
        cmocka_unit_test(test_url_parse_drops_userinfo),
        cmocka_unit_test(test_url_parse_ipv6_host),
        cmocka_unit_test(test_url_parse_no_scheme_is_http),
        cmocka_unit_test(test_url_parse_empty_path_is_slash),
        cmocka_unit_test(test_url_parse_removes_credential_params),
        cmocka_unit_test(test_url_parse_query_of_only_secrets_is_null),
        cmocka_unit_test(test_url_parse_drops_fragment),
        cmocka_unit_test(test_url_parse_rejects_bad),
        cmocka_unit_test(test_url_safe_has_no_credentials),
        cmocka_unit_test(test_glob_prefix_is_a_prefix_match),
        cmocka_unit_test(test_glob_prefix_star_matches_any_run),
        cmocka_unit_test(test_glob_prefix_no_match),
        cmocka_unit_test(test_endpoint_builtin_openai_calls_match),
        cmocka_unit_test(test_endpoint_builtin_other_paths_do_not_match),
        cmocka_unit_test(test_endpoint_builtin_requires_https_and_default_port),
        cmocka_unit_test(test_endpoint_user_rules_match_as_custom),
        cmocka_unit_test(test_endpoint_user_rule_tried_before_builtin),
        cmocka_unit_test(test_endpoint_rule_shape_inferred_from_path),
        cmocka_unit_test(test_endpoint_rule_explicit_shape_wins),
        cmocka_unit_test(test_endpoint_first_matching_rule_wins),
        cmocka_unit_test(test_shape_names_round_trip),
        cmocka_unit_test(test_url_parse_no_scheme_query_with_url),
        cmocka_unit_test(test_endpoint_builtin_every_provider_call_paths),
        cmocka_unit_test(test_endpoint_builtin_every_provider_other_paths),
        cmocka_unit_test(test_endpoint_builtin_scheme_mismatch),
        cmocka_unit_test(test_url_normalized_as_libcurl_sends_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
