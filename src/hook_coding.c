/* Content codings (RFC 9110 8.4): an answer that came gzip- or deflate-encoded is stored decoded,
 * so a cassette stays readable and one entry answers every client, and is encoded again on a hit
 * for a program that asked for it and does not let libcurl decode (Symfony HttpClient, curl -H
 * 'Accept-Encoding: gzip'). zlib is linked statically and hidden, like hiredis and BearSSL. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "hook.h"

enum hk_coding coding_of(const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (!n || (n == 8 && !strncasecmp(v, "identity", 8))) return CODING_NONE;
    if ((n == 4 && !strncasecmp(v, "gzip", 4)) || (n == 6 && !strncasecmp(v, "x-gzip", 6))) return CODING_GZIP;
    if (n == 7 && !strncasecmp(v, "deflate", 7)) return CODING_DEFLATE;
    return CODING_OTHER; /* br, zstd, compress, or a list of codings: not undone by llmshim */
}

/* 1 when the Accept-Encoding value lists the coding (or "*") without q=0. */
int coding_accepted(const char *accept, enum hk_coding c) {
    if (!accept || c == CODING_NONE || c == CODING_OTHER) return 0;
    const char *p = accept;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t tok = strcspn(p, ",;");
        if (tok > len) tok = len;
        const char *params = p + tok;
        int zero = 0; /* ";q=0", ";q=0.0" ... */
        for (const char *q = params; q < p + len; q++)
            if ((*q == 'q' || *q == 'Q') && q[1] == '=') {
                zero = strtod(q + 2, NULL) <= 0;
                break;
            }
        enum hk_coding t = coding_of(p, tok);
        const char *s = p;
        while (s < p + tok && (*s == ' ' || *s == '\t')) s++;
        if (!zero && (t == c || (p + tok - s == 1 && *s == '*'))) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

struct inflater {
    z_stream z;
    int done;
};

struct inflater *inflater_new(void) {
    struct inflater *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    if (inflateInit2(&f->z, 15 + 32) != Z_OK) { /* +32: a gzip or a zlib header */
        free(f);
        return NULL;
    }
    return f;
}

int inflater_feed(struct inflater *f, const char *p, size_t n, struct buf *out) {
    if (f->done) return n ? -1 : 0; /* bytes after the end of the coded data */
    f->z.next_in = (unsigned char *)p;
    f->z.avail_in = (unsigned)n;
    while (f->z.avail_in) {
        if (buf_reserve(out, 16384) != 0) return -1;
        f->z.next_out = (unsigned char *)out->data + out->len;
        f->z.avail_out = (unsigned)(out->cap - out->len - 1);
        size_t before = f->z.avail_out;
        int rc = inflate(&f->z, Z_NO_FLUSH);
        out->len += before - f->z.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_STREAM_END) {
            f->done = 1;
            return f->z.avail_in ? -1 : 0;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) return -1;
        if (rc == Z_BUF_ERROR && before == f->z.avail_out) return -1; /* no progress */
    }
    return 0;
}

int inflater_done(const struct inflater *f) {
    return f->done;
}

void inflater_free(struct inflater *f) {
    if (!f) return;
    inflateEnd(&f->z);
    free(f);
}

int coding_encode(enum hk_coding c, const char *body, const size_t *seg_end, size_t nseg, struct buf *out,
                  size_t *wire_end) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* gzip: window bits + 16; deflate is the zlib format (RFC 9110: "deflate" means zlib) */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, c == CODING_GZIP ? 15 + 16 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i < nseg && !rc; i++) {
        /* each segment (a stream's event) is flushed, so it decodes as soon as it arrives */
        int flush = i + 1 == nseg ? Z_FINISH : Z_SYNC_FLUSH;
        z.next_in = (unsigned char *)body + from;
        z.avail_in = (unsigned)(seg_end[i] - from);
        for (;;) {
            if (buf_reserve(out, deflateBound(&z, z.avail_in) + 64) != 0) {
                rc = -1;
                break;
            }
            z.next_out = (unsigned char *)out->data + out->len;
            z.avail_out = (unsigned)(out->cap - out->len - 1);
            size_t before = z.avail_out;
            int d = deflate(&z, flush);
            out->len += before - z.avail_out;
            if (d == Z_STREAM_ERROR) {
                rc = -1;
                break;
            }
            if (flush == Z_FINISH ? d == Z_STREAM_END : (z.avail_in == 0 && z.avail_out > 0)) break;
        }
        if (out->data) out->data[out->len] = '\0';
        wire_end[i] = out->len;
        from = seg_end[i];
    }
    deflateEnd(&z);
    return rc;
}
