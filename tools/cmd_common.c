/* What every verb shares: messages, options, settings, opening stores, reading every entry. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config_file.h"
#include "json.h"
#include "redis_url.h"
#include "llmshim.h"

const char *tool_verb;

/* ---- messages ----------------------------------------------------------------------------- */

static int progress_shown;

static void vmsg(const char *fmt, va_list ap) {
    progress_done(); /* a message must not land in the middle of the counter line */
    fprintf(stderr, tool_verb ? "llmshim %s: " : "llmshim: ", tool_verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    exit(code);
}

int usage_error(const char *usage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    /* the usage lines only: the whole help would bury the message */
    const char *end = strstr(usage, "\n\n");
    fprintf(stderr, "%.*s", (int)(end ? end - usage + 1 : (long)strlen(usage)), usage);
    fprintf(stderr, "Try 'llmshim %s%s--help'.\n", tool_verb ? tool_verb : "", tool_verb ? " " : "");
    return EXIT_USAGE;
}

void progress(const char *what, size_t n) {
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    if (!tty || (n % 64 && n > 1)) return;
    fprintf(stderr, "\rllmshim %s: %s %zu", tool_verb ? tool_verb : "", what, n);
    fflush(stderr);
    progress_shown = 1;
}

void progress_done(void) {
    if (!progress_shown) return;
    fputs("\r\033[K", stderr);
    progress_shown = 0;
}

/* ---- options ------------------------------------------------------------------------------ */

int flag(const char *arg, const char *name) {
    return !strcmp(arg, name);
}

int opt(int argc, char **argv, int *i, const char *name, const char **value, const char *usage) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n]) return 0;
    if (*i + 1 >= argc) exit(usage_error(usage, "option %s needs a value", name));
    *value = argv[++*i];
    return 1;
}

int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (flag(argv[i], "--help") || flag(argv[i], "-h")) return 1;
    return 0;
}

/* The settings option arg names ("--dir" for "--dir=/x"), or NULL. */
static const char *settings_name(const char *arg);

/* The option in text (a usage) nearest to arg's name, within two edits; NULL when none is. */
const char *nearest_option(const char *text, const char *arg) {
    static char best[48];
    char name[48];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
    size_t best_d = strlen(name) > 5 ? 3 : 2;
    best[0] = '\0';
    for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
        size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
        if (n < 4 || n >= sizeof(best)) continue;
        char cand[48];
        snprintf(cand, sizeof(cand), "%.*s", (int)n, p);
        size_t d = text_distance(name, cand);
        if (d < best_d) {
            best_d = d;
            snprintf(best, sizeof(best), "%s", cand);
        }
    }
    return best[0] ? best : NULL;
}

int bad_arg(const char *usage, const char *arg) {
    if (!(arg[0] == '-' && arg[1])) return usage_error(usage, "unexpected argument '%s'", arg);
    const char *setting = settings_name(arg);
    if (setting)
        return usage_error(usage, "'%s' is a setting: give it before the verb (llmshim %s VALUE %s ...)", arg, setting,
                           tool_verb ? tool_verb : "VERB");
    const char *near = nearest_option(usage, arg);
    if (near) return usage_error(usage, "unknown option '%s'; did you mean '%s'?", arg, near);
    return usage_error(usage, "unknown option '%s'", arg);
}

const char *one_arg(int argc, char **argv, const char *usage, const char *missing) {
    const char *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) exit(bad_arg(usage, argv[i]));
        if (arg) exit(usage_error(usage, "unexpected argument '%s'", argv[i]));
        arg = argv[i];
    }
    if (!arg) exit(usage_error(usage, "%s", missing));
    return arg;
}

int help(const char *usage) {
    fputs(usage, stdout);
    return 0;
}

