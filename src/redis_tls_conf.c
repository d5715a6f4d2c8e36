/* redis_tls_conf: what every TLS connection of a store shares, read from PEM files once: the
 * trust anchors (the system bundle or LLMSHIM_REDIS_CA) and the client's certificate chain and
 * private key for mutual TLS. Messages name the file and the problem, never key material. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bearssl.h>

#include "buf.h"
#include "redis_node.h"
#include "redis_tls.h"
#include "redis_tls_int.h"

#define PEM_FILE_MAX (8 * 1024 * 1024) /* the system bundle is ~200 KB */

/* The whole file into b (NUL-terminated). */
static int read_file(const char *path, const char *what, struct buf *b, char **err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return redis_fail(err, "%s %s: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PEM_FILE_MAX) {
        close(fd);
        return redis_fail(err, "%s %s: not a regular file of at most 8 MiB", what, path);
    }
    for (;;) {
        if (buf_reserve(b, 65536) != 0) {
            close(fd);
            return redis_fail(err, "%s %s: out of memory", what, path);
        }
        ssize_t got = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0 || b->len + (size_t)got > PEM_FILE_MAX) {
            int e = got < 0 ? errno : 0;
            close(fd);
            if (got == 0) return 0;
            return redis_fail(err, "%s %s: %s", what, path, e ? strerror(e) : "larger than 8 MiB");
        }
        b->len += (size_t)got;
        b->data[b->len] = '\0';
    }
}

/* ---- DER and PEM ---------------------------------------------------------------------------- */

int rtls_der_next(const unsigned char **p, const unsigned char *end, unsigned *tag, const unsigned char **val,
                  size_t *len) {
    const unsigned char *q = *p;
    if (end - q < 2) return -1;
    *tag = *q++;
    if ((*tag & 0x1f) == 0x1f) return -1; /* multi-byte tags: none in the fields read here */
    size_t n = *q++;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k < 1 || k > 3 || (size_t)(end - q) < k) return -1;
        for (n = 0; k--;) n = (n << 8) | *q++;
    }
    if ((size_t)(end - q) < n) return -1;
    *val = q;
    *len = n;
    *p = q + n;
    return 0;
}

int rtls_der_enter(const unsigned char *p, const unsigned char *end, unsigned want, const unsigned char **b,
                   const unsigned char **e) {
    unsigned tag;
    size_t n;
    if (rtls_der_next(&p, end, &tag, b, &n) || tag != want) return -1;
    *e = *b + n;
    return 0;
}

/* Base64 digit values, -1 for whitespace and '=', -2 for anything else. */
static void b64_table(signed char *t) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(t, -2, 256);
    for (int i = 0; i < 64; i++) t[(unsigned char)digits[i]] = (signed char)i;
    t[' '] = t['\t'] = t['\r'] = t['\n'] = t['='] = -1;
}

typedef int (*pem_fn)(struct rtls_conf *c, const char *name, const unsigned char *der, size_t n);

/* fn for every PEM object of text: its label ("CERTIFICATE", "EC PRIVATE KEY"...) and its DER
 * bytes; a non-zero result of fn stops the walk and is returned. 0 after the last object, 1 when
 * there was none, -1 on malformed PEM. Our own decoder: BearSSL's, a byte-code interpreter,
 * took 28 ms for the system's 200 KB bundle, in every process. */
