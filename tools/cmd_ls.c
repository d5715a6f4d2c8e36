/* llmshim ls / show: what is in the cache, one line per entry, or one entry in full. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "llmshim.h"

static const char usage_ls[] =
    "usage: llmshim ls [--json] [--unused-since WHEN]\n"
    "\n"
    "One line per cached answer, oldest first: short key, age, when it expires, provider,\n"
    "model, size and the first words of the prompt. Corrupt entries are counted on stderr\n"
    "(llmshim verify names them).\n"
    "\n"
    "  --json                a JSON array with one object per entry\n"
    "  --unused-since WHEN   only the entries that answered no request since WHEN and were\n"
    "                        recorded before it: @UNIXTIME (date +%s), an age (2h, 30d) or\n"
    "                        a UTC date (2025-06-01, 2025-06-01T12:00Z)\n";

static const char usage_show[] =
    "usage: llmshim show KEY\n"
    "\n"
    "Prints one cached answer: the request it answers and the response, JSON bodies\n"
    "indented, streams as they were received. KEY is the key or a unique prefix of at\n"
    "least 6 hex digits (as llmshim ls prints it).\n";

/* The --unused-since value as given, for messages. */
static const char *argv_when(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--unused-since=", 15)) return argv[i] + 15;
        if (!strcmp(argv[i], "--unused-since") && i + 1 < argc) return argv[i + 1];
    }
    return "?";
}

static int by_created(const void *a, const void *b) {
    const struct rec *x = a, *y = b;
    if (x->created != y->created) return x->created < y->created ? -1 : 1;
    return strcmp(x->hex, y->hex);
}

static void expires_text(char *out, size_t n, long long created, long long ttl, long long now) {
    char age[16];
    if (!ttl) {
        snprintf(out, n, "never");
    } else if (created + ttl <= now) {
        snprintf(out, n, "expired");
    } else {
        fmt_age(age, sizeof(age), created + ttl - now);
        snprintf(out, n, "in %s", age);
    }
}

static void ls_json(const struct recs *r, long long now) {
    printf("[");
    int first = 1;
    for (size_t i = 0; i < r->n; i++) {
        const struct rec *x = &r->v[i];
        if (x->bad) continue;
        printf("%s\n  {\"key\": \"%s\", \"name\": ", first ? "" : ",", x->hex);
        put_json_str(stdout, x->name);
        printf(", \"created\": %lld, \"age\": %lld, \"ttl\": %lld, ", x->created, now - x->created, x->ttl);
        if (x->ttl) printf("\"expires\": %lld, ", x->created + x->ttl);
        else printf("\"expires\": null, ");
        printf("\"expired\": %s, ", x->ttl && x->created + x->ttl <= now ? "true" : "false");
        if (x->used) printf("\"used\": %lld, \"provider\": ", x->used);
        else printf("\"used\": null, \"provider\": ");
        put_json_str(stdout, x->provider);
        printf(", \"model\": ");
        put_json_str(stdout, x->model);
        printf(", \"size\": %zu, \"prompt\": ", x->size);
        put_json_str(stdout, x->prompt);
        printf("}");
        first = 0;
    }
    printf("%s]\n", first ? "" : "\n");
}

/* Not used since `since` and recorded before it: a recording nothing asks for any more. */
int rec_unused(const struct rec *x, long long since) {
    return !x->bad && x->used < since && x->created < since;
}

