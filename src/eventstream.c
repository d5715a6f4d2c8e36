#include "eventstream.h"

#include <string.h>

#define PRELUDE 12      /* total length, headers length, prelude CRC */
#define MAX_FRAME (16u << 20) /* the format's own limit: 16 MiB */

uint32_t es_crc32(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t be32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

size_t es_frame(const char *buf, size_t len, size_t from) {
    if (from > len || len - from < PRELUDE) return 0;
    const char *f = buf + from;
    uint32_t total = be32(f), hlen = be32(f + 4);
    if (total < PRELUDE + 4 || total > MAX_FRAME || hlen > total - PRELUDE - 4) return 0;
    if (es_crc32(0, (const unsigned char *)f, 8) != be32(f + 8)) return 0;
    if (len - from < total) return 0;
    if (es_crc32(0, (const unsigned char *)f, total - 4) != be32(f + total - 4)) return 0;
    return total;
}

/* The size of a header value of this type after its type byte (strings and bytes: after their
 * 2-byte length), or -1 for an unknown type. */
static long value_size(unsigned char type) {
    static const long sizes[] = {0, 0, 1, 2, 4, 8, -2, -2, 8, 16};
    return type < sizeof(sizes) / sizeof(sizes[0]) ? sizes[type] : -1;
}

int es_header(const char *frame, size_t n, const char *name, const char **value, size_t *vlen) {
    if (n < PRELUDE + 4) return 0;
    size_t end = PRELUDE + be32(frame + 4), nlen = strlen(name);
    if (end > n - 4) return 0;
    for (size_t i = PRELUDE; i < end;) {
        size_t hn = (unsigned char)frame[i];
        if (i + 1 + hn + 1 > end) return 0;
        const char *hname = frame + i + 1;
        unsigned char type = (unsigned char)frame[i + 1 + hn];
        long size = value_size(type);
        i += 1 + hn + 1;
        if (size == -1) return 0;
        if (size == -2) { /* 2-byte length, then the bytes */
            if (i + 2 > end) return 0;
            size = (long)(((unsigned char)frame[i] << 8) | (unsigned char)frame[i + 1]);
            i += 2;
        }
        if (i + (size_t)size > end) return 0;
        if (type == 7 && hn == nlen && !memcmp(hname, name, nlen)) {
            *value = frame + i;
            *vlen = (size_t)size;
            return 1;
        }
        i += (size_t)size;
    }
    return 0;
}

const char *es_payload(const char *frame, size_t n, size_t *plen) {
    size_t start = PRELUDE + be32(frame + 4);
    *plen = n - 4 - start;
    return frame + start;
}
