/* info: every CURLINFO_* an application can ask, and the header API, after a transfer, compared
 * with a live transfer of the same request (tests/e2e/test_fidelity.sh).
 *
 *   info URL [--after-429] [--live]
 *
 * Handle A makes the live transfer (a miss under llmshim, which libcurl performs), then handle
 * B asks the same question (a hit under llmshim). --after-429: each handle first gets a 429
 * (Retry-After, X-Request-Id) for another prompt, so stale values would show. Each row of the
 * table says what B must report: the same as A, what a transfer answered without a connection
 * has, or a time. --live: B is live too (no llmshim), which proves the SAME rows are sound.
 * Prints "ok NAME" or "FAIL NAME: ..." per row, then "rows N failed M". */
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum rule {
    SAME,    /* as the live transfer */
    NOCONN,  /* what a transfer with no connection has: 0, -1, "" */
    TIME,    /* a duration or speed: known, >= 0 */
    POSITIVE /* > 0 (header sizes differ: volatile headers are not replayed) */
};

#define I(name, rule) {CURLINFO_##name, #name, rule}
static const struct row {
    CURLINFO info;
    const char *name;
    enum rule rule;
} rows[] = {
    I(EFFECTIVE_URL, SAME), I(RESPONSE_CODE, SAME), I(TOTAL_TIME, TIME), I(NAMELOOKUP_TIME, NOCONN),
    I(CONNECT_TIME, NOCONN), I(PRETRANSFER_TIME, NOCONN), I(SIZE_UPLOAD, SAME), I(SIZE_UPLOAD_T, SAME),
    I(SIZE_DOWNLOAD, SAME), I(SIZE_DOWNLOAD_T, SAME), I(SPEED_DOWNLOAD, TIME), I(SPEED_DOWNLOAD_T, TIME),
    I(SPEED_UPLOAD, TIME), I(SPEED_UPLOAD_T, TIME), I(HEADER_SIZE, POSITIVE), I(REQUEST_SIZE, NOCONN),
    I(SSL_VERIFYRESULT, SAME), I(FILETIME, SAME), I(FILETIME_T, SAME), I(CONTENT_LENGTH_DOWNLOAD, SAME),
    I(CONTENT_LENGTH_DOWNLOAD_T, SAME), I(CONTENT_LENGTH_UPLOAD, SAME), I(CONTENT_LENGTH_UPLOAD_T, SAME),
    I(STARTTRANSFER_TIME, TIME), I(STARTTRANSFER_TIME_T, TIME), I(CONTENT_TYPE, SAME), I(REDIRECT_TIME, SAME),
    I(REDIRECT_TIME_T, SAME), I(REDIRECT_COUNT, SAME), I(PRIVATE, SAME), I(HTTP_CONNECTCODE, SAME),
    I(HTTPAUTH_AVAIL, SAME), I(PROXYAUTH_AVAIL, SAME), I(OS_ERRNO, SAME), I(NUM_CONNECTS, NOCONN),
    I(SSL_ENGINES, SAME), I(COOKIELIST, SAME), I(LASTSOCKET, NOCONN), I(FTP_ENTRY_PATH, SAME),
    I(REDIRECT_URL, SAME), I(PRIMARY_IP, NOCONN), I(APPCONNECT_TIME, NOCONN), I(APPCONNECT_TIME_T, NOCONN),
    I(CERTINFO, SAME), I(CONDITION_UNMET, SAME), I(RTSP_SESSION_ID, SAME), I(RTSP_CLIENT_CSEQ, SAME),
    I(RTSP_SERVER_CSEQ, SAME), I(RTSP_CSEQ_RECV, SAME), I(PRIMARY_PORT, NOCONN), I(LOCAL_IP, NOCONN),
    I(LOCAL_PORT, NOCONN), I(TLS_SESSION, SAME), I(ACTIVESOCKET, NOCONN), I(TLS_SSL_PTR, SAME),
    I(HTTP_VERSION, SAME), I(PROXY_SSL_VERIFYRESULT, SAME), I(PROTOCOL, SAME), I(SCHEME, SAME),
    I(TOTAL_TIME_T, TIME), I(NAMELOOKUP_TIME_T, NOCONN), I(CONNECT_TIME_T, NOCONN),
    I(PRETRANSFER_TIME_T, NOCONN), I(RETRY_AFTER, SAME), I(EFFECTIVE_METHOD, SAME), I(PROXY_ERROR, SAME),
    I(REFERER, SAME), I(CAINFO, SAME), I(CAPATH, SAME),
};

