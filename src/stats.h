/* stats: counters of what the cache did, per provider and model, shared by every process that
 * uses one cache (the store keeps them). Pure: rows, a text line format, and merging. */
#ifndef LLMSHIM_STATS_H
#define LLMSHIM_STATS_H

#include <stddef.h>

#include "buf.h"

struct stats_row {
    char provider[32];
    char model[96];
    long long hits, misses, stores, errors, stale;
    long long bytes_saved;   /* response bytes served from the cache */
    long long tokens_saved;  /* prompt + completion tokens of the answers served from the cache */
    long long us_saved;      /* original latency minus the time a hit took */
    /* the same tokens by kind, for what they would have cost (stats lines v2 on): input (the
     * cached part included), output, and the input the API read from its own prompt cache */
    long long input_saved, output_saved, cached_saved;
};

struct stats_table {
    struct stats_row *rows;
    size_t n, cap;
};

/* Sets provider/model (truncated, tabs and newlines replaced) and zeroes the counters. */
void stats_row_init(struct stats_row *r, const char *provider, const char *model);
/* "llmshim-stats-v2<TAB>provider<TAB>model<TAB>hits ... us_saved<TAB>input<TAB>output<TAB>cached\n"
 * (v1 lines, without the last three, are still read). */
int stats_format_line(const struct stats_row *r, struct buf *out);
/* 0 and r filled, or -1 for a line that is not a stats line (skipped by readers). */
int stats_parse_line(const char *line, size_t len, struct stats_row *r);
/* Adds r's counters to the row with the same provider and model (or a new row). */
int stats_table_add(struct stats_table *t, const struct stats_row *r);
/* The same on a fixed array rows[0..*n) of cap rows: 0, or -1 when r needs a new row and all
 * cap are taken (nothing changed). */
int stats_rows_add(struct stats_row *rows, size_t *n, size_t cap, const struct stats_row *r);
void stats_table_free(struct stats_table *t);

#endif
