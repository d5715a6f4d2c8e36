/* Unit tests for TLS in the Redis store (src/redis_tls.c, src/redis_tls_conf.c) against real
 * redis-servers with a TLS port, started here on loopback, and a test PKI made by
 * tests/redis_certs.sh (openssl). Run from the repository root (make check does). Without
 * redis-server or openssl every test that needs them is skipped, saying why. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <bearssl.h>

#include "redis_server.h"
#include "buf.h"
#include "redis_tls.h"
#include "redis_tls_int.h"
#include "store.h"
#include "store_redis_io.h"

static char certs[64];       /* the test PKI */
static struct server tls_srv; /* TLS port with server.pem, no client certificates asked */
static struct server own_srv; /* a test's own server, stopped by teardown even when it fails */
static const char *no_tls;    /* why the tests that need servers are skipped, or NULL */

#define NEED_TLS() do { if (no_tls) { fprintf(stderr, "skipped: %s\n", no_tls); skip(); } } while (0)

static const char *cert(const char *name) {
    static char path[8][160];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 160, "%s/%s", certs, name);
    return p;
}

static int group_setup(void **state) {
    (void)state;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE from the store must kill us, not pass unseen */
    strcpy(certs, "/tmp/llmshim-certs.XXXXXX");
    char cmdline[200];
    if (!mkdtemp(certs)) certs[0] = '\0';
    snprintf(cmdline, sizeof(cmdline), "bash tests/redis_certs.sh %s", certs);
    if (!certs[0]) no_tls = "mkdtemp failed";
    else if (system("command -v redis-server >/dev/null 2>&1") != 0) no_tls = "redis-server is not installed";
    else if (access("tests/redis_certs.sh", R_OK) != 0) no_tls = "run from the repository root (tests/redis_certs.sh)";
    else if (system(cmdline) != 0) no_tls = "tests/redis_certs.sh failed (openssl, faketime)";
    else if (server_start_tls(&tls_srv, NULL, NULL, certs, "server", 0) != 0) no_tls = "redis-server did not start";
    if (no_tls) fprintf(stderr, "test_redis_tls: skipping the tests with servers: %s\n", no_tls);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (tls_srv.pid) server_stop(&tls_srv);
    char cmdline[200];
    snprintf(cmdline, sizeof(cmdline), "rm -rf %s", certs);
    if (certs[0] && system(cmdline) != 0) fprintf(stderr, "could not remove %s\n", certs);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (own_srv.pid) server_stop(&own_srv);
    return 0;
}

static struct server *own_start(const char *certname, int auth) {
    if (server_start_tls(&own_srv, NULL, NULL, certs, certname, auth) != 0) fail_msg("redis-server did not start");
    return &own_srv;
}

/* ---- keys and helpers --------------------------------------------------------------------- */

struct key { char hex[65]; struct store_key k; };

static void key_init(struct key *k, int n) {
    snprintf(k->hex, sizeof(k->hex), "%048x%016x", 0x7150, (unsigned)n);
    k->k.hex = k->hex;
    k->k.name = "unused/by/redis";
}

static struct store *open_tls(const char *url, const char *ca, const char *crt, const char *key, int command_ms) {
    char *err = NULL;
    struct store_redis_opts o = {url, "tls", 500, command_ms, ca, crt, key, NULL};
    struct store *s = store_redis_open(&o, &err);
    if (!s) fail_msg("store_redis_open(%s): %s", url, err ? err : "(no message)");
    return s;
}

static const char *tls_url(const char *host, int port) {
    static char url[128];
    snprintf(url, sizeof(url), strchr(host, ':') ? "rediss://[%s]:%d" : "rediss://%s:%d", host, port);
    return url;
}

static int put_str(struct store *s, int n, const char *v, char **err) {
    struct key k;
    key_init(&k, n);
    return store_put(s, &k.k, v, strlen(v), 0, err);
}

/* get n: -1 (err set), 0, 1 with the value compared to want (mismatch = -2). */
static int get_cmp(struct store *s, int n, const char *want, char **err) {
    struct key k;
    key_init(&k, n);
    struct buf b;
    buf_init(&b);
    int rc = store_get(s, &k.k, 0, &b, err);
    if (rc == 1 && (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)) rc = -2;
    buf_free(&b);
    return rc;
}

