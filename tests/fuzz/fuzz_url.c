/* fuzz_url: url_parse, url_credential, url_safe, endpoint_match and glob_prefix on any text.
 * Input: the URL, optionally followed by a NUL and a user endpoint pattern. Checks, besides the
 * sanitizers: a parsed URL has its parts in the promised form, and url_safe (what the entry and
 * the logs write down) holds no credential. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *url = text;
    size_t ulen = strlen(url);
    const char *user_pat = ulen < size ? text + ulen + 1 : "http://127.0.0.1:*/v1";

    const char *cred = NULL;
    size_t clen = 0;
    int has_cred = url_credential(url, &cred, &clen);
    if (has_cred && (cred < url || cred + clen > url + ulen)) abort();

    struct url u;
    if (url_parse(url, &u) == 0) {
        if (!u.scheme || !u.host || !u.host[0] || !u.path || u.path[0] != '/' || !u.base) abort();
        if (u.port < 0 || u.port > 65535) abort();
        for (const char *p = u.scheme; *p; p++)
            if (*p >= 'A' && *p <= 'Z') abort();
        if (strncmp(u.base, u.scheme, strlen(u.scheme)) != 0) abort();
        char *safe = url_safe(&u);
        if (!safe) abort();
        /* what is written down carries no credential, by url_credential's own reading */
        const char *c2;
        size_t l2;
        if (url_credential(safe, &c2, &l2)) abort();
        struct endpoint_rule rules[] = {
            {(char *)user_pat, SHAPE_NONE},
            {(char *)"http://127.0.0.1:8000/v1", SHAPE_NONE},
            {(char *)"https://*.corp.example/llm/*", SHAPE_ANTHROPIC},
            {(char *)"*:generateContent", SHAPE_GEMINI},
        };
        struct endpoint_match m;
        if (endpoint_match(NULL, 0, &u, &m) && (!m.provider || m.shape == SHAPE_NONE)) abort();
        if (endpoint_match(rules, sizeof(rules) / sizeof(rules[0]), &u, &m) && (!m.provider || m.shape == SHAPE_NONE))
            abort();
        free(safe);
        url_free(&u);
    }
    /* glob_prefix both ways round: patterns with many stars must not take long */
    glob_prefix(user_pat, url);
    glob_prefix(url, user_pat);
    /* any text matches itself ('*' matching a literal '*'), and "*" and "" match everything */
    if (!glob_prefix(url, url) || !glob_prefix("*", url) || !glob_prefix("", url)) abort();
    free(text);
    return 0;
}
