/* fuzz_entry: entry_decode on any bytes (what a corrupt, truncated or planted cache file holds).
 * What decodes must encode (unless a text field holds a lone surrogate, which JSON can carry but
 * UTF-8 cannot), and encode → decode → encode must give the same bytes: an entry the shim wrote
 * reads back as the same answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "json.h"

static void must_equal(const struct entry *a, const struct entry *b) {
    if (a->body_len != b->body_len || (a->body_len && memcmp(a->body, b->body, a->body_len) != 0)) abort();
    if (a->req_body_len != b->req_body_len ||
        (a->req_body_len && memcmp(a->req_body, b->req_body, a->req_body_len) != 0))
        abort();
    if (a->status != b->status || a->nheaders != b->nheaders || a->created != b->created || a->ttl != b->ttl ||
        strcmp(a->key, b->key) != 0 || a->req_json != b->req_json)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any read past the end */
    if (!copy) return 0;
    memcpy(copy, data, size);
    struct entry e;
    if (entry_decode(&e, copy, size) != 0) {
        /* a failed decode leaves nothing to free */
        if (e.method || e.url || e.body || e.headers || e.events || e.req_body) abort();
        free(copy);
        return 0;
    }
    /* what a decoded entry promises its readers */
    if (strlen(e.key) != 64 || e.status < 100 || e.status > 999 || !e.body) abort();
    for (size_t i = 0; i < e.nevents; i++)
        if (e.events[i].end > e.body_len || (i && e.events[i].end < e.events[i - 1].end)) abort();
    for (size_t i = 0; i < e.nheaders; i++)
        if (!e.headers[i].name || !e.headers[i].value) abort();

    /* entry_decode takes any 64-byte key, and entry_encode writes it unescaped: a key with a
     * quote re-encodes as broken JSON (reported to entry.c's owner; regress-entry-key-quote).
     * Only hex keys, the ones the shim writes, go round the loop until that is fixed. */
    int hex = 1;
    for (int i = 0; i < 64; i++)
        hex &= (e.key[i] >= '0' && e.key[i] <= '9') || (e.key[i] >= 'a' && e.key[i] <= 'f');
    struct buf one, two;
    buf_init(&one);
    buf_init(&two);
    if (hex && entry_encode(&e, &one) == 0) {
        struct entry e2;
        if (entry_decode(&e2, one.data, one.len) != 0) abort();
        must_equal(&e, &e2);
        if (entry_encode(&e2, &two) != 0) abort();
        if (one.len != two.len || memcmp(one.data, two.data, one.len) != 0) abort();
        entry_free(&e2);
    }
    buf_free(&one);
    buf_free(&two);
    entry_free(&e);
    free(copy);
    return 0;
}
