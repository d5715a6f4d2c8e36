#include "config.h"

#include "canon.h"
#include "redis_url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TTL (7LL * 24 * 3600)
#define DEFAULT_MEM_ENTRIES 1000
#define DEFAULT_MEM_BYTES (256UL * 1024 * 1024)
#define DEFAULT_MAX_ENTRY (64UL * 1024 * 1024)

static const char *const mode_names[] = {"cache", "record", "replay", "off", "once"};

const char *mode_name(enum mode m) {
    return (unsigned)m < 5 ? mode_names[m] : "?";
}

static void fail(struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Without memory for the message the error must still be set: it turns the shim off. */
static char oom_error[] = "out of memory";

static void fail(struct config *c, const char *fmt, ...) {
    if (c->error) return; /* the first problem is the one to report */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->error = strdup(msg);
    if (!c->error) c->error = oom_error;
}

/* strdup that turns running out of memory into a config error rather than a missing value */
static char *dup_or_fail(struct config *c, const char *s) {
    char *p = strdup(s);
    if (!p) fail(c, "out of memory");
    return p;
}

static int pick(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return i;
    return -1;
}

/* Non-negative integer with an optional unit suffix from units ("s,m,h,d" or "k,m,g"). */
static int parse_size(const char *v, long long *out, int time_units) {
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno || n < 0) return -1;
    long long mul = 1;
    if (*end) {
        char u = (char)(*end | 0x20);
        if (time_units) mul = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : 0;
        else mul = u == 'k' ? 1024LL : u == 'm' ? 1024LL * 1024 : u == 'g' ? 1024LL * 1024 * 1024 : 0;
        if (!mul || end[1] || n > (1LL << 62) / mul) return -1;
    }
    *out = n * mul;
    return 0;
}

