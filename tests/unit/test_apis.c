/* Unit tests for the APIs of issue 17: the new endpoint rows and shapes, their keys (fields and
 * headers left out, SigV4 and Vertex scope), stream ends, Bedrock's eventstream frames, usage,
 * and eventstream entries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "entry.h"
#include "eventstream.h"
#include "json.h"
#include "stream.h"
#include "usage.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static const unsigned char secret[32] = {1, 2, 3};

static int analyze(struct call *c, const char *url, const char *body, const char *const *headers, size_t nh,
                   const unsigned char *scope) {
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct call_request r = {.method = "POST", .url = url, .body = body, .body_len = strlen(body),
                             .headers = headers, .nheaders = nh, .scope_secret = scope};
    return call_analyze_request(c, &cfg, &r);
}

static void check_row(const char *url, const char *provider, enum shape shape) {
    struct call c;
    if (analyze(&c, url, "{}", NULL, 0, NULL) != 1) fail_msg("%s is not an LLM call", url);
    if (strcmp(c.ep.provider, provider) || c.ep.shape != shape)
        fail_msg("%s: %s/%s, want %s/%s", url, c.ep.provider, shape_name(c.ep.shape), provider, shape_name(shape));
    call_free(&c);
}

static void check_not_llm(const char *url) {
    struct call c;
    if (analyze(&c, url, "{}", NULL, 0, NULL) != 0) fail_msg("%s taken for an LLM call", url);
}

static void key(const char *url, const char *body, const char *const *h, size_t nh, const unsigned char *scope,
                char hex[65]) {
    struct call c;
    if (analyze(&c, url, body, h, nh, scope) != 1) fail_msg("%s not analyzed", url);
    memcpy(hex, c.hex, 65);
    call_free(&c);
}

/* One eventstream frame with string headers (name, value pairs) and a payload, appended to b. */
static void frame(struct buf *b, const char *const *hdr, size_t nh, const char *payload) {
    struct buf h;
    buf_init(&h);
    for (size_t i = 0; i + 1 < nh; i += 2) {
        size_t n = strlen(hdr[i]), v = strlen(hdr[i + 1]);
        buf_putc(&h, (char)n);
        buf_append(&h, hdr[i], n);
        buf_putc(&h, 7);
        buf_putc(&h, (char)(v >> 8));
        buf_putc(&h, (char)v);
        buf_append(&h, hdr[i + 1], v);
    }
    size_t plen = strlen(payload), total = 12 + h.len + plen + 4;
    unsigned char pre[12];
    for (int i = 0; i < 4; i++) {
        pre[i] = (unsigned char)(total >> (24 - 8 * i));
        pre[4 + i] = (unsigned char)(h.len >> (24 - 8 * i));
    }
    uint32_t crc = es_crc32(0, pre, 8);
    for (int i = 0; i < 4; i++) pre[8 + i] = (unsigned char)(crc >> (24 - 8 * i));
    size_t start = b->len;
    buf_append(b, (char *)pre, 12);
    if (h.len) buf_append(b, h.data, h.len);
    buf_append(b, payload, plen);
    crc = es_crc32(0, (const unsigned char *)b->data + start, b->len - start);
    unsigned char tail[4];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (24 - 8 * i));
    buf_append(b, (char *)tail, 4);
    buf_free(&h);
}

static void event(struct buf *b, const char *type, const char *payload) {
    const char *h[] = {":event-type", type, ":content-type", "application/json", ":message-type", "event"};
    frame(b, h, 6, payload);
}

/* A converse-stream answer; cut: stop before the last frames. */
static void converse_stream(struct buf *b, int frames) {
    const char *types[] = {"messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"};
    const char *payloads[] = {
        "{\"role\":\"assistant\"}", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"hi\"}}", "{\"contentBlockIndex\":0}",
        "{\"stopReason\":\"end_turn\"}",
        "{\"usage\":{\"inputTokens\":12,\"outputTokens\":3,\"totalTokens\":15},\"metrics\":{\"latencyMs\":9}}"};
    for (int i = 0; i < frames; i++) event(b, types[i], payloads[i]);
}

/* ---- rows --------------------------------------------------------------------------------- */

