#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const config_setting_names[] = {
    "LLMSHIM_MODE",
    "LLMSHIM_BACKEND",
    "LLMSHIM_DIR",
    "LLMSHIM_REDIS_URL",
    "LLMSHIM_REDIS_CONNECT_TIMEOUT_MS",
    "LLMSHIM_REDIS_TIMEOUT_MS",
    "LLMSHIM_REDIS_CA",
    "LLMSHIM_REDIS_CERT",
    "LLMSHIM_REDIS_KEY",
    "LLMSHIM_SENTINEL_PASSWORD",
    "LLMSHIM_TTL",
    "LLMSHIM_ENDPOINTS",
    "LLMSHIM_NAMESPACE",
    "LLMSHIM_LOG",
    "LLMSHIM_MEM_MAX_ENTRIES",
    "LLMSHIM_MEM_MAX_BYTES",
    "LLMSHIM_MAX_ENTRY_BYTES",
    "LLMSHIM_KEY_IGNORE",
    "LLMSHIM_KEY_HEADERS",
    "LLMSHIM_KEY_SCOPE",
    "LLMSHIM_REDACT_QUERY",
    "LLMSHIM_NORMALIZE",
    "LLMSHIM_REPLAY_PACE",
    "LLMSHIM_COALESCE_MS",
    "LLMSHIM_STALE_IF_ERROR",
    "LLMSHIM_PRICES",
    NULL,
};

int config_setting_known(const char *name) {
    for (const char *const *n = config_setting_names; *n; n++)
        if (!strcmp(*n, name)) return 1;
    return 0;
}

/* Edit distance with transpositions (optimal string alignment): MDOE is one step from MODE. */
size_t text_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *config_setting_nearest(const char *name) {
    const char *best = NULL;
    /* a typo is a few edits of the part after LLMSHIM_: one in four letters at most */
    size_t len = strlen(name), suffix = len > 8 ? len - 8 : len;
    size_t best_d = (suffix / 4 > 1 ? suffix / 4 : 1) + 1;
    for (const char *const *n = config_setting_names; *n; n++) {
        size_t d = text_distance(name, *n);
        if (d < best_d) {
            best_d = d;
            best = *n;
        }
    }
    if (!best && !strncmp(name, "LLMSHIM_", 8)) /* the name without its prefix may still match */
        for (const char *const *n = config_setting_names; *n; n++)
            if (strstr(*n + 8, name + 8) || strstr(name + 8, *n + 8)) return *n;
    return best;
}

int config_unknown_settings(char *const *env, void (*say)(const char *msg, void *ud), void *ud) {
    int n = 0;
    for (char *const *e = env; e && *e; e++) {
        if (strncmp(*e, "LLMSHIM_", 8) != 0) continue;
        char name[96];
        size_t len = strcspn(*e, "=");
        if (len >= sizeof(name)) len = sizeof(name) - 1;
        memcpy(name, *e, len);
        name[len] = '\0';
        /* the file's own name, and the test suite's and the torture build's knobs */
        if (config_setting_known(name) || !strcmp(name, "LLMSHIM_CONFIG") || !strncmp(name, "LLMSHIM_TEST_", 13) ||
            !strncmp(name, "LLMSHIM_TORTURE_", 16))
            continue;
        const char *near = config_setting_nearest(name);
        char msg[256];
        if (near) snprintf(msg, sizeof(msg), "%s: unknown setting; did you mean %s?", name, near);
        else snprintf(msg, sizeof(msg), "%s: unknown setting (`llmshim config` lists the settings)", name);
        say(msg, ud);
        n++;
    }
    return n;
}

