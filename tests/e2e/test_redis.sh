#!/usr/bin/env bash
# LLMSHIM_BACKEND=redis: one cache for every process and machine, a real redis-server started
# here on a free loopback port, failing open when it is stopped, killed or wrong.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/redis.sh"

rshim() { LLMSHIM_BACKEND=${LLMSHIM_BACKEND:-redis} LLMSHIM_REDIS_URL=${LLMSHIM_REDIS_URL:-$REDIS_URL} shim "$@"; }
rchat() { local body=$1; shift; rshim curl -sS "$MOCK_URL/v1/chat/completions" -d "$body" "$@"; }

test_processes_with_different_dirs_share_through_redis() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_BACKEND=memory,redis LLMSHIM_DIR=$TEST_TMP/a rchat "$(chat_req shared)" >a.out || die
    LLMSHIM_BACKEND=memory,redis LLMSHIM_DIR=$TEST_TMP/b rchat "$(chat_req shared)" >b.out 2>err || die
    assert_same_file b.out a.out
    assert_count 1 "the second process found the answer in redis"
    assert_eq "$(cat err)" ""
    [ ! -e "$TEST_TMP/a" ] && [ ! -e "$TEST_TMP/b" ] || die "the redis backend wrote files"
}

test_keys_carry_prefix_namespace_and_ttl() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_NAMESPACE=team1 LLMSHIM_TTL=3600 rchat "$(chat_req k)" >/dev/null || die
    keys=$(redis_cli --raw keys 'llmshim:v1:*' | grep -v ':stats$')
    [[ $keys =~ ^llmshim:v1:team1:[0-9a-f]{64}$ ]] || die "unexpected keys: $keys"
    pttl=$(redis_cli pttl "$keys")
    [ "$pttl" -gt 3590000 ] && [ "$pttl" -le 3600000 ] || die "PTTL $pttl for a one-hour TTL"
    assert_contains "$(redis_cli --raw get "$keys")" '"answer #1 to: k'
    assert_contains "$(redis_cli --raw hgetall llmshim:v1:team1:stats)" 'custom'
}

test_password_acl_user_and_unix_socket() {
    redis_start --acl-user app 's3cr3t pass' >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    rchat "$(chat_req acl)" >/dev/null || die
    rchat "$(chat_req acl)" >/dev/null 2>err || die
    assert_count 1 "ACL user authenticated"
    assert_eq "$(cat err)" ""
    LLMSHIM_REDIS_URL="unix://app:s3cr3t%20pass@$REDIS_SOCK" rchat "$(chat_req acl)" >/dev/null 2>err || die
    assert_count 1 "through the unix socket too"
    LLMSHIM_REDIS_URL="redis://app:wrong@127.0.0.1:$REDIS_PORT/0" rchat "$(chat_req acl)" >out 2>err || die "a bad password must not break the call"
    assert_count 2
    assert_eq "$(grep -c '^llmshim: ' err)" 1 "one clear line"
    assert_not_contains "$(cat err)" "wrong" "the password is not printed"
}

test_stopped_redis_costs_at_most_the_timeout() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    rchat "$(chat_req st)" >/dev/null || die
    kill -STOP "$REDIS_PID"
    t0=$(date +%s%N)
    LLMSHIM_REDIS_TIMEOUT_MS=250 rchat "$(chat_req st)" >out 2>err || die "a stalled redis broke the call"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    kill -CONT "$REDIS_PID"
    assert_contains "$(cat out)" 'answer #2' "the call went to the network"
    assert_eq "$(grep -c '^llmshim: ' err)" 1
    [ "$ms" -lt 2500 ] || die "a stalled redis held the call for ${ms} ms (timeout 250 ms)"
}

test_killed_redis_fails_open_then_resumes() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    port=$REDIS_PORT url=$REDIS_URL
    rchat "$(chat_req kill)" >/dev/null || die
    redis_stop >/dev/null
    LLMSHIM_REDIS_URL=$url rchat "$(chat_req kill)" -d '' >/dev/null 2>err; true
    LLMSHIM_REDIS_URL=$url rchat "$(chat_req kill)" >out 2>err || die "redis down broke the call"
    assert_contains "$(cat err)" "127.0.0.1:$port"
    assert_count 3 "with redis down every call goes to the network"
    env -u LD_PRELOAD redis-server --port "$port" --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
    for i in $(seq 50); do env -u LD_PRELOAD redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    LLMSHIM_REDIS_URL=$url rchat "$(chat_req kill)" >/dev/null || die
    LLMSHIM_REDIS_URL=$url rchat "$(chat_req kill)" >/dev/null 2>err || die
    assert_count 4 "caching resumed after the restart"
    assert_eq "$(cat err)" ""
}

