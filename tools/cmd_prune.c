/* llmshim prune / purge / verify: keep the cache small and sound. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmshim.h"

#define TMP_STALE_S 3600 /* a writer renames its temp file within seconds: an hour means it died */

static const char usage_prune[] =
    "usage: llmshim prune [--expired] [--older-than AGE] [--unused-since WHEN] [--max-size SIZE]\n"
    "                     [--dry-run]\n"
    "\n"
    "Removes entries, and temporary files (.tmp-*) that a killed process left behind more\n"
    "than an hour ago. Without criteria, prunes --expired.\n"
    "\n"
    "  --expired         entries past their TTL\n"
    "  --older-than AGE  entries created more than AGE ago (30d, 12h, 90m, 2w, seconds)\n"
    "  --unused-since WHEN\n"
    "                    entries that answered no request since WHEN and were recorded\n"
    "                    before it: @UNIXTIME (date +%s), an age (2h, 30d) or a UTC date\n"
    "  --max-size SIZE   then the oldest entries until the rest fit in SIZE (500M, 2G, bytes)\n"
    "  --dry-run         list what would be removed; remove nothing\n"
    "\n"
    "Corrupt entries are left alone (llmshim verify names them).\n";

static const char usage_purge[] =
    "usage: llmshim purge [--yes]\n"
    "\n"
    "Removes every entry of the cache (the statistics are kept). Asks first when stdin is\n"
    "a terminal; otherwise --yes is required.\n";

static const char usage_verify[] =
    "usage: llmshim verify\n"
    "\n"
    "Reads and decodes every entry and names each corrupt one with the reason, and each\n"
    "expired one (a warning: replay still serves it). Exit status 1 when any is corrupt,\n"
    "or when the cache holds no entry at all or does not exist.\n";

/* ---- stale temporary files (file backend) ------------------------------------------------- */

struct sweep {
    long long now;
    int dry;
    size_t n;
    char path[PATH_MAX];
};

static void sweep_dir(struct sweep *w, int depth) {
    DIR *d = opendir(w->path);
    if (!d) return;
    size_t len = strlen(w->path);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || len + 2 + strlen(n) > sizeof(w->path)) continue;
        snprintf(w->path + len, sizeof(w->path) - len, "/%s", n);
        struct stat st;
        if (lstat(w->path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && n[0] != '.' && depth < 8) {
                sweep_dir(w, depth + 1);
            } else if (S_ISREG(st.st_mode) && !strncmp(n, ".tmp-", 5) && w->now - st.st_mtime > TMP_STALE_S) {
                if (w->dry) printf("would remove %s (temporary file left by a killed process)\n", w->path);
                if (w->dry || unlink(w->path) == 0) w->n++;
            }
        }
        w->path[len] = '\0';
    }
    closedir(d);
}

static size_t sweep_temp(int dry) {
    const struct config *cfg = tool_config();
    if (cfg->backend != BACKEND_FILE) return 0;
    struct sweep *w = calloc(1, sizeof(*w));
    if (!w) die(EXIT_FAIL, "out of memory");
    w->now = tool_now();
    w->dry = dry;
    snprintf(w->path, sizeof(w->path), "%s", cfg->dir);
    sweep_dir(w, 0);
    size_t n = w->n;
    free(w);
    return n;
}

/* Fill-lock files nobody holds (a file-store directory's .locks/): taken with a non-blocking
 * flock first, so a prompt being fetched right now keeps its lock. One removed under a process
 * that opened it a moment before only costs a second fetch of that prompt, never an answer. */
static size_t sweep_locks(int dry) {
    const struct config *cfg = tool_config();
    if (cfg->backend != BACKEND_FILE) return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.locks", cfg->dir);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return 0;
    }
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".lock")) continue;
        int fd = openat(dfd, de->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0) continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            (dry || unlinkat(dfd, de->d_name, 0) == 0))
            n++;
        close(fd);
    }
    closedir(d);
    return n;
}

/* ---- removing ----------------------------------------------------------------------------- */

static int by_created(const void *a, const void *b) {
    const struct rec *x = *(const struct rec *const *)a, *y = *(const struct rec *const *)b;
    return x->created < y->created ? -1 : x->created > y->created;
}

/* 0 removed (or already gone), -1 failed (reported). */
static int remove_rec(struct store *s, const struct rec *r) {
    struct store_key k = {r->hex, r->name};
    char *err = NULL;
    int rc = s->ops->del(s, &k, &err);
    if (rc < 0) note("cannot remove %s: %s", rec_label(r), err ? err : "?");
    free(err);
    return rc < 0 ? -1 : 0;
}

