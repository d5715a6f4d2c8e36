/* Which libcurl to call, and whether a call comes from libcurl itself. A program that links
 * libcurl normally is served by dlsym(RTLD_NEXT). Python's pycurl and FFI loaders load their
 * libcurl RTLD_LOCAL, where RTLD_NEXT finds nothing or another libcurl; for those, the caller's
 * own object is reopened and searched, which finds the libcurl it is linked against. Results are
 * cached per calling object. Every libcurl found this way has its code's address range noted:
 * a hook called from inside one of them is libcurl calling its own API. */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "forksafe.h"
#include "hook.h"

#define MAX_OBJECTS 16

static struct real_api next_api;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;
static void *self_base;

/* The libcurl an FFI loader (Ruby ethon, Python ctypes) opened privately and looked up with
 * dlsym: calls through libffi come from an object that links no libcurl, so they use this. */
static struct real_api ffi_api;
static int ffi_ready;
static pthread_mutex_t ffi_lock = PTHREAD_MUTEX_INITIALIZER;

/* glibc's own dlsym: llmshim interposes dlsym, and must not look up through itself. */
dlsym_fn real_dlsym(void) {
    static dlsym_fn real; /* a race only stores the same value twice */
    if (!real) *(void **)&real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!real) *(void **)&real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    return real;
}

static struct {
    void *base;
    struct real_api api;
} objects[MAX_OBJECTS];
static int nobjects;
static pthread_mutex_t objects_lock = PTHREAD_MUTEX_INITIALIZER;

/* The loaded libcurls' address ranges. Written under ranges_lock, read without it: a range is
 * filled before the count that publishes it. */
#define MAX_LIBCURLS 8
static struct {
    uintptr_t lo, hi;
} ranges[MAX_LIBCURLS];
static atomic_int nranges;
static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;

struct range_search {
    uintptr_t addr, lo, hi;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct range_search *s = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo) lo = a;
        if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    }
    if (s->addr < lo || s->addr >= hi) return 0;
    s->lo = lo;
    s->hi = hi;
    return 1;
}

static int in_libcurl(const void *caller) {
    uintptr_t a = (uintptr_t)caller;
    int n = atomic_load_explicit(&nranges, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (a >= ranges[i].lo && a < ranges[i].hi) return 1;
    return 0;
}

/* Notes the object that holds fn (a real libcurl function) as a libcurl. */
static void note_libcurl(void *fn) {
    if (!fn || in_libcurl(fn)) return;
    struct range_search s = {(uintptr_t)fn, 0, 0};
    if (!dl_iterate_phdr(find_object, &s)) return;
    pthread_mutex_lock(&ranges_lock);
    int n = atomic_load(&nranges);
    if (n < MAX_LIBCURLS && !in_libcurl(fn)) {
        ranges[n].lo = s.lo;
        ranges[n].hi = s.hi;
        atomic_store(&nranges, n + 1);
    }
    pthread_mutex_unlock(&ranges_lock);
}


/* A symbol inside llmshim itself would be a loop, never a real function. */
static void *not_self(void *sym) {
    Dl_info info;
    if (!sym) return NULL;
    if (dladdr(sym, &info) && info.dli_fbase == self_base) return NULL;
    return sym;
}

static void resolve(struct real_api *api, void *handle) {
    dlsym_fn sym = real_dlsym();
    if (!sym) return;
#define X(name, ret, args) *(void **)&api->name = not_self(sym(handle, #name));
    HOOKED_FUNCTIONS(X)
#undef X
    *(void **)&api->curl_url_get = sym(handle, "curl_url_get");
    *(void **)&api->curl_free = sym(handle, "curl_free");
    note_libcurl((void *)api->curl_easy_perform);
}

/* A libcurl is found when its easy API is; an older one may lack some multi functions, and
 * each hook checks its own pointer before calling it. */
static int complete(const struct real_api *api) {
    return api->curl_easy_init && api->curl_easy_setopt && api->curl_easy_perform &&
           api->curl_easy_getinfo && api->curl_easy_cleanup;
}

static void next_init(void) {
    /* a fork while another thread holds one of these locks must not leave the child stuck */
    forksafe_register(&objects_lock);
    forksafe_register(&ffi_lock);
    forksafe_register(&ranges_lock);
    handle_forksafe();
    multi_forksafe();
    Dl_info info;
    if (dladdr((void *)real_for_caller, &info)) self_base = info.dli_fbase;
    resolve(&next_api, RTLD_NEXT);
}

int real_register_ffi(void *handle) {
    pthread_once(&next_once, next_init);
    pthread_mutex_lock(&ffi_lock);
    if (!ffi_ready) {
        struct real_api api;
        memset(&api, 0, sizeof(api));
        resolve(&api, handle);
        if (complete(&api)) {
            ffi_api = api;
            ffi_ready = 1;
        }
    }
    int ok = ffi_ready;
    pthread_mutex_unlock(&ffi_lock);
    return ok;
}

/* For an object that links no libcurl: what RTLD_NEXT found, else the FFI-opened libcurl. */
static const struct real_api *fallback(void) {
    if (complete(&next_api)) return &next_api;
    pthread_mutex_lock(&ffi_lock);
    int ready = ffi_ready;
    pthread_mutex_unlock(&ffi_lock);
    return ready ? &ffi_api : &next_api;
}

int hook_from_libcurl(const void *caller) {
    pthread_once(&next_once, next_init);
    return in_libcurl(caller);
}

const struct real_api *real_for_caller(const void *caller) {
    pthread_once(&next_once, next_init);
    Dl_info info;
    if (!caller || !dladdr(caller, &info) || !info.dli_fname || !info.dli_fname[0] ||
        info.dli_fbase == self_base)
        return fallback();
    const struct real_api *found = NULL;
    pthread_mutex_lock(&objects_lock);
    for (int i = 0; i < nobjects && !found; i++)
        if (objects[i].base == info.dli_fbase) found = &objects[i].api;
    if (!found && nobjects < MAX_OBJECTS) {
        struct real_api api;
        memset(&api, 0, sizeof(api));
        void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            resolve(&api, h);
            dlclose(h);
        }
        /* the main program's scope includes llmshim and finds nothing real: RTLD_NEXT is right */
        if (complete(&api)) {
            objects[nobjects].base = info.dli_fbase;
            objects[nobjects].api = api;
            found = &objects[nobjects].api;
            nobjects++;
        }
    }
    pthread_mutex_unlock(&objects_lock);
    return found ? found : fallback();
}