int cmd_ls(int argc, char **argv) {
    int json = 0;
    long long since = -1;
    const char *v;
    if (wants_help(argc, argv)) return help(usage_ls);
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "--json")) json = 1;
        else if (opt(argc, argv, &i, "--unused-since", &v, usage_ls)) {
            if (parse_when(v, tool_now(), &since) != 0)
                return usage_error(usage_ls, "--unused-since '%s' is not a time (@UNIXTIME, an age like 2h, or 2025-06-01)", v);
        } else {
            return bad_arg(usage_ls, argv[i]);
        }
    }
    struct store *s = open_backend(1);
    struct recs r;
    recs_load(s, &r, "reading entries:", 1);
    if (since >= 0 || s->ops->each_used) recs_load_used(s, &r);
    store_close(s);
    size_t total = 0;
    for (size_t i = 0; i < r.n; i++) total += !r.v[i].bad;
    if (since >= 0) { /* keep only the unused ones; the corrupt are counted as before */
        size_t k = 0;
        for (size_t i = 0; i < r.n; i++) {
            if (r.v[i].bad || rec_unused(&r.v[i], since)) r.v[k++] = r.v[i];
            else {
                free(r.v[i].name);
                free(r.v[i].provider);
                free(r.v[i].model);
                free(r.v[i].prompt);
            }
        }
        r.n = k;
    }
    if (r.n) qsort(r.v, r.n, sizeof(*r.v), by_created);
    long long now = tool_now();
    size_t bad = 0, unreadable = 0;
    int pw = 8, mw = 5;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].bad) {
            bad++;
            unreadable += r.v[i].bad == entry_unreadable;
            continue;
        }
        int p = r.v[i].provider ? (int)strlen(r.v[i].provider) : 1, m = r.v[i].model ? (int)strlen(r.v[i].model) : 1;
        pw = p > pw ? p : pw;
        mw = m > mw ? m : mw;
    }
    if (json) {
        ls_json(&r, now);
    } else {
        printf("%-12s  %5s  %-8s  %-*s  %-*s  %6s  %s\n", "KEY", "AGE", "EXPIRES", pw, "PROVIDER", mw, "MODEL", "SIZE",
               "PROMPT");
        for (size_t i = 0; i < r.n; i++) {
            const struct rec *x = &r.v[i];
            if (x->bad) continue;
            char age[16], exp[24], size[16];
            fmt_age(age, sizeof(age), now - x->created);
            expires_text(exp, sizeof(exp), x->created, x->ttl, now);
            fmt_size(size, sizeof(size), (long long)x->size);
            printf("%.12s  %5s  %-8s  %-*s  %-*s  %6s  %s\n", x->hex, age, exp, pw, x->provider ? x->provider : "-", mw,
                   x->model ? x->model : "-", size, x->prompt ? x->prompt : "");
        }
    }
    if (unreadable) note("%zu unreadable entr%s not listed (llmshim verify names them)", unreadable,
                         unreadable == 1 ? "y" : "ies");
    if (bad > unreadable)
        note("%zu corrupt entr%s not listed (llmshim verify names them)", bad - unreadable, bad - unreadable == 1 ? "y" : "ies");
    if (since >= 0) note("%zu of %zu entries not used since %s (llmshim prune --unused-since removes them)",
                         r.n - bad, total, argv_when(argc, argv));
    recs_free(&r);
    return 0;
}

/* ---- show --------------------------------------------------------------------------------- */

struct match {
    const char *prefix;
    size_t plen;
    struct buf data; /* the first match */
    char *name;
    char hex[65];
    size_t n;
    char cand[8][80]; /* what an ambiguous prefix matched */
    size_t scanned;
};

/* Length of s when it is all lowercase hex, else 0. */
static size_t hex_len(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n;
}

/* A file store names an entry by the first 16 digits of its key: the name rules out most
 * entries cheaply, the key inside decides. */
static int match_one(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct match *m = ud;
    progress("searching", ++m->scanned);
    size_t hl = hex_len(k->hex);
    if (hl && strncmp(k->hex, m->prefix, hl < m->plen ? hl : m->plen) != 0) return 0;
    struct entry e;
    const char *bad = entry_check(&e, k->hex, data, len);
    const char *key = bad ? k->hex : e.key; /* a corrupt entry is known by its name alone */
    if (strncmp(key, m->prefix, m->plen) != 0) {
        if (!bad) entry_free(&e);
        return 0;
    }
    if (m->n < 8) {
        char *prompt = bad ? NULL : prompt_of(e.req_body, e.req_body_len, e.req_json, 40);
        snprintf(m->cand[m->n], sizeof(m->cand[m->n]), "%.16s  %s", key, bad ? bad : prompt ? prompt : "");
        free(prompt);
    }
    if (m->n++ == 0) {
        buf_append(&m->data, data, len);
        m->name = k->name ? strdup(k->name) : NULL;
        snprintf(m->hex, sizeof(m->hex), "%s", key);
    }
    if (!bad) entry_free(&e);
    return 0;
}

static void print_time(const char *label, long long t) {
    time_t tt = (time_t)t;
    struct tm tm;
    char when[64] = "?";
    if (gmtime_r(&tt, &tm)) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    printf("%-10s %s", label, when);
}

