/* Unit tests for stream framing and completeness (src/stream.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stream.h"

/* ---- realistic streams, one string per event ----------------------------------------------- */

static const char *const openai_chat[] = {
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
    NULL,
};

static const char *const openai_responses[] = {
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\","
    "\"status\":\"in_progress\",\"usage\":null}}\n\n",
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_1\","
    "\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,"
    "\"content_index\":0,\"delta\":\"Hi\"}\n\n",
    "event: response.output_text.done\n"
    "data: {\"type\":\"response.output_text.done\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,"
    "\"content_index\":0,\"text\":\"Hi\"}\n\n",
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"id\":\"resp_1\",\"object\":\"response\","
    "\"status\":\"completed\",\"usage\":{\"input_tokens\":12,\"output_tokens\":3,\"total_tokens\":15}}}\n\n",
    NULL,
};

static const char *const anthropic[] = {
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[],\"model\":\"claude-3-5-sonnet-20241022\",\"stop_reason\":null,\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n",
    NULL,
};

/* Gemini streamGenerateContent?alt=sse frames its events with \r\n\r\n. */
static const char *const gemini[] = {
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 4,\"totalTokenCount\": 4},\"modelVersion\": \"gemini-1.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"lo\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 4,\"totalTokenCount\": 4},\"modelVersion\": \"gemini-1.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}],\"role\": \"model\"},\"finishReason\": \"STOP\","
    "\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 4,\"candidatesTokenCount\": 3,\"totalTokenCount\": 7},"
    "\"modelVersion\": \"gemini-1.5-flash\"}\r\n\r\n",
    NULL,
};

static const char *const ollama[] = {
    "{\"model\":\"llama3\",\"created_at\":\"2024-05-01T10:00:00.1Z\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
    "\"done\":false}\n",
    "{\"model\":\"llama3\",\"created_at\":\"2024-05-01T10:00:00.2Z\",\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},"
    "\"done\":false}\n",
    "{\"model\":\"llama3\",\"created_at\":\"2024-05-01T10:00:00.3Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"done_reason\":\"stop\",\"done\":true,\"total_duration\":4883583458,\"prompt_eval_count\":26,"
    "\"eval_count\":298}\n",
    NULL,
};

struct sample {
    const char *name;
    enum shape shape;
    enum stream_kind kind;
    const char *const *events;
};

static const struct sample samples[] = {
    {"openai chat", SHAPE_OPENAI, STREAM_SSE, openai_chat},
    {"openai responses", SHAPE_OPENAI, STREAM_SSE, openai_responses},
    {"anthropic", SHAPE_ANTHROPIC, STREAM_SSE, anthropic},
    {"gemini", SHAPE_GEMINI, STREAM_SSE, gemini},
    {"ollama", SHAPE_OLLAMA, STREAM_NDJSON, ollama},
};

/* ---- helpers ------------------------------------------------------------------------------ */

static size_t count_events(const char *const *events) {
    size_t n = 0;
    while (events[n]) n++;
    return n;
}

/* The first n events joined (caller frees). */
static char *join(const char *const *events, size_t n, size_t *len) {
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < n && events[i]; i++) buf_puts(&b, events[i]);
    if (!b.data) buf_puts(&b, "");
    assert_false(b.oom);
    return buf_take(&b, len);
}

static int complete_str(enum shape s, enum stream_kind k, const char *body) {
    return stream_complete(s, k, body, strlen(body));
}

/* Every boundary of body[0..len) found by scanning the whole body; returns how many. */
static size_t boundaries_whole(enum stream_kind k, const char *body, size_t len, size_t *out, size_t max) {
    size_t n = 0, pos = 0, next;
    while ((next = stream_next_event(k, body, len, pos)) != 0) {
        assert_true(next > pos);
        assert_true(next <= len);
        assert_true(n < max);
        out[n++] = next;
        pos = next;
    }
    return n;
}

/* The boundaries found while body arrives in pieces that end at cuts[0] < cuts[1] < ... = len,
 * advancing `scanned` exactly as hook_record.c's note_events does. */
static size_t boundaries_incremental(enum stream_kind k, const char *body, const size_t *cuts, size_t ncuts,
                                     size_t *out, size_t max) {
    size_t n = 0, scanned = 0, next;
    for (size_t c = 0; c < ncuts; c++) {
        size_t have = cuts[c];
        while ((next = stream_next_event(k, body, have, scanned)) != 0) {
            assert_true(n < max);
            out[n++] = next;
            scanned = next;
        }
        if (have > scanned + 3) scanned = have - 3;
    }
    return n;
}

