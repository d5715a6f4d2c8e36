/* llmshim key: the canonical body and key the shim would give a request; --explain finds the
 * nearest stored request to the same URL and names the JSON paths that differ (why a miss). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "json.h"
#include "jsondiff.h"
#include "nearest.h"
#include "llmshim.h"

#define STDIN_MAX (256L * 1024 * 1024)

static const char usage[] =
    "usage: llmshim key [--explain] [--url URL] [--method METHOD] < request.json\n"
    "\n"
    "Reads a request body on stdin and prints what the shim makes of it with the current\n"
    "settings: provider, model, canonical body and key.\n"
    "\n"
    "  --url URL       where the request goes (default https://api.openai.com/v1/chat/completions)\n"
    "  --method M      the HTTP method (default POST; only POST requests are cached)\n"
    "  --explain       also say what the shim does with it in the current mode (a hit,\n"
    "                  expired, a miss) and, for a miss, the nearest stored request (same\n"
    "                  URL and model first) with the JSON paths that differ and both values\n";

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

/* ---- why a request is a miss -------------------------------------------------------------- */

struct scan {
    struct nearest n;
    struct entry exact; /* the entry stored under this very key, if any */
    int has_exact;
};

static int near_one(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct scan *s = ud;
    progress("comparing", s->n.seen + 1);
    struct entry e;
    if (entry_check(&e, NULL, data, len)) return 0;
    nearest_consider(&s->n, &e, k->name);
    if (!s->has_exact && !strcmp(e.key, s->n.c->hex)) {
        s->exact = e;
        s->has_exact = 1;
        return 0;
    }
    entry_free(&e);
    return 0;
}

/* The entry under this key answers exactly this request (what the shim checks on every hit). */
static int answers(const struct entry *e, const struct call *c) {
    return e->method && !strcmp(e->method, "POST") && e->url && !strcmp(e->url, c->safe_url) &&
           e->req_json == c->body_json && e->req_body_len == c->body.len &&
           (!c->body.len || !memcmp(e->req_body, c->body.data, c->body.len));
}

/* What the shim does with the entry stored under this key, in mode m. */
static void judge(const struct entry *e, const char *name, const struct call *c, enum mode m, int once) {
    const char *where = name ? name : c->hex;
    long long now = tool_now();
    if (name && strchr(name, '/') && strcmp(name, c->name) != 0) {
        /* same key, another file name: the provider or model segment was made differently */
        printf("stored:  yes, as %s, but the shim looks for %s (recorded with other\n"
               "         LLMSHIM_ENDPOINTS, or by an older llmshim?); llmshim export renames entries\n",
               name, c->name);
        return;
    }
    if (!answers(e, c)) {
        printf("stored:  %s has this key but answers another request (edited by hand, or a\n"
               "         collision): the shim ignores it, so this request is a miss\n", where);
        return;
    }
    const char *how = once ? " (once: the directory holds entries, so it replays)" : "";
    if (m == MODE_OFF) printf("stored:  yes, %s; but in off mode the shim passes every call through\n", where);
    else if (m == MODE_RECORD) printf("stored:  yes, %s; record mode fetches it again anyway%s\n", where,
                                      once ? " (once: the directory holds no entries)" : "");
    else if (entry_fresh(e, now)) printf("stored:  yes, %s: this request is a hit%s\n", where, how);
    else {
        char age[16];
        fmt_age(age, sizeof(age), now - e->created - e->ttl);
        if (m == MODE_REPLAY)
            printf("stored:  yes, %s: this request is a hit%s (it expired %s ago; replay ignores TTLs)\n", where, how, age);
        else
            printf("stored:  yes, %s, but it expired %s ago: a miss in cache mode, fetched and stored\n"
                   "         again (replay mode would still serve it)\n", where, age);
    }
}

static void show_diff(const struct nearest *n, const struct call *c) {
    struct jsondiff d;
    jsondiff(&d, n->body.data ? n->body.data : "", n->body.len, n->body_json, c->body.data ? c->body.data : "",
             c->body.len, c->body_json, 50);
    if (n->rank == NEAR_MODEL) printf("url:     %s → %s\n", n->url ? n->url : "?", c->safe_url);
    printf("differs: %zu JSON path%s (recorded → this request)\n", d.total, d.total == 1 ? "" : "s");
    for (size_t i = 0; i < d.n; i++) {
        const struct jsondiff_item *it = &d.items[i];
        if (!it->path[0]) printf("  (the whole body: not JSON on both sides)\n");
        else printf("  %s: %s → %s\n", it->path, it->a ? it->a : "(absent)", it->b ? it->b : "(absent)");
    }
    if (d.total > d.n) printf("  ... and %zu more\n", d.total - d.n);
    jsondiff_free(&d);
}

static void explain(const struct call *c) {
    int once;
    enum mode m = tool_mode(&once);
    struct store *s = open_backend(1);
    if (!s->ops->each) die(EXIT_FAIL, "the %s backend cannot list its entries", s->ops->name);
    struct scan sc = {.has_exact = 0};
    nearest_init(&sc.n, c);
    char *err = NULL;
    int rc = s->ops->each(s, near_one, &sc, &err);
    progress_done();
    store_close(s);
    if (rc != 0) die(EXIT_FAIL, "%s", err ? err : "cannot list the entries");
    const struct nearest *n = &sc.n;
    printf("\nmode:    %s%s\n", mode_name(m), once ? " (once)" : "");
    if (sc.has_exact) {
        judge(&sc.exact, n->exact_name, c, m, once);
        entry_free(&sc.exact);
    } else if (m == MODE_OFF) {
        printf("stored:  no; in off mode the shim passes every call through anyway\n");
    } else if (n->rank == NEAR_NONE) {
        printf("stored:  no; no stored entry for POST %s or model %s (%zu entries looked at)\n", c->safe_url,
               c->model ? c->model : "-", n->seen);
    } else if (n->diffs == 0 && n->rank != NEAR_MODEL) {
        printf("stored:  no; entry %.12s has the same URL and body but another key: it was stored\n"
               "         under another LLMSHIM_NAMESPACE or key format\n", n->hex);
    } else {
        char age[16];
        fmt_age(age, sizeof(age), tool_now() - n->created);
        if (n->rank == NEAR_MODEL)
            printf("stored:  no; no stored entry for POST %s; nearest with the same model: %.12s (%s, %s ago)\n",
                   c->safe_url, n->hex, n->name ? n->name : n->hex, age);
        else
            printf("stored:  no; nearest of %zu entr%s for this URL: %.12s (%s, %s, %s ago)\n", n->same_url,
                   n->same_url == 1 ? "y" : "ies", n->hex, n->name ? n->name : n->hex, nearest_rank_text(n->rank), age);
        show_diff(n, c);
        if (m == MODE_RECORD || m == MODE_CACHE)
            printf("in %s mode this request is fetched and stored as a new entry\n", mode_name(m));
    }
    nearest_free(&sc.n);
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
