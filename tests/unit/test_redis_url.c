/* Unit tests for the Redis URL parser (src/redis_url.h, src/redis_url.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

static struct redis_url ok(const char *url) {
    struct redis_url u;
    char *err = NULL;
    memset(&u, 0x5a, sizeof(u));
    if (redis_url_parse(url, &u, &err) != 0) fail_msg("%s: %s", url, err ? err : "(no message)");
    assert_null(err);
    return u;
}

/* The URL must be refused with a message containing `want`, and never echo `secret`. */
static void bad(const char *url, const char *want, const char *secret) {
    struct redis_url u;
    memset(&u, 0, sizeof(u));
    u.addr[0].port = 4242;
    char *err = NULL;
    if (redis_url_parse(url, &u, &err) != -1) fail_msg("%s: accepted", url ? url : "(null)");
    assert_non_null(err);
    if (strncmp(err, "redis URL: ", 11) != 0) fail_msg("%s: message without prefix: %s", url, err);
    if (!strstr(err, want)) fail_msg("%s: message [%s] lacks [%s]", url, err, want);
    if (secret && strstr(err, secret)) fail_msg("%s: message [%s] leaks [%s]", url, err, secret);
    assert_int_equal(u.addr[0].port, 4242); /* out untouched on failure */
    free(err);
}

static void test_url_defaults(void **state) {
    (void)state;
    struct redis_url u = ok("redis://");
    assert_int_equal(u.is_unix, 0);
    assert_string_equal(u.addr[0].host, "127.0.0.1");
    assert_int_equal(u.addr[0].port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    u = ok("redis://cache.example.com");
    assert_string_equal(u.addr[0].host, "cache.example.com");
    assert_int_equal(u.addr[0].port, 6379);
    u = ok("redis://:6380");
    assert_string_equal(u.addr[0].host, "127.0.0.1");
    assert_int_equal(u.addr[0].port, 6380);
    u = ok("REDIS://h/");
    assert_string_equal(u.addr[0].host, "h");
    assert_int_equal(u.db, 0);
}

static void test_url_host_port_db(void **state) {
    (void)state;
    struct redis_url u = ok("redis://10.1.2.3:7000/5");
    assert_string_equal(u.addr[0].host, "10.1.2.3");
    assert_int_equal(u.addr[0].port, 7000);
    assert_int_equal(u.db, 5);
    u = ok("redis://my-redis_1.internal:65535/15");
    assert_string_equal(u.addr[0].host, "my-redis_1.internal");
    assert_int_equal(u.addr[0].port, 65535);
    assert_int_equal(u.db, 15);
    u = ok("redis://h:1/0");
    assert_int_equal(u.addr[0].port, 1);
    u = ok("redis://h?db=3");
    assert_int_equal(u.db, 3);
}

static void test_url_ipv6(void **state) {
    (void)state;
    struct redis_url u = ok("redis://[::1]:6380/2");
    assert_string_equal(u.addr[0].host, "::1");
    assert_int_equal(u.addr[0].port, 6380);
    assert_int_equal(u.db, 2);
    u = ok("redis://[fe80::1:2]");
    assert_string_equal(u.addr[0].host, "fe80::1:2");
    assert_int_equal(u.addr[0].port, 6379);
    u = ok("redis://:pw@[::ffff:127.0.0.1]:7/1");
    assert_string_equal(u.addr[0].host, "::ffff:127.0.0.1");
    assert_string_equal(u.password, "pw");
    char label[64];
    u = ok("redis://[::1]:6380");
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "[::1]:6380");
}

static void test_url_credentials(void **state) {
    (void)state;
    /* redis-cli convention: ":pass" and a bare "pass" are the default user's password */
    struct redis_url u = ok("redis://:secret@h");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "secret");
    u = ok("redis://secret@h");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "secret");
    u = ok("redis://alice:wonder@h:1/2");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "wonder");
    assert_string_equal(u.addr[0].host, "h");
    assert_int_equal(u.addr[0].port, 1);
    assert_int_equal(u.db, 2);
    u = ok("redis://alice:@h");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "");
    /* percent-decoding; the password keeps every later ':' */
    u = ok("redis://al%69ce:p%40ss%3Aw%2Fo%23rd%25:x@h");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "p@ss:w/o#rd%:x");
    /* an unencoded '@' in the password: the last '@' ends the userinfo */
    u = ok("redis://:a@b@h");
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.addr[0].host, "h");
    /* query parameters */
    u = ok("redis://h/1?password=p%26w&user=bob");
    assert_string_equal(u.password, "p&w");
    assert_string_equal(u.user, "bob");
    u = ok("redis://h?username=carol&&password=x&");
    assert_string_equal(u.user, "carol");
    assert_string_equal(u.password, "x");
}

