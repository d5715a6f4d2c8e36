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

/* 1: e holds a fresh entry that answers c (free with entry_free); 0: none. */
int cache_lookup(const struct call *c, struct entry *e);
/* Fills the request part of e from c and stores it. Failures are logged, never returned. */
void cache_store(const struct call *c, struct entry *e, long long latency_us);

/* The per-cache secret for LLMSHIM_KEY_SCOPE=credential (32 bytes), created once and kept 0600
 * beside the cache (in-process for the memory backend). NULL, with one warning, if unavailable. */
const unsigned char *cache_scope_secret(void);

long long cache_now(void);         /* unix seconds */
long long cache_monotonic_us(void);

#endif
