/* client: a libcurl program in the manner of the curl tool, built with ASan+UBSan (make
 * check-asan), because the real curl tool cannot run under the sanitized shim (see Makefile).
 *
 *   client [OPTIONS] URL
 *     -d BODY        POST with CURLOPT_POSTFIELDS (the app's memory)
 *     --copy         ... with CURLOPT_COPYPOSTFIELDS from a heap copy freed before perform
 *     -H LINE        request header (repeatable)
 *     -o FILE        body to FILE through libcurl's default fwrite (no write callback)
 *     -D FILE        headers to FILE through a header callback (curl -D)
 *     -i             CURLOPT_HEADER: headers in the body (curl -i)
 *     --fail         CURLOPT_FAILONERROR
 *     --short N      the write callback accepts only the first N bytes, then returns 0
 *     --repeat N     N transfers on the same handle
 *     --get-between  a plain GET of URL on the same handle between two transfers
 *     --reset        curl_easy_reset and set every option again before each transfer
 *     --dup          each transfer on a curl_easy_duphandle copy; the original is cleaned up first
 *
 * Without -o the body goes to stdout through a write callback in the pieces libcurl gives.
 * One line per transfer on stderr:
 *   result=0 status=200 bytes=271 hdrbytes=300 type=application/json cache=HIT err=[]
 * Exit status: the last CURLcode. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct opts {
    const char *url, *body, *out, *dump;
    int copy, include, fail, repeat, get_between, reset, dup;
    long short_at;
    struct curl_slist *headers;
};

struct sink {
    long limit; /* -1: take everything */
    long taken;
    FILE *dump;
    char cache[16];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct sink *s = ud;
    size_t len = size * n;
    if (s->limit >= 0 && s->taken + (long)len > s->limit) return 0;
    s->taken += (long)len;
    return fwrite(p, 1, len, stdout);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct sink *s = ud;
    size_t len = size * n;
    if (len > 16 && !strncasecmp(p, "x-llmshim-cache:", 16)) sscanf(p + 16, " %15[A-Z]", s->cache);
    if (s->dump) fwrite(p, 1, len, s->dump);
    return len;
}

static void set_options(CURL *h, const struct opts *o, struct sink *s, FILE *out, char *errbuf) {
    curl_easy_setopt(h, CURLOPT_URL, o->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (o->headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, o->headers);
    if (o->body && o->copy) {
        char *tmp = strdup(o->body); /* libcurl (and the shim) must keep their own copy */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(tmp));
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, tmp);
        memset(tmp, 'X', strlen(tmp));
        free(tmp);
    } else if (o->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
    }
    if (out) {
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out); /* libcurl's own fwrite */
    } else {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    if (o->include) curl_easy_setopt(h, CURLOPT_HEADER, 1L);
    if (o->fail) curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
}

static CURLcode transfer(CURL **hp, const struct opts *o, FILE *out, char *errbuf) {
    struct sink s = {.limit = o->short_at, .dump = NULL};
    strcpy(s.cache, "none");
    if (o->dump) s.dump = fopen(o->dump, "ab");
    if (o->reset) curl_easy_reset(*hp);
    set_options(*hp, o, &s, out, errbuf);
    CURL *h = *hp;
    if (o->dup) {
        h = curl_easy_duphandle(*hp);
        curl_easy_cleanup(*hp); /* the copy must not depend on the original */
        *hp = h;
    }
    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(h);
    long status = 0, hdrbytes = 0;
    curl_off_t bytes = 0;
    char *type = NULL, *eff = NULL;
    double total = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &bytes);
    curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hdrbytes);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &total);
    if (!eff || strcmp(eff, o->url) != 0) fprintf(stderr, "client: effective URL [%s]\n", eff ? eff : "(null)");
    fprintf(stderr, "result=%d status=%ld bytes=%ld hdrbytes=%ld type=%s cache=%s err=[%s]\n", (int)rc, status,
            (long)bytes, hdrbytes, type ? type : "-", s.cache, errbuf);
    if (s.dump) fclose(s.dump);
    return rc;
}

int main(int argc, char **argv) {
    struct opts o = {.repeat = 1, .short_at = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-d") && v) o.body = argv[++i];
        else if (!strcmp(a, "-H") && v) o.headers = curl_slist_append(o.headers, argv[++i]);
        else if (!strcmp(a, "-o") && v) o.out = argv[++i];
        else if (!strcmp(a, "-D") && v) o.dump = argv[++i];
        else if (!strcmp(a, "--short") && v) o.short_at = atol(argv[++i]);
        else if (!strcmp(a, "--repeat") && v) o.repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--copy")) o.copy = 1;
        else if (!strcmp(a, "-i")) o.include = 1;
        else if (!strcmp(a, "--fail")) o.fail = 1;
        else if (!strcmp(a, "--get-between")) o.get_between = 1;
        else if (!strcmp(a, "--reset")) o.reset = 1;
        else if (!strcmp(a, "--dup")) o.dup = 1;
        else if (a[0] != '-' && !o.url) o.url = a;
        else { fprintf(stderr, "client: bad argument %s\n", a); return 2; }
    }
    if (!o.url) { fprintf(stderr, "usage: client [OPTIONS] URL\n"); return 2; }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    FILE *out = o.out ? fopen(o.out, "wb") : NULL;
    char errbuf[CURL_ERROR_SIZE];
    CURLcode rc = CURLE_OK;
    for (int r = 0; r < o.repeat; r++) {
        if (r && o.get_between) { /* the same handle, now a plain GET: must pass through */
            struct opts g = o;
            g.body = NULL;
            g.reset = 1;
            rc = transfer(&h, &g, out, errbuf);
        }
        rc = transfer(&h, &o, out, errbuf);
        if (out) fflush(out);
    }
    if (out) fclose(out);
    curl_easy_cleanup(h);
    curl_slist_free_all(o.headers);
    curl_global_cleanup();
    return (int)rc;
}
