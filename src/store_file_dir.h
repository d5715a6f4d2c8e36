/* store_file_dir: the file store's directory, held safely (see store_file_dir.c). */
#ifndef LLMSHIM_STORE_FILE_DIR_H
#define LLMSHIM_STORE_FILE_DIR_H

#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fdir {
    char *dir;          /* as configured (relative: from the working directory) */
    int dfd;            /* the checked directory; -1 until opened */
    dev_t dev;
    ino_t ino;
    pthread_mutex_t mu; /* dfd, when it is opened again */
};

/* Checks every directory from / down to f->dir (owned by the user or root; not writable by
 * others unless sticky; the directory itself never writable by others), creating missing ones
 * 0700, then holds it open. Says once when it is group-writable. 0, or -1 with *err. */
int fdir_open(struct fdir *f, char **err);
/* The held descriptor, opened and checked again when the directory was removed. -1 with *err. */
int fdir_fd(struct fdir *f, char **err);
/* The directory holding name's last component (*leaf), walked one component at a time without
 * following links, created 0700 on the way when create. Close the result; -1 with errno. */
int fdir_parent(int dfd, const char *name, int create, const char **leaf);
/* name opened for reading: -1 (errno) when it cannot be opened, -2 when it is there but not a
 * regular file of this user's. Never blocks on a FIFO. */
int fdir_open_entry(int dfd, const char *name, struct stat *st);
/* A regular file of this user's in dir, opened (flags | O_NOFOLLOW | O_NONBLOCK, mode 0600). */
int fdir_open_regular(int dir, const char *name, int flags);

/* Writes the cache directory's own .gitignore (.stats/, .locks/, .secret, ...) when it has none:
 * a cassette directory is committed, what is only this machine's must not be. */
void fdir_write_gitignore(struct fdir *f);

#endif
