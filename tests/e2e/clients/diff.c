/* diff: runs a script of libcurl steps and prints one line per finished transfer, so that a run
 * under llmshim can be compared with a run on plain libcurl (tests/e2e/test_differential.sh).
 *
 *   diff SCRIPT                                     steps from SCRIPT, one per line
 *   diff --random SEED --sequences K --steps N      K generated sequences of about N steps each
 *
 * The mocks: $MOCK_PORT (mock 1) and $MOCK2_PORT (mock 2), tools/mockllm.py on 127.0.0.1.
 * Random mode prints each sequence first, as "#= sequence I seed S" and one "# STEP" line per
 * step (`sed -n 's/^# //p'` gives a script that replays it), then runs it. Every sequence
 * starts with no handle and ends with every handle cleaned up.
 *
 * Steps (H, NEW: handle names such as h1; PROMPT: one word; '#' starts a comment line):
 *   new H                 curl_easy_init
 *   url H WHERE           llm1 | llm2: http://127.0.0.1:<mock 1|2>/v1/chat/completions
 *                         plain1 | plain2: .../plain (not an LLM endpoint)
 *   fields H PROMPT       POSTFIELDS -> a new harness buffer holding a chat request for PROMPT;
 *                         the previous buffer is scribbled over and freed (unless another
 *                         handle, made by dup, still points at it)
 *   edit H PROMPT         rewrites H's POSTFIELDS buffer in place (same pointer; no-op without one,
 *                         and from a callback when another handle shares the buffer: that other
 *                         handle may be sending it at that moment in the same multi run)
 *   copy H PROMPT         COPYPOSTFIELDS from a temporary buffer, scribbled and freed at once
 *   post H 0|1            CURLOPT_POST             httpget H        CURLOPT_HTTPGET 1
 *   method H VERB|-       CURLOPT_CUSTOMREQUEST (e.g. post, POST; - = NULL)
 *   follow H 0|1          CURLOPT_FOLLOWLOCATION   postredir H N    CURLOPT_POSTREDIR
 *   redirect H CODE|0     request header X-Mock-Redirect: CODE (0 = none)
 *   status H CODE|0       request header X-Mock-Status: CODE (0 = none)
 *   port H 2|0            CURLOPT_PORT = mock 2's port (0 = the URL's)
 *   connectonly H 0|1     CURLOPT_CONNECT_ONLY
 *   reset H               curl_easy_reset        dup H NEW     curl_easy_duphandle into NEW
 *                         (libcurl 7.88 mallocs (size_t)-1 to dup a COPYPOSTFIELDS body without
 *                         POSTFIELDSIZE: then the line "A H dup skipped" and NEW a new handle)
 *   perform H             curl_easy_perform      cleanup H     curl_easy_cleanup
 *   add H / remove H      curl_multi_add_handle / curl_multi_remove_handle (one multi handle;
 *                         an error prints the line "A H add|remove mc=N")
 *   run                   curl_multi_perform + curl_multi_poll until no transfer runs (20 s max)
 *   defer KIND STEP       runs STEP (one of the option steps above, url .. port) from inside a
 *                         callback of STEP's handle, KIND = progress (XFERINFOFUNCTION), write or
 *                         header: on the first call after this line, once. libcurl calls the
 *                         progress callback first before it sends the request, but after it took
 *                         the body's length: keep the prompts of a script one length.
 * Every handle always has a write, header, read (empty body) and xferinfo callback, an error
 * buffer and the User-Agent diff-PID-H (the mocks count requests per User-Agent); they are set again
 * after reset and dup.
 *
 * Output, one line per transfer (a multi run prints its transfers when it ends, in order of T):
 *   T7 h2 easy rc=0 code=200 saw=<m1 POST /v1/chat/completions 1a2b3c4d5e6f 87> body=9f0c11aa/312
 *      def=- err=- cache=HIT net=0
 * saw: X-Mock-Saw of the last response (its port as m1/m2), or -; body: FNV-1a and length of the
 * body with ASCII digits left out (the mock numbers its answers); def: the callbacks whose
 * deferred step ran during the transfer; err: the error buffer's first word when rc != 0;
 * cache: X-LLMShim-Cache (only llmshim adds it); net: requests the mocks counted from this
 * handle during the transfer. Nothing else varies between two runs of a script. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAXH 16
#define BODY_CAP 512
enum { D_PROGRESS, D_WRITE, D_HEADER, D_KINDS };
static const char *const dkind[D_KINDS] = {"progress", "write", "header"};

struct body { int refs; char *p; };

struct hnd {
    char name[16];
    char ua[48];
    CURL *e;
    struct body *buf;          /* the harness buffer POSTFIELDS points at, or NULL */
    int redirect, status;      /* the steering headers set on the handle */
    int copied;                /* the body is libcurl's COPYPOSTFIELDS copy */
    char *def[D_KINDS];        /* deferred steps */
    int in_multi, active, tid, fired;
    CURLcode rc;
    char saw[256], cache[32], err[CURL_ERROR_SIZE];
    uint32_t fnv;
    size_t blen;
    long net;
};

