/* llmshim stats: the shared counters of every process that used this cache, per provider and
 * model, as a table, JSON or Prometheus text. */
#include <stdlib.h>
#include <string.h>

#include "llmshim.h"

static const char usage[] =
    "usage: llmshim stats [--json | --prometheus]\n"
    "\n"
    "What the cache did for every process that used it: hits, misses, hit ratio, stores,\n"
    "errors, stale answers, and the bytes, tokens, time and dollars the hits saved, per\n"
    "provider and model, with a total row. Dollars come from the price table built in\n"
    "(tools/prices.tsv: list prices per million tokens, each with its date and source) and\n"
    "$LLMSHIM_PRICES, a file of the same form whose rows win; a model without a price\n"
    "shows '-'.\n"
    "\n"
    "  --json        one JSON object: {\"rows\": [...], \"total\": {...}}\n"
    "  --prometheus  Prometheus text format (for node_exporter's textfile collector)\n";

static int by_name(const void *a, const void *b) {
    const struct stats_row *x = a, *y = b;
    int c = strcmp(x->provider, y->provider);
    return c ? c : strcmp(x->model, y->model);
}

static double ratio(const struct stats_row *r) {
    long long n = r->hits + r->misses;
    return n ? (double)r->hits / (double)n : 0;
}

static void fmt_dollars(char *out, size_t n, const struct stats_row *r) {
    double d;
    if (dollars_saved(r, &d) != 0) snprintf(out, n, "-");
    else if (d == 0) snprintf(out, n, "$0");
    else if (d < 0.01) snprintf(out, n, "$%.4f", d);
    else if (d < 1000) snprintf(out, n, "$%.2f", d);
    else snprintf(out, n, "$%.0f", d);
}

/* The sum over the rows that have a price; -1 when none has. *unpriced: rows that saved tokens
 * but have no price (left out of the sum). */
static int total_dollars(const struct stats_table *t, double *sum, size_t *unpriced) {
    int any = 0;
    *sum = 0;
    *unpriced = 0;
    for (size_t i = 0; i < t->n; i++) {
        double d;
        if (dollars_saved(&t->rows[i], &d) == 0) {
            *sum += d;
            any = 1;
        } else if (t->rows[i].hits + t->rows[i].stale) {
            (*unpriced)++;
        }
    }
    return any ? 0 : -1;
}

static void print_table(const struct stats_table *t, const struct stats_row *total) {
    int pw = 8, mw = 5;
    for (size_t i = 0; i < t->n; i++) {
        int p = (int)strlen(t->rows[i].provider), m = (int)strlen(t->rows[i].model);
        pw = p > pw ? p : pw;
        mw = m > mw ? m : mw;
    }
    printf("%-*s  %-*s %8s %8s %6s %8s %7s %6s %8s %8s %9s %9s\n", pw, "PROVIDER", mw, "MODEL", "HITS", "MISSES",
           "RATIO", "STORES", "ERRORS", "STALE", "BYTES", "TOKENS", "TIME", "DOLLARS");
    double sum;
    size_t unpriced;
    int priced = total_dollars(t, &sum, &unpriced) == 0;
    for (size_t i = 0; i <= t->n; i++) {
        const struct stats_row *r = i < t->n ? &t->rows[i] : total;
        char bytes[16], us[16], pct[16], usd[24];
        fmt_size(bytes, sizeof(bytes), r->bytes_saved);
        fmt_us(us, sizeof(us), r->us_saved);
        if (r->hits + r->misses) snprintf(pct, sizeof(pct), "%.1f%%", 100 * ratio(r));
        else snprintf(pct, sizeof(pct), "-");
        if (i < t->n) fmt_dollars(usd, sizeof(usd), r);
        else if (!priced) snprintf(usd, sizeof(usd), "-");
        else snprintf(usd, sizeof(usd), sum < 0.01 && sum > 0 ? "$%.4f%s" : "$%.2f%s", sum, unpriced ? "+" : "");
        printf("%-*s  %-*s %8lld %8lld %6s %8lld %7lld %6lld %8s %8lld %9s %9s\n", pw, i < t->n ? r->provider : "total",
               mw, i < t->n ? r->model : "", r->hits, r->misses, pct, r->stores, r->errors, r->stale, bytes,
               r->tokens_saved, us, usd);
    }
    if (!t->n) printf("(nothing counted yet)\n");
    if (priced && unpriced)
        printf("(%zu model%s without a price: not in the total; add %s to LLMSHIM_PRICES)\n", unpriced,
               unpriced == 1 ? "" : "s", unpriced == 1 ? "it" : "them");
}

static void json_dollars(int ok, double d) {
    if (ok) printf(", \"dollars_saved\": %.6f", d);
    else printf(", \"dollars_saved\": null");
}

