/* libcurl's MIME API, mirrored: every curl_mime_* call the program makes is forwarded and noted
 * (hook_mime.h), so that a MIMEPOST transfer can be keyed by what its parts hold
 * (hook_mimekey.c). Data given in memory is hashed as it is given (libcurl copies it); files
 * and read callbacks are read when the transfer starts. A part fed by the program's read
 * callback gets llmshim's callbacks in front (mm_read, mm_seek, mm_free), which pass everything
 * through until a transfer needs its bytes read ahead. Calls libcurl makes into its own API
 * (it builds a mime from a curl_formadd form) pass straight through. */
#include <bearssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forksafe.h"
#include "hook_mime.h"
#include "multipart.h"

#define NBUCKETS 256

static struct mm_mime *mimes[NBUCKETS];
static struct mm_part *parts[NBUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_lock(void) { forksafe_register(&lock); }

static size_t slot(const void *p) {
    uintptr_t u = (uintptr_t)p;
    return (size_t)((u >> 4) ^ (u >> 12)) % NBUCKETS;
}

/* ---- the table (callers hold lock) ------------------------------------------------------- */

static struct mm_mime *find_mime(const void *key) {
    struct mm_mime *m = mimes[slot(key)];
    while (m && m->key != key) m = m->hnext;
    return m;
}

static struct mm_part *find_part(const void *key) {
    struct mm_part *p = parts[slot(key)];
    while (p && p->key != key) p = p->hnext;
    return p;
}

static void unlink_mime(struct mm_mime *m) {
    struct mm_mime **pp = &mimes[slot(m->key)];
    while (*pp && *pp != m) pp = &(*pp)->hnext;
    if (*pp) *pp = m->hnext;
}

static void unlink_part(struct mm_part *p) {
    struct mm_part **pp = &parts[slot(p->key)];
    while (*pp && *pp != p) pp = &(*pp)->hnext;
    if (*pp) *pp = p->hnext;
}

static void free_mime(struct mm_mime *m);

/* The part's content goes (a setter replaces it, or the part is freed). */
static void clear_content(struct mm_part *p) {
    free(p->small);
    free(p->path);
    free(p->seen);
    p->small = p->path = NULL;
    p->seen = NULL;
    if (p->cb) p->cb->part = NULL; /* libcurl frees it through mm_free */
    p->cb = NULL;
    if (p->sub) free_mime(p->sub); /* libcurl frees subparts with the part that holds them */
    p->sub = NULL;
    p->src = MM_NONE;
    p->size = 0;
}

static void free_part(struct mm_part *p) {
    unlink_part(p);
    clear_content(p);
    free(p->name);
    free(p->filename);
    free(p->type);
    free(p->encoder);
    free(p);
}

static void free_mime(struct mm_mime *m) {
    unlink_mime(m);
    while (m->first) {
        struct mm_part *p = m->first;
        m->first = p->next;
        free_part(p);
    }
    free(m);
}

struct mm_mime *mm_find(const void *mime) {
    pthread_mutex_lock(&lock);
    struct mm_mime *m = find_mime(mime);
    pthread_mutex_unlock(&lock);
    return m;
}

/* ---- callbacks in front of the program's ------------------------------------------------ */

static size_t mm_read(char *buf, size_t size, size_t nitems, void *arg) {
    struct mm_cb *cb = arg;
    size_t n = size * nitems;
    if (cb->cached) {
        if (cb->off < cb->len) {
            size_t k = cb->len - cb->off < n ? cb->len - cb->off : n;
            memcpy(buf, cb->buf + cb->off, k);
            cb->off += k;
            return k;
        }
        if (cb->complete) return 0;
        if (cb->tail_due) {
            cb->tail_due = 0;
            return cb->tail;
        }
    }
    size_t got = cb->read(buf, size, nitems, cb->arg);
    if (got <= n) cb->pos += (curl_off_t)got;
    return got;
}

static int mm_seek(void *arg, curl_off_t offset, int origin) {
    struct mm_cb *cb = arg;
    /* while a transfer keyed on the bytes read ahead runs, a rewind stays within them */
    if (cb->cached && cb->active) {
        if (origin != SEEK_SET || offset < 0 || (size_t)offset > cb->len || (!cb->complete && cb->off > cb->len))
            return CURL_SEEKFUNC_CANTSEEK;
        cb->off = (size_t)offset;
        return CURL_SEEKFUNC_OK;
    }
    int rc = cb->seek(cb->arg, offset, origin);
    if (rc == CURL_SEEKFUNC_OK) { /* the program's stream again, from where it now is */
        free(cb->buf);
        cb->buf = NULL;
        cb->cached = 0;
        cb->len = cb->off = 0;
        cb->pos = origin == SEEK_SET ? offset : -1;
    }
    return rc;
}

/* libcurl frees a part: the program's free function, as libcurl would call it, once per part
 * holding it (a duplicated handle's parts too). */
static void mm_free(void *arg) {
    struct mm_cb *cb = arg;
    if (cb->free) cb->free(cb->arg);
    pthread_mutex_lock(&lock);
    int last = --cb->refs == 0;
    if (last && cb->part) cb->part->cb = NULL;
    pthread_mutex_unlock(&lock);
    if (!last) return;
    free(cb->buf);
    free(cb);
}

static void ref_callbacks(struct mm_mime *m) {
    for (struct mm_part *p = m ? m->first : NULL; p; p = p->next) {
        if (p->cb) p->cb->refs++;
        if (p->sub) ref_callbacks(p->sub);
    }
}

void mime_duplicated(const void *mime) {
    pthread_mutex_lock(&lock);
    ref_callbacks(find_mime(mime));
    pthread_mutex_unlock(&lock);
}

/* ---- the hooks ---------------------------------------------------------------------------- */

#define REAL(fn) const struct real_api *r = real_for_caller(HOOK_CALLER()); \
    if (!r->fn) return fallback;
#define OURS() (pthread_once(&once, register_lock), !hook_from_libcurl(HOOK_CALLER()))

static char *dup_or_null(const char *s, int *oom) {
    char *d = s ? strdup(s) : NULL;
    if (s && !d) *oom = 1;
    return d;
}

HOOK_EXPORT curl_mime *curl_mime_init(CURL *easy) {
    curl_mime *fallback = NULL;
    REAL(curl_mime_init);
    curl_mime *mime = r->curl_mime_init(easy);
    if (!mime || !OURS()) return mime;
    struct mm_mime *m = calloc(1, sizeof(*m));
    pthread_mutex_lock(&lock);
    struct mm_mime *stale = find_mime(mime); /* freed by libcurl itself, its address reused */
    if (stale) free_mime(stale);
    if (m) {
        m->key = mime;
        m->hnext = mimes[slot(mime)];
        mimes[slot(mime)] = m;
    }
    pthread_mutex_unlock(&lock);
    return mime;
}

HOOK_EXPORT void curl_mime_free(curl_mime *mime) {
    const struct real_api *r = real_for_caller(HOOK_CALLER());
    if (r->curl_mime_free) r->curl_mime_free(mime); /* calls mm_free for callback parts */
    if (!mime || !OURS()) return;
    pthread_mutex_lock(&lock);
    struct mm_mime *m = find_mime(mime);
    if (m) {
        if (m->parent) m->parent->sub = NULL;
        free_mime(m);
    }
    pthread_mutex_unlock(&lock);
}

HOOK_EXPORT curl_mimepart *curl_mime_addpart(curl_mime *mime) {
    curl_mimepart *fallback = NULL;
    REAL(curl_mime_addpart);
    curl_mimepart *part = r->curl_mime_addpart(mime);
    if (!part || !OURS()) return part;
    pthread_mutex_lock(&lock);
    struct mm_part *stale = find_part(part);
    if (stale) { /* its mime was freed by libcurl (a subpart), the address reused */
        stale->key = NULL;
        unlink_part(stale);
    }
    struct mm_mime *m = find_mime(mime);
    struct mm_part *p = m ? calloc(1, sizeof(*p)) : NULL;
    if (p) {
        p->key = part;
        p->owner = m;
        p->hnext = parts[slot(part)];
        parts[slot(part)] = p;
        if (m->last) m->last->next = p;
        else m->first = p;
        m->last = p;
    }
    pthread_mutex_unlock(&lock);
    return part;
}

/* A string field: libcurl frees the old value first and keeps a copy (NULL when out of memory). */
static CURLcode set_string(curl_mimepart *part, const char *value, CURLcode rc, size_t field) {
    pthread_mutex_lock(&lock);
    struct mm_part *p = find_part(part);
    if (p) {
        char **f = (char **)((char *)p + field);
        free(*f);
        int oom = 0;
        *f = rc == CURLE_OK ? dup_or_null(value, &oom) : NULL;
        p->unreadable |= oom;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

#define STRING_HOOK(fn, field)                                              \
    HOOK_EXPORT CURLcode fn(curl_mimepart *part, const char *value) {       \
        CURLcode fallback = CURLE_FAILED_INIT;                              \
        REAL(fn);                                                           \
        CURLcode rc = r->fn(part, value);                                   \
        if (!part || !OURS()) return rc;                                    \
        return set_string(part, value, rc, offsetof(struct mm_part, field)); \
    }
STRING_HOOK(curl_mime_name, name)
STRING_HOOK(curl_mime_filename, filename)
STRING_HOOK(curl_mime_type, type)
STRING_HOOK(curl_mime_encoder, encoder) /* an unknown encoder fails, and leaves none */

HOOK_EXPORT CURLcode curl_mime_headers(curl_mimepart *part, struct curl_slist *headers, int take_ownership) {
    CURLcode fallback = CURLE_FAILED_INIT;
    REAL(curl_mime_headers);
    CURLcode rc = r->curl_mime_headers(part, headers, take_ownership);
    if (!part || rc != CURLE_OK || !OURS()) return rc;
    pthread_mutex_lock(&lock);
    struct mm_part *p = find_part(part);
    if (p) p->headers = headers; /* read when a transfer starts, as libcurl reads it */
    pthread_mutex_unlock(&lock);
    return rc;
}

HOOK_EXPORT CURLcode curl_mime_data(curl_mimepart *part, const char *data, size_t datasize) {
    CURLcode fallback = CURLE_FAILED_INIT;
    REAL(curl_mime_data);
    CURLcode rc = r->curl_mime_data(part, data, datasize);
    if (!part || !OURS()) return rc;
    pthread_mutex_lock(&lock);
    struct mm_part *p = find_part(part);
    if (p) {
        clear_content(p);
        if (rc == CURLE_OK && data) {
            size_t n = datasize == CURL_ZERO_TERMINATED ? strlen(data) : datasize;
            br_sha256_context c;
            br_sha256_init(&c);
            br_sha256_update(&c, data, n);
            br_sha256_out(&c, p->sha);
            p->size = n;
            p->src = MM_DATA;
            if (n <= MP_CLEAR_MAX && !(p->small = malloc(n + 1))) p->unreadable = 1;
            if (p->small) {
                memcpy(p->small, data, n);
                p->small[n] = '\0';
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* libcurl takes the file's base name as the part's file name, even when it cannot read it. */
HOOK_EXPORT CURLcode curl_mime_filedata(curl_mimepart *part, const char *filename) {
    CURLcode fallback = CURLE_FAILED_INIT;
    REAL(curl_mime_filedata);
    CURLcode rc = r->curl_mime_filedata(part, filename);
    if (!part || !OURS()) return rc;
    pthread_mutex_lock(&lock);
    struct mm_part *p = find_part(part);
    if (p) {
        clear_content(p);
        if (filename && rc != CURLE_OUT_OF_MEMORY && rc != CURLE_BAD_FUNCTION_ARGUMENT) {
            int oom = 0;
            const char *base = strrchr(filename, '/');
            free(p->filename);
            p->filename = dup_or_null(base && base[1] ? base + 1 : filename, &oom);
            p->path = dup_or_null(filename, &oom);
            p->src = MM_FILE;
            p->unreadable |= oom;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

HOOK_EXPORT CURLcode curl_mime_data_cb(curl_mimepart *part, curl_off_t datasize, curl_read_callback readfunc,
                                       curl_seek_callback seekfunc, curl_free_callback freefunc, void *arg) {
    CURLcode fallback = CURLE_FAILED_INIT;
    REAL(curl_mime_data_cb);
    struct mm_cb *cb = part && readfunc && OURS() ? calloc(1, sizeof(*cb)) : NULL;
    if (!cb) {
        CURLcode rc = r->curl_mime_data_cb(part, datasize, readfunc, seekfunc, freefunc, arg);
        if (part && OURS()) { /* the program's own callbacks: llmshim cannot read ahead */
            pthread_mutex_lock(&lock);
            struct mm_part *p = find_part(part);
            if (p) {
                clear_content(p);
                p->unreadable |= readfunc != NULL;
            }
            pthread_mutex_unlock(&lock);
        }
        return rc;
    }
    *cb = (struct mm_cb){.read = readfunc, .seek = seekfunc, .free = freefunc, .arg = arg, .declared = datasize,
                         .refs = 1};
    /* a seek function only where the program gave one: libcurl decides by it whether to rewind */
    CURLcode rc = r->curl_mime_data_cb(part, datasize, mm_read, seekfunc ? mm_seek : NULL, mm_free, cb);
    pthread_mutex_lock(&lock);
    struct mm_part *p = find_part(part);
    if (p) clear_content(p);
    if (rc == CURLE_OK && p) {
        p->src = MM_CALLBACK;
        p->cb = cb;
        cb->part = p;
    }
    pthread_mutex_unlock(&lock);
    if (rc != CURLE_OK) free(cb); /* libcurl did not take it */
    return rc;
}

HOOK_EXPORT CURLcode curl_mime_subparts(curl_mimepart *part, curl_mime *subparts) {
    CURLcode fallback = CURLE_FAILED_INIT;
    REAL(curl_mime_subparts);
    pthread_mutex_lock(&lock);
    struct mm_part *p = part ? find_part(part) : NULL;
    int same = p && p->sub && p->sub->key == subparts; /* libcurl accepts the same subparts twice */
    pthread_mutex_unlock(&lock);
    CURLcode rc = r->curl_mime_subparts(part, subparts);
    if (!part || !OURS() || same) return rc;
    pthread_mutex_lock(&lock);
    if ((p = find_part(part)) != NULL) {
        struct mm_mime *sub = rc == CURLE_OK && subparts ? find_mime(subparts) : NULL;
        if (rc == CURLE_OK || rc == CURLE_BAD_FUNCTION_ARGUMENT) clear_content(p); /* libcurl cleaned it */
        if (sub) {
            p->src = MM_SUBPARTS;
            p->sub = sub;
            sub->parent = p;
        } else if (rc == CURLE_OK && subparts) {
            p->unreadable = 1; /* a mime llmshim never saw made */
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}