static int set_error(struct config_file *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Without memory for the message the error must still be set: it keeps the file unused. */
static char oom_error[] = "out of memory reading the config file";

static int set_error(struct config_file *cf, const char *fmt, ...) {
    char msg[PATH_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cf->error != oom_error) free(cf->error);
    cf->error = strdup(msg);
    if (!cf->error) cf->error = oom_error;
    return -1;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

static int add(struct config_file *cf, const char *name, size_t nlen, const char *value, size_t vlen) {
    char *n = strndup(name, nlen), *v = strndup(value, vlen);
    if (!n || !v) goto oom;
    for (size_t i = 0; i < cf->n; i++) {
        if (strcmp(cf->items[i].name, n) != 0) continue;
        free(cf->items[i].value); /* a later line overrides an earlier one */
        cf->items[i].value = v;
        free(n);
        return 0;
    }
    struct config_setting *p = realloc(cf->items, (cf->n + 1) * sizeof(*p));
    if (!p) goto oom;
    cf->items = p;
    cf->items[cf->n].name = n;
    cf->items[cf->n].value = v;
    cf->n++;
    return 0;
oom:
    free(n);
    free(v);
    return set_error(cf, "out of memory reading %s", cf->path ? cf->path : "the config file");
}

/* A quoted value: '...' is literal, "..." knows \" and \\. *p is past the closing quote after. */
static int unquote(const char **p, const char *end, char *out, size_t *olen) {
    char q = *(*p)++;
    size_t n = 0;
    while (*p < end && **p != q) {
        if (q == '"' && **p == '\\' && *p + 1 < end && ((*p)[1] == '"' || (*p)[1] == '\\')) (*p)++;
        out[n++] = *(*p)++;
    }
    if (*p >= end) return -1;
    (*p)++;
    *olen = n;
    return 0;
}

static int parse_line(struct config_file *cf, int lineno, const char *p, const char *end) {
    const char *path = cf->path ? cf->path : "config";
    while (p < end && is_blank(*p)) p++;
    if (p == end || *p == '#') return 0;
    if (end - p > 7 && !strncmp(p, "export", 6) && is_blank(p[6])) /* shell-sourceable files */
        for (p += 6; p < end && is_blank(*p);) p++;
    const char *name = p;
    while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
        p++;
    size_t nlen = (size_t)(p - name);
    while (p < end && is_blank(*p)) p++;
    if (!nlen || p == end || *p != '=')
        return set_error(cf, "%s:%d: expected NAME=value, got '%.*s'", path, lineno,
                         (int)(end - name > 60 ? 60 : end - name), name);
    char nbuf[64];
    snprintf(nbuf, sizeof(nbuf), "%.*s", (int)nlen, name);
    if (nlen >= sizeof(nbuf) || !config_setting_known(nbuf)) {
        const char *near = nlen < sizeof(nbuf) ? config_setting_nearest(nbuf) : NULL;
        if (near) return set_error(cf, "%s:%d: unknown setting %s; did you mean %s?", path, lineno, nbuf, near);
        return set_error(cf, "%s:%d: unknown setting %.*s (`llmshim config` lists the settings)", path,
                         lineno, (int)nlen, name);
    }
    for (p++; p < end && is_blank(*p);) p++;
    char *value = malloc((size_t)(end - p) + 1);
    if (!value) return set_error(cf, "out of memory reading %s", path);
    size_t vlen = 0;
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p;
        if (unquote(&p, end, value, &vlen) != 0) {
            free(value);
            return set_error(cf, "%s:%d: %s has no closing %c quote", path, lineno, nbuf, q);
        }
        while (p < end && is_blank(*p)) p++;
        if (p < end && *p != '#') {
            free(value);
            return set_error(cf, "%s:%d: unexpected text after the quoted value of %s", path, lineno, nbuf);
        }
    } else {
        /* unquoted: a '#' after a blank starts a comment, as in the shell */
        const char *v = p;
        while (p < end && !(*p == '#' && p > v && is_blank(p[-1]))) p++;
        while (p > v && is_blank(p[-1])) p--;
        vlen = (size_t)(p - v);
        memcpy(value, v, vlen);
    }
    int rc = add(cf, name, nlen, value, vlen);
    free(value);
    return rc;
}

int config_file_parse(struct config_file *cf, const char *path, const char *text, size_t len) {
    memset(cf, 0, sizeof(*cf));
    if (path && !(cf->path = strdup(path))) return set_error(cf, "out of memory");
    if (memchr(text, '\0', len)) return set_error(cf, "%s: contains a NUL byte; is it a text file?", path ? path : "config");
    int lineno = 0;
    for (const char *p = text, *end = text + len; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *stop = eol > p && eol[-1] == '\r' ? eol - 1 : eol; /* CRLF files */
        if (parse_line(cf, lineno + 1, p, stop) != 0) return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int config_file_load(struct config_file *cf, const char *path) {
    memset(cf, 0, sizeof(*cf));
    /* never blocks: a FIFO put where the file should be is refused below, not waited on */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        cf->path = strdup(path);
        return set_error(cf, "cannot read config file %s: %s", path, strerror(e));
    }
    const char *why = !S_ISREG(st.st_mode)                      ? "is not a regular file"
                      : st.st_uid != geteuid() && st.st_uid != 0 ? "is owned by another user"
                      : (st.st_mode & S_IWOTH)                   ? "is world-writable (chmod o-w it)"
                      : st.st_size > CONFIG_FILE_MAX            ? "is larger than 1 MiB"
                                                                 : NULL;
    if (why) {
        close(fd);
        cf->path = strdup(path);
        return set_error(cf, "config file %s %s; ignoring it", path, why);
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *text = malloc(want + 1);
    while (text && got < want) {
        ssize_t r = read(fd, text + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!text) {
        cf->path = strdup(path);
        return set_error(cf, "out of memory reading %s", path);
    }
    int rc = config_file_parse(cf, path, text, got);
    free(text);
    return rc;
}

static int regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *config_file_find(config_lookup get, char **err) {
    char path[PATH_MAX];
    const char *v = get("LLMSHIM_CONFIG");
    if (v && *v) {
        struct stat st;
        if (stat(v, &st) != 0) {
            snprintf(path, sizeof(path), "LLMSHIM_CONFIG=%s: %s", v, strerror(errno));
            if (err) *err = strdup(path);
            return NULL;
        }
        return strdup(v);
    }
    if (regular_file(".llmshim")) {
        char cwd[PATH_MAX - 16];
        if (getcwd(cwd, sizeof(cwd))) snprintf(path, sizeof(path), "%s/.llmshim", strcmp(cwd, "/") ? cwd : "");
        else snprintf(path, sizeof(path), "./.llmshim");
        return strdup(path);
    }
    const char *xdg = get("XDG_CONFIG_HOME"), *home = get("HOME");
    if (xdg && xdg[0] == '/') snprintf(path, sizeof(path), "%s/llmshim/config", xdg);
    else if (home && home[0]) snprintf(path, sizeof(path), "%s/.config/llmshim/config", home);
    else return NULL;
    return regular_file(path) ? strdup(path) : NULL;
}

const char *config_file_get(const struct config_file *cf, const char *name) {
    for (size_t i = 0; i < cf->n; i++)
        if (!strcmp(cf->items[i].name, name)) return cf->items[i].value;
    return NULL;
}

void config_file_free(struct config_file *cf) {
    for (size_t i = 0; i < cf->n; i++) {
        free(cf->items[i].name);
        free(cf->items[i].value);
    }
    free(cf->items);
    free(cf->path);
    if (cf->error != oom_error) free(cf->error);
    memset(cf, 0, sizeof(*cf));
}

/* ---- the process-wide file ------------------------------------------------------------ */

static struct config_file the_file;
static char *find_error;
static pthread_once_t the_once = PTHREAD_ONCE_INIT;

static const char *env(const char *name) {
    return getenv(name);
}

static void load_once(void) {
    char *path = config_file_find(env, &find_error);
    if (path) config_file_load(&the_file, path);
    free(path);
}

const char *config_getenv(const char *name) {
    const char *v = getenv(name);
    if (v && *v) return v;
    pthread_once(&the_once, load_once);
    return the_file.error ? NULL : config_file_get(&the_file, name);
}

const char *config_source(const char *name) {
    const char *v = getenv(name);
    if (v && *v) return "environment";
    pthread_once(&the_once, load_once);
    if (!the_file.error && config_file_get(&the_file, name)) return the_file.path;
    return "default";
}

const char *config_file_path(void) {
    pthread_once(&the_once, load_once);
    return the_file.path;
}

const char *config_file_error(void) {
    pthread_once(&the_once, load_once);
    return find_error ? find_error : the_file.error;
}
