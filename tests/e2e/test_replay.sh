#!/usr/bin/env bash
# Cassettes that do not rot and record modes people know: replay ignores TTLs, verify warns of
# expired entries and fails on an empty or missing directory, explain judges as the shim does,
# a missing cassette directory is one line, LLMSHIM_MODE=once, the directory's own .gitignore.
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
LLMSHIM_BIN=$ROOT/build/llmshim

cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="${LLMSHIM_DIR:-$CACHE}" \
        LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" "$LLMSHIM_BIN" "$@"
}
# curl through the shim at another time: chat_at +30d BODY [env...]
chat_at() {
    local t=$1 body=$2; shift 2
    env FAKETIME="$t" LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" "$@" \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$body"
}
stop_mock() { local url=$MOCK_URL; mock_stop >/dev/null; MOCK_URL=$url; }

test_default_ttl_cassette_replays_after_30_days() {
    shim_chat "$(chat_req 'recorded with the default TTL')" >rec.out || die
    grep -rq '"ttl": 604800,' "$CACHE" || die "recorded with the 7-day default"
    stop_mock
    chat_at +30d "$(chat_req 'recorded with the default TTL')" LLMSHIM_MODE=replay >rep.out 2>err ||
        die "a month later, replay must still serve it: $(cat err)"
    assert_same_file rep.out rec.out
    assert_eq "$(cat err)" "" "no miss, no warning"
}

test_cache_mode_still_honours_the_ttl() {
    shim_chat "$(chat_req aging)" >a.out || die
    chat_at +8d "$(chat_req aging)" >b.out || die
    assert_count 2 "eight days later cache mode fetches it again"
    assert_contains "$(cat b.out)" 'answer #2'
}

test_verify_warns_of_expired_and_fails_on_empty_or_missing() {
    LLMSHIM_TTL=60 shim_chat "$(chat_req short)" >/dev/null || die
    LLMSHIM_TTL=0 shim_chat "$(chat_req forever)" >/dev/null || die
    FAKETIME=+1h LD_PRELOAD=$FAKETIME_LIB cmd verify >out 2>err || die "expired entries are a warning: $(cat out err)"
    assert_contains "$(cat out)" "EXPIRED $CACHE/custom/gpt-4o-mini/"
    assert_contains "$(cat out)" "expired 59m ago (TTL 60s)"
    assert_contains "$(cat out)" "verified 2 entries: 0 corrupt, 1 expired"
    assert_contains "$(cat err)" "warning: replay still serves expired entries, cache mode fetches them again"
    cmd verify >out 2>err || die
    assert_eq "$(cat out)" "verified 2 entries: 0 corrupt" "nothing expired yet"
    mkdir empty
    LLMSHIM_DIR=$TEST_TMP/empty cmd verify >out 2>err; assert_eq $? 1 "an empty directory"
    assert_contains "$(cat err)" "$TEST_TMP/empty holds no entries: nothing to replay"
    LLMSHIM_DIR=$TEST_TMP/nowhere cmd verify >out 2>err; assert_eq $? 1 "a missing directory"
    assert_contains "$(cat err)" "cache directory $TEST_TMP/nowhere does not exist"
    [ -e nowhere ] && die "verify must not create it"
    return 0
}

test_explain_judges_as_the_shim_does() {
    body=$(chat_req 'judge me')
    shim_chat "$body" >/dev/null || die
    FAKETIME=+8d LD_PRELOAD=$FAKETIME_LIB cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >cache.out || die
    assert_contains "$(cat cache.out)" "mode:    cache"
    assert_contains "$(cat cache.out)" "but it expired 24h ago: a miss in cache mode"
    FAKETIME=+8d LD_PRELOAD=$FAKETIME_LIB cmd --mode replay key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >replay.out || die
    assert_contains "$(cat replay.out)" "this request is a hit (it expired 24h ago; replay ignores TTLs)"
    cmd --mode record key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >record.out || die
    assert_contains "$(cat record.out)" "record mode fetches it again anyway"
    # what the shim really does at +8d in each mode
    chat_at +8d "$body" LLMSHIM_MODE=replay >/dev/null || die "replay serves it"
    assert_count 1
    chat_at +8d "$body" >/dev/null || die
    assert_count 2 "cache mode fetched it"
    # an entry edited to answer another request is a miss for the shim, and explain says so
    f=$(grep -rl 'judge me' "$CACHE" --include='*.json')
    sed -i 's/"content": "judge me"/"content": "judge you"/' "$f"
    cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >edited.out || die
    assert_contains "$(cat edited.out)" "has this key but answers another request"
}

