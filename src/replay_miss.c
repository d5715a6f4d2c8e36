/* replay_miss: what a replay miss says, in the process that missed, so that a CI log reads like
 * a test failure: the nearest recorded request and the JSON paths that differ, the new request
 * saved where the printed command finds it, and one summary line at exit. It runs inside other
 * people's programs: the search is bounded (files, bytes, time), it reads only entries under the
 * cache directory and writes only its .misses/ directory, and any failure just says less. */
#include "replay_miss.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsondiff.h"
#include "log.h"
#include "nearest.h"

#define SCAN_FILES 2000                    /* entries looked at, at most */
#define SCAN_BYTES (64L * 1024 * 1024)     /* bytes read, at most */
#define SCAN_ENTRY_MAX (8L * 1024 * 1024)  /* a larger file is skipped */
#define SCAN_US 2000000                    /* time spent, at most */
#define SHOWN_PATHS 5

struct scan {
    struct nearest *n;
    size_t files;
    long long bytes, deadline;
    char path[PATH_MAX];
    size_t rel; /* where the name relative to the cache directory starts in path */
};

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int spent(const struct scan *s) {
    return s->files >= SCAN_FILES || s->bytes >= SCAN_BYTES || now_us() > s->deadline;
}

static void consider_file(struct scan *s) {
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SCAN_ENTRY_MAX) {
        close(fd);
        return;
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *data = malloc(want + 1);
    while (data && got < want) {
        ssize_t r = read(fd, data + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    s->files++;
    s->bytes += (long long)got;
    struct entry e;
    if (data && got == want && entry_decode(&e, data, got) == 0) {
        nearest_consider(s->n, &e, s->path + s->rel);
        entry_free(&e);
    }
    free(data);
}

/* Every *.json under s->path, hidden names skipped (the counters, locks, saved misses). */
static void scan_dir(struct scan *s, int depth) {
    DIR *d = opendir(s->path);
    if (!d) return;
    size_t len = strlen(s->path);
    struct dirent *de;
    while (!spent(s) && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || len + 2 + n > sizeof(s->path)) continue;
        snprintf(s->path + len, sizeof(s->path) - len, "/%s", de->d_name);
        struct stat st;
        if (lstat(s->path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && depth < 4) scan_dir(s, depth + 1);
            else if (S_ISREG(st.st_mode) && n > 5 && !strcmp(de->d_name + n - 5, ".json")) consider_file(s);
        }
        s->path[len] = '\0';
    }
    closedir(d);
}

/* The entries of the same provider and model first (one directory of the layout), then all. */
static void find_nearest(struct nearest *n, const char *dir, const char *name) {
    struct scan *s = calloc(1, sizeof(*s));
    if (!s) return;
    s->n = n;
    s->deadline = now_us() + SCAN_US;
    const char *slash = strrchr(name, '/');
    snprintf(s->path, sizeof(s->path), "%s", dir);
    s->rel = strlen(s->path) + 1;
    if (slash && s->rel + (size_t)(slash - name) < sizeof(s->path)) {
        snprintf(s->path + s->rel - 1, sizeof(s->path) - s->rel + 1, "/%.*s", (int)(slash - name), name);
        scan_dir(s, 2);
        s->path[s->rel - 1] = '\0';
    }
    if (n->rank != NEAR_URL_MODEL) { /* seen again are compared again: harmless */
        n->seen = n->same_url = 0;
        scan_dir(s, 0);
    }
    free(s);
}

/* Writes the request body to <dir>/.misses/<key16>.json (0600, temp file and rename); the path
 * in out. 0, or -1 with why in out. */
static int save_request(const char *dir, const struct call *c, char *out, size_t size) {
    char sub[PATH_MAX], tmp[64], name[32];
    snprintf(sub, sizeof(sub), "%s/.misses", dir);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) goto fail;
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) goto fail;
    snprintf(name, sizeof(name), "%.16s.json", c->hex);
    snprintf(tmp, sizeof(tmp), ".tmp-%ld-%.16s", (long)getpid(), c->hex);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ok = fd >= 0;
    for (size_t off = 0; ok && off < c->body.len;) {
        ssize_t w = write(fd, c->body.data + off, c->body.len - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    if (fd >= 0 && close(fd) != 0) ok = 0;
    if (ok && renameat(dfd, tmp, dfd, name) != 0) ok = 0;
    int e = errno;
    if (!ok && fd >= 0) unlinkat(dfd, tmp, 0);
    close(dfd);
    errno = e;
    if (!ok) goto fail;
    snprintf(out, size, "%s/%s", sub, name);
    return 0;
fail:
    snprintf(out, size, "cannot save it in %s: %s", sub, strerror(errno));
    return -1;
}

/* s as one shell word: 'it'\''s' */
static void shell_word(struct buf *b, const char *s) {
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') buf_puts(b, "'\\''");
        else buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

static const char *ago(long long s, char *out, size_t n) {
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, n, "%llds", s);
    else if (s < 7200) snprintf(out, n, "%lldm", s / 60);
    else if (s < 172800) snprintf(out, n, "%lldh", s / 3600);
    else snprintf(out, n, "%lldd", s / 86400);
    return out;
}

static void describe_nearest(struct buf *b, const struct nearest *n, const struct call *c) {
    char age[32];
    if (n->rank == NEAR_NONE) {
        buf_printf(b, "llmshim:   no recorded request to this URL or model among %zu entries\n", n->seen);
        return;
    }
    struct jsondiff d;
    jsondiff(&d, n->body.data ? n->body.data : "", n->body.len, n->body_json, c->body.data ? c->body.data : "",
             c->body.len, c->body_json, SHOWN_PATHS);
    buf_printf(b, "llmshim:   nearest recorded: %s (%s, recorded %s ago); %zu JSON path%s differ%s:\n",
               n->name ? n->name : n->hex, nearest_rank_text(n->rank), ago((long long)time(NULL) - n->created, age, sizeof(age)),
               d.total, d.total == 1 ? "" : "s", d.total == 1 ? "s" : "");
    if (n->rank == NEAR_MODEL) buf_printf(b, "llmshim:     URL: %s → %s\n", n->url ? n->url : "?", c->safe_url);
    for (size_t i = 0; i < d.n; i++) {
        const struct jsondiff_item *it = &d.items[i];
        if (!it->path[0]) buf_puts(b, "llmshim:     the whole body (not JSON on both sides)\n");
        else buf_printf(b, "llmshim:     %s: %s → %s\n", it->path, it->a ? it->a : "(absent)", it->b ? it->b : "(absent)");
    }
    if (d.total > d.n) buf_printf(b, "llmshim:     ... and %zu more\n", d.total - d.n);
    jsondiff_free(&d);
}

/* ---- the summary at exit ------------------------------------------------------------------ */

static atomic_long misses;
static atomic_int first_taken;
static pid_t miss_pid;
static char first[600];

static void count_miss(const struct call *c) {
    if (miss_pid != getpid()) { /* a fork()ed child counts its own */
        miss_pid = getpid();
        atomic_store(&misses, 0);
        atomic_store(&first_taken, 0);
    }
    if (atomic_fetch_add(&misses, 1) == 0 && !atomic_exchange(&first_taken, 1))
        snprintf(first, sizeof(first), "POST %s (model %s) key %.12s", c->safe_url, c->model ? c->model : "-", c->hex);
}

__attribute__((destructor)) static void miss_summary(void) {
    long n = atomic_load(&misses);
    if (!n || miss_pid != getpid()) return;
    log_line("%ld replay miss%s in this run; first: %s", n, n == 1 ? "" : "es", first);
}

/* ---- the report --------------------------------------------------------------------------- */

void replay_miss_report(const struct config *cfg, const struct call *c) {
    int saved_errno = errno;
    count_miss(c);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "llmshim: replay miss: POST %s key %s (model %s)\n", c->safe_url, c->hex, c->model ? c->model : "-");
    if (cfg->backend != BACKEND_FILE || !cfg->dir) { /* a shared store is not searched from here */
        buf_printf(&b, "llmshim:   to see why, with the request body in request.json: llmshim key --explain --url ");
        shell_word(&b, c->safe_url);
        buf_puts(&b, " < request.json\n");
    } else {
        struct nearest n;
        nearest_init(&n, c);
        find_nearest(&n, cfg->dir, c->name);
        describe_nearest(&b, &n, c);
        nearest_free(&n);
        char saved[PATH_MAX + 64];
        int ok = save_request(cfg->dir, c, saved, sizeof(saved)) == 0;
        buf_puts(&b, "llmshim:   to compare: llmshim --dir ");
        shell_word(&b, cfg->dir);
        if (cfg->ns) {
            buf_puts(&b, " --namespace ");
            shell_word(&b, cfg->ns);
        }
        buf_puts(&b, " --mode replay key --explain --url ");
        shell_word(&b, c->safe_url);
        buf_puts(&b, " < ");
        if (ok) shell_word(&b, saved);
        else buf_printf(&b, "request.json (the request was not saved: %s)", saved);
        buf_putc(&b, '\n');
    }
    if (!b.oom) {
        ssize_t w = write(2, b.data, b.len); /* one write: lines of two threads do not mix */
        (void)w;
    }
    buf_free(&b);
    errno = saved_errno;
}
