/* Unit tests for the JSON helpers: string and number codecs, UTF-8 check, base64, token access
 * (src/json.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char *escape_n(const char *s, size_t n) {
    struct buf b;
    buf_init(&b);
    json_escape(&b, s, n);
    assert_false(b.oom);
    return buf_take(&b, NULL);
}

/* Unescapes the inside of a JSON string; returns the bytes (length in *len) or NULL on error. */
static char *unescape_n(const char *s, size_t n, size_t *len) {
    struct buf b;
    buf_init(&b);
    if (json_unescape(s, n, &b) != 0) {
        buf_free(&b);
        return NULL;
    }
    if (!b.data) buf_puts(&b, "");
    return buf_take(&b, len);
}

static char *unescape(const char *s, size_t *len) {
    return unescape_n(s, strlen(s), len);
}

static void assert_number(const char *in, const char *expected) {
    struct buf b;
    buf_init(&b);
    if (json_number_canon(in, strlen(in), &b) != 0) fail_msg("json_number_canon rejected %s", in);
    assert_string_equal(b.data, expected);
    buf_free(&b);
}

static void assert_number_rejected(const char *in) {
    struct buf b;
    buf_init(&b);
    if (json_number_canon(in, strlen(in), &b) != -1) fail_msg("json_number_canon accepted %s", in);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- json_escape / json_unescape ---------------------------------------------------------- */

static void test_json_escape_only_quote_backslash_and_controls(void **state) {
    (void)state;
    static const char in[] = "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f \xC3\xA9";
    char *s = escape_n(in, sizeof(in) - 1);
    assert_string_equal(s, "\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xC3\xA9\"");
    free(s);
    s = escape_n("", 0);
    assert_string_equal(s, "\"\"");
    free(s);
    s = escape_n("a\0b", 3);
    assert_string_equal(s, "\"a\\u0000b\"");
    free(s);
}

static void test_json_unescape_all_escapes(void **state) {
    (void)state;
    size_t n;
    char *s = unescape("\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC", &n);
    assert_non_null(s);
    const char want[] = "\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(s, want, n);
    free(s);
    s = unescape("\\u0000", &n);
    assert_non_null(s);
    assert_int_equal(n, 1);
    assert_int_equal(s[0], 0);
    free(s);
}

static void test_json_unescape_rejects_bad_input(void **state) {
    (void)state;
    size_t n;
    static const char *const bad[] = {"\\x", "\\", "a\\", "\\u", "\\u12", "\\u12g4", "\\U0041",
                                      "a\x01", "\n", "\xff", "\xc3", "\xed\xa0\x80", "\xc0\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *s = unescape(bad[i], &n);
        if (s) fail_msg("json_unescape accepted bad input #%zu", i);
    }
}

static void test_json_escape_unescape_round_trip(void **state) {
    (void)state;
    static const char *const texts[] = {
        "", "plain", "quote \" backslash \\ slash /", "line\nfeed\r\ttab\b\f", "\x01\x02\x1f",
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "{\"json\":[1,2]}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *t = texts[i];
        char *q = escape_n(t, strlen(t));
        size_t qn = strlen(q);
        assert_true(qn >= 2);
        assert_int_equal(q[0], '"');
        assert_int_equal(q[qn - 1], '"');
        size_t n;
        char *back = unescape_n(q + 1, qn - 2, &n);
        assert_non_null(back);
        assert_int_equal(n, strlen(t));
        assert_memory_equal(back, t, n);
        free(back);
        free(q);
    }
}

static void test_json_surrogate_pair_decodes_to_utf8(void **state) {
    (void)state;
    size_t n;
    char *s = unescape("\\ud83d\\ude00", &n);
    assert_non_null(s);
    assert_int_equal(n, 4);
    assert_memory_equal(s, "\xF0\x9F\x98\x80", 4);
    free(s);
    /* and comes back as raw UTF-8, not as escapes */
    char *q = escape_n("\xF0\x9F\x98\x80", 4);
    assert_string_equal(q, "\"\xF0\x9F\x98\x80\"");
    free(q);
}

static void test_json_lone_surrogate_round_trip(void **state) {
    (void)state;
    static const struct { const char *in, *wtf8, *out; } cases[] = {
        {"\\ud800", "\xED\xA0\x80", "\"\\ud800\""},
        {"\\uDFFF", "\xED\xBF\xBF", "\"\\udfff\""},
        {"\\ud800A", "\xED\xA0\x80" "A", "\"\\ud800A\""},                 /* high, then not a low */
        {"\\ud800\\u0041", "\xED\xA0\x80" "A", "\"\\ud800A\""},
        {"\\udc00\\ud800", "\xED\xB0\x80\xED\xA0\x80", "\"\\udc00\\ud800\""}, /* wrong order */
        {"x\\ud83dy", "x\xED\xA0\xBDy", "\"x\\ud83dy\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        char *s = unescape(cases[i].in, &n);
        assert_non_null(s);
        assert_int_equal(n, strlen(cases[i].wtf8));
        assert_memory_equal(s, cases[i].wtf8, n);
        char *q = escape_n(s, n);
        assert_string_equal(q, cases[i].out);
        free(q);
        free(s);
    }
}

static void test_json_escape_keeps_valid_ed_sequences(void **state) {
    (void)state;
    /* U+D7FF is ED 9F BF: valid UTF-8 just below the surrogates, written raw */
    char *q = escape_n("\xED\x9F\xBF", 3);
    assert_string_equal(q, "\"\xED\x9F\xBF\"");
    free(q);
}

/* ---- json_number_canon -------------------------------------------------------------------- */

static void test_json_number_canon_values(void **state) {
    (void)state;
    assert_number("0", "0");
    assert_number("-0", "0");
    assert_number("42", "42");
    assert_number("-42", "-42");
    assert_number("1.0", "1");
    assert_number("1.000", "1");
    assert_number("-1.0", "-1");
    assert_number("1e2", "100");
    assert_number("1E+2", "100");
    assert_number("1e0", "1");
    assert_number("100e-2", "1");
    assert_number("-0.0", "0");
    assert_number("0e10", "0");
    assert_number("0.5", "0.5");
    assert_number("1.50", "1.5");
    assert_number("2.5e-3", "0.0025");
    assert_number("123.456", "123.456");
    assert_number("0.30000000000000004", "0.30000000000000004");
    assert_number("12345678901234567890", "12345678901234567890");
    assert_number("-12345678901234567890", "-12345678901234567890");
    assert_number("1e400", "1e400");
    assert_number("-1E400", "-1e400");
    assert_number("1e-7", "0.0000001");
    assert_number("1e999999999999999999", "1e999999999999999999"); /* too long to compute: as written */
}

/* Values a double cannot tell apart are different numbers, and so different keys. */
static void test_json_number_canon_is_exact(void **state) {
    (void)state;
    static const char *const pairs[][2] = {
        {"12345678901234567890.0", "12345678901234567891.0"},
        {"9007199254740993.0", "9007199254740992"},
        {"0.1", "0.1000000000000000055511151231257827"},
        {"1e-400", "0"},
        {"1.0000000000000000000000001", "1"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct buf a, b;
        buf_init(&a);
        buf_init(&b);
        assert_int_equal(json_number_canon(pairs[i][0], strlen(pairs[i][0]), &a), 0);
        assert_int_equal(json_number_canon(pairs[i][1], strlen(pairs[i][1]), &b), 0);
        if (!strcmp(a.data, b.data)) fail_msg("%s and %s share the form %s", pairs[i][0], pairs[i][1], a.data);
        buf_free(&a);
        buf_free(&b);
    }
    assert_number("12345678901234567890.0", "12345678901234567890");
    assert_number("9007199254740993.0", "9007199254740993");
}

/* A value: sign, significant digits (first and last not 0), exponent: value = digits x 10^exp. */
struct num {
    int neg;
    char digits[24];
    int exp;
};

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static struct num random_num(void) {
    struct num v;
    v.neg = (int)rnd(2);
    int len = 1 + (int)rnd(20);
    for (int i = 0; i < len; i++) v.digits[i] = (char)('0' + rnd(10));
    v.digits[0] = (char)('1' + rnd(9));
    v.digits[len - 1] = (char)('1' + rnd(9));
    v.digits[len] = '\0';
    v.exp = (int)rnd(90) - 45;
    return v;
}

/* One random JSON spelling of v: the point anywhere in the digits, zeros after them, the
 * exponent as e, E or e+ with leading zeros, or none when it is 0. */
static void spell(const struct num *v, char *out, size_t size) {
    int len = (int)strlen(v->digits), p = (int)rnd((unsigned)len + 1), tz = (int)rnd(3);
    int x = v->exp + (len - p);
    char mant[64];
    if (p == 0) snprintf(mant, sizeof(mant), "0.%s%.*s", v->digits, tz, "000");
    else if (p == len && !tz) snprintf(mant, sizeof(mant), "%s", v->digits);
    else snprintf(mant, sizeof(mant), "%.*s.%s%.*s", p, v->digits, v->digits + p, tz, "000");
    const char *sign = x < 0 ? "-" : rnd(2) ? "+" : "";
    if (x == 0 && rnd(2)) snprintf(out, size, "%s%s", v->neg ? "-" : "", mant);
    else snprintf(out, size, "%s%s%c%s%.*s%d", v->neg ? "-" : "", mant, rnd(2) ? 'e' : 'E', sign, (int)rnd(3), "00",
                  x < 0 ? -x : x);
}

static char *canon_of(const char *s) {
    struct buf b;
    buf_init(&b);
    if (json_number_canon(s, strlen(s), &b) != 0) fail_msg("%s was refused", s);
    return buf_take(&b, NULL);
}

/* Property: every spelling of one value has one form; two different values, two forms. */
static void test_json_number_canon_property(void **state) {
    (void)state;
    for (int i = 0; i < 3000; i++) {
        struct num a = random_num(), b = a;
        char s1[96], s2[96];
        spell(&a, s1, sizeof(s1));
        spell(&a, s2, sizeof(s2));
        char *c1 = canon_of(s1), *c2 = canon_of(s2);
        if (strcmp(c1, c2)) fail_msg("%s and %s are one value but canonicalize to %s and %s", s1, s2, c1, c2);
        /* a near neighbour: one digit, the exponent or the sign changed */
        switch (rnd(3)) {
        case 0: {
            size_t k = rnd((unsigned)strlen(b.digits));
            b.digits[k] = b.digits[k] == '9' ? '1' : (char)(b.digits[k] + 1);
            break;
        }
        case 1: b.exp += 1; break;
        default: b.neg = !b.neg; break;
        }
        spell(&b, s2, sizeof(s2));
        char *c3 = canon_of(s2);
        if (!strcmp(c1, c3)) fail_msg("%s and %s are different values but both canonicalize to %s", s1, s2, c1);
        free(c1);
        free(c2);
        free(c3);
    }
}

static void test_json_number_canon_appends(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "n=");
    assert_int_equal(json_number_canon("1.50", 4, &b), 0);
    assert_string_equal(b.data, "n=1.5");
    /* only the first n bytes are read */
    assert_int_equal(json_number_canon("7.25xyz", 4, &b), 0);
    assert_string_equal(b.data, "n=1.57.25");
    buf_free(&b);
}

static void test_json_number_canon_rejects_non_numbers(void **state) {
    (void)state;
    static const char *const bad[] = {"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1e-",
                                      "0x10", "NaN", "Infinity", "-Infinity", "1 ", " 1", "1,5",
                                      "--1", "1.2.3", "true"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) assert_number_rejected(bad[i]);
}

/* ---- json_utf8_valid ---------------------------------------------------------------------- */

#define UTF8_OK(lit) assert_int_equal(json_utf8_valid(lit, sizeof(lit) - 1), 1)
#define UTF8_BAD(lit) assert_int_equal(json_utf8_valid(lit, sizeof(lit) - 1), 0)

static void test_json_utf8_valid_accepts_utf8(void **state) {
    (void)state;
    UTF8_OK("");
    UTF8_OK("plain ASCII \x7f");
    UTF8_OK("\xC3\xA9");          /* é */
    UTF8_OK("\xE2\x82\xAC");      /* € */
    UTF8_OK("\xED\x9F\xBF");      /* U+D7FF, last before the surrogates */
    UTF8_OK("\xEE\x80\x80");      /* U+E000, first after them */
    UTF8_OK("\xEF\xBF\xBF");      /* U+FFFF */
    UTF8_OK("\xF0\x9F\x98\x80");  /* 😀, 4 bytes */
    UTF8_OK("\xF4\x8F\xBF\xBF");  /* U+10FFFF */
}

static void test_json_utf8_valid_rejects_overlong(void **state) {
    (void)state;
    UTF8_BAD("\xC0\xAF");
    UTF8_BAD("\xC1\xBF");
    UTF8_BAD("\xE0\x80\xAF");
    UTF8_BAD("\xE0\x9F\xBF");
    UTF8_BAD("\xF0\x80\x80\xAF");
    UTF8_BAD("\xF0\x8F\xBF\xBF");
    UTF8_BAD("\xC0\x80"); /* "modified UTF-8" NUL */
}

static void test_json_utf8_valid_rejects_surrogates(void **state) {
    (void)state;
    UTF8_BAD("\xED\xA0\x80"); /* U+D800 */
    UTF8_BAD("\xED\xBF\xBF"); /* U+DFFF */
    UTF8_BAD("\xED\xA0\xBD\xED\xB8\x80"); /* a pair encoded as two 3-byte sequences (CESU-8) */
}

static void test_json_utf8_valid_rejects_nul_and_broken(void **state) {
    (void)state;
    UTF8_BAD("a\0b");
    UTF8_BAD("\0");
    UTF8_BAD("\x80");             /* lone continuation */
    UTF8_BAD("\xC3");             /* truncated */
    UTF8_BAD("\xE2\x82");
    UTF8_BAD("\xF0\x9F\x98");
    UTF8_BAD("\xC3\x41");         /* continuation missing */
    UTF8_BAD("\xF4\x90\x80\x80"); /* beyond U+10FFFF */
    UTF8_BAD("\xF8\x88\x80\x80\x80");
    UTF8_BAD("\xFE");
    UTF8_BAD("\xFF");
    /* the length is respected: a valid prefix of an invalid buffer is valid */
    assert_int_equal(json_utf8_valid("ab\xFF", 2), 1);
}

/* ---- base64 ------------------------------------------------------------------------------- */

static void test_json_base64_known_vectors(void **state) {
    (void)state;
    /* RFC 4648 section 10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b;
        buf_init(&b);
        base64_encode(&b, (const unsigned char *)plain[i], strlen(plain[i]));
        assert_int_equal(b.len, strlen(enc[i]));
        if (b.len) assert_string_equal(b.data, enc[i]);
        buf_clear(&b);
        assert_int_equal(base64_decode(&b, enc[i], strlen(enc[i])), 0);
        assert_int_equal(b.len, strlen(plain[i]));
        if (b.len) assert_memory_equal(b.data, plain[i], b.len);
        buf_free(&b);
    }
}

static void test_json_base64_round_trip_lengths_0_to_7(void **state) {
    (void)state;
    const unsigned char src[7] = {0x00, 0xff, 0x10, 0x80, 0x7f, 0xfe, 0x01};
    for (size_t n = 0; n <= 7; n++) {
        struct buf e, d;
        buf_init(&e);
        buf_init(&d);
        base64_encode(&e, src, n);
        assert_int_equal(e.len, (n + 2) / 3 * 4);
        assert_int_equal(base64_decode(&d, e.data ? e.data : "", e.len), 0);
        assert_int_equal(d.len, n);
        if (n) assert_memory_equal(d.data, src, n);
        buf_free(&e);
        buf_free(&d);
    }
}

static void test_json_base64_round_trip_all_byte_values(void **state) {
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    /* every offset so each byte value sits in every position of a 3-byte group */
    for (size_t off = 0; off < 3; off++) {
        struct buf e, d;
        buf_init(&e);
        buf_init(&d);
        base64_encode(&e, all + off, 256 - off);
        assert_int_equal(e.len, (256 - off + 2) / 3 * 4);
        for (size_t i = 0; i < e.len; i++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", e.data[i]));
        assert_int_equal(base64_decode(&d, e.data, e.len), 0);
        assert_int_equal(d.len, 256 - off);
        assert_memory_equal(d.data, all + off, d.len);
        buf_free(&e);
        buf_free(&d);
    }
}

static void test_json_base64_encode_appends(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "x:");
    base64_encode(&b, (const unsigned char *)"hi", 2);
    assert_string_equal(b.data, "x:aGk=");
    buf_free(&b);
}

static void test_json_base64_decode_rejects_bad_input(void **state) {
    (void)state;
    static const char *const bad[] = {
        "Z", "Zg", "Zg=", "Zm9vY", "Zm9v\n", /* length not a multiple of 4 */
        "Zg!=", "Z m9", "Zm9-", "Zm9_", "Zm9\x80", /* characters outside the alphabet */
        "====", "Z===", "=Zg=", "Z=g=", /* padding in the wrong place */
        "Zg==Zg==", "Zm8=Zm9v",         /* padding before the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b;
        buf_init(&b);
        if (base64_decode(&b, bad[i], strlen(bad[i])) != -1) fail_msg("base64_decode accepted \"%s\"", bad[i]);
        buf_free(&b);
    }
    /* a NUL inside the input is not a character of the alphabet */
    struct buf b;
    buf_init(&b);
    assert_int_equal(base64_decode(&b, "Zm\0v", 4), -1);
    buf_free(&b);
}

/* ---- parsed documents --------------------------------------------------------------------- */

static const char doc_text[] =
    "{\"model\":\"gpt\",\"n\":3,\"neg\":-42,\"f\":1.5,\"a\\/b\":true,"
    "\"arr\":[10,{\"x\":\"y\"},30],\"obj\":{\"k\":\"v\",\"n\":7},\"esc\":\"caf\\u00e9\",\"s\":\"12\"}";

static void test_json_get_finds_members(void **state) {
    (void)state;
    struct json_doc d;
    assert_int_equal(json_parse(&d, doc_text, strlen(doc_text)), 0);
    int m = json_get(&d, 0, "model");
    assert_true(m > 0);
    assert_true(json_tok_eq(&d, m, "gpt"));
    assert_false(json_tok_eq(&d, m, "gp"));
    assert_false(json_tok_eq(&d, m, "gpt4"));
    /* keys written with escapes are found by their decoded name */
    int ab = json_get(&d, 0, "a/b");
    assert_true(ab > 0);
    assert_int_equal(d.tok[ab].type, JSMN_PRIMITIVE);
    assert_int_equal(json_get(&d, 0, "a\\/b"), -1);
    /* nested object: its own members, not the parent's */
    int obj = json_get(&d, 0, "obj");
    assert_true(obj > 0);
    assert_true(json_tok_eq(&d, json_get(&d, obj, "k"), "v"));
    assert_int_equal(json_get(&d, obj, "model"), -1);
    long long v = 0;
    assert_int_equal(json_tok_ll(&d, json_get(&d, obj, "n"), &v), 0);
    assert_int_equal(v, 7);
    /* keys only: a string value equal to the name is not a match */
    assert_int_equal(json_get(&d, 0, "gpt"), -1);
    assert_int_equal(json_get(&d, 0, "missing"), -1);
    /* not an object, or out of range */
    int arr = json_get(&d, 0, "arr");
    assert_int_equal(json_get(&d, arr, "x"), -1);
    assert_int_equal(json_get(&d, -1, "model"), -1);
    assert_int_equal(json_get(&d, d.ntok, "model"), -1);
    json_doc_free(&d);
}

static void test_json_child_indexes_arrays_and_objects(void **state) {
    (void)state;
    struct json_doc d;
    assert_int_equal(json_parse(&d, doc_text, strlen(doc_text)), 0);
    int arr = json_get(&d, 0, "arr");
    assert_int_equal(d.tok[arr].type, JSMN_ARRAY);
    long long v = 0;
    assert_int_equal(json_tok_ll(&d, json_child(&d, arr, 0), &v), 0);
    assert_int_equal(v, 10);
    int second = json_child(&d, arr, 1);
    assert_int_equal(d.tok[second].type, JSMN_OBJECT);
    assert_true(json_tok_eq(&d, json_get(&d, second, "x"), "y"));
    /* the third element is found after skipping the whole object */
    assert_int_equal(json_tok_ll(&d, json_child(&d, arr, 2), &v), 0);
    assert_int_equal(v, 30);
    assert_int_equal(json_child(&d, arr, 3), -1);
    assert_int_equal(json_child(&d, arr, -1), -1);
    /* objects: the n-th key */
    assert_true(json_tok_eq(&d, json_child(&d, 0, 0), "model"));
    assert_true(json_tok_eq(&d, json_child(&d, 0, 5), "arr"));
    assert_true(json_tok_eq(&d, json_child(&d, 0, 6), "obj"));
    /* primitives have no children */
    assert_int_equal(json_child(&d, json_get(&d, 0, "n"), 0), -1);
    /* json_skip: past the array's subtree lands on the next key */
    assert_true(json_tok_eq(&d, json_skip(&d, arr), "obj"));
    json_doc_free(&d);
}

static void test_json_tok_ll_integers_only(void **state) {
    (void)state;
    struct json_doc d;
    assert_int_equal(json_parse(&d, doc_text, strlen(doc_text)), 0);
    long long v = 99;
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "n"), &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "neg"), &v), 0);
    assert_int_equal(v, -42);
    v = 99;
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "f"), &v), -1);     /* 1.5 */
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "a/b"), &v), -1);   /* true */
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "s"), &v), -1);     /* "12" is a string */
    assert_int_equal(json_tok_ll(&d, json_get(&d, 0, "missing"), &v), -1);
    assert_int_equal(v, 99); /* untouched on failure */
    json_doc_free(&d);
}

