/* entry_memo: the last entries this process decoded, each with the exact bytes it came from.
 * When a store hands back the same bytes again, the hit copies the decoded entry instead of
 * parsing the JSON once more (a parse costs as much as canonicalizing the request). Keyed by
 * the entry key; compared byte for byte, so it can never answer with anything the store did
 * not just return. Thread-safe and fork-safe; bounded in entries and bytes. */
#ifndef LLMSHIM_ENTRY_MEMO_H
#define LLMSHIM_ENTRY_MEMO_H

#include <stddef.h>

#include "entry.h"

#define ENTRY_MEMO_SLOTS 64
#define ENTRY_MEMO_MAX_BYTES (8u << 20) /* raw + decoded bytes held, over all slots */

/* 1: raw (len bytes) is what the entry under hex was decoded from; *out gets a copy (free it
 * with entry_free). 0: not remembered, or memory ran out. */
int entry_memo_find(const char *hex, const char *raw, size_t len, struct entry *out);
/* Remembers e as the decoding of raw (both copied); silently skipped when too large. */
void entry_memo_keep(const char *hex, const char *raw, size_t len, const struct entry *e);
/* Forgets everything (tests, and a store that was emptied). */
void entry_memo_clear(void);

#endif
