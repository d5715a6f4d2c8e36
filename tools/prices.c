/* Prices per million tokens, for what `llmshim stats` says the cache saved in dollars: the table
 * shipped in tools/prices.tsv (built in), then the rows of $LLMSHIM_PRICES, which win. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "llmshim.h"

extern const char prices_builtin[]; /* tools/prices.tsv, as the build made it a string */

struct price_row {
    char provider[32];
    char model[128]; /* a trailing '*' matches any rest */
    struct price p;
};

static struct price_row *rows;
static size_t nrows;

static int number(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end); /* the command never sets a locale: '.' is the decimal point */
    if (end == s || *end || errno || v < 0) return -1;
    *out = v;
    return 0;
}

/* One "provider model input output cached date source" line; 0 added or blank, -1 malformed. */
static int add_line(char *line) {
    char *save = NULL, *f[6];
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash && (hash == line || hash[-1] == ' ' || hash[-1] == '\t')) *hash = '\0';
    for (char *t = strtok_r(line, " \t\r", &save); t && n < 6; t = strtok_r(NULL, " \t\r", &save)) f[n++] = t;
    if (n == 0) return 0;
    struct price_row r;
    memset(&r, 0, sizeof(r));
    if (n < 6 || strlen(f[0]) >= sizeof(r.provider) || strlen(f[1]) >= sizeof(r.model) ||
        number(f[2], &r.p.input) || number(f[3], &r.p.output) ||
        (strcmp(f[4], "-") && number(f[4], &r.p.cached)))
        return -1;
    r.p.has_cached = strcmp(f[4], "-") != 0;
    if (!r.p.has_cached) r.p.cached = r.p.input; /* no cache discount: cached input is input */
    snprintf(r.provider, sizeof(r.provider), "%s", f[0]);
    snprintf(r.model, sizeof(r.model), "%s", f[1]);
    struct price_row *v = realloc(rows, (nrows + 1) * sizeof(*v));
    if (!v) die(EXIT_FAIL, "out of memory");
    rows = v;
    rows[nrows++] = r; /* later rows win: lookups scan from the end */
    return 0;
}

/* 0, or the number of the first malformed line. */
static int add_text(const char *text) {
    char *copy = strdup(text);
    if (!copy) die(EXIT_FAIL, "out of memory");
    int lineno = 0, bad = 0;
    for (char *p = copy, *nl; p && *p && !bad; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        lineno++;
        if (add_line(p) != 0) bad = lineno;
    }
    free(copy);
    return bad;
}

static void free_rows(void) {
    free(rows);
}

void prices_load(void) {
    if (add_text(prices_builtin)) die(EXIT_FAIL, "the built-in price table is malformed");
    atexit(free_rows);
    const char *path = tool_lookup("LLMSHIM_PRICES");
    if (!path || !*path) return;
    FILE *f = fopen(path, "r");
    if (!f) die(EXIT_USAGE, "LLMSHIM_PRICES=%s: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 16 * 1024 * 1024) buf_append(&b, chunk, n);
    fclose(f);
    int bad = b.oom ? -1 : add_text(b.data ? b.data : "");
    buf_free(&b);
    if (bad)
        die(EXIT_USAGE, "LLMSHIM_PRICES=%s:%d: expected 'provider model input output cached date source' "
            "(prices per million tokens, cached '-' when none)", path, bad);
}

const struct price *price_of(const char *provider, const char *model) {
    const struct price_row *best = NULL;
    size_t best_len = 0;
    for (size_t i = nrows; i-- > 0;) {
        const struct price_row *r = &rows[i];
        if (strcmp(r->provider, provider) != 0) continue;
        size_t len = strlen(r->model);
        int star = len && r->model[len - 1] == '*';
        int match = star ? !strncmp(r->model, model, len - 1) : !strcmp(r->model, model);
        /* an exact name beats every pattern; a longer pattern beats a shorter one */
        size_t score = star ? len : (size_t)-1;
        if (match && (!best || score > best_len)) {
            best = r;
            best_len = score;
        }
    }
    return best ? &best->p : NULL;
}

int dollars_saved(const struct stats_row *r, double *out) {
    const struct price *p = price_of(r->provider, r->model);
    if (!p) return -1;
    /* tokens counted before the split by kind existed cannot be priced: never guess */
    if (r->tokens_saved && !r->input_saved && !r->output_saved) return -1;
    long long cached = r->cached_saved < r->input_saved ? r->cached_saved : r->input_saved;
    *out = ((double)(r->input_saved - cached) * p->input + (double)cached * p->cached +
            (double)r->output_saved * p->output) / 1e6;
    return 0;
}