/* Headers the mock sends that differ on every call: never recorded, so absent from a hit. */
static const char *const volatile_headers[] = {"date", "set-cookie", "x-request-id", "x-ratelimit-remaining-requests",
                                               "openai-processing-ms", "retry-after", NULL};

static size_t sink(char *p, size_t s, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return s * n;
}

/* One value as text; *num: as a number for TIME and POSITIVE rows. */
static void value(CURL *c, CURLINFO info, char *out, size_t size, double *num) {
    *num = 0;
    CURLcode rc;
    switch (info & CURLINFO_TYPEMASK) {
    case CURLINFO_STRING: {
        char *s = NULL;
        rc = curl_easy_getinfo(c, info, &s);
        snprintf(out, size, "rc=%d %s%s", rc, s ? "\"" : "", s ? s : "(null)");
        break;
    }
    case CURLINFO_LONG: {
        long l = -12345;
        rc = curl_easy_getinfo(c, info, &l);
        snprintf(out, size, "rc=%d %ld", rc, l);
        *num = (double)l;
        break;
    }
    case CURLINFO_DOUBLE: {
        double d = -12345;
        rc = curl_easy_getinfo(c, info, &d);
        snprintf(out, size, "rc=%d %.0f", rc, d);
        *num = d;
        break;
    }
    case CURLINFO_OFF_T: {
        curl_off_t o = -12345;
        rc = curl_easy_getinfo(c, info, &o);
        snprintf(out, size, "rc=%d %lld", rc, (long long)o);
        *num = (double)o;
        break;
    }
    case CURLINFO_SOCKET: {
        curl_socket_t s = -12345;
        rc = curl_easy_getinfo(c, info, &s);
        snprintf(out, size, "rc=%d %d", rc, (int)s);
        *num = s;
        break;
    }
    default: { /* lists and structures: what they hold, not where */
        void *p = NULL;
        rc = curl_easy_getinfo(c, info, &p);
        if (info == CURLINFO_CERTINFO) {
            snprintf(out, size, "rc=%d certs=%d", rc, p ? ((struct curl_certinfo *)p)->num_of_certs : -1);
        } else if (info == CURLINFO_TLS_SSL_PTR || info == CURLINFO_TLS_SESSION) {
            struct curl_tlssessioninfo *t = p;
            snprintf(out, size, "rc=%d backend=%d internals=%s", rc, t ? (int)t->backend : -1,
                     t && t->internals ? "set" : "null");
        } else {
            snprintf(out, size, "rc=%d %s", rc, p ? "list" : "(null)");
            curl_slist_free_all(p);
        }
    }
    }
}

/* What a transfer answered without a connection reports (lib/getinfo.c Curl_initinfo). */
static int no_connection(const char *v) {
    return !strcmp(v, "rc=0 0") || !strcmp(v, "rc=0 -1") || !strcmp(v, "rc=0 \"");
}

static CURLcode post(CURL *c, const char *url, const char *body, struct curl_slist *hdrs) {
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)"mine");
    return curl_easy_perform(c);
}

static int is_volatile(const char *name) {
    for (const char *const *v = volatile_headers; *v; v++)
        if (!strcasecmp(*v, name)) return 1;
    return 0;
}

/* The header API: every header of the live answer is on the hit with its value, or is one
 * that is never recorded and then absent (never the previous transfer's). */
