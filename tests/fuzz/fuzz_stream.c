/* fuzz_stream: the event splitter as the recorder drives it (pieces of any size, rescanning
 * from a few bytes before the end of the previous piece) must find exactly the boundaries a
 * scan of the whole body finds; stream_complete, stream_event_data and usage_scan must cope
 * with any bytes (eventstream frames included). Input: byte 0 picks the kind and shape, byte 1 seeds the piece sizes, the
 * rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stream.h"
#include "usage.h"

#define MAX_EVENTS 4096

/* Boundaries of a whole body, scanning from each boundary to the next. */
static size_t whole(enum stream_kind k, const char *b, size_t len, size_t *ends) {
    size_t n = 0, pos = 0, next;
    while (n < MAX_EVENTS && (next = stream_next_event(k, b, len, pos)) != 0) {
        if (next <= pos || next > len) abort();
        ends[n++] = pos = next;
    }
    return n;
}

/* The same body arriving in pieces, scanned the way hook_record.c's note_events does. */
static size_t pieces(enum stream_kind k, const char *b, size_t len, unsigned seed, size_t *ends) {
    size_t n = 0, have = 0, scanned = 0, next;
    while (have < len) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % ((seed & 3) == 0 ? 64 : 7);
        have = have + piece > len ? len : have + piece;
        while (n < MAX_EVENTS && (next = stream_next_event(k, b, have, scanned)) != 0) {
            if (next <= scanned || next > have) abort();
            ends[n++] = scanned = next;
        }
        if (k != STREAM_EVENTSTREAM && have > scanned + 3) scanned = have - 3;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    /* bit 0: NDJSON, else SSE; bit 7: eventstream frames; bits 1-6: the shape */
    enum stream_kind k = (data[0] & 0x80) ? STREAM_EVENTSTREAM : (data[0] & 1) ? STREAM_NDJSON : STREAM_SSE;
    enum shape shape = (enum shape)(1 + ((data[0] & 0x7f) >> 1) % SHAPE_PERPLEXITY);
    unsigned seed = data[1];
    size_t len = size - 2;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 2, len);

    static size_t a[MAX_EVENTS], b[MAX_EVENTS];
    size_t na = whole(k, body, len, a), nb = pieces(k, body, len, seed, b);
    if (na < MAX_EVENTS && nb < MAX_EVENTS) {
        if (na != nb) abort();
        for (size_t i = 0; i < na; i++)
            if (a[i] != b[i]) abort();
    }

    /* each event's data, as replay and usage read it */
    struct buf d;
    buf_init(&d);
    size_t start = 0;
    for (size_t i = 0; i < na; i++) {
        buf_clear(&d);
        stream_event_data(k, body + start, a[i] - start, &d);
        if (d.len > a[i] - start) abort(); /* data is never more than the event */
        start = a[i];
    }
    buf_free(&d);

    int done = stream_complete(shape, k, body, len);
    if (done && na == 0) abort(); /* a complete stream has at least one whole event */
    long long in = 0, out = 0;
    usage_scan(k, body, len, &in, &out);
    usage_scan(STREAM_NONE, body, len, &in, &out);
    if (in < 0 || out < 0) abort();
    free(body);
    return 0;
}
