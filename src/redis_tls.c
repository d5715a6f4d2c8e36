/* redis_tls: one TLS client connection on BearSSL's engine (see redis_tls.h): the handshake,
 * the record pump between engine and socket, the name check for IP addresses, the session slot,
 * and a plain-words reason for every way a handshake fails. */
#include "redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "buf.h"
#include "redis_tls_int.h"

#define EE_MAX 65536 /* the server's own certificate, kept for its SAN when the name is an address */

struct rtls_session {
    br_ssl_session_parameters p;
};

/* BearSSL's X.509 validator, plus the IP address check it lacks: every call goes to `inner`;
 * the server's certificate is copied aside, and once the chain is valid its SAN must hold the
 * address. */
struct rtls_x509 {
    const br_x509_class *vtable;
    br_x509_minimal_context inner;
    unsigned char ip[16];
    size_t iplen; /* 0: a host name, checked by inner */
    int depth;
    struct buf ee;
};

struct rtls {
    br_ssl_client_context cc;
    struct rtls_x509 xv;
    const struct rtls_conf *conf;
    int fd, resumed;
    char name[256];
    char why[300];
    unsigned char io[BR_SSL_BUFSIZE_BIDI];
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the name check for addresses ----------------------------------------------------------- */

/* Certificate > TBSCertificate > [3] extensions > subjectAltName (2.5.29.17) > iPAddress [7]. */
static int san_has_ip(const unsigned char *cert, size_t len, const unsigned char *ip, size_t iplen) {
    const unsigned char *p, *e, *v;
    unsigned tag;
    size_t n;
    if (rtls_der_enter(cert, cert + len, 0x30, &p, &e) || rtls_der_enter(p, e, 0x30, &p, &e)) return 0;
    while (p < e) {
        const unsigned char *at = p;
        if (rtls_der_next(&p, e, &tag, &v, &n)) return 0;
        if (tag != 0xa3) continue;
        const unsigned char *x, *xe;
        if (rtls_der_enter(at, e, 0xa3, &x, &xe) || rtls_der_enter(x, xe, 0x30, &x, &xe)) return 0;
        while (x < xe) {
            const unsigned char *f, *fe, *oid;
            size_t olen;
            if (rtls_der_next(&x, xe, &tag, &f, &n) || tag != 0x30) return 0;
            fe = f + n;
            if (rtls_der_next(&f, fe, &tag, &oid, &olen) || tag != 0x06) return 0;
            if (olen != 3 || memcmp(oid, "\x55\x1d\x11", 3) != 0) continue;
            if (rtls_der_next(&f, fe, &tag, &v, &n)) return 0;
            if (tag == 0x01 && rtls_der_next(&f, fe, &tag, &v, &n)) return 0; /* "critical" */
            const unsigned char *g, *ge;
            if (tag != 0x04 || rtls_der_enter(v, v + n, 0x30, &g, &ge)) return 0;
            while (g < ge) {
                if (rtls_der_next(&g, ge, &tag, &v, &n)) return 0;
                if (tag == 0x87 && n == iplen && !memcmp(v, ip, iplen)) return 1;
            }
            return 0;
        }
        return 0;
    }
    return 0;
}

static struct rtls_x509 *xv_of(const br_x509_class *const *ctx) {
    return (struct rtls_x509 *)(uintptr_t)ctx;
}

static void xv_start_chain(const br_x509_class **ctx, const char *server_name) {
    struct rtls_x509 *x = xv_of(ctx);
    x->depth = 0;
    buf_clear(&x->ee);
    x->inner.vtable->start_chain(&x->inner.vtable, server_name);
}

static void xv_start_cert(const br_x509_class **ctx, uint32_t length) {
    struct rtls_x509 *x = xv_of(ctx);
    x->inner.vtable->start_cert(&x->inner.vtable, length);
}

static void xv_append(const br_x509_class **ctx, const unsigned char *buf, size_t len) {
    struct rtls_x509 *x = xv_of(ctx);
    x->inner.vtable->append(&x->inner.vtable, buf, len);
    if (x->iplen && !x->depth) {
        if (x->ee.len + len <= EE_MAX) buf_append(&x->ee, buf, len);
        else x->ee.oom = 1; /* too large to be a server's certificate: no match */
    }
}

static void xv_end_cert(const br_x509_class **ctx) {
    struct rtls_x509 *x = xv_of(ctx);
    x->inner.vtable->end_cert(&x->inner.vtable);
    x->depth++;
}

static unsigned xv_end_chain(const br_x509_class **ctx) {
    struct rtls_x509 *x = xv_of(ctx);
    unsigned e = x->inner.vtable->end_chain(&x->inner.vtable);
    if (e || !x->iplen) return e;
    if (x->ee.oom || !san_has_ip((const unsigned char *)x->ee.data, x->ee.len, x->ip, x->iplen))
        return BR_ERR_X509_BAD_SERVER_NAME;
    return 0;
}

static const br_x509_pkey *xv_get_pkey(const br_x509_class *const *ctx, unsigned *usages) {
    struct rtls_x509 *x = xv_of(ctx);
    return x->inner.vtable->get_pkey(&x->inner.vtable, usages);
}

static const br_x509_class xv_class = {
    sizeof(struct rtls_x509), xv_start_chain, xv_start_cert, xv_append, xv_end_cert, xv_end_chain, xv_get_pkey,
};

/* ---- reasons -------------------------------------------------------------------------------- */

static void describe_alert(struct rtls *t, int alert) {
    const char *what = alert == 40   ? "handshake failure"
                       : alert == 42 ? "bad certificate"
                       : alert == 43 ? "unsupported certificate"
                       : alert == 44 ? "certificate revoked"
                       : alert == 45 ? "certificate expired"
                       : alert == 46 ? "certificate unknown"
                       : alert == 48 ? "unknown CA"
                       : alert == 70 ? "protocol version"
                       : alert == 116 ? "certificate required"
                                      : "";
    int cert = (alert >= 42 && alert <= 46) || alert == 48 || alert == 116;
    int has_cert = t->conf->key != NULL;
    const char *hint = alert == 70 ? ": it does not accept TLS 1.2"
                       : cert && has_cert ? ": it refused our client certificate (LLMSHIM_REDIS_CERT)"
                       : cert || alert == 40
                           ? ": it may require a client certificate (LLMSHIM_REDIS_CERT and LLMSHIM_REDIS_KEY)"
                           : "";
    snprintf(t->why, sizeof(t->why), "the server refused the handshake (TLS alert %d%s%s)%s", alert, *what ? " " : "",
             what, hint);
}

static void describe(struct rtls *t, int code) {
    switch (code) {
    case BR_ERR_X509_EXPIRED:
        snprintf(t->why, sizeof(t->why), "the server's certificate has expired or is not valid yet");
        return;
    case BR_ERR_X509_BAD_SERVER_NAME:
        snprintf(t->why, sizeof(t->why), "the server's certificate is not for %.200s", t->name);
        return;
    case BR_ERR_X509_NOT_TRUSTED:
        snprintf(t->why, sizeof(t->why), "the server's certificate is not signed by a CA in %.200s%s", t->conf->ca_file,
                 strcmp(t->conf->ca_file, RTLS_SYSTEM_CA) ? "" : " (set LLMSHIM_REDIS_CA for a private CA)");
        return;
    case BR_ERR_BAD_CIPHER_SUITE:
        snprintf(t->why, sizeof(t->why), "no cipher suite in common (offered: ECDHE with AES-GCM or ChaCha20-Poly1305)");
        return;
    case BR_ERR_UNSUPPORTED_VERSION:
    case BR_ERR_BAD_VERSION:
    case BR_ERR_BAD_LENGTH:
    case BR_ERR_TOO_LARGE:
    case BR_ERR_UNKNOWN_TYPE:
    case BR_ERR_UNEXPECTED:
        snprintf(t->why, sizeof(t->why), "the server does not speak TLS 1.2 (a plain-text port? use redis://)");
        return;
    }
    if (code >= BR_ERR_RECV_FATAL_ALERT && code < BR_ERR_SEND_FATAL_ALERT) describe_alert(t, code - BR_ERR_RECV_FATAL_ALERT);
    else if (code >= BR_ERR_X509_OK && code < 64)
        snprintf(t->why, sizeof(t->why), "the server's certificate chain is invalid (BearSSL X.509 error %d)", code);
    else snprintf(t->why, sizeof(t->why), "TLS failed (BearSSL error %d)", code);
}

/* ---- the record pump ------------------------------------------------------------------------ */

static int wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        struct pollfd p = {fd, events, 0};
        long long left = deadline - now_ms();
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc > 0) return 0;
        if (rc == 0) errno = ETIMEDOUT;
        if (rc == 0 || errno != EINTR) return -1;
    }
}

