/* file store: one file per entry under a directory, written to a temporary file and renamed, so
 * a reader sees the old entry, the new one, or none; never half of one.
 *
 * Entries could be planted by another user who can swap or re-create the directory, so it is
 * checked once (it and every directory above it: owned by the user or root, not writable by
 * others unless sticky like /tmp) and held as a descriptor; every file operation is relative to
 * that descriptor, component by component without following symbolic links, and a file is only
 * read if the user owns it. A FIFO or device in place of a file never blocks: files are opened
 * non-blocking and checked to be regular on the open descriptor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forksafe.h"
#include "store.h"
#include "store_file_dir.h"

#define FILE_MAX_ENTRY (256L * 1024 * 1024) /* refuse to read anything larger */


struct held_lock {
    char hex[65];
    int fd; /* holds the flock until unlock closes it */
};

struct fstore {
    struct store base;
    struct fdir d;
    pthread_mutex_t held_mu; /* the held locks */
    struct held_lock *held;
    size_t nheld, capheld;
};

static char *errorf(const char *what, const char *path, int e) {
    char msg[PATH_MAX + 128];
    snprintf(msg, sizeof(msg), "file store: %s %s: %s", what, path, strerror(e));
    return strdup(msg);
}

static int path_of(const struct fstore *f, const struct store_key *k, char *out, size_t n) {
    if (!k->name || strstr(k->name, "..") || k->name[0] == '/') return -1;
    int w = snprintf(out, n, "%s/%s", f->d.dir, k->name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int fs_get(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    (void)now; /* expiry is inside the entry; the caller checks it */
    if (path_of(f, k, path, sizeof(path)) != 0) return 0;
    int dfd = fdir_fd(&f->d, err);
    if (dfd < 0) return -1;
    struct stat st;
    int fd = fdir_open_entry(dfd, k->name, &st);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        if (err) *err = errorf("cannot open", path, errno);
        return -1;
    }
    if (fd == -2 || st.st_size > FILE_MAX_ENTRY) {
        if (fd >= 0) close(fd);
        if (err) *err = errorf("not a readable entry (not a regular file of this user's):", path, EINVAL);
        return -1;
    }
    if (buf_reserve(out, (size_t)st.st_size) != 0) {
        close(fd);
        if (err) *err = strdup("file store: out of memory");
        return -1;
    }
    size_t want = (size_t)st.st_size, got = 0;
    while (got < want) {
        ssize_t r = read(fd, out->data + out->len + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != want) {
        if (err) *err = errorf("short read from", path, EIO);
        return -1;
    }
    out->len += got;
    out->data[out->len] = '\0';
    return 1;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fs_put(struct store *s, const struct store_key *k, const void *data, size_t len,
                  long long expires, char **err) {
    struct fstore *f = (struct fstore *)s;
    static atomic_uint counter;
    char path[PATH_MAX], tmp[NAME_MAX + 1];
    (void)expires;
    if (path_of(f, k, path, sizeof(path)) != 0) {
        if (err) *err = strdup("file store: invalid or too long entry name");
        return -1;
    }
    int dfd = fdir_fd(&f->d, err);
    if (dfd < 0) return -1;
    const char *leaf;
    int dir = fdir_parent(dfd, k->name, 1, &leaf);
    if (dir < 0) {
        if (err) *err = errorf("cannot create directory for", path, errno);
        return -1;
    }
    snprintf(tmp, sizeof(tmp), ".tmp-%ld-%u", (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        close(dir);
        if (err) *err = errorf("cannot create a file beside", path, e);
        return -1;
    }
    int e = 0;
    if (write_all(fd, data, len) != 0) e = errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && renameat(dir, tmp, dir, leaf) != 0) e = errno;
    if (e) unlinkat(dir, tmp, 0);
    close(dir);
    if (e) {
        if (err) *err = errorf("cannot write", path, e);
        return -1;
    }
    return 0;
}

/* A child of fork() shares the parent's lock descriptors, and so would keep a prompt locked for
 * as long as it lives, whatever the parent does: it closes its copies (the parent's stay). */
static void forget_locks(void *ud) {
    struct fstore *f = ud;
    for (size_t i = 0; i < f->nheld; i++) close(f->held[i].fd);
    f->nheld = 0;
}

static void fs_close(struct store *s) {
    struct fstore *f = (struct fstore *)s;
    for (size_t i = 0; i < f->nheld; i++) close(f->held[i].fd);
    if (f->d.dfd >= 0) close(f->d.dfd);
    free(f->held);
    forksafe_forget_child(forget_locks, f);
    forksafe_unregister(&f->held_mu);
    pthread_mutex_destroy(&f->held_mu);
    forksafe_unregister(&f->d.mu);
    pthread_mutex_destroy(&f->d.mu);
    free(f->d.dir);
    free(f);
}

/* ---- optional ops: walking, deleting, shared counters, fill locks ------------------------ */

/* The layout is provider/model/<key16>.json (earlier versions: provider/model/hh/<key>.json,
 * still walked so that export can move them): anything much deeper is not ours. */
#define WALK_MAX_DEPTH 16

struct walk {
    struct fstore *f;
    store_each_fn fn;
    void *ud;
    char path[PATH_MAX];
    size_t rel; /* where the name relative to the store directory starts in path */
    char **err;
};

/* k.hex is the file's stem, only a prefix of the key: whoever needs the key decodes the entry. */
/* Only names llmshim gives entries: 16 (or, in the old layout, 64) lowercase hex digits and
 * .json. Whatever else lies in the directory (a package.json where a cache was pointed by
 * mistake) is never listed, exported or removed. */
static int entry_name(const char *fname, size_t flen) {
    if ((flen != 16 + 5 && flen != 64 + 5) || strcmp(fname + flen - 5, ".json") != 0) return 0;
    for (size_t i = 0; i + 5 < flen; i++)
        if (!((fname[i] >= '0' && fname[i] <= '9') || (fname[i] >= 'a' && fname[i] <= 'f'))) return 0;
    return 1;
}

static int walk_file(struct walk *w, const char *fname, size_t flen) {
    if (!entry_name(fname, flen)) return 0;
    char hex[256];
    snprintf(hex, sizeof(hex), "%.*s", (int)(flen - 5), fname);
    struct store_key k = {hex, w->path + w->rel};
    struct buf data;
    buf_init(&data);
    char *gerr = NULL;
    int rc = fs_get(&w->f->base, &k, 0, &data, &gerr);
    free(gerr);
    if (rc == 0) { /* removed while we walked */
        buf_free(&data);
        return 0;
    }
    /* unreadable: handed on as NULL, so that the command says so instead of it vanishing */
    int stop = w->fn(&k, rc == 1 ? (data.data ? data.data : "") : NULL, rc == 1 ? data.len : 0, w->ud);
    buf_free(&data);
    return stop;
}

/* Visits every *.json under w->path (the directory dirfd). Hidden names are skipped: temp
 * files (.tmp-*), the counters (.stats) and the locks (.locks). 1 stopped, 0 done, -1 error. */
static int walk_dir(struct walk *w, int dirfd, int depth) {
    int own = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* its own read position */
    DIR *d = own >= 0 ? fdopendir(own) : NULL;
    if (!d) {
        if (own >= 0) close(own);
        if (w->err) *w->err = errorf("cannot read directory", w->path, errno);
        return -1;
    }
    size_t len = strlen(w->path);
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t n = strlen(de->d_name);
        if (len + 1 + n >= sizeof(w->path)) continue;
        w->path[len] = '/';
        memcpy(w->path + len + 1, de->d_name, n + 1);
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            type = fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ? DT_UNKNOWN
                   : S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR && depth < WALK_MAX_DEPTH) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                rc = walk_dir(w, sub, depth + 1);
                close(sub);
            }
        } else if (type == DT_REG) {
            rc = walk_file(w, de->d_name, n);
        }
        w->path[len] = '\0';
    }
    closedir(d);
    return rc;
}

