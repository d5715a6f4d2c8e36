/* torture.c: the counting allocators of the torture build (see torture.h; this file itself is
 * compiled without it). LLMSHIM_TORTURE_FAIL_AT=N makes the Nth allocation of the process fail,
 * only that one; LLMSHIM_TORTURE_LOG=FILE gets one line at exit, "allocations=A fail_at=N", so
 * that a driver knows when N has passed the last allocation of a run. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long calls;

static long fail_at(void) {
    const char *v = getenv("LLMSHIM_TORTURE_FAIL_AT");
    return v ? atol(v) : 0;
}

static int fail_now(void) {
    long n = atomic_fetch_add(&calls, 1) + 1;
    if (n != fail_at()) return 0;
    errno = ENOMEM;
    return 1;
}

__attribute__((visibility("hidden"))) void *torture_malloc(size_t n) {
    return fail_now() ? NULL : malloc(n);
}

__attribute__((visibility("hidden"))) void *torture_calloc(size_t n, size_t size) {
    return fail_now() ? NULL : calloc(n, size);
}

__attribute__((visibility("hidden"))) void *torture_realloc(void *p, size_t n) {
    return fail_now() ? NULL : realloc(p, n);
}

__attribute__((visibility("hidden"))) char *torture_strdup(const char *s) {
    return fail_now() ? NULL : strdup(s);
}

__attribute__((visibility("hidden"))) char *torture_strndup(const char *s, size_t n) {
    return fail_now() ? NULL : strndup(s, n);
}

__attribute__((destructor)) static void torture_report(void) {
    const char *path = getenv("LLMSHIM_TORTURE_LOG");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    dprintf(fd, "allocations=%ld fail_at=%ld\n", atomic_load(&calls), fail_at());
    close(fd);
}