int cmd_prune(int argc, char **argv) {
    int expired = 0, dry = 0;
    long long older = -1, max_size = -1, since = -1;
    const char *v;
    if (wants_help(argc, argv)) return help(usage_prune);
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "--expired")) expired = 1;
        else if (flag(argv[i], "--dry-run")) dry = 1;
        else if (opt(argc, argv, &i, "--older-than", &v, usage_prune)) {
            if (parse_duration(v, &older) != 0)
                return usage_error(usage_prune, "--older-than '%s' is not an age (e.g. 30d, 12h, 90m)", v);
        } else if (opt(argc, argv, &i, "--unused-since", &v, usage_prune)) {
            if (parse_when(v, tool_now(), &since) != 0)
                return usage_error(usage_prune, "--unused-since '%s' is not a time (@UNIXTIME, an age like 2h, or 2025-06-01)", v);
        } else if (opt(argc, argv, &i, "--max-size", &v, usage_prune)) {
            if (parse_bytes(v, &max_size) != 0)
                return usage_error(usage_prune, "--max-size '%s' is not a size (e.g. 500M, 2G)", v);
        } else {
            return bad_arg(usage_prune, argv[i]);
        }
    }
    if (older < 0 && max_size < 0 && since < 0) expired = 1;
    struct store *s = open_backend(1);
    if (!s->ops->del) die(EXIT_FAIL, "the %s backend cannot remove entries", s->ops->name);
    struct recs r;
    recs_load(s, &r, "reading entries:", 0);
    if (since >= 0) recs_load_used(s, &r);
    long long now = tool_now(), total = 0, freed = 0;
    size_t removed = 0, bad = 0, failed = 0, nkeep = 0;
    struct rec **keep = calloc(r.n + 1, sizeof(*keep));
    if (!keep) die(EXIT_FAIL, "out of memory");
    for (size_t i = 0; i < r.n; i++) {
        struct rec *x = &r.v[i];
        const char *why = x->bad                                        ? NULL
                          : expired && x->ttl && x->created + x->ttl <= now ? "expired"
                          : older >= 0 && now - x->created > older        ? "older than --older-than"
                          : since >= 0 && rec_unused(x, since)           ? "not used since --unused-since"
                                                                          : NULL;
        bad += x->bad != NULL;
        total += (long long)x->size;
        if (!why) {
            if (!x->bad) keep[nkeep++] = x;
            continue;
        }
        if (dry) printf("would remove %s (%s)\n", rec_label(x), why);
        if (!dry && remove_rec(s, x) != 0) {
            failed++;
            continue;
        }
        removed++;
        freed += (long long)x->size;
        progress("removed", removed);
    }
    if (max_size >= 0 && total - freed > max_size) {
        qsort(keep, nkeep, sizeof(*keep), by_created);
        for (size_t i = 0; i < nkeep && total - freed > max_size; i++) {
            if (dry) printf("would remove %s (oldest while over --max-size)\n", rec_label(keep[i]));
            if (!dry && remove_rec(s, keep[i]) != 0) {
                failed++;
                continue;
            }
            removed++;
            freed += (long long)keep[i]->size;
            progress("removed", removed);
        }
    }
    progress_done();
    size_t tmp = sweep_temp(dry), locks = sweep_locks(dry);
    char fsz[16], rsz[16];
    fmt_size(fsz, sizeof(fsz), freed);
    fmt_size(rsz, sizeof(rsz), total - freed);
    printf("%s %zu entr%s (%s) and %zu stale temporary file%s; %zu entr%s (%s) remain\n",
           dry ? "would remove" : "removed", removed, removed == 1 ? "y" : "ies", fsz, tmp, tmp == 1 ? "" : "s",
           r.n - removed, r.n - removed == 1 ? "y" : "ies", rsz);
    if (locks) printf("%s %zu unused lock file%s\n", dry ? "would remove" : "removed", locks, locks == 1 ? "" : "s");
    if (bad) note("%zu corrupt entr%s left alone (llmshim verify names them)", bad, bad == 1 ? "y" : "ies");
    free(keep);
    recs_free(&r);
    store_close(s);
    return failed ? EXIT_FAIL : 0;
}

static int confirm(size_t n) {
    if (!isatty(0)) {
        note("refusing to remove %zu entr%s of %s without confirmation: stdin is not a terminal; "
             "run 'llmshim purge --yes'", n, n == 1 ? "y" : "ies", backend_label());
        return 0;
    }
    fprintf(stderr, "Remove all %zu entr%s of %s? [y/N] ", n, n == 1 ? "y" : "ies", backend_label());
    char line[16] = "";
    if (!fgets(line, sizeof(line), stdin)) return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

/* 1 when a file-store directory holds something besides llmshim's own hidden files: a purge
 * of it finding no entries means --dir points somewhere else. */
static int holds_other_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int other = 0;
    struct dirent *de;
    while (!other && (de = readdir(d))) other = de->d_name[0] != '.';
    closedir(d);
    return other;
}

