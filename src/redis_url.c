/* redis_url: parses redis://, rediss://, the +cluster and +sentinel forms and unix:// URLs.
 * Messages name the part that is wrong but never echo text that could be a password: a '/', '?'
 * or '#' left unencoded in one shifts it into the port, path or query, so only digits and plain
 * parameter names are quoted back. */
#include "redis_url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* which parts were given, so that a part given twice (path and ?db=) is an error */
struct seen { int db, user, password; };

__attribute__((format(printf, 2, 3))) static int fail(char **err, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err) {
        char full[300];
        snprintf(full, sizeof(full), "redis URL: %s", msg);
        *err = strdup(full);
    }
    return -1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into dst (cap bytes, NUL included). */
static int decode(const char *s, size_t n, char *dst, size_t cap, const char *what, char **err) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0)
                return fail(err, "invalid percent-encoding in the %s (%% must be followed by two hex digits)", what);
            c = (char)(hi * 16 + lo);
            if (!c) return fail(err, "the %s contains a NUL byte (%%00)", what);
            i += 2;
        }
        if (o + 1 >= cap) return fail(err, "the %s is too long (at most %zu bytes)", what, cap - 1);
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

/* A decimal number of at most 9 digits in s[0..n); -1 if it is not one. */
static long number(const char *s, size_t n) {
    if (n == 0 || n > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int is_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

static int parse_db(const char *s, size_t n, struct redis_url *u, struct seen *seen, char **err) {
    if (seen->db++) return fail(err, "the database is given twice");
    long v = number(s, n);
    if (v < 0) return fail(err, "the database must be a number (0, 1, 2 ...)");
    u->db = (int)v;
    return 0;
}

/* "user:pass", ":pass" or "pass" (redis-cli: without a colon it is the password). */
static int parse_userinfo(const char *s, size_t n, struct redis_url *u, struct seen *seen, char **err) {
    const char *colon = memchr(s, ':', n);
    if (colon) {
        if (decode(s, (size_t)(colon - s), u->user, sizeof(u->user), "user", err)) return -1;
        n -= (size_t)(colon - s) + 1;
        s = colon + 1;
        seen->user = 1;
    }
    seen->password = 1;
    return decode(s, n, u->password, sizeof(u->password), "password", err);
}

/* "name=value&name=value" up to '#' or the end. */
static int parse_query(const char *q, struct redis_url *u, struct seen *seen, char **err) {
    while (*q && *q != '#') {
        size_t n = strcspn(q, "&#");
        const char *eq = memchr(q, '=', n);
        size_t name_len = eq ? (size_t)(eq - q) : n;
        const char *val = eq ? eq + 1 : q + n;
        size_t val_len = (size_t)(q + n - val);
        if (n == 0) {
            /* an empty piece: "?&db=1" or a trailing '&' */
        } else if (name_len == 2 && !strncmp(q, "db", 2)) {
            if (parse_db(val, val_len, u, seen, err)) return -1;
        } else if (name_len == 8 && !strncmp(q, "password", 8)) {
            if (seen->password++) return fail(err, "the password is given twice");
            if (decode(val, val_len, u->password, sizeof(u->password), "password", err)) return -1;
        } else if ((name_len == 4 && !strncmp(q, "user", 4)) || (name_len == 8 && !strncmp(q, "username", 8))) {
            if (seen->user++) return fail(err, "the user is given twice");
            if (decode(val, val_len, u->user, sizeof(u->user), "user", err)) return -1;
        } else {
            int plain = name_len > 0 && name_len <= 32;
            for (size_t i = 0; plain && i < name_len; i++)
                plain = (q[i] >= 'a' && q[i] <= 'z') || (q[i] >= 'A' && q[i] <= 'Z') || q[i] == '_' ||
                        (q[i] >= '0' && q[i] <= '9');
            if (plain) return fail(err, "unknown parameter '%.*s' (known: db, password, user)", (int)name_len, q);
            return fail(err, "unknown parameter (known: db, password, user)");
        }
        q += n;
        if (*q == '&') q++;
    }
    if (*q == '#') return fail(err, "'#' is not allowed (percent-encode it as %%23)");
    return 0;
}

static int valid_host(const char *s, size_t n, int v6) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = v6 ? (hexval(c) >= 0 || c == ':' || c == '.')
                    : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_');
        if (!ok) return 0;
    }
    return !v6 || memchr(s, ':', n) != NULL;
}