static int closed(struct rtls *t) {
    snprintf(t->why, sizeof(t->why), "connection closed by the server");
    errno = ECONNRESET;
    return -1;
}

static int io_failed(struct rtls *t, int e) {
    snprintf(t->why, sizeof(t->why), "%s", strerror(e));
    errno = e;
    return -1;
}

/* Sending failed: a server that refuses a handshake sends an alert saying why, then closes, and
 * our next write may hit the closed socket before we read the alert. Read it now. */
static int send_failed(struct rtls *t, int e) {
    br_ssl_engine_context *eng = &t->cc.eng;
    for (int i = 0; i < 8 && (br_ssl_engine_current_state(eng) & BR_SSL_RECVREC); i++) {
        size_t len;
        unsigned char *b = br_ssl_engine_recvrec_buf(eng, &len);
        ssize_t r = recv(t->fd, b, len, MSG_DONTWAIT);
        if (r <= 0) break;
        br_ssl_engine_recvrec_ack(eng, (size_t)r);
    }
    int code = br_ssl_engine_last_error(eng);
    if (!(br_ssl_engine_current_state(eng) & BR_SSL_CLOSED) || code == BR_ERR_OK) return io_failed(t, e);
    describe(t, code);
    errno = EPROTO;
    return -1;
}

/* Moves records between the engine and the socket until the engine allows `want` (BR_SSL_SENDAPP
 * or BR_SSL_RECVAPP; 0: until all it holds is sent). Each wait at most ms, or all of them
 * together when `overall` (the handshake). 0, or -1 with errno (EPROTO: t->why says why). */