static const struct {
    const char *opt, *name;
} settings_opts[] = {
    {"--mode", "LLMSHIM_MODE"},           {"--dir", "LLMSHIM_DIR"},
    {"--backend", "LLMSHIM_BACKEND"},     {"--redis-url", "LLMSHIM_REDIS_URL"},
    {"--namespace", "LLMSHIM_NAMESPACE"}, {"--config", "LLMSHIM_CONFIG"},
};

static const char *settings_name(const char *arg) {
    for (size_t k = 0; k < sizeof(settings_opts) / sizeof(settings_opts[0]); k++) {
        size_t n = strlen(settings_opts[k].opt);
        if (!strncmp(arg, settings_opts[k].opt, n) && (!arg[n] || arg[n] == '=')) return settings_opts[k].opt;
    }
    return NULL;
}

int settings_opt(int argc, char **argv, int *i, const char *usage) {
    for (size_t k = 0; k < sizeof(settings_opts) / sizeof(settings_opts[0]); k++) {
        const char *v;
        if (!opt(argc, argv, i, settings_opts[k].opt, &v, usage)) continue;
        if (!*v) exit(usage_error(usage, "%s needs a non-empty value", settings_opts[k].opt));
        char abs[PATH_MAX];
        /* LLMSHIM_DIR must be absolute; on the command line a relative one is meant from here */
        if ((!strcmp(settings_opts[k].opt, "--dir") || !strcmp(settings_opts[k].opt, "--config")) &&
            v[0] != '/' && getcwd(abs, sizeof(abs) - strlen(v) - 2)) {
            size_t n = strlen(abs);
            snprintf(abs + n, sizeof(abs) - n, "/%s", v);
            v = abs;
        }
        if (!strcmp(settings_opts[k].name, "LLMSHIM_CONFIG")) setenv("LLMSHIM_CONFIG", v, 1); /* read by the file loader */
        else tool_set(settings_opts[k].name, v);
        return 1;
    }
    return 0;
}

/* ---- settings ----------------------------------------------------------------------------- */

#define MAX_OVERRIDES 16
static const char *ov_name[MAX_OVERRIDES], *ov_value[MAX_OVERRIDES];
static size_t nov;

void tool_set(const char *name, const char *value) {
    char *v = strdup(value);
    if (!v) die(EXIT_FAIL, "out of memory");
    for (size_t i = 0; i < nov; i++) {
        if (strcmp(ov_name[i], name) != 0) continue;
        free((char *)ov_value[i]);
        ov_value[i] = v;
        return;
    }
    if (nov == MAX_OVERRIDES) die(EXIT_USAGE, "too many settings options");
    ov_name[nov] = name;
    ov_value[nov++] = v;
}

size_t tool_overrides(const char ***names, const char ***values) {
    *names = ov_name;
    *values = ov_value;
    return nov;
}

const char *tool_lookup(const char *name) {
    for (size_t i = 0; i < nov; i++)
        if (!strcmp(ov_name[i], name)) return ov_value[i];
    return config_getenv(name);
}

const char *tool_source(const char *name) {
    for (size_t i = 0; i < nov; i++)
        if (!strcmp(ov_name[i], name)) return "command line";
    return config_source(name);
}

static struct config the_config;
static int config_loaded;

static void free_config(void) {
    config_free(&the_config);
    for (size_t i = 0; i < nov; i++) free((char *)ov_value[i]);
    nov = 0;
}

const struct config *tool_config(void) {
    if (config_loaded) return &the_config;
    const char *ferr = config_file_error();
    if (ferr) die(EXIT_USAGE, "%s", ferr);
    config_parse(&the_config, tool_lookup);
    url_redact_params((const char *const *)the_config.redact_query);
    config_loaded = 1;
    atexit(free_config);
    if (!the_config.error) return &the_config;
    /* name where the bad value came from: the user has to find it to fix it */
    char name[64];
    size_t n = strspn(the_config.error, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : 0), the_config.error);
    const char *src = n && config_setting_known(name) ? tool_source(name) : NULL;
    if (!src) die(EXIT_USAGE, "%s", the_config.error);
    int cmdline = !strcmp(src, "command line");
    /* wherever it came from, a bad setting is the caller's to fix: exit status 2 */
    die(EXIT_USAGE, "%s (from %s%s)", the_config.error, cmdline || !strcmp(src, "environment") ? "the " : "", src);
}