/* host[:port] or [v6][:port] in s[0..n) */
static int parse_hostport(const char *s, size_t n, struct redis_addr *u, char **err) {
    const char *end = s + n, *host = s, *p;
    size_t host_len;
    if (n && *s == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return fail(err, "an IPv6 address needs a closing ']'");
        host = s + 1;
        host_len = (size_t)(close - host);
        if (!host_len || !valid_host(host, host_len, 1)) return fail(err, "invalid IPv6 address in brackets");
        p = close + 1;
        if (p < end && *p != ':') return fail(err, "unexpected text after ']' (expected :port)");
    } else {
        p = memchr(s, ':', n);
        if (!p) p = end;
        host_len = (size_t)(p - s);
        if (!valid_host(host, host_len, 0))
            return fail(err, "invalid character in the host (IPv6 addresses go in brackets: [::1]; "
                             "'/', '?', '#' and '@' in a password must be percent-encoded)");
    }
    if (host_len >= sizeof(u->host)) return fail(err, "the host is too long");
    if (host_len) {
        memcpy(u->host, host, host_len);
        u->host[host_len] = '\0';
    }
    if (p == end) return 0;
    p++; /* ':' */
    size_t plen = (size_t)(end - p);
    if (!plen) return fail(err, "empty port after ':'");
    if (memchr(p, ':', plen)) return fail(err, "an IPv6 address goes in brackets: redis://[::1]:6379");
    long port = number(p, plen);
    if (port < 1 || port > 65535) {
        if (is_digits(p, plen) && plen <= 9) return fail(err, "port %ld is out of range (1-65535)", port);
        return fail(err, "the port must be a number from 1 to 65535");
    }
    u->port = (int)port;
    return 0;
}

/* "host[:port],host[:port]..." in s[0..n): one address unless several are allowed. */
static int parse_hosts(const char *s, size_t n, struct redis_url *u, int port, char **err) {
    const char *end = s + n;
    int several = u->topology != REDIS_SINGLE;
    if (!several && memchr(s, ',', n))
        return fail(err, "several hosts need redis+cluster:// (a cluster's nodes) or redis+sentinel:// (sentinels)");
    for (u->naddr = 0; s <= end; u->naddr++) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        size_t len = (size_t)((comma ? comma : end) - s);
        if (u->naddr == REDIS_URL_MAX_HOSTS) return fail(err, "more than %d hosts", REDIS_URL_MAX_HOSTS);
        struct redis_addr *a = &u->addr[u->naddr];
        strcpy(a->host, "127.0.0.1");
        a->port = port;
        if (several && !len && n) return fail(err, "an empty host in the list of hosts");
        if (parse_hostport(s, len, a, err)) return -1;
        if (!comma) break;
        s = comma + 1;
    }
    u->naddr++;
    return 0;
}

