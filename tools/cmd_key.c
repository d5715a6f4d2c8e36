/* llmshim key: the canonical body and key the shim would give a request; --explain finds the
 * nearest stored request to the same URL and names the JSON paths that differ (why a miss). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "json.h"
#include "llmshim.h"

#define STDIN_MAX (256L * 1024 * 1024)
#define MAX_PATHS 4096 /* a diff longer than this is "everything differs" anyway */

static const char usage[] =
    "usage: llmshim key [--explain] [--url URL] [--method METHOD] < request.json\n"
    "\n"
    "Reads a request body on stdin and prints what the shim makes of it with the current\n"
    "settings: provider, model, canonical body and key.\n"
    "\n"
    "  --url URL       where the request goes (default https://api.openai.com/v1/chat/completions)\n"
    "  --method M      the HTTP method (default POST; only POST requests are cached)\n"
    "  --explain       also find the stored entry for the same URL whose body is nearest,\n"
    "                  and list the JSON paths (e.g. /messages/1/content) that differ\n";

static int read_stdin(struct buf *b) {
    char tmp[65536];
    ssize_t r;
    while ((r = read(0, tmp, sizeof(tmp))) != 0) {
        if (r < 0) return -1;
        if (buf_append(b, tmp, (size_t)r) != 0 || b->len > STDIN_MAX) return -1;
    }
    if (!b->data) buf_puts(b, "");
    return b->oom ? -1 : 0;
}

/* ---- JSON diff ---------------------------------------------------------------------------- */

struct diff {
    const struct json_doc *a, *b;
    char **paths;
    size_t n;
};

static void add_path(struct diff *d, const struct buf *path) {
    if (d->paths && d->n < MAX_PATHS) d->paths[d->n] = strdup(path->len ? path->data : "");
    d->n++;
}

/* Appends /segment with ~ and / escaped (RFC 6901); returns the length to restore. */
static size_t push_key(struct buf *path, const struct json_doc *doc, int key) {
    size_t old = path->len;
    struct buf k;
    buf_init(&k);
    json_tok_str(doc, key, &k);
    buf_putc(path, '/');
    for (size_t i = 0; i < k.len; i++) {
        if (k.data[i] == '~') buf_puts(path, "~0");
        else if (k.data[i] == '/') buf_puts(path, "~1");
        else buf_putc(path, k.data[i]);
    }
    buf_free(&k);
    return old;
}

static void restore(struct buf *path, size_t len) {
    path->len = len;
    if (path->data) path->data[len] = '\0';
}

static int same_token(const struct json_doc *a, int i, const struct json_doc *b, int j) {
    const jsmntok_t *x = &a->tok[i], *y = &b->tok[j];
    return x->type == y->type && x->end - x->start == y->end - y->start &&
           !memcmp(a->text + x->start, b->text + y->start, (size_t)(x->end - x->start));
}

/* Both bodies are canonical, so equal values have equal bytes. */
static void diff_at(struct diff *d, int i, int j, struct buf *path) {
    const jsmntok_t *x = &d->a->tok[i], *y = &d->b->tok[j];
    if (x->type != y->type || (x->type != JSMN_OBJECT && x->type != JSMN_ARRAY)) {
        if (!same_token(d->a, i, d->b, j)) add_path(d, path);
        return;
    }
    if (x->type == JSMN_ARRAY) {
        int n = x->size > y->size ? x->size : y->size;
        for (int k = 0; k < n; k++) {
            size_t old = path->len;
            buf_printf(path, "/%d", k);
            if (k < x->size && k < y->size) diff_at(d, json_child(d->a, i, k), json_child(d->b, j, k), path);
            else add_path(d, path);
            restore(path, old);
        }
        return;
    }
    for (int k = 0; k < x->size; k++) { /* keys of a, then keys only b has */
        int ka = json_child(d->a, i, k);
        struct buf name;
        buf_init(&name);
        json_tok_str(d->a, ka, &name);
        int vb = json_get(d->b, j, name.data ? name.data : "");
        buf_free(&name);
        size_t old = push_key(path, d->a, ka);
        if (vb < 0) add_path(d, path);
        else diff_at(d, ka + 1, vb, path);
        restore(path, old);
    }
    for (int k = 0; k < y->size; k++) {
        int kb = json_child(d->b, j, k);
        struct buf name;
        buf_init(&name);
        json_tok_str(d->b, kb, &name);
        int va = json_get(d->a, i, name.data ? name.data : "");
        buf_free(&name);
        if (va >= 0) continue;
        size_t old = push_key(path, d->b, kb);
        add_path(d, path);
        restore(path, old);
    }
}

