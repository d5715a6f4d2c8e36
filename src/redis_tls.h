/* redis_tls: TLS for the Redis store, on BearSSL (linked statically and hidden, like hiredis):
 * the shape of hiredis 1.x's ssl.c, one file under an unchanged protocol layer.
 *
 * TLS 1.2 (BearSSL's newest), ECDHE with AES-GCM or ChaCha20-Poly1305 only. The server's chain
 * is verified against the trust anchors of rtls_conf; its name too, always: a DNS name by
 * BearSSL (SAN dNSName or CN, "*." wildcards), an IP address by us against the SAN iPAddress
 * entries (BearSSL matches names only, and an empty name there would accept any certificate a
 * trusted CA signed: the trap hiredis_ssl.h warns of). SNI carries DNS names, never addresses.
 *
 * Non-blocking sockets, every wait bounded by the caller's milliseconds (poll), never SIGPIPE.
 * Sessions are resumed from a per-server slot (struct rtls_cache), so a process pays one full
 * handshake per server, not one per connection. */
#ifndef LLMSHIM_REDIS_TLS_H
#define LLMSHIM_REDIS_TLS_H

#include <stdatomic.h>
#include <stddef.h>

#define RTLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

struct rtls_conf;  /* trust anchors, client certificate and key: loaded once, read-only after */
struct rtls;       /* one connection's engine and buffers */
struct rtls_session;

/* One resumable session per server, shared by threads without a lock. Zeroed = empty. */
struct rtls_cache {
    _Atomic(struct rtls_session *) slot;
};

/* Reads ca_file (NULL: RTLS_SYSTEM_CA) and, when both are given, the client's certificate chain
 * and private key (PEM: RSA or EC, PKCS#1, SEC1 or PKCS#8, not encrypted). 0, or -1 with *err
 * naming the file and what is wrong (never its contents). */
int rtls_conf_load(struct rtls_conf **out, const char *ca_file, const char *cert_file, const char *key_file,
                   char **err);
void rtls_conf_free(struct rtls_conf *c);
const char *rtls_conf_ca(const struct rtls_conf *c); /* the CA file's path, for messages */

/* Handshake on fd (connected, non-blocking) for a server that must prove to be `name` (a host
 * name or an IP address; never empty), within ms in all. NULL with *err saying what was wrong. */
struct rtls *rtls_connect(const struct rtls_conf *c, int fd, const char *name, struct rtls_cache *cache, int ms,
                          char **err);
int rtls_resumed(const struct rtls *t); /* 1: this connection resumed a cached session */

/* Sends all of p, each wait at most ms. 0, or -1 with errno (ETIMEDOUT, EPIPE, ECONNRESET, or
 * EPROTO: rtls_error says why). */
int rtls_write(struct rtls *t, const void *p, size_t n, int ms);
/* Decrypted bytes, waiting at most ms for some: *len of them at the pointer, valid until
 * rtls_read_done. NULL with errno as for rtls_write (ECONNRESET: the server closed). */
const unsigned char *rtls_read(struct rtls *t, size_t *len, int ms);
void rtls_read_done(struct rtls *t, size_t n);
const char *rtls_error(const struct rtls *t);
/* Frees the engine; sends nothing (a fork()ed child must not touch its parent's stream). */
void rtls_free(struct rtls *t);

void rtls_cache_clear(struct rtls_cache *c);

#endif