static void test_url_unix(void **state) {
    (void)state;
    struct redis_url u = ok("unix:///run/redis/redis.sock");
    assert_int_equal(u.is_unix, 1);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    u = ok("unix:///tmp/r.sock?db=7&password=p%20w&user=alice");
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 7);
    assert_string_equal(u.password, "p w");
    assert_string_equal(u.user, "alice");
    u = ok("unix://:pw@/tmp/r.sock?db=1");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 1);
    u = ok("unix://bob:pw@/tmp/r.sock");
    assert_string_equal(u.user, "bob");
    u = ok("UNIX:///tmp/with%20space.sock");
    assert_string_equal(u.path, "/tmp/with space.sock");
    char label[128];
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "/tmp/with space.sock");
    /* the longest path a sockaddr_un holds: 107 bytes */
    char url[200], path[108];
    memset(path, 'a', 107);
    path[0] = '/';
    path[107] = '\0';
    snprintf(url, sizeof(url), "unix://%s", path);
    u = ok(url);
    assert_string_equal(u.path, path);
}

static void test_url_label(void **state) {
    (void)state;
    char label[64];
    struct redis_url u = ok("redis://alice:secret@example.com:7000/3");
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "example.com:7000"); /* no credentials, no db */
    u = ok("redis://");
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "127.0.0.1:6379");
}

static void test_url_tls(void **state) {
    (void)state;
    struct redis_url u = ok("rediss://app:pw@cache.example.com:6380/2");
    assert_int_equal(u.tls, 1);
    assert_int_equal(u.topology, REDIS_SINGLE);
    assert_int_equal(u.naddr, 1);
    assert_string_equal(u.addr[0].host, "cache.example.com");
    assert_int_equal(u.addr[0].port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.user, "app");
    u = ok("REDISS://h");
    assert_int_equal(u.tls, 1);
    assert_int_equal(u.addr[0].port, 6379);
    u = ok("redis://h");
    assert_int_equal(u.tls, 0);
    assert_int_equal(u.topology, REDIS_SINGLE);
}

static void test_url_cluster(void **state) {
    (void)state;
    struct redis_url u = ok("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002");
    assert_int_equal(u.topology, REDIS_CLUSTER);
    assert_int_equal(u.tls, 0);
    assert_int_equal(u.naddr, 3);
    assert_string_equal(u.addr[0].host, "10.0.0.1");
    assert_int_equal(u.addr[0].port, 7000);
    assert_string_equal(u.addr[1].host, "10.0.0.2");
    assert_int_equal(u.addr[1].port, 6379);
    assert_string_equal(u.addr[2].host, "::1");
    assert_int_equal(u.addr[2].port, 7002);
    assert_string_equal(u.password, "pw");
    char label[128];
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "10.0.0.1:7000,10.0.0.2:6379,[::1]:7002");
    redis_url_label(&u, label, 12); /* cut short, still terminated */
    assert_string_equal(label, "10.0.0.1:70");
    u = ok("rediss+cluster://clustercfg.x.cache.amazonaws.com:6379/0");
    assert_int_equal(u.tls, 1);
    assert_int_equal(u.topology, REDIS_CLUSTER);
    assert_int_equal(u.naddr, 1);
    u = ok("redis+cluster://");
    assert_int_equal(u.naddr, 1);
    assert_string_equal(u.addr[0].host, "127.0.0.1");
    bad("redis+cluster://h/1", "a cluster has database 0 only", NULL);
    bad("redis+cluster://h?db=3", "a cluster has database 0 only", NULL);
    bad("redis+cluster://a,,b", "an empty host in the list", NULL);
    bad("redis+cluster://a,", "an empty host in the list", NULL);
    bad("redis+cluster://a:1,b:x", "port must be a number", NULL);
    bad("redis://a,b", "several hosts need redis+cluster://", NULL);
    bad("rediss://:pw@a:1,b:2", "several hosts need", "pw");
    bad("redis+cluster://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16 hosts", NULL);
}