#define MAXB 64

/* Feeding body in pieces of every size from 1 to len yields every boundary exactly once, in
 * order, and the same ones as the whole body; the last one is the end of the body. */
static void check_incremental(const char *what, enum stream_kind k, const char *body, size_t want_n) {
    size_t len = strlen(body);
    size_t whole[MAXB], got[MAXB];
    size_t nw = boundaries_whole(k, body, len, whole, MAXB);
    if (nw != want_n) fail_msg("%s: %zu boundaries in the whole body, want %zu", what, nw, want_n);
    assert_int_equal(whole[nw - 1], len);
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t step = 1; step <= len; step++) {
        size_t ncuts = 0;
        for (size_t at = step; at < len; at += step) cuts[ncuts++] = at;
        cuts[ncuts++] = len;
        size_t ng = boundaries_incremental(k, body, cuts, ncuts, got, MAXB);
        if (ng != nw) fail_msg("%s: pieces of %zu bytes gave %zu boundaries, want %zu", what, step, ng, nw);
        for (size_t i = 0; i < nw; i++)
            if (got[i] != whole[i])
                fail_msg("%s: pieces of %zu bytes: boundary %zu at %zu, want %zu", what, step, i, got[i], whole[i]);
    }
    /* irregular pieces: cut just before, inside and just after every boundary */
    size_t ncuts = 0;
    for (size_t i = 0; i < nw; i++) {
        for (size_t d = 4; d >= 1; d--)
            if (whole[i] >= d && (!ncuts || whole[i] - d > cuts[ncuts - 1])) cuts[ncuts++] = whole[i] - d;
        if (whole[i] > cuts[ncuts - 1]) cuts[ncuts++] = whole[i];
    }
    size_t ng = boundaries_incremental(k, body, cuts, ncuts, got, MAXB);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++) assert_int_equal(got[i], whole[i]);
    free(cuts);
}

static char *event_data(enum stream_kind k, const char *ev) {
    struct buf b;
    buf_init(&b);
    stream_event_data(k, ev, strlen(ev), &b);
    if (!b.data) buf_puts(&b, "");
    assert_false(b.oom);
    return buf_take(&b, NULL);
}

static void check_data(enum stream_kind k, const char *ev, const char *want) {
    char *got = event_data(k, ev);
    if (strcmp(got, want) != 0) fail_msg("stream_event_data(%s) = \"%s\", want \"%s\"", ev, got, want);
    free(got);
}

/* ---- stream_kind_of ------------------------------------------------------------------------ */

static void test_stream_kind_of_content_types(void **state) {
    (void)state;
    static const struct { const char *ct; enum stream_kind k; } cases[] = {
        {"text/event-stream", STREAM_SSE},
        {"text/event-stream; charset=utf-8", STREAM_SSE},
        {"text/event-stream;charset=UTF-8", STREAM_SSE},
        {"Text/Event-Stream", STREAM_SSE},
        {"TEXT/EVENT-STREAM; CHARSET=UTF-8", STREAM_SSE},
        {" text/event-stream", STREAM_SSE},
        {"application/x-ndjson", STREAM_NDJSON},
        {"application/x-ndjson; charset=utf-8", STREAM_NDJSON},
        {"Application/X-NDJSON", STREAM_NDJSON},
        {"application/json", STREAM_NONE},
        {"application/json; charset=utf-8", STREAM_NONE},
        {"text/plain", STREAM_NONE},
        {"text/html; charset=utf-8", STREAM_NONE},
        {"", STREAM_NONE},
        {"event-stream", STREAM_NONE},
        {"text/event", STREAM_NONE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum stream_kind k = stream_kind_of(cases[i].ct);
        if (k != cases[i].k)
            fail_msg("stream_kind_of(\"%s\") = %s, want %s", cases[i].ct, stream_kind_name(k),
                     stream_kind_name(cases[i].k));
    }
    assert_int_equal(stream_kind_of(NULL), STREAM_NONE);
}

static void test_stream_kind_names_round_trip(void **state) {
    (void)state;
    assert_string_equal(stream_kind_name(STREAM_SSE), "sse");
    assert_string_equal(stream_kind_name(STREAM_NDJSON), "ndjson");
    assert_string_equal(stream_kind_name(STREAM_NONE), "none");
    for (int k = STREAM_NONE; k <= STREAM_NDJSON; k++)
        assert_int_equal(stream_kind_from_name(stream_kind_name((enum stream_kind)k)), k);
    assert_int_equal(stream_kind_from_name(NULL), STREAM_NONE);
    assert_int_equal(stream_kind_from_name("SSE"), STREAM_NONE);
    assert_int_equal(stream_kind_from_name("websocket"), STREAM_NONE);
    assert_int_equal(stream_kind_from_name(""), STREAM_NONE);
}

/* ---- stream_next_event ------------------------------------------------------------------- */

static void test_stream_next_event_sse_lf(void **state) {
    (void)state;
    static const char s[] = "data: a\n\ndata: b\nid: 2\n\n: ping\n\ndata: c\n";
    size_t len = sizeof(s) - 1;
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 0), 9);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 9), 24);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 24), 32);
    /* "data: c\n" has no blank line yet */
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 32), 0);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, len), 0);
    /* one newline ends a line, not an event */
    assert_int_equal(stream_next_event(STREAM_SSE, "data: a\n", 8, 0), 0);
    assert_int_equal(stream_next_event(STREAM_SSE, "event: x\ndata: a\n\n", 18, 0), 18);
    assert_int_equal(stream_next_event(STREAM_SSE, "", 0, 0), 0);
    assert_int_equal(stream_next_event(STREAM_SSE, "data: a", 7, 0), 0);
}

