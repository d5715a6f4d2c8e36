/* Unit tests for the option table (src/hook_options.c) and the option mirror
 * (src/hook_handle.c): every option of the installed curl.h is classified, and the mirror reads
 * the request the way libcurl's setopt.c does. Links no libcurl: only its header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"

static char *read_curl_h(void) {
    static const char *const paths[] = {"/usr/include/x86_64-linux-gnu/curl/curl.h", "/usr/include/curl/curl.h",
                                        "/usr/include/aarch64-linux-gnu/curl/curl.h", NULL};
    for (const char *const *p = paths; *p; p++) {
        FILE *f = fopen(*p, "rb");
        if (!f) continue;
        static char text[1 << 20];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        return text;
    }
    return NULL;
}

static long type_base(const char *t) {
    if (!strcmp(t, "FUNCTIONPOINT")) return CURLOPTTYPE_FUNCTIONPOINT;
    if (!strcmp(t, "OFF_T")) return CURLOPTTYPE_OFF_T;
    if (!strcmp(t, "BLOB")) return CURLOPTTYPE_BLOB;
    if (!strcmp(t, "LONG") || !strcmp(t, "VALUES")) return CURLOPTTYPE_LONG;
    return CURLOPTTYPE_OBJECTPOINT; /* OBJECTPOINT, STRINGPOINT, SLISTPOINT, CBPOINT */
}

static void test_every_option_of_curl_h_is_classified(void **state) {
    (void)state;
    char *text = read_curl_h();
    assert_non_null(text);
    regex_t re;
    assert_int_equal(regcomp(&re, "CURLOPT(DEPRECATED)?\\(\\s*(CURLOPT_[A-Z0-9_]+)\\s*,\\s*CURLOPTTYPE_([A-Z_]+)\\s*,\\s*([0-9]+)",
                             REG_EXTENDED), 0);
    regmatch_t m[5];
    int seen = 0;
    for (const char *p = text; regexec(&re, p, 5, m, 0) == 0; p += m[0].rm_eo) {
        char name[64], type[32];
        snprintf(name, sizeof(name), "%.*s", (int)(m[2].rm_eo - m[2].rm_so), p + m[2].rm_so);
        snprintf(type, sizeof(type), "%.*s", (int)(m[3].rm_eo - m[3].rm_so), p + m[3].rm_so);
        long opt = type_base(type) + atol(p + m[4].rm_so);
        if (opt_class((CURLoption)opt) == OPT_UNKNOWN) fail_msg("%s (%ld) is not in src/hook_options.c", name, opt);
        seen++;
    }
    regfree(&re);
    assert_true(seen > 250); /* the header was read, not skipped */
}

static void test_classes_of_options_that_change_the_answer(void **state) {
    (void)state;
    assert_int_equal(opt_class(CURLOPT_FOLLOWLOCATION), OPT_KEY);
    assert_int_equal(opt_class(CURLOPT_POSTREDIR), OPT_KEY);
    assert_int_equal(opt_class(CURLOPT_PORT), OPT_KEY);
    assert_int_equal(opt_class(CURLOPT_CONNECT_TO), OPT_KEY);
    assert_int_equal(opt_class(CURLOPT_CONNECT_ONLY), OPT_PASS);
    assert_int_equal(opt_class(CURLOPT_REQUEST_TARGET), OPT_PASS);
    assert_int_equal(opt_class(CURLOPT_CUSTOMREQUEST), OPT_REQUEST);
    assert_int_equal(opt_class(CURLOPT_WRITEFUNCTION), OPT_DELIVERY);
    assert_int_equal(opt_class(CURLOPT_TIMEOUT_MS), OPT_NEUTRAL);
    assert_int_equal(opt_class((CURLoption)(CURLOPTTYPE_LONG + 9999)), OPT_UNKNOWN);
}

static struct hk_handle *fresh(void) {
    struct hk_handle *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    handle_reset(h);
    return h;
}

static void set_l(struct hk_handle *h, CURLoption opt, long l) {
    handle_note_option(h, opt, (struct hk_arg){.l = l});
}

static void set_p(struct hk_handle *h, CURLoption opt, const void *p) {
    handle_note_option(h, opt, (struct hk_arg){.ptr = (void *)p});
}

static void test_method_follows_libcurls_setopt(void **state) {
    (void)state;
    struct hk_handle *h = fresh();
    set_p(h, CURLOPT_POSTFIELDS, "{}");
    assert_int_equal(h->method, HK_POST);
    set_l(h, CURLOPT_NOBODY, 1); /* HEAD */
    assert_int_equal(h->method, HK_HEAD);
    set_l(h, CURLOPT_NOBODY, 0); /* libcurl: back to GET, not to POST */
    assert_int_equal(h->method, HK_GET);
    set_l(h, CURLOPT_POST, 1);
    assert_int_equal(h->method, HK_POST);
    set_l(h, CURLOPT_UPLOAD, 1);
    assert_int_equal(h->method, HK_PUT);
    set_l(h, CURLOPT_HTTPGET, 1);
    assert_int_equal(h->method, HK_GET);
    handle_reset(h);
    free(h);
}

static void test_key_options_are_canonical(void **state) {
    (void)state;
    struct hk_handle *a = fresh(), *b = fresh();
    CURLoption pass;
    char *t = handle_key_options(a, &pass);
    assert_null(t); /* defaults: no options text, the key is as before */
    set_l(a, CURLOPT_MAXREDIRS, 50); /* the curl tool sets it always: ignored while not following */
    set_l(a, CURLOPT_POSTREDIR, 3);
    assert_null(handle_key_options(a, &pass));
    set_l(a, CURLOPT_FOLLOWLOCATION, 1);
    set_l(a, CURLOPT_PORT, 8080);
    /* the same options in another order give the same text */
    set_l(b, CURLOPT_PORT, 8080);
    set_l(b, CURLOPT_FOLLOWLOCATION, 1);
    set_l(b, CURLOPT_POSTREDIR, 3);
    set_l(b, CURLOPT_MAXREDIRS, 50);
    char *ta = handle_key_options(a, &pass), *tb = handle_key_options(b, &pass);
    assert_non_null(ta);
    assert_string_equal(ta, tb);
    assert_int_equal(pass, 0);
    free(tb);
    set_l(b, CURLOPT_PORT, 0); /* back to the default: gone from the key */
    tb = handle_key_options(b, &pass);
    assert_string_not_equal(ta, tb);
    set_l(b, CURLOPT_CONNECT_ONLY, 1);
    free(handle_key_options(b, &pass));
    assert_int_equal(pass, CURLOPT_CONNECT_ONLY);
    free(ta);
    free(tb);
    handle_reset(a);
    handle_reset(b);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_option_of_curl_h_is_classified),
        cmocka_unit_test(test_classes_of_options_that_change_the_answer),
        cmocka_unit_test(test_method_follows_libcurls_setopt),
        cmocka_unit_test(test_key_options_are_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
