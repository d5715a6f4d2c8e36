/* PHP loads extensions with RTLD_DEEPBIND, so its curl.so binds straight to libcurl and would
 * never reach llmshim. For a library named like a curl binding, the flag is cleared; every other
 * dlopen passes through unchanged. The call to the real dlopen is the function's last act, which
 * gcc compiles to a jump: glibc then sees the application, not llmshim, as the caller (its
 * RUNPATH and $ORIGIN keep working). tests/e2e check that with a RUNPATH program. */
#include <dlfcn.h>
#include <string.h>

#include "hook.h"

typedef void *(*dlopen_fn)(const char *, int);

static int curl_binding(const char *file) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    return strncmp(base, "curl.", 5) == 0 || strstr(base, "curl") != NULL;
}

static dlopen_fn real_dlopen(void) {
    static dlopen_fn real; /* a race only stores the same value twice */
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "dlopen");
    return real;
}

HOOK_EXPORT void *dlopen(const char *file, int mode) {
    dlopen_fn real = real_dlopen();
    if (!real) return NULL;
    if ((mode & RTLD_DEEPBIND) && file && curl_binding(file)) mode &= ~RTLD_DEEPBIND;
    return real(file, mode);
}
