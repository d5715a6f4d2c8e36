/* What a program can ask about a transfer llmshim answered: curl_easy_getinfo and the header API
 * (curl_easy_header, curl_easy_nextheader). libcurl would answer from its own state, which still
 * holds the previous transfer's (a 429's Retry-After and request id). Every value is the
 * recorded one, the one a transfer answered from the cache truly has (no connection, nothing
 * sent), or libcurl's "unknown" for a handle that made no transfer (lib/getinfo.c
 * Curl_initinfo). Only what belongs to the handle rather than the transfer goes to libcurl:
 * PRIVATE, REFERER, CA paths, cookies, SSL engines, TLS session, RTSP and FTP state. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hook.h"

void info_clear(struct hk_handle *h) {
    free(h->r_content_type);
    free(h->r_url);
    free(h->r_method);
    free(h->r_hdrs);
    free(h->r_hdrbuf);
    h->r_content_type = h->r_url = h->r_method = h->r_hdrbuf = NULL;
    h->r_hdrs = NULL;
    h->r_nhdrs = h->r_hvisible = 0;
    h->replayed = 0;
}

void info_unanswered(struct hk_handle *h, const char *url, const char *method) {
    info_clear(h);
    h->r_url = url ? strdup(url) : NULL;
    h->r_method = method ? strdup(method) : NULL;
    if ((url && !h->r_url) || (method && !h->r_method)) {
        info_clear(h); /* no memory: libcurl answers, as before */
        return;
    }
    h->replayed = 1;
    h->r_status = 0;
    h->r_http_version = CURL_HTTP_VERSION_NONE;
    h->r_scheme = url && !strncasecmp(url, "https:", 6) ? "HTTPS" : "HTTP";
    h->r_size = h->r_upload = h->r_time_us = h->r_start_us = 0;
    h->r_length = -1;
    h->r_header_size = 0;
}

int info_headers(struct hk_handle *h, const char *block, size_t len, int pseudo_status) {
    size_t n = 1; /* a line per '\n' at most, and ":status" */
    for (size_t i = 0; i < len; i++) n += block[i] == '\n';
    char *copy = malloc(len + 1 + 4); /* the block, then ":status"'s three digits */
    struct hk_hdr *v = calloc(n, sizeof(*v));
    if (!copy || !v) {
        free(copy);
        free(v);
        return -1;
    }
    memcpy(copy, block, len);
    copy[len] = '\0';
    size_t k = 0;
    char *p = copy, *end = copy + len;
    int first = 1;
    while (p < end) {
        if (!*p) { /* the NUL after a line, as libcurl hands them */
            p++;
            continue;
        }
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *line = p;
        p = eol < end ? eol + 1 : end;
        char *e = eol;
        while (e > line && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == '\0' || e[-1] == ' ' || e[-1] == '\t')) e--;
        *e = '\0';
        if (first) { /* the status line is no header; HTTP/2 and 3 have a ":status" pseudo-header */
            first = 0;
            if (pseudo_status > 0) {
                static char status[] = ":status";
                char *digits = copy + len + 1;
                int c = pseudo_status % 1000;
                digits[0] = (char)('0' + c / 100);
                digits[1] = (char)('0' + c / 10 % 10);
                digits[2] = (char)('0' + c % 10);
                digits[3] = '\0';
                v[k++] = (struct hk_hdr){status, digits, CURLH_PSEUDO};
            }
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon || line == e) continue;
        *colon = '\0';
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t') val++;
        v[k++] = (struct hk_hdr){line, val, CURLH_HEADER};
    }
    free(h->r_hdrs);
    free(h->r_hdrbuf);
    h->r_hdrs = v;
    h->r_hdrbuf = copy;
    h->r_nhdrs = k;
    h->r_hvisible = 0;
    return 0;
}