static int fs_each(struct store *s, store_each_fn fn, void *ud, char **err) {
    struct fstore *f = (struct fstore *)s;
    struct walk *w = calloc(1, sizeof(*w));
    if (!w) {
        if (err) *err = strdup("file store: out of memory");
        return -1;
    }
    *w = (struct walk){.f = f, .fn = fn, .ud = ud, .err = err};
    snprintf(w->path, sizeof(w->path), "%s", f->d.dir);
    w->rel = strlen(w->path) + 1;
    int dfd = fdir_fd(&f->d, err);
    int rc = dfd < 0 ? -1 : walk_dir(w, dfd, 0);
    free(w);
    return rc < 0 ? -1 : 0;
}

static int fs_del(struct store *s, const struct store_key *k, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    if (path_of(f, k, path, sizeof(path)) != 0) {
        if (err) *err = strdup("file store: invalid or too long entry name");
        return -1;
    }
    int dfd = fdir_fd(&f->d, err);
    if (dfd < 0) return -1;
    const char *leaf;
    int dir = fdir_parent(dfd, k->name, 0, &leaf);
    struct stat st;
    if (dir < 0 || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        if (dir >= 0) close(dir);
        if (e == ENOENT || e == ENOTDIR) return 0;
        if (err) *err = errorf("cannot remove", path, e);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) { /* never remove what is not ours */
        close(dir);
        if (err) *err = errorf("not removing (not a regular file of this user's)", path, EPERM);
        return -1;
    }
    int rc = unlinkat(dir, leaf, 0), e = errno;
    close(dir);
    if (rc == 0) return 1;
    if (e == ENOENT) return 0;
    if (err) *err = errorf("cannot remove", path, e);
    return -1;
}