static struct hnd *H[MAXH];
static CURLM *multi;
static long ports[2];
static int ntid;
static struct curl_slist *lists[4096]; /* header lists libcurl may still point at */
static int nlists;

static void fail(const char *what, const char *line) {
    fprintf(stderr, "diff: %s: %s\n", what, line);
    exit(2);
}

/* ---- the mocks' request counts per User-Agent ------------------------------------------------ */

static CURL *admin;
struct text { char *p; size_t n; };

static size_t on_text(char *p, size_t size, size_t n, void *ud) {
    struct text *t = ud;
    char *q = realloc(t->p, t->n + size * n + 1);
    if (!q) return 0;
    memcpy(q + t->n, p, size * n);
    t->p = q;
    t->n += size * n;
    q[t->n] = '\0';
    return size * n;
}

/* GET /__count?ua=1 on both mocks: a private handle, not an LLM call. */
static void snapshot(char *out[2]) {
    for (int i = 0; i < 2; i++) {
        char url[128];
        struct text t = {NULL, 0};
        snprintf(url, sizeof(url), "http://127.0.0.1:%ld/__count?ua=1", ports[i]);
        curl_easy_setopt(admin, CURLOPT_URL, url);
        curl_easy_setopt(admin, CURLOPT_WRITEDATA, &t);
        if (curl_easy_perform(admin) != CURLE_OK || !t.p) fail("mock not reachable", url);
        out[i] = t.p;
    }
}

static long ua_count(const char *json, const char *ua) {
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", ua);
    const char *p = strstr(json, key);
    return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

static void free_snapshot(char *s[2]) { free(s[0]); free(s[1]); }

/* ---- handles --------------------------------------------------------------------------------- */

static struct hnd *find(const char *name, const char *line) {
    for (int i = 0; i < MAXH; i++)
        if (H[i] && !strcmp(H[i]->name, name)) return H[i];
    fail("no such handle", line);
    return NULL;
}

static void release(struct hnd *h) {
    struct body *b = h->buf;
    h->buf = NULL;
    if (!b || --b->refs > 0) return;
    memset(b->p, 'X', BODY_CAP - 1); /* a reader of the stale pointer sees garbage, or ASan */
    free(b->p);
    free(b);
}

static void chat(char *dst, size_t cap, const char *prompt) {
    snprintf(dst, cap, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", prompt);
}

static void fire(struct hnd *h, int kind);

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
    struct hnd *h = ud;
    for (size_t i = 0; i < size * n; i++) {
        if (p[i] >= '0' && p[i] <= '9') continue;
        h->fnv = (h->fnv ^ (unsigned char)p[i]) * 16777619u;
        h->blen++;
    }
    fire(h, D_WRITE);
    return size * n;
}

static void header_value(char *dst, size_t cap, const char *p, size_t n, size_t skip) {
    p += skip;
    n -= skip;
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ')) n--;
    snprintf(dst, cap, "%.*s", (int)n, p);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct hnd *h = ud;
    size_t len = size * n;
    if (len >= 5 && !memcmp(p, "HTTP/", 5)) { /* a new response: only the last one counts */
        strcpy(h->saw, "-");
        strcpy(h->cache, "-");
    } else if (len > 11 && !strncasecmp(p, "x-mock-saw:", 11)) {
        char v[256], rest[240];
        long port = 0;
        header_value(v, sizeof(v), p, len, 11);
        if (sscanf(v, "%ld %239[^\n]", &port, rest) == 2) {
            if (port == ports[0] || port == ports[1]) snprintf(h->saw, sizeof(h->saw), "m%d %s", port == ports[0] ? 1 : 2, rest);
            else snprintf(h->saw, sizeof(h->saw), "%s", v);
        }
    } else if (len > 16 && !strncasecmp(p, "x-llmshim-cache:", 16)) {
        header_value(h->cache, sizeof(h->cache), p, len, 16);
    }
    fire(h, D_HEADER);
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud) {
    (void)p; (void)size; (void)n; (void)ud;
    return 0;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt; (void)dn; (void)ut; (void)un;
    fire(ud, D_PROGRESS);
    return 0;
}

/* What every handle always has; after init, reset and dup. */
static void install(struct hnd *h) {
    CURL *e = h->e;
    snprintf(h->ua, sizeof(h->ua), "diff-%ld-%s", (long)getpid(), h->name);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->err);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->ua);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
}

