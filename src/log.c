/* log: one "llmshim: ..." line on the stderr the program started with. Writing it must never
 * raise a signal in the host (SIGPIPE when nobody reads stderr) nor land in a file the program
 * opened on descriptor 2 after closing its stderr. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What descriptor 2 was when llmshim was loaded: 0 = closed then, 1 = known (dev, ino). */
static int stderr_state = -1;
static dev_t stderr_dev;
static ino_t stderr_ino;

__attribute__((constructor)) static void note_stderr(void) {
    struct stat st;
    int saved = errno;
    stderr_state = fstat(2, &st) == 0;
    if (stderr_state) {
        stderr_dev = st.st_dev;
        stderr_ino = st.st_ino;
    }
    errno = saved;
}

/* Still the stderr the program started with (not a file it opened on descriptor 2 since). */
static int stderr_ours(void) {
    if (stderr_state < 0) return 1; /* loaded without constructors (a static test binary) */
    struct stat st;
    return stderr_state && fstat(2, &st) == 0 && st.st_dev == stderr_dev && st.st_ino == stderr_ino;
}

/* write(2) with SIGPIPE held back: a pipe nobody reads gives EPIPE, not a dead program. A
 * SIGPIPE that was pending before is left pending; one raised by this write is taken back. */
static void write_quietly(const char *p, size_t n) {
    if (send(2, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 || errno != ENOTSOCK) return; /* a socket */
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w = write(2, p, n);
    if (w < 0 && errno == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void log_line(const char *fmt, ...) {
    char line[1024];
    int saved = errno; /* the host program must not see our errno */
    if (!stderr_ours()) return;
    int n = snprintf(line, sizeof(line), "llmshim: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    write_quietly(line, len);
    errno = saved;
}