/* <dir>/<sub>, created 0700 when missing, opened without following links. */
static int sub_dir(struct fstore *f, const char *sub, char **err) {
    int dfd = fdir_fd(&f->d, err);
    if (dfd < 0) return -1;
    if (mkdirat(dfd, sub, 0700) != 0 && errno != EEXIST) {
        if (err) *err = errorf("cannot create", sub, errno);
        return -1;
    }
    int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && err) *err = errorf("cannot open", sub, errno);
    return fd;
}

/* One log per host: hosts sharing the directory over NFS never append to the same file. */
/* <sub>/<host>.log under the store, opened for appending, the directory created when missing
 * (one file per host: hosts sharing the directory over NFS never append to the same file).
 * name gets its file name, for messages. */
static int open_host_log(struct fstore *f, const char *sub, char *name, size_t n, char **err) {
    char host[65] = "";
    int sd = sub_dir(f, sub, err);
    if (sd < 0) return -1;
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++)
        if (*p == '/' || (*p == '.' && p == host)) *p = '_';
    snprintf(name, n, "%s/%s/%s.log", f->d.dir, sub, host[0] ? host : "localhost");
    int fd = fdir_open_regular(sd, strrchr(name, '/') + 1, O_WRONLY | O_APPEND | O_CREAT);
    int e = errno;
    close(sd);
    if (fd < 0 && err) *err = errorf("cannot append to", name, e);
    return fd;
}

static int fs_add_stats(struct store *s, const struct stats_row *delta, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    struct buf line;
    buf_init(&line);
    if (stats_format_line(delta, &line) != 0 || line.oom || line.len >= PIPE_BUF) {
        buf_free(&line);
        if (err) *err = strdup("file store: cannot format a stats line");
        return -1;
    }
    /* O_APPEND and one write() of less than PIPE_BUF: lines of concurrent writers never mix */
    int fd = open_host_log(f, ".stats", path, sizeof(path), err), e = 0;
    if (fd < 0) {
        buf_free(&line);
        return -1;
    }
    ssize_t w;
    do w = write(fd, line.data, line.len); while (w < 0 && errno == EINTR);
    if (w != (ssize_t)line.len) e = w < 0 ? errno : EIO;
    close(fd);
    buf_free(&line);
    if (e) {
        if (err) *err = errorf("cannot append to", path, e);
        return -1;
    }
    return 0;
}