/* Number of differing paths (filled into paths when given); bodies that are not both JSON
 * differ as a whole ("" = the root). */
static size_t body_diff(const char *a, size_t alen, int ajson, const char *b, size_t blen, int bjson, char **paths) {
    struct json_doc da, db;
    struct diff d = {&da, &db, paths, 0};
    struct buf path;
    buf_init(&path);
    if (ajson && bjson && json_parse(&da, a, alen) == 0) {
        if (json_parse(&db, b, blen) == 0) {
            diff_at(&d, 0, 0, &path);
            json_doc_free(&db);
        } else {
            add_path(&d, &path);
        }
        json_doc_free(&da);
    } else if (alen != blen || ajson != bjson || memcmp(a, b, alen)) {
        add_path(&d, &path);
    }
    buf_free(&path);
    return d.n;
}

/* ---- the nearest stored entry ------------------------------------------------------------- */

struct nearest {
    const struct call *c;
    size_t scanned, same_url;
    size_t best;      /* differing paths of the best so far */
    long long best_created;
    char best_hex[65];
    char *best_name;
    struct buf best_body;
    int best_json;
    int exact;        /* an entry with this very key */
    char *exact_name;
};

static int near_one(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct nearest *n = ud;
    progress("comparing", ++n->scanned);
    struct entry e;
    if (entry_check(&e, NULL, data, len)) return 0;
    if (!strcmp(e.key, n->c->hex) && !n->exact) {
        n->exact = 1;
        n->exact_name = k->name ? strdup(k->name) : NULL;
    }
    if (e.url && !strcmp(e.url, n->c->safe_url) && e.method && !strcmp(e.method, "POST")) {
        n->same_url++;
        size_t d = body_diff(n->c->body.data, n->c->body.len, n->c->body_json, e.req_body, e.req_body_len,
                             e.req_json, NULL);
        if (d < n->best || (d == n->best && e.created > n->best_created)) {
            n->best = d;
            n->best_created = e.created;
            snprintf(n->best_hex, sizeof(n->best_hex), "%s", e.key);
            free(n->best_name);
            n->best_name = k->name ? strdup(k->name) : NULL;
            buf_clear(&n->best_body);
            buf_append(&n->best_body, e.req_body ? e.req_body : "", e.req_body_len);
            n->best_json = e.req_json;
        }
    }
    entry_free(&e);
    return 0;
}

