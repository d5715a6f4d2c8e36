#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

/* Built-in LLM APIs, one row each: provider, shape, scheme, host ('*' matches within the host
 * name), port (0 = the scheme's default), path prefix, the path endings under it that are model
 * calls ('|'-separated), and a text the path must also hold (NULL: none). Everything else on
 * these hosts is left alone. */
#define OPENAI_CALLS                                                                            \
    "/chat/completions|/completions|/embeddings|/responses|/audio/transcriptions|"              \
    "/audio/translations|/audio/speech|/images/generations|/images/edits|/images/variations"
#define GEMINI_CALLS ":generateContent|:streamGenerateContent|:embedContent|:batchEmbedContents"
#define OLLAMA_CALLS "/api/chat|/api/generate|/api/embed|/api/embeddings"
#define BEDROCK_CALLS "/invoke|/invoke-with-response-stream|/converse|/converse-stream"
#define VERTEX_GOOGLE ":generateContent|:streamGenerateContent|:predict"
#define VERTEX_ANTHROPIC ":rawPredict|:streamRawPredict"
#define COHERE_CALLS "/v2/chat|/v2/embed|/v2/rerank|/v1/chat|/v1/embed|/v1/rerank"
#define RERANK_CALLS "/embeddings|/rerank"

static const struct builtin {
    const char *provider;
    enum shape shape;
    const char *scheme;
    const char *host;
    int port;
    const char *path;
    const char *calls;
    const char *within;
} builtins[] = {
    {"openai", SHAPE_OPENAI, "https", "api.openai.com", 0, "/v1/", OPENAI_CALLS, NULL},
    {"azure", SHAPE_OPENAI, "https", "*.openai.azure.com", 0, "/openai/", OPENAI_CALLS, NULL},
    {"anthropic", SHAPE_ANTHROPIC, "https", "api.anthropic.com", 0, "/v1/", "/v1/messages", NULL},
    {"gemini", SHAPE_OPENAI, "https", "generativelanguage.googleapis.com", 0, "/v1beta/openai/", OPENAI_CALLS, NULL},
    {"gemini", SHAPE_GEMINI, "https", "generativelanguage.googleapis.com", 0, "/v1", GEMINI_CALLS, NULL},
    {"openrouter", SHAPE_OPENAI, "https", "openrouter.ai", 0, "/api/v1/", OPENAI_CALLS, NULL},
    {"mistral", SHAPE_OPENAI, "https", "api.mistral.ai", 0, "/v1/", OPENAI_CALLS, NULL},
    {"groq", SHAPE_OPENAI, "https", "api.groq.com", 0, "/openai/v1/", OPENAI_CALLS, NULL},
    {"deepseek", SHAPE_OPENAI, "https", "api.deepseek.com", 0, "/", OPENAI_CALLS, NULL},
    {"together", SHAPE_OPENAI, "https", "api.together.xyz", 0, "/v1/", OPENAI_CALLS, NULL},
    {"xai", SHAPE_OPENAI, "https", "api.x.ai", 0, "/v1/", OPENAI_CALLS, NULL},
    {"fireworks", SHAPE_OPENAI, "https", "api.fireworks.ai", 0, "/inference/v1/", OPENAI_CALLS, NULL},
    {"bedrock", SHAPE_BEDROCK, "https", "bedrock-runtime.*.amazonaws.com", 0, "/model/", BEDROCK_CALLS, NULL},
    {"bedrock", SHAPE_BEDROCK, "https", "bedrock-runtime-fips.*.amazonaws.com", 0, "/model/", BEDROCK_CALLS, NULL},
    {"vertex", SHAPE_GEMINI, "https", "*-aiplatform.googleapis.com", 0, "/v1", VERTEX_GOOGLE, NULL},
    {"vertex", SHAPE_GEMINI, "https", "aiplatform.googleapis.com", 0, "/v1", VERTEX_GOOGLE, NULL},
    {"vertex", SHAPE_ANTHROPIC, "https", "*-aiplatform.googleapis.com", 0, "/v1", VERTEX_ANTHROPIC, "/publishers/anthropic/models/"},
    {"vertex", SHAPE_ANTHROPIC, "https", "aiplatform.googleapis.com", 0, "/v1", VERTEX_ANTHROPIC, "/publishers/anthropic/models/"},
    {"vertex", SHAPE_OPENAI, "https", "*-aiplatform.googleapis.com", 0, "/v1", "/endpoints/openapi/chat/completions", NULL},
    {"vertex", SHAPE_OPENAI, "https", "aiplatform.googleapis.com", 0, "/v1", "/endpoints/openapi/chat/completions", NULL},
    {"cohere", SHAPE_COHERE, "https", "api.cohere.com", 0, "/v", COHERE_CALLS, NULL},
    {"cohere", SHAPE_COHERE, "https", "api.cohere.ai", 0, "/v", COHERE_CALLS, NULL},
    {"cohere", SHAPE_OPENAI, "https", "api.cohere.com", 0, "/compatibility/v1/", OPENAI_CALLS, NULL},
    {"voyage", SHAPE_OPENAI, "https", "api.voyageai.com", 0, "/v1/", RERANK_CALLS "|/multimodalembeddings", NULL},
    {"jina", SHAPE_OPENAI, "https", "api.jina.ai", 0, "/v1/", RERANK_CALLS, NULL},
    {"perplexity", SHAPE_PERPLEXITY, "https", "api.perplexity.ai", 0, "/", "/chat/completions", NULL},
    {"cerebras", SHAPE_OPENAI, "https", "api.cerebras.ai", 0, "/v1/", OPENAI_CALLS, NULL},
    {"huggingface", SHAPE_OPENAI, "https", "router.huggingface.co", 0, "/v1/", OPENAI_CALLS, NULL},
    {"sambanova", SHAPE_OPENAI, "https", "api.sambanova.ai", 0, "/v1/", OPENAI_CALLS, NULL},
    {"ollama", SHAPE_OLLAMA, "http", "localhost", 11434, "/api/", OLLAMA_CALLS, NULL},
    {"ollama", SHAPE_OLLAMA, "http", "127.0.0.1", 11434, "/api/", OLLAMA_CALLS, NULL},
    {"ollama", SHAPE_OPENAI, "http", "localhost", 11434, "/v1/", OPENAI_CALLS, NULL},
    {"ollama", SHAPE_OPENAI, "http", "127.0.0.1", 11434, "/v1/", OPENAI_CALLS, NULL},
};

