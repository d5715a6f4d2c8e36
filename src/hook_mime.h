/* The mirror of the multipart bodies a program builds with libcurl's MIME API (hook_mime.c),
 * shared with the code that keys them (hook_mimekey.c). libcurl's curl_mime is opaque: the
 * mirror is what the program asked of it, call by call. A mime belongs to one handle, and so to
 * one thread at a time, as libcurl requires: only the table that finds a mirror is locked. */
#ifndef LLMSHIM_HOOK_MIME_H
#define LLMSHIM_HOOK_MIME_H

#include <sys/types.h>

#include "hook.h"

enum mm_source { MM_NONE, MM_DATA, MM_FILE, MM_CALLBACK, MM_SUBPARTS };

/* A part's data from the program's read callback: llmshim's callbacks stand in front of the
 * program's (libcurl holds them), so that the bytes read ahead for a key are the bytes libcurl
 * sends. */
struct mm_cb {
    curl_read_callback read;
    curl_seek_callback seek;
    curl_free_callback free;
    void *arg;
    curl_off_t declared;   /* the size the program gave (-1: until its callback ends) */
    struct mm_part *part;  /* NULL once the part is gone */
    int refs;              /* libcurl parts that hold it: curl_easy_duphandle copies them */
    curl_off_t pos;        /* where libcurl left the program's stream (0: unread) */
    /* read ahead: libcurl reads these first, then (if incomplete) the tail and the program */
    int cached;
    char *buf;
    size_t len, off;
    int complete;
    size_t tail;           /* incomplete: what the program's callback said after buf */
    int tail_due;
    int active;            /* a transfer keyed on buf is under way: rewinds stay in buf */
    unsigned char sha[32];
};

struct mm_mime;

struct mm_part {
    void *key;             /* libcurl's curl_mimepart */
    struct mm_part *hnext; /* table chain */
    struct mm_mime *owner;
    struct mm_part *next;  /* in owner */
    char *name, *filename, *type, *encoder;
    const struct curl_slist *headers;
    int unreadable;        /* a setter ran out of memory: never keyed */
    enum mm_source src;
    size_t size;           /* MM_DATA */
    unsigned char sha[32];
    char *small;           /* MM_DATA up to MP_CLEAR_MAX bytes, to be shown in clear */
    char *path;            /* MM_FILE */
    struct stat *seen;     /* MM_FILE: the file as it was hashed */
    struct mm_cb *cb;      /* MM_CALLBACK */
    struct mm_mime *sub;   /* MM_SUBPARTS */
};

struct mm_mime {
    void *key;             /* libcurl's curl_mime */
    struct mm_mime *hnext;
    struct mm_part *first, *last;
    struct mm_part *parent;
};

/* The mirror of a curl_mime the program made, or NULL. */
struct mm_mime *mm_find(const void *mime);

#endif
