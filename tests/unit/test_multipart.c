/* Unit tests for multipart keys (src/multipart.h through call_analyze_request): a body the
 * program built is keyed by its parts, never by its boundary; the writer libcurl's APIs use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "multipart.h"

#define TRANSCRIBE "https://api.openai.com/v1/audio/transcriptions"

/* A transcription body: a file part and a model part, with this boundary. */
static char *body(const char *boundary, const char *filename, const char *audio, const char *preamble) {
    static char b[4096];
    snprintf(b, sizeof(b),
             "%s--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: audio/wav\r\n\r\n"
             "%s\r\n--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--%s--\r\n",
             preamble, boundary, filename, audio, boundary, boundary);
    return b;
}

static int analyze(struct call *c, const char *url, const char *b, const char *ctype, const char *const *ignore) {
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_ignore = (char **)ignore;
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
    const char *h[] = {hdr};
    struct call_request r = {.method = "POST", .url = url, .body = b, .body_len = strlen(b), .headers = h,
                             .nheaders = 1};
    return call_analyze_request(c, &cfg, &r);
}

static void key(const char *b, const char *ctype, char hex[65]) {
    struct call c;
    assert_int_equal(analyze(&c, TRANSCRIBE, b, ctype, NULL), 1);
    memcpy(hex, c.hex, 65);
    call_free(&c);
}

static void test_boundary_is_not_in_the_key(void **state) {
    (void)state;
    char a[65], b[65], c[65], d[65], e[65];
    key(body("AaB03x", "a.wav", "RIFF1234", ""), "multipart/form-data; boundary=AaB03x", a);
    key(body("----q8Rk2", "a.wav", "RIFF1234", ""), "multipart/form-data; boundary=\"----q8Rk2\"", b);
    assert_string_equal(a, b);
    /* another file under the same name, the same file under another name: other questions */
    key(body("AaB03x", "a.wav", "RIFF5678", ""), "multipart/form-data; boundary=AaB03x", c);
    key(body("AaB03x", "b.wav", "RIFF1234", ""), "multipart/form-data; boundary=AaB03x", d);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    /* a preamble was sent too */
    key(body("AaB03x", "a.wav", "RIFF1234", "junk"), "multipart/form-data; boundary=AaB03x", e);
    assert_string_not_equal(a, e);
    /* another parameter of the Content-Type stays in */
    key(body("AaB03x", "a.wav", "RIFF1234", ""), "multipart/form-data; boundary=AaB03x; charset=x", e);
    assert_string_not_equal(a, e);
}

static void test_the_entry_shows_the_parts(void **state) {
    (void)state;
    struct call c;
    assert_int_equal(analyze(&c, TRANSCRIBE, body("zz", "a.wav", "RIFF1234", ""), "multipart/form-data; boundary=zz", NULL), 1);
    assert_int_equal(c.body_json, 1);
    assert_string_equal(c.model, "whisper-1");
    assert_non_null(strstr(c.name, "openai/whisper-1/"));
    assert_string_equal(c.body.data,
                        "{\"multipart\":\"multipart/form-data\",\"parts\":[{\"filename\":\"a.wav\",\"name\":\"file\","
                        "\"sha256\":\"e0cc2713ee7676d8234748bd758dbab07147fa9b84039e8a3b074bb9ab8ed96a\",\"size\":8,"
                        "\"type\":\"audio/wav\"},{\"name\":\"model\",\"value\":\"whisper-1\"}]}");
    assert_non_null(strstr(c.body.data, "{\"filename\":\"a.wav\",\"name\":\"file\",\"sha256\":\""));
    assert_non_null(strstr(c.body.data, "\"size\":8,\"type\":\"audio/wav\"},{\"name\":\"model\",\"value\":\"whisper-1\"}]}"));
    assert_null(strstr(c.body.data, "RIFF"));
    assert_null(strstr(c.body.data, "zz"));
    call_free(&c);
}

static void test_not_multipart_or_malformed_is_raw(void **state) {
    (void)state;
    struct call c;
    const char *b = body("zz", "a.wav", "RIFF", "");
    /* a cut body, a wrong boundary, no boundary: the bytes themselves are keyed */
    char cut[256];
    snprintf(cut, sizeof(cut), "%.*s", (int)strlen(b) - 10, b);
    assert_int_equal(analyze(&c, TRANSCRIBE, cut, "multipart/form-data; boundary=zz", NULL), 1);
    assert_int_equal(c.body_json, 0);
    call_free(&c);
    assert_int_equal(analyze(&c, TRANSCRIBE, b, "multipart/form-data; boundary=yy", NULL), 1);
    assert_int_equal(c.body_json, 0);
    call_free(&c);
    assert_int_equal(analyze(&c, TRANSCRIBE, b, "multipart/form-data", NULL), 1);
    assert_int_equal(c.body_json, 0);
    call_free(&c);
    assert_int_equal(analyze(&c, TRANSCRIBE, b, "text/plain; boundary=zz", NULL), 1);
    assert_int_equal(c.body_json, 0);
    call_free(&c);
}