static int pem_each(struct rtls_conf *c, const char *text, size_t len, pem_fn fn) {
    const char *p = text, *end = text + len;
    struct buf der;
    int rc = 0, found = 0;
    signed char b64[256];
    b64_table(b64);
    buf_init(&der);
    while (!rc) {
        const char *begin = memmem(p, (size_t)(end - p), "-----BEGIN ", 11);
        if (!begin) break;
        const char *label = begin + 11, *dash = memmem(label, (size_t)(end - label), "-----", 5);
        const char *stop = dash ? memmem(dash + 5, (size_t)(end - dash - 5), "-----END ", 9) : NULL;
        if (!stop || dash - label > 100) {
            rc = -1;
            break;
        }
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(dash - label), label);
        buf_clear(&der);
        unsigned acc = 0;
        int bits = 0, bad = buf_reserve(&der, (size_t)(stop - dash)) != 0;
        for (const char *q = dash + 5; q < stop && !bad; q++) {
            int v = b64[(unsigned char)*q];
            if (v < 0) {
                bad = v == -2;
                continue;
            }
            acc = (acc << 6) | (unsigned)v;
            if ((bits += 6) >= 8) { /* room reserved: 3 bytes for every 4 characters */
                bits -= 8;
                der.data[der.len++] = (char)(acc >> bits);
            }
        }
        p = stop + 9;
        found = 1;
        rc = bad || der.oom ? -1 : fn(c, name, (const unsigned char *)der.data, der.len);
    }
    if (der.data) explicit_bzero(der.data, der.cap); /* it may have held a private key */
    buf_free(&der);
    return rc ? rc : !found;
}

/* ---- trust anchors ------------------------------------------------------------------------ */

static const unsigned char OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const unsigned char OID_EC[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const struct {
    unsigned char oid[8];
    size_t len;
    int curve;
} curves[] = {
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 8, BR_EC_secp256r1},
    {{0x2b, 0x81, 0x04, 0x00, 0x22}, 5, BR_EC_secp384r1},
    {{0x2b, 0x81, 0x04, 0x00, 0x23}, 5, BR_EC_secp521r1},
};

static unsigned char *copy_of(const unsigned char *p, size_t n) {
    unsigned char *c = malloc(n ? n : 1);
    if (c) memcpy(c, p, n);
    return c;
}

/* An unsigned big-endian INTEGER without its leading zeros. */
static int integer(const unsigned char **p, const unsigned char *e, unsigned char **out, size_t *len) {
    unsigned tag;
    const unsigned char *v;
    size_t n;
    if (rtls_der_next(p, e, &tag, &v, &n) || tag != 0x02) return -1;
    while (n > 1 && !*v) v++, n--;
    *len = n;
    return (*out = copy_of(v, n)) ? 0 : -1;
}

/* The key of a SubjectPublicKeyInfo [p, e) into pk: 0, 1 for a kind BearSSL cannot use, -1. */
static int spki_key(const unsigned char *p, const unsigned char *e, br_x509_pkey *pk) {
    const unsigned char *alg, *alg_end, *oid, *bits;
    size_t olen, blen;
    unsigned tag;
    if (rtls_der_enter(p, e, 0x30, &alg, &alg_end)) return -1;
    p = alg_end;
    if (rtls_der_next(&alg, alg_end, &tag, &oid, &olen) || tag != 0x06) return -1;
    if (rtls_der_next(&p, e, &tag, &bits, &blen) || tag != 0x03 || blen < 2 || bits[0]) return -1;
    bits++, blen--;
    if (olen == sizeof(OID_RSA) && !memcmp(oid, OID_RSA, olen)) {
        const unsigned char *k, *ke;
        if (rtls_der_enter(bits, bits + blen, 0x30, &k, &ke)) return -1;
        pk->key_type = BR_KEYTYPE_RSA;
        if (integer(&k, ke, &pk->key.rsa.n, &pk->key.rsa.nlen)) return -1;
        return integer(&k, ke, &pk->key.rsa.e, &pk->key.rsa.elen);
    }
    if (olen != sizeof(OID_EC) || memcmp(oid, OID_EC, olen) != 0) return 1;
    if (rtls_der_next(&alg, alg_end, &tag, &oid, &olen) || tag != 0x06) return -1;
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (olen != curves[i].len || memcmp(oid, curves[i].oid, olen) != 0) continue;
        pk->key_type = BR_KEYTYPE_EC;
        pk->key.ec.curve = curves[i].curve;
        pk->key.ec.qlen = blen;
        return (pk->key.ec.q = copy_of(bits, blen)) ? 0 : -1;
    }
    return 1;
}

