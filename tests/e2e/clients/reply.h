/* reply.h: what the C test clients collect from one transfer: the body (NUL-terminated) and
 * whether llmshim answered it (X-LLMShim-Cache: HIT). Plain libcurl callbacks; no llmshim code. */
#ifndef LLMSHIM_TEST_REPLY_H
#define LLMSHIM_TEST_REPLY_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct buf {
    char *data;
    size_t len;
    int hit;
};

__attribute__((unused)) static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct buf *b = ud;
    size_t len = size * n;
    char *d = realloc(b->data, b->len + len + 1);
    if (!d) return 0;
    memcpy(d + b->len, p, len);
    b->data = d;
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

__attribute__((unused)) static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct buf *b = ud;
    size_t len = size * n;
    if (len >= 20 && strncasecmp(p, "x-llmshim-cache: HIT", 20) == 0) b->hit = 1;
    return len;
}

#endif
