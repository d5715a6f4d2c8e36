#include "stream.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json.h"

enum stream_kind stream_kind_of(const char *ct) {
    if (!ct) return STREAM_NONE;
    while (*ct == ' ') ct++;
    if (!strncasecmp(ct, "text/event-stream", 17)) return STREAM_SSE;
    if (!strncasecmp(ct, "application/x-ndjson", 20) || !strncasecmp(ct, "application/jsonl", 17))
        return STREAM_NDJSON;
    return STREAM_NONE;
}

const char *stream_kind_name(enum stream_kind k) {
    return k == STREAM_SSE ? "sse" : k == STREAM_NDJSON ? "ndjson" : "none";
}

enum stream_kind stream_kind_from_name(const char *name) {
    if (name && !strcmp(name, "sse")) return STREAM_SSE;
    if (name && !strcmp(name, "ndjson")) return STREAM_NDJSON;
    return STREAM_NONE;
}

size_t stream_next_event(enum stream_kind k, const char *buf, size_t len, size_t from) {
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

void stream_event_data(enum stream_kind k, const char *ev, size_t len, struct buf *out) {
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

int stream_complete(enum shape shape, enum stream_kind k, const char *body, size_t len) {
    const char *ev;
    size_t n;
    if (k == STREAM_NONE || !len) return 0;
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
    switch (shape) {
    case SHAPE_ANTHROPIC:
        done = has_member(ev, n, "event: message_stop") || has_member(ev, n, "event:message_stop") ||
               (data.data && has_member(data.data, data.len, "\"message_stop\""));
        break;
    case SHAPE_GEMINI:
    case SHAPE_OLLAMA:
    case SHAPE_OPENAI:
    default:
        if (data.data && data.len == 6 && !memcmp(data.data, "[DONE]", 6)) {
            done = 1;
        } else if (data.data) {
            struct json_doc d;
            if (json_parse(&d, data.data, data.len) == 0) {
                if (shape == SHAPE_OLLAMA) {
                    done = json_true_at(&d, json_get(&d, 0, "done"));
                } else if (shape == SHAPE_GEMINI) {
                    int cands = json_get(&d, 0, "candidates");
                    int first = json_child(&d, cands, 0);
                    done = json_get(&d, first, "finishReason") >= 0;
                } else {
                    done = json_tok_eq(&d, json_get(&d, 0, "type"), "response.completed");
                }
                json_doc_free(&d);
            }
        }
        break;
    }
    buf_free(&data);
    return done;
}
