#!/usr/bin/env bash
# Event-driven programs drive libcurl with curl_multi_socket_action and a timer callback: a hit
# never touches a socket, so llmshim fires the program's timer to get its answer delivered.
. "$(dirname "$0")/lib.sh"
CLIENT=$ROOT/build/clients/socket_action

test_socket_action_miss_then_hit() {
    [ -x "$CLIENT" ] || die "build/clients/socket_action is not built (make check builds it)"
    shim timeout 30 "$CLIENT" "$MOCK_URL/v1/chat/completions" one two three >miss.out 2>miss.err || die "miss run: $(cat miss.err)"
    assert_count 3
    assert_eq "$(grep -c 'answer #' miss.out)" 3
    shim timeout 30 "$CLIENT" "$MOCK_URL/v1/chat/completions" one two three >hit.out 2>hit.err || die "hit run hung or failed: $(cat hit.err)"
    assert_same_file hit.out miss.out
    assert_count 3 "all three answered from the cache, without a socket"
    shim timeout 30 "$CLIENT" "$MOCK_URL/v1/chat/completions" two four one >mix.out 2>mix.err || die "mixed run: $(cat mix.err)"
    assert_count 4 "one new prompt among two cached ones"
    assert_eq "$(sed -n 1p mix.out)" "$(sed -n 2p miss.out)"
    assert_eq "$(sed -n 3p mix.out)" "$(sed -n 1p miss.out)"
}

test_socket_action_without_shim_unchanged() {
    timeout 30 "$CLIENT" "$MOCK_URL/v1/chat/completions" a b >out 2>err || die "$(cat err)"
    assert_eq "$(grep -c 'answer #' out)" 2
    assert_eq "$(entries)" 0
}

run_tests