static void test_new_provider_rows(void **state) {
    (void)state;
    check_row("https://api.openai.com/v1/audio/transcriptions", "openai", SHAPE_OPENAI);
    check_row("https://api.openai.com/v1/audio/speech", "openai", SHAPE_OPENAI);
    check_row("https://api.openai.com/v1/images/edits", "openai", SHAPE_OPENAI);
    check_row("https://r.openai.azure.com/openai/deployments/w/audio/translations?api-version=1", "azure", SHAPE_OPENAI);
    check_row("https://api.groq.com/openai/v1/audio/transcriptions", "groq", SHAPE_OPENAI);
    check_row("https://api.mistral.ai/v1/fim/completions", "mistral", SHAPE_OPENAI);
    check_row("https://api.deepseek.com/beta/completions", "deepseek", SHAPE_OPENAI);
    check_row("https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2:1/invoke", "bedrock", SHAPE_BEDROCK);
    check_row("https://bedrock-runtime.eu-west-3.amazonaws.com/model/m/converse-stream", "bedrock", SHAPE_BEDROCK);
    check_row("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke-with-response-stream", "bedrock", SHAPE_BEDROCK);
    check_row("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/"
              "models/gemini-2.0-flash:streamGenerateContent?alt=sse", "vertex", SHAPE_GEMINI);
    check_row("https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/g:predict",
              "vertex", SHAPE_GEMINI);
    check_row("https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/"
              "models/claude-3@2024:streamRawPredict", "vertex", SHAPE_ANTHROPIC);
    check_row("https://us-central1-aiplatform.googleapis.com/v1beta1/projects/p/locations/us-central1/endpoints/"
              "openapi/chat/completions", "vertex", SHAPE_OPENAI);
    check_row("https://api.cohere.com/v2/chat", "cohere", SHAPE_COHERE);
    check_row("https://api.cohere.ai/v1/chat", "cohere", SHAPE_COHERE);
    check_row("https://api.cohere.com/v2/rerank", "cohere", SHAPE_COHERE);
    check_row("https://api.voyageai.com/v1/rerank", "voyage", SHAPE_OPENAI);
    check_row("https://api.jina.ai/v1/embeddings", "jina", SHAPE_OPENAI);
    check_row("https://api.perplexity.ai/chat/completions", "perplexity", SHAPE_PERPLEXITY);
    check_row("https://api.cerebras.ai/v1/chat/completions", "cerebras", SHAPE_OPENAI);
    check_row("https://router.huggingface.co/v1/chat/completions", "huggingface", SHAPE_OPENAI);
    check_row("https://api.sambanova.ai/v1/chat/completions", "sambanova", SHAPE_OPENAI);
    /* other calls on those hosts, and other publishers' rawPredict, are left alone */
    check_not_llm("https://bedrock-runtime.us-east-1.amazonaws.com/guardrail/g/version/1/apply");
    check_not_llm("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/mistralai/"
                  "models/m:rawPredict");
    check_not_llm("https://api.cohere.com/v2/models");
    check_not_llm("https://api.openai.com/v1/files");
}

static void test_models_from_paths(void **state) {
    (void)state;
    struct call c;
    assert_int_equal(analyze(&c, "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-v1:0/converse",
                             "{\"messages\":[]}", NULL, 0, NULL), 1);
    assert_string_equal(c.model, "anthropic.claude-3-haiku-v1:0");
    assert_non_null(strstr(c.name, "bedrock/anthropic.claude-3-haiku-v1_0/"));
    call_free(&c);
    assert_int_equal(analyze(&c, "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/"
                                 "anthropic/models/claude-x@20240101:rawPredict", "{}", NULL, 0, NULL), 1);
    assert_string_equal(c.model, "claude-x@20240101");
    call_free(&c);
}

/* ---- keys --------------------------------------------------------------------------------- */

