#!/usr/bin/env bash
# PHP's curl extension (Debian php-cli + php-curl), which PHP loads with RTLD_DEEPBIND: curl_exec,
# curl_multi_* with two handles, and one handle reused with curl_reset.
. "$(dirname "$0")/lib.sh"
CLIENT=$ROOT/tests/e2e/clients/php_client.php
T=(timeout -k 5 60)

need_php() {
    command -v php >/dev/null || skip "php-cli is not installed"
    php -r 'exit(function_exists("curl_init") ? 0 : 1);' 2>/dev/null || skip "php-curl is not installed"
}

# phpc NAME MODE PROMPT... : the PHP client under the shim, NAME.out / NAME.err
phpc() {
    local name=$1; shift
    shim "${T[@]}" php "$CLIENT" "$1" "$MOCK_URL/v1/chat/completions" "${@:2}" \
        >"$name.out" 2>"$name.err" || die "php $*: rc=$? $(cat "$name.err")"
}

test_php_curl_exec_returntransfer() {
    need_php
    phpc miss exec "php hello" || die
    phpc hit exec "php hello" || die
    assert_count 1
    assert_contains "$(cat miss.out)" 'answer #1 to: php hello'
    assert_same_file hit.out miss.out
    assert_contains "$(cat miss.err)" 'exec#0 result=0 status=200'
    assert_contains "$(cat miss.err)" 'cache=none'
    assert_contains "$(cat hit.err)" "exec#0 result=0 status=200 bytes=$(($(stat -c %s miss.out) - 1)) cache=HIT"
}

test_php_curl_multi_two_handles() {
    need_php
    phpc miss multi "php multi one" "php multi two" || die
    assert_count 2
    assert_contains "$(sed -n 1p miss.out)" 'to: php multi one'
    assert_contains "$(sed -n 2p miss.out)" 'to: php multi two'
    assert_eq "$(entries)" 2 "both multi transfers stored"
    phpc hit multi "php multi one" "php multi two" || die
    assert_count 2 "the second curl_multi run must not leave the process"
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=0 status=200 .*cache=HIT' hit.err)" 2 "$(cat hit.err)"
}

test_php_curl_multi_hit_and_miss_together() {
    need_php
    phpc seed exec "php seeded" || die
    phpc mix multi "php seeded" "php new" || die
    assert_count 2 "only the new prompt goes upstream"
    assert_eq "$(sed -n 1p mix.out)" "$(cat seed.out)" "the hit in curl_multi"
    assert_contains "$(sed -n 2p mix.out)" 'answer #2 to: php new'
    assert_contains "$(grep 'multi#0' mix.err)" 'cache=HIT'
    assert_contains "$(grep 'multi#1' mix.err)" 'cache=none'
}

test_php_handle_reuse_with_curl_reset() {
    need_php
    phpc miss reset "php first" "php second" "php first" || die
    assert_count 2 "the third request repeats the first"
    assert_contains "$(sed -n 1p miss.out)" 'answer #1 to: php first'
    assert_contains "$(sed -n 2p miss.out)" 'answer #2 to: php second'
    assert_eq "$(sed -n 3p miss.out)" "$(sed -n 1p miss.out)" "a hit after curl_reset on the same handle"
    phpc hit reset "php first" "php second" "php first" || die
    assert_count 2
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=0 status=200 .*cache=HIT' hit.err)" 3 "$(cat hit.err)"
}

test_php_without_shim_unchanged() {
    need_php
    "${T[@]}" php "$CLIENT" multi "$MOCK_URL/v1/chat/completions" a b >out 2>err || die "$(cat err)"
    assert_count 2
    assert_eq "$(grep -c 'result=0 status=200 .*cache=none' err)" 2
}

run_tests
