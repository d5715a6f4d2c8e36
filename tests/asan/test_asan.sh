#!/usr/bin/env bash
# The sanitized shim (build-asan/) inside sanitized clients: what the curl-tool tests do, with
# programs that ASan can run in (tests/asan/client.c works like the curl tool), plus the C
# example, the threaded client, the memory, tiered and Redis stores, and allocation failure.
# Every process must end without an AddressSanitizer, LeakSanitizer or UBSan report.
export LLMSHIM_TEST_SHIM=${LLMSHIM_TEST_SHIM:-$(cd "$(dirname "$0")/../.." && pwd)/build-asan/libllmshim.so}
export LLMSHIM_TEST_PRELOAD=${LLMSHIM_TEST_PRELOAD:-$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)}
. "$(dirname "$0")/../e2e/lib.sh"
B=$ROOT/build-asan/clients
T=(timeout -k 5 120)
URL() { echo "$MOCK_URL/v1/chat/completions"; }

# No sanitizer report in the given files.
clean() {
    local hit
    hit=$(grep -h -m3 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)' "$@")
    [ -z "$hit" ] || die "sanitizer report: $hit"
}

# client NAME [args...]: the curl-like client under the shim; NAME.out, NAME.err; returns its exit status
client() {
    local name=$1; shift
    shim "${T[@]}" "$B/client" -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-test-SECRET-asan' \
        "$@" >"$name.out" 2>"$name.err"
    local rc=$?
    clean "$name.err"
    return $rc
}

test_miss_then_hit_identical_with_default_fwrite_and_dump_header() {
    client a -d "$(chat_req one)" -o a.body -D a.hdr "$(URL)" || die "$(cat a.err)"
    client b -d "$(chat_req one)" -o b.body -D b.hdr "$(URL)" || die "$(cat b.err)"
    assert_same_file b.body a.body
    assert_count 1
    assert_contains "$(cat b.hdr)" 'X-LLMShim-Cache: HIT'
    assert_contains "$(cat b.err)" 'result=0 status=200 bytes='
    assert_contains "$(cat b.err)" 'type=application/json cache=HIT'
}

test_include_headers_and_copypostfields() {
    client a -i --copy -d "$(chat_req two)" "$(URL)" || die "$(cat a.err)"
    client b -i --copy -d "$(chat_req two)" "$(URL)" || die "$(cat b.err)"
    assert_count 1
    assert_contains "$(cat b.out)" 'X-LLMShim-Cache: HIT'
    assert_eq "$(sed -n '$p' b.out)" "$(sed -n '$p' a.out)" "the body after the headers"
}

test_multipart_every_kind_of_part() {
    head -c 20000 /dev/urandom >a.wav
    for run in a b; do
        shim "${T[@]}" "$B/mime" "$MOCK_URL/v1/audio/transcriptions" a.wav >$run.out 2>$run.err || die "$(cat $run.err)"
        clean $run.err
    done
    assert_contains "$(cat b.err)" "1 rc=0 status=200 cache=HIT"
    assert_count 3 "one miss, and each run's duplicate handle"
}

test_stream_miss_then_hit() {
    body='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a b c d"}]}'
    client a -d "$body" "$(URL)" || die "$(cat a.err)"
    client b -d "$body" "$(URL)" || die "$(cat b.err)"
    assert_count 1
    assert_same_file b.out a.out
    assert_contains "$(cat b.out)" 'data: [DONE]'
}

test_short_write_on_miss_and_on_hit() {
    client a --short 10 -d "$(chat_req short)" "$(URL)"; assert_eq $? 23 "short write on a miss"
    assert_eq "$(entries)" 0 "an answer the app refused is not stored"
    client b -d "$(chat_req short)" "$(URL)" || die
    client c --short 10 -d "$(chat_req short)" "$(URL)"; assert_eq $? 23 "short write on a hit"
    assert_count 2
}

test_reused_duplicated_and_reset_handles() {
    client a --repeat 3 --get-between -d "$(chat_req reuse)" "$(URL)" || die "$(cat a.err)"
    assert_eq "$(grep -c 'cache=HIT' a.err)" 2 "the 2nd and 3rd POST hit"
    client b --repeat 3 --dup -d "$(chat_req reuse)" "$(URL)" || die "$(cat b.err)"
    assert_eq "$(grep -c 'cache=HIT' b.err)" 3
    client c --repeat 2 --reset --get-between --dup -d "$(chat_req reuse2)" "$(URL)" || die "$(cat c.err)"
    assert_eq "$(grep -c 'cache=HIT' c.err)" 1
}

