/* file store: one file per entry under a directory, written to a temporary file and renamed, so
 * a reader sees the old entry, the new one, or none; never half of one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define FILE_MAX_ENTRY (256L * 1024 * 1024) /* refuse to read anything larger */

struct fstore {
    struct store base;
    char *dir;
};

static char *errorf(const char *what, const char *path, int e) {
    char msg[PATH_MAX + 128];
    snprintf(msg, sizeof(msg), "file store: %s %s: %s", what, path, strerror(e));
    return strdup(msg);
}

static int path_of(const struct fstore *f, const struct store_key *k, char *out, size_t n) {
    if (!k->name || strstr(k->name, "..") || k->name[0] == '/') return -1;
    int w = snprintf(out, n, "%s/%s", f->dir, k->name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* mkdir -p for every directory above path (not path itself), mode 0700. */
static int make_parents(char *path) {
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0700);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST) { errno = e; return -1; }
    }
    return 0;
}

static int fs_get(struct store *s, const struct store_key *k, long long now, struct buf *out, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    (void)now; /* expiry is inside the entry; the caller checks it */
    if (path_of(f, k, path, sizeof(path)) != 0) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        if (err) *err = errorf("cannot open", path, errno);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX_ENTRY) {
        close(fd);
        if (err) *err = errorf("not a readable entry:", path, EINVAL);
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
    char path[PATH_MAX], tmp[PATH_MAX + 64];
    (void)expires;
    if (path_of(f, k, path, sizeof(path)) != 0) {
        if (err) *err = strdup("file store: invalid or too long entry name");
        return -1;
    }
    if (make_parents(path) != 0) {
        if (err) *err = errorf("cannot create directory for", path, errno);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    snprintf(tmp, sizeof(tmp), "%.*s/.tmp-%ld-%u", (int)(slash - path), path, (long)getpid(),
             atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (err) *err = errorf("cannot create", tmp, errno);
        return -1;
    }
    int e = 0;
    if (write_all(fd, data, len) != 0) e = errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        if (err) *err = errorf("cannot write", path, e);
        return -1;
    }
    return 0;
}

static void fs_close(struct store *s) {
    struct fstore *f = (struct fstore *)s;
    free(f->dir);
    free(f);
}

static const struct store_ops file_ops = {.name = "file", .get = fs_get, .put = fs_put, .close = fs_close};

struct store *store_file_open(const char *dir, char **err) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/", dir) >= (int)sizeof(path)) {
        if (err) *err = strdup("file store: directory name too long");
        return NULL;
    }
    struct stat st;
    if (make_parents(path) != 0 || stat(dir, &st) != 0) {
        if (err) *err = errorf("cannot create cache directory", dir, errno);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (err) *err = errorf("cache directory", dir, ENOTDIR);
        return NULL;
    }
    /* someone else's or world-writable directory: entries there could be planted */
    if (st.st_uid != geteuid() || (st.st_mode & S_IWOTH)) {
        if (err) {
            char msg[PATH_MAX + 128];
            snprintf(msg, sizeof(msg), "file store: cache directory %s is %s; refusing to use it", dir,
                     st.st_uid != geteuid() ? "owned by another user" : "world-writable");
            *err = strdup(msg);
        }
        return NULL;
    }
    struct fstore *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = strdup(dir))) {
        free(f);
        if (err) *err = strdup("file store: out of memory");
        return NULL;
    }
    f->base.ops = &file_ops;
    return &f->base;
}