/* A get that fails: its message must hold want; returns how long it took (ms). */
static long long get_fails(struct store *s, const char *want) {
    char *err = NULL;
    long long t0 = now_ms();
    int rc = get_cmp(s, 1, "", &err);
    long long took = now_ms() - t0;
    if (rc != -1) fail_msg("get = %d, want a failure (%s)", rc, want);
    if (!err || !strstr(err, want)) fail_msg("error [%s] lacks [%s]", err ? err : "(none)", want);
    free(err);
    return took;
}

static void round_trip(struct store *s, int n) {
    char v[64], *err = NULL;
    snprintf(v, sizeof(v), "value %d over TLS", n);
    if (put_str(s, n, v, &err) != 0) fail_msg("put: %s", err);
    if (get_cmp(s, n, v, &err) != 1) fail_msg("get: %s", err ? err : "another value");
}

/* ---- trust anchors ------------------------------------------------------------------------ */

struct bear { unsigned char der[8192]; size_t len; };
static void to_bear(void *ud, const void *p, size_t n) {
    struct bear *b = ud;
    if (b->len + n <= sizeof(b->der)) memcpy(b->der + b->len, p, n);
    b->len += n;
}

/* Our own PEM and certificate reading must give BearSSL exactly what its decoders give. */
static void anchors_match(const char *file) {
    struct rtls_conf *c = NULL;
    char *err = NULL;
    if (rtls_conf_load(&c, file, NULL, NULL, &err) != 0) fail_msg("%s: %s", file, err);
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    static char text[1 << 21];
    size_t len = fread(text, 1, sizeof(text), f);
    fclose(f);
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    static struct bear der;
    size_t n = 0;
    for (const char *p = text; len;) {
        size_t used = br_pem_decoder_push(&pc, p, len);
        p += used, len -= used;
        int ev = br_pem_decoder_event(&pc);
        if (ev == BR_PEM_BEGIN_OBJ) der.len = 0, br_pem_decoder_setdest(&pc, to_bear, &der);
        if (ev != BR_PEM_END_OBJ) continue;
        br_x509_decoder_context dc;
        struct bear dn = {.len = 0};
        br_x509_decoder_init(&dc, to_bear, &dn);
        br_x509_decoder_push(&dc, der.der, der.len);
        const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
        if (!pk) continue; /* BearSSL cannot use it: we skip it too */
        if (n >= c->nta) fail_msg("%s: only %zu anchors, BearSSL finds more", file, c->nta);
        const br_x509_trust_anchor *ta = &c->ta[n++];
        assert_int_equal(ta->dn.len, dn.len);
        assert_memory_equal(ta->dn.data, dn.der, dn.len);
        assert_int_equal(ta->flags, br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0);
        assert_int_equal(ta->pkey.key_type, pk->key_type);
        if (pk->key_type == BR_KEYTYPE_RSA) {
            assert_int_equal(ta->pkey.key.rsa.nlen, pk->key.rsa.nlen);
            assert_memory_equal(ta->pkey.key.rsa.n, pk->key.rsa.n, pk->key.rsa.nlen);
            assert_int_equal(ta->pkey.key.rsa.elen, pk->key.rsa.elen);
            assert_memory_equal(ta->pkey.key.rsa.e, pk->key.rsa.e, pk->key.rsa.elen);
        } else {
            assert_int_equal(ta->pkey.key.ec.curve, pk->key.ec.curve);
            assert_int_equal(ta->pkey.key.ec.qlen, pk->key.ec.qlen);
            assert_memory_equal(ta->pkey.key.ec.q, pk->key.ec.q, pk->key.ec.qlen);
        }
    }
    assert_int_equal(n, c->nta);
    assert_true(n > 0);
    rtls_conf_free(c);
}

static void test_anchors_match_bearssl(void **state) {
    (void)state;
    if (access(RTLS_SYSTEM_CA, R_OK) == 0) anchors_match(RTLS_SYSTEM_CA);
    NEED_TLS();
    anchors_match(cert("ca.pem"));
    anchors_match(cert("server.pem")); /* not a CA: a pinned certificate */
    anchors_match(cert("other-ca.pem"));
}