static void print_body(const char *body, size_t len, const char *ctype) {
    struct buf out;
    buf_init(&out);
    int stream = ctype && (strstr(ctype, "event-stream") || strstr(ctype, "ndjson"));
    if (!len) printf("(empty body)\n");
    else if (!stream && json_pretty(&out, body, len) == 0) printf("%s\n", out.data);
    else {
        fwrite(body, 1, len, stdout);
        if (body[len - 1] != '\n') putchar('\n');
    }
    buf_free(&out);
}

static void show_entry(const struct entry *e, const char *name) {
    long long now = tool_now();
    char age[16], exp[24], lat[16];
    fmt_age(age, sizeof(age), now - e->created);
    expires_text(exp, sizeof(exp), e->created, e->ttl, now);
    fmt_us(lat, sizeof(lat), e->latency_us);
    printf("%-10s %s\n", "key", e->key);
    if (name) printf("%-10s %s\n", "entry", name);
    print_time("created", e->created);
    if (!e->ttl) printf(" (%s ago); it never expires\n", age);
    else if (e->created + e->ttl > now) printf(" (%s ago); it expires %s\n", age, exp);
    else {
        fmt_age(exp, sizeof(exp), now - e->created - e->ttl);
        printf(" (%s ago); it expired %s ago: cache mode fetches it again, replay mode still serves it\n", age, exp);
    }
    printf("%-10s %s (the original call)\n", "latency", lat);
    printf("%-10s %s\n%-10s %s\n", "provider", e->provider ? e->provider : "-", "model", e->model ? e->model : "-");
    printf("\n== request ==\n%s %s\n\n", e->method ? e->method : "?", e->url ? e->url : "?");
    print_body(e->req_body, e->req_body_len, e->req_json ? "application/json" : NULL);
    printf("\n== response ==\n%s\n", e->status_line ? e->status_line : "");
    for (size_t i = 0; i < e->nheaders; i++) printf("%s: %s\n", e->headers[i].name, e->headers[i].value);
    putchar('\n');
    if (!json_utf8_valid(e->body, e->body_len)) printf("(%zu bytes of binary data)\n", e->body_len);
    else print_body(e->body, e->body_len, entry_header(e, "content-type"));
}

int cmd_show(int argc, char **argv) {
    if (wants_help(argc, argv)) return help(usage_show);
    if (argc != 2) return usage_error(usage_show, argc < 2 ? "which entry? give its KEY" : "one KEY at a time");
    char prefix[65];
    size_t n = strlen(argv[1]);
    if (n < 6 || n > 64) return usage_error(usage_show, "KEY '%s' must have 6 to 64 hex digits", argv[1]);
    for (size_t i = 0; i <= n; i++) {
        char c = (char)(argv[1][i] | (argv[1][i] >= 'A' && argv[1][i] <= 'F' ? 0x20 : 0));
        if (i < n && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return usage_error(usage_show, "KEY '%s' is not hexadecimal", argv[1]);
        prefix[i] = c;
    }
    struct store *s = open_backend(1);
    struct match m = {.prefix = prefix, .plen = n};
    buf_init(&m.data);
    char *err = NULL;
    if (!s->ops->each) die(EXIT_FAIL, "the %s backend cannot list its entries", s->ops->name);
    int rc = s->ops->each(s, match_one, &m, &err);
    progress_done();
    store_close(s);
    if (rc != 0) die(EXIT_FAIL, "%s", err ? err : "cannot list the entries");
    int status = 0;
    if (!m.n) {
        note("no entry with a key starting with %s (llmshim ls lists them)", prefix);
        status = EXIT_FAIL;
    } else if (m.n > 1) {
        note("key prefix %s is ambiguous: %zu entries match; give more digits:", prefix, m.n);
        for (size_t i = 0; i < m.n && i < 8; i++) fprintf(stderr, "  %s\n", m.cand[i]);
        if (m.n > 8) fprintf(stderr, "  ...\n");
        status = EXIT_FAIL;
    } else {
        struct entry e;
        const char *bad = entry_check(&e, m.hex, m.data.data ? m.data.data : "", m.data.len);
        if (bad) {
            note("entry %s is corrupt: %s", m.name ? m.name : m.hex, bad);
            status = EXIT_FAIL;
        } else {
            show_entry(&e, m.name);
            entry_free(&e);
        }
    }
    buf_free(&m.data);
    free(m.name);
    free(err);
    return status;
}