static void parse_endpoints(struct config *c, const char *v) {
    size_t cap = 1;
    for (const char *p = v; *p; p++) cap += *p == ',';
    c->endpoints = calloc(cap, sizeof(*c->endpoints));
    if (!c->endpoints) { fail(c, "out of memory"); return; }
    while (*v) {
        size_t n = strcspn(v, ",");
        const char *item = v, *eq = memchr(v, '=', n), *scheme = strstr(v, "://");
        enum shape shape = SHAPE_NONE;
        v += n + (v[n] == ',');
        while (n && (*item == ' ')) { item++; n--; }
        while (n && item[n - 1] == ' ') n--;
        if (!n) continue;
        if (eq && (!scheme || eq < scheme)) { /* shape=prefix */
            size_t name_len = (size_t)(eq - item);
            while (name_len && item[name_len - 1] == ' ') name_len--;
            shape = shape_from_name(item, name_len);
            if (!shape) {
                fail(c, "LLMSHIM_ENDPOINTS: unknown API shape '%.*s' (use openai, anthropic, gemini, ollama, "
                        "bedrock, cohere or perplexity)", (int)(eq - item), item);
                return;
            }
            n -= (size_t)(eq + 1 - item);
            item = eq + 1;
            while (n && *item == ' ') { item++; n--; }
        }
        if (!memmem(item, n, "://", 3)) {
            fail(c, "LLMSHIM_ENDPOINTS: '%.*s' is not a URL prefix (expected e.g. http://127.0.0.1:8000/v1)",
                 (int)n, item);
            return;
        }
        char *pat = strndup(item, n);
        if (!pat) { fail(c, "out of memory"); return; }
        /* scheme and host compare lowercase, as url_parse makes them */
        for (char *p = pat, *path = strchr(strstr(pat, "://") + 3, '/'); *p && (!path || p < path); p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        c->endpoints[c->nendpoints].pattern = pat;
        c->endpoints[c->nendpoints].shape = shape;
        c->nendpoints++;
    }
}

/* Comma-separated list into a NULL-terminated array; lowercase when asked. */
static char **split_list(struct config *c, const char *v, int lower) {
    size_t n = 2;
    for (const char *p = v; *p; p++) n += *p == ',';
    char **list = calloc(n, sizeof(*list));
    if (!list) { fail(c, "out of memory"); return NULL; }
    size_t k = 0;
    while (*v) {
        size_t len = strcspn(v, ",");
        const char *item = v;
        v += len + (v[len] == ',');
        while (len && *item == ' ') { item++; len--; }
        while (len && item[len - 1] == ' ') len--;
        if (!len) continue;
        char *s = strndup(item, len);
        if (!s) { fail(c, "out of memory"); break; }
        for (char *p = s; lower && *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        list[k++] = s;
    }
    return list;
}

static void free_list(char **list) {
    for (char **p = list; p && *p; p++) free(*p);
    free(list);
}

static int credential_header(const char *name) {
    static const char *const names[] = {"authorization", "x-api-key", "api-key", "x-goog-api-key",
                                        "proxy-authorization", "cookie", NULL};
    for (const char *const *n = names; *n; n++)
        if (!strcmp(*n, name)) return 1;
    return 0;
}

/* "1", "0.5", ".25": by hand, because strtod follows the host program's locale (1,5). */
static int parse_factor(const char *v, double *out) {
    double n = 0, scale = 1;
    int digits = 0, frac = 0;
    for (; *v; v++) {
        if (*v == '.' && !frac) { frac = 1; continue; }
        if (*v < '0' || *v > '9') return -1;
        digits++;
        if (frac) { scale /= 10; n += (*v - '0') * scale; }
        else n = n * 10 + (*v - '0');
        if (n > 1e6) return -1;
    }
    if (!digits) return -1;
    *out = n;
    return 0;
}

static void parse_key_settings(struct config *c, config_lookup get) {
    const char *v;
    if ((v = get("LLMSHIM_KEY_IGNORE")) && *v) {
        c->key_ignore = split_list(c, v, 0);
        for (char **p = c->key_ignore; p && *p; p++)
            if ((*p)[0] != '/')
                fail(c, "LLMSHIM_KEY_IGNORE: '%s' is not a JSON pointer (write /field or /messages/0/name)", *p);
    }
    if ((v = get("LLMSHIM_KEY_HEADERS")) && *v) {
        c->key_headers = split_list(c, v, 1);
        for (char **p = c->key_headers; p && *p; p++)
            if (credential_header(*p))
                fail(c, "LLMSHIM_KEY_HEADERS: '%s' carries a credential and is never put in a key "
                        "(use LLMSHIM_KEY_SCOPE=credential to keep tenants apart)", *p);
    }
    if ((v = get("LLMSHIM_REDACT_QUERY")) && *v) c->redact_query = split_list(c, v, 1);
    if ((v = get("LLMSHIM_NORMALIZE")) && *v) {
        char **items = split_list(c, v, 1);
        for (char **p = items; p && *p; p++) {
            if (!strcmp(*p, "whitespace")) c->normalize |= CANON_NORM_WHITESPACE;
            else if (!strcmp(*p, "case")) c->normalize |= CANON_NORM_CASE;
            else if (strcmp(*p, "none") != 0) fail(c, "LLMSHIM_NORMALIZE: '%s' is not one of whitespace, case", *p);
        }
        free_list(items);
    }
    if ((v = get("LLMSHIM_KEY_SCOPE")) && *v) {
        if (!strcmp(v, "credential")) c->key_scope = 1;
        else if (strcmp(v, "none") != 0) fail(c, "LLMSHIM_KEY_SCOPE='%s' is not one of none, credential", v);
    }
    if ((v = get("LLMSHIM_REPLAY_PACE")) && *v) {
        double pace;
        if (parse_factor(v, &pace) != 0 || pace > 100)
            fail(c, "LLMSHIM_REPLAY_PACE='%s' is not a factor between 0 and 100 (1 = recorded pace, 0 = at once)", v);
        else c->replay_pace = pace;
    }
}

/* An absolute path, or an error naming the setting. */
static char *path_setting(struct config *c, config_lookup get, const char *name) {
    const char *v = get(name);
    if (!v || !*v) return NULL;
    if (v[0] != '/') {
        fail(c, "%s='%s' must be an absolute path", name, v);
        return NULL;
    }
    return dup_or_fail(c, v);
}

/* TLS files and the sentinels' password, checked against the URL they go with: a CA set for a
 * redis:// URL would let someone believe the connection is encrypted. */
static void parse_redis_extras(struct config *c, config_lookup get) {
    const char *u = c->redis_url ? c->redis_url : "", *v;
    int tls = !strncasecmp(u, "rediss://", 9) || !strncasecmp(u, "rediss+", 7);
    int sentinel = !strncasecmp(u, "redis+sentinel://", 17) || !strncasecmp(u, "rediss+sentinel://", 18);
    c->redis_ca = path_setting(c, get, "LLMSHIM_REDIS_CA");
    c->redis_cert = path_setting(c, get, "LLMSHIM_REDIS_CERT");
    c->redis_key = path_setting(c, get, "LLMSHIM_REDIS_KEY");
    if ((v = get("LLMSHIM_SENTINEL_PASSWORD")) && *v) c->sentinel_password = dup_or_fail(c, v);
    if (!c->redis_cert != !c->redis_key)
        fail(c, "LLMSHIM_REDIS_CERT and LLMSHIM_REDIS_KEY go together (mutual TLS needs the certificate and its key)");
    if (c->backend != BACKEND_REDIS || c->mode == MODE_OFF) return;
    const char *set = c->redis_ca ? "LLMSHIM_REDIS_CA" : c->redis_cert ? "LLMSHIM_REDIS_CERT" : NULL;
    if (set && !tls) fail(c, "%s is set but LLMSHIM_REDIS_URL is not a TLS URL (rediss://...)", set);
    if (c->sentinel_password && !sentinel)
        fail(c, "LLMSHIM_SENTINEL_PASSWORD is set but LLMSHIM_REDIS_URL is not a redis+sentinel:// URL");
}

static char *default_dir(struct config *c, config_lookup get) {
    const char *xdg = get("XDG_CACHE_HOME"), *home = get("HOME");
    char path[4096];
    if (xdg && xdg[0] == '/') snprintf(path, sizeof(path), "%s/llmshim", xdg);
    /* a relative HOME would put the cache wherever the program happens to run */
    else if (home && home[0] == '/') snprintf(path, sizeof(path), "%s/.cache/llmshim", home);
    else return NULL;
    return dup_or_fail(c, path);
}

void config_parse(struct config *c, config_lookup get) {
    memset(c, 0, sizeof(*c));
    c->ttl = DEFAULT_TTL;
    c->mem_max_entries = DEFAULT_MEM_ENTRIES;
    c->mem_max_bytes = DEFAULT_MEM_BYTES;
    c->max_entry_bytes = DEFAULT_MAX_ENTRY;
    const char *v;
    int i;
    long long n;

    if ((v = get("LLMSHIM_MODE")) && *v) {
        if ((i = pick(v, mode_names, 5)) < 0) fail(c, "LLMSHIM_MODE='%s' is not one of cache, record, replay, once, off", v);
        else c->mode = (enum mode)i;
    }
    if ((v = get("LLMSHIM_BACKEND")) && *v) {
        static const char *const names[] = {"file", "memory", "redis", "memory,file", "memory,redis"};
        if ((i = pick(v, names, 5)) < 0)
            fail(c, "LLMSHIM_BACKEND='%s' is not one of file, memory, redis, memory,file, memory,redis", v);
        else if (i >= 3) { c->memory_front = 1; c->backend = i == 3 ? BACKEND_FILE : BACKEND_REDIS; }
        else c->backend = (enum backend)i;
    }
    c->redis_url = dup_or_fail(c, (v = get("LLMSHIM_REDIS_URL")) && *v ? v : "redis://127.0.0.1:6379/0");
    c->redis_connect_ms = 100;
    c->redis_timeout_ms = 250;
    c->coalesce_ms = 30000;
    if ((v = get("LLMSHIM_REDIS_CONNECT_TIMEOUT_MS")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n < 1 || n > 60000) fail(c, "LLMSHIM_REDIS_CONNECT_TIMEOUT_MS='%s' is not a number of milliseconds (1-60000)", v);
        else c->redis_connect_ms = (int)n;
    }
    if ((v = get("LLMSHIM_REDIS_TIMEOUT_MS")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n < 1 || n > 60000) fail(c, "LLMSHIM_REDIS_TIMEOUT_MS='%s' is not a number of milliseconds (1-60000)", v);
        else c->redis_timeout_ms = (int)n;
    }
    parse_redis_extras(c, get);
    if ((v = get("LLMSHIM_COALESCE_MS")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n > 3600000) fail(c, "LLMSHIM_COALESCE_MS='%s' is not a number of milliseconds (0 = off)", v);
        else c->coalesce_ms = n;
    }
    if ((v = get("LLMSHIM_STALE_IF_ERROR")) && *v) {
        if (parse_size(v, &n, 1) != 0) fail(c, "LLMSHIM_STALE_IF_ERROR='%s' is not a number of seconds (e.g. 3600, 1d; 0 = off)", v);
        else c->stale_if_error = n;
    }
    if ((v = get("LLMSHIM_LOG")) && *v) {
        static const char *const names[] = {"off", "info", "debug"};
        if ((i = pick(v, names, 3)) < 0) fail(c, "LLMSHIM_LOG='%s' is not one of off, info, debug", v);
        else c->log = (enum log_level)i;
    }
    if ((v = get("LLMSHIM_TTL")) && *v) {
        if (parse_size(v, &n, 1) != 0) fail(c, "LLMSHIM_TTL='%s' is not a number of seconds (e.g. 3600, 90m, 7d; 0 = never expire)", v);
        else c->ttl = n;
    }
    if ((v = get("LLMSHIM_MEM_MAX_ENTRIES")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n == 0) fail(c, "LLMSHIM_MEM_MAX_ENTRIES='%s' is not a positive number", v);
        else c->mem_max_entries = (size_t)n;
    }
    if ((v = get("LLMSHIM_MEM_MAX_BYTES")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n == 0) fail(c, "LLMSHIM_MEM_MAX_BYTES='%s' is not a positive size (e.g. 64m)", v);
        else c->mem_max_bytes = (size_t)n;
    }
    if ((v = get("LLMSHIM_MAX_ENTRY_BYTES")) && *v) {
        if (parse_size(v, &n, 0) != 0 || n == 0) fail(c, "LLMSHIM_MAX_ENTRY_BYTES='%s' is not a positive size (e.g. 64m)", v);
        else c->max_entry_bytes = (size_t)n;
    }
    if ((v = get("LLMSHIM_NAMESPACE")) && *v) c->ns = dup_or_fail(c, v);
    parse_key_settings(c, get);
    if ((v = get("LLMSHIM_ENDPOINTS")) && *v) parse_endpoints(c, v);
    if ((v = get("LLMSHIM_DIR")) && *v) {
        if (v[0] != '/') fail(c, "LLMSHIM_DIR='%s' must be an absolute path", v);
        else c->dir = dup_or_fail(c, v);
    } else {
        c->dir = default_dir(c, get);
    }
    if (c->backend == BACKEND_FILE && !c->dir && c->mode != MODE_OFF)
        fail(c, "no cache directory: set LLMSHIM_DIR (HOME and XDG_CACHE_HOME are unset)");
    /* a URL that can never connect is a bad setting, found here rather than at the first call */
    if (c->backend == BACKEND_REDIS && c->redis_url) {
        struct redis_url u;
        char *why = NULL;
        if (redis_url_parse(c->redis_url, &u, &why) != 0) fail(c, "LLMSHIM_REDIS_URL: %s", why ? why : "not a Redis URL");
        free(why);
    }
    /* once asks whether a cassette directory holds entries: only the file store has one */
    if (c->mode == MODE_ONCE && c->backend != BACKEND_FILE)
        fail(c, "LLMSHIM_MODE=once needs LLMSHIM_BACKEND=file (or memory,file): it replays a cassette "
                "directory that holds entries and records into one that holds none");
}

void config_free(struct config *c) {
    for (size_t i = 0; i < c->nendpoints; i++) free(c->endpoints[i].pattern);
    free(c->endpoints);
    free(c->dir);
    free(c->ns);
    free(c->redis_url);
    free(c->redis_ca);
    free(c->redis_cert);
    free(c->redis_key);
    if (c->sentinel_password) explicit_bzero(c->sentinel_password, strlen(c->sentinel_password));
    free(c->sentinel_password);
    free_list(c->key_ignore);
    free_list(c->key_headers);
    free_list(c->redact_query);
    if (c->error != oom_error) free(c->error);
    memset(c, 0, sizeof(*c));
}