/* Every problem with a TLS file is named, with the file, and never shows what is in it. */
static void conf_fails(const char *ca, const char *crt, const char *key, const char *want) {
    struct rtls_conf *c = NULL;
    char *err = NULL;
    if (rtls_conf_load(&c, ca, crt, key, &err) == 0) fail_msg("%s %s %s: loaded", ca, crt, key);
    if (!err || !strstr(err, want)) fail_msg("error [%s] lacks [%s]", err ? err : "(none)", want);
    if (strstr(err, "BEGIN") || strstr(err, "MII")) fail_msg("error shows the file: %s", err);
    free(err);
}

static void test_conf_errors(void **state) {
    (void)state;
    NEED_TLS();
    conf_fails("/nonexistent/ca.pem", NULL, NULL, "LLMSHIM_REDIS_CA /nonexistent/ca.pem: No such file");
    conf_fails("/tmp", NULL, NULL, "not a regular file");
    conf_fails(cert("server.key"), NULL, NULL, "no usable certificate in it");
    conf_fails(cert("ca.pem"), cert("client.key"), cert("client.key"), "LLMSHIM_REDIS_CERT");
    conf_fails(cert("ca.pem"), cert("client.pem"), cert("client.pem"), "no usable private key");
    conf_fails(cert("ca.pem"), cert("client.pem"), cert("client-enc.key"), "encrypted private keys are not supported");
    conf_fails(cert("ca.pem"), cert("client.pem"), cert("client-ec.key"), "is an EC key but the certificate");
    struct rtls_conf *c = NULL;
    assert_int_equal(rtls_conf_load(&c, cert("ca.pem"), cert("client-ec.pem"), cert("client-ec.key"), NULL), 0);
    assert_string_equal(rtls_conf_ca(c), cert("ca.pem"));
    rtls_conf_free(c);
    /* no file: the system's bundle */
    if (access(RTLS_SYSTEM_CA, R_OK) == 0) {
        assert_int_equal(rtls_conf_load(&c, NULL, NULL, NULL, NULL), 0);
        assert_string_equal(rtls_conf_ca(c), RTLS_SYSTEM_CA);
        rtls_conf_free(c);
    }
}

/* ---- handshakes --------------------------------------------------------------------------- */

static int tcp_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* One PING through the engine, as the store's wire does it. */
static void ping(int fd, struct rtls *t) {
    redisContext *ctx = redisConnectFd(fd);
    struct redis_link l = {ctx, t};
    struct redis_cmd c = {1, {"PING"}, {4}};
    redisReply *rep;
    if (redis_exchange(&l, 1000, &c, 1, &rep) != 0) fail_msg("PING: %s", ctx->errstr);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);
    rtls_free(t);
    redisFree(ctx); /* closes fd */
}

/* Sessions are resumed: the connections a process opens to a server after its first one skip
 * the certificate and the key exchange. Redis (OpenSSL) drops a session from its cache when a
 * connection using it ends without a TLS shutdown from its own side, which is how every client
 * connection ends there: so a session serves while connections are open, as in the pool. */
static void test_handshake_resumes_sessions(void **state) {
    (void)state;
    NEED_TLS();
    struct rtls_conf *c = NULL;
    assert_int_equal(rtls_conf_load(&c, cert("ca.pem"), NULL, NULL, NULL), 0);
    struct rtls_cache cache = {NULL}, other = {NULL};
    char *err = NULL;
    int fd[4];
    struct rtls *t[4];
    for (int i = 0; i < 4; i++) {
        fd[i] = tcp_to(tls_srv.tls_port);
        t[i] = rtls_connect(c, fd[i], "localhost", &cache, 1000, &err);
        if (!t[i]) fail_msg("handshake %d: %s", i, err);
        assert_int_equal(rtls_resumed(t[i]), i > 0);
    }
    for (int i = 0; i < 4; i++) ping(fd[i], t[i]);
    /* another server's slot: a full handshake */
    int f = tcp_to(tls_srv.tls_port);
    struct rtls *o = rtls_connect(c, f, "localhost", &other, 1000, &err);
    assert_non_null(o);
    assert_int_equal(rtls_resumed(o), 0);
    ping(f, o);
    /* no name at all is refused before a byte is sent: BearSSL would then accept any name */
    f = tcp_to(tls_srv.tls_port);
    assert_null(rtls_connect(c, f, "", &other, 1000, &err));
    assert_non_null(strstr(err, "no server name"));
    free(err);
    close(f);
    rtls_cache_clear(&cache);
    rtls_cache_clear(&other);
    rtls_conf_free(c);
}

