#include "forksafe.h"

#include <stdatomic.h>
#include <unistd.h>

#define MAX_LOCKS 64

static pthread_mutex_t *locks[MAX_LOCKS];
static int nlocks;
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void prepare(void) {
    pthread_mutex_lock(&registry);
    for (int i = 0; i < nlocks; i++) pthread_mutex_lock(locks[i]);
}

static void done(void) {
    for (int i = nlocks; i-- > 0;) pthread_mutex_unlock(locks[i]);
    pthread_mutex_unlock(&registry);
}

static _Atomic pid_t pid; /* 0: not known yet */
static void install(void);

#define MAX_CHILD_FNS 16
struct child_fn {
    void (*fn)(void *);
    void *ud;
};
static struct child_fn child_fns[MAX_CHILD_FNS];
static int nchild_fns;

static void child(void) {
    atomic_store(&pid, 0);
    done();
    for (int i = 0; i < nchild_fns; i++) child_fns[i].fn(child_fns[i].ud);
}

void forksafe_on_child(void (*fn)(void *), void *ud) {
    pthread_once(&once, install);
    pthread_mutex_lock(&registry);
    if (nchild_fns < MAX_CHILD_FNS) child_fns[nchild_fns++] = (struct child_fn){fn, ud};
    pthread_mutex_unlock(&registry);
}

void forksafe_forget_child(void (*fn)(void *), void *ud) {
    pthread_mutex_lock(&registry);
    for (int i = 0; i < nchild_fns; i++)
        if (child_fns[i].fn == fn && child_fns[i].ud == ud) {
            child_fns[i] = child_fns[--nchild_fns];
            break;
        }
    pthread_mutex_unlock(&registry);
}

static void install(void) {
    pthread_atfork(prepare, done, child);
}

pid_t forksafe_pid(void) {
    pid_t p = atomic_load(&pid);
    if (p) return p;
    pthread_once(&once, install); /* from now on a fork() forgets the parent's pid */
    p = getpid();
    atomic_store(&pid, p);
    return p;
}

void forksafe_register(pthread_mutex_t *lock) {
    pthread_once(&once, install);
    pthread_mutex_lock(&registry);
    if (nlocks < MAX_LOCKS) locks[nlocks++] = lock; /* past that: only the fork guarantee is lost */
    pthread_mutex_unlock(&registry);
}

void forksafe_unregister(pthread_mutex_t *lock) {
    pthread_mutex_lock(&registry);
    for (int i = 0; i < nlocks; i++)
        if (locks[i] == lock) {
            locks[i] = locks[--nlocks];
            break;
        }
    pthread_mutex_unlock(&registry);
}