static void test_json_tok_str_and_eq_decode_escapes(void **state) {
    (void)state;
    struct json_doc d;
    assert_int_equal(json_parse(&d, doc_text, strlen(doc_text)), 0);
    int esc = json_get(&d, 0, "esc");
    assert_true(json_tok_eq(&d, esc, "caf\xC3\xA9"));
    assert_false(json_tok_eq(&d, esc, "caf\\u00e9"));
    assert_false(json_tok_eq(&d, esc, "caf"));
    struct buf b;
    buf_init(&b);
    assert_int_equal(json_tok_str(&d, esc, &b), 0);
    assert_string_equal(b.data, "caf\xC3\xA9");
    assert_int_equal(json_tok_str(&d, json_get(&d, 0, "n"), &b), -1); /* not a string */
    buf_free(&b);
    /* json_tok_eq is false for non-strings and bad indexes */
    assert_false(json_tok_eq(&d, json_get(&d, 0, "n"), "3"));
    assert_false(json_tok_eq(&d, -1, "x"));
    assert_false(json_tok_eq(&d, d.ntok, "x"));
    json_doc_free(&d);
}

static void test_json_parse_rejects_non_json(void **state) {
    (void)state;
    static const char *const bad[] = {"", "{", "[1 2]", "{\"a\":1,}", "{} {}", "{\"a\":\"\\q\"}", "[\"\xff\"]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_doc d;
        if (json_parse(&d, bad[i], strlen(bad[i])) != -1) fail_msg("json_parse accepted %s", bad[i]);
        assert_null(d.tok);
    }
}