test_through_nutcracker_in_front_of_two_servers() {
    command -v nutcracker >/dev/null || die "nutcracker is not installed (make deps)"
    redis_start >/dev/null || die "redis"; p1=$REDIS_PORT
    redis_start >/dev/null || die "redis"; p2=$REDIS_PORT
    np=
    trap 'kill $np 2>/dev/null; wait $np 2>/dev/null; redis_stop' EXIT
    # a port below the ephemeral range; another one if that is taken (nutcracker then exits)
    for try in 1 2 3 4 5; do
        nport=$((20000 + RANDOM % 12000))
        cat >nc.yml <<YML
pool:
  listen: 127.0.0.1:$nport
  hash: fnv1a_64
  distribution: ketama
  redis: true
  timeout: 1000
  servers:
   - 127.0.0.1:$p1:1
   - 127.0.0.1:$p2:1
YML
        env -u LD_PRELOAD nutcracker -c nc.yml -s $((nport + 1)) -o nc.log &
        np=$!
        ready=
        for i in $(seq 100); do
            out=$(env -u LD_PRELOAD redis-cli -p "$nport" get x 2>&1) && [ -z "$out" ] && { ready=1; break; }
            kill -0 $np 2>/dev/null || break
            sleep 0.05
        done
        [ -n "$ready" ] && break
        kill $np 2>/dev/null; wait $np 2>/dev/null
    done
    [ -n "$ready" ] || die "nutcracker did not start: $(tail -3 nc.log)"
    for p in 1 2 3 4 5 6; do
        for n in 1 2; do
            LLMSHIM_REDIS_URL=redis://127.0.0.1:$nport rchat "$(chat_req "np$p")" >"$p.$n" 2>>err || die
        done
        assert_eq "$(cat err)" "" "prompt $p"
        assert_same_file "$p.2" "$p.1"
    done
    assert_count 6 "every second call was a hit through the proxy"
    assert_eq "$(cat err)" ""
    k1=$(env -u LD_PRELOAD redis-cli -p "$p1" --raw keys 'llmshim:v1:*' | wc -l)
    k2=$(env -u LD_PRELOAD redis-cli -p "$p2" --raw keys 'llmshim:v1:*' | wc -l)
    [ "$k1" -gt 0 ] && [ "$k2" -gt 0 ] || die "the proxy should spread keys over both servers ($k1, $k2)"
}

test_sixteen_identical_calls_make_one_upstream_call() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    for backend in file redis; do
        mock_reset
        pids=()
        for i in $(seq 16); do
            LLMSHIM_BACKEND=$backend rchat "$(chat_req "same-$backend")" -H 'X-Mock-Delay-Ms: 700' >"$backend.$i" 2>"$backend.$i.err" &
            pids+=($!)
        done
        wait "${pids[@]}" # not a bare wait: redis-server is a job of this shell too
        assert_count 1 "$backend: sixteen processes asked at once, one went upstream"
        for i in $(seq 2 16); do assert_same_file "$backend.$i" "$backend.1"; done
    done
}

test_stale_if_error() {
    LLMSHIM_TTL=60 LLMSHIM_STALE_IF_ERROR=1h shim_chat "$(chat_req old)" >old.out || die
    late() { env FAKETIME=+300s LD_PRELOAD="$SHIM:/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1" \
        LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_TTL=60 LLMSHIM_STALE_IF_ERROR=1h \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req old)" "$@"; }
    late -H 'X-Mock-Status: 503' -D h503 >s503.out || die
    assert_same_file s503.out old.out "a 503 is answered by the expired entry"
    assert_contains "$(cat h503)" 'X-LLMShim-Cache: STALE'
    late -H 'X-Mock-Status: 429' >s429.out || die
    assert_same_file s429.out old.out
    late -H 'X-Mock-Status: 400' >s400.out
    assert_contains "$(cat s400.out)" 'mock error' "a 400 is the caller's problem: passed through"
    late >fresh.out || die
    assert_contains "$(cat fresh.out)" 'answer #5' "a working API refreshes the expired entry"
    url=$MOCK_URL; mock_stop >/dev/null; MOCK_URL=$url
    env FAKETIME=+400s LD_PRELOAD="$SHIM:/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1" \
        LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_TTL=60 LLMSHIM_STALE_IF_ERROR=1h \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req old)" >down.out 2>/dev/null; rc=$?
    assert_eq "$rc" 0 "no connection: the stale entry answers"
    assert_same_file down.out fresh.out
}

# A process sums its counters and writes them once a second, with a miss, and at exit: one curl
# asking the same question 4 times (1 miss, 3 hits within a second) leaves exactly those counts
# in Redis once it has exited, for `llmshim stats` to read.
test_counters_summed_in_process_and_written_at_exit() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    local u="$MOCK_URL/v1/chat/completions" b
    b=$(chat_req counted)
    rshim curl -sS "$u" -d "$b" --next "$u" -d "$b" --next "$u" -d "$b" --next "$u" -d "$b" >out 2>err || die "$(cat err)"
    assert_eq "$(grep -o 'answer #1 to: counted' out | wc -l)" 4 "four answers, all the first one"
    assert_count 1
    h=$(redis_cli --raw hgetall llmshim:v1::stats | paste -sd' ')
    assert_contains "$h" "hits 3" "3 hits counted: $h"
    assert_contains "$h" "misses 1" "1 miss counted: $h"
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$REDIS_URL" \
        "$ROOT/build/llmshim" stats --json >stats.json || die "llmshim stats failed"
    python3 - stats.json <<'EOF' || die "counters: $(cat stats.json)"
import json, sys
t = json.load(open(sys.argv[1]))["total"]
assert (t["hits"], t["misses"], t["stores"]) == (3, 1, 1), t
EOF
}

run_tests