/* Every complete line (newline included) of every regular file in the subdirectory sub, to
 * on_line; a line cut short was being written or lost to a full disk and is skipped. A missing
 * subdirectory holds no lines. on_line returns -1 to stop with *err set. */
static int each_log_line(struct fstore *f, const char *sub, int (*on_line)(const char *, size_t, void *, char **),
                         void *ud, char **err) {
    int dfd = fdir_fd(&f->d, err);
    if (dfd < 0) return -1;
    int sd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = sd >= 0 ? fdopendir(sd) : NULL;
    if (!d) {
        int e = errno;
        if (sd >= 0) close(sd);
        if (e == ENOENT) return 0; /* nothing written yet */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", f->d.dir, sub);
        if (err) *err = errorf("cannot read directory", path, e);
        return -1;
    }
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        int fd = fdir_open_regular(dirfd(d), de->d_name, O_RDONLY);
        FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
        if (!fp) {
            if (fd >= 0) close(fd);
            continue;
        }
        ssize_t n;
        while (rc == 0 && (n = getline(&line, &cap, fp)) > 0)
            if (line[n - 1] == '\n') rc = on_line(line, (size_t)n, ud, err);
        fclose(fp);
    }
    free(line);
    closedir(d);
    return rc;
}

static int add_stats_line(const char *line, size_t n, void *ud, char **err) {
    struct stats_row r;
    if (stats_parse_line(line, n, &r) != 0) return 0;
    if (stats_table_add(ud, &r) == 0) return 0;
    if (err) *err = strdup("file store: out of memory");
    return -1;
}

static int fs_get_stats(struct store *s, struct stats_table *t, char **err) {
    return each_log_line((struct fstore *)s, ".stats", add_stats_line, t, err);
}

#define USED_TAG "llmshim-used-v1"

/* One line per key, written in whole lines of less than PIPE_BUF per write(): appends of many
 * processes never mix. A mark lost to a full disk only makes an entry look unused sooner. */
static int fs_mark_used(struct store *s, const char *const *hexes, size_t n, long long when, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    int fd = open_host_log(f, ".used", path, sizeof(path), err);
    if (fd < 0) return -1;
    char chunk[PIPE_BUF];
    size_t len = 0;
    int e = 0;
    for (size_t i = 0; i <= n && !e; i++) {
        char line[128];
        int w = i < n ? snprintf(line, sizeof(line), USED_TAG "\t%lld\t%.64s\n", when, hexes[i]) : 0;
        if (len && (i == n || len + (size_t)w > sizeof(chunk))) {
            ssize_t r;
            do r = write(fd, chunk, len); while (r < 0 && errno == EINTR);
            if (r != (ssize_t)len) e = r < 0 ? errno : EIO;
            len = 0;
        }
        if (w > 0 && (size_t)w < sizeof(line)) {
            memcpy(chunk + len, line, (size_t)w);
            len += (size_t)w;
        }
    }
    close(fd);
    if (e) {
        if (err) *err = errorf("cannot append to", path, e);
        return -1;
    }
    return 0;
}

struct used_walk {
    void (*fn)(const char *, long long, void *);
    void *ud;
};

static int used_line(const char *line, size_t n, void *ud, char **err) {
    (void)n, (void)err;
    struct used_walk *w = ud;
    char hex[65];
    long long when;
    if (sscanf(line, USED_TAG "\t%lld\t%64[0-9a-f]\n", &when, hex) == 2 && strlen(hex) == 64) w->fn(hex, when, w->ud);
    return 0;
}

static int fs_each_used(struct store *s, void (*fn)(const char *, long long, void *), void *ud, char **err) {
    struct used_walk w = {fn, ud};
    return each_log_line((struct fstore *)s, ".used", used_line, &w, err);
}

