/* redis_tls_int: what redis_tls.c and redis_tls_conf.c share; nobody else includes it. */
#ifndef LLMSHIM_REDIS_TLS_INT_H
#define LLMSHIM_REDIS_TLS_INT_H

#include <bearssl.h>

struct rtls_conf {
    br_x509_trust_anchor *ta;
    size_t nta;
    br_x509_certificate *chain;  /* the client's, EE first; none without mutual TLS */
    size_t nchain;
    br_skey_decoder_context *key; /* the client's private key, decoded */
    unsigned issuer_key_type;     /* of the CA that signed the client's certificate */
    char ca_file[4096];
};

/* One DER element at *p (before end): tag, contents and their length; -1 when malformed. */
int rtls_der_next(const unsigned char **p, const unsigned char *end, unsigned *tag, const unsigned char **val,
                  size_t *len);
/* The contents of the element at p, which must have tag `want`, as [*b, *e); -1 otherwise. */
int rtls_der_enter(const unsigned char *p, const unsigned char *end, unsigned want, const unsigned char **b,
                   const unsigned char **e);

#endif
