/* stream: the framing of streamed answers (SSE events, NDJSON lines) and whether a stream
 * ended the way its API ends a complete answer. Pure; no I/O. */
#ifndef LLMSHIM_STREAM_H
#define LLMSHIM_STREAM_H

#include <stddef.h>

#include "endpoint.h"

enum stream_kind { STREAM_NONE = 0, STREAM_SSE, STREAM_NDJSON, STREAM_EVENTSTREAM };

/* From a Content-Type value: text/event-stream → SSE, application/x-ndjson (and jsonl,
 * stream+json) → NDJSON, application/vnd.amazon.eventstream → binary frames (eventstream.h). */
enum stream_kind stream_kind_of(const char *content_type);
const char *stream_kind_name(enum stream_kind k);
enum stream_kind stream_kind_from_name(const char *name);

/* Offset just past the first event boundary ending at or after `from` (SSE: a blank line;
 * NDJSON: a newline), or 0 when no further event is complete in buf[0..len). Callers pass the
 * offset of the last boundary (or, for text streams, a few bytes before the new data) as
 * `from`; an eventstream frame is found only from the boundary where it starts. */
size_t stream_next_event(enum stream_kind k, const char *buf, size_t len, size_t from);

/* 1 if the stream's last event is how shape ends a whole answer: OpenAI `data: [DONE]` or a
 * Responses `response.completed` (a transcription's `transcript.text.done`, speech's
 * `speech.audio.done`), Anthropic `message_stop`, Gemini a finishReason, Ollama `"done": true`,
 * Cohere `message-end` (v1: `stream-end`), Perplexity [DONE] or a finish_reason, Bedrock frames
 * ending with metadata after messageStop (converse) or the model's last event (invoke). A stream
 * cut anywhere before that is 0. */
int stream_complete(enum shape shape, enum stream_kind k, const char *body, size_t len);

/* Appends the concatenated `data:` payloads of one SSE event (or the NDJSON line, or an
 * eventstream frame's payload, an invoke chunk's base64 "bytes" decoded) to out. */
struct buf;
void stream_event_data(enum stream_kind k, const char *ev, size_t len, struct buf *out);

#endif