static void test_store_over_tls(void **state) {
    (void)state;
    NEED_TLS();
    struct store *s = open_tls(tls_url("localhost", tls_srv.tls_port), cert("ca.pem"), NULL, NULL, 1000);
    round_trip(s, 1);
    /* values of many records, and one of a single byte after them */
    size_t sizes[] = {16383, 16384, 16385, 200 * 1024, 4u << 20, 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *v = malloc(sizes[i] + 1), *err = NULL;
        for (size_t j = 0; j < sizes[i]; j++) v[j] = (char)('a' + (j * 7 + i) % 26);
        v[sizes[i]] = '\0';
        if (put_str(s, 10, v, &err) != 0) fail_msg("put %zu: %s", sizes[i], err);
        if (get_cmp(s, 10, v, &err) != 1) fail_msg("get %zu: %s", sizes[i], err ? err : "another value");
        free(v);
    }
    /* what went through TLS is in the server, read back in plain text */
    redisContext *adm = admin(&tls_srv);
    redisReply *r = redisCommand(adm, "GET llmshim:v1:tls:%048x%016x", 0x7150, 1u);
    assert_string_equal(r->str, "value 1 over TLS");
    freeReplyObject(r);
    redisFree(adm);
    /* by address: the certificate's SAN holds 127.0.0.1 */
    struct store *by_ip = open_tls(tls_url("127.0.0.1", tls_srv.tls_port), cert("ca.pem"), NULL, NULL, 1000);
    round_trip(by_ip, 2);
    store_close(by_ip);
    store_close(s);
}

static void test_server_certificates_refused(void **state) {
    (void)state;
    NEED_TLS();
    struct store *s = open_tls(tls_url("localhost", tls_srv.tls_port), cert("other-ca.pem"), NULL, NULL, 1000);
    get_fails(s, "TLS: the server's certificate is not signed by a CA in ");
    store_close(s);
    if (access(RTLS_SYSTEM_CA, R_OK) == 0) {
        s = open_tls(tls_url("localhost", tls_srv.tls_port), NULL, NULL, NULL, 1000);
        get_fails(s, "not signed by a CA in " RTLS_SYSTEM_CA " (set LLMSHIM_REDIS_CA");
        store_close(s);
    }
    struct server *srv = own_start("wrong", 0);
    s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), NULL, NULL, 1000);
    get_fails(s, "TLS: the server's certificate is not for localhost");
    store_close(s);
    s = open_tls(tls_url("127.0.0.1", srv->tls_port), cert("ca.pem"), NULL, NULL, 1000);
    get_fails(s, "TLS: the server's certificate is not for 127.0.0.1");
    store_close(s);
    server_stop(srv);
    srv = own_start("expired", 0);
    s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), NULL, NULL, 1000);
    get_fails(s, "TLS: the server's certificate has expired");
    store_close(s);
}

static void test_mutual_tls(void **state) {
    (void)state;
    NEED_TLS();
    struct server *srv = own_start("server-rsa", 1); /* and ECDHE_RSA */
    struct store *s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), NULL, NULL, 1000);
    get_fails(s, "it may require a client certificate (LLMSHIM_REDIS_CERT and LLMSHIM_REDIS_KEY)");
    store_close(s);
    s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), cert("client.pem"), cert("client.key"), 1000);
    round_trip(s, 1);
    store_close(s);
    s = open_tls(tls_url("127.0.0.1", srv->tls_port), cert("ca.pem"), cert("client-ec.pem"), cert("client-ec.key"), 1000);
    round_trip(s, 2);
    store_close(s);
    /* a certificate the server's CA did not sign */
    s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), cert("wrong.pem"), cert("wrong.key"), 1000);
    get_fails(s, "it refused our client certificate (LLMSHIM_REDIS_CERT)");
    store_close(s);
    char *err = NULL;
    struct store_redis_opts o = {tls_url("localhost", srv->tls_port), "", 100, 100, cert("ca.pem"), cert("client.pem"),
                                 cert("client-enc.key"), NULL};
    assert_null(store_redis_open(&o, &err));
    assert_non_null(strstr(err, "encrypted private keys are not supported"));
    free(err);
}