static void explain(const struct call *c) {
    struct store *s = open_backend(1);
    if (!s->ops->each) die(EXIT_FAIL, "the %s backend cannot list its entries", s->ops->name);
    struct nearest n = {.c = c, .best = (size_t)-1};
    buf_init(&n.best_body);
    char *err = NULL;
    int rc = s->ops->each(s, near_one, &n, &err);
    progress_done();
    store_close(s);
    if (rc != 0) die(EXIT_FAIL, "%s", err ? err : "cannot list the entries");
    printf("\n");
    if (n.exact && n.exact_name && strchr(n.exact_name, '/') && strcmp(n.exact_name, c->name) != 0) {
        /* same key, another file name: the provider or model segment was made differently */
        printf("stored:  yes, as %s, but the shim looks for %s (recorded with other\n"
               "         LLMSHIM_ENDPOINTS, or by an older llmshim?); llmshim export renames entries\n",
               n.exact_name, c->name);
    } else if (n.exact) {
        printf("stored:  yes, %s: this request is a hit\n", n.exact_name ? n.exact_name : c->hex);
    } else if (!n.same_url) {
        printf("stored:  no; no stored entry for POST %s (%zu entries looked at)\n", c->safe_url, n.scanned);
    } else if (n.best == 0) {
        printf("stored:  no; entry %.12s has the same URL and body but another key: it was stored\n"
               "         under another LLMSHIM_NAMESPACE or key format\n", n.best_hex);
    } else {
        char age[16];
        fmt_age(age, sizeof(age), tool_now() - n.best_created);
        printf("stored:  no; nearest of %zu entr%s for this URL: %.12s (%s, %s ago)\n", n.same_url,
               n.same_url == 1 ? "y" : "ies", n.best_hex, n.best_name ? n.best_name : n.best_hex, age);
        char **paths = calloc(n.best < MAX_PATHS ? n.best : MAX_PATHS, sizeof(*paths));
        size_t d = body_diff(c->body.data, c->body.len, c->body_json, n.best_body.data, n.best_body.len,
                             n.best_json, paths);
        printf("differs: %zu JSON path%s\n", d, d == 1 ? "" : "s");
        for (size_t i = 0; paths && i < d && i < MAX_PATHS; i++) {
            if (i < 50) printf("  %s\n", paths[i][0] ? paths[i] : "(the whole body)");
            free(paths[i]);
        }
        if (d > 50) printf("  ... and %zu more\n", d - 50);
        free(paths);
    }
    free(n.exact_name);
    free(n.best_name);
    buf_free(&n.best_body);
    free(err);
}

int cmd_key(int argc, char **argv) {
    const char *url = "https://api.openai.com/v1/chat/completions", *method = "POST";
    int want_explain = 0;
    if (wants_help(argc, argv)) return help(usage);
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "--explain")) want_explain = 1;
        else if (opt(argc, argv, &i, "--url", &url, usage) || opt(argc, argv, &i, "--method", &method, usage)) continue;
        else return bad_arg(usage, argv[i]);
    }
    if (isatty(0)) return usage_error(usage, "give the request body on stdin (llmshim key < request.json)");
    const struct config *cfg = tool_config();
    struct buf body;
    buf_init(&body);
    if (read_stdin(&body) != 0) die(EXIT_FAIL, "cannot read the request body from stdin (larger than 256 MiB?)");
    struct call c;
    int rc = call_analyze(&c, cfg, method, url, body.data, body.len);
    if (rc < 0) die(EXIT_FAIL, "out of memory");
    if (rc == 0) {
        buf_free(&body);
        if (strcmp(method, "POST") != 0) die(EXIT_FAIL, "only POST requests are cached; %s is passed through", method);
        /* suggest the URL up to its last path segment as the prefix to add */
        const char *host = strstr(url, "://"), *last = strrchr(url, '/');
        int plen = host && last > host + 2 ? (int)(last - url) : (int)strlen(url);
        die(EXIT_FAIL, "%s is not an LLM endpoint the shim knows, so it would pass through uncached; "
            "to cache it, add its URL prefix to LLMSHIM_ENDPOINTS (e.g. LLMSHIM_ENDPOINTS=%.*s)", url, plen, url);
    }
    printf("url:      %s\nprovider: %s\nmodel:    %s\n", c.safe_url, c.ep.provider, c.model ? c.model : "-");
    printf("body:     %s%s\n", c.body_json ? "" : "(not JSON: hashed as raw bytes) ", c.body.data ? c.body.data : "");
    printf("entry:    %s\nkey:      %s\n", c.name, c.hex);
    fflush(stdout);
    if (want_explain) explain(&c);
    call_free(&c);
    buf_free(&body);
    return 0;
}
