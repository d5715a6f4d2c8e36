#!/usr/bin/env bash
# The shim under ThreadSanitizer inside TSan-built clients: 8 threads sharing prompts over the
# file, memory and tiered stores; a fork while another thread is inside libcurl; the event loop;
# the multi API from callbacks. Any data race or lock-order report fails the test.
export LLMSHIM_TEST_SHIM=${LLMSHIM_TEST_SHIM:-$(cd "$(dirname "$0")/../.." && pwd)/build-tsan/libllmshim.so}
. "$(dirname "$0")/../e2e/lib.sh"
B=$ROOT/build-tsan/clients
T=(timeout -k 5 180)
URL() { echo "$MOCK_URL/v1/chat/completions"; }

clean() {
    local hit
    hit=$(grep -h -m3 -E 'WARNING: ThreadSanitizer|SUMMARY: ThreadSanitizer' "$@")
    [ -z "$hit" ] || die "ThreadSanitizer report: $hit ($(grep -m12 -E '^    #[0-9]' "$@" | head -12))"
}

test_threads_every_store() {
    for backend in file memory memory,file; do
        LLMSHIM_BACKEND=$backend shim "${T[@]}" "$B/threads" "$(URL)" --threads 8 --requests 10 --prompts 3 \
            --count-url "$MOCK_URL/__count" >t.out 2>t.err || die "$backend: $(tail -5 t.err)"
        clean t.err
        assert_contains "$(cat t.err)" 'errors=0 wrong_prompt=0 mismatches=0'
    done
}

test_fork_while_another_thread_is_in_libcurl() {
    shim "${T[@]}" "$B/fork" "$(URL)" --busy 3 >f.out 2>f.err || die "$(tail -5 f.err)"
    clean f.err
    shim "${T[@]}" "$B/fork" "$(URL)" --child-reuse --repeat 3 >g.out 2>g.err || die "$(tail -5 g.err)"
    clean g.err
}

test_event_loop_and_reentry() {
    shim "${T[@]}" "$B/socket_action" "$(URL)" one two three >s.out 2>s.err || die "$(tail -5 s.err)"
    shim "${T[@]}" "$B/socket_action" "$(URL)" one two three >s2.out 2>s2.err || die "$(tail -5 s2.err)"
    clean s.err s2.err
    assert_same_file s2.out s.out
    shim "${T[@]}" "$B/reentry" "$(URL)" "$(chat_req re)" >r.out 2>r.err || die "$(tail -5 r.err)"
    shim "${T[@]}" "$B/reentry" "$(URL)" "$(chat_req re)" >r2.out 2>r2.err || die "$(tail -5 r2.err)"
    clean r.err r2.err
    assert_same_file r2.out r.out
}

run_tests
