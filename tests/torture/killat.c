/* killat.so: preloaded beside the shim in fault tests, it SIGKILLs the process at one chosen
 * moment of a store, deterministically (LLMSHIM_KILL_AT):
 *   write   in the middle of the first write() to a temporary entry file (.tmp-*): half the
 *           bytes are written, then the process dies;
 *   rename  just before the rename() or renameat() that would publish a temporary entry file.
 * Everything else passes to libc untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int kill_at(const char *what) {
    const char *v = getenv("LLMSHIM_KILL_AT");
    return v && !strcmp(v, what);
}

static int is_temp_entry(int fd) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return strstr(path, "/.tmp-") != NULL;
}

ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (n > 1 && kill_at("write") && is_temp_entry(fd)) {
        real(fd, buf, n / 2);
        kill(getpid(), SIGKILL);
    }
    return real(fd, buf, n);
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
    static int (*real)(int, const char *, int, const char *);
    if (!real) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    if (kill_at("rename") && !strncmp(from, ".tmp-", 5)) kill(getpid(), SIGKILL);
    return real(fromfd, from, tofd, to);
}

int rename(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (kill_at("rename") && strstr(from, "/.tmp-")) kill(getpid(), SIGKILL);
    return real(from, to);
}
