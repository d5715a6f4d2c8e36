#!/usr/bin/env bash
# make check-valgrind: the real curl tool with the normal shim (build/) under valgrind memcheck,
# for each way a transfer can go: miss, hit, stream miss and hit, -i, --fail on a 500, a cut
# transfer, a replay miss, parallel transfers (-Z: the multi interface), the memory and Redis
# stores. Any memcheck error, or a block definitely lost, fails the test; nothing is suppressed
# (tests/valgrind/curl.supp is for libcurl's or OpenSSL's own, should one ever show).
. "$(dirname "$0")/../e2e/lib.sh"
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --num-callers=40 --suppressions="$ROOT/tests/valgrind/curl.supp")
U() { echo "$MOCK_URL/v1/chat/completions"; }
stream_req() { printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$1"; }

# vg NAME curl-args...: curl under the shim under memcheck; NAME.out, NAME.err, NAME.vg (log)
vg() {
    local name=$1; shift
    command -v valgrind >/dev/null || die "valgrind is not installed (make check-valgrind installs it)"
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        "${VG[@]}" --log-file="$name.vg" curl -sS "$@" >"$name.out" 2>"$name.err"
    local rc=$?
    [ $rc != 99 ] && grep -q 'ERROR SUMMARY: 0 errors' "$name.vg" ||
        die "memcheck ($name): $(grep -A12 -m2 -E 'Invalid|uninitialised|definitely lost in|Mismatched|overlap' "$name.vg" | head -40)"
    return $rc
}

test_miss_hit_and_include_headers() {
    vg miss "$(U)" -d "$(chat_req vg)" || die "$(cat miss.err)"
    vg hit "$(U)" -d "$(chat_req vg)" || die "$(cat hit.err)"
    assert_same_file hit.out miss.out
    vg incl -i "$(U)" -d "$(chat_req vg)" || die
    assert_contains "$(cat incl.out)" 'X-LLMShim-Cache: HIT'
    assert_count 1
}

test_multipart_miss_and_hit() {
    head -c 30000 /dev/urandom >a.wav
    for run in mmiss mhit; do
        vg $run "$MOCK_URL/v1/audio/transcriptions" -F file=@a.wav -F model=whisper-1 -F 'note=@-;filename=n.txt' \
            <<<"from stdin" || die "$(cat $run.err)"
    done
    assert_same_file mhit.out mmiss.out
    assert_count 1
}

test_stream_miss_and_hit() {
    vg smiss -N "$(U)" -d "$(stream_req "a b c")" || die
    vg shit -N "$(U)" -d "$(stream_req "a b c")" || die
    assert_same_file shit.out smiss.out
    assert_count 1
}

test_fail_500_cut_and_replay_miss() {
    vg fail --fail -H 'X-Mock-Status: 500' "$(U)" -d "$(chat_req e)"; assert_eq $? 22
    vg cut -H 'X-Mock-Cut: 1' "$(U)" -d "$(chat_req c)"; [ $? != 0 ] || die "a cut transfer succeeded"
    LLMSHIM_MODE=replay vg replay "$(U)" -d "$(chat_req r)"; assert_eq $? 7
    assert_eq "$(entries)" 0
}

test_parallel_transfers_and_memory_store() {
    vg par -Z "$(U)" -d "$(chat_req p)" --next -sS "$(U)" -d "$(chat_req q)" -o /dev/null || die "$(cat par.err)"
    vg par2 -Z "$(U)" -d "$(chat_req p)" --next -sS "$(U)" -d "$(chat_req q)" -o /dev/null || die
    LLMSHIM_BACKEND=memory vg mem "$(U)" -d "$(chat_req m)" --next -sS "$(U)" -d "$(chat_req m)" || die
}

test_redis_store() {
    . "$ROOT/tests/redis.sh"
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_BACKEND=memory,redis LLMSHIM_REDIS_URL=$REDIS_URL vg r1 "$(U)" -d "$(chat_req rd)" || die
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$REDIS_URL vg r2 "$(U)" -d "$(chat_req rd)" || die
    assert_same_file r2.out r1.out
    url=$REDIS_URL
    redis_stop >/dev/null
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$url vg r3 "$(U)" -d "$(chat_req rd)" || die
}

run_tests
