/* chat: a small libcurl program that asks an OpenAI-compatible API one question, the way an
 * application would: its own write and header callbacks, a reused easy handle, getinfo after.
 * It knows nothing of llmshim; run it under LD_PRELOAD=build/libllmshim.so to cache answers.
 *
 *   chat URL PROMPT [--model M] [--repeat N] [--copy] [--abort]
 *
 * Prints the answer body on stdout and one summary line per transfer on stderr:
 *   result=0 status=200 type=application/json bytes=271 calls=1 max_chunk=271 cache=HIT
 * OPENAI_API_KEY, when set, is sent as a Bearer token. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct answer {
    char *data;
    size_t len;
    size_t calls;
    size_t max_chunk;
    int abort;
    char cache[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
    struct answer *a = userdata;
    size_t len = size * n;
    if (a->abort) return 0; /* a short write: libcurl must report CURLE_WRITE_ERROR */
    char *d = realloc(a->data, a->len + len + 1);
    if (!d) return 0;
    memcpy(d + a->len, p, len);
    a->data = d;
    a->len += len;
    a->data[a->len] = '\0';
    a->calls++;
    if (len > a->max_chunk) a->max_chunk = len;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
    struct answer *a = userdata;
    size_t len = size * n;
    static const char name[] = "x-llmshim-cache:";
    if (len > sizeof(name) && strncasecmp(p, name, sizeof(name) - 1) == 0)
        sscanf(p + sizeof(name) - 1, " %31[A-Z]", a->cache);
    return len;
}

/* JSON string escaping for the prompt: enough for text typed on a command line. */
static void put_json_string(char *out, size_t cap, const char *s) {
    size_t w = 0;
    out[w++] = '"';
    for (; *s && w + 8 < cap; s++) {
        if (*s == '"' || *s == '\\') out[w++] = '\\';
        if (*s == '\n') { out[w++] = '\\'; out[w++] = 'n'; continue; }
        out[w++] = *s;
    }
    out[w++] = '"';
    out[w] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL PROMPT [--model M] [--repeat N] [--copy] [--abort]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1], *model = "gpt-4o-mini";
    int repeat = 1, copy = 0, abort_write = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--copy")) copy = 1;
        else if (!strcmp(argv[i], "--abort")) abort_write = 1;
        else { fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]); return 2; }
    }
    char prompt[4096], body[8192];
    put_json_string(prompt, sizeof(prompt), argv[2]);
    snprintf(body, sizeof(body), "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": %s}]}",
             model, prompt);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    if (!curl) return 1;
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    const char *key = getenv("OPENAI_API_KEY");
    if (key) {
        char auth[512];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        headers = curl_slist_append(headers, auth);
    }
    int rc = 0;
    for (int r = 0; r < repeat; r++) {
        struct answer a = {.abort = abort_write};
        strcpy(a.cache, "none");
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        if (copy) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
            curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body);
        } else {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        }
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
        CURLcode res = curl_easy_perform(curl);
        long status = 0;
        char *type = NULL;
        curl_off_t bytes = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
        curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &bytes);
        fprintf(stderr, "result=%d status=%ld type=%s bytes=%ld calls=%zu max_chunk=%zu cache=%s\n", (int)res,
                status, type ? type : "-", (long)bytes, a.calls, a.max_chunk, a.cache);
        if (a.data) fwrite(a.data, 1, a.len, stdout);
        free(a.data);
        if (res != CURLE_OK) rc = (int)res;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return rc;
}
