/* file store: one file per entry under a directory, written to a temporary file and renamed, so
 * a reader sees the old entry, the new one, or none; never half of one. */
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

#define FILE_MAX_ENTRY (256L * 1024 * 1024) /* refuse to read anything larger */

struct held_lock {
    char hex[65];
    int fd; /* holds the flock until unlock closes it */
};

struct fstore {
    struct store base;
    char *dir;
    pthread_mutex_t held_mu;
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
    for (size_t i = 0; i < f->nheld; i++) close(f->held[i].fd);
    free(f->held);
    forksafe_unregister(&f->held_mu);
    pthread_mutex_destroy(&f->held_mu);
    free(f->dir);
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
static int walk_file(struct walk *w, const char *fname, size_t flen) {
    if (flen <= 5 || strcmp(fname + flen - 5, ".json") != 0) return 0;
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
    /* unreadable: handed on empty, so that verify reports it instead of it vanishing */
    int stop = w->fn(&k, rc == 1 && data.data ? data.data : "", rc == 1 ? data.len : 0, w->ud);
    buf_free(&data);
    return stop;
}

/* Visits every *.json under w->path (a directory). Hidden names are skipped: temp files
 * (.tmp-*), the counters (.stats) and the locks (.locks). 1 stopped, 0 done, -1 error. */
static int walk_dir(struct walk *w, int depth) {
    DIR *d = opendir(w->path);
    if (!d) {
        if (depth > 0 && (errno == ENOENT || errno == ENOTDIR)) return 0;
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
            type = lstat(w->path, &st) != 0 ? DT_UNKNOWN : S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR && depth < WALK_MAX_DEPTH) rc = walk_dir(w, depth + 1);
        else if (type == DT_REG) rc = walk_file(w, de->d_name, n);
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
    snprintf(w->path, sizeof(w->path), "%s", f->dir);
    w->rel = strlen(w->path) + 1;
    int rc = walk_dir(w, 0);
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
    if (unlink(path) == 0) return 1;
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    if (err) *err = errorf("cannot remove", path, errno);
    return -1;
}

/* <dir>/<sub>, created 0700 when missing. */
static int sub_dir(const struct fstore *f, const char *sub, char *out, size_t n, char **err) {
    if (snprintf(out, n, "%s/%s", f->dir, sub) >= (int)n) {
        if (err) *err = strdup("file store: directory name too long");
        return -1;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        if (err) *err = errorf("cannot create", out, errno);
        return -1;
    }
    return 0;
}

/* One log per host: hosts sharing the directory over NFS never append to the same file. */
static int fs_add_stats(struct store *s, const struct stats_row *delta, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX], host[65] = "";
    if (sub_dir(f, ".stats", path, sizeof(path) - 80, err) != 0) return -1;
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++)
        if (*p == '/' || (*p == '.' && p == host)) *p = '_';
    size_t n = strlen(path);
    snprintf(path + n, sizeof(path) - n, "/%s.log", host[0] ? host : "localhost");
    struct buf line;
    buf_init(&line);
    if (stats_format_line(delta, &line) != 0 || line.oom || line.len >= PIPE_BUF) {
        buf_free(&line);
        if (err) *err = strdup("file store: cannot format a stats line");
        return -1;
    }
    /* O_APPEND and one write() of less than PIPE_BUF: lines of concurrent writers never mix */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), e = 0;
    ssize_t w = -1;
    if (fd >= 0) {
        do w = write(fd, line.data, line.len); while (w < 0 && errno == EINTR);
        if (w != (ssize_t)line.len) e = w < 0 ? errno : EIO;
        close(fd);
    } else {
        e = errno;
    }
    buf_free(&line);
    if (e) {
        if (err) *err = errorf("cannot append to", path, e);
        return -1;
    }
    return 0;
}

static int fs_get_stats(struct store *s, struct stats_table *t, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.stats", f->dir);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) return 0; /* nothing counted yet */
        if (err) *err = errorf("cannot read directory", path, errno);
        return -1;
    }
    size_t len = strlen(path);
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.' || len + 2 + strlen(de->d_name) > sizeof(path)) continue;
        snprintf(path + len, sizeof(path) - len, "/%s", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        FILE *fp = fd < 0 ? NULL : fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
        if (!fp) {
            if (fd >= 0) close(fd);
            continue;
        }
        ssize_t n;
        while ((n = getline(&line, &cap, fp)) > 0) {
            struct stats_row r;
            /* a line without its newline was cut short: its numbers cannot be trusted */
            if (line[n - 1] != '\n' || stats_parse_line(line, (size_t)n, &r) != 0) continue;
            if (stats_table_add(t, &r) != 0) {
                if (err) *err = strdup("file store: out of memory");
                rc = -1;
                break;
            }
        }
        fclose(fp);
        path[len] = '\0';
    }
    free(line);
    closedir(d);
    return rc;
}