static int pump(struct rtls *t, unsigned want, int ms, int overall) {
    br_ssl_engine_context *eng = &t->cc.eng;
    long long deadline = now_ms() + ms;
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        if (st & BR_SSL_CLOSED) {
            int code = br_ssl_engine_last_error(eng);
            if (code == BR_ERR_OK) return closed(t); /* close_notify */
            describe(t, code);
            errno = EPROTO;
            return -1;
        }
        size_t len;
        unsigned char *b;
        if (st & BR_SSL_SENDREC) {
            b = br_ssl_engine_sendrec_buf(eng, &len);
            ssize_t w = send(t->fd, b, len, MSG_NOSIGNAL);
            if (w > 0) {
                br_ssl_engine_sendrec_ack(eng, (size_t)w);
                if (!overall) deadline = now_ms() + ms;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (wait_fd(t->fd, POLLOUT, deadline)) return -1;
            } else if (w == 0 || errno != EINTR) {
                return send_failed(t, w < 0 ? errno : EPIPE);
            }
            continue;
        }
        if (!want || (st & want)) return 0;
        if (!(st & BR_SSL_RECVREC)) {
            snprintf(t->why, sizeof(t->why), "the TLS engine stalled");
            errno = EPROTO;
            return -1;
        }
        b = br_ssl_engine_recvrec_buf(eng, &len);
        ssize_t r = read(t->fd, b, len);
        if (r > 0) {
            br_ssl_engine_recvrec_ack(eng, (size_t)r);
            if (!overall) deadline = now_ms() + ms;
        } else if (r == 0) {
            return closed(t);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(t->fd, POLLIN, deadline)) return -1;
        } else if (errno != EINTR) {
            return io_failed(t, errno);
        }
    }
}

