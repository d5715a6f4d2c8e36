/* Keying a multipart body built with libcurl's MIME API (its mirror: hook_mime.c) or with
 * curl_formadd (CURLOPT_HTTPPOST: struct curl_httppost is public, read as libcurl 7.88's
 * Curl_getformdata reads it when the transfer starts). When a transfer starts, files are hashed
 * (libcurl reads them again as it sends them: a file changed meanwhile means the answer is not
 * stored) and parts from the program's read callback are read ahead, up to
 * LLMSHIM_MAX_ENTRY_BYTES, then handed to libcurl byte for byte. The key holds what libcurl
 * makes each part's headers from (name, file name, type, the file's extension, encoder, extra
 * headers, where the bytes come from) and the bytes' SHA-256: never the boundary. */
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook_mime.h"
#include "multipart.h"

#define CHUNK 65536

struct file_seen {
    unsigned char sha[32];
    size_t size;
    struct stat st;
};

struct mime_key {
    struct hk_handle *h;
    const void *mime;          /* MIMEPOST, or NULL for a form */
    struct curl_httppost *form;
    struct file_seen *files;   /* a form's files, in the order they are met */
    size_t nfiles, cap;
};

/* ---- files ------------------------------------------------------------------------------- */

static const char *hash_file(const char *path, struct file_seen *f) {
    struct stat st;
    if (stat(path, &st) != 0) return "a multipart file cannot be read";
    if (!S_ISREG(st.st_mode)) return "a multipart file is not a regular file"; /* reading a FIFO would take it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return "a multipart file cannot be read";
    unsigned char *buf = malloc(CHUNK);
    br_sha256_context c;
    br_sha256_init(&c);
    size_t size = 0;
    ssize_t n = 0;
    while (buf && ((n = read(fd, buf, CHUNK)) > 0 || (n < 0 && errno == EINTR))) {
        if (n < 0) continue;
        br_sha256_update(&c, buf, (size_t)n);
        size += (size_t)n;
    }
    int ok = buf && n == 0 && fstat(fd, &f->st) == 0 && f->st.st_ino == st.st_ino && (off_t)size == f->st.st_size;
    free(buf);
    close(fd);
    if (!ok) return "a multipart file cannot be read whole";
    br_sha256_out(&c, f->sha);
    f->size = size;
    return NULL;
}

static int same_file(const char *path, const struct stat *was) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == was->st_dev && st.st_ino == was->st_ino &&
           st.st_size == was->st_size && st.st_mtim.tv_sec == was->st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == was->st_mtim.tv_nsec;
}

/* ---- parts from read callbacks ------------------------------------------------------------- */

/* Reads the part from its start into cb->buf, as libcurl would read it for this transfer. */
static const char *read_ahead(struct mm_cb *cb, size_t max) {
    /* read ahead before (a hit) and not sent since: read again from the start, as libcurl
     * would read the stream afresh; a stream that cannot rewind gave these bytes, they stand */
    if (cb->cached && cb->complete && cb->off == 0 && !cb->seek) {
        cb->active = 1;
        return NULL;
    }
    if (cb->cached || cb->pos != 0) { /* libcurl rewinds first: so does llmshim */
        if (!cb->seek || cb->seek(cb->arg, 0, SEEK_SET) != CURL_SEEKFUNC_OK)
            return "a multipart part's read callback cannot rewind";
        free(cb->buf);
        cb->buf = NULL;
        cb->cached = 0;
        cb->pos = 0;
    }
    cb->cached = 1;
    cb->len = cb->off = 0;
    cb->complete = cb->tail_due = 0;
    size_t cap = 0;
    for (;;) {
        if (cb->declared >= 0 && cb->len >= (size_t)cb->declared) break; /* libcurl stops there too */
        if (cap - cb->len < CHUNK) {
            char *b = realloc(cb->buf, cap + CHUNK);
            if (!b) return "out of memory while reading a multipart part";
            cb->buf = b;
            cap += CHUNK;
        }
        size_t got = cb->read(cb->buf + cb->len, 1, CHUNK, cb->arg);
        if (got == 0) break;
        if (got > CHUNK) { /* abort, pause: libcurl hears it after the bytes read */
            cb->tail = got;
            cb->tail_due = 1;
            return got == CURL_READFUNC_ABORT ? "a multipart part's read callback aborted"
                                              : "a multipart part's read callback paused or failed";
        }
        cb->len += got;
        cb->pos += (curl_off_t)got;
        if (max && cb->len > max) return "a multipart part is larger than LLMSHIM_MAX_ENTRY_BYTES";
    }
    if (cb->declared >= 0 && cb->len != (size_t)cb->declared)
        return "a multipart part's read callback gave another size than it declared";
    cb->complete = 1;
    cb->active = 1;
    return NULL;
}

/* ---- MIME ----------------------------------------------------------------------------------- */

static const char *prepare_mime(struct mm_mime *m, size_t max, int depth) {
    if (depth > MP_MAX_DEPTH) return "multipart parts nested too deep";
    for (struct mm_part *p = m->first; p; p = p->next) {
        if (p->unreadable) return "a multipart part llmshim could not mirror";
        const char *why = NULL;
        if (p->src == MM_FILE) {
            struct file_seen f;
            if (!p->seen && !(p->seen = malloc(sizeof(*p->seen)))) return "out of memory";
            if (!(why = hash_file(p->path, &f))) {
                memcpy(p->sha, f.sha, 32);
                p->size = f.size;
                *p->seen = f.st;
            }
        } else if (p->src == MM_CALLBACK) {
            why = read_ahead(p->cb, max);
        } else if (p->src == MM_SUBPARTS) {
            why = p->sub ? prepare_mime(p->sub, max, depth + 1) : "a multipart part llmshim could not mirror";
        }
        if (why) return why;
    }
    return NULL;
}

static struct mp_str str(const char *s) {
    return (struct mp_str){s, s ? strlen(s) : 0};
}

/* The file's extension: libcurl picks a file part's default type by it, when the name gives none. */
static struct mp_str extension(const char *path) {
    const char *base = strrchr(path, '/'), *dot = strrchr(base ? base : path, '.');
    return str(dot ? dot : "");
}

/* The slist's lines as strings (*lines to free). */
static int header_lines(const struct curl_slist *l, struct mp_str **lines, size_t *n) {
    *n = 0;
    for (const struct curl_slist *i = l; i; i = i->next) (*n)++;
    *lines = *n ? calloc(*n, sizeof(**lines)) : NULL;
    if (*n && !*lines) return -1;
    size_t k = 0;
    for (const struct curl_slist *i = l; i; i = i->next) (*lines)[k++] = str(i->data ? i->data : "");
    return 0;
}

static int describe_mime(const struct mm_mime *m, struct mp_writer *w) {
    static const char *const sources[] = {"none", "data", "file", "callback", "parts"};
    for (const struct mm_part *p = m->first; p; p = p->next) {
        struct mp_fields f = {.name = str(p->name), .filename = str(p->filename), .type = str(p->type),
                              .encoder = str(p->encoder), .source = str(sources[p->src])};
        struct mp_str *lines;
        if (header_lines(p->headers, &lines, &f.nheaders) != 0) return -1;
        f.headers = lines;
        if (p->src == MM_FILE) f.path_ext = extension(p->path);
        if (p->src == MM_SUBPARTS) {
            mp_open_sub(w, &f);
            int rc = describe_mime(p->sub, w);
            mp_close_sub(w);
            free(lines);
            if (rc) return rc;
            continue;
        }
        if (p->src == MM_DATA) mp_part(w, &f, p->small, p->size, p->sha);
        else if (p->src == MM_FILE) mp_part(w, &f, NULL, p->size, p->sha);
        else if (p->src == MM_CALLBACK) mp_part(w, &f, p->cb->buf ? p->cb->buf : "", p->cb->len, NULL);
        else mp_part(w, &f, "", 0, NULL);
        free(lines);
    }
    return 0;
}

/* NULL when libcurl sent what was keyed: files unchanged, parts read ahead read whole. */
static const char *mime_other(const struct mm_mime *m) {
    for (const struct mm_part *p = m->first; p; p = p->next) {
        if (p->src == MM_FILE && (!p->seen || !same_file(p->path, p->seen)))
            return "a multipart file changed while it was sent";
        if (p->src == MM_CALLBACK && p->cb && p->cb->off != p->cb->len)
            return "libcurl did not send all of a multipart part";
        const char *why = p->src == MM_SUBPARTS && p->sub ? mime_other(p->sub) : NULL;
        if (why) return why;
    }
    return NULL;
}

/* The transfer is over: rewinds reach the program again; a part sent whole needs no copy. */
static void mime_release(struct mm_mime *m) {
    for (struct mm_part *p = m->first; p; p = p->next) {
        struct mm_cb *cb = p->src == MM_CALLBACK ? p->cb : NULL;
        if (cb) {
            cb->active = 0;
            if (cb->cached && cb->complete && cb->off == cb->len) {
                free(cb->buf);
                cb->buf = NULL;
                cb->cached = 0;
                cb->len = cb->off = 0;
            }
        }
        if (p->src == MM_SUBPARTS && p->sub) mime_release(p->sub);
    }
}

/* ---- curl_formadd forms (lib/formdata.c, Curl_getformdata) ------------------------------ */

#define FORM_FILE (CURL_HTTPPOST_FILENAME | CURL_HTTPPOST_READFILE)

static const char *prepare_form(struct mime_key *k) {
    for (struct curl_httppost *post = k->form; post; post = post->next)
        for (struct curl_httppost *file = post; file; file = file->more) {
            if (post->flags & CURL_HTTPPOST_CALLBACK) return "a form part from the read callback (CURLFORM_STREAM)";
            if (!(post->flags & FORM_FILE)) continue;
            if (!file->contents || !strcmp(file->contents, "-")) return "a form part from stdin";
            if (k->nfiles == k->cap) {
                size_t cap = k->cap ? 2 * k->cap : 4;
                struct file_seen *f = realloc(k->files, cap * sizeof(*f));
                if (!f) return "out of memory";
                k->files = f;
                k->cap = cap;
            }
            const char *why = hash_file(file->contents, &k->files[k->nfiles]);
            if (why) return why;
            k->nfiles++;
        }
    return NULL;
}

static int describe_form(const struct mime_key *k, struct mp_writer *w) {
    size_t fi = 0;
    for (struct curl_httppost *post = k->form; post; post = post->next) {
        char *name = post->name && post->namelength ? strndup(post->name, (size_t)post->namelength)
                                                    : post->name ? strdup(post->name) : NULL;
        if (post->name && !name) return -1;
        struct mp_fields outer = {.name = str(name), .source = str("parts")};
        if (post->more) mp_open_sub(w, &outer);
        for (struct curl_httppost *file = post; file; file = file->more) {
            struct mp_str *lines;
            struct mp_fields f = {.type = str(file->contenttype)};
            if (header_lines(file->contentheader, &lines, &f.nheaders) != 0) {
                free(name);
                return -1;
            }
            f.headers = lines;
            if (!post->more) f.name = str(name);
            int show = post->showfilename && (post->more || (post->flags & (CURL_HTTPPOST_FILENAME | CURL_HTTPPOST_BUFFER |
                                                                            CURL_HTTPPOST_CALLBACK)));
            if (post->flags & FORM_FILE) {
                const char *base = strrchr(file->contents, '/');
                f.source = str("file");
                f.path_ext = extension(file->contents);
                if (!(post->flags & CURL_HTTPPOST_READFILE)) f.filename = str(base && base[1] ? base + 1 : file->contents);
                if (show) f.filename = str(post->showfilename);
                mp_part(w, &f, NULL, k->files[fi].size, k->files[fi].sha);
                fi++;
            } else {
                const char *data = post->flags & CURL_HTTPPOST_BUFFER ? post->buffer : post->contents;
                curl_off_t len = post->flags & CURL_HTTPPOST_BUFFER ? post->bufferlength
                                 : post->flags & CURL_HTTPPOST_LARGE ? post->contentlen : post->contentslength;
                f.source = str("data");
                if (show) f.filename = str(post->showfilename);
                mp_part(w, &f, data ? data : "", data ? (len ? (size_t)len : strlen(data)) : 0, NULL);
            }
            free(lines);
        }
        if (post->more) mp_close_sub(w);
        free(name);
    }
    return 0;
}

/* ---- the transfer's side ----------------------------------------------------------------- */

const char *mime_content_type(const struct hk_handle *h) {
    for (const struct curl_slist *l = h->headers; l; l = l->next)
        if (l->data && !strncasecmp(l->data, "Content-Type:", 13)) return l->data + 13;
    return NULL;
}

const char *mime_prepare(struct hk_handle *h, size_t max, struct mime_key **out) {
    *out = NULL;
    if (h->mime_copied) return "a multipart body copied by curl_easy_duphandle";
    struct mime_key *k = calloc(1, sizeof(*k));
    if (!k) return "out of memory";
    k->h = h;
    *out = k;
    if (h->method == HK_POST_FORM) {
        k->form = h->httppost;
        return prepare_form(k);
    }
    k->mime = h->mimepost;
    struct mm_mime *m = h->mimepost ? mm_find(h->mimepost) : NULL;
    if (!m) return "a multipart body llmshim did not see built";
    return prepare_mime(m, max, 0);
}

int mime_describe(void *ud, struct mp_writer *w) {
    const struct mime_key *k = ud;
    if (!k->mime) return describe_form(k, w);
    const struct mm_mime *m = mm_find(k->mime);
    return m ? describe_mime(m, w) : -1;
}

const char *mime_sent_other(const struct mime_key *k) {
    if (!k->mime) {
        size_t fi = 0;
        for (struct curl_httppost *post = k->form; post; post = post->next)
            for (struct curl_httppost *file = post; file; file = file->more)
                if ((post->flags & FORM_FILE) && (fi >= k->nfiles || !same_file(file->contents, &k->files[fi++].st)))
                    return "a multipart file changed while it was sent";
        return NULL;
    }
    const struct mm_mime *m = mm_find(k->mime);
    return m ? mime_other(m) : "the multipart body was freed while it was sent";
}

void mime_done(struct mime_key *k) {
    if (!k) return;
    struct mm_mime *m = k->mime ? mm_find(k->mime) : NULL;
    if (m) mime_release(m);
    free(k->files);
    free(k);
}
