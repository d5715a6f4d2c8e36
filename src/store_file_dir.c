/* The file store's directory: checked once (it and every directory above it), held as a
 * descriptor, and every path below it walked one component at a time without following links
 * (store_file.c explains why). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_file_dir.h"

#define NAME_DEPTH 8 /* provider/model/x.json, .locks/x.lock: far fewer */

static char *refusal(const char *dir, const char *why) {
    char msg[PATH_MAX + 160];
    snprintf(msg, sizeof(msg), "file store: cache directory %s %s; refusing to use it", dir, why);
    return strdup(msg);
}

static char *errorf(const char *what, const char *path, int e) {
    char msg[PATH_MAX + 128];
    snprintf(msg, sizeof(msg), "file store: %s %s: %s", what, path, strerror(e));
    return strdup(msg);
}

/* A directory someone else could change under us: another user's, or writable by all without
 * the sticky bit. The cache directory itself must not be writable by all at all. */
static const char *unsafe(const struct stat *st, int last) {
    if (!S_ISDIR(st->st_mode)) return "is not a directory";
    if (st->st_uid != geteuid() && st->st_uid != 0) return last ? "is owned by another user" : "is inside a directory owned by another user";
    if (st->st_mode & S_IWOTH) {
        if (last) return "is world-writable";
        if (!(st->st_mode & S_ISVTX)) return "is inside a world-writable directory";
    }
    return NULL;
}

/* Checks every directory from / down to dir, creating the missing ones 0700, then opens dir. */
int fdir_open(struct fdir *f, char **err) {
    char path[PATH_MAX], cwd[PATH_MAX] = "";
    if (f->dir[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
        if (err) *err = errorf("cannot resolve the cache directory", f->dir, errno);
        return -1;
    }
    if (snprintf(path, sizeof(path), "%s%s%s", cwd, cwd[0] ? "/" : "", f->dir) >= (int)sizeof(path)) {
        if (err) *err = strdup("file store: cache directory name too long");
        return -1;
    }
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') path[--len] = '\0';
    for (char *p = path + 1;; p++) {
        int last = *p == '\0';
        if (*p != '/' && !last) continue;
        *p = '\0';
        struct stat st;
        if (stat(path, &st) != 0) {
            if (errno != ENOENT || mkdir(path, 0700) != 0 || stat(path, &st) != 0) {
                if (err) *err = errorf("cannot create cache directory", path, errno);
                return -1;
            }
        }
        const char *why = unsafe(&st, last);
        if (why) {
            if (err) *err = refusal(f->dir, why);
            return -1;
        }
        if (last) break;
        *p = '/';
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (err) *err = errorf("cannot open cache directory", path, errno);
        if (fd >= 0) close(fd);
        return -1;
    }
    const char *why = unsafe(&st, 1); /* what was opened, not what was checked a moment ago */
    if (why) {
        close(fd);
        if (err) *err = refusal(f->dir, why);
        return -1;
    }
    if (st.st_mode & S_IWGRP) {
        static atomic_int said;
        if (!atomic_exchange(&said, 1))
            log_line("cache directory %s is group-writable: anyone in its group could plant answers (chmod g-w)", f->dir);
    }
    if (f->dfd >= 0) close(f->dfd);
    f->dfd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return 0;
}

/* The directory's descriptor, opened again (and checked again) when the directory was removed. */
int fdir_fd(struct fdir *f, char **err) {
    pthread_mutex_lock(&f->mu);
    struct stat st;
    int rc = 0;
    if (f->dfd < 0 || fstat(f->dfd, &st) != 0 || st.st_nlink == 0) rc = fdir_open(f, err);
    int fd = rc == 0 ? f->dfd : -1;
    pthread_mutex_unlock(&f->mu);
    return fd;
}

/* Opens the directory that holds name's last component, one component at a time without
 * following links (mkdir 0700 on the way when create). Returns its descriptor (the caller
 * closes it) and *leaf, the last component; -1 with errno. */
int fdir_parent(int dfd, const char *name, int create, const char **leaf) {
    if (!name || !*name || name[0] == '/' || strstr(name, "..")) {
        errno = EINVAL;
        return -1;
    }
    int cur = dup(dfd);
    const char *p = name;
    for (int depth = 0; cur >= 0; depth++) {
        const char *slash = strchr(p, '/');
        if (!slash) {
            *leaf = p;
            return cur;
        }
        char comp[NAME_MAX + 1];
        size_t n = (size_t)(slash - p);
        if (!n || n > NAME_MAX || depth >= NAME_DEPTH) {
            close(cur);
            errno = EINVAL;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (create && mkdirat(cur, comp, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            errno = e;
            return -1;
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        errno = e;
        cur = next;
        p = slash + 1;
    }
    return -1;
}

/* Opens name for reading: a regular file of ours, never a FIFO, device or link. */
int fdir_open_entry(int dfd, const char *name, struct stat *st) {
    const char *leaf;
    int dir = fdir_parent(dfd, name, 0, &leaf);
    if (dir < 0) return -1;
    int fd = openat(dir, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    int e = errno;
    close(dir);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_uid != geteuid()) {
        close(fd);
        errno = EPERM;
        return -2; /* there, but not an entry of ours */
    }
    return fd;
}

/* A regular file in dir, opened never blocking (a FIFO there is refused, not waited on). */
int fdir_open_regular(int dir, const char *name, int flags) {
    int fd = openat(dir, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}


/* A cassette directory is committed: what is only this machine's must not be. Written once,
 * when llmshim makes the directory; a person's own .gitignore is never touched. */
static const char gitignore[] =
    "# Written by llmshim when it made this directory. The entries (*.json) are the cassette; the\n"
    "# hidden files beside them belong to this machine: counters (.stats/), fill locks (.locks/),\n"
    "# usage marks (.used/), saved replay misses (.misses/), the key-scope secret (.secret) and\n"
    "# temporary files.\n"
    ".*\n"
    "!.gitignore\n";

void fdir_write_gitignore(struct fdir *f) {
    int fd = openat(f->dfd, ".gitignore", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return; /* there already, or not writable: the store works without it */
    size_t n = sizeof(gitignore) - 1;
    ssize_t w;
    do w = write(fd, gitignore, n); while (w < 0 && errno == EINTR);
    close(fd);
    if (w != (ssize_t)n) unlinkat(f->dfd, ".gitignore", 0);
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