/* basicConstraints cA in the extensions [p, e). */
static int is_ca(const unsigned char *p, const unsigned char *e) {
    unsigned tag;
    const unsigned char *v, *x, *xe;
    size_t n;
    while (p < e) {
        if (rtls_der_next(&p, e, &tag, &x, &n) || tag != 0x30) return 0;
        xe = x + n;
        if (rtls_der_next(&x, xe, &tag, &v, &n) || tag != 0x06) return 0;
        if (n != 3 || memcmp(v, "\x55\x1d\x13", 3) != 0) continue;
        if (rtls_der_next(&x, xe, &tag, &v, &n)) return 0;
        if (tag == 0x01 && rtls_der_next(&x, xe, &tag, &v, &n)) return 0; /* "critical" */
        const unsigned char *s, *se;
        if (tag != 0x04 || rtls_der_enter(v, v + n, 0x30, &s, &se)) return 0;
        return rtls_der_next(&s, se, &tag, &v, &n) == 0 && tag == 0x01 && n == 1 && v[0];
    }
    return 0;
}

/* The subject's DER (what BearSSL compares with issuers), key and cA flag of a certificate,
 * read by hand: BearSSL's decoder, another interpreter, cost 8 ms for the system bundle.
 * 0, 1 for a certificate to skip (a key BearSSL cannot use), -1 when malformed. */
static int anchor_of(const unsigned char *der, size_t len, br_x509_trust_anchor *ta) {
    const unsigned char *p, *e, *v, *at;
    unsigned tag;
    size_t n;
    memset(ta, 0, sizeof(*ta));
    if (rtls_der_enter(der, der + len, 0x30, &p, &e) || rtls_der_enter(p, e, 0x30, &p, &e)) return -1;
    if (p < e && *p == 0xa0 && rtls_der_next(&p, e, &tag, &v, &n)) return -1; /* version */
    for (int i = 0; i < 4; i++) /* serial, signature, issuer, validity */
        if (rtls_der_next(&p, e, &tag, &v, &n)) return -1;
    at = p;
    if (rtls_der_next(&p, e, &tag, &v, &n) || tag != 0x30) return -1;
    ta->dn.len = (size_t)(p - at);
    if (!(ta->dn.data = copy_of(at, ta->dn.len))) return -1;
    if (rtls_der_next(&p, e, &tag, &v, &n) || tag != 0x30) return -1;
    int rc = spki_key(v, v + n, &ta->pkey);
    if (rc) return rc;
    while (p < e) {
        const unsigned char *x, *xe;
        at = p;
        if (rtls_der_next(&p, e, &tag, &v, &n)) return -1;
        if (tag == 0xa3 && !rtls_der_enter(at, e, 0xa3, &x, &xe) && !rtls_der_enter(x, xe, 0x30, &x, &xe) &&
            is_ca(x, xe))
            ta->flags = BR_X509_TA_CA; /* not a CA: a pinned server certificate */
    }
    return 0;
}

static void anchor_free(br_x509_trust_anchor *ta) {
    free(ta->dn.data);
    if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
        free(ta->pkey.key.rsa.n);
        free(ta->pkey.key.rsa.e);
    } else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
        free(ta->pkey.key.ec.q);
    }
}

static int add_anchor(struct rtls_conf *c, const char *name, const unsigned char *der, size_t n) {
    if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "TRUSTED CERTIFICATE") != 0) return 0;
    if (c->nta % 64 == 0) {
        br_x509_trust_anchor *more = realloc(c->ta, (c->nta + 64) * sizeof(*more));
        if (!more) return -1;
        c->ta = more;
    }
    int rc = anchor_of(der, n, &c->ta[c->nta]);
    if (rc) anchor_free(&c->ta[c->nta]); /* one this library cannot use (Ed25519...) is skipped */
    else c->nta++;
    return 0;
}

/* ---- the client's certificate and key ----------------------------------------------------- */

static int add_chain(struct rtls_conf *c, const char *name, const unsigned char *der, size_t n) {
    if (strcmp(name, "CERTIFICATE") != 0) return 0;
    br_x509_certificate *more = realloc(c->chain, (c->nchain + 1) * sizeof(*more));
    if (!more) return -1;
    c->chain = more;
    unsigned char *copy = malloc(n ? n : 1);
    if (!copy) return -1;
    memcpy(copy, der, n);
    c->chain[c->nchain].data = copy;
    c->chain[c->nchain++].data_len = n;
    return 0;
}

