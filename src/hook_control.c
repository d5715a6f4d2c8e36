/* X-LLMShim-Cache-Control: per-request control for programs that can add a header (as
 * Helicone, Portkey and Cloudflare's gateway offer). The header is llmshim's own: it is read,
 * then taken out of the request before it leaves, and never enters a key.
 *
 *   no-cache, refresh   fetch from the API and store (over what was there)
 *   no-store            fetch from the API, store nothing
 *   ttl=SECONDS         store with this time to live
 *   only-if-cached      answer from the cache or fail like a replay miss; never the network
 * Values are comma-separated, in any case; an unknown one is named once and ignored. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hook.h"
#include "log.h"

#define NAME "x-llmshim-cache-control"

static int is_control(const char *line) {
    size_t n = strlen(NAME);
    return line && !strncasecmp(line, NAME, n) && (line[n] == ':' || line[n] == ';');
}

static void directive(struct control *c, const char *p, size_t n) {
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n')) n--;
    if (!n) return;
    if ((n == 8 && !strncasecmp(p, "no-cache", 8)) || (n == 7 && !strncasecmp(p, "refresh", 7))) {
        c->no_lookup = 1;
    } else if (n == 8 && !strncasecmp(p, "no-store", 8)) {
        c->no_lookup = c->no_store = 1;
    } else if (n == 14 && !strncasecmp(p, "only-if-cached", 14)) {
        c->only_cached = 1;
    } else if (n > 4 && !strncasecmp(p, "ttl=", 4)) {
        char num[24];
        size_t k = n - 4 < sizeof(num) - 1 ? n - 4 : sizeof(num) - 1;
        memcpy(num, p + 4, k);
        num[k] = '\0';
        char *end;
        long long v = strtoll(num, &end, 10);
        if (*end || v < 0 || end == num) goto unknown;
        c->ttl = v;
    } else {
        goto unknown;
    }
    return;
unknown:;
    static atomic_int said;
    if (!atomic_exchange(&said, 1))
        log_line("X-LLMShim-Cache-Control: '%.*s' is not one of no-cache, no-store, refresh, ttl=SECONDS, "
                 "only-if-cached; ignored", (int)(n > 60 ? 60 : n), p);
}

int control_read(const struct curl_slist *headers, struct control *c) {
    *c = (struct control){.ttl = -1};
    int found = 0;
    for (const struct curl_slist *l = headers; l; l = l->next) {
        if (!is_control(l->data)) continue;
        found++;
        const char *v = l->data + strlen(NAME) + 1;
        for (const char *comma; (comma = strchr(v, ',')) != NULL; v = comma + 1) directive(c, v, (size_t)(comma - v));
        directive(c, v, strlen(v));
    }
    return found;
}

struct curl_slist *control_strip(const struct curl_slist *headers, size_t *count) {
    size_t n = 0;
    for (const struct curl_slist *l = headers; l; l = l->next) n += !is_control(l->data);
    struct curl_slist *v = calloc(n ? n : 1, sizeof(*v)); /* libcurl only reads the nodes */
    if (!v) return NULL;
    size_t i = 0;
    for (const struct curl_slist *l = headers; l; l = l->next) {
        if (is_control(l->data)) continue;
        v[i].data = l->data;
        v[i].next = i + 1 < n ? &v[i + 1] : NULL;
        i++;
    }
    *count = n;
    return v;
}