test_replay_from_a_missing_directory_is_one_line() {
    CACHE=$TEST_TMP/cassetes LLMSHIM_MODE=replay shim curl -sS -d "$(chat_req a)" \
        "$MOCK_URL/v1/chat/completions" "$MOCK_URL/v1/chat/completions" >out 2>err
    assert_eq $? 7
    assert_eq "$(grep -c '^llmshim: ' err)" 1 "exactly one line: $(cat err)"
    assert_contains "$(cat err)" "llmshim: replay: cassette directory $TEST_TMP/cassetes does not exist (LLMSHIM_DIR from environment); every LLM request fails"
    [ -e "$TEST_TMP/cassetes" ] && die "replay must not create the directory"
    assert_count 0
}

test_once_records_into_an_empty_directory_then_replays() {
    LLMSHIM_MODE=once shim_chat "$(chat_req first)" >a.out 2>err || die "once on a new directory records: $(cat err)"
    assert_count 1
    assert_eq "$(entries)" 1
    LLMSHIM_MODE=once shim_chat "$(chat_req first)" >b.out || die
    assert_count 1 "the directory holds entries now: replayed"
    assert_same_file b.out a.out
    LLMSHIM_MODE=once shim_chat "$(chat_req second)" >c.out 2>err; assert_eq $? 7 "a new request in a full directory misses"
    assert_contains "$(cat err)" "llmshim: replay miss: POST"
    assert_count 1
    # an empty directory that exists records too
    mkdir "$TEST_TMP/new"
    CACHE=$TEST_TMP/new LLMSHIM_MODE=once shim curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req second)" >/dev/null || die
    assert_count 2
}

test_run_once_decides_once_for_the_whole_run() {
    # two requests in one run, from two processes: the second must not replay the first's cassette
    cmd run --mode once -- sh -c "curl -sS '$MOCK_URL/v1/chat/completions' -d '$(chat_req one)' && \
        curl -sS '$MOCK_URL/v1/chat/completions' -d '$(chat_req two)'" >out 2>err || die "run --mode once: $(cat err)"
    assert_contains "$(cat err)" "llmshim run: --mode once: $CACHE holds no entries: recording"
    assert_count 2
    assert_eq "$(entries)" 2
    cmd run --mode once -- sh -c "curl -sS '$MOCK_URL/v1/chat/completions' -d '$(chat_req one)' && \
        curl -sS '$MOCK_URL/v1/chat/completions' -d '$(chat_req two)'" >out2 2>err || die "$(cat err)"
    assert_contains "$(cat err)" "holds entries: replaying"
    assert_count 2
    assert_same_file out2 out
    LLMSHIM_BACKEND=redis cmd run --mode once -- true 2>err; assert_eq $? 2 "once needs a directory"
    assert_contains "$(cat err)" "LLMSHIM_MODE=once needs LLMSHIM_BACKEND=file"
}

test_a_new_cache_directory_ignores_its_hidden_files() {
    shim_chat "$(chat_req ignore)" >/dev/null || die
    [ -f "$CACHE/.gitignore" ] || die "no .gitignore in a new directory"
    git init -q "$CACHE" && git -C "$CACHE" add -A || die "git"
    files=$(git -C "$CACHE" diff --cached --name-only | sort | tr '\n' ' ')
    [[ $files =~ ^\.gitignore\ custom/gpt-4o-mini/[0-9a-f]{16}\.json\ $ ]] || die "only the entry and .gitignore: $files"
    # a directory that already exists keeps its own (or none)
    mkdir mine && printf 'keep\n' >mine/.gitignore
    CACHE=$TEST_TMP/mine shim curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req x)" >/dev/null || die
    assert_eq "$(cat mine/.gitignore)" "keep"
}

run_tests