static struct hnd *add_hnd(const char *name, CURL *e, const char *line) {
    int slot = -1;
    for (int i = 0; i < MAXH; i++) {
        if (H[i] && !strcmp(H[i]->name, name)) fail("handle exists", line);
        if (!H[i] && slot < 0) slot = i;
    }
    if (slot < 0 || strlen(name) >= sizeof(H[0]->name) || !e) fail("cannot make handle", line);
    struct hnd *h = calloc(1, sizeof(*h));
    if (!h) fail("out of memory", line);
    snprintf(h->name, sizeof(h->name), "%s", name);
    h->e = e;
    install(h);
    H[slot] = h;
    return h;
}

static void set_headers(struct hnd *h) {
    struct curl_slist *l = NULL;
    char v[64];
    if (h->redirect) {
        snprintf(v, sizeof(v), "X-Mock-Redirect: %d", h->redirect);
        l = curl_slist_append(l, v);
    }
    if (h->status) {
        snprintf(v, sizeof(v), "X-Mock-Status: %d", h->status);
        l = curl_slist_append(l, v);
    }
    if (l) {
        if (nlists == (int)(sizeof(lists) / sizeof(lists[0]))) fail("too many header lists", h->name);
        lists[nlists++] = l;
    }
    curl_easy_setopt(h->e, CURLOPT_HTTPHEADER, l);
}

static void begin(struct hnd *h) {
    h->tid = ++ntid;
    h->fired = 0;
    h->fnv = 2166136261u;
    h->blen = 0;
    h->err[0] = '\0';
    strcpy(h->saw, "-");
    strcpy(h->cache, "-");
}

static char *line_of(struct hnd *h, const char *how) {
    long code = 0;
    char def[32] = "", err[64] = "-";
    curl_easy_getinfo(h->e, CURLINFO_RESPONSE_CODE, &code);
    for (int k = 0; k < D_KINDS; k++)
        if (h->fired & (1 << k)) snprintf(def + strlen(def), sizeof(def) - strlen(def), "%s%s", *def ? "," : "", dkind[k]);
    if (h->rc != CURLE_OK && *h->err) snprintf(err, sizeof(err), "%.*s", (int)strcspn(h->err, " \t"), h->err);
    char *out = malloc(640);
    if (!out) fail("out of memory", h->name);
    snprintf(out, 640, "T%d %s %s rc=%d code=%ld saw=<%s> body=%08x/%zu def=%s err=%s cache=%s net=%ld", h->tid,
             h->name, how, (int)h->rc, code, h->saw, (unsigned)h->fnv, h->blen, *def ? def : "-", err, h->cache, h->net);
    return out;
}

/* ---- steps ----------------------------------------------------------------------------------- */

#define MAXTOK 12
static int tokenize(char *s, char **tok) { /* re-entered: a callback runs a deferred step */
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t\r\n", &save); t && n < MAXTOK; t = strtok_r(NULL, " \t\r\n", &save)) tok[n++] = t;
    return n;
}

static void run_multi(void);
static void exec_line(const char *line, int in_callback);

static void fire(struct hnd *h, int kind) {
    char *step = h->def[kind];
    if (!step) return;
    h->def[kind] = NULL;
    h->fired |= 1 << kind;
    exec_line(step, 1);
    free(step);
}

static long num(const char *s, const char *line) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end) fail("not a number", line);
    return v;
}