static void header_out(struct hk_handle *h, size_t i, size_t index, size_t amount, struct curl_header **hout) {
    struct curl_header *o = &h->r_hout;
    o->name = h->r_hdrs[i].name;
    o->value = h->r_hdrs[i].value;
    o->amount = amount;
    o->index = index;
    o->origin = h->r_hdrs[i].type | (1u << 27); /* the reserved bit libcurl sets too */
    o->anchor = &h->r_hdrs[i];
    *hout = o;
}

/* lib/headers.c curl_easy_header, over the headers delivered so far (one request: 0 or -1). */
CURLHcode info_header(struct hk_handle *h, const char *name, size_t nameindex, unsigned int type, int request,
                      struct curl_header **hout) {
    if (!name || !hout || !type || request < -1 ||
        type > (CURLH_HEADER | CURLH_TRAILER | CURLH_CONNECT | CURLH_1XX | CURLH_PSEUDO))
        return CURLHE_BAD_ARGUMENT;
    if (!h->r_hvisible) return CURLHE_NOHEADERS;
    if (request > 0) return CURLHE_NOREQUEST;
    size_t amount = 0, pick = 0;
    for (size_t i = 0; i < h->r_hvisible; i++)
        if ((h->r_hdrs[i].type & type) && !strcasecmp(h->r_hdrs[i].name, name)) {
            if (amount == nameindex) pick = i;
            amount++;
        }
    if (!amount) return CURLHE_MISSING;
    if (nameindex >= amount) return CURLHE_BADINDEX;
    header_out(h, pick, nameindex, amount, hout);
    return CURLHE_OK;
}

struct curl_header *info_nextheader(struct hk_handle *h, unsigned int type, int request, struct curl_header *prev) {
    if (request > 0) return NULL;
    size_t i = 0;
    if (prev) {
        const struct hk_hdr *a = prev->anchor;
        if (!a || a < h->r_hdrs || a >= h->r_hdrs + h->r_hvisible) return NULL;
        i = (size_t)(a - h->r_hdrs) + 1;
    }
    while (i < h->r_hvisible && !(h->r_hdrs[i].type & type)) i++;
    if (i >= h->r_hvisible) return NULL;
    size_t amount = 0, index = 0;
    for (size_t j = 0; j < h->r_hvisible; j++)
        if ((h->r_hdrs[j].type & type) && !strcasecmp(h->r_hdrs[j].name, h->r_hdrs[i].name)) {
            if (j == i) index = amount;
            amount++;
        }
    struct curl_header *o;
    header_out(h, i, index, amount, &o);
    return o;
}