test_errors_cut_and_replay_miss_store_nothing() {
    client a --fail -H 'X-Mock-Status: 500' -d "$(chat_req err)" "$(URL)"; assert_eq $? 22 "--fail on 500"
    client b -H 'X-Mock-Cut: 1' -d "$(chat_req cut)" "$(URL)"; rc=$?
    [ "$rc" != 0 ] || die "a cut transfer succeeded"
    assert_eq "$(entries)" 0
    LLMSHIM_MODE=replay client c -d "$(chat_req nothing)" "$(URL)"; assert_eq $? 7 "replay miss"
    assert_contains "$(cat c.err)" 'err=[llmshim: replay miss'
}

test_c_example_repeat_copy_abort() {
    shim "${T[@]}" "$B/chat" "$(URL)" "hello" --repeat 3 --copy >a.out 2>a.err || die "$(cat a.err)"
    clean a.err
    assert_eq "$(grep -c 'cache=HIT' a.err)" 2
    shim "${T[@]}" "$B/chat" "$(URL)" "hello" --abort >b.out 2>b.err; assert_eq $? 23
    clean b.err
}

test_threads_file_and_memory_stores() {
    for backend in file memory memory,file; do
        LLMSHIM_BACKEND=$backend shim "${T[@]}" "$B/threads" "$(URL)" --threads 4 --requests 10 --prompts 3 \
            --count-url "$MOCK_URL/__count" >"t.out" 2>"t.err" || die "$backend: $(tail -5 t.err)"
        clean t.err
        assert_contains "$(cat t.err)" 'errors=0 wrong_prompt=0 mismatches=0'
    done
}

test_redis_store_and_redis_killed() {
    . "$ROOT/tests/redis.sh"
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    export LLMSHIM_BACKEND=memory,redis LLMSHIM_REDIS_URL=$REDIS_URL
    client a -d "$(chat_req r)" "$(URL)" || die "$(cat a.err)"
    LLMSHIM_BACKEND=redis client b -d "$(chat_req r)" "$(URL)" || die "$(cat b.err)"
    assert_contains "$(cat b.err)" 'cache=HIT'
    redis_stop >/dev/null
    client c -d "$(chat_req r)" "$(URL)" || die "$(cat c.err)"
    assert_count 2 "redis gone: the network"
}

# TLS (handshake, record pump, certificate checks, a refused one), a cluster (slot map,
# redirections) and sentinels (discovery), each a miss then a hit in sanitized clients.
test_redis_tls_cluster_and_sentinel() {
    . "$ROOT/tests/redis.sh"
    certs=$TEST_TMP/certs
    bash "$ROOT/tests/redis_certs.sh" "$certs" || die "certificates"
    trap 'redis_stop >/dev/null 2>&1' EXIT
    redis_cluster_start 3 0 >/dev/null || die "cluster"
    cluster=$REDIS_CLUSTER_URL
    redis_start >/dev/null || die "redis"
    primary=$REDIS_PORT
    redis_start -- --replicaof 127.0.0.1 "$primary" >/dev/null || die "replica"
    redis_sentinels_start "$primary" mymaster 1 >/dev/null || die "sentinel"
    redis_start --tls "$certs" >/dev/null || die "tls"
    export LLMSHIM_BACKEND=redis
    i=0
    for url in "$REDIS_URL" "$cluster" "redis+sentinel://127.0.0.1:$REDIS_SENTINEL_PORTS/mymaster"; do
        i=$((i + 1))
        ca=; [ "$i" = 1 ] && ca=$certs/ca.pem # TLS settings go with a TLS URL only
        for run in a b; do
            LLMSHIM_REDIS_URL=$url LLMSHIM_REDIS_CA=$ca client "$run$i" -d "$(chat_req "r$i")" "$(URL)" ||
                die "$url: $(cat "$run$i.err")"
        done
        assert_contains "$(cat "b$i.err")" 'cache=HIT'
    done
    LLMSHIM_REDIS_URL=$REDIS_URL LLMSHIM_REDIS_CA=$certs/other-ca.pem client c -d "$(chat_req r1)" "$(URL)" || die
    assert_contains "$(cat c.err)" "not signed by a CA"
    assert_count 4 "a miss for each, then the refused certificate: the network"
}

