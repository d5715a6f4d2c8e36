#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_TAG "llmshim-stats-v2"
#define STATS_TAG_V1 "llmshim-stats-v1"

static void copy_field(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++) dst[n] = (src[n] == '\t' || src[n] == '\n') ? ' ' : src[n];
    if (!n && cap > 1) dst[n++] = '-';
    dst[n] = '\0';
}

void stats_row_init(struct stats_row *r, const char *provider, const char *model) {
    memset(r, 0, sizeof(*r));
    copy_field(r->provider, sizeof(r->provider), provider);
    copy_field(r->model, sizeof(r->model), model);
}

int stats_format_line(const struct stats_row *r, struct buf *out) {
    return buf_printf(out, STATS_TAG "\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n",
                      r->provider, r->model, r->hits, r->misses, r->stores, r->errors, r->stale, r->bytes_saved,
                      r->tokens_saved, r->us_saved, r->input_saved, r->output_saved, r->cached_saved);
}

int stats_parse_line(const char *line, size_t len, struct stats_row *r) {
    char tmp[512];
    if (len >= sizeof(tmp)) return -1;
    memcpy(tmp, line, len);
    tmp[len] = '\0';
    char *save = NULL, *f[15];
    int n = 0;
    for (char *tok = strtok_r(tmp, "\t\n", &save); tok && n < 15; tok = strtok_r(NULL, "\t\n", &save))
        f[n++] = tok;
    int v2 = n == 14 && !strcmp(f[0], STATS_TAG);
    if (!v2 && (n != 11 || strcmp(f[0], STATS_TAG_V1) != 0)) return -1;
    stats_row_init(r, f[1], f[2]);
    long long *v[] = {&r->hits, &r->misses, &r->stores, &r->errors, &r->stale, &r->bytes_saved,
                      &r->tokens_saved, &r->us_saved, &r->input_saved, &r->output_saved, &r->cached_saved};
    for (int i = 0; i < (v2 ? 11 : 8); i++) {
        char *end;
        *v[i] = strtoll(f[3 + i], &end, 10);
        if (*end) return -1;
    }
    return 0;
}

int stats_rows_add(struct stats_row *rows, size_t *n, size_t cap, const struct stats_row *r) {
    struct stats_row *row = NULL;
    for (size_t i = 0; i < *n && !row; i++)
        if (!strcmp(rows[i].provider, r->provider) && !strcmp(rows[i].model, r->model)) row = &rows[i];
    if (!row) {
        if (*n >= cap) return -1;
        row = &rows[(*n)++];
        stats_row_init(row, r->provider, r->model);
    }
    row->hits += r->hits;
    row->misses += r->misses;
    row->stores += r->stores;
    row->errors += r->errors;
    row->stale += r->stale;
    row->bytes_saved += r->bytes_saved;
    row->tokens_saved += r->tokens_saved;
    row->us_saved += r->us_saved;
    row->input_saved += r->input_saved;
    row->output_saved += r->output_saved;
    row->cached_saved += r->cached_saved;
    return 0;
}

int stats_table_add(struct stats_table *t, const struct stats_row *r) {
    if (stats_rows_add(t->rows, &t->n, t->cap, r) == 0) return 0;
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct stats_row *p = realloc(t->rows, cap * sizeof(*p));
    if (!p) return -1;
    t->rows = p;
    t->cap = cap;
    return stats_rows_add(t->rows, &t->n, t->cap, r);
}

void stats_table_free(struct stats_table *t) {
    free(t->rows);
    memset(t, 0, sizeof(*t));
}
