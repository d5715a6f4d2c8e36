#!/usr/bin/env bash
# Security after a full run: every kind of credential a request can carry, through every
# backend, mode and path (hit, miss, stream, error, replay miss), then everything the shim wrote
# is searched: the cache dir (entries, stats, locks, scope secret), an exported cassette, Redis,
# and what it printed at LLMSHIM_LOG=debug. No credential may be anywhere. And the cache dir of
# someone else is refused (world-writable and planted entries: test_safety.sh).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/redis.sh"

# every way a credential reaches libcurl; each holds SECRET
creds=(
    "-H|Authorization: Bearer sk-test-SECRET-bearer"
    "-H|x-api-key: sk-test-SECRET-xapikey"
    "-H|api-key: sk-test-SECRET-azure"
    "-H|x-goog-api-key: sk-test-SECRET-goog"
    "-u|user:sk-test-SECRET-userpwd"
    "--oauth2-bearer|sk-test-SECRET-oauth"
    "query|key=sk-test-SECRET-query"
    "query|subscription-key=sk-test-SECRET-apim"
    "query|token=sk-test-SECRET-token"
    "query|auth=sk-test-SECRET-auth"
    "query|sig=sk-test-SECRET-sig"
    "query|signature=sk-test-SECRET-signature"
    "query|%6Bey=sk-test-SECRET-encoded"
    "query|mytok=sk-test-SECRET-custom"
    "userinfo|u:sk-test-SECRET-userinfo"
)

# one request per credential kind, path and body shape; $1 = tag for the prompts
every_request() {
    local tag=$1 c flag val url path body extra
    for c in "${creds[@]}"; do
        flag=${c%%|*} val=${c#*|}
        for path in /v1/chat/completions /v1/messages; do
            for body in "$(chat_req "$tag $flag")" \
                '{"model":"m","stream":true,"messages":[{"role":"user","content":"'"$tag $flag"' s"}]}'; do
                url="$MOCK_URL$path" extra=()
                case $flag in
                    query) url="$url?$val&alt=1" ;;
                    userinfo) url="http://$val@127.0.0.1:$MOCK_PORT$path" ;;
                    *) extra=("$flag" "$val") ;;
                esac
                shim curl -sS "$url" -H 'Content-Type: application/json' "${extra[@]}" -d "$body" >/dev/null 2>>shim.err
                shim curl -sS "$url" -H 'X-Mock-Status: 500' "${extra[@]}" -d "$body" >/dev/null 2>>shim.err
            done
        done
    done
}

test_no_credential_in_anything_written() {
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    export LLMSHIM_LOG=debug LLMSHIM_REDACT_QUERY=mytok LLMSHIM_ENDPOINTS="$MOCK_URL/v1,http://u:sk-test-SECRET-userinfo@127.0.0.1:$MOCK_PORT/v1"
    for backend in file memory,file redis memory,redis; do
        for scope in none credential; do
            LLMSHIM_BACKEND=$backend LLMSHIM_KEY_SCOPE=$scope LLMSHIM_REDIS_URL=$REDIS_URL every_request "$backend $scope"
            LLMSHIM_BACKEND=$backend LLMSHIM_KEY_SCOPE=$scope LLMSHIM_REDIS_URL=$REDIS_URL every_request "$backend $scope"
        done
    done
    LLMSHIM_MODE=replay every_request "replay misses"
    LLMSHIM_DIR=$CACHE "$ROOT/build/llmshim" export "$TEST_TMP/cassette" >/dev/null 2>>shim.err || die "export"
    LLMSHIM_DIR=$CACHE "$ROOT/build/llmshim" ls >>shim.err 2>&1 || die "ls"
    # what was written, so that the search below is not vacuous
    n_files=$(find "$CACHE" -name '*.json' | wc -l)
    [ "$n_files" -ge 40 ] || die "only $n_files entries written"
    keys=$(redis_cli --raw keys '*')
    [ "$(printf '%s\n' "$keys" | wc -l)" -ge 40 ] || die "only $(printf '%s\n' "$keys" | wc -l) redis keys"
    for k in $keys; do
        case $(redis_cli --raw type "$k") in
            string) redis_cli --raw get "$k" ;;
            hash) redis_cli --raw hgetall "$k" ;;
            list) redis_cli --raw lrange "$k" 0 -1 ;;
            set) redis_cli --raw smembers "$k" ;;
            zset) redis_cli --raw zrange "$k" 0 -1 ;;
        esac
    done >redis.dump
    printf '%s\n' "$keys" >>redis.dump
    [ -s redis.dump ] && grep -q 'answer #' redis.dump || die "nothing read back from redis"
    grep -q 'HIT' shim.err && grep -q 'STORE' shim.err || die "no debug log to search: $(head -3 shim.err)"
    for place in "$CACHE" "$TEST_TMP/cassette" redis.dump shim.err; do
        hit=$(grep -rla 'SECRET' "$place")
        [ -z "$hit" ] || die "a credential was written to $hit: $(grep -rao '.\{40\}SECRET.\{20\}' "$place" | head -3)"
    done
}