int cmd_purge(int argc, char **argv) {
    int yes = 0;
    if (wants_help(argc, argv)) return help(usage_purge);
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "--yes") || flag(argv[i], "-y")) yes = 1;
        else return bad_arg(usage_purge, argv[i]);
    }
    struct store *s = open_backend(1);
    if (!s->ops->del) die(EXIT_FAIL, "the %s backend cannot remove entries", s->ops->name);
    struct recs r;
    recs_load(s, &r, "reading entries:", 0);
    size_t entries = 0; /* only what decodes as an entry is llmshim's to remove */
    for (size_t i = 0; i < r.n; i++) entries += !r.v[i].bad;
    const struct config *cfg = tool_config();
    if (!entries && cfg->backend == BACKEND_FILE && holds_other_files(cfg->dir)) {
        recs_free(&r);
        store_close(s);
        die(EXIT_FAIL, "%s holds no llmshim entries but other files: refusing to purge it (is --dir or LLMSHIM_DIR right?)",
            cfg->dir);
    }
    if (entries && !yes && !confirm(entries)) {
        if (isatty(0)) note("nothing removed");
        recs_free(&r);
        store_close(s);
        return isatty(0) ? EXIT_FAIL : EXIT_USAGE;
    }
    size_t removed = 0, failed = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].bad) continue; /* named like an entry, but not one: not ours */
        if (remove_rec(s, &r.v[i]) == 0) removed++;
        else failed++;
        progress("removed", removed);
    }
    if (r.n > entries)
        note("%zu file%s named like entries but not llmshim entries left alone", r.n - entries,
             r.n - entries == 1 ? "" : "s");
    progress_done();
    size_t tmp = sweep_temp(0), locks = sweep_locks(0);
    printf("removed %zu entr%s", removed, removed == 1 ? "y" : "ies");
    if (tmp) printf(" and %zu stale temporary file%s", tmp, tmp == 1 ? "" : "s");
    if (locks) printf(" and %zu unused lock file%s", locks, locks == 1 ? "" : "s");
    printf(" from %s\n", backend_label());
    recs_free(&r);
    store_close(s);
    return failed ? EXIT_FAIL : 0;
}

int cmd_verify(int argc, char **argv) {
    if (wants_help(argc, argv)) return help(usage_verify);
    if (argc > 1) return bad_arg(usage_verify, argv[1]);
    struct store *s = open_backend(1);
    struct recs r;
    recs_load(s, &r, "verifying entries:", 0);
    store_close(s);
    const struct config *cfg = tool_config();
    int file = cfg->backend == BACKEND_FILE;
    long long now = tool_now();
    size_t bad = 0, expired = 0;
    for (size_t i = 0; i < r.n; i++) {
        const struct rec *x = &r.v[i];
        const char *dir = file && x->name ? cfg->dir : NULL;
        if (x->bad) {
            bad++;
            printf("CORRUPT %s%s%s: %s\n", dir ? dir : "", dir ? "/" : "", rec_label(x), x->bad);
        } else if (x->ttl && x->created + x->ttl <= now) {
            char ago[16], ttl[16];
            expired++;
            fmt_age(ago, sizeof(ago), now - x->created - x->ttl);
            fmt_age(ttl, sizeof(ttl), x->ttl);
            printf("EXPIRED %s%s%s: expired %s ago (TTL %s)\n", dir ? dir : "", dir ? "/" : "", rec_label(x), ago, ttl);
        }
    }
    printf("verified %zu entr%s: %zu corrupt", r.n, r.n == 1 ? "y" : "ies", bad);
    if (expired) printf(", %zu expired", expired);
    printf("\n");
    if (bad) note("a corrupt entry is a miss for the shim, and is replaced by the next answer; "
                  "llmshim prune leaves it alone: remove it by hand or re-record it");
    if (expired) note("warning: replay still serves expired entries, cache mode fetches them again; to make "
                      "a cassette that never expires, re-record it with LLMSHIM_TTL=0");
    if (!r.n) note("%s holds no entries: nothing to replay (a misspelt --dir, or cassettes never recorded?)",
                   backend_label());
    int status = bad || !r.n ? EXIT_FAIL : 0;
    recs_free(&r);
    return status;
}