enum mode tool_mode(int *once) {
    const struct config *cfg = tool_config();
    if (once) *once = cfg->mode == MODE_ONCE;
    if (cfg->mode != MODE_ONCE) return cfg->mode;
    return store_file_has_entries(cfg->dir) > 0 ? MODE_REPLAY : MODE_RECORD;
}

long long tool_now(void) {
    return (long long)time(NULL);
}

/* ---- stores ------------------------------------------------------------------------------- */

static char label[PATH_MAX + 32];

const char *backend_label(void) {
    return label;
}

struct store *open_dir(const char *dir, int must_exist) {
    struct stat st;
    if (must_exist && stat(dir, &st) != 0)
        die(EXIT_FAIL, "%s: %s", dir, strerror(errno));
    if (must_exist && !S_ISDIR(st.st_mode)) die(EXIT_FAIL, "%s is not a directory", dir);
    char *err = NULL;
    struct store *s = store_file_open(dir, &err);
    if (!s) die(EXIT_FAIL, "%s", err ? err : "cannot open the directory");
    return s;
}

struct store *open_backend(int must_exist) {
    const struct config *cfg = tool_config();
    if (cfg->backend == BACKEND_FILE) {
        snprintf(label, sizeof(label), "%s", cfg->dir);
        struct stat st;
        if (must_exist && stat(cfg->dir, &st) != 0 && errno == ENOENT)
            die(EXIT_FAIL, "cache directory %s does not exist (LLMSHIM_DIR from %s): nothing has been cached there yet",
                cfg->dir, tool_source("LLMSHIM_DIR"));
        return open_dir(cfg->dir, 0);
    }
    if (cfg->backend == BACKEND_MEMORY)
        die(EXIT_FAIL, "LLMSHIM_BACKEND=memory keeps entries inside each program's own process; there is no "
            "shared cache to look at (use the file or redis backend)");
    /* every other backend is Redis */
    const char *url = tool_lookup("LLMSHIM_REDIS_URL");
    if (!url || !*url) url = DEFAULT_REDIS_URL;
    redis_url_redact(url, label, sizeof(label)); /* for messages: never the password */
#ifdef LLMSHIM_HAVE_REDIS
    char *err = NULL;
    struct store_redis_opts o = {url, cfg->ns, 2000, 10000, cfg->redis_ca, cfg->redis_cert, cfg->redis_key,
                                 cfg->sentinel_password};
    struct store *s = store_redis_open(&o, &err);
    if (!s) die(EXIT_FAIL, "cannot use redis at %s: %s", label, err ? err : "unreachable");
    return s;
#else
    (void)must_exist;
    die(EXIT_FAIL, "LLMSHIM_BACKEND=%s: this llmshim was built without Redis support", tool_lookup("LLMSHIM_BACKEND"));
#endif
}

/* ---- reading every entry ------------------------------------------------------------------ */

/* Lowercase hex of 1 to 64 digits: a name that claims to be (a prefix of) a key. */
static int is_hex_name(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n > 0 && n <= 64;
}

const char entry_unreadable[] = "unreadable (check its owner and permissions)";

const char *entry_check(struct entry *e, const char *hex, const char *data, size_t len) {
    memset(e, 0, sizeof(*e));
    if (!data) return entry_unreadable;
    if (!len) return "empty file";
    if (entry_decode(e, data, len) == 0) {
        if (hex && is_hex_name(hex) && strncmp(hex, e->key, strlen(hex)) != 0) {
            entry_free(e);
            return "the key inside does not match the file name";
        }
        return NULL;
    }
    /* entry_decode only says no; find out why, for the person fixing it */
    struct json_doc d;
    if (json_parse(&d, data, len) != 0) return "not valid JSON (cut short, or edited by hand?)";
    long long v = 0;
    int t = d.tok[0].type == JSMN_OBJECT ? json_get(&d, 0, "llmshim") : -1;
    int known = t >= 0 && json_tok_ll(&d, t, &v) == 0;
    json_doc_free(&d);
    if (!known) return "valid JSON but not an llmshim entry";
    if (v < 1 || v > ENTRY_VERSION) return "an entry format this llmshim does not know (newer version?)";
    return "a required field is missing or malformed";
}

