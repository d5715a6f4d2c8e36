#!/usr/bin/env bash
# LLMSHIM_REDIS_URL=redis+cluster://...: a real Redis Cluster started once for the file on
# loopback (3 primaries, 3 replicas, redis-cli --cluster create, node timeout 1 s; TLS ports and
# a TLS bus too, for rediss+cluster://, certificates from tests/redis_certs.sh). Keys spread
# over every primary, hits from other processes, the llmshim command on the whole cluster, slots
# migrated under running requests (MOVED, ASK), a primary killed (fail open, then hits again on
# the promoted replica in the same process). The tests run in name order: the last one kills.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/redis.sh"
ASK_LOOP=$ROOT/build/clients/ask_loop
CERTS=$(mktemp -d /tmp/llmshim-certs.XXXXXX)
trap 'redis_stop >/dev/null 2>&1; rm -rf "$CERTS"' EXIT
if ! bash "$ROOT/tests/redis_certs.sh" "$CERTS" || ! redis_cluster_start 3 1 --tls "$CERTS" >/dev/null; then
    echo "FAIL test_redis_cluster.sh: the cluster did not start"
    exit 1
fi
# seeds: two of the six nodes are enough to find the rest
SEEDS=redis+cluster://127.0.0.1:${REDIS_CLUSTER_PORTS%% *},127.0.0.1:$(echo "$REDIS_CLUSTER_PORTS" | cut -d' ' -f4)

