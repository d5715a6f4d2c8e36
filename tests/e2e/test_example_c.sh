#!/usr/bin/env bash
# examples/chat.c: a libcurl program with its own callbacks, unaware of llmshim.
. "$(dirname "$0")/lib.sh"
CHAT=$ROOT/build/examples/chat

test_own_callbacks_miss_then_hit() {
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "what is 2+2" >miss.out 2>miss.err || die "$(cat miss.err)"
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "what is 2+2" >hit.out 2>hit.err || die "$(cat hit.err)"
    assert_same_file hit.out miss.out
    assert_count 1
    assert_contains "$(cat miss.err)" "result=0 status=200 type=application/json"
    assert_contains "$(cat miss.err)" "cache=none"
    assert_contains "$(cat hit.err)" "result=0 status=200 type=application/json bytes=$(stat -c %s miss.out)"
    assert_contains "$(cat hit.err)" "cache=HIT"
}

test_reused_handle_and_copypostfields() {
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "reuse" --copy --repeat 3 >out 2>err || die "$(cat err)"
    assert_count 1
    assert_eq "$(grep -c 'cache=HIT' err)" 2 "the second and third perform on one handle are hits"
    assert_eq "$(grep -o 'answer #1 to: reuse' out | wc -l)" 3
}

test_big_answer_delivered_in_pieces_of_at_most_16k() {
    # X-Mock-Body-Bytes is a request header the example cannot send: curl records (with the
    # example's exact body), the example replays and reports its piece sizes
    shim_chat "$(printf '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "huge"}]}')" \
        -H 'X-Mock-Body-Bytes: 100000' -o rec.out || die
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "huge" >hit.out 2>hit.err || die "$(cat hit.err)"
    assert_contains "$(cat hit.err)" "cache=HIT"
    assert_same_file hit.out rec.out
    chunk=$(sed -n 's/.*max_chunk=\([0-9]*\).*/\1/p' hit.err)
    [ "$chunk" -le 16384 ] || die "a piece of $chunk bytes exceeds CURL_MAX_WRITE_SIZE"
    calls=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' hit.err)
    [ "$calls" -ge 7 ] || die "100 KB in $calls calls"
}

test_short_write_is_write_error_on_hit() {
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "abort" >/dev/null 2>&1 || die
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "abort" --abort >/dev/null 2>err; rc=$?
    assert_eq "$rc" 23 "CURLE_WRITE_ERROR"
    assert_contains "$(cat err)" "result=23"
    assert_count 1
}

test_same_output_without_the_shim() {
    "$CHAT" "$MOCK_URL/v1/chat/completions" "plain" >plain.out 2>plain.err || die
    assert_contains "$(cat plain.err)" "result=0 status=200"
    assert_eq "$(entries)" 0
}

run_tests