static void test_url_sentinel(void **state) {
    (void)state;
    struct redis_url u = ok("redis+sentinel://:pw@s1,s2:26380,10.0.0.3:5000/my%2Dprimary/4");
    assert_int_equal(u.topology, REDIS_SENTINEL);
    assert_int_equal(u.naddr, 3);
    assert_string_equal(u.addr[0].host, "s1");
    assert_int_equal(u.addr[0].port, 26379); /* the sentinels' default port */
    assert_int_equal(u.addr[1].port, 26380);
    assert_int_equal(u.addr[2].port, 5000);
    assert_string_equal(u.master, "my-primary");
    assert_int_equal(u.db, 4);
    assert_string_equal(u.password, "pw");
    char label[128];
    redis_url_label(&u, label, sizeof(label));
    assert_string_equal(label, "primary 'my-primary' via s1:26379,s2:26380,10.0.0.3:5000");
    u = ok("rediss+sentinel://h/mymaster?db=2");
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.master, "mymaster");
    assert_int_equal(u.db, 2);
    u = ok("redis+sentinel://h/m/");
    assert_int_equal(u.db, 0);
    bad("redis+sentinel://h", "the primary's name is missing", NULL);
    bad("redis+sentinel://h/", "the primary's name is missing", NULL);
    bad("redis+sentinel://h//1", "the primary's name is missing", NULL);
    bad("redis+sentinel://h/m/x", "database must be a number", NULL);
    bad("redis+sentinel://h/m/1?db=2", "database is given twice", NULL);
    bad("redis+sentinel://h/a%20b", "space or control character", NULL);
    bad("redis+sentinel://:se/cret@h/m", "must be percent-encoded", "cret");
}

static void test_url_errors_scheme(void **state) {
    (void)state;
    bad(NULL, "empty", NULL);
    bad("", "empty", NULL);
    bad("127.0.0.1:6379", "no scheme", NULL);
    bad("http://h:6379", "unsupported scheme 'http'", NULL);
    bad("redis+proxy://h", "unsupported scheme 'redis+proxy'", NULL);
    bad("x$y://h", "unsupported scheme (expected", NULL);
}

static void test_url_errors_host_port(void **state) {
    (void)state;
    bad("redis://h:", "empty port", NULL);
    bad("redis://h:0", "port 0 is out of range (1-65535)", NULL);
    bad("redis://h:65536", "port 65536 is out of range", NULL);
    bad("redis://h:1234567890", "port must be a number from 1 to 65535", NULL);
    bad("redis://h:http", "port must be a number", NULL);
    bad("redis://h:-1", "port must be a number", NULL);
    bad("redis://ho st", "invalid character in the host", NULL);
    bad("redis://::1", "IPv6 address goes in brackets", NULL);
    bad("redis://fe80::1:6379", "IPv6 address goes in brackets", NULL);
    bad("redis://[::1", "closing ']'", NULL);
    bad("redis://[]:1", "invalid IPv6 address", NULL);
    bad("redis://[zz::1]", "invalid IPv6 address", NULL);
    bad("redis://[127.0.0.1]", "invalid IPv6 address", NULL);
    bad("redis://[::1]x", "unexpected text after ']'", NULL);
    char url[400];
    snprintf(url, sizeof(url), "redis://%0300d", 0);
    bad(url, "host is too long", NULL);
}

static void test_url_errors_db_query(void **state) {
    (void)state;
    bad("redis://h/x", "database must be a number", NULL);
    bad("redis://h/-1", "database must be a number", NULL);
    bad("redis://h/1/2", "database must be a number", NULL);
    bad("redis://h/1234567890", "database must be a number", NULL);
    bad("redis://h/1?db=2", "database is given twice", NULL);
    bad("redis://h?db=", "database must be a number", NULL);
    bad("redis://h?timeout=5", "unknown parameter 'timeout' (known: db, password, user)", NULL);
    bad("redis://h?na.me=1", "unknown parameter (known: db, password, user)", NULL);
    bad("redis://:a@h?password=b", "password is given twice", NULL);
    bad("redis://u:a@h?user=v", "user is given twice", NULL);
    bad("redis://h#frag", "'#' is not allowed", NULL);
    bad("unix:///s?db=1#x", "'#' is not allowed", NULL);
}

