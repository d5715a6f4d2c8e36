#!/usr/bin/env bash
# LLMSHIM_REDIS_URL=rediss://...: TLS to redis-servers started here (a TLS port beside a plain
# one, for checking), certificates from a test CA made once for the file (tests/redis_certs.sh).
# Every wrong server fails open: the network's answer, one clear llmshim: line, within the
# timeout, no secret in it.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/redis.sh"
CERTS=$(mktemp -d /tmp/llmshim-certs.XXXXXX)
trap 'rm -rf "$CERTS"' EXIT
bash "$ROOT/tests/redis_certs.sh" "$CERTS" || { echo "FAIL test_redis_tls.sh: no test certificates"; exit 1; }
THREADS=$ROOT/build/clients/threads

# tchat PROMPT [curl args]: under the shim, Redis over TLS ($REDIS_URL), the test CA unless the
# caller set LLMSHIM_REDIS_CA (set empty: the system's bundle).
tchat() {
    local prompt=$1; shift
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=${LLMSHIM_REDIS_URL:-$REDIS_URL} LLMSHIM_REDIS_CA=${LLMSHIM_REDIS_CA-$CERTS/ca.pem} \
        shim curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req "$prompt")" "$@"
}

# fails_open WANT: the call just made (out, err, ms) went to the network with one line saying WANT.
fails_open() {
    assert_contains "$(cat out)" '"answer #' "the call went to the network"
    assert_eq "$(grep -c '^llmshim: ' err)" 1 "one line: $(cat err)"
    assert_contains "$(cat err)" "$1"
    [ "$ms" -lt 2000 ] || die "the call took $ms ms"
}