/* buf.h promises data is NUL-terminated whenever it is non-NULL. base64_encode of 0 bytes calls
 * buf_reserve(out, 0) on an empty buf, which allocates without writing the terminator. */
static void test_json_base64_encode_empty_is_empty_string(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    base64_encode(&b, (const unsigned char *)"", 0);
    assert_int_equal(b.len, 0);
    if (b.data) assert_string_equal(b.data, "");
    buf_free(&b);
}

/* RFC 8259: any value may be the whole text. "1 " parses; "1" does not (jsmn strict mode wants a
 * delimiter after a primitive and json_parse passes the exact length). */
static void test_json_parse_top_level_primitive(void **state) {
    (void)state;
    static const char *const ok[] = {"1", "-0.5", "true", "false", "null", "12345678901234567890"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct json_doc d;
        if (json_parse(&d, ok[i], strlen(ok[i])) != 0) fail_msg("json_parse rejected %s", ok[i]);
        assert_int_equal(d.ntok, 1);
        json_doc_free(&d);
    }
}

/* json_parse sizes its token array by a guess and grows it while jsmn resumes: documents far
 * past the guess parse whole, with every token where it belongs. */
static void test_json_parse_grows_past_its_first_guess(void **state) {
    (void)state;
    struct buf t;
    buf_init(&t);
    buf_puts(&t, "{\"a\":[");
    for (int i = 0; i < 5000; i++) buf_printf(&t, "%s%d", i ? "," : "", i);
    buf_puts(&t, "],\"o\":{");
    for (int i = 0; i < 3000; i++) buf_printf(&t, "%s\"k%d\":\"v%d\"", i ? "," : "", i, i);
    buf_puts(&t, "},\"z\":true}");
    struct json_doc d;
    assert_int_equal(json_parse(&d, t.data, t.len), 0);
    assert_int_equal(d.ntok, 1 + 2 + 5000 + 2 + 6000 + 2);
    long long v;
    assert_int_equal(json_tok_ll(&d, json_child(&d, json_get(&d, 0, "a"), 4999), &v), 0);
    assert_int_equal(v, 4999);
    int o = json_get(&d, 0, "o");
    assert_true(json_tok_eq(&d, json_get(&d, o, "k2999"), "v2999"));
    assert_true(json_tok_eq(&d, json_get(&d, 0, "z") - 1, "z"));
    json_doc_free(&d);
    /* the same document broken at its very end is still refused */
    t.data[t.len - 1] = ']';
    assert_int_not_equal(json_parse(&d, t.data, t.len), 0);
    buf_free(&t);
}