/* The option steps: those a callback may run too. 1: done, 0: not an option step. */
static int option_step(struct hnd *h, char **tok, int n, const char *line, int in_callback) {
    const char *op = tok[0];
    CURL *e = h->e;
    if (!strcmp(op, "httpget")) return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L), 1;
    if (n != 3) return 0;
    const char *a = tok[2];
    if (!strcmp(op, "url")) {
        int m = !strcmp(a, "llm1") || !strcmp(a, "plain1") ? 0 : !strcmp(a, "llm2") || !strcmp(a, "plain2") ? 1 : -1;
        if (m < 0) fail("url: llm1, llm2, plain1 or plain2", line);
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%ld%s", ports[m], !strncmp(a, "llm", 3) ? "/v1/chat/completions" : "/plain");
        curl_easy_setopt(e, CURLOPT_URL, url);
    } else if (!strcmp(op, "fields")) {
        struct body *b = calloc(1, sizeof(*b));
        if (!b || !(b->p = calloc(1, BODY_CAP))) fail("out of memory", line);
        b->refs = 1;
        chat(b->p, BODY_CAP, a);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, b->p);
        release(h);
        h->buf = b;
        h->copied = 0;
    } else if (!strcmp(op, "edit")) {
        if (h->buf && (!in_callback || h->buf->refs == 1)) chat(h->buf->p, BODY_CAP, a);
    } else if (!strcmp(op, "copy")) {
        char *tmp = malloc(BODY_CAP);
        if (!tmp) fail("out of memory", line);
        chat(tmp, BODY_CAP, a);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, tmp);
        memset(tmp, 'Y', BODY_CAP - 1);
        free(tmp);
        release(h);
        h->copied = 1;
    } else if (!strcmp(op, "post")) {
        curl_easy_setopt(e, CURLOPT_POST, num(a, line));
    } else if (!strcmp(op, "method")) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(a, "-") ? a : NULL);
    } else if (!strcmp(op, "follow")) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, num(a, line));
    } else if (!strcmp(op, "postredir")) {
        curl_easy_setopt(e, CURLOPT_POSTREDIR, num(a, line));
    } else if (!strcmp(op, "redirect") || !strcmp(op, "status")) {
        *(op[0] == 'r' ? &h->redirect : &h->status) = (int)num(a, line);
        set_headers(h);
    } else if (!strcmp(op, "port")) {
        long p = num(a, line);
        curl_easy_setopt(e, CURLOPT_PORT, p == 2 ? ports[1] : p == 0 ? 0L : p);
    } else if (!strcmp(op, "connectonly")) {
        curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, num(a, line));
    } else {
        return 0;
    }
    return 1;
}

static void cleanup(struct hnd *h) {
    for (int i = 0; i < MAXH; i++)
        if (H[i] == h) H[i] = NULL;
    if (h->in_multi) curl_multi_remove_handle(multi, h->e);
    curl_easy_cleanup(h->e);
    release(h);
    for (int k = 0; k < D_KINDS; k++) free(h->def[k]);
    free(h);
}

static void exec_line(const char *line, int in_callback) {
    char copy[512], *tok[MAXTOK];
    snprintf(copy, sizeof(copy), "%s", line);
    int n = tokenize(copy, tok);
    if (n == 0 || tok[0][0] == '#') return;
    const char *op = tok[0];
    if (!strcmp(op, "run") && n == 1 && !in_callback) return run_multi();
    if (n < 2) fail("bad step", line);
    if (!strcmp(op, "defer") && !in_callback) {
        int k = 0;
        while (k < D_KINDS && strcmp(tok[1], dkind[k])) k++;
        if (k == D_KINDS || n < 4) fail("defer progress|write|header STEP", line);
        struct hnd *h = find(tok[3], line);
        char step[512] = "";
        for (int i = 2; i < n; i++) snprintf(step + strlen(step), sizeof(step) - strlen(step), "%s%s", i > 2 ? " " : "", tok[i]);
        free(h->def[k]);
        if (!(h->def[k] = strdup(step))) fail("out of memory", line);
        return;
    }
    if (!strcmp(op, "new") && n == 2 && !in_callback) {
        add_hnd(tok[1], curl_easy_init(), line);
        return;
    }
    struct hnd *h = find(tok[1], line);
    if (option_step(h, tok, n, line, in_callback)) return;
    if (in_callback) fail("not an option step", line);
    if (!strcmp(op, "reset") && n == 2) {
        curl_easy_reset(h->e);
        release(h);
        h->redirect = h->status = h->copied = 0;
        install(h);
    } else if (!strcmp(op, "dup") && n == 3) {
        if (h->copied) {
            printf("A %s dup skipped\n", h->name);
            add_hnd(tok[2], curl_easy_init(), line);
            return;
        }
        struct hnd *d = add_hnd(tok[2], curl_easy_duphandle(h->e), line);
        d->buf = h->buf; /* libcurl copied the pointer, not the bytes */
        if (d->buf) d->buf->refs++;
        d->redirect = h->redirect;
        d->status = h->status;
    } else if (!strcmp(op, "perform") && n == 2) {
        char *s0[2], *s1[2];
        snapshot(s0);
        begin(h);
        h->rc = curl_easy_perform(h->e);
        snapshot(s1);
        h->net = ua_count(s1[0], h->ua) + ua_count(s1[1], h->ua) - ua_count(s0[0], h->ua) - ua_count(s0[1], h->ua);
        char *out = line_of(h, "easy");
        puts(out);
        free(out);
        free_snapshot(s0);
        free_snapshot(s1);
    } else if (!strcmp(op, "add") && n == 2) {
        CURLMcode mc = curl_multi_add_handle(multi, h->e);
        if (mc != CURLM_OK) printf("A %s add mc=%d\n", h->name, (int)mc);
        h->in_multi = mc == CURLM_OK;
        h->active = h->in_multi;
        if (h->active) begin(h);
    } else if (!strcmp(op, "remove") && n == 2) {
        CURLMcode mc = curl_multi_remove_handle(multi, h->e);
        if (mc != CURLM_OK) printf("A %s remove mc=%d\n", h->name, (int)mc);
        h->in_multi = h->active = 0;
    } else if (!strcmp(op, "cleanup") && n == 2) {
        cleanup(h);
    } else {
        fail("unknown step", line);
    }
}