# timed PROMPT: tchat into out/err, its wall time in $ms.
timed() {
    local t0; t0=$(date +%s%N)
    tchat "$@" >out 2>err || die "the call failed: $(cat err)"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

test_tls_miss_then_hit_across_processes() {
    redis_start --tls "$CERTS" >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_DIR=$TEST_TMP/a tchat shared >a.out 2>a.err || die "$(cat a.err)"
    LLMSHIM_DIR=$TEST_TMP/b tchat shared >b.out 2>b.err || die "$(cat b.err)"
    assert_same_file b.out a.out
    assert_count 1 "the second process found the answer in redis, over TLS"
    assert_eq "$(cat a.err b.err)" ""
    keys=$(redis_cli --raw keys 'llmshim:v1:*' | grep -cv ':stats$')
    assert_eq "$keys" 1 "the entry, read back over the plain port"
    # by address: the certificate names 127.0.0.1 too
    LLMSHIM_REDIS_URL=rediss://127.0.0.1:$REDIS_TLS_PORT tchat shared >c.out 2>c.err || die
    assert_same_file c.out a.out
    assert_eq "$(cat c.err)" ""
    # and the command reads it there
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$REDIS_URL" \
        LLMSHIM_REDIS_CA="$CERTS/ca.pem" "$ROOT/build/llmshim" ls >ls.out 2>&1 || die "llmshim ls: $(cat ls.out)"
    assert_contains "$(cat ls.out)" "shared"
}

test_untrusted_certificate_fails_open() {
    redis_start --tls "$CERTS" >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_REDIS_CA= timed a
    fails_open "redis localhost:$REDIS_TLS_PORT: TLS: the server's certificate is not signed by a CA in /etc/ssl/certs/ca-certificates.crt (set LLMSHIM_REDIS_CA for a private CA)"
    LLMSHIM_REDIS_CA=$CERTS/other-ca.pem timed b
    fails_open "not signed by a CA in $CERTS/other-ca.pem"
    assert_count 2
}

test_wrong_host_name_fails_open() {
    redis_start --tls "$CERTS" --tls-cert wrong >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    timed a
    fails_open "TLS: the server's certificate is not for localhost"
    LLMSHIM_REDIS_URL=rediss://127.0.0.1:$REDIS_TLS_PORT timed b
    fails_open "TLS: the server's certificate is not for 127.0.0.1"
}

test_expired_certificate_fails_open() {
    redis_start --tls "$CERTS" --tls-cert expired >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    timed a
    fails_open "TLS: the server's certificate has expired or is not valid yet"
}

test_plain_and_tls_ports_mixed_up_fail_open() {
    redis_start --tls "$CERTS" >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_REDIS_URL=rediss://localhost:$REDIS_PORT timed a
    fails_open "redis localhost:$REDIS_PORT: TLS: no TLS handshake within 250 ms (a plain-text port, or a stalled server?)"
    LLMSHIM_REDIS_CA= LLMSHIM_REDIS_URL=redis://localhost:$REDIS_TLS_PORT timed b
    fails_open "(a TLS port? use rediss://)"
    assert_count 2
}

test_stopped_tls_server_costs_at_most_the_timeout() {
    redis_start --tls "$CERTS" >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    tchat st >/dev/null || die
    kill -STOP "$REDIS_PID"
    timed st
    kill -CONT "$REDIS_PID"
    fails_open "no TLS handshake within 250 ms"
    [ "$ms" -lt 1500 ] || die "a stopped TLS server held the call $ms ms"
    tchat st >/dev/null 2>err || die
    assert_count 2 "resumed once the server was back"
}

test_mutual_tls() {
    redis_start --tls "$CERTS" --tls-auth >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    timed a
    fails_open "it may require a client certificate (LLMSHIM_REDIS_CERT and LLMSHIM_REDIS_KEY)"
    export LLMSHIM_REDIS_CERT=$CERTS/client.pem LLMSHIM_REDIS_KEY=$CERTS/client.key
    tchat m >m1.out 2>err || die
    tchat m >m2.out 2>>err || die
    assert_eq "$(cat err)" ""
    assert_same_file m2.out m1.out
    assert_count 2 "with its certificate the client is let in: a miss, then a hit"
    LLMSHIM_REDIS_KEY=$CERTS/client-enc.key timed m
    fails_open "LLMSHIM_REDIS_KEY $CERTS/client-enc.key: encrypted private keys are not supported"
    assert_not_contains "$(cat err)" "ENCRYPTED"
}

# Settings that cannot work are refused with the shim off; no line ever shows a password.
test_tls_settings_checked_and_no_secret_shown() {
    redis_start --tls "$CERTS" --acl-user app 'tls s3cret' >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    LLMSHIM_REDIS_URL=redis://app:tls%20s3cret@127.0.0.1:$REDIS_PORT timed a
    fails_open "LLMSHIM_REDIS_CA is set but LLMSHIM_REDIS_URL is not a TLS URL (rediss://...); caching is off"
    LLMSHIM_REDIS_CERT=$CERTS/client.pem timed b
    fails_open "LLMSHIM_REDIS_CERT and LLMSHIM_REDIS_KEY go together"
    LLMSHIM_REDIS_CA=relative/ca.pem timed c
    fails_open "LLMSHIM_REDIS_CA='relative/ca.pem' must be an absolute path"
    LLMSHIM_REDIS_CA=$CERTS/other-ca.pem timed d
    fails_open "not signed by a CA"
    assert_not_contains "$(cat err)" "s3cret"
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$REDIS_URL" \
        LLMSHIM_REDIS_CA="$CERTS/ca.pem" "$ROOT/build/llmshim" config >config.out 2>&1 || die "$(cat config.out)"
    assert_contains "$(cat config.out)" "rediss://app:***@localhost:$REDIS_TLS_PORT/0"
    assert_contains "$(cat config.out)" "$CERTS/ca.pem"
    assert_not_contains "$(cat config.out)" "s3cret"
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$REDIS_URL" \
        LLMSHIM_REDIS_CA="$CERTS/other-ca.pem" "$ROOT/build/llmshim" stats >stats.out 2>&1 && die "stats succeeded"
    assert_contains "$(cat stats.out)" "not signed by a CA"
    assert_not_contains "$(cat stats.out)" "s3cret"
    assert_count 4
}

# 8 threads, one easy handle each: connections opened at once share the pool and resume the
# first one's TLS session.
test_threads_over_tls() {
    [ -x "$THREADS" ] || die "$THREADS is not built (make check builds it)"
    redis_start --tls "$CERTS" >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    for run in first second; do
        LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$REDIS_URL LLMSHIM_REDIS_CA=$CERTS/ca.pem shim timeout -k 5 120 \
            "$THREADS" "$MOCK_URL/v1/chat/completions" --count-url "$MOCK_URL/__count" --delay-ms 20 \
            >$run.out 2>$run.err || die "threads: $(cat $run.err)"
        assert_contains "$(cat $run.err)" 'requests=200 errors=0 wrong_prompt=0 mismatches=0'
    done
    assert_contains "$(cat second.err)" 'hits=200'
    assert_not_contains "$(cat first.err second.err)" 'llmshim:'
}

run_tests