static void test_left_out_of_keys(void **state) {
    (void)state;
    char a[65], b[65];
    const char *conv = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse";
    key(conv, "{\"messages\":[],\"requestMetadata\":{\"team\":\"a\"}}", NULL, 0, NULL, a);
    key(conv, "{\"messages\":[],\"requestMetadata\":{\"team\":\"b\"}}", NULL, 0, NULL, b);
    assert_string_equal(a, b);
    /* invoke takes the model's own body: nothing is left out */
    const char *inv = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke";
    key(inv, "{\"requestMetadata\":1}", NULL, 0, NULL, a);
    key(inv, "{\"requestMetadata\":2}", NULL, 0, NULL, b);
    assert_string_not_equal(a, b);
    /* Cohere, Perplexity and rerank keep `user` */
    const char *urls[] = {"https://api.cohere.com/v2/chat", "https://api.perplexity.ai/chat/completions",
                          "https://api.voyageai.com/v1/rerank"};
    for (size_t i = 0; i < 3; i++) {
        key(urls[i], "{\"user\":\"a\"}", NULL, 0, NULL, a);
        key(urls[i], "{\"user\":\"b\"}", NULL, 0, NULL, b);
        if (!strcmp(a, b)) fail_msg("%s: user left out", urls[i]);
    }
    /* images leave `user` out like chat */
    key("https://api.openai.com/v1/images/generations", "{\"prompt\":\"p\",\"user\":\"a\"}", NULL, 0, NULL, a);
    key("https://api.openai.com/v1/images/generations", "{\"prompt\":\"p\",\"user\":\"b\"}", NULL, 0, NULL, b);
    assert_string_equal(a, b);
    /* Bedrock's guardrail header changes the answer: keyed; the signature headers are not */
    const char *g1[] = {"X-Amzn-Bedrock-GuardrailIdentifier: g1", "X-Amz-Date: 20250101T000000Z",
                        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=aaa"};
    const char *g2[] = {"X-Amzn-Bedrock-GuardrailIdentifier: g1", "X-Amz-Date: 20250101T000001Z",
                        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=bbb",
                        "X-Amz-Security-Token: tok", "X-Amz-Content-Sha256: 00"};
    const char *g3[] = {"X-Amzn-Bedrock-GuardrailIdentifier: g2"};
    key(inv, "{}", g1, 3, NULL, a);
    key(inv, "{}", g2, 5, NULL, b);
    assert_string_equal(a, b);
    key(inv, "{}", g3, 1, NULL, b);
    assert_string_not_equal(a, b);
}

static void test_scope_sigv4_and_vertex(void **state) {
    (void)state;
    char a[65], b[65], c[65];
    const char *inv = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke";
    const char *s1[] = {"Authorization: AWS4-HMAC-SHA256 Credential=AKID1/20250101/us-east-1/bedrock/aws4_request, "
                        "SignedHeaders=host;x-amz-date, Signature=1111", "X-Amz-Date: 20250101T000000Z"};
    const char *s2[] = {"Authorization: AWS4-HMAC-SHA256 Credential=AKID1/20250102/us-east-1/bedrock/aws4_request, "
                        "SignedHeaders=host;x-amz-date, Signature=2222", "X-Amz-Date: 20250102T000000Z"};
    const char *s3[] = {"Authorization: AWS4-HMAC-SHA256 Credential=AKID2/20250101/us-east-1/bedrock/aws4_request, "
                        "SignedHeaders=host;x-amz-date, Signature=1111"};
    key(inv, "{}", s1, 2, secret, a);
    key(inv, "{}", s2, 2, secret, b);
    key(inv, "{}", s3, 1, secret, c);
    assert_string_equal(a, b);     /* a new signature every second: the same tenant */
    assert_string_not_equal(a, c); /* another access key: another tenant */
    const char *vx = "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/l/publishers/google/"
                     "models/g:generateContent";
    const char *t1[] = {"Authorization: Bearer ya29.one"}, *t2[] = {"Authorization: Bearer ya29.two"};
    key(vx, "{}", t1, 1, secret, a);
    key(vx, "{}", t2, 1, secret, b);
    assert_string_equal(a, b); /* the hourly token is not the tenant: the project is */
    key("https://us-central1-aiplatform.googleapis.com/v1/projects/p2/locations/l/publishers/google/models/"
        "g:generateContent", "{}", t1, 1, secret, c);
    assert_string_not_equal(a, c);
    /* elsewhere a bearer token still names the tenant */
    key("https://api.openai.com/v1/chat/completions", "{}", t1, 1, secret, a);
    key("https://api.openai.com/v1/chat/completions", "{}", t2, 1, secret, b);
    assert_string_not_equal(a, b);
}

/* ---- stream ends -------------------------------------------------------------------------- */

static int complete(enum shape s, enum stream_kind k, const char *body) {
    return stream_complete(s, k, body, strlen(body));
}

static void test_stream_ends_of_new_apis(void **state) {
    (void)state;
    assert_true(complete(SHAPE_OPENAI, STREAM_SSE, "data: {\"type\":\"transcript.text.delta\",\"delta\":\"a\"}\n\n"
                                                   "data: {\"type\":\"transcript.text.done\",\"text\":\"a\"}\n\n"));
    assert_false(complete(SHAPE_OPENAI, STREAM_SSE, "data: {\"type\":\"transcript.text.delta\",\"delta\":\"a\"}\n\n"));
    assert_true(complete(SHAPE_OPENAI, STREAM_SSE, "data: {\"type\":\"speech.audio.done\",\"usage\":{}}\n\n"));
    assert_false(complete(SHAPE_OPENAI, STREAM_SSE, "data: {\"type\":\"speech.audio.delta\",\"audio\":\"AA==\"}\n\n"));
    const char *cohere = "event: message-start\ndata: {\"type\":\"message-start\"}\n\n"
                         "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\"}}\n\n";
    assert_true(complete(SHAPE_COHERE, STREAM_SSE, cohere));
    assert_false(complete(SHAPE_COHERE, STREAM_SSE, "event: content-delta\ndata: {\"type\":\"content-delta\"}\n\n"));
    assert_true(complete(SHAPE_COHERE, STREAM_NDJSON, "{\"event_type\":\"text-generation\"}\n"
                                                      "{\"is_finished\":true,\"event_type\":\"stream-end\"}\n"));
    assert_false(complete(SHAPE_COHERE, STREAM_NDJSON, "{\"event_type\":\"text-generation\"}\n"));
    const char *pplx = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n"
                       "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{}}\n\n";
    assert_true(complete(SHAPE_PERPLEXITY, STREAM_SSE, pplx));
    assert_false(complete(SHAPE_OPENAI, STREAM_SSE, pplx)); /* OpenAI's own streams end with [DONE] */
    assert_false(complete(SHAPE_PERPLEXITY, STREAM_SSE, "data: {\"choices\":[{\"finish_reason\":null}]}\n\n"));
    assert_int_equal(stream_kind_of("application/vnd.amazon.eventstream"), STREAM_EVENTSTREAM);
    assert_int_equal(stream_kind_of("application/stream+json"), STREAM_NDJSON);
    assert_int_equal(stream_kind_from_name("eventstream"), STREAM_EVENTSTREAM);
}

static void test_eventstream_frames(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    converse_stream(&b, 5);
    /* frame boundaries, every one */
    size_t pos = 0, n = 0, next;
    while ((next = stream_next_event(STREAM_EVENTSTREAM, b.data, b.len, pos)) != 0) { pos = next; n++; }
    assert_int_equal(n, 5);
    assert_int_equal(pos, b.len);
    assert_true(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    /* cut anywhere: never complete */
    for (size_t cut = 0; cut < b.len; cut++)
        if (stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, cut)) fail_msg("complete when cut at %zu", cut);
    /* a flipped byte fails the CRC */
    b.data[b.len - 10] ^= 1;
    assert_false(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    buf_clear(&b);
    /* messageStop alone, metadata without messageStop, an exception: not whole answers */
    converse_stream(&b, 4);
    assert_false(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    const char *ex[] = {":exception-type", "throttlingException", ":message-type", "exception"};
    frame(&b, ex, 4, "{\"message\":\"slow down\"}");
    event(&b, "metadata", "{}");
    assert_false(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    buf_clear(&b);
    /* invoke-with-response-stream: chunks of base64 model events; the last has Bedrock's metrics */
    struct buf p, raw;
    buf_init(&p);
    buf_init(&raw);
    const char *inner = "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":7,"
                        "\"outputTokenCount\":2}}";
    buf_puts(&p, "{\"bytes\":\"");
    base64_encode(&p, (const unsigned char *)inner, strlen(inner));
    buf_puts(&p, "\"}");
    event(&b, "chunk", "{\"bytes\":\"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSJ9\"}"); /* {"type":"content_block_delta"} */
    assert_false(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    event(&b, "chunk", p.data);
    assert_true(stream_complete(SHAPE_BEDROCK, STREAM_EVENTSTREAM, b.data, b.len));
    long long in = 0, out = 0;
    usage_scan(STREAM_EVENTSTREAM, b.data, b.len, &in, &out);
    assert_int_equal(in, 7);
    assert_int_equal(out, 2);
    /* the event data of a chunk is the model's own event */
    size_t first = stream_next_event(STREAM_EVENTSTREAM, b.data, b.len, 0);
    stream_event_data(STREAM_EVENTSTREAM, b.data, first, &raw);
    assert_string_equal(raw.data, "{\"type\":\"content_block_delta\"}");
    buf_free(&raw);
    buf_free(&p);
    buf_free(&b);
}

/* ---- usage -------------------------------------------------------------------------------- */

static void check_usage(const char *body, long long want_in, long long want_out) {
    long long in = 0, out = 0;
    usage_scan(STREAM_NONE, body, strlen(body), &in, &out);
    if (in != want_in || out != want_out) fail_msg("%s: %lld/%lld, want %lld/%lld", body, in, out, want_in, want_out);
}

static void test_usage_of_new_apis(void **state) {
    (void)state;
    check_usage("{\"output\":{},\"usage\":{\"inputTokens\":10,\"outputTokens\":4,\"totalTokens\":14}}", 10, 4);
    check_usage("{\"message\":{},\"usage\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":6},"
                "\"tokens\":{\"input_tokens\":70,\"output_tokens\":6}}}", 70, 6);
    check_usage("{\"text\":\"x\",\"meta\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":9}}}", 3, 9);
    check_usage("{\"object\":\"list\",\"data\":[],\"usage\":{\"total_tokens\":11}}", 11, 0);
    check_usage("{\"text\":\"t\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":14,\"output_tokens\":45}}", 14, 45);
    check_usage("{\"predictions\":[{\"embeddings\":{\"statistics\":{\"token_count\":4}}},"
                "{\"embeddings\":{\"statistics\":{\"token_count\":5}}}]}", 9, 0);
    const char *stream = "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"usage\":{\"tokens\":"
                         "{\"input_tokens\":8,\"output_tokens\":2}}}}\n\n";
    long long in = 0, out = 0;
    usage_scan(STREAM_SSE, stream, strlen(stream), &in, &out);
    assert_int_equal(in, 8);
    assert_int_equal(out, 2);
}

/* ---- entries ------------------------------------------------------------------------------ */

static void test_eventstream_entry_round_trip(void **state) {
    (void)state;
    struct buf b;
    buf_init(&b);
    converse_stream(&b, 5);
    struct entry e;
    memset(&e, 0, sizeof(e));
    memset(e.key, 'a', 64);
    e.method = "POST";
    e.url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream";
    e.status = 200;
    e.status_line = "HTTP/1.1 200 OK";
    e.body = b.data;
    e.body_len = b.len;
    e.stream = STREAM_EVENTSTREAM;
    size_t pos = 0, next;
    struct entry_event ev[8];
    while ((next = stream_next_event(STREAM_EVENTSTREAM, b.data, b.len, pos)) != 0) {
        ev[e.nevents] = (struct entry_event){next, (long long)e.nevents * 1000};
        e.nevents++;
        pos = next;
    }
    e.events = ev;
    e.req_body = "{}";
    e.req_body_len = 2;
    e.req_json = 1;
    struct buf out;
    buf_init(&out);
    assert_int_equal(entry_encode(&e, &out), 0);
    assert_non_null(strstr(out.data, "\"stream\": \"eventstream\""));
    struct entry d;
    assert_int_equal(entry_decode(&d, out.data, out.len), 0);
    assert_int_equal(d.stream, STREAM_EVENTSTREAM);
    assert_int_equal(d.nevents, 5);
    assert_int_equal(d.body_len, b.len);
    assert_memory_equal(d.body, b.data, b.len);
    for (size_t i = 0; i < 5; i++) assert_int_equal(d.events[i].end, ev[i].end);
    entry_free(&d);
    buf_free(&out);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_provider_rows),
        cmocka_unit_test(test_models_from_paths),
        cmocka_unit_test(test_left_out_of_keys),
        cmocka_unit_test(test_scope_sigv4_and_vertex),
        cmocka_unit_test(test_stream_ends_of_new_apis),
        cmocka_unit_test(test_eventstream_frames),
        cmocka_unit_test(test_usage_of_new_apis),
        cmocka_unit_test(test_eventstream_entry_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