/* Strings are checked eight bytes at a time where they are plain ASCII: a bad byte, an escape
 * or a multi-byte character at any position (and any length) is found all the same. */
static void test_json_strings_checked_at_every_position(void **state) {
    (void)state;
    static const char *const bad[] = {"\x01", "\x1f", "\x80", "\xff", "\xc3", "\xed\xa0\x80", "\\x"};
    static const char *const good[] = {"\\n", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\x7f", "\\\\"};
    static const char *const good_decoded[] = {"\n", "\xc3\xa9", "\xc3\xa9", "\xe2\x82\xac", "\x7f", "\\"};
    char text[64], want[64];
    for (size_t len = 0; len <= 24; len++) {
        for (size_t at = 0; at <= len; at++) {
            for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                int n = snprintf(text, sizeof(text), "\"%.*s%s%.*s\"", (int)at, "aaaaaaaaaaaaaaaaaaaaaaaaa", bad[k],
                                 (int)(len - at), "bbbbbbbbbbbbbbbbbbbbbbbbb");
                struct json_doc d;
                if (json_parse(&d, text, (size_t)n) == 0) fail_msg("accepted bad byte %zu at %zu of %zu", k, at, len);
                if (k >= 2 && k <= 5 && json_utf8_valid(text + 1, (size_t)n - 2))
                    fail_msg("json_utf8_valid accepted bad byte %zu at %zu of %zu", k, at, len);
            }
            for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
                int n = snprintf(text, sizeof(text), "\"%.*s%s%.*s\"", (int)at, "aaaaaaaaaaaaaaaaaaaaaaaaa", good[k],
                                 (int)(len - at), "bbbbbbbbbbbbbbbbbbbbbbbbb");
                snprintf(want, sizeof(want), "%.*s%s%.*s", (int)at, "aaaaaaaaaaaaaaaaaaaaaaaaa", good_decoded[k],
                         (int)(len - at), "bbbbbbbbbbbbbbbbbbbbbbbbb");
                struct json_doc d;
                if (json_parse(&d, text, (size_t)n) != 0) fail_msg("refused good %zu at %zu of %zu", k, at, len);
                struct buf b;
                buf_init(&b);
                assert_int_equal(json_tok_str(&d, 0, &b), 0);
                assert_string_equal(b.data, want);
                buf_free(&b);
                json_doc_free(&d);
                /* the checked decoder agrees */
                size_t got_len;
                char *u = unescape_n(text + 1, (size_t)n - 2, &got_len);
                assert_non_null(u);
                assert_string_equal(u, want);
                free(u);
            }
        }
    }
    /* NUL anywhere makes text invalid for json_utf8_valid */
    char z[20];
    for (size_t at = 0; at < sizeof(z); at++) {
        memset(z, 'a', sizeof(z));
        z[at] = '\0';
        assert_false(json_utf8_valid(z, sizeof(z)));
    }
}