static int add_key(struct rtls_conf *c, const char *name, const unsigned char *der, size_t n) {
    if (strstr(name, "ENCRYPTED")) return 2;
    if (strcmp(name, "PRIVATE KEY") != 0 && strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0)
        return 0;
    br_skey_decoder_init(c->key);
    br_skey_decoder_push(c->key, der, n);
    return br_skey_decoder_last_error(c->key) == 0 ? 3 : 4; /* 3: found; stop at the first key */
}

static int load_client(struct rtls_conf *c, const char *cert_file, const char *key_file, char **err) {
    struct buf text;
    buf_init(&text);
    if (read_file(cert_file, "LLMSHIM_REDIS_CERT", &text, err) != 0) return -1;
    int rc = pem_each(c, text.data, text.len, add_chain);
    buf_free(&text);
    if (rc < 0 || !c->nchain) return redis_fail(err, "LLMSHIM_REDIS_CERT %s: no PEM certificate in it", cert_file);
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (!pk) return redis_fail(err, "LLMSHIM_REDIS_CERT %s: its first certificate cannot be decoded", cert_file);
    c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);

    c->key = calloc(1, sizeof(*c->key));
    if (!c->key) return redis_fail(err, "out of memory");
    buf_init(&text);
    if (read_file(key_file, "LLMSHIM_REDIS_KEY", &text, err) != 0) return -1;
    rc = pem_each(c, text.data, text.len, add_key);
    if (text.data) explicit_bzero(text.data, text.cap);
    buf_free(&text);
    if (rc == 2) return redis_fail(err, "LLMSHIM_REDIS_KEY %s: encrypted private keys are not supported", key_file);
    if (rc != 3)
        return redis_fail(err, "LLMSHIM_REDIS_KEY %s: no usable private key in it (PEM: RSA or EC, PKCS#1, SEC1 or PKCS#8)",
                    key_file);
    int type = br_skey_decoder_key_type(c->key);
    if (type != (int)pk->key_type)
        return redis_fail(err, "LLMSHIM_REDIS_KEY %s is an %s key but the certificate in %s holds an %s key", key_file,
                    type == BR_KEYTYPE_RSA ? "RSA" : "EC", cert_file, pk->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC");
    return 0;
}

/* ---- the whole ------------------------------------------------------------------------------ */

int rtls_conf_load(struct rtls_conf **out, const char *ca_file, const char *cert_file, const char *key_file,
                   char **err) {
    struct rtls_conf *c = calloc(1, sizeof(*c));
    if (!c) return redis_fail(err, "out of memory");
    if (!ca_file || !*ca_file) ca_file = RTLS_SYSTEM_CA;
    snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file);
    const char *what = strcmp(ca_file, RTLS_SYSTEM_CA) ? "LLMSHIM_REDIS_CA" : "the system's CA bundle";
    struct buf text;
    buf_init(&text);
    int rc = read_file(ca_file, what, &text, err);
    if (!rc) {
        rc = pem_each(c, text.data, text.len, add_anchor);
        if (rc < 0) rc = redis_fail(err, "%s %s: malformed PEM or out of memory", what, ca_file);
        else if (!c->nta) rc = redis_fail(err, "%s %s: no usable certificate in it", what, ca_file);
    }
    buf_free(&text);
    if (!rc && cert_file && *cert_file && key_file && *key_file) rc = load_client(c, cert_file, key_file, err);
    if (rc) {
        rtls_conf_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

const char *rtls_conf_ca(const struct rtls_conf *c) {
    return c->ca_file;
}

void rtls_conf_free(struct rtls_conf *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nta; i++) anchor_free(&c->ta[i]);
    free(c->ta);
    for (size_t i = 0; i < c->nchain; i++) free(c->chain[i].data);
    free(c->chain);
    if (c->key) explicit_bzero(c->key, sizeof(*c->key));
    free(c->key);
    free(c);
}
