/* multipart: what a multipart/form-data body says, without its boundary, as a JSON document
 * that is both the key's body and the entry's request summary:
 *   {"multipart": "multipart/form-data", "parts": [
 *     {"name": "file", "filename": "a.wav", "size": 48044, "sha256": "9f2c..."},
 *     {"name": "model", "value": "whisper-1"}]}
 * The parts in order with their names, file names, content types, other headers and the SHA-256
 * of their bytes: two different files never share a key whatever their names, the same file
 * with another boundary does. Small text fields (no file name, at most MP_CLEAR_MAX bytes of
 * UTF-8) are written in clear. Bodies come three ways: a body the program built itself
 * (multipart_parse, here), and libcurl's MIME API or a curl_formadd form (hook_mime.c, which
 * writes their parts with mp_part). Pure; no I/O. */
#ifndef LLMSHIM_MULTIPART_H
#define LLMSHIM_MULTIPART_H

#include <stddef.h>

#include "buf.h"

#define MP_CLEAR_MAX 4096
#define MP_MAX_DEPTH 8

/* A string with its length; p NULL: absent. */
struct mp_str {
    const char *p;
    size_t n;
};

/* What is said about one part besides its bytes. For libcurl's APIs, source is "file", "data" or
 * "callback" and the fields are what the program gave (libcurl derives the headers from them);
 * for a body the program built, the header lines as sent. */
struct mp_fields {
    struct mp_str name, filename, type, disposition, encoder, source, path_ext;
    const struct mp_str *headers; /* further header lines */
    size_t nheaders;
};

struct mp_writer {
    struct buf out;
    const char *const *ignore; /* JSON pointers "/name": top-level parts left out of the key */
    char *model;               /* the top-level "model" field's value, when in clear */
    int depth;
    int first[MP_MAX_DEPTH + 1];
    int skip;                  /* inside a part left out */
    int field;                 /* a field of the current part was written */
    int failed;
    char extra[200];           /* the preamble's and epilogue's hashes, when there are any */
};

void mp_open(struct mp_writer *w, const char *const *ignore, struct mp_str content_type);
/* A part whose bytes are data[0..len), or (data NULL) whose bytes hash to sha256. */
void mp_part(struct mp_writer *w, const struct mp_fields *f, const char *data, size_t len,
             const unsigned char sha256[32]);
/* A part made of parts (multipart/mixed inside a form): its parts follow, then mp_close_sub. */
void mp_open_sub(struct mp_writer *w, const struct mp_fields *f);
void mp_close_sub(struct mp_writer *w);
/* The document (caller frees; *model too): 0, or -1 when out of memory or nested too deep. */
int mp_close(struct mp_writer *w, char **json, size_t *len, char **model);
void mp_abort(struct mp_writer *w);

/* A body sent with this Content-Type value: 1 when it is multipart with a boundary and parses
 * (w is opened and written: mp_close it), 0 when it is not multipart or does not parse (w is
 * left closed; the caller keys the bytes themselves). */
int multipart_parse(struct mp_writer *w, const char *const *ignore, const char *content_type, size_t ctlen,
                    const char *body, size_t len);

#endif