/* json_escape copies runs: a quote, backslash or control character at any position is escaped. */
static void test_json_escape_at_every_position(void **state) {
    (void)state;
    char in[24], want[64];
    for (size_t at = 0; at < sizeof(in); at++) {
        memset(in, 'a', sizeof(in));
        in[at] = '"';
        char *got = escape_n(in, sizeof(in));
        snprintf(want, sizeof(want), "\"%.*s\\\"%.*s\"", (int)at, "aaaaaaaaaaaaaaaaaaaaaaaa", (int)(sizeof(in) - at - 1),
                 "aaaaaaaaaaaaaaaaaaaaaaaa");
        assert_string_equal(got, want);
        free(got);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape_only_quote_backslash_and_controls),
        cmocka_unit_test(test_json_unescape_all_escapes),
        cmocka_unit_test(test_json_unescape_rejects_bad_input),
        cmocka_unit_test(test_json_escape_unescape_round_trip),
        cmocka_unit_test(test_json_surrogate_pair_decodes_to_utf8),
        cmocka_unit_test(test_json_lone_surrogate_round_trip),
        cmocka_unit_test(test_json_escape_keeps_valid_ed_sequences),
        cmocka_unit_test(test_json_number_canon_values),
        cmocka_unit_test(test_json_number_canon_is_exact),
        cmocka_unit_test(test_json_number_canon_property),
        cmocka_unit_test(test_json_number_canon_appends),
        cmocka_unit_test(test_json_number_canon_rejects_non_numbers),
        cmocka_unit_test(test_json_utf8_valid_accepts_utf8),
        cmocka_unit_test(test_json_utf8_valid_rejects_overlong),
        cmocka_unit_test(test_json_utf8_valid_rejects_surrogates),
        cmocka_unit_test(test_json_utf8_valid_rejects_nul_and_broken),
        cmocka_unit_test(test_json_base64_known_vectors),
        cmocka_unit_test(test_json_base64_round_trip_lengths_0_to_7),
        cmocka_unit_test(test_json_base64_round_trip_all_byte_values),
        cmocka_unit_test(test_json_base64_encode_appends),
        cmocka_unit_test(test_json_base64_decode_rejects_bad_input),
        cmocka_unit_test(test_json_get_finds_members),
        cmocka_unit_test(test_json_child_indexes_arrays_and_objects),
        cmocka_unit_test(test_json_tok_ll_integers_only),
        cmocka_unit_test(test_json_tok_str_and_eq_decode_escapes),
        cmocka_unit_test(test_json_parse_rejects_non_json),
        cmocka_unit_test(test_json_base64_encode_empty_is_empty_string),
        cmocka_unit_test(test_json_parse_top_level_primitive),
        cmocka_unit_test(test_json_parse_grows_past_its_first_guess),
        cmocka_unit_test(test_json_strings_checked_at_every_position),
        cmocka_unit_test(test_json_escape_at_every_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