static int by_tid(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return atoi(x + 1) - atoi(y + 1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_multi(void) {
    char *s0[2], *s1[2], *out[MAXH];
    int nout = 0, running = 0;
    snapshot(s0);
    double deadline = now_s() + 20;
    do {
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            for (int i = 0; i < MAXH; i++)
                if (H[i] && H[i]->e == msg->easy_handle && H[i]->active) {
                    H[i]->rc = msg->data.result;
                    H[i]->active = 2; /* done */
                }
        }
        if (!running) break;
        curl_multi_poll(multi, NULL, 0, 200, NULL);
    } while (now_s() < deadline);
    snapshot(s1);
    for (int i = 0; i < MAXH; i++) {
        struct hnd *h = H[i];
        if (!h || !h->active) continue;
        if (h->active != 2) h->rc = (CURLcode)-1; /* never finished */
        h->active = 0;
        h->net = ua_count(s1[0], h->ua) + ua_count(s1[1], h->ua) - ua_count(s0[0], h->ua) - ua_count(s0[1], h->ua);
        out[nout++] = line_of(h, "multi");
    }
    qsort(out, (size_t)nout, sizeof(out[0]), by_tid);
    for (int i = 0; i < nout; i++) {
        puts(out[i]);
        free(out[i]);
    }
    free_snapshot(s0);
    free_snapshot(s1);
}

static void end_sequence(void) {
    for (int i = 0; i < MAXH; i++)
        if (H[i]) cleanup(H[i]);
    for (int i = 0; i < nlists; i++) curl_slist_free_all(lists[i]);
    nlists = 0;
}

/* ---- random sequences: diff_gen.h (gen_run) ---------------------------------------------------- */
#include "diff_gen.h"

int main(int argc, char **argv) {
    const char *p1 = getenv("MOCK_PORT"), *p2 = getenv("MOCK2_PORT");
    if (!p1 || !p2) {
        fprintf(stderr, "diff: set MOCK_PORT and MOCK2_PORT\n");
        return 2;
    }
    ports[0] = atol(p1);
    ports[1] = atol(p2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    admin = curl_easy_init();
    curl_easy_setopt(admin, CURLOPT_WRITEFUNCTION, on_text);
    curl_easy_setopt(admin, CURLOPT_NOSIGNAL, 1L);
    int rc = 0;
    if (argc == 7 && !strcmp(argv[1], "--random") && !strcmp(argv[3], "--sequences") && !strcmp(argv[5], "--steps")) {
        rc = gen_run(strtoull(argv[2], NULL, 10), atoi(argv[4]), atoi(argv[6]));
    } else if (argc == 2) {
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            perror(argv[1]);
            return 2;
        }
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) exec_line(line, 0);
        free(line);
        fclose(f);
        end_sequence();
    } else {
        fprintf(stderr, "usage: diff SCRIPT | diff --random SEED --sequences K --steps N\n");
        rc = 2;
    }
    curl_easy_cleanup(admin);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return rc;
}
