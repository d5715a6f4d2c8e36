#!/usr/bin/env bash
# Time on a hit: LLMSHIM_REPLAY_PACE=1 replays a stream at its recorded pace, and the program's
# CURLOPT_TIMEOUT(_MS) still ends it with CURLE_OPERATION_TIMEDOUT (28) as libcurl would; on the
# multi API a paced hit is delivered across calls, so the program's event loop keeps turning; a
# caller waiting for another process's fetch of the same prompt keeps to its own timeout.
. "$(dirname "$0")/lib.sh"
FID=$ROOT/build/clients/fidelity
URL() { echo "$MOCK_URL/v1/chat/completions"; }
# ten words: eleven events 150 ms apart, about 1.5 s in all
SLOW='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight nine ten"}]}'

record_slow() {
    shim_chat "$SLOW" -H 'X-Mock-Event-Delay-Ms: 150' -o recorded.out || die "recording the slow stream"
    assert_eq "$(entries)" 1
}

ms() { date +%s%3N; }

test_paced_hit_honours_curl_max_time() {
    record_slow
    local t0 t1 rc
    t0=$(ms)
    LLMSHIM_REPLAY_PACE=1 shim_chat "$SLOW" --max-time 0.5 -o cut.out 2>cut.err; rc=$?
    t1=$(ms)
    assert_eq "$rc" 28 "curl's exit for CURLE_OPERATION_TIMEDOUT: $(cat cut.err)"
    assert_contains "$(cat cut.err)" "Operation timed out after"
    [ $((t1 - t0)) -lt 1200 ] || die "timed out after $((t1 - t0)) ms, not about 500"
    t0=$(ms)
    LLMSHIM_REPLAY_PACE=1 shim_chat "$SLOW" --max-time 10 -o whole.out || die "a timeout longer than the replay"
    t1=$(ms)
    assert_same_file whole.out recorded.out
    [ $((t1 - t0)) -ge 1000 ] || die "a paced replay of 1.5 s took $((t1 - t0)) ms"
    assert_count 1
}

test_paced_hit_timeout_on_easy_and_multi() {
    record_slow
    for api in easy multi; do
        local arg=(); [ $api = multi ] && arg=(--multi)
        LLMSHIM_REPLAY_PACE=1 shim timeout 20 "$FID" loop "$(URL)" "$SLOW" --timeout-ms 500 "${arg[@]}" >$api.out 2>$api.err ||
            die "$api: $(cat $api.err)"
        assert_contains "$(cat $api.out)" "rc 28" "$api: CURLE_OPERATION_TIMEDOUT"
        local total; total=$(sed -n 's/.*total_ms \([0-9]*\).*/\1/p' $api.err)
        [ "$total" -ge 450 ] && [ "$total" -lt 1200 ] || die "$api: ended after $total ms, not about 500"
    done
    assert_count 1
}

test_event_loop_keeps_turning_during_paced_replay() {
    record_slow
    LLMSHIM_REPLAY_PACE=1 shim timeout 20 "$FID" loop "$(URL)" "$SLOW" >loop.out 2>loop.err || die "$(cat loop.err)"
    assert_contains "$(cat loop.out)" "rc 0"
    assert_eq "$(sed -n '/^body /,$p' loop.out | sed '1s/^body //')" "$(cat recorded.out)" "the whole stream"
    read -r turns longest first last total < <(sed -n 's/turns \([0-9]*\) longest_perform_ms \([0-9]*\) first_piece_ms \([0-9-]*\) last_piece_ms \([0-9-]*\) total_ms \([0-9]*\)/\1 \2 \3 \4 \5/p' loop.err)
    [ "$longest" -lt 100 ] || die "one curl_multi_perform took $longest ms: the replay blocked the loop ($(cat loop.err))"
    [ "$turns" -ge 11 ] || die "the loop turned $turns times for 11 events"
    [ $((last - first)) -ge 1000 ] || die "the events came within $((last - first)) ms, not at the recorded pace"
    [ "$total" -lt 5000 ] || die "took $total ms"
    assert_count 1
}

test_event_loop_with_timer_callback_gets_a_paced_hit() {
    local client=$ROOT/build/clients/socket_action
    [ -x "$client" ] || die "build/clients/socket_action is not built"
    # one streamed prompt (eleven events 100 ms apart) and one plain one, at once
    shim timeout 30 "$client" "$(URL)" "~one two three four five six seven eight nine ten" "plain" >miss.out 2>&1 ||
        die "$(cat miss.out)"
    local t0 t1; t0=$(ms)
    LLMSHIM_REPLAY_PACE=1 shim timeout 30 "$client" "$(URL)" "~one two three four five six seven eight nine ten" "plain" \
        >hit.out 2>&1 || die "the loop, woken only by its timer, did not get the paced hit: $(cat hit.out)"
    t1=$(ms)
    assert_same_file hit.out miss.out
    assert_count 2
    [ $((t1 - t0)) -ge 900 ] || die "a paced replay of 1 s took $((t1 - t0)) ms"
    [ $((t1 - t0)) -lt 5000 ] || die "took $((t1 - t0)) ms"
}

test_coalescing_waiter_honours_its_timeout() {
    local body t0 t1 rc
    body=$(chat_req "slow to answer")
    shim_chat "$body" -H 'X-Mock-Delay-Ms: 3000' -o leader.out &
    local leader=$!
    sleep 0.5 # the leader holds the prompt's fill lock and waits for the mock
    t0=$(ms)
    shim_chat "$body" --max-time 0.5 -o waiter.out 2>waiter.err; rc=$?
    t1=$(ms)
    wait $leader || die "the leader failed"
    assert_eq "$rc" 28 "the waiter's own timeout: $(cat waiter.err)"
    [ $((t1 - t0)) -lt 1500 ] || die "the waiter gave up after $((t1 - t0)) ms, not about 500"
    assert_count 1 "the waiter never reached the network"
    # without a timeout of its own a waiter gets the leader's answer
    shim_chat "$body" -H 'X-Mock-Delay-Ms: 1000' -o second.out 2>/dev/null && assert_same_file second.out leader.out
}

run_tests