test_key_scope_and_key_settings() {
    export LLMSHIM_KEY_SCOPE=credential LLMSHIM_KEY_IGNORE=/user,/messages/*/name LLMSHIM_NORMALIZE=whitespace,case
    client a -d '{"model":"m","messages":[{"role":"user","name":"x","content":"  Hi  There "}]}' "$(URL)" || die
    client b -d '{"model":"m","messages":[{"role":"user","name":"y","content":"hi there"}]}' "$(URL)" || die
    assert_contains "$(cat b.err)" 'cache=HIT'
}

# Allocation failure with leak detection: every N along a miss and a hit, as in
# tests/e2e/test_alloc_failure.sh, but every failure path must also free what it took.
test_gzip_answer_stored_decoded_and_encoded_again() {
    client a -d "$(chat_req zipped)" -H 'Accept-Encoding: gzip' -H 'X-Mock-Gzip: 1' -o a.gz "$(URL)" || die "$(cat a.err)"
    client b -d "$(chat_req zipped)" -H 'Accept-Encoding: gzip' -H 'X-Mock-Gzip: 1' -o b.gz "$(URL)" || die "$(cat b.err)"
    assert_count 1
    assert_eq "$(gunzip -c b.gz)" "$(gunzip -c a.gz)"
    client c -d "$(chat_req zipped)" -o c.body "$(URL)" || die "$(cat c.err)"
    assert_eq "$(cat c.body)" "$(gunzip -c a.gz)"
}

# The fidelity clients (getinfo table, pause, debug callback, a paced replay cut by its timeout
# on the multi API), sanitized, under the sanitized shim.
test_fidelity_clients_info_pause_verbose_paced_timeout() {
    local slow='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a b c d e f"}]}' m
    shim "${T[@]}" "$B/info" "$(URL)" --after-429 >info.out 2>info.err || die "$(grep -v '^ok' info.out) $(cat info.err)"
    clean info.err
    for m in pause nul verbose; do
        for run in miss hit; do
            shim "${T[@]}" "$B/fidelity" $m "$(URL)" "$(chat_req "$m")" --multi >$m.$run 2>$m.$run.err || die "$(cat $m.$run.err)"
            clean $m.$run.err
        done
        [ $m = verbose ] || assert_same_file $m.hit $m.miss
    done
    assert_contains "$(cat verbose.hit)" "first text: llmshim: answered from the cache"
    assert_eq "$(sed 2d verbose.hit)" "$(sed 2d verbose.miss)"
    shim "${T[@]}" "$B/client" -H 'X-Mock-Event-Delay-Ms: 100' -d "$slow" "$(URL)" >slow.out 2>slow.err || die "$(cat slow.err)"
    LLMSHIM_REPLAY_PACE=1 shim "${T[@]}" "$B/fidelity" loop "$(URL)" "$slow" --timeout-ms 300 >cut.out 2>cut.err || die
    clean cut.err
    assert_contains "$(cat cut.out)" "rc 28"
}

test_every_allocation_fails_once_without_a_leak() {
    client ref -d "$(chat_req leak)" -o expected "$(URL)" || die
    for path in miss hit; do
        for ((N = 1; N <= 2000; N++)); do
            rm -rf c
            [ $path = hit ] && cp -a "$CACHE" c
            mock_reset
            rm -f alloc.log
            LLMSHIM_DIR=$PWD/c LLMSHIM_TORTURE_FAIL_AT=$N LLMSHIM_TORTURE_LOG=$PWD/alloc.log \
                client t -d "$(chat_req leak)" -o out "$(URL)"; rc=$?
            [ $rc = 0 ] || die "$path N=$N: exit $rc: $(grep -v '^result' t.err | head -20)"
            cmp -s out expected || die "$path N=$N: another answer"
            n=$(sed -n 's/^allocations=\([0-9]*\).*/\1/p' alloc.log)
            [ -n "$n" ] || die "$path N=$N: no allocation count"
            [ "$n" -lt "$N" ] && break
        done
        [ "$N" -gt 20 ] || die "$path: only $N allocations"
    done
}

run_tests