/* ---- sessions ------------------------------------------------------------------------------- */

static int cache_take(struct rtls_cache *c, br_ssl_session_parameters *out) {
    struct rtls_session *s = atomic_exchange(&c->slot, NULL);
    if (!s) return 0;
    *out = s->p;
    struct rtls_session *none = NULL;
    if (!atomic_compare_exchange_strong(&c->slot, &none, s)) { /* another was saved meanwhile */
        explicit_bzero(s, sizeof(*s));
        free(s);
    }
    return 1;
}

static void cache_put(struct rtls_cache *c, const br_ssl_session_parameters *p) {
    struct rtls_session *s = malloc(sizeof(*s));
    if (!s) return;
    s->p = *p;
    struct rtls_session *old = atomic_exchange(&c->slot, s);
    if (old) explicit_bzero(old, sizeof(*old));
    free(old);
}

void rtls_cache_clear(struct rtls_cache *c) {
    struct rtls_session *old = atomic_exchange(&c->slot, NULL);
    if (old) explicit_bzero(old, sizeof(*old));
    free(old);
}

/* ---- connections ---------------------------------------------------------------------------- */

/* The suites offered, fastest here first: AES-GCM with AES-NI, else ChaCha20 (BearSSL's
 * constant-time AES without AES-NI is several times slower). ECDHE only: forward secrecy. */
static void set_suites(br_ssl_engine_context *eng) {
    static const uint16_t aes_first[] = {
        BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    };
    static const uint16_t chacha_first[] = {
        BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    };
    int ni = br_aes_x86ni_ctr_get_vtable() != NULL;
    br_ssl_engine_set_suites(eng, ni ? aes_first : chacha_first, 6);
}

static void setup(struct rtls *t, const struct rtls_conf *c) {
    static const br_hash_class *const hashes[] = {&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
                                                  &br_sha384_vtable, &br_sha512_vtable};
    br_ssl_engine_context *eng = &t->cc.eng;
    br_ssl_client_zero(&t->cc);
    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    br_x509_minimal_init(&t->xv.inner, &br_sha256_vtable, c->ta, c->nta);
    set_suites(eng);
    br_ssl_engine_set_default_rsavrfy(eng);
    br_ssl_engine_set_default_ecdsa(eng);
    br_x509_minimal_set_rsa(&t->xv.inner, br_ssl_engine_get_rsavrfy(eng));
    br_x509_minimal_set_ecdsa(&t->xv.inner, br_ssl_engine_get_ec(eng), br_ssl_engine_get_ecdsa(eng));
    for (int id = br_sha1_ID; id <= br_sha512_ID; id++) {
        br_ssl_engine_set_hash(eng, id, hashes[id - br_sha1_ID]);
        br_x509_minimal_set_hash(&t->xv.inner, id, hashes[id - br_sha1_ID]);
    }
    br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(eng);
    br_ssl_engine_set_default_chapol(eng);
    t->xv.vtable = &xv_class;
    br_ssl_engine_set_x509(eng, &t->xv.vtable);
    br_ssl_engine_set_buffer(eng, t->io, sizeof(t->io), 1);
    if (c->key && br_skey_decoder_key_type(c->key) == BR_KEYTYPE_RSA)
        br_ssl_client_set_single_rsa(&t->cc, c->chain, c->nchain, br_skey_decoder_get_rsa(c->key),
                                     br_rsa_pkcs1_sign_get_default());
    else if (c->key)
        br_ssl_client_set_single_ec(&t->cc, c->chain, c->nchain, br_skey_decoder_get_ec(c->key), BR_KEYTYPE_SIGN,
                                    c->issuer_key_type, br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
    unsigned char seed[32];
    if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed)) br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
    explicit_bzero(seed, sizeof(seed)); /* without it BearSSL seeds itself from the system */
}

