#!/usr/bin/env bash
# Ruby's ethon (Debian ruby-ethon): libcurl through FFI, every function looked up with dlsym on
# ethon's own library handle. Easy perform, one easy reused with reset, and Ethon::Multi
# (multi_perform, multi_timeout, multi_fdset + select, multi_info_read).
. "$(dirname "$0")/lib.sh"
CLIENT=$ROOT/tests/e2e/clients/ethon_client.rb
T=(timeout -k 5 60)

need_ethon() {
    command -v ruby >/dev/null || skip "ruby is not installed"
    ruby -e 'require "ethon"' >/dev/null 2>&1 || skip "ethon is not installed (ruby-ethon)"
}

# rb NAME MODE PROMPT... : the ethon client under the shim, NAME.out / NAME.err
rb() {
    local name=$1; shift
    shim "${T[@]}" ruby "$CLIENT" "$1" "$MOCK_URL/v1/chat/completions" "${@:2}" \
        >"$name.out" 2>"$name.err" || die "ruby $*: rc=$? $(cat "$name.err")"
}

test_ethon_easy_perform() {
    need_ethon
    rb miss easy "rb hello" || die
    rb hit easy "rb hello" || die
    assert_count 1
    assert_contains "$(cat miss.out)" 'answer #1 to: rb hello'
    assert_same_file hit.out miss.out
    assert_contains "$(cat miss.err)" 'easy#0 result=ok status=200'
    assert_contains "$(cat miss.err)" 'cache=none'
    assert_contains "$(cat hit.err)" "easy#0 result=ok status=200 bytes=$(($(stat -c %s miss.out) - 1)) cache=HIT"
}

test_ethon_easy_reused_with_reset() {
    need_ethon
    rb miss reuse "rb first" "rb second" "rb first" || die
    assert_count 2 "the third request repeats the first"
    assert_eq "$(sed -n 3p miss.out)" "$(sed -n 1p miss.out)" "a hit after reset on the same easy"
    rb hit reuse "rb first" "rb second" "rb first" || die
    assert_count 2
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=ok status=200 .*cache=HIT' hit.err)" 3 "$(cat hit.err)"
}

test_ethon_multi_two_easies() {
    need_ethon
    rb miss multi "rb multi one" "rb multi two" || die
    assert_count 2
    assert_contains "$(sed -n 1p miss.out)" 'to: rb multi one'
    assert_contains "$(sed -n 2p miss.out)" 'to: rb multi two'
    assert_eq "$(entries)" 2 "both multi transfers stored"
    rb hit multi "rb multi one" "rb multi two" || die
    assert_count 2 "the second Ethon::Multi run must not leave the process"
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=ok status=200 .*cache=HIT' hit.err)" 2 "$(cat hit.err)"
}

test_ethon_multi_hit_and_miss_together() {
    need_ethon
    rb seed easy "rb seeded" || die
    rb mix multi "rb seeded" "rb new" || die
    assert_count 2 "only the new prompt goes upstream"
    assert_eq "$(sed -n 1p mix.out)" "$(cat seed.out)" "the hit in Ethon::Multi"
    assert_contains "$(sed -n 2p mix.out)" 'answer #2 to: rb new'
    assert_contains "$(grep 'multi#0' mix.err)" 'cache=HIT'
    assert_contains "$(grep 'multi#1' mix.err)" 'cache=none'
}

run_tests
