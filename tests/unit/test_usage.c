/* Unit tests for usage_scan: token counts from every API's answers (src/usage.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "usage.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* usage_scan from zero must give exactly in/out. */
static void check_usage(const char *what, enum stream_kind k, const char *body, long long want_in,
                        long long want_out) {
    long long in = 0, out = 0;
    usage_scan(k, body, strlen(body), &in, &out);
    if (in != want_in || out != want_out)
        fail_msg("%s: usage %lld/%lld, want %lld/%lld", what, in, out, want_in, want_out);
}

/* usage_scan must leave counters that start at 7/3 as they are. */
static void check_unchanged(const char *what, enum stream_kind k, const char *body, size_t len) {
    long long in = 7, out = 3;
    usage_scan(k, body, len, &in, &out);
    if (in != 7 || out != 3) fail_msg("%s: counters changed to %lld/%lld", what, in, out);
}

/* ---- answers that are one JSON document ---------------------------------------------------- */

static void test_usage_openai_chat(void **state) {
    (void)state;
    check_usage("openai chat", STREAM_NONE,
                "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
                "\"finish_reason\":\"stop\"}],"
                "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21,"
                "\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
                9, 12);
    /* pretty-printed, as some servers send it */
    check_usage("openai chat pretty", STREAM_NONE,
                "{\n  \"choices\": [],\n  \"usage\": {\n    \"completion_tokens\": 5,\n    \"prompt_tokens\": 1000\n  }\n}\n",
                1000, 5);
}

static void test_usage_openai_embeddings(void **state) {
    (void)state;
    check_usage("embeddings", STREAM_NONE,
                "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.0023,-0.0093]}],"
                "\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}",
                8, 0);
}

static void test_usage_openai_responses(void **state) {
    (void)state;
    check_usage("responses", STREAM_NONE,
                "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4o\","
                "\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{\"type\":"
                "\"output_text\",\"text\":\"Hi\"}]}],"
                "\"usage\":{\"input_tokens\":36,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":87,"
                "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":123}}",
                36, 87);
}

static void test_usage_anthropic_message(void **state) {
    (void)state;
    check_usage("anthropic", STREAM_NONE,
                "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-sonnet-20241022\","
                "\"content\":[{\"type\":\"text\",\"text\":\"Hello!\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                "\"output_tokens\":25}}",
                10, 25);
}

static void test_usage_gemini(void **state) {
    (void)state;
    check_usage("gemini", STREAM_NONE,
                "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"finishReason\":\"STOP\","
                "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":7,\"totalTokenCount\":11},"
                "\"modelVersion\":\"gemini-1.5-flash\"}",
                4, 7);
}

/* streamGenerateContent without alt=sse: one JSON array of chunks, usage in each. */
static void test_usage_gemini_json_array_stream(void **state) {
    (void)state;
    check_usage("gemini array", STREAM_NONE,
                "[{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"},\"index\": 0}],\n"
                "  \"usageMetadata\": {\"promptTokenCount\": 4,\"totalTokenCount\": 4}\n}\r\n,\r\n"
                "{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"lo\"}],\"role\": \"model\"},\"index\": 0}],\n"
                "  \"usageMetadata\": {\"promptTokenCount\": 4,\"candidatesTokenCount\": 2,\"totalTokenCount\": 6}\n}\r\n,\r\n"
                "{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}],\"role\": \"model\"},"
                "\"finishReason\": \"STOP\",\"index\": 0}],\n"
                "  \"usageMetadata\": {\"promptTokenCount\": 4,\"candidatesTokenCount\": 9,\"totalTokenCount\": 13}\n}\n]",
                4, 9);
}

static void test_usage_ollama(void **state) {
    (void)state;
    check_usage("ollama chat", STREAM_NONE,
                "{\"model\":\"llama3\",\"created_at\":\"2024-05-01T10:00:00Z\",\"message\":{\"role\":\"assistant\","
                "\"content\":\"Hi\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":5191566416,"
                "\"load_duration\":2154458,\"prompt_eval_count\":26,\"prompt_eval_duration\":383809000,"
                "\"eval_count\":298,\"eval_duration\":4799921000}",
                26, 298);
    check_usage("ollama embed", STREAM_NONE,
                "{\"model\":\"all-minilm\",\"embeddings\":[[0.01,-0.02]],\"total_duration\":14143917,"
                "\"prompt_eval_count\":8}",
                8, 0);
}

/* ---- streams ------------------------------------------------------------------------------- */

static void test_usage_openai_stream_include_usage(void **state) {
    (void)state;
    check_usage("openai sse", STREAM_SSE,
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                "\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n"
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                "\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n"
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
                "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
                "\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
                "data: [DONE]\n\n",
                9, 2);
    /* without include_usage the stream has none */
    check_usage("openai sse no usage", STREAM_SSE,
                "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n", 0, 0);
}

static void test_usage_openai_responses_stream(void **state) {
    (void)state;
    check_usage("responses sse", STREAM_SSE,
                "event: response.created\n"
                "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\","
                "\"status\":\"in_progress\",\"usage\":null}}\n\n"
                "event: response.output_text.delta\n"
                "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"Hi\"}\n\n"
                "event: response.completed\n"
                "data: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\","
                "\"status\":\"completed\",\"usage\":{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":0},"
                "\"output_tokens\":3,\"total_tokens\":15}}}\n\n",
                12, 3);
}

