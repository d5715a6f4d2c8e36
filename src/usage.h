/* usage: token counts an API reports with its answer, so stats can say what hits saved. */
#ifndef LLMSHIM_USAGE_H
#define LLMSHIM_USAGE_H

#include <stddef.h>

#include "stream.h"

/* Scans a JSON answer (or, for a stream, the data of every event) for the usage fields of every
 * supported API, and raises *in and *out to the largest counts seen (streams report running totals). */
void usage_scan(enum stream_kind k, const char *body, size_t len, long long *in, long long *out);

/* The input tokens the API says it read from its own prompt cache (billed at a lower rate):
 * OpenAI prompt_tokens_details / input_tokens_details.cached_tokens, Anthropic
 * cache_read_input_tokens, Gemini cachedContentTokenCount. Raises *cached to the largest seen. */
void usage_scan_cached(enum stream_kind k, const char *body, size_t len, long long *cached);

#endif