test_cache_dir_of_another_user_refused() {
    mkdir -m 0700 "$TEST_TMP/theirs"
    chown 65534:65534 "$TEST_TMP/theirs" 2>/dev/null || skip "cannot chown (needs root)"
    ln -s "$TEST_TMP/theirs" "$TEST_TMP/link"
    for dir in "$TEST_TMP/theirs" "$TEST_TMP/link"; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$dir" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
            curl -sS -d "$(chat_req mine)" "$MOCK_URL/v1/chat/completions" >out 2>err || die "the call must succeed"
        assert_contains "$(cat out)" 'answer #'
        assert_contains "$(cat err)" 'owned by another user' "$dir"
        assert_eq "$(grep -c '^llmshim: ' err)" 1 "$dir"
    done
    assert_eq "$(find "$TEST_TMP/theirs" -name '*.json' | wc -l)" 0 "nothing written into another user's dir"
}

# The command never prints a Redis password: copy and purge messages, config, errors.
test_command_masks_the_redis_password() {
    redis_start --password 'Pw-SECRET-redis' >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    url="redis://:Pw-SECRET-redis@127.0.0.1:$REDIS_PORT/0"
    shim_chat "$(chat_req masked)" >/dev/null || die
    L=$ROOT/build/llmshim
    { LLMSHIM_DIR=$CACHE "$L" export "$TEST_TMP/cas"
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$url "$L" import "$TEST_TMP/cas"
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$url "$L" ls
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$url "$L" stats
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$url "$L" purge --yes
      LLMSHIM_REDIS_URL=$url "$L" config
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="redis://:Pw-SECRET-redis@127.0.0.1:1/0" "$L" ls
      LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="redis://u:Pw-SECRET-redis@127.0.0.1:$REDIS_PORT/0?password=Pw-SECRET-2" "$L" ls
    } >out 2>&1
    assert_contains "$(cat out)" "copied 1 entry to redis://:***@127.0.0.1:$REDIS_PORT/0"
    if grep -q SECRET out; then die "the command printed a password: $(grep SECRET out)"; fi
}

# api_key and the like in a JSON body: neither stored nor keyed (two tenants' keys, one entry).
test_credential_fields_in_a_json_body() {
    for k in api_key apiKey access_token password client_secret; do
        shim_chat '{"model":"m","'$k'":"sk-test-SECRET-a","messages":[{"role":"user","content":"'$k'"}]}' >a.out || die
        shim_chat '{"model":"m","'$k'":"sk-test-SECRET-b","messages":[{"role":"user","content":"'$k'"}]}' >b.out || die
        assert_same_file b.out a.out
    done
    assert_count 5
    if grep -rq SECRET "$CACHE"; then die "a body credential was stored: $(grep -rl SECRET "$CACHE")"; fi
    "$ROOT/build/llmshim" --dir "$CACHE" ls >ls.out 2>&1
    for e in $(find "$CACHE" -name '*.json'); do "$ROOT/build/llmshim" --dir "$CACHE" show "$e" >>show.out 2>&1; done
    if grep -q SECRET ls.out show.out; then die "llmshim printed a credential"; fi
}

run_tests
