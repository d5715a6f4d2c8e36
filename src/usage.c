#include "usage.h"

#include "buf.h"
#include "json.h"

static void raise_to(const struct json_doc *d, int tok, long long *v) {
    long long n;
    if (json_tok_ll(d, tok, &n) == 0 && n > *v) *v = n;
}

/* usage objects: OpenAI {prompt_tokens, completion_tokens} or {input_tokens, output_tokens}
 * (Responses, Anthropic, audio, images); Bedrock {inputTokens, outputTokens}; Cohere's
 * {tokens: {...}, billed_units: {...}}; embeddings and rerank that count only total_tokens
 * (Voyage, Jina): all input. */
static void scan_usage_obj(const struct json_doc *d, int u, long long *in, long long *out) {
    if (u < 0) return;
    long long before = *in;
    raise_to(d, json_get(d, u, "prompt_tokens"), in);
    raise_to(d, json_get(d, u, "input_tokens"), in);
    raise_to(d, json_get(d, u, "inputTokens"), in);
    raise_to(d, json_get(d, u, "completion_tokens"), out);
    raise_to(d, json_get(d, u, "output_tokens"), out);
    raise_to(d, json_get(d, u, "outputTokens"), out);
    if (*in == before && *out == 0) raise_to(d, json_get(d, u, "total_tokens"), in);
    int tokens = json_get(d, u, "tokens");
    if (tokens >= 0 && d->tok[tokens].type == JSMN_OBJECT) scan_usage_obj(d, tokens, in, out);
    int billed = json_get(d, u, "billed_units");
    if (billed >= 0 && d->tok[billed].type == JSMN_OBJECT) scan_usage_obj(d, billed, in, out);
}

/* Vertex :predict (embeddings) counts the tokens of each instance. */
static void scan_predictions(const struct json_doc *d, int preds, long long *in) {
    if (preds < 0 || d->tok[preds].type != JSMN_ARRAY) return;
    long long sum = 0, n;
    for (int i = 0; i < d->tok[preds].size; i++) {
        int st = json_get(d, json_get(d, json_child(d, preds, i), "embeddings"), "statistics");
        if (json_tok_ll(d, json_get(d, st, "token_count"), &n) == 0) sum += n;
    }
    if (sum > *in) *in = sum;
}

static void scan_doc(const char *json, size_t len, long long *in, long long *out) {
    struct json_doc d;
    if (json_parse(&d, json, len) != 0) return;
    int root = 0;
    if (d.tok[0].type == JSMN_ARRAY) { /* Gemini streamGenerateContent without alt=sse */
        for (int i = 0; i < d.tok[0].size; i++) {
            int el = json_child(&d, 0, i);
            int m = json_get(&d, el, "usageMetadata");
            raise_to(&d, json_get(&d, m, "promptTokenCount"), in);
            raise_to(&d, json_get(&d, m, "candidatesTokenCount"), out);
        }
    }
    scan_usage_obj(&d, json_get(&d, root, "usage"), in, out);
    scan_usage_obj(&d, json_get(&d, json_get(&d, root, "response"), "usage"), in, out); /* Responses events */
    scan_usage_obj(&d, json_get(&d, json_get(&d, root, "message"), "usage"), in, out);  /* Anthropic message_start */
    scan_usage_obj(&d, json_get(&d, root, "meta"), in, out);                            /* Cohere v1, embed, rerank */
    scan_usage_obj(&d, json_get(&d, json_get(&d, root, "delta"), "usage"), in, out);    /* Cohere message-end */
    scan_usage_obj(&d, json_get(&d, json_get(&d, root, "response"), "meta"), in, out);  /* Cohere v1 stream-end */
    int m = json_get(&d, root, "usageMetadata");
    raise_to(&d, json_get(&d, m, "promptTokenCount"), in);
    raise_to(&d, json_get(&d, m, "candidatesTokenCount"), out);
    raise_to(&d, json_get(&d, root, "prompt_eval_count"), in);
    raise_to(&d, json_get(&d, root, "eval_count"), out);
    int br = json_get(&d, root, "amazon-bedrock-invocationMetrics"); /* Bedrock invoke streams */
    raise_to(&d, json_get(&d, br, "inputTokenCount"), in);
    raise_to(&d, json_get(&d, br, "outputTokenCount"), out);
    scan_predictions(&d, json_get(&d, root, "predictions"), in);
    json_doc_free(&d);
}

static void scan_cached_obj(const struct json_doc *d, int u, long long *cached) {
    if (u < 0) return;
    raise_to(d, json_get(d, json_get(d, u, "prompt_tokens_details"), "cached_tokens"), cached);
    raise_to(d, json_get(d, json_get(d, u, "input_tokens_details"), "cached_tokens"), cached);
    raise_to(d, json_get(d, u, "cache_read_input_tokens"), cached);
}

static void scan_cached_doc(const char *json, size_t len, long long *cached, long long *unused) {
    (void)unused;
    struct json_doc d;
    if (json_parse(&d, json, len) != 0) return;
    if (d.tok[0].type == JSMN_ARRAY) /* Gemini streamGenerateContent without alt=sse */
        for (int i = 0; i < d.tok[0].size; i++)
            raise_to(&d, json_get(&d, json_get(&d, json_child(&d, 0, i), "usageMetadata"), "cachedContentTokenCount"), cached);
    scan_cached_obj(&d, json_get(&d, 0, "usage"), cached);
    scan_cached_obj(&d, json_get(&d, json_get(&d, 0, "response"), "usage"), cached);
    scan_cached_obj(&d, json_get(&d, json_get(&d, 0, "message"), "usage"), cached);
    raise_to(&d, json_get(&d, json_get(&d, 0, "usageMetadata"), "cachedContentTokenCount"), cached);
    json_doc_free(&d);
}

/* Calls scan on the answer, or on the data of every event of a stream. */
static void scan_all(enum stream_kind k, const char *body, size_t len, long long *a, long long *b,
                     void (*scan)(const char *, size_t, long long *, long long *)) {
    if (k == STREAM_NONE) {
        scan(body, len, a, b);
        return;
    }
    struct buf data;
    buf_init(&data);
    size_t pos = 0, next;
    while ((next = stream_next_event(k, body, len, pos)) != 0) {
        buf_clear(&data);
        stream_event_data(k, body + pos, next - pos, &data);
        if (data.len && data.data[0] == '{') scan(data.data, data.len, a, b);
        pos = next;
    }
    buf_free(&data);
}

void usage_scan(enum stream_kind k, const char *body, size_t len, long long *in, long long *out) {
    scan_all(k, body, len, in, out, scan_doc);
}

void usage_scan_cached(enum stream_kind k, const char *body, size_t len, long long *cached) {
    long long unused = 0;
    scan_all(k, body, len, cached, &unused, scan_cached_doc);
}
