/* gen: fills a file store with the entries the shim would have written for the client's questions
 * seq FROM..TO-1 (see bench_body), through the project's own functions: call_analyze names the
 * entry, entry_encode writes its format, the file store puts it where the shim looks. So the
 * scale benchmark follows any change of key, layout or format without being touched.
 * Settings (LLMSHIM_DIR, LLMSHIM_ENDPOINTS) come from the environment, as for the shim.
 *
 *   gen --url URL --from A --to B [--body-bytes N] [--answer-bytes M]
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "call.h"
#include "config.h"
#include "entry.h"
#include "store.h"

static const char *env(const char *name) {
    return getenv(name);
}

/* The answer an OpenAI-shaped API would give, padded to about `bytes`. */
static char *answer(long seq, size_t bytes, size_t *len) {
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"id\":\"chatcmpl-gen-%ld\",\"object\":\"chat.completion\",\"created\":1700000000,"
                   "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"answer to question %ld:", seq, seq);
    while (b.len + 120 < bytes) buf_puts(&b, " lorem");
    buf_puts(&b, "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9,"
                 "\"total_tokens\":18}}");
    return buf_take(&b, len);
}

int main(int argc, char **argv) {
    const char *url = NULL;
    long from = 0, to = 0, body_bytes = 1024, answer_bytes = 2048;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--from")) from = atol(v);
        else if (!strcmp(a, "--to")) to = atol(v);
        else if (!strcmp(a, "--body-bytes")) body_bytes = atol(v);
        else if (!strcmp(a, "--answer-bytes")) answer_bytes = atol(v);
        else from = to = -1;
    }
    if (!url || from < 0 || to < from || argc % 2 == 0) {
        fprintf(stderr, "usage: gen --url URL --from A --to B [--body-bytes N] [--answer-bytes M]\n");
        return 2;
    }
    struct config cfg;
    config_parse(&cfg, env);
    char *err = NULL;
    struct store *s = cfg.error ? NULL : store_file_open(cfg.dir, &err);
    if (!s) {
        fprintf(stderr, "gen: %s\n", cfg.error ? cfg.error : err);
        return 1;
    }
    size_t cap = (size_t)body_bytes + 256;
    char *body = malloc(cap);
    if (!body) return 1;
    long long now = (long long)time(NULL);
    for (long seq = from; seq < to; seq++) {
        size_t len = bench_body(body, cap, (size_t)body_bytes, seq, 0);
        struct call c;
        if (call_analyze(&c, &cfg, "POST", url, body, len) != 1) {
            fprintf(stderr, "gen: %s is not an LLM endpoint under these settings\n", url);
            return 1;
        }
        /* the fields cache_store fills, then the response as record would have kept it */
        struct entry e;
        memset(&e, 0, sizeof(e));
        memcpy(e.key, c.hex, 65);
        e.created = now;
        e.ttl = cfg.ttl;
        e.latency_us = 800000;
        e.method = strdup("POST");
        e.url = strdup(c.safe_url);
        e.provider = strdup(c.ep.provider);
        e.model = c.model ? strdup(c.model) : NULL;
        e.req_json = c.body_json;
        e.req_body_len = c.body.len;
        e.req_body = malloc(c.body.len + 1);
        e.status = 200;
        e.status_line = strdup("HTTP/1.1 200 OK");
        e.body = answer(seq, (size_t)answer_bytes, &e.body_len);
        if (!e.req_body || !e.body) return 1;
        memcpy(e.req_body, c.body.data, c.body.len);
        e.req_body[c.body.len] = '\0';
        entry_add_header(&e, "Content-Type", 12, "application/json", 16);
        struct buf out;
        buf_init(&out);
        struct store_key k = {c.hex, c.name};
        if (entry_encode(&e, &out) != 0 ||
            store_put(s, &k, out.data, out.len, e.ttl ? e.created + e.ttl : 0, &err) != 0) {
            fprintf(stderr, "gen: cannot store entry %ld: %s\n", seq, err ? err : "cannot encode");
            return 1;
        }
        buf_free(&out);
        entry_free(&e);
        call_free(&c);
    }
    store_close(s);
    free(body);
    config_free(&cfg);
    return 0;
}