/* The sentinel form's path: /MASTER[/db] in s[0..n), s just past the first '/'. */
static int parse_master(const char *s, size_t n, struct redis_url *u, struct seen *seen, char **err) {
    const char *slash = memchr(s, '/', n);
    size_t len = slash ? (size_t)(slash - s) : n;
    if (decode(s, len, u->master, sizeof(u->master), "primary's name", err)) return -1;
    if (!u->master[0])
        return fail(err, "the primary's name is missing: redis+sentinel://host:26379/mymaster[/db]");
    for (const char *c = u->master; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return fail(err, "the primary's name contains a space or control character");
    return slash && n - len > 1 ? parse_db(slash + 1, n - len - 1, u, seen, err) : 0;
}

static int parse_redis(const char *p, struct redis_url *u, struct seen *seen, char **err) {
    size_t alen = strcspn(p, "/?#");
    const char *aend = p + alen;
    const char *at = NULL;
    for (const char *q = p; q < aend; q++)
        if (*q == '@') at = q; /* the last one: an unencoded '@' in a password still parses */
    /* an '@' later, not in a parameter value: a '/', '?' or '#' cut the userinfo short */
    const char *later = strchr(aend, '@');
    if (later && !memchr(aend, '=', (size_t)(later - aend)))
        return fail(err, "'@' after the host ('/', '?' and '#' in a password must be percent-encoded)");
    if (at) {
        if (parse_userinfo(p, (size_t)(at - p), u, seen, err)) return -1;
        p = at + 1;
    }
    int port = u->topology == REDIS_SENTINEL ? 26379 : 6379;
    if (parse_hosts(p, (size_t)(aend - p), u, port, err)) return -1;
    p = aend;
    if (*p == '/') {
        size_t n = strcspn(++p, "?#");
        if (u->topology == REDIS_SENTINEL) {
            if (parse_master(p, n, u, seen, err)) return -1;
        } else if (n && parse_db(p, n, u, seen, err)) {
            return -1;
        }
        p += n;
    } else if (u->topology == REDIS_SENTINEL) {
        return fail(err, "the primary's name is missing: redis+sentinel://host:26379/mymaster[/db]");
    }
    if ((*p == '?' ? parse_query(p + 1, u, seen, err) : parse_query(p, u, seen, err)) != 0) return -1;
    if (u->topology == REDIS_CLUSTER && u->db)
        return fail(err, "a cluster has database 0 only (cluster mode has no SELECT)");
    return 0;
}

static int parse_unix(const char *p, struct redis_url *u, struct seen *seen, char **err) {
    if (*p != '/') {
        const char *at = strchr(p, '@');
        const char *slash = strchr(p, '/');
        if (!at || (slash && slash < at) || at[1] != '/')
            return fail(err, "a unix socket URL needs an absolute path: unix:///path/to/redis.sock");
        if (parse_userinfo(p, (size_t)(at - p), u, seen, err)) return -1;
        p = at + 1;
    }
    size_t n = strcspn(p, "?#");
    if (decode(p, n, u->path, sizeof(u->path), "socket path", err)) return -1;
    if (!strcmp(u->path, "/")) return fail(err, "the socket path is missing: unix:///path/to/redis.sock");
    p += n;
    return *p == '?' ? parse_query(p + 1, u, seen, err) : parse_query(p, u, seen, err);
}

/* The schemes of the TCP forms: TLS or not, and the topology. */
static const struct scheme {
    const char *name;
    int tls;
    enum redis_topology topology;
} schemes[] = {
    {"redis://", 0, REDIS_SINGLE},          {"rediss://", 1, REDIS_SINGLE},
    {"redis+cluster://", 0, REDIS_CLUSTER},   {"rediss+cluster://", 1, REDIS_CLUSTER},
    {"redis+sentinel://", 0, REDIS_SENTINEL}, {"rediss+sentinel://", 1, REDIS_SENTINEL},
};

#define EXPECTED "expected redis://, rediss://, redis+cluster://, redis+sentinel:// or unix://"

int redis_url_parse(const char *url, struct redis_url *out, char **err) {
    struct redis_url u;
    struct seen seen = {0, 0, 0};
    memset(&u, 0, sizeof(u));
    strcpy(u.addr[0].host, "127.0.0.1");
    u.addr[0].port = 6379;
    u.naddr = 1;
    if (!url || !*url) return fail(err, "empty (expected redis://host:port/db or unix:///path/to/redis.sock)");
    const char *sep = strstr(url, "://");
    int rc = 1;
    for (size_t i = 0; rc == 1 && i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].name);
        if (strncasecmp(url, schemes[i].name, n) != 0) continue;
        u.tls = schemes[i].tls;
        u.topology = schemes[i].topology;
        rc = parse_redis(url + n, &u, &seen, err);
    }
    if (rc == 1 && !strncasecmp(url, "unix://", 7)) {
        u.is_unix = 1;
        rc = parse_unix(url + 7, &u, &seen, err);
    }
    if (rc == 1 && !sep) return fail(err, "no scheme (expected redis://host:port/db or unix:///path/to/redis.sock)");
    if (rc == 1) {
        int plain = sep - url <= 16;
        for (const char *c = url; plain && c < sep; c++)
            plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '+';
        if (plain) return fail(err, "unsupported scheme '%.*s' (" EXPECTED ")", (int)(sep - url), url);
        return fail(err, "unsupported scheme (" EXPECTED ")");
    }
    if (rc) return -1;
    *out = u;
    return 0;
}

void redis_addr_label(const char *host, int port, char *out, size_t n) {
    if (strchr(host, ':')) snprintf(out, n, "[%s]:%d", host, port);
    else snprintf(out, n, "%s:%d", host, port);
}

void redis_url_label(const struct redis_url *u, char *out, size_t n) {
    if (!n) return;
    out[0] = '\0';
    if (u->is_unix) {
        snprintf(out, n, "%s", u->path);
        return;
    }
    size_t len = 0;
    if (u->topology == REDIS_SENTINEL) {
        snprintf(out, n, "primary '%s' via ", u->master);
        len = strlen(out);
    }
    for (int i = 0; i < u->naddr && len + 1 < n; i++) {
        if (i) out[len++] = ',';
        redis_addr_label(u->addr[i].host, u->addr[i].port, out + len, n - len);
        len += strlen(out + len);
    }
    out[len < n ? len : n - 1] = '\0';
}

void redis_url_redact(const char *url, char *out, size_t n) {
    if (!n) return;
    size_t o = 0;
    const char *p = url ? url : "", *sep = strstr(p, "://");
    const char *auth = sep ? sep + 3 : p, *aend = auth + strcspn(auth, "/?#"), *at = NULL;
    for (const char *q = auth; q < aend; q++)
        if (*q == '@') at = q;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    while (*p && o + 1 < n) {
        if (at && p == (colon ? colon + 1 : auth)) { /* the password: "***" in its place */
            for (const char *m = "***"; *m && o + 1 < n; m++) out[o++] = *m;
            p = at;
            continue;
        }
        if (*p == '?' || *p == '&') { /* ?password=x: the value hidden too */
            out[o++] = *p++;
            if (!strncmp(p, "password=", 9)) {
                for (int i = 0; i < 9 && o + 1 < n; i++) out[o++] = *p++;
                for (const char *m = "***"; *m && o + 1 < n; m++) out[o++] = *m;
                p += strcspn(p, "&#");
            }
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}