/* Plain text on a TLS port and TLS on a plain one: a clear line each, within the timeout. */
static void test_plain_and_tls_ports_mixed_up(void **state) {
    (void)state;
    NEED_TLS();
    char url[128];
    snprintf(url, sizeof(url), "rediss://localhost:%d", tls_srv.port);
    struct store *s = open_tls(url, cert("ca.pem"), NULL, NULL, 250);
    long long took = get_fails(s, "TLS: no TLS handshake within 250 ms (a plain-text port");
    if (took > 1500) fail_msg("took %lld ms", took);
    store_close(s);
    snprintf(url, sizeof(url), "redis://localhost:%d", tls_srv.tls_port);
    struct store_redis_opts o = {url, "", 500, 250, NULL, NULL, NULL, NULL};
    s = store_redis_open(&o, NULL);
    took = get_fails(s, "(a TLS port? use rediss://)");
    if (took > 1500) fail_msg("took %lld ms", took);
    store_close(s);
}

static void test_stalled_tls_server(void **state) {
    (void)state;
    NEED_TLS();
    struct server *srv = own_start("server", 0);
    struct store *s = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), NULL, NULL, 250);
    struct store *fresh = open_tls(tls_url("localhost", srv->tls_port), cert("ca.pem"), NULL, NULL, 250);
    round_trip(s, 1);
    kill(srv->pid, SIGSTOP);
    long long took = get_fails(s, "no answer within 250 ms"); /* an established connection */
    if (took < 200 || took > 1500) fail_msg("stalled get took %lld ms", took);
    took = get_fails(fresh, "no TLS handshake within 250 ms"); /* a handshake */
    if (took < 200 || took > 1500) fail_msg("stalled handshake took %lld ms", took);
    took = get_fails(s, "unavailable, retrying in 1s");
    if (took > 50) fail_msg("a call in the backoff took %lld ms", took);
    kill(srv->pid, SIGCONT);
    sleep_ms(1100);
    round_trip(s, 2);
    store_close(s);
    store_close(fresh);
}

/* ---- threads and processes ---------------------------------------------------------------- */

static void *worker(void *arg) {
    struct store *s = arg;
    long bad = 0;
    for (int i = 0; i < 40; i++) {
        char v[64], *err = NULL;
        snprintf(v, sizeof(v), "%p-%d", (void *)pthread_self(), i);
        int n = 1000 + (int)((uintptr_t)pthread_self() % 1000) * 100 + i;
        if (put_str(s, n, v, &err) != 0 || get_cmp(s, n, v, &err) != 1) bad++;
        free(err);
    }
    return (void *)bad;
}

/* Threads share the pool (connections made at once resume one session); a fork()ed child uses
 * connections of its own and never writes into its parent's TLS streams. */
static void test_threads_and_fork(void **state) {
    (void)state;
    NEED_TLS();
    struct store *s = open_tls(tls_url("localhost", tls_srv.tls_port), cert("ca.pem"), NULL, NULL, 2000);
    pthread_t t[8];
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, worker, s);
    for (int i = 0; i < 8; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((long)bad, 0);
    }
    round_trip(s, 1);
    pid_t pid = fork();
    if (pid == 0) {
        char *err = NULL;
        int ok = put_str(s, 2, "from the child", &err) == 0 && get_cmp(s, 1, "value 1 over TLS", &err) == 1;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *err = NULL;
    if (get_cmp(s, 2, "from the child", &err) != 1) fail_msg("parent after fork: %s", err ? err : "another value");
    round_trip(s, 3);
    store_close(s);
}

#define T(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_anchors_match_bearssl),
        T(test_conf_errors),
        T(test_handshake_resumes_sessions),
        T(test_store_over_tls),
        T(test_server_certificates_refused),
        T(test_mutual_tls),
        T(test_plain_and_tls_ports_mixed_up),
        T(test_stalled_tls_server),
        T(test_threads_and_fork),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