struct rtls *rtls_connect(const struct rtls_conf *c, int fd, const char *name, struct rtls_cache *cache, int ms,
                          char **err) {
    if (!name || !*name) { /* BearSSL would then check no name at all */
        if (err) *err = strdup("no server name to verify the certificate against");
        return NULL;
    }
    struct rtls *t = calloc(1, sizeof(*t));
    if (!t) {
        if (err) *err = strdup("out of memory");
        return NULL;
    }
    t->fd = fd;
    t->conf = c;
    snprintf(t->name, sizeof(t->name), "%s", name);
    buf_init(&t->xv.ee);
    setup(t, c);
    if (inet_pton(AF_INET, name, t->xv.ip) == 1) t->xv.iplen = 4;
    else if (inet_pton(AF_INET6, name, t->xv.ip) == 1) t->xv.iplen = 16;
    br_ssl_session_parameters offered;
    int resume = cache_take(cache, &offered);
    if (resume) br_ssl_engine_set_session_parameters(&t->cc.eng, &offered);
    /* an address: no SNI (RFC 6066) and BearSSL checks no name; xv_end_chain checks the address */
    int rc = br_ssl_client_reset(&t->cc, t->xv.iplen ? NULL : name, resume) ? 0 : -1;
    if (rc) describe(t, br_ssl_engine_last_error(&t->cc.eng));
    else if ((rc = pump(t, BR_SSL_SENDAPP, ms, 1)) != 0 && errno == ETIMEDOUT)
        snprintf(t->why, sizeof(t->why), "no TLS handshake within %d ms (a plain-text port, or a stalled server?)", ms);
    else if (rc && errno == ECONNRESET)
        snprintf(t->why, sizeof(t->why), "the server closed the connection during the TLS handshake");
    buf_free(&t->xv.ee);
    if (rc) {
        if (err) *err = strdup(t->why);
        explicit_bzero(&offered, sizeof(offered));
        rtls_free(t);
        return NULL;
    }
    br_ssl_session_parameters now;
    br_ssl_engine_get_session_parameters(&t->cc.eng, &now);
    t->resumed = resume && now.session_id_len && now.session_id_len == offered.session_id_len &&
                 !memcmp(now.session_id, offered.session_id, now.session_id_len);
    if (!t->resumed && now.session_id_len) cache_put(cache, &now);
    explicit_bzero(&offered, sizeof(offered));
    explicit_bzero(&now, sizeof(now));
    return t;
}

int rtls_resumed(const struct rtls *t) {
    return t->resumed;
}

int rtls_write(struct rtls *t, const void *p, size_t n, int ms) {
    br_ssl_engine_context *eng = &t->cc.eng;
    const unsigned char *s = p;
    while (n) {
        if (pump(t, BR_SSL_SENDAPP, ms, 0)) return -1;
        size_t len;
        unsigned char *b = br_ssl_engine_sendapp_buf(eng, &len);
        if (len > n) len = n;
        memcpy(b, s, len);
        br_ssl_engine_sendapp_ack(eng, len);
        s += len;
        n -= len;
    }
    br_ssl_engine_flush(eng, 0);
    return pump(t, 0, ms, 0);
}

const unsigned char *rtls_read(struct rtls *t, size_t *len, int ms) {
    if (pump(t, BR_SSL_RECVAPP, ms, 0)) return NULL;
    return br_ssl_engine_recvapp_buf(&t->cc.eng, len);
}

void rtls_read_done(struct rtls *t, size_t n) {
    br_ssl_engine_recvapp_ack(&t->cc.eng, n);
}

const char *rtls_error(const struct rtls *t) {
    return t->why;
}

void rtls_free(struct rtls *t) {
    if (!t) return;
    buf_free(&t->xv.ee);
    explicit_bzero(t, sizeof(*t)); /* keys and the master secret */
    free(t);
}