static int headers(CURL *live, CURL *hit, int after_429, int live_only) {
    int failed = 0, n = 0;
    struct curl_header *h = NULL, *o;
    while ((h = curl_easy_nextheader(live, CURLH_HEADER, -1, h))) {
        n++;
        char name[128], val[512];
        snprintf(name, sizeof(name), "%s", h->name);
        snprintf(val, sizeof(val), "%s", h->value);
        size_t amount = h->amount;
        CURLHcode rc = curl_easy_header(hit, name, 0, CURLH_HEADER, -1, &o);
        if (live_only) { /* two live answers: the same names */
            if (rc != CURLHE_OK) {
                printf("FAIL header %s: rc %d on the second live answer\n", name, rc);
                failed++;
            }
        } else if (is_volatile(name)) {
            if (rc != CURLHE_MISSING && (rc != CURLHE_OK || strcmp(o->value, val) != 0)) {
                printf("FAIL header %s: hit has [%s] (rc %d)\n", name, rc == CURLHE_OK ? o->value : "", rc);
                failed++;
            }
        } else if (rc != CURLHE_OK || strcmp(o->value, val) != 0 || o->amount != amount) {
            printf("FAIL header %s: live [%s], hit rc %d [%s]\n", name, val, rc, rc == CURLHE_OK ? o->value : "");
            failed++;
        }
    }
    /* the 429's own headers must not show through */
    const char *gone[] = {"retry-after", "x-request-id", NULL};
    for (int i = 0; after_429 && gone[i]; i++) {
        CURLHcode rc = curl_easy_header(live, gone[i], 0, CURLH_HEADER, -1, &o);
        if (rc == CURLHE_OK && !strcmp(gone[i], "retry-after")) {
            printf("FAIL header %s on the live answer: the mock sends none on a 200\n", gone[i]);
            failed++;
        }
        rc = curl_easy_header(hit, gone[i], 0, CURLH_HEADER, -1, &o);
        if (rc == CURLHE_OK && !live_only && (!strcmp(o->value, "7") || !strncmp(o->value, "req_", 4))) {
            printf("FAIL header %s: the hit shows the 429's [%s]\n", gone[i], o->value);
            failed++;
        }
    }
    int hn = 0;
    for (h = NULL; (h = curl_easy_nextheader(hit, CURLH_HEADER, -1, h));) hn++;
    printf("%s headers live %d hit %d\n", failed ? "FAIL" : "ok", n, hn);
    return failed + (hn == 0);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *url = argv[1];
    int after_429 = 0, live_only = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--after-429")) after_429 = 1;
        if (!strcmp(argv[i], "--live")) live_only = 1;
    }
    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"table\"}]}";
    const char *other = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"busy\"}]}";
    struct curl_slist *json = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *busy = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"),
                                                "X-Mock-Status: 429");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *a = curl_easy_init(), *b = curl_easy_init();
    if (after_429) {
        post(a, url, other, busy);
        post(b, url, other, busy);
        long code = 0;
        curl_easy_getinfo(b, CURLINFO_RESPONSE_CODE, &code);
        printf("before: %ld\n", code);
    }
    CURLcode ra = post(a, url, body, json);
    CURLcode rb = post(b, url, body, json);
    printf("rc live %d hit %d\n", ra, rb);
    int failed = 0, n = 0;
    char va[600], vb[600];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        double na, nb;
        value(a, r->info, va, sizeof(va), &na);
        value(b, r->info, vb, sizeof(vb), &nb);
        int ok;
        switch (r->rule) {
        case SAME: ok = !strcmp(va, vb); break;
        case NOCONN: ok = live_only || no_connection(vb); break;
        case TIME: ok = !strncmp(vb, "rc=0 ", 5) && nb >= 0; break;
        default: ok = !strncmp(vb, "rc=0 ", 5) && nb > 0; break;
        }
        n++;
        if (ok) printf("ok %s\n", r->name);
        else {
            printf("FAIL %s: live [%s] hit [%s]\n", r->name, va, vb);
            failed++;
        }
    }
    failed += headers(a, b, after_429, live_only);
    printf("rows %d failed %d\n", n, failed);
    curl_easy_cleanup(a);
    curl_easy_cleanup(b);
    curl_slist_free_all(json);
    curl_slist_free_all(busy);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
