/* forksafe: a fork() while another thread holds one of llmshim's locks must not hand the child
 * a lock nobody will ever release. Registered locks are all taken just before fork() and
 * released just after, in parent and child. */
#ifndef LLMSHIM_FORKSAFE_H
#define LLMSHIM_FORKSAFE_H

#include <pthread.h>
#include <sys/types.h>

/* Register while the lock is free; unregister before destroying it. Never nest registered
 * locks in an order other than registration order (none of llmshim's are nested). */
void forksafe_register(pthread_mutex_t *lock);
void forksafe_unregister(pthread_mutex_t *lock);
/* fn(ud) runs in a fork()ed child, after the locks are released: to drop what only the parent
 * may hold. Up to 16. */
void forksafe_on_child(void (*fn)(void *), void *ud);
void forksafe_forget_child(void (*fn)(void *), void *ud);
/* getpid() without a system call on every request: cached, forgotten in a fork()ed child. */
pid_t forksafe_pid(void);

#endif
