/* Unit tests for the hash slots of src/redis_cluster.c: the keys of a cluster go where Redis
 * says they belong (values from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "redis_cluster.h"

static unsigned slot(const char *key) {
    return cluster_slot(key, strlen(key));
}

static void test_slot_values(void **state) {
    (void)state;
    assert_int_equal(slot("123456789"), 0x31c3 & 16383); /* the CRC16-XMODEM check value */
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot(""), 0);
    assert_int_equal(cluster_slot("a\0b", 3), cluster_slot("a\0b", 3)); /* binary keys */
    for (int i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "llmshim:v1::%d", i);
        assert_true(slot(k) < CLUSTER_SLOTS);
    }
}

/* {hash tags}: the first '{', then the next '}', with something between. */
static void test_slot_hash_tags(void **state) {
    (void)state;
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    assert_int_equal(slot("{user1000}.followers"), slot("user1000"));
    assert_int_equal(slot("llmshim:v1:{team}:abc"), slot("team"));
    assert_int_equal(slot("llmshim:v1:{team}:lock:abc"), slot("team"));
    assert_int_equal(slot("foo{}{bar}"), cluster_slot("foo{}{bar}", 10)); /* empty tag: the whole key */
    assert_int_not_equal(slot("foo{}{bar}"), slot("bar"));
    assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    assert_int_equal(slot("{no close"), cluster_slot("{no close", 9));
    assert_int_not_equal(slot("{no close"), slot("no close"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_values),
        cmocka_unit_test(test_slot_hash_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
