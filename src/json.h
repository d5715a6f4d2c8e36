/* json: strict parsing on top of jsmn, and the string/number codecs the canonicalizer and the
 * entry format share. Pure functions on byte buffers; no I/O. */
#ifndef LLMSHIM_JSON_H
#define LLMSHIM_JSON_H

#include <stddef.h>

#ifndef JSMN_H
#define JSMN_HEADER
#include <jsmn.h>
#endif

#include "buf.h"

struct json_doc {
    const char *text;
    size_t len;
    jsmntok_t *tok;
    int ntok;
};

/* Parses text as exactly one strict JSON value (RFC 8259 grammar, UTF-8). Returns 0 and fills
 * doc (free with json_doc_free), -1 if the text is not JSON, JSON_NOMEM if memory ran out. */
#define JSON_NOMEM (-2)
int json_parse(struct json_doc *doc, const char *text, size_t len);
void json_doc_free(struct json_doc *doc);

/* Index of the token after the subtree rooted at i. */
int json_skip(const struct json_doc *doc, int i);
/* Value token of key `name` in the object at index obj, or -1. */
int json_get(const struct json_doc *doc, int obj, const char *name);
/* Index of the n-th element of an array/object (for objects: the n-th key), or -1. */
int json_child(const struct json_doc *doc, int parent, int n);
/* Decodes a string token (escapes resolved, UTF-8) into out (appended). 0 or -1. */
int json_tok_str(const struct json_doc *doc, int i, struct buf *out);
/* 1 if token i is a string equal to s. */
int json_tok_eq(const struct json_doc *doc, int i, const char *s);
/* Parses an integer primitive token; returns 0 on success. */
int json_tok_ll(const struct json_doc *doc, int i, long long *out);

/* Decodes the raw inside of a JSON string (between the quotes). Lone surrogates are kept as
 * their 3-byte (WTF-8) form so that json_escape can write them back as \uXXXX. */
int json_unescape(const char *s, size_t n, struct buf *out);
/* Appends s as a quoted JSON string: only ", \ and control characters are escaped, so the
 * output is as readable as the input. */
void json_escape(struct buf *out, const char *s, size_t n);
/* Appends the canonical form of a JSON number literal, by exact decimal value: 1.0, 1 and 1e0
 * all give 1, -0 gives 0, 0.50 gives 0.5; two different values never share a form. */
int json_number_canon(const char *s, size_t n, struct buf *out);
/* 1 if the bytes are valid UTF-8 without NUL. */
int json_utf8_valid(const char *s, size_t n);

void base64_encode(struct buf *out, const unsigned char *p, size_t n);
int base64_decode(struct buf *out, const char *s, size_t n);

#endif