static void test_stream_next_event_sse_crlf(void **state) {
    (void)state;
    static const char s[] = "data: a\r\n\r\nevent: e\r\ndata: b\r\n\r\ndata: c\r\n\r";
    size_t len = sizeof(s) - 1;
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 0), 11);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 11), 32);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 32), 0); /* "\r\n\r" is not yet a blank line */
    assert_int_equal(stream_next_event(STREAM_SSE, "data: a\r\n", 9, 0), 0);
    assert_int_equal(stream_next_event(STREAM_SSE, "data: a\r\n\r\n", 11, 0), 11);
}

static void test_stream_next_event_sse_cr(void **state) {
    (void)state;
    static const char s[] = "data: a\r\rdata: b\revent: x\r\rdata: c\r";
    size_t len = sizeof(s) - 1;
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 0), 9);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 9), 27);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 27), 0);
}

static void test_stream_next_event_ndjson_lines(void **state) {
    (void)state;
    static const char s[] = "{\"a\":1}\n{\"b\":2}\r\n{\"c\"";
    size_t len = sizeof(s) - 1;
    assert_int_equal(stream_next_event(STREAM_NDJSON, s, len, 0), 8);
    assert_int_equal(stream_next_event(STREAM_NDJSON, s, len, 8), 17);
    assert_int_equal(stream_next_event(STREAM_NDJSON, s, len, 17), 0);
    /* a blank line is not needed: every newline ends a line */
    assert_int_equal(stream_next_event(STREAM_NDJSON, "{}\n", 3, 0), 3);
    assert_int_equal(stream_next_event(STREAM_NDJSON, "{}", 2, 0), 0);
}

/* Boundaries are found where the search starts, not before: a caller passing the last boundary
 * never sees an event twice. */
static void test_stream_next_event_from_skips_earlier(void **state) {
    (void)state;
    static const char s[] = "data: a\n\ndata: b\n\n";
    size_t len = sizeof(s) - 1;
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 1), 9);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 7), 9);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 8), 18);
    assert_int_equal(stream_next_event(STREAM_SSE, s, len, 17), 0);
}

static void test_stream_next_event_split_across_calls(void **state) {
    (void)state;
    check_incremental("sse lf", STREAM_SSE, "data: {\"a\":1}\n\nevent: x\ndata: b\n\n: c\n\ndata: [DONE]\n\n", 4);
    check_incremental("sse crlf", STREAM_SSE,
                      "data: {\"a\":1}\r\n\r\nevent: x\r\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n", 3);
    check_incremental("sse cr", STREAM_SSE, "data: {\"a\":1}\r\revent: x\rdata: b\r\rdata: [DONE]\r\r", 3);
    check_incremental("ndjson", STREAM_NDJSON, "{\"a\":1}\n{\"b\":2}\n\n{\"done\":true}\n", 4);
    /* the realistic streams, one boundary per event */
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        size_t n = count_events(samples[i].events);
        char *body = join(samples[i].events, n, NULL);
        check_incremental(samples[i].name, samples[i].kind, body, n);
        free(body);
    }
}

/* ---- stream_event_data --------------------------------------------------------------------- */