static void test_fields_left_out(void **state) {
    (void)state;
    const char *edits = "https://api.openai.com/v1/images/edits";
    const char *fmt = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhat\r\n"
                      "--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\n%s\r\n--b--\r\n";
    char b1[256], b2[256];
    snprintf(b1, sizeof(b1), fmt, "alice");
    snprintf(b2, sizeof(b2), fmt, "bob");
    struct call c1, c2;
    assert_int_equal(analyze(&c1, edits, b1, "multipart/form-data; boundary=b", NULL), 1);
    assert_int_equal(analyze(&c2, edits, b2, "multipart/form-data; boundary=b", NULL), 1);
    assert_string_equal(c1.hex, c2.hex); /* images never echo `user` */
    assert_null(strstr(c1.body.data, "alice"));
    call_free(&c1);
    call_free(&c2);
    /* LLMSHIM_KEY_IGNORE's one-segment pointers name form fields */
    const char *ign[] = {"/prompt", NULL};
    snprintf(b2, sizeof(b2), "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nother\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n--b--\r\n");
    assert_int_equal(analyze(&c1, edits, b1, "multipart/form-data; boundary=b", ign), 1);
    assert_int_equal(analyze(&c2, edits, b2, "multipart/form-data; boundary=b", ign), 1);
    assert_string_equal(c1.hex, c2.hex);
    call_free(&c1);
    call_free(&c2);
}

static void test_headers_beyond_the_plain_ones_stay(void **state) {
    (void)state;
    char a[65], b[65];
    key("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b", a);
    key("--b\r\ncontent-disposition: form-data; name=\"x\"\r\nX-Extra: 1\r\n\r\nv\r\n--b--\r\n",
        "multipart/form-data; boundary=b", b);
    assert_string_not_equal(a, b);
    key("--b\r\nContent-Disposition: form-data; name=\"x\"; foo=bar\r\n\r\nv\r\n--b--\r\n",
        "multipart/form-data; boundary=b", b);
    assert_string_not_equal(a, b);
    /* header names in any case are the same header */
    key("--b\r\nCONTENT-DISPOSITION: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b", b);
    assert_string_equal(a, b);
}

/* ---- the writer libcurl's APIs use -------------------------------------------------------- */

static int write_parts(void *ud, struct mp_writer *w) {
    const char *audio = ud;
    struct mp_fields f = {.name = {"file", 4}, .filename = {"a.wav", 5}, .source = {"file", 4}};
    unsigned char sha[32];
    memset(sha, 0xab, sizeof(sha));
    mp_part(w, &f, audio ? audio : NULL, audio ? strlen(audio) : 1000000, audio ? NULL : sha);
    struct mp_fields m = {.name = {"model", 5}, .source = {"data", 4}};
    mp_part(w, &m, "whisper-1", 9, NULL);
    struct mp_fields s = {.name = {"more", 4}};
    mp_open_sub(w, &s);
    struct mp_fields p = {.filename = {"b.txt", 5}, .type = {"text/plain", 10}, .source = {"data", 4}};
    mp_part(w, &p, "hello", 5, NULL);
    mp_close_sub(w);
    return 0;
}

static void test_writer_for_libcurl_parts(void **state) {
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct call_request r = {.method = "POST", .url = TRANSCRIBE, .multipart = write_parts, .multipart_ud = NULL};
    struct call c;
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    assert_string_equal(c.model, "whisper-1");
    assert_non_null(strstr(c.body.data, "\"sha256\":\"abababab"));
    assert_non_null(strstr(c.body.data, "\"size\":1000000"));
    assert_non_null(strstr(c.body.data, "\"name\":\"more\",\"parts\":[{\"filename\":\"b.txt\""));
    char one[65];
    memcpy(one, c.hex, 65);
    call_free(&c);
    /* the same parts from a hand-built body never share its key: libcurl's parts carry a source */
    r.multipart_ud = "RIFF";
    assert_int_equal(call_analyze_request(&c, &cfg, &r), 1);
    assert_string_not_equal(c.hex, one);
    call_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_is_not_in_the_key),
        cmocka_unit_test(test_the_entry_shows_the_parts),
        cmocka_unit_test(test_not_multipart_or_malformed_is_raw),
        cmocka_unit_test(test_fields_left_out),
        cmocka_unit_test(test_headers_beyond_the_plain_ones_stay),
        cmocka_unit_test(test_writer_for_libcurl_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
