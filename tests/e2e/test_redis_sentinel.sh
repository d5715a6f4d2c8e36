#!/usr/bin/env bash
# LLMSHIM_REDIS_URL=redis+sentinel://...: a primary, its replica and three redis-sentinels
# started once for the file on loopback, each with a password of its own (the primary's in the
# URL, the sentinels' in LLMSHIM_SENTINEL_PASSWORD). The store finds the primary through the
# sentinels, and after SENTINEL failover the same process hits again on the new primary. The
# tests run in name order: the last one fails over.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/redis.sh"
ASK_LOOP=$ROOT/build/clients/ask_loop
trap 'redis_stop >/dev/null 2>&1' EXIT
pcli() { local p=$1; shift; env -u LD_PRELOAD REDISCLI_AUTH='p r1m' redis-cli -p "$p" "$@"; }
start() {
    redis_start --password 'p r1m' -- --masterauth 'p r1m' >/dev/null || return 1 # a replica after the failover
    PRIMARY=$REDIS_PORT
    disown "$REDIS_PID"
    redis_start --password 'p r1m' -- --replicaof 127.0.0.1 "$PRIMARY" --masterauth 'p r1m' >/dev/null || return 1
    REPLICA=$REDIS_PORT
    disown "$REDIS_PID"
    for i in $(seq 200); do # the replica has synced
        pcli "$REPLICA" info replication | grep -q '^master_link_status:up' && break
        sleep 0.05
    done
    redis_sentinels_start "$PRIMARY" mymaster 3 --password 's3nt' --primary-password 'p r1m' >/dev/null
}
if ! start; then
    echo "FAIL test_redis_sentinel.sh: the primary, replica and sentinels did not start"
    exit 1
fi
SENTINELS=$(printf '127.0.0.1:%s,' $REDIS_SENTINEL_PORTS)
URL="redis+sentinel://:p%20r1m@${SENTINELS%,}/mymaster"
export LLMSHIM_SENTINEL_PASSWORD=s3nt

scli() { env -u LD_PRELOAD REDISCLI_AUTH=s3nt redis-cli -p "${REDIS_SENTINEL_PORTS%% *}" "$@"; }
entries_on() { pcli "$1" -n "${2:-0}" --scan --pattern 'llmshim:v1:*' | grep -cv ':stats$'; }
asks() {
    local name=$1; shift
    [ -x "$ASK_LOOP" ] || die "$ASK_LOOP is not built (make check builds it)"
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=${LLMSHIM_REDIS_URL:-$URL} shim timeout -k 5 120 \
        "$ASK_LOOP" "$MOCK_URL/v1/chat/completions" "$@" >"$name.out" 2>"$name.err"
}

# rediss+sentinel://: sentinels, primary and replica with TLS only between them and to us; the
# sentinels name the primary by address, its certificate is checked against the URL's name.
test_over_tls() {
    certs=$TEST_TMP/certs
    bash "$ROOT/tests/redis_certs.sh" "$certs" || die "certificates"
    redis_start --tls "$certs" -- --tls-replication yes >/dev/null || die "redis"
    p=$REDIS_PORT tp=$REDIS_TLS_PORT pids=$REDIS_PID
    redis_start --tls "$certs" -- --tls-replication yes --replicaof 127.0.0.1 "$tp" >/dev/null || die "replica"
    pids="$pids $REDIS_PID"
    redis_sentinels_start "$tp" tlsmaster 1 --tls "$certs" >/dev/null || die "sentinel"
    pids="$pids $REDIS_SENTINEL_PIDS"
    trap 'redis_stop "$pids"' EXIT
    export LLMSHIM_REDIS_URL="rediss+sentinel://localhost:$REDIS_SENTINEL_PORTS/tlsmaster" LLMSHIM_REDIS_CA=$certs/ca.pem
    unset LLMSHIM_SENTINEL_PASSWORD
    asks first --prompts 3 --requests 6 --pause-ms 0 --tag tls || die "$(cat first.err)"
    assert_eq "$(cat first.err)" ""
    assert_eq "$(grep -c ' HIT ok$' first.out)" 3 "a miss, then a hit, over TLS"
    assert_eq "$(env -u LD_PRELOAD redis-cli -p "$p" --scan --pattern 'llmshim:v1:*' | grep -cv ':stats$')" 3 "on the primary"
}

# A primary demoted behind the sentinels' back (as a failover does before they have caught up):
# a new connection sees it is a replica (ROLE) and a write on an old one is refused (READONLY);
# each time the call goes to the network, with every answer right.
test_demoted_primary_is_not_used_for_writes() {
    redis_start --password 'p r1m' >/dev/null || die "redis"
    other=$REDIS_PORT
    pid=$REDIS_PID # (a bare redis_stop would stop the file's servers too)
    trap 'for p in $REDIS_SENTINEL_PORTS; do env -u LD_PRELOAD REDISCLI_AUTH=s3nt redis-cli -p "$p" sentinel remove other >/dev/null; done; redis_stop $pid' EXIT
    for p in $REDIS_SENTINEL_PORTS; do
        env -u LD_PRELOAD REDISCLI_AUTH=s3nt redis-cli -p "$p" sentinel monitor other 127.0.0.1 "$other" 2 >/dev/null
        env -u LD_PRELOAD REDISCLI_AUTH=s3nt redis-cli -p "$p" sentinel set other auth-pass 'p r1m' >/dev/null
    done
    export LLMSHIM_REDIS_URL="redis+sentinel://:p%20r1m@${SENTINELS%,}/other"
    asks first --prompts 3 --requests 6 --pause-ms 0 --tag demote || die "$(cat first.err)"
    assert_eq "$(grep -c ' HIT ok$' first.out)" 3
    # one process keeps asking new questions (every one a write) while the primary is demoted
    asks loop --prompts 100000 --requests 3000 --pause-ms 10 --tag new --until stop &
    loop=$!
    sleep 0.5
    pcli "$other" replicaof 127.0.0.1 1 >/dev/null # a replica of nothing: it keeps its data
    sleep 0.5
    asks fresh --prompts 3 --requests 3 --pause-ms 0 --tag demote || die "$(cat fresh.err)"
    touch stop
    wait "$loop" || die "the loop failed: $(grep -v ' ok$' loop.out | head -3)"
    assert_eq "$(grep -c '^llmshim: ' fresh.err)" 1
    assert_contains "$(cat fresh.err)" "redis 127.0.0.1:$other: not a primary (any more: a failover demoted it)"
    assert_eq "$(grep -c ' MISS ok$' fresh.out)" 3 "answered by the network"
    assert_eq "$(grep -c '^llmshim: ' loop.err)" 1
    assert_contains "$(cat loop.err)" "READONLY"
    [ "$(grep -vc ' ok$' loop.out)" = 0 ] || die "wrong answers"
}

