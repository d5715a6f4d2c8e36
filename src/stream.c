#include "stream.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "eventstream.h"
#include "json.h"

enum stream_kind stream_kind_of(const char *ct) {
    if (!ct) return STREAM_NONE;
    while (*ct == ' ') ct++;
    if (!strncasecmp(ct, "text/event-stream", 17)) return STREAM_SSE;
    /* Cohere v1 streams lines as application/stream+json */
    if (!strncasecmp(ct, "application/x-ndjson", 20) || !strncasecmp(ct, "application/jsonl", 17) ||
        !strncasecmp(ct, "application/stream+json", 23))
        return STREAM_NDJSON;
    if (!strncasecmp(ct, "application/vnd.amazon.eventstream", 34)) return STREAM_EVENTSTREAM;
    return STREAM_NONE;
}

static const char *const kind_names[] = {"none", "sse", "ndjson", "eventstream"};

const char *stream_kind_name(enum stream_kind k) {
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "none";
}

enum stream_kind stream_kind_from_name(const char *name) {
    for (size_t i = 1; name && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (!strcmp(name, kind_names[i])) return (enum stream_kind)i;
    return STREAM_NONE;
}

size_t stream_next_event(enum stream_kind k, const char *buf, size_t len, size_t from) {
    if (k == STREAM_EVENTSTREAM) {
        size_t n = es_frame(buf, len, from);
        return n ? from + n : 0;
    }
    for (size_t i = from; i < len; i++) {
        if (k == STREAM_NDJSON) {
            if (buf[i] == '\n') return i + 1;
            continue;
        }
        /* SSE: an event ends with an empty line; lines end in \n, \r\n or \r */
        if (buf[i] == '\n' && i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (buf[i] == '\r' && i + 3 < len && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
        if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\r') return i + 2;
    }
    return 0;
}

/* An eventstream frame's payload; invoke-with-response-stream wraps the model's own event as
 * {"bytes": "<base64>"}: that event, decoded. */
static void frame_data(const char *ev, size_t len, struct buf *out) {
    size_t plen;
    if (!es_frame(ev, len, 0)) return;
    const char *p = es_payload(ev, len, &plen);
    struct json_doc d;
    int bytes = -1;
    if (plen && p[0] == '{' && json_parse(&d, p, plen) == 0) {
        bytes = json_get(&d, 0, "bytes");
        if (bytes >= 0 && d.tok[bytes].type == JSMN_STRING &&
            base64_decode(out, d.text + d.tok[bytes].start, (size_t)(d.tok[bytes].end - d.tok[bytes].start)) != 0)
            bytes = -1;
        json_doc_free(&d);
    }
    if (bytes < 0) buf_append(out, p, plen);
}

void stream_event_data(enum stream_kind k, const char *ev, size_t len, struct buf *out) {
    if (k == STREAM_EVENTSTREAM) {
        frame_data(ev, len, out);
        return;
    }
    if (k == STREAM_NDJSON) {
        buf_append(out, ev, len);
        return;
    }
    int first = 1;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && ev[i + n] != '\n' && ev[i + n] != '\r') n++;
        if (n >= 5 && !memcmp(ev + i, "data:", 5)) {
            size_t skip = (n > 5 && ev[i + 5] == ' ') ? 6 : 5;
            if (!first) buf_putc(out, '\n');
            buf_append(out, ev + i + skip, n - skip);
            first = 0;
        }
        i += n;
        while (i < len && (ev[i] == '\n' || ev[i] == '\r')) i++;
    }
}

/* The last non-blank event of the body. */
static void last_event(enum stream_kind k, const char *body, size_t len, const char **ev, size_t *n) {
    size_t end = len;
    while (end && (body[end - 1] == '\n' || body[end - 1] == '\r' || body[end - 1] == ' ')) end--;
    size_t start = 0, pos = 0, next;
    while ((next = stream_next_event(k, body, end, pos)) != 0) {
        start = next;
        pos = next;
    }
    *ev = body + start;
    *n = end - start;
}

static int json_true_at(const struct json_doc *d, int tok) {
    return tok >= 0 && d->tok[tok].type == JSMN_PRIMITIVE && d->text[d->tok[tok].start] == 't';
}

static int has_member(const char *s, size_t n, const char *needle) {
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

static int header_is(const char *frame, size_t n, const char *name, const char *want) {
    const char *v;
    size_t vlen;
    return es_header(frame, n, name, &v, &vlen) && vlen == strlen(want) && !memcmp(v, want, vlen);
}

/* Bedrock: every frame whole and an event (an exception frame means the answer failed); converse
 * ends with messageStop then metadata, invoke with the model's last event, to which Bedrock adds
 * its amazon-bedrock-invocationMetrics (Anthropic models also say message_stop). */
static int eventstream_complete(const char *body, size_t len) {
    size_t pos = 0, n = 0, last = 0;
    int stopped = 0;
    while (pos < len && (n = es_frame(body, len, pos)) != 0) {
        if (!header_is(body + pos, n, ":message-type", "event")) return 0;
        if (header_is(body + pos, n, ":event-type", "messageStop")) stopped = 1;
        last = pos;
        pos += n;
    }
    if (pos != len || !len) return 0;
    const char *f = body + last;
    n = len - last;
    if (header_is(f, n, ":event-type", "metadata")) return stopped;
    if (!header_is(f, n, ":event-type", "chunk")) return 0;
    struct buf data;
    buf_init(&data);
    frame_data(f, n, &data);
    int done = data.data && (has_member(data.data, data.len, "\"amazon-bedrock-invocationMetrics\"") ||
                             has_member(data.data, data.len, "\"message_stop\""));
    buf_free(&data);
    return done;
}

/* The `type` (or Cohere v1's `event_type`) of an event's JSON data is one of the names. */
static int type_is(const struct json_doc *d, const char *const *names) {
    for (; *names; names++)
        if (json_tok_eq(d, json_get(d, 0, "type"), *names) || json_tok_eq(d, json_get(d, 0, "event_type"), *names))
            return 1;
    return 0;
}

/* The last events of a whole answer, by shape. OpenAI-shaped APIs end with [DONE] or one of
 * these (Responses, a transcription, speech as SSE, a streamed image). */
static const char *const openai_ends[] = {"response.completed", "transcript.text.done", "speech.audio.done",
                                          "image_generation.completed", "image_edit.completed", NULL};
static const char *const cohere_ends[] = {"message-end", "stream-end", NULL};

static int json_complete(enum shape shape, const struct json_doc *d) {
    switch (shape) {
    case SHAPE_OLLAMA: return json_true_at(d, json_get(d, 0, "done"));
    case SHAPE_GEMINI: {
        int first = json_child(d, json_get(d, 0, "candidates"), 0);
        return json_get(d, first, "finishReason") >= 0;
    }
    case SHAPE_COHERE: return type_is(d, cohere_ends);
    case SHAPE_PERPLEXITY: { /* it may end without [DONE]: the chunk with a finish_reason is last */
        int reason = json_get(d, json_child(d, json_get(d, 0, "choices"), 0), "finish_reason");
        return reason >= 0 && d->tok[reason].type == JSMN_STRING;
    }
    default: return type_is(d, openai_ends);
    }
}

int stream_complete(enum shape shape, enum stream_kind k, const char *body, size_t len) {
    const char *ev;
    size_t n;
    if (k == STREAM_NONE || !len) return 0;
    if (k == STREAM_EVENTSTREAM) return eventstream_complete(body, len); /* frames say what they are */
    /* a stream that does not end at an event boundary was cut in the middle of an event */
    size_t end = len;
    if (k == STREAM_SSE) {
        if (!(end >= 2 && ((body[end - 1] == '\n' && body[end - 2] == '\n') ||
                           (body[end - 1] == '\r' && body[end - 2] == '\r') ||
                           (end >= 4 && !memcmp(body + end - 4, "\r\n\r\n", 4)))))
            return 0;
    } else if (body[end - 1] != '\n') {
        return 0;
    }
    last_event(k, body, len, &ev, &n);
    struct buf data;
    buf_init(&data);
    stream_event_data(k, ev, n, &data);
    int done = 0;
    if (shape == SHAPE_ANTHROPIC) {
        done = has_member(ev, n, "event: message_stop") || has_member(ev, n, "event:message_stop") ||
               (data.data && has_member(data.data, data.len, "\"message_stop\""));
    } else if (data.data && data.len == 6 && !memcmp(data.data, "[DONE]", 6)) {
        done = 1;
    } else if (data.data) {
        struct json_doc d;
        if (json_parse(&d, data.data, data.len) == 0) {
            done = json_complete(shape, &d);
            json_doc_free(&d);
        }
    }
    buf_free(&data);
    return done;
}