struct load {
    struct recs *r;
    const char *what;
    int with_prompt;
    int oom;
};

static int load_one(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct load *l = ud;
    struct recs *r = l->r;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct rec *v = realloc(r->v, cap * sizeof(*v));
        if (!v) return l->oom = 1;
        r->v = v;
        r->cap = cap;
    }
    struct rec *x = &r->v[r->n];
    memset(x, 0, sizeof(*x));
    snprintf(x->hex, sizeof(x->hex), "%s", k->hex);
    x->size = len;
    if (k->name && !(x->name = strdup(k->name))) return l->oom = 1;
    struct entry e;
    x->bad = entry_check(&e, k->hex, data, len);
    if (!x->bad) {
        snprintf(x->hex, sizeof(x->hex), "%s", e.key);
        x->created = e.created;
        x->ttl = e.ttl;
        if (l->with_prompt) {
            x->provider = e.provider ? strdup(e.provider) : NULL;
            x->model = e.model ? strdup(e.model) : NULL;
            x->prompt = prompt_of(e.req_body, e.req_body_len, e.req_json, 60);
        }
        entry_free(&e);
    }
    r->n++;
    progress(l->what, r->n);
    return 0;
}

void recs_load(struct store *s, struct recs *r, const char *what, int with_prompt) {
    memset(r, 0, sizeof(*r));
    if (!s->ops->each) die(EXIT_FAIL, "the %s backend cannot list its entries", s->ops->name);
    struct load l = {r, what, with_prompt, 0};
    char *err = NULL;
    int rc = s->ops->each(s, load_one, &l, &err);
    progress_done();
    if (l.oom) die(EXIT_FAIL, "out of memory after %zu entries", r->n);
    if (rc != 0) die(EXIT_FAIL, "%s", err ? err : "cannot list the entries");
    free(err);
}

void recs_free(struct recs *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].provider);
        free(r->v[i].model);
        free(r->v[i].prompt);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

struct used_index {
    struct rec **by_hex;
    size_t n;
};

static int cmp_hex(const void *a, const void *b) {
    return strcmp((*(struct rec *const *)a)->hex, (*(struct rec *const *)b)->hex);
}

static int find_hex(const void *key, const void *el) {
    return strcmp(key, (*(struct rec *const *)el)->hex);
}

static void note_used(const char *hex, long long when, void *ud) {
    struct used_index *u = ud;
    struct rec **x = bsearch(hex, u->by_hex, u->n, sizeof(*u->by_hex), find_hex);
    if (x && when > (*x)->used) (*x)->used = when;
}

void recs_load_used(struct store *s, struct recs *r) {
    if (!s->ops->each_used)
        die(EXIT_FAIL, "the %s backend keeps no record of which entries were used (the file backend does)",
            s->ops->name);
    struct used_index u = {calloc(r->n + 1, sizeof(*u.by_hex)), r->n};
    if (!u.by_hex) die(EXIT_FAIL, "out of memory");
    for (size_t i = 0; i < r->n; i++) u.by_hex[i] = &r->v[i];
    qsort(u.by_hex, u.n, sizeof(*u.by_hex), cmp_hex);
    char *err = NULL;
    if (s->ops->each_used(s, note_used, &u, &err) != 0) die(EXIT_FAIL, "%s", err ? err : "cannot read the usage marks");
    free(err);
    free(u.by_hex);
}

const char *rec_label(const struct rec *r) {
    return r->name ? r->name : r->hex;
}