static void test_stream_event_data_fields(void **state) {
    (void)state;
    check_data(STREAM_SSE, "data: {\"a\":1}\n\n", "{\"a\":1}");
    check_data(STREAM_SSE, "data:{\"a\":1}\n\n", "{\"a\":1}");
    /* only one space is stripped */
    check_data(STREAM_SSE, "data:  x\n\n", " x");
    /* multi-line data joined with \n */
    check_data(STREAM_SSE, "data: line1\ndata:line2\ndata:  three\n\n", "line1\nline2\n three");
    /* event:, id:, retry: and comments are not data */
    check_data(STREAM_SSE, "event: message_stop\nid: 7\nretry: 100\n: keep-alive\ndata: {\"t\":1}\n\n", "{\"t\":1}");
    check_data(STREAM_SSE, ": data: not this\ndata: this\n\n", "this");
    check_data(STREAM_SSE, "event: ping\n\n", "");
    check_data(STREAM_SSE, "database: x\ndata: y\n\n", "y");
    /* CRLF and CR line endings */
    check_data(STREAM_SSE, "event: e\r\ndata: a\r\ndata: b\r\n\r\n", "a\nb");
    check_data(STREAM_SSE, "data: a\rdata: b\r\r", "a\nb");
    /* an empty data line still counts as a line */
    check_data(STREAM_SSE, "data: a\ndata:\ndata: b\n\n", "a\n\nb");
    /* no trailing newline at all */
    check_data(STREAM_SSE, "data: [DONE]", "[DONE]");
    /* NDJSON: the line itself */
    check_data(STREAM_NDJSON, "{\"done\":true}\n", "{\"done\":true}\n");
}

static void test_stream_event_data_appends(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "prefix|");
    stream_event_data(STREAM_SSE, "data: x\n\n", 9, &b);
    assert_string_equal(b.data, "prefix|x");
    /* only len bytes are read */
    stream_event_data(STREAM_SSE, "data: yz\n\n", 7, &b);
    assert_string_equal(b.data, "prefix|xy");
    buf_free(&b);
}

/* ---- stream_complete ----------------------------------------------------------------------- */

static void test_stream_complete_whole_streams(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *s = &samples[i];
        size_t len, n = count_events(s->events);
        char *body = join(s->events, n, &len);
        if (stream_complete(s->shape, s->kind, body, len) != 1) fail_msg("%s: whole stream not complete", s->name);
        /* under another framing it is not */
        assert_int_equal(stream_complete(s->shape, STREAM_NONE, body, len), 0);
        free(body);
    }
}

static void test_stream_complete_without_last_event(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *s = &samples[i];
        size_t n = count_events(s->events);
        for (size_t k = 0; k < n; k++) {
            size_t len;
            char *body = join(s->events, k, &len);
            if (stream_complete(s->shape, s->kind, body, len) != 0)
                fail_msg("%s: first %zu of %zu events taken as complete", s->name, k, n);
            free(body);
        }
    }
}

/* Cut anywhere (in the middle of an event, or between events) the stream is incomplete. */
static void test_stream_complete_every_cut(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *s = &samples[i];
        size_t len;
        char *body = join(s->events, count_events(s->events), &len);
        for (size_t cut = 0; cut < len; cut++)
            if (stream_complete(s->shape, s->kind, body, cut) != 0)
                fail_msg("%s: cut at %zu of %zu taken as complete", s->name, cut, len);
        free(body);
    }
}

static void test_stream_complete_last_event_without_blank_line(void **state) {
    (void)state;
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\n\ndata: [DONE]"), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\n\ndata: [DONE]\n"), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\n\ndata: [DONE]\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "event: message_stop\ndata: {\"type\":\"message_stop\"}"), 0);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n"), 0);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\":true}"), 0);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\":true}\n"), 1);
}

static void test_stream_complete_empty_body(void **state) {
    (void)state;
    for (int s = SHAPE_NONE; s <= SHAPE_OLLAMA; s++) {
        assert_int_equal(stream_complete((enum shape)s, STREAM_SSE, "", 0), 0);
        assert_int_equal(stream_complete((enum shape)s, STREAM_NDJSON, "", 0), 0);
        assert_int_equal(stream_complete((enum shape)s, STREAM_SSE, "\n\n", 2), 0);
        assert_int_equal(stream_complete((enum shape)s, STREAM_NDJSON, "\n", 1), 0);
    }
}

static void test_stream_complete_ollama_done_false(void **state) {
    (void)state;
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"response\":\"a\",\"done\":false}\n"), 0);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON,
                                  "{\"response\":\"a\",\"done\":false}\n{\"response\":\"b\",\"done\":false}\n"), 0);
    /* a true done earlier does not make a later line final */
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\":true}\n{\"done\":false}\n"), 0);
    /* "done" must be the JSON literal true */
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\":\"true\"}\n"), 0);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"x\":{\"done\":true}}\n"), 0);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\": true }\r\n"), 1);
    /* /api/generate */
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON,
                                  "{\"model\":\"llama3\",\"response\":\"Hi\",\"done\":false}\n"
                                  "{\"model\":\"llama3\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\","
                                  "\"context\":[1,2,3],\"eval_count\":2}\n"), 1);
}