static void json_row(const struct stats_row *r, int with_names) {
    printf("{");
    if (with_names) {
        printf("\"provider\": ");
        put_json_str(stdout, r->provider);
        printf(", \"model\": ");
        put_json_str(stdout, r->model);
        printf(", ");
    }
    printf("\"hits\": %lld, \"misses\": %lld, \"hit_ratio\": %.4f, \"stores\": %lld, \"errors\": %lld, "
           "\"stale\": %lld, \"bytes_saved\": %lld, \"tokens_saved\": %lld, \"input_tokens_saved\": %lld, "
           "\"output_tokens_saved\": %lld, \"cached_tokens_saved\": %lld, \"seconds_saved\": %.6f",
           r->hits, r->misses, ratio(r), r->stores, r->errors, r->stale, r->bytes_saved, r->tokens_saved,
           r->input_saved, r->output_saved, r->cached_saved, (double)r->us_saved / 1e6);
}

static void print_json(const struct stats_table *t, const struct stats_row *total) {
    printf("{\"rows\": [");
    for (size_t i = 0; i < t->n; i++) {
        double d;
        printf(i ? ",\n  " : "\n  ");
        json_row(&t->rows[i], 1);
        int ok = dollars_saved(&t->rows[i], &d) == 0;
        json_dollars(ok, d);
        printf("}");
    }
    printf("%s],\n \"total\": ", t->n ? "\n " : "");
    json_row(total, 0);
    double sum;
    size_t unpriced;
    int ok = total_dollars(t, &sum, &unpriced) == 0;
    json_dollars(ok, sum);
    printf(", \"unpriced_models\": %zu}}\n", unpriced);
}

/* Label values escape backslash, double quote and newline (exposition format). */
static void label(const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') putchar('\\');
        if (*s == '\n') fputs("\\n", stdout);
        else putchar(*s);
    }
}

static void print_prometheus(const struct stats_table *t) {
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"llmshim_hits_total", "counter", "LLM calls answered from the cache."},
        {"llmshim_misses_total", "counter", "LLM calls the cache could not answer."},
        {"llmshim_stores_total", "counter", "Answers written to the cache."},
        {"llmshim_errors_total", "counter", "Cache failures that fell back to the network."},
        {"llmshim_stale_total", "counter", "Expired answers served because the API failed."},
        {"llmshim_bytes_saved_total", "counter", "Response bytes served from the cache."},
        {"llmshim_tokens_saved_total", "counter", "Tokens of the answers served from the cache."},
        {"llmshim_seconds_saved_total", "counter", "API latency saved by hits, in seconds."},
        {"llmshim_hit_ratio", "gauge", "Hits divided by hits plus misses."},
        {"llmshim_dollars_saved_total", "counter",
         "What the answers served from the cache would have cost, in US dollars (models with a price only)."},
    };
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        printf("# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (size_t i = 0; i < t->n; i++) {
            const struct stats_row *r = &t->rows[i];
            double d = 0;
            if (k == 9 && dollars_saved(r, &d) != 0) continue; /* no price: no sample, never a guess */
            printf("%s{provider=\"", m[k].name);
            label(r->provider);
            printf("\",model=\"");
            label(r->model);
            printf("\"} ");
            long long v[] = {r->hits, r->misses, r->stores, r->errors, r->stale, r->bytes_saved, r->tokens_saved};
            if (k < 7) printf("%lld\n", v[k]);
            else if (k == 7) printf("%.6f\n", (double)r->us_saved / 1e6);
            else if (k == 8) printf("%.4f\n", ratio(r));
            else printf("%.6f\n", d);
        }
    }
}

int cmd_stats(int argc, char **argv) {
    int json = 0, prom = 0;
    if (wants_help(argc, argv)) return help(usage);
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "--json")) json = 1;
        else if (flag(argv[i], "--prometheus")) prom = 1;
        else return bad_arg(usage, argv[i]);
    }
    if (json && prom) return usage_error(usage, "--json and --prometheus exclude each other");
    prices_load();
    struct store *s = open_backend(1);
    if (!s->ops->get_stats) die(EXIT_FAIL, "the %s backend keeps no shared counters", s->ops->name);
    struct stats_table t = {0};
    char *err = NULL;
    if (s->ops->get_stats(s, &t, &err) != 0) die(EXIT_FAIL, "cannot read the counters: %s", err ? err : "?");
    if (t.n) qsort(t.rows, t.n, sizeof(*t.rows), by_name);
    struct stats_row total;
    stats_row_init(&total, "total", "");
    for (size_t i = 0; i < t.n; i++) {
        struct stats_row *r = &t.rows[i];
        total.hits += r->hits;
        total.misses += r->misses;
        total.stores += r->stores;
        total.errors += r->errors;
        total.stale += r->stale;
        total.bytes_saved += r->bytes_saved;
        total.tokens_saved += r->tokens_saved;
        total.us_saved += r->us_saved;
        total.input_saved += r->input_saved;
        total.output_saved += r->output_saved;
        total.cached_saved += r->cached_saved;
    }
    if (prom) print_prometheus(&t);
    else if (json) print_json(&t, &total);
    else print_table(&t, &total);
    stats_table_free(&t);
    free(err);
    store_close(s);
    return 0;
}
