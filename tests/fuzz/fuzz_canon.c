/* fuzz_canon: canon_json on any bytes. The first line of the input (up to 200 bytes) sets the
 * options: its first byte the CANON_NORM_* bits, the rest comma-separated JSON pointers to
 * ignore; the rest of the input is the body. Checks, besides the sanitizers:
 * - a failed canonicalization leaves the output buffer as it was;
 * - a canonical body is strict JSON and UTF-8, and canonical again (idempotent) without ignore
 *   pointers (with them, "/messages/0" would drop a second element on a second pass);
 * - canon_json accepts exactly what json_parse accepts, up to the nesting limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "json.h"

#define MAX_PTRS 8

static int depth_of(const char *s, size_t n) {
    int d = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') in_str = 1;
        else if (c == '[' || c == '{') { if (++d > max) max = d; }
        else if (c == ']' || c == '}') d--;
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size < 200 ? size : 200);
    unsigned norm = 0;
    char opts_line[201] = "";
    const char *body = in;
    size_t blen = size;
    if (nl && nl > in) {
        norm = (unsigned)data[0] & 3;
        memcpy(opts_line, in + 1, (size_t)(nl - in - 1));
        opts_line[nl - in - 1] = '\0';
        body = nl + 1;
        blen = size - (size_t)(nl + 1 - in);
    }
    const char *ptrs[MAX_PTRS + 1];
    int np = 0;
    for (char *save = NULL, *t = strtok_r(opts_line, ",", &save); t && np < MAX_PTRS;
         t = strtok_r(NULL, ",", &save))
        ptrs[np++] = t;
    ptrs[np] = NULL;
    struct canon_opts with_ptrs = {.ignore = ptrs, .normalize = norm};
    struct canon_opts norm_only = {.ignore = NULL, .normalize = norm};

    /* the body is copied so that reading past its end is caught by ASan */
    char *b = malloc(blen ? blen : 1);
    if (!b) return 0;
    memcpy(b, body, blen);

    struct buf out;
    buf_init(&out);
    buf_puts(&out, "prefix");
    int rc = canon_json(b, blen, np ? &with_ptrs : &norm_only, &out);
    if (rc != 0 && (out.len != 6 || memcmp(out.data, "prefix", 7) != 0)) abort();
    if (rc == 0) {
        const char *c = out.data + 6;
        size_t clen = out.len - 6;
        struct json_doc d;
        if (json_parse(&d, c, clen) != 0) abort(); /* canonical output must be JSON */
        json_doc_free(&d);
        if (!json_utf8_valid(c, clen)) abort();
    }

    /* idempotence and agreement with the parser, without ignore pointers */
    struct buf a, a2;
    buf_init(&a);
    buf_init(&a2);
    int ra = canon_json(b, blen, &norm_only, &a);
    struct json_doc d;
    int parsed = json_parse(&d, b, blen) == 0;
    if (parsed) json_doc_free(&d);
    if (ra == 0 && !parsed) abort();
    if (ra != 0 && parsed && depth_of(b, blen) < 60) abort();
    if (ra == 0) {
        if (canon_json(a.data, a.len, &norm_only, &a2) != 0) abort();
        if (a2.len != a.len || memcmp(a.data, a2.data, a.len) != 0) abort();
    }
    buf_free(&a);
    buf_free(&a2);
    buf_free(&out);
    free(b);
    return 0;
}
