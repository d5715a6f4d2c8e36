/* fuzz_config: the settings parsers on any text. Byte 0 picks the source:
 * even: the rest is a config file (config_file_parse); when it parses, its values feed
 *       config_parse, as the shim does with config_getenv;
 * odd:  the rest is a list of records "<name index byte><value>\0" carved into an environment.
 * Checks, besides the sanitizers: a config without error is usable as the shim uses it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_file.h"
#include "endpoint.h"

#define MAX_VARS 64

static const char *extra_names[] = {"HOME", "XDG_CACHE_HOME", "LLMSHIM_CONFIG", "XDG_CONFIG_HOME"};
static const char *env_name[MAX_VARS];
static const char *env_value[MAX_VARS];
static size_t env_n;
static const struct config_file *the_file;

static const char *from_env(const char *name) {
    const char *v = NULL;
    for (size_t i = 0; i < env_n; i++)
        if (!strcmp(env_name[i], name)) v = env_value[i]; /* the last one wins, as with putenv */
    return v;
}

static const char *from_file(const char *name) {
    return config_file_get(the_file, name);
}

static size_t count_names(void) {
    size_t n = 0;
    while (config_setting_names[n]) n++;
    return n;
}

static void check(const struct config *c) {
    if (c->error) {
        if (!c->error[0]) abort();
        return;
    }
    if ((unsigned)c->mode > MODE_OFF || (unsigned)c->backend > BACKEND_REDIS || (unsigned)c->log > LOG_DEBUG) abort();
    if (c->backend == BACKEND_FILE && c->mode != MODE_OFF && (!c->dir || c->dir[0] != '/')) abort();
    if (!c->redis_url || c->mem_max_entries == 0 || c->mem_max_bytes == 0 || c->max_entry_bytes == 0) abort();
    if (c->ttl < 0 || c->replay_pace < 0 || c->replay_pace > 100) abort();
    for (char **p = c->key_ignore; p && *p; p++)
        if ((*p)[0] != '/') abort();
    static const char *const urls[] = {"https://api.openai.com/v1/chat/completions",
                                       "http://127.0.0.1:8000/v1/chat/completions",
                                       "https://gw.corp.example/claude/v1/messages", "http://x"};
    for (size_t i = 0; i < c->nendpoints; i++)
        if (!c->endpoints[i].pattern || !strstr(c->endpoints[i].pattern, "://")) abort();
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct url u;
        struct endpoint_match m;
        if (url_parse(urls[i], &u) != 0) abort();
        if (endpoint_match(c->endpoints, c->nendpoints, &u, &m) && !m.provider) abort();
        url_free(&u);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size); /* text[0..size-1) plus a NUL: records end at NULs */
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct config c;
    if (!(data[0] & 1)) {
        struct config_file cf;
        int rc = config_file_parse(&cf, "fuzz.conf", text, size - 1);
        if (rc != 0 && !cf.error) abort();
        if (rc == 0) {
            for (size_t i = 0; i < cf.n; i++)
                if (!config_setting_known(cf.items[i].name) || !cf.items[i].value) abort();
            the_file = &cf;
            config_parse(&c, from_file);
            check(&c);
            config_free(&c);
        }
        config_file_free(&cf);
    } else {
        size_t nnames = count_names(), nextra = sizeof(extra_names) / sizeof(extra_names[0]);
        env_n = 0;
        for (char *p = text; p < text + size - 1 && env_n < MAX_VARS;) {
            unsigned idx = (unsigned char)*p++ % (nnames + nextra);
            env_name[env_n] = idx < nnames ? config_setting_names[idx] : extra_names[idx - nnames];
            env_value[env_n++] = p;
            p += strlen(p) + 1;
        }
        config_parse(&c, from_env);
        check(&c);
        config_free(&c);
    }
    free(text);
    return 0;
}