int replay_getinfo(struct hk_handle *h, CURLINFO info, void *arg) {
    static struct curl_certinfo no_certs; /* no connection, no certificate */
    double secs = (double)h->r_time_us / 1e6;
    curl_off_t speed = h->r_time_us > 0 ? h->r_size * 1000000 / h->r_time_us : 0;
    switch (info) {
    /* the recorded answer */
    case CURLINFO_RESPONSE_CODE: *(long *)arg = h->r_status; return 1;
    case CURLINFO_HTTP_VERSION: *(long *)arg = h->r_http_version; return 1;
    case CURLINFO_CONTENT_TYPE: *(char **)arg = h->r_content_type; return 1;
    case CURLINFO_RETRY_AFTER: *(curl_off_t *)arg = 0; return 1; /* Retry-After is never recorded */
    case CURLINFO_FILETIME: *(long *)arg = -1; return 1;
    case CURLINFO_FILETIME_T: *(curl_off_t *)arg = -1; return 1;
    case CURLINFO_CONDITION_UNMET: *(long *)arg = 0; return 1;
    case CURLINFO_HEADER_SIZE: *(long *)arg = h->r_header_size; return 1;
    case CURLINFO_SIZE_DOWNLOAD: *(double *)arg = (double)h->r_size; return 1;
    case CURLINFO_SIZE_DOWNLOAD_T: *(curl_off_t *)arg = h->r_size; return 1;
    case CURLINFO_CONTENT_LENGTH_DOWNLOAD: *(double *)arg = (double)h->r_length; return 1;
    case CURLINFO_CONTENT_LENGTH_DOWNLOAD_T: *(curl_off_t *)arg = h->r_length; return 1;
    case CURLINFO_SPEED_DOWNLOAD: *(double *)arg = (double)speed; return 1;
    case CURLINFO_SPEED_DOWNLOAD_T: *(curl_off_t *)arg = speed; return 1;
    /* the request as the program made it */
    case CURLINFO_EFFECTIVE_URL: *(char **)arg = h->r_url; return 1;
    case CURLINFO_EFFECTIVE_METHOD: *(char **)arg = h->r_method; return 1;
    case CURLINFO_SCHEME: *(const char **)arg = h->r_scheme; return 1;
    case CURLINFO_PROTOCOL: *(long *)arg = h->r_scheme[4] ? CURLPROTO_HTTPS : CURLPROTO_HTTP; return 1;
    case CURLINFO_SIZE_UPLOAD: *(double *)arg = (double)h->r_upload; return 1;
    case CURLINFO_SIZE_UPLOAD_T: *(curl_off_t *)arg = h->r_upload; return 1;
    case CURLINFO_CONTENT_LENGTH_UPLOAD: *(double *)arg = (double)h->r_upload; return 1;
    case CURLINFO_CONTENT_LENGTH_UPLOAD_T: *(curl_off_t *)arg = h->r_upload; return 1;
    case CURLINFO_SPEED_UPLOAD: *(double *)arg = 0; return 1;
    case CURLINFO_SPEED_UPLOAD_T: *(curl_off_t *)arg = 0; return 1;
    /* what a transfer answered from the cache has: no connection, no request on the wire */
    case CURLINFO_REQUEST_SIZE: *(long *)arg = 0; return 1;
    case CURLINFO_TOTAL_TIME: *(double *)arg = secs; return 1;
    case CURLINFO_TOTAL_TIME_T: *(curl_off_t *)arg = h->r_time_us; return 1;
    case CURLINFO_STARTTRANSFER_TIME: *(double *)arg = (double)h->r_start_us / 1e6; return 1;
    case CURLINFO_STARTTRANSFER_TIME_T: *(curl_off_t *)arg = h->r_start_us; return 1;
    case CURLINFO_NAMELOOKUP_TIME: case CURLINFO_CONNECT_TIME: case CURLINFO_APPCONNECT_TIME:
    case CURLINFO_PRETRANSFER_TIME: case CURLINFO_REDIRECT_TIME: *(double *)arg = 0; return 1;
    case CURLINFO_NAMELOOKUP_TIME_T: case CURLINFO_CONNECT_TIME_T: case CURLINFO_APPCONNECT_TIME_T:
    case CURLINFO_PRETRANSFER_TIME_T: case CURLINFO_REDIRECT_TIME_T: *(curl_off_t *)arg = 0; return 1;
    case CURLINFO_REDIRECT_COUNT: case CURLINFO_NUM_CONNECTS: case CURLINFO_OS_ERRNO:
    case CURLINFO_HTTP_CONNECTCODE: case CURLINFO_HTTPAUTH_AVAIL: case CURLINFO_PROXYAUTH_AVAIL:
    case CURLINFO_PRIMARY_PORT: case CURLINFO_LOCAL_PORT: case CURLINFO_PROXY_ERROR:
    case CURLINFO_SSL_VERIFYRESULT: case CURLINFO_PROXY_SSL_VERIFYRESULT: *(long *)arg = 0; return 1;
    case CURLINFO_LASTSOCKET: *(long *)arg = -1; return 1;
    case CURLINFO_ACTIVESOCKET: *(curl_socket_t *)arg = CURL_SOCKET_BAD; return 1;
    case CURLINFO_PRIMARY_IP: case CURLINFO_LOCAL_IP: *(const char **)arg = ""; return 1;
    case CURLINFO_REDIRECT_URL: *(char **)arg = NULL; return 1;
    case CURLINFO_CERTINFO: *(struct curl_certinfo **)arg = &no_certs; return 1;
    default: return 0;
    }
}