static void test_stream_complete_openai_only_content_chunks(void **state) {
    (void)state;
    /* finish_reason alone is not the end: [DONE] (or the usage chunk before it) is still to come */
    size_t len;
    char *body = join(openai_chat, 4, &len);
    assert_int_equal(stream_complete(SHAPE_OPENAI, STREAM_SSE, body, len), 0);
    free(body);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE,
                                  "data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: [DONE]x\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, ": [DONE]\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data:[DONE]\n\n"), 1);
    /* a Responses stream that failed is not a whole answer */
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE,
                                  "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{}}\n\n"), 0);
}

static void test_stream_complete_trailing_newlines_after_done(void **state) {
    (void)state;
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\n\ndata: [DONE]\n\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\n\ndata: [DONE]\n\n\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n\r\n"), 1);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\r\rdata: [DONE]\r\r\r"), 1);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_OLLAMA, STREAM_NDJSON, "{\"done\":true}\n\n"), 1);
}

static void test_stream_complete_other_line_endings(void **state) {
    (void)state;
    /* the Gemini sample with \n\n instead of \r\n\r\n, the OpenAI one with \r\n\r\n */
    static const char gem[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"MAX_TOKENS\",\"index\":0}]}\n\n";
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, gem), 1);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n"), 1);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, "data: {\"a\":1}\r\rdata: [DONE]\r\r"), 1);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE,
                                  "event: message_delta\r\ndata: {\"type\":\"message_delta\"}\r\n\r\n"
                                  "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n"), 1);
}

static void test_stream_complete_gemini_needs_finish_reason_in_first_candidate(void **state) {
    (void)state;
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE,
                                  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0}],"
                                  "\"usageMetadata\":{\"promptTokenCount\":4}}\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, "data: {\"finishReason\":\"STOP\"}\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, "data: {\"candidates\":[]}\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n"), 1);
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, "data: not json\n\n"), 0);
}

/* Each API's end marker counts only for its own shape. */
static void test_stream_complete_marker_is_per_shape(void **state) {
    (void)state;
    static const char msg_stop[] = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    static const char gem_stop[] = "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
    static const char ollama_done[] = "{\"done\":true}\n";
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, msg_stop), 0);
    assert_int_equal(complete_str(SHAPE_GEMINI, STREAM_SSE, msg_stop), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_SSE, gem_stop), 0);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, gem_stop), 0);
    assert_int_equal(complete_str(SHAPE_OPENAI, STREAM_NDJSON, ollama_done), 0);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "data: [DONE]\n\n"), 0);
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE, "event: message_delta\ndata: {\"type\":\"message_delta\"}\n\n"), 0);
    /* Anthropic's error event ends a stream, but not as a whole answer */
    assert_int_equal(complete_str(SHAPE_ANTHROPIC, STREAM_SSE,
                                  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_kind_of_content_types),
        cmocka_unit_test(test_stream_kind_names_round_trip),
        cmocka_unit_test(test_stream_next_event_sse_lf),
        cmocka_unit_test(test_stream_next_event_sse_crlf),
        cmocka_unit_test(test_stream_next_event_sse_cr),
        cmocka_unit_test(test_stream_next_event_ndjson_lines),
        cmocka_unit_test(test_stream_next_event_from_skips_earlier),
        cmocka_unit_test(test_stream_next_event_split_across_calls),
        cmocka_unit_test(test_stream_event_data_fields),
        cmocka_unit_test(test_stream_event_data_appends),
        cmocka_unit_test(test_stream_complete_whole_streams),
        cmocka_unit_test(test_stream_complete_without_last_event),
        cmocka_unit_test(test_stream_complete_every_cut),
        cmocka_unit_test(test_stream_complete_last_event_without_blank_line),
        cmocka_unit_test(test_stream_complete_empty_body),
        cmocka_unit_test(test_stream_complete_ollama_done_false),
        cmocka_unit_test(test_stream_complete_openai_only_content_chunks),
        cmocka_unit_test(test_stream_complete_trailing_newlines_after_done),
        cmocka_unit_test(test_stream_complete_other_line_endings),
        cmocka_unit_test(test_stream_complete_gemini_needs_finish_reason_in_first_candidate),
        cmocka_unit_test(test_stream_complete_marker_is_per_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
