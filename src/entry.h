/* entry: one cached answer and the question it answers, as a JSON document a person can read
 * (and review in a diff when it is a committed cassette). Pure encode/decode; no I/O. */
#ifndef LLMSHIM_ENTRY_H
#define LLMSHIM_ENTRY_H

#include <stddef.h>

#include "buf.h"

/* The newest entry format this llmshim reads; it reads every older one, and writes the oldest
 * that holds the entry: 1, or 2 for an answer kept as JSON (body_json), which 1 cannot read. */
#define ENTRY_VERSION 2

/* One event of a streamed answer: the body bytes up to `end`, complete `t_us` after the request. */
struct entry_event {
    size_t end;
    long long t_us;
};

struct entry_header {
    char *name;
    char *value;
};

struct entry {
    char key[65];
    long long created;     /* unix seconds */
    long long ttl;         /* seconds; 0 = never expires */
    long long latency_us;  /* how long the original call took */
    /* request summary: what this answers (never credentials) */
    char *method;
    char *url;
    char *provider;
    char *model;
    char *req_body;        /* canonical JSON (req_json) or the raw body */
    size_t req_body_len;
    int req_json;
    /* response */
    int status;
    char *status_line;     /* "HTTP/1.1 200 OK", as received */
    struct entry_header *headers;
    size_t nheaders;
    char *body;            /* as the application received it (decoded) */
    size_t body_len;
    int stream;            /* enum stream_kind; events then split body into the streamed events */
    struct entry_event *events;
    size_t nevents;
    long long usage_in;    /* tokens the API reported (0 when unknown) */
    long long usage_out;
    long long usage_cached; /* of usage_in, tokens the API read from its own prompt cache */
    struct entry_share *share; /* body shared by copies of one entry (read-only), else NULL */
};

/* Returns 0, or -1 when out of memory (out->oom) or when a text field (URL, status line, a
 * header) is not UTF-8 and so could not be read back: such an answer is not stored. */
int entry_encode(const struct entry *e, struct buf *out);
/* 1 when old (an encoded entry) is exactly what encoding e writes, apart from when it was
 * recorded: created, latency_us and the events' arrival times. Format changes, a different
 * TTL, header or event boundary all make it 0. */
int entry_same_record(const struct entry *e, const char *old, size_t len);
/* Returns 0, or -1 for anything that is not a complete entry of a known version. */
int entry_decode(struct entry *e, const char *data, size_t len);
/* canonical 0: the JSON request body is only compacted (whitespace between tokens dropped),
 * which equals its canonical form unless a person reordered or re-escaped it: for the hit path,
 * which compares with the current request and canonicalizes only on a difference. */
int entry_decode_as(struct entry *e, const char *data, size_t len, int canonical);
void entry_free(struct entry *e);
/* A copy: 0, or -1 (dst left empty) when out of memory. A shared body (entry_share_body) is
 * shared, not copied: the last entry_free of the copies frees it. Bodies are never written to
 * after decoding, so copies on several threads may read one at once. */
int entry_copy(struct entry *dst, const struct entry *src);
/* Makes e's body shareable by its copies. 0, or -1 (e unchanged) when out of memory. */
int entry_share_body(struct entry *e);

int entry_fresh(const struct entry *e, long long now);
/* 0 for headers that are never stored: cookies, framing that no longer applies, headers that
 * change on every call (Date, request ids, rate-limit counters...) and account identifiers. */
int entry_keep_header(const char *name, size_t len);
int entry_add_event(struct entry *e, size_t end, long long t_us);
int entry_add_header(struct entry *e, const char *name, size_t nlen, const char *value, size_t vlen);
const char *entry_header(const struct entry *e, const char *name);

#endif