/* <dir>/<sub>/<host>.log, the directory created when missing. */
static int host_log(const struct fstore *f, const char *sub, char *path, size_t n, char **err) {
    char host[65] = "";
    if (sub_dir(f, sub, path, n - 80, err) != 0) return -1;
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++)
        if (*p == '/' || (*p == '.' && p == host)) *p = '_';
    size_t len = strlen(path);
    snprintf(path + len, n - len, "/%s.log", host[0] ? host : "localhost");
    return 0;
}

#define USED_TAG "llmshim-used-v1"

/* One line per key, written in whole lines of less than PIPE_BUF per write(): appends of many
 * processes never mix. A mark lost to a full disk only makes an entry look unused sooner. */
static int fs_mark_used(struct store *s, const char *const *hexes, size_t n, long long when, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    if (host_log(f, ".used", path, sizeof(path), err) != 0) return -1;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (err) *err = errorf("cannot append to", path, errno);
        return -1;
    }
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

static int fs_each_used(struct store *s, void (*fn)(const char *, long long, void *), void *ud, char **err) {
    struct fstore *f = (struct fstore *)s;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.used", f->dir);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) return 0; /* nothing used yet */
        if (err) *err = errorf("cannot read directory", path, errno);
        return -1;
    }
    size_t len = strlen(path);
    char *line = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || len + 2 + strlen(de->d_name) > sizeof(path)) continue;
        snprintf(path + len, sizeof(path) - len, "/%s", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        FILE *fp = fd < 0 ? NULL : fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
        if (!fp) {
            if (fd >= 0) close(fd);
            continue;
        }
        ssize_t n;
        while ((n = getline(&line, &cap, fp)) > 0) {
            char hex[65];
            long long when;
            /* a line without its newline was cut short */
            if (line[n - 1] != '\n' || sscanf(line, USED_TAG "\t%lld\t%64[0-9a-f]\n", &when, hex) != 2 ||
                strlen(hex) != 64)
                continue;
            fn(hex, when, ud);
        }
        fclose(fp);
        path[len] = '\0';
    }
    free(line);
    closedir(d);
    return 0;
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
    if (sub_dir(f, ".locks", path, sizeof(path) - 80, err) != 0) return -1;
    size_t n = strlen(path);
    snprintf(path + n, sizeof(path) - n, "/%s.lock", k->hex);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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

/* A cassette directory is committed: what is only this machine's must not be. Written once,
 * when llmshim makes the directory; a person's own .gitignore is never touched. */
static const char gitignore[] =
    "# Written by llmshim when it made this directory. The entries (*.json) are the cassette; the\n"
    "# hidden files beside them belong to this machine: counters (.stats/), fill locks (.locks/),\n"
    "# usage marks (.used/), saved replay misses (.misses/), the key-scope secret (.secret) and\n"
    "# temporary files.\n"
    ".*\n"
    "!.gitignore\n";

static void write_gitignore(const char *dir) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/.gitignore", dir) >= (int)sizeof(path)) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return; /* there already, or not writable: the store works without it */
    if (write_all(fd, gitignore, sizeof(gitignore) - 1) != 0) unlink(path);
    close(fd);
}

static int has_entries(char *path, size_t cap, int depth) {
    DIR *d = opendir(path);
    if (!d) return depth || errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    size_t len = strlen(path);
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || len + 2 + n > cap) continue;
        snprintf(path + len, cap - len, "/%s", de->d_name);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (S_ISREG(st.st_mode)) found = n > 5 && !strcmp(de->d_name + n - 5, ".json");
            else if (S_ISDIR(st.st_mode) && depth < 4) found = has_entries(path, cap, depth + 1) > 0;
        }
        path[len] = '\0';
    }
    closedir(d);
    return found;
}

int store_file_has_entries(const char *dir) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) return -1;
    return has_entries(path, sizeof(path), 0);
}

struct store *store_file_open(const char *dir, char **err) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/", dir) >= (int)sizeof(path)) {
        if (err) *err = strdup("file store: directory name too long");
        return NULL;
    }
    struct stat st;
    int existed = stat(dir, &st) == 0;
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
    pthread_mutex_init(&f->held_mu, NULL);
    forksafe_register(&f->held_mu);
    f->base.ops = &file_ops;
    if (!existed) write_gitignore(dir);
    return &f->base;
}