test_finds_the_primary_through_the_sentinels() {
    asks first --prompts 10 --requests 10 --pause-ms 0 --tag find || die "$(cat first.err)"
    asks second --prompts 10 --requests 20 --pause-ms 0 --tag find || die "$(cat second.err)"
    assert_eq "$(cat first.err second.err)" ""
    assert_eq "$(grep -c ' HIT ok$' second.out)" 20 "another process found them on the primary"
    assert_count 10
    primary=$(scli sentinel get-master-addr-by-name mymaster | tail -1)
    assert_eq "$(entries_on "$primary")" 10 "written to the primary the sentinels name"
    # a database of the primary
    LLMSHIM_REDIS_URL="${URL}/3" asks db --prompts 2 --requests 2 --pause-ms 0 --tag db || die
    assert_eq "$(entries_on "$primary" 3)" 2 "in database 3"
    # the command
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$URL" "$ROOT/build/llmshim" ls >ls.out ||
        die "llmshim ls"
    assert_eq "$(grep -c 'loop prompt' ls.out)" 10
    # what goes wrong is said once, without a password
    LLMSHIM_SENTINEL_PASSWORD=wrong-s3cret asks badpass --prompts 1 --requests 1 --pause-ms 0 --tag find || die
    assert_eq "$(grep -c '^llmshim: ' badpass.err)" 1
    assert_contains "$(cat badpass.err)" "AUTH failed"
    assert_not_contains "$(cat badpass.err)" "s3cret"
    LLMSHIM_REDIS_URL="redis+sentinel://:p%20r1m@${SENTINELS%,}/nope" asks noname --prompts 1 --requests 1 --pause-ms 0 ||
        die
    assert_contains "$(cat noname.err)" "the sentinel knows no primary named 'nope'"
    LLMSHIM_REDIS_URL="redis+sentinel://:wrong@${SENTINELS%,}/mymaster" asks badprimary --prompts 1 --requests 1 \
        --pause-ms 0 || die
    assert_contains "$(cat badprimary.err)" "AUTH failed"
    assert_not_contains "$(cat badprimary.err first.err) $(cat ls.out)" "r1m"
}

# SENTINEL failover while a process asks: within 2 s the store asks the sentinels again and
# moves to the promoted replica (without that, the old primary, which the sentinels demote only
# when they next poll it, up to 10 s later, would cut its clients off then and answer ROLE and
# READONLY with the news), and hits there, in the same process, with every answer right.
test_sentinel_failover_while_requests_run() {
    asks warm --prompts 12 --requests 12 --pause-ms 0 --tag fo || die "$(cat warm.err)"
    old=$(scli sentinel get-master-addr-by-name mymaster | tail -1)
    asks loop --prompts 12 --requests 3000 --pause-ms 10 --tag fo --until stop &
    loop=$!
    sleep 1
    scli sentinel failover mymaster >/dev/null || die "SENTINEL failover"
    for i in $(seq 200); do # until the sentinels name the promoted replica
        new=$(scli sentinel get-master-addr-by-name mymaster | tail -1)
        [ "$new" != "$old" ] && break
        sleep 0.05
    done
    [ "$new" != "$old" ] || die "no failover happened"
    # the process asks the sentinels again within 2 s: from then on it uses the new primary only
    sleep 2.5
    gets() { pcli "$1" info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\).*/\1/p'; }
    pcli "$new" config resetstat >/dev/null
    pcli "$old" config resetstat >/dev/null
    sleep 0.5
    gets_new=$(gets "$new") gets_old=$(gets "$old")
    touch stop
    wait "$loop" || die "the loop failed: $(grep -v ' ok$' loop.out | head -5)"
    [ "${gets_new:-0}" -gt 5 ] && [ -z "$gets_old" ] ||
        die "after the failover the process read from the old primary (${gets_old:-0}) and the new (${gets_new:-0})"
    [ "$(grep -c '^llmshim: ' loop.err)" -le 1 ] || die "more than one line: $(cat loop.err)"
    tail -50 loop.out | grep -v ' HIT ok$' && die "caching did not resume on the new primary $new"
    asks after --prompts 14 --requests 28 --pause-ms 0 --tag fo || die "$(cat after.err)"
    assert_eq "$(grep -c ' HIT ok$' after.out)" 26 "12 old and 2 new prompts, all hits after the first asking"
    [ "$(entries_on "$new")" -ge 14 ] || die "the new entries are not on the new primary $new"
}

run_tests
