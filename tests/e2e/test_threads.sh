#!/usr/bin/env bash
# A C program with 8 threads, one easy handle each (tests/e2e/clients/threads.c): 8 threads x 25
# requests over 5 prompts. After the first round every answer to a prompt is the same and nothing
# more goes upstream; a second run is all hits.
. "$(dirname "$0")/lib.sh"
THREADS=$ROOT/build/clients/threads
T=(timeout -k 5 120)

# thr NAME [args...] : the threads client under the shim, NAME.out / NAME.err
thr() {
    local name=$1; shift
    [ -x "$THREADS" ] || die "$THREADS is not built (make check builds it)"
    shim "${T[@]}" "$THREADS" "$MOCK_URL/v1/chat/completions" --count-url "$MOCK_URL/__count" "$@" \
        >"$name.out" 2>"$name.err" || die "threads: rc=$? $(cat "$name.err")"
}

test_threads_8x25_file_store() {
    thr first --delay-ms 20 || die
    assert_contains "$(cat first.err)" 'requests=200 errors=0 wrong_prompt=0 mismatches=0'
    assert_contains "$(cat first.err)" 'upstream_after_round1=0'
    n=$(mock_count)
    # the first round asks 5 prompts 8 times each, some of them at the same moment
    [ "$n" -ge 5 ] && [ "$n" -le 40 ] || die "first run sent $n requests upstream (5..40 expected)"
    assert_eq "$(entries)" 5 "one entry per prompt"
    thr second --delay-ms 20 || die
    assert_count "$n" "the second run must not leave the process"
    assert_contains "$(cat second.err)" 'requests=200 errors=0 wrong_prompt=0 mismatches=0 hits=200 upstream_after_round1=0'
    assert_same_file second.out first.out "the answer to each prompt"
}

test_threads_8x25_memory_store() {
    LLMSHIM_BACKEND=memory thr run --delay-ms 20 || die
    assert_contains "$(cat run.err)" 'requests=200 errors=0 wrong_prompt=0 mismatches=0'
    assert_contains "$(cat run.err)" 'upstream_after_round1=0'
    n=$(mock_count)
    [ "$n" -ge 5 ] && [ "$n" -le 40 ] || die "sent $n requests upstream (5..40 expected)"
    hits=$(sed -n 's/.*hits=\([0-9]*\).*/\1/p' run.err)
    [ "$hits" -ge 160 ] || die "only $hits hits: every transfer after the first round must hit"
    assert_eq "$(entries)" 0 "the memory backend writes no files"
}

test_threads_without_shim_unchanged() {
    [ -x "$THREADS" ] || die "$THREADS is not built (make check builds it)"
    "${T[@]}" "$THREADS" "$MOCK_URL/v1/chat/completions" --requests 5 >out 2>err; rc=$?
    assert_eq "$rc" 0 "$(cat err)"
    assert_count 40
    assert_contains "$(cat err)" 'requests=40 errors=0 wrong_prompt=0'
}

run_tests
