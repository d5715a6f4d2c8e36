/* cache: the process-wide runtime between the hooks and the stores: settings read once, the
 * store opened at the first LLM call, lookups checked against the request, and every failure
 * turned into "use the network" plus one llmshim: line. Knows nothing of libcurl. */
#ifndef LLMSHIM_CACHE_H
#define LLMSHIM_CACHE_H

#include "call.h"
#include "config.h"
#include "entry.h"

/* The settings, parsed on first use. Never NULL; mode is MODE_OFF when they were invalid. */
const struct config *cache_config(void);

enum lookup { LOOKUP_MISS, LOOKUP_HIT, LOOKUP_STALE };

/* HIT: e holds a fresh entry that answers c. STALE: e holds an expired one that may still
 * answer a failed call (LLMSHIM_STALE_IF_ERROR). Free e with entry_free in both cases. */
enum lookup cache_lookup(const struct call *c, struct entry *e);

enum fill { FILL_ALONE, FILL_LEADER, FILL_HIT, FILL_TIMEOUT };

/* Before fetching a missed prompt: if another process or thread is fetching it, wait (up to
 * LLMSHIM_COALESCE_MS) for its answer: FILL_HIT with e filled. FILL_LEADER: this caller holds
 * the prompt's fill lock and must call cache_fill_end after storing. FILL_ALONE: fetch without.
 * deadline_us (monotonic, 0: none): the caller's own timeout; FILL_TIMEOUT when it came first. */
enum fill cache_fill_begin(const struct call *c, struct entry *e, long long deadline_us);
void cache_fill_end(const struct call *c);

enum outcome { OUTCOME_HIT, OUTCOME_STALE, OUTCOME_MISS, OUTCOME_STORE, OUTCOME_ERROR };
/* Adds one request to the shared counters (e: the entry served, for what a hit saved). */
void cache_count(const struct call *c, enum outcome o, const struct entry *e, long long us);
/* Fills the request part of e from c and stores it: 0 when the entry is in the store, -1 when
 * it could not be written (said once on stderr). */
int cache_store(const struct call *c, struct entry *e, long long latency_us);

/* The per-cache secret for LLMSHIM_KEY_SCOPE=credential (32 bytes), created once and kept 0600
 * beside the cache (in-process for the memory backend). NULL, with one warning, if unavailable. */
const unsigned char *cache_scope_secret(void);

/* LLMSHIM_MODE=replay found no entry for c: says so on stderr (always) and puts a short form
 * in msg (for CURLOPT_ERRORBUFFER). */
void cache_replay_miss(const struct call *c, char *msg, size_t size);

long long cache_now(void);         /* unix seconds */
long long cache_monotonic_us(void);

#endif