primaries() { for p in $REDIS_CLUSTER_PORTS; do [ "$(redis_cluster_primary_of "$p")" = "$p" ] && echo "$p"; done; }
# entries_on PORT [NAMESPACE]: the entries a node holds
entries_on() { env -u LD_PRELOAD redis-cli -p "$1" --scan --pattern "llmshim:v1:${2:-*}" | grep -cv ':stats$'; }
cshim() { LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=${LLMSHIM_REDIS_URL:-$SEEDS} shim "$@"; }
cmd() { env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$SEEDS" "$ROOT/build/llmshim" "$@"; }
# asks NAME [ask_loop options]: the loop client under the shim into NAME.out, NAME.err
asks() {
    local name=$1; shift
    [ -x "$ASK_LOOP" ] || die "$ASK_LOOP is not built (make check builds it)"
    cshim timeout -k 5 120 "$ASK_LOOP" "$MOCK_URL/v1/chat/completions" "$@" >"$name.out" 2>"$name.err"
}

test_commands_see_the_whole_cluster() {
    asks fill --prompts 30 --requests 30 --pause-ms 0 --tag cmd || die "$(cat fill.err)"
    cmd ls >ls.out 2>ls.err || die "ls: $(cat ls.err)"
    assert_eq "$(grep -c 'loop prompt' ls.out)" 30 "ls lists the entries of every primary"
    cmd stats --json >stats.json || die "stats"
    assert_contains "$(cat stats.json)" '"stores": 30'
    cmd export "$TEST_TMP/cassette" >/dev/null || die "export"
    assert_eq "$(find "$TEST_TMP/cassette" -name '*.json' | wc -l)" 30 "export copies every entry"
    cmd prune --older-than 1h >/dev/null || die "prune"
    assert_eq "$(cmd ls | grep -c 'loop prompt')" 30 "nothing is an hour old"
    cmd purge --yes >/dev/null || die "purge"
    for p in $(primaries); do assert_eq "$(entries_on "$p")" 0 "purged on $p"; done
    cmd import "$TEST_TMP/cassette" >/dev/null || die "import"
    asks again --prompts 30 --requests 30 --pause-ms 0 --tag cmd || die
    assert_eq "$(grep -c ' HIT ok$' again.out)" 30 "imported into the cluster: every one a hit"
    assert_count 30
}

test_keys_land_on_every_primary_and_hit_from_another_process() {
    asks first --prompts 30 --requests 30 --pause-ms 0 --tag spread || die "$(cat first.err)"
    assert_eq "$(cat first.err)" ""
    for p in $(primaries); do
        n=$(entries_on "$p")
        [ "$n" -gt 0 ] || die "primary $p holds no entry"
    done
    asks second --prompts 30 --requests 60 --pause-ms 0 --tag spread || die "$(cat second.err)"
    assert_eq "$(grep -c ' HIT ok$' second.out)" 60 "another process: every answer from the cluster"
    assert_eq "$(cat second.err)" ""
    assert_count 30
    assert_eq "$(primaries | wc -l)" 3
}

# Every key in one slot ({hash tag} in the namespace), among the first of its primary, then that
# primary's first 200 slots resharded to another while a process keeps asking: the keys move
# one batch at a time (ASK), then the slot (MOVED). No error, no wrong answer, no miss.
test_migrating_slots_under_running_requests() {
    local tag="" src="" dst="" s
    for i in $(seq 0 500); do # a tag whose slot is among the first 200 of a primary
        s=$(env -u LD_PRELOAD redis-cli -p "${REDIS_CLUSTER_PORTS%% *}" cluster keyslot "t$i")
        for p in $(primaries); do
            range=$(env -u LD_PRELOAD redis-cli -p "$p" cluster nodes | awk '/myself/ {print $9}')
            lo=${range%-*}
            [ "$s" -ge "$lo" ] && [ "$s" -lt $((lo + 200)) ] && { tag=t$i src=$p; break; }
        done
        [ -n "$tag" ] && break
    done
    [ -n "$tag" ] || die "no tag found"
    dst=$(primaries | grep -vx "$src" | head -1)
    from=$(env -u LD_PRELOAD redis-cli -p "$src" cluster myid)
    to=$(env -u LD_PRELOAD redis-cli -p "$dst" cluster myid)
    export LLMSHIM_NAMESPACE="{$tag}"
    asks warm --prompts 20 --requests 20 --pause-ms 0 --tag mig || die "$(cat warm.err)"
    assert_eq "$(entries_on "$src" "{$tag}:*")" 20 "every entry in slot $s of $src"
    rcli() { local p=$1; shift; env -u LD_PRELOAD redis-cli -p "$p" "$@"; }
    rcli "$src" config resetstat >/dev/null
    asks loop --prompts 20 --requests 400 --pause-ms 5 --tag mig &
    loop=$!
    sleep 0.3
    # over TLS: with a TLS bus (tls-cluster) the nodes MIGRATE keys through each other's TLS ports
    env -u LD_PRELOAD redis-cli --tls --cacert "$CERTS/ca.pem" --cluster reshard "127.0.0.1:$((src + 1))" \
        --cluster-from "$from" --cluster-to "$to" \
        --cluster-slots 200 --cluster-yes --cluster-pipeline 3 >reshard.log 2>&1 || die "reshard: $(tail -3 reshard.log)"
    wait "$loop" || die "the loop failed: $(grep -v ' ok$' loop.out | head -5) $(cat loop.err)"
    assert_eq "$(entries_on "$dst" "{$tag}:*")" 20 "the entries moved to $dst"
    assert_eq "$(entries_on "$src" "{$tag}:*")" 0
    assert_eq "$(cat loop.err)" "" "no error while the slot moved"
    assert_eq "$(grep -c ' HIT ok$' loop.out)" 400 "every answer a hit, to its own question"
    moved=$(rcli "$src" info errorstats | sed -n 's/^errorstat_MOVED:count=\([0-9]*\).*/\1/p')
    [ "${moved:-0}" -gt 0 ] || die "the moved slot was never redirected (MOVED)"
    # and back by hand, half of the keys at a time: those gone answer ASK until the slot is moved
    rcli "$src" cluster setslot "$s" importing "$to" >/dev/null
    rcli "$dst" cluster setslot "$s" migrating "$from" >/dev/null
    keys=$(rcli "$dst" cluster getkeysinslot "$s" 100 | grep -v ':stats$' | head -10)
    # shellcheck disable=SC2086 # one argument per key
    rcli "$dst" migrate 127.0.0.1 $((src + 1)) "" 0 5000 keys $keys >/dev/null
    rcli "$dst" config resetstat >/dev/null
    asks half --prompts 20 --requests 20 --pause-ms 0 --tag mig || die "$(grep -v ' ok$' half.out | head -3)"
    assert_eq "$(grep -c ' HIT ok$' half.out)" 20 "the keys moved already: found after ASK"
    ask=$(rcli "$dst" info errorstats | sed -n 's/^errorstat_ASK:count=\([0-9]*\).*/\1/p')
    [ "${ask:-0}" -ge 10 ] || die "ASK was not answered for the 10 keys moved (${ask:-0})"
    keys=$(rcli "$dst" cluster getkeysinslot "$s" 100)
    # shellcheck disable=SC2086
    rcli "$dst" migrate 127.0.0.1 $((src + 1)) "" 0 5000 keys $keys >/dev/null
    for p in $(primaries); do rcli "$p" cluster setslot "$s" node "$from" >/dev/null; done
    asks back --prompts 20 --requests 20 --pause-ms 0 --tag mig || die
    assert_eq "$(grep -c ' HIT ok$' back.out)" 20 "back on $src: found after MOVED"
    assert_eq "$(cat half.err back.err)" ""
    assert_count 20
}

# rediss+cluster://: the map over TLS names the nodes' TLS ports, by address; their certificates
# are checked against the name the URL gave (localhost), as for a managed cluster's endpoint.
test_over_tls() {
    LLMSHIM_REDIS_URL=$REDIS_CLUSTER_TLS_URL LLMSHIM_REDIS_CA=$CERTS/ca.pem asks first --prompts 20 --requests 40 --pause-ms 0 --tag tls ||
        die "$(cat first.err)"
    assert_eq "$(cat first.err)" ""
    assert_eq "$(grep -c ' HIT ok$' first.out)" 20
    # and the plain URL finds the same entries
    asks plain --prompts 20 --requests 20 --pause-ms 0 --tag tls || die
    assert_eq "$(grep -c ' HIT ok$' plain.out)" 20
    assert_count 20
    LLMSHIM_REDIS_URL=$REDIS_CLUSTER_TLS_URL LLMSHIM_REDIS_CA=$CERTS/other-ca.pem asks bad --prompts 2 --requests 2 --pause-ms 0 --tag tls2 ||
        die "$(cat bad.err)"
    assert_eq "$(grep -c '^llmshim: ' bad.err)" 1
    assert_contains "$(cat bad.err)" "TLS: the server's certificate is not signed by a CA in $CERTS/other-ca.pem"
}

# A primary killed while a process asks: its requests fail open (to the network, one line) while
# the cluster fails over, then the same process hits again, on the promoted replica.
test_primary_killed_fails_open_then_hits_after_failover() {
    asks warm --prompts 12 --requests 12 --pause-ms 0 --tag fo || die "$(cat warm.err)"
    victim=$(primaries | while read -r p; do [ "$(entries_on "$p")" -gt 0 ] && echo "$p" && break; done)
    [ -n "$victim" ] || die "no primary holds an entry"
    pid=$(env -u LD_PRELOAD redis-cli -p "$victim" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p' | tr -d '\r')
    asks loop --prompts 12 --requests 300 --pause-ms 20 --tag fo &
    loop=$!
    sleep 1
    kill -KILL "$pid"
    wait "$loop" || die "the loop failed: $(grep -v ' ok$' loop.out | head -5)"
    assert_eq "$(grep -c '^llmshim: ' loop.err)" 1 "one line: $(cat loop.err)"
    assert_contains "$(cat loop.err)" "127.0.0.1:$victim"
    misses=$(grep -c ' MISS ok$' loop.out)
    [ "$misses" -gt 0 ] || die "no request failed over to the network"
    tail -50 loop.out | grep -v ' HIT ok$' && die "caching did not resume after the failover"
    asks after --prompts 12 --requests 12 --pause-ms 0 --tag fo || die
    assert_eq "$(grep -c ' HIT ok$' after.out)" 12 "a new process hits on the promoted replica"
}

run_tests