static const char *const shape_names[] = {"none", "openai", "anthropic", "gemini", "ollama", "bedrock", "cohere",
                                           "perplexity"};

const char *shape_name(enum shape s) {
    return (unsigned)s < sizeof(shape_names) / sizeof(shape_names[0]) ? shape_names[s] : "none";
}

enum shape shape_from_name(const char *s, size_t n) {
    for (size_t i = 1; i < sizeof(shape_names) / sizeof(shape_names[0]); i++)
        if (strlen(shape_names[i]) == n && strncasecmp(shape_names[i], s, n) == 0) return (enum shape)i;
    return SHAPE_NONE;
}

/* ---- URLs ------------------------------------------------------------------------------- */

static char *dup_range(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void lower(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

/* Query parameters that carry credentials: never in a key, never written down. Names are
 * compared percent-decoded and in any case (?%6Bey= is ?key=). Only exact names: a parameter
 * wrongly taken for a credential would be left out of the key and merge two questions. */
static const char *const secret_names[] = {
    "key", "api_key", "api-key", "apikey", "x-api-key", "subscription-key", "access_token", "auth", "auth_token", "token",
    "sig", "signature", "password", "passwd", "secret", "client_secret", "x-amz-signature",
    "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential", NULL};
static const char *const *extra_secret_names; /* LLMSHIM_REDACT_QUERY */

void url_redact_params(const char *const *names) {
    extra_secret_names = names;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int in_list(const char *const *list, const char *name) {
    for (const char *const *s = list; s && *s; s++)
        if (!strcasecmp(*s, name)) return 1;
    return 0;
}

static int secret_param(const char *p, size_t n) {
    const char *eq = memchr(p, '=', n);
    size_t name_len = eq ? (size_t)(eq - p) : n;
    char name[64];
    size_t k = 0;
    for (size_t i = 0; i < name_len; i++) {
        if (k + 1 >= sizeof(name)) return 0; /* no credential has so long a name */
        int hi, lo;
        if (p[i] == '%' && i + 2 < name_len && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            name[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            name[k++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    name[k] = '\0';
    return in_list(secret_names, name) || in_list(extra_secret_names, name);
}

static char *filter_query(const char *q, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t len = amp ? (size_t)(amp - (q + i)) : n - i;
        if (len && !secret_param(q + i, len)) {
            if (w) out[w++] = '&';
            memcpy(out + w, q + i, len);
            w += len;
        }
        i += len + 1;
    }
    out[w] = '\0';
    if (!w) { free(out); return NULL; }
    return out;
}

int url_credential(const char *text, const char **cred, size_t *len) {
    const char *p = strstr(text, "://");
    p = (p && p < text + strcspn(text, "/?#")) ? p + 3 : text;
    size_t auth_len = strcspn(p, "/?#");
    for (size_t i = auth_len; i-- > 0;)
        if (p[i] == '@') {
            *cred = p;
            *len = i;
            return 1;
        }
    const char *q = strchr(p, '?');
    while (q && *q && *q != '#') {
        q++;
        size_t n = strcspn(q, "&#");
        if (n && secret_param(q, n)) {
            const char *eq = memchr(q, '=', n);
            *cred = eq ? eq + 1 : q + n;
            *len = eq ? (size_t)(q + n - eq - 1) : 0;
            return 1;
        }
        q += n;
        if (*q != '&') break;
    }
    return 0;
}

/* The host as libcurl connects to it: percent-decoded, lowercase, without a trailing dot,
 * an IPv4 address in any of the forms inet_aton takes (127.1, 0x7f000001) written dotted.
 * 0, or -1 when out of memory. */
static int normalize_host(char **hp) {
    char *h = *hp;
    size_t w = 0;
    for (size_t i = 0; h[i]; i++) {
        int hi, lo;
        if (h[i] == '%' && h[i + 1] && h[i + 2] && (hi = hexval(h[i + 1])) >= 0 && (lo = hexval(h[i + 2])) >= 0) {
            h[w++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            h[w++] = h[i];
        }
    }
    h[w] = '\0';
    if (w > 1 && h[w - 1] == '.' && h[0] != '[') h[--w] = '\0';
    lower(h);
    struct in_addr a;
    if (h[0] != '[' && strspn(h, "0123456789abcdefx.") == w && inet_aton(h, &a)) {
        char *d = realloc(h, 16);
        if (!d) return -1;
        const unsigned char *b = (const unsigned char *)&a.s_addr;
        snprintf(d, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        *hp = d;
    }
    return 0;
}

/* RFC 3986 remove_dot_segments, as libcurl applies it before it sends the path. */
static void remove_dot_segments(char *path) {
    char *out = path;
    const char *in = path;
    while (*in) {
        if (in[0] == '/' && in[1] == '.' && (in[2] == '/' || !in[2])) { /* "/./" or a final "/." */
            in += 2;
            if (!*in) *out++ = '/';
            continue;
        }
        if (in[0] == '/' && in[1] == '.' && in[2] == '.' && (in[3] == '/' || !in[3])) { /* "/../" */
            in += 3;
            while (out > path && *--out != '/') {} /* the last segment written goes */
            if (!*in) *out++ = '/';
            continue;
        }
        do *out++ = *in++; while (*in && *in != '/');
    }
    if (out == path) *out++ = '/';
    *out = '\0';
}

int url_parse(const char *text, struct url *u) {
    memset(u, 0, sizeof(*u));
    const char *p = text;
    const char *sep = strstr(p, "://");
    size_t slen = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (sep && sep < p + strcspn(p, "/?#")) {
        u->scheme = dup_range(p, (size_t)(sep - p));
        p = sep + 3;
    } else if (slen && p[slen] == ':' && p[slen + 1] == '/') { /* scheme:/host, which libcurl takes */
        u->scheme = dup_range(p, slen);
        p += slen + 1;
        while (*p == '/') p++;
    } else {
        u->scheme = dup_range("http", 4);
    }
    if (!u->scheme) goto fail;
    lower(u->scheme);
    size_t auth_len = strcspn(p, "/?#");
    const char *auth = p, *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@') at = auth + i;
    if (at) { auth_len -= (size_t)(at + 1 - auth); auth = at + 1; } /* drop user:password@ */
    const char *host_end = auth + auth_len;
    const char *colon = NULL;
    if (auth_len && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close) goto fail;
        if (close + 1 < host_end && close[1] == ':') colon = close + 1;
    } else {
        colon = memchr(auth, ':', auth_len);
    }
    u->host = dup_range(auth, (size_t)((colon ? colon : host_end) - auth));
    if (!u->host || !u->host[0]) goto fail;
    if (normalize_host(&u->host) != 0) goto fail;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != host_end || port < 0 || port > 65535) goto fail;
        u->port = (int)port;
    }
    if ((u->port == 443 && !strcmp(u->scheme, "https")) || (u->port == 80 && !strcmp(u->scheme, "http")))
        u->port = 0;
    p = host_end;
    size_t path_len = strcspn(p, "?#");
    u->path = path_len ? dup_range(p, path_len) : dup_range("/", 1);
    if (!u->path) goto fail;
    remove_dot_segments(u->path);
    p += path_len;
    if (*p == '?') {
        size_t qlen = strcspn(p + 1, "#");
        u->query = filter_query(p + 1, qlen);
    }
    size_t blen = strlen(u->scheme) + strlen(u->host) + strlen(u->path) + 16;
    u->base = malloc(blen);
    if (!u->base) goto fail;
    if (u->port)
        snprintf(u->base, blen, "%s://%s:%d%s", u->scheme, u->host, u->port, u->path);
    else
        snprintf(u->base, blen, "%s://%s%s", u->scheme, u->host, u->path);
    return 0;
fail:
    url_free(u);
    return -1;
}

void url_free(struct url *u) {
    free(u->scheme);
    free(u->host);
    free(u->path);
    free(u->query);
    free(u->base);
    memset(u, 0, sizeof(*u));
}

char *url_safe(const struct url *u) {
    size_t n = strlen(u->base) + (u->query ? strlen(u->query) + 1 : 0) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s%s%s", u->base, u->query ? "?" : "", u->query ? u->query : "");
    return s;
}

/* ---- matching ------------------------------------------------------------------------------ */

int glob_prefix(const char *pat, const char *s) {
    /* iterative glob with single backtrack point: enough for '*' as the only wildcard */
    const char *star = NULL, *retry = NULL;
    for (;;) {
        if (!*pat) return 1; /* a prefix: the rest of s is free */
        if (*pat == '*') { star = ++pat; retry = s; continue; }
        if (*s && *s == *pat) { s++; pat++; continue; }
        if (star && *retry) { pat = star; s = ++retry; continue; }
        return 0;
    }
}

static int ends_with_call(const char *path, const char *calls) {
    size_t plen = strlen(path);
    while (*calls) {
        size_t n = strcspn(calls, "|");
        if (plen >= n && strncmp(path + plen - n, calls, n) == 0) return 1;
        calls += n + (calls[n] == '|');
    }
    return 0;
}

/* Whole-string match where '*' stands for any run of characters other than '.' and '/'. */
static int host_matches(const char *pat, const char *host) {
    if (*pat == '*') {
        for (const char *h = host; *h && *h != '.' && *h != '/'; h++)
            if (host_matches(pat + 1, h + 1)) return 1;
        return 0;
    }
    if (*pat != *host) return 0;
    return !*pat || host_matches(pat + 1, host + 1);
}

static enum shape infer_shape(const char *path) {
    if (strstr(path, "/v1/messages") || strstr(path, ":rawPredict") || strstr(path, ":streamRawPredict"))
        return SHAPE_ANTHROPIC;
    if (strstr(path, "/model/") && ends_with_call(path, BEDROCK_CALLS)) return SHAPE_BEDROCK;
    if (strstr(path, ":generateContent") || strstr(path, ":streamGenerateContent") ||
        strstr(path, ":embedContent"))
        return SHAPE_GEMINI;
    if (strstr(path, "/api/chat") || strstr(path, "/api/generate") || strstr(path, "/api/embed"))
        return SHAPE_OLLAMA;
    return SHAPE_OPENAI;
}

int endpoint_match(const struct endpoint_rule *rules, size_t nrules, const struct url *u,
                   struct endpoint_match *m) {
    for (size_t i = 0; i < nrules; i++) {
        if (!glob_prefix(rules[i].pattern, u->base)) continue;
        m->shape = rules[i].shape ? rules[i].shape : infer_shape(u->path);
        m->provider = "custom";
        return 1;
    }
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        const struct builtin *b = &builtins[i];
        if (strcmp(b->scheme, u->scheme) != 0 || b->port != u->port || !host_matches(b->host, u->host) ||
            strncmp(u->path, b->path, strlen(b->path)) != 0 || !ends_with_call(u->path, b->calls) ||
            (b->within && !strstr(u->path, b->within)))
            continue;
        m->shape = b->shape;
        m->provider = b->provider;
        return 1;
    }
    return 0;
}
