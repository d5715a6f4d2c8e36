/* dlopen and dlsym, for the programs that reach libcurl without linking it.
 *
 * PHP loads extensions with RTLD_DEEPBIND, so its curl.so binds straight to libcurl and would
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
    dlsym_fn sym = real_dlsym();
    if (!real && sym) *(void **)&real = sym(RTLD_NEXT, "dlopen");
    return real;
}

/* FFI loaders (Ruby ethon, Python ctypes) open libcurl privately and look its functions up
 * with dlsym: for a curl_* function llmshim hooks, they get the hook, and the libcurl behind the
 * handle becomes the one the hook calls. Everything else, RTLD_NEXT and RTLD_DEFAULT lookups
 * included, is the real dlsym, reached by a jump so that it sees the real caller. */
static void *hook_named(const char *name) {
#define X(fn, ret, args) if (!strcmp(name, #fn)) return (void *)fn;
    HOOKED_FUNCTIONS(X)
#undef X
    return NULL;
}

HOOK_EXPORT void *dlsym(void *handle, const char *name) {
    dlsym_fn real = real_dlsym();
    if (!real) return NULL;
    if (handle != RTLD_NEXT && handle != RTLD_DEFAULT && !strncmp(name, "curl_", 5)) {
        void *ours = hook_named(name);
        if (ours) {
            void *sym = real(handle, name);
            if (sym && sym != ours && real_register_ffi(handle)) return ours;
            return sym;
        }
    }
    return real(handle, name);
}

HOOK_EXPORT void *dlopen(const char *file, int mode) {
    dlopen_fn real = real_dlopen();
    if (!real) return NULL;
    if ((mode & RTLD_DEEPBIND) && file && curl_binding(file)) mode &= ~RTLD_DEEPBIND;
    return real(file, mode);
}