static int hex_ok(const char *hex) {
    size_t n = 0;
    for (; hex && hex[n]; n++)
        if (!((hex[n] >= '0' && hex[n] <= '9') || (hex[n] >= 'a' && hex[n] <= 'f'))) return 0;
    return n > 0 && n <= 64;
}

/* flock on <dir>/.locks/<hex>.lock: the kernel drops it when the holder dies, so a crashed
 * process never blocks the others. The files stay: unlinking one would race with a process
 * that just opened it and would then lock a file nobody else can see. */
static int fs_lock(struct store *s, const struct store_key *k, long long ttl_ms, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    (void)ttl_ms;
    if (!hex_ok(k->hex)) {
        if (err) *err = strdup("file store: invalid key for a lock");
        return -1;
    }
    int ld = sub_dir(f, ".locks", err);
    if (ld < 0) return -1;
    snprintf(path, sizeof(path), "%s/.locks/%s.lock", f->d.dir, k->hex);
    int fd = fdir_open_regular(ld, strrchr(path, '/') + 1, O_RDWR | O_CREAT);
    close(ld);
    if (fd < 0) {
        if (err) *err = errorf("cannot open", path, errno);
        return -1;
    }
    int rc;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {}
    if (rc != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) return 0;
        if (err) *err = errorf("cannot lock", path, e);
        return -1;
    }
    pthread_mutex_lock(&f->held_mu);
    if (f->nheld == f->capheld) {
        size_t cap = f->capheld ? f->capheld * 2 : 8;
        struct held_lock *p = realloc(f->held, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&f->held_mu);
            close(fd);
            if (err) *err = strdup("file store: out of memory");
            return -1;
        }
        f->held = p;
        f->capheld = cap;
    }
    snprintf(f->held[f->nheld].hex, sizeof(f->held[f->nheld].hex), "%s", k->hex);
    f->held[f->nheld++].fd = fd;
    pthread_mutex_unlock(&f->held_mu);
    return 1;
}

static void fs_unlock(struct store *s, const struct store_key *k) {
    struct fstore *f = (struct fstore *)s;
    int fd = -1;
    pthread_mutex_lock(&f->held_mu);
    for (size_t i = 0; i < f->nheld; i++) {
        if (strcmp(f->held[i].hex, k->hex) != 0) continue;
        fd = f->held[i].fd;
        f->held[i] = f->held[--f->nheld];
        break;
    }
    pthread_mutex_unlock(&f->held_mu);
    if (fd >= 0) close(fd); /* closing the last descriptor releases the flock */
}

static const struct store_ops file_ops = {.name = "file", .get = fs_get, .put = fs_put, .close = fs_close,
                                          .each = fs_each, .del = fs_del, .add_stats = fs_add_stats,
                                          .get_stats = fs_get_stats, .lock = fs_lock, .unlock = fs_unlock,
                                          .mark_used = fs_mark_used, .each_used = fs_each_used};

struct store *store_file_open(const char *dir, char **err) {
    struct stat st0;
    int existed = stat(dir, &st0) == 0; /* a new directory gets llmshim's .gitignore */
    struct fstore *f = calloc(1, sizeof(*f));
    if (!f || !(f->d.dir = strdup(dir))) {
        free(f);
        if (err) *err = strdup("file store: out of memory");
        return NULL;
    }
    f->d.dfd = -1;
    pthread_mutex_init(&f->d.mu, NULL);
    if (fdir_open(&f->d, err) != 0) {
        pthread_mutex_destroy(&f->d.mu);
        free(f->d.dir);
        free(f);
        return NULL;
    }
    forksafe_register(&f->d.mu);
    pthread_mutex_init(&f->held_mu, NULL);
    forksafe_register(&f->held_mu);
    forksafe_on_child(forget_locks, f);
    f->base.ops = &file_ops;
    if (!existed) fdir_write_gitignore(&f->d);
    return &f->base;
}