static void test_usage_anthropic_stream(void **state) {
    (void)state;
    /* input in message_start.message.usage; output as running totals in message_delta */
    check_usage("anthropic sse", STREAM_SSE,
                "event: message_start\n"
                "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                "\"content\":[],\"model\":\"claude-3-5-sonnet-20241022\",\"stop_reason\":null,"
                "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
                "event: content_block_start\n"
                "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                "event: ping\ndata: {\"type\": \"ping\"}\n\n"
                "event: content_block_delta\n"
                "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                "event: message_delta\n"
                "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},\"usage\":{\"output_tokens\":9}}\n\n"
                "event: message_delta\n"
                "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                "\"usage\":{\"output_tokens\":15}}\n\n"
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                25, 15);
}

static void test_usage_gemini_sse_stream(void **state) {
    (void)state;
    check_usage("gemini sse", STREAM_SSE,
                "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}]},\"index\": 0}],"
                "\"usageMetadata\": {\"promptTokenCount\": 4,\"totalTokenCount\": 4}}\r\n\r\n"
                "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"lo\"}]},\"finishReason\": \"STOP\","
                "\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 4,\"candidatesTokenCount\": 6,"
                "\"totalTokenCount\": 10}}\r\n\r\n",
                4, 6);
}

static void test_usage_ollama_ndjson_stream(void **state) {
    (void)state;
    check_usage("ollama ndjson", STREAM_NDJSON,
                "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n"
                "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}\n"
                "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\","
                "\"done\":true,\"total_duration\":4883583458,\"prompt_eval_count\":26,\"eval_count\":298}\n",
                26, 298);
}

/* In a stream only whole events count: a last event without its boundary is not read. */
static void test_usage_stream_reads_whole_events_only(void **state) {
    (void)state;
    check_usage("ndjson last line cut", STREAM_NDJSON,
                "{\"done\":false}\n{\"done\":true,\"prompt_eval_count\":26,\"eval_count\":298}", 0, 0);
    /* an SSE body is not one JSON document, and a JSON document is not an SSE stream */
    check_usage("json read as sse", STREAM_SSE, "{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}", 0, 0);
    check_usage("sse read as json", STREAM_NONE,
                "data: {\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}\n\n", 0, 0);
}

/* ---- counters ------------------------------------------------------------------------------ */

static void test_usage_without_usage_leaves_counters(void **state) {
    (void)state;
    static const char chat[] = "{\"id\":\"c1\",\"choices\":[{\"message\":{\"content\":\"Hi\"}}]}";
    check_unchanged("no usage", STREAM_NONE, chat, strlen(chat));
    static const char nulls[] = "{\"usage\":null,\"usageMetadata\":null}";
    check_unchanged("null usage", STREAM_NONE, nulls, strlen(nulls));
    static const char strs[] = "{\"usage\":{\"prompt_tokens\":\"9\",\"completion_tokens\":1.5}}";
    check_unchanged("usage not integers", STREAM_NONE, strs, strlen(strs));
    static const char sse[] = "data: {\"choices\":[]}\n\ndata: [DONE]\n\n";
    check_unchanged("sse no usage", STREAM_SSE, sse, strlen(sse));
    static const char nd[] = "{\"done\":false}\n{\"done\":true}\n";
    check_unchanged("ndjson no usage", STREAM_NDJSON, nd, strlen(nd));
    /* counts below what the counters hold do not lower them */
    static const char small[] = "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}";
    check_unchanged("smaller usage", STREAM_NONE, small, strlen(small));
    /* larger counts raise them */
    static const char big[] = "{\"usage\":{\"prompt_tokens\":70,\"completion_tokens\":30}}";
    long long in = 7, out = 3;
    usage_scan(STREAM_NONE, big, strlen(big), &in, &out);
    assert_int_equal(in, 70);
    assert_int_equal(out, 30);
}

static void test_usage_non_json_is_harmless(void **state) {
    (void)state;
    static const char *const bodies[] = {
        "",
        "<html><body>502 Bad Gateway</body></html>",
        "{\"usage\":{\"prompt_tokens\":9,",
        "not json at all",
        "[1,2,3]",
        "42",
        "\"usage\"",
        "[{\"usageMetadata\":7}, null, \"x\"]",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        for (int k = STREAM_NONE; k <= STREAM_NDJSON; k++)
            check_unchanged(bodies[i], (enum stream_kind)k, bodies[i], strlen(bodies[i]));
    static const char sse[] = "data: {\"usage\":{\"prompt_tokens\":9,\n\ndata: <b>\n\n: c\n\ndata:\n\n";
    check_unchanged("broken sse", STREAM_SSE, sse, strlen(sse));
    static const char nd[] = "{\"a\":\n\n\nxyz\n";
    check_unchanged("broken ndjson", STREAM_NDJSON, nd, strlen(nd));
    /* a body with a NUL byte and invalid UTF-8 */
    static const char bin[] = {'{', '"', 'u', 0, (char)0xff, '}'};
    check_unchanged("binary", STREAM_NONE, bin, sizeof(bin));
    /* only len bytes are read */
    static const char cut[] = "{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}";
    check_unchanged("cut", STREAM_NONE, cut, strlen(cut) - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_openai_chat),
        cmocka_unit_test(test_usage_openai_embeddings),
        cmocka_unit_test(test_usage_openai_responses),
        cmocka_unit_test(test_usage_anthropic_message),
        cmocka_unit_test(test_usage_gemini),
        cmocka_unit_test(test_usage_gemini_json_array_stream),
        cmocka_unit_test(test_usage_ollama),
        cmocka_unit_test(test_usage_openai_stream_include_usage),
        cmocka_unit_test(test_usage_openai_responses_stream),
        cmocka_unit_test(test_usage_anthropic_stream),
        cmocka_unit_test(test_usage_gemini_sse_stream),
        cmocka_unit_test(test_usage_ollama_ndjson_stream),
        cmocka_unit_test(test_usage_stream_reads_whole_events_only),
        cmocka_unit_test(test_usage_without_usage_leaves_counters),
        cmocka_unit_test(test_usage_non_json_is_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