static void test_url_errors_unix(void **state) {
    (void)state;
    bad("unix://", "absolute path", NULL);
    bad("unix://relative.sock", "absolute path", NULL);
    bad("unix://host/tmp/r.sock", "absolute path", NULL);
    bad("unix://:pw@tmp/r.sock", "absolute path", "pw");
    bad("unix:///", "socket path is missing", NULL);
    bad("unix:///?db=1", "socket path is missing", NULL);
    bad("unix:///s?db=x", "database must be a number", NULL);
    bad("unix:///s?db=1&db=2", "database is given twice", NULL);
    char url[200], path[110];
    memset(path, 'a', 108);
    path[0] = '/';
    path[108] = '\0';
    snprintf(url, sizeof(url), "unix://%s", path);
    bad(url, "socket path is too long (at most 107 bytes)", NULL);
}

static void test_url_errors_encoding(void **state) {
    (void)state;
    bad("redis://:a%zz@h", "invalid percent-encoding in the password", "a%zz");
    bad("redis://:abc%4@h", "invalid percent-encoding in the password", "abc");
    bad("redis://:abc%@h", "invalid percent-encoding in the password", "abc");
    bad("redis://us%G0r:p@h", "invalid percent-encoding in the user", NULL);
    bad("redis://:a%00b@h", "password contains a NUL byte", NULL);
    bad("unix:///tmp/a%2", "invalid percent-encoding in the socket path", NULL);
    bad("redis://h?password=%x1", "invalid percent-encoding in the password", NULL);
    char url[700];
    snprintf(url, sizeof(url), "redis://:%0600d@h", 0);
    bad(url, "password is too long (at most 511 bytes)", "0000000000");
    snprintf(url, sizeof(url), "redis://%0300d:p@h", 0);
    bad(url, "user is too long (at most 255 bytes)", NULL);
}

/* A '/', '?' or '#' left unencoded in a password moves part of it into the port, path or query:
 * the message must say so without quoting it. */
static void test_url_errors_never_echo_password(void **state) {
    (void)state;
    bad("redis://:hunter/2secret@h", "must be percent-encoded", "2secret");
    bad("redis://:hunter2?xsecret@h", "must be percent-encoded", "xsecret");
    bad("redis://h?x=secret", "unknown parameter 'x'", "secret");
    bad("redis://h?secretvalue", "unknown parameter 'secretvalue'", NULL); /* a bare name is a name */
    bad("redis://:hun#ter2secret@h", "must be percent-encoded", "ter2secret");
    bad("redis://user:topsecret/x@h", "must be percent-encoded", "topsecret");
    bad("redis://h:topsecret", "port must be a number", "topsecret");
}

static void redacts(const char *url, const char *want) {
    char out[256];
    redis_url_redact(url, out, sizeof(out));
    if (strcmp(out, want) != 0) fail_msg("%s: [%s], wanted [%s]", url, out, want);
}

static void test_url_redact(void **state) {
    (void)state;
    redacts("redis://app:s3cret@h:1/2", "redis://app:***@h:1/2");
    redacts("rediss+sentinel://:s3cret@a,b/m/1", "rediss+sentinel://:***@a,b/m/1");
    redacts("redis://s3cret@h", "redis://***@h");
    redacts("redis://:a@b@h", "redis://:***@h");
    redacts("redis://h/1?user=u&password=s3cret&db=1", "redis://h/1?user=u&password=***&db=1");
    redacts("unix://:s3cret@/tmp/r.sock?db=1", "unix://:***@/tmp/r.sock?db=1");
    redacts("unix:///tmp/r.sock?password=s3cret", "unix:///tmp/r.sock?password=***");
    redacts("redis://h:6379", "redis://h:6379");
    redacts("not a url", "not a url");
    redacts("", "");
    char out[12];
    redis_url_redact("redis://u:s3cret@host", out, sizeof(out));
    assert_string_equal(out, "redis://u:*"); /* cut short: still no secret */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_defaults),
        cmocka_unit_test(test_url_host_port_db),
        cmocka_unit_test(test_url_ipv6),
        cmocka_unit_test(test_url_credentials),
        cmocka_unit_test(test_url_unix),
        cmocka_unit_test(test_url_label),
        cmocka_unit_test(test_url_tls),
        cmocka_unit_test(test_url_cluster),
        cmocka_unit_test(test_url_sentinel),
        cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_url_errors_scheme),
        cmocka_unit_test(test_url_errors_host_port),
        cmocka_unit_test(test_url_errors_db_query),
        cmocka_unit_test(test_url_errors_unix),
        cmocka_unit_test(test_url_errors_encoding),
        cmocka_unit_test(test_url_errors_never_echo_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
