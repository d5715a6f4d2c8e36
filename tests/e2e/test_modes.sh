#!/usr/bin/env bash
# LLMSHIM_MODE, LLMSHIM_BACKEND, LLMSHIM_TTL and what happens when settings are wrong.
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

test_replay_miss_fails_with_clear_message() {
    mkdir -p "$CACHE"
    LLMSHIM_MODE=replay shim_chat "$(chat_req new)" 2>err >out; rc=$?
    assert_eq "$rc" 7 "a replay miss fails the transfer like an unreachable host"
    assert_count 0 "replay never touches the network"
    line=$(grep '^llmshim: replay miss: POST ' err) || die "no replay miss line: $(cat err)"
    [[ $line =~ ^llmshim:\ replay\ miss:\ POST\ $MOCK_URL/v1/chat/completions\ key\ [0-9a-f]{64}\ \(model\ gpt-4o-mini\)$ ]] ||
        die "the URL, the full key and the model: $line"
    assert_contains "$(cat err)" "llmshim:   no recorded request to this URL or model among 0 entries"
    assert_contains "$(cat err)" "to compare: llmshim --dir '$CACHE' --mode replay key --explain --url '$MOCK_URL/v1/chat/completions' < '$CACHE/.misses/"
    key=$(sed -n 's/.* key \([0-9a-f]*\) (model.*/\1/p' <<<"$line")
    assert_eq "$(tail -1 err)" "llmshim: 1 replay miss in this run; first: POST $MOCK_URL/v1/chat/completions (model gpt-4o-mini) key ${key:0:12}" \
        "one summary line at exit"
}

test_replay_hit_without_network() {
    shim_chat "$(chat_req rec)" >rec.out || die
    url=$MOCK_URL
    mock_stop >/dev/null
    MOCK_URL=$url
    LLMSHIM_MODE=replay shim_chat "$(chat_req rec)" >rep.out || die "replay of a recorded call failed"
    LLMSHIM_MODE=replay shim_chat "$(chat_req rec)" >rep2.out || die "repeated replay failed"
    shim_chat "$(chat_req other)" >/dev/null 2>&1 && die "the mock really is down"
    assert_same_file rep.out rec.out
    assert_same_file rep2.out rec.out
}

test_off_mode_passes_through() {
    LLMSHIM_MODE=off shim_chat "$(chat_req x)" >a.out || die
    LLMSHIM_MODE=off shim_chat "$(chat_req x)" >b.out || die
    assert_count 2
    assert_eq "$(entries)" 0
}

test_record_mode_refetches_and_overwrites() {
    shim_chat "$(chat_req r)" >a.out || die
    LLMSHIM_MODE=record shim_chat "$(chat_req r)" >b.out || die
    assert_count 2 "record always fetches"
    assert_contains "$(cat b.out)" 'answer #2'
    assert_eq "$(entries)" 1 "the entry is replaced, not duplicated"
    shim_chat "$(chat_req r)" >c.out || die
    assert_same_file c.out b.out "the cache now answers with the re-recorded answer"
    assert_count 2
}

test_memory_backend_lives_in_the_process() {
    LLMSHIM_BACKEND=memory shim curl -sS -d "$(chat_req m)" \
        "$MOCK_URL/v1/chat/completions" "$MOCK_URL/v1/chat/completions" >both.out || die
    assert_count 1 "second transfer in the same process is a memory hit"
    LLMSHIM_BACKEND=memory shim_chat "$(chat_req m)" >again.out || die
    assert_count 2 "a new process starts with an empty memory cache"
    assert_eq "$(entries)" 0 "the memory backend writes no files"
}

test_ttl_expiry() {
    LLMSHIM_TTL=60 shim_chat "$(chat_req t)" >a.out || die
    env FAKETIME=+30s LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req t)" >b.out || die
    assert_count 1 "30 s later the entry is fresh"
    env FAKETIME=+120s LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req t)" >c.out || die
    assert_count 2 "120 s later a 60 s entry has expired"
    assert_contains "$(cat c.out)" 'answer #2'
}

test_ttl_zero_never_expires() {
    LLMSHIM_TTL=0 shim_chat "$(chat_req forever)" >a.out || die
    env FAKETIME=+3650d LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req forever)" >b.out || die
    assert_count 1
    assert_same_file b.out a.out
}

test_invalid_setting_warns_once_and_passes_through() {
    LLMSHIM_MODE=bogus shim curl -sS -d "$(chat_req x)" \
        "$MOCK_URL/v1/chat/completions" "$MOCK_URL/v1/chat/completions" >out 2>err || die "the call must still work"
    assert_eq "$(grep -c '^llmshim: ' err)" 1 "exactly one warning line"
    assert_contains "$(cat err)" "LLMSHIM_MODE='bogus'"
    assert_count 2
    assert_eq "$(entries)" 0
    for bad in LLMSHIM_TTL=soon LLMSHIM_BACKEND=disk LLMSHIM_LOG=loud LLMSHIM_ENDPOINTS=nourl LLMSHIM_DIR=relative; do
        endpoints=$MOCK_URL/v1
        [[ $bad == LLMSHIM_ENDPOINTS=* ]] && endpoints=${bad#*=}
        env LD_PRELOAD="$SHIM" LLMSHIM_ENDPOINTS="$endpoints" "$bad" \
            curl -sS -d "$(chat_req x)" "$MOCK_URL/v1/chat/completions" >out 2>err || die "$bad broke the call"
        assert_contains "$(cat err)" "llmshim: ${bad%%=*}" "$bad is named in the warning"
        assert_contains "$(cat out)" '"chat.completion"'
    done
}

test_log_info_reports_each_request() {
    LLMSHIM_LOG=info shim_chat "$(chat_req l)" >/dev/null 2>miss.err || die
    LLMSHIM_LOG=info shim_chat "$(chat_req l)" >/dev/null 2>hit.err || die
    assert_contains "$(cat miss.err)" 'llmshim: STORE custom model=gpt-4o-mini key='
    assert_contains "$(cat hit.err)" 'llmshim: HIT custom model=gpt-4o-mini key='
    shim_chat "$(chat_req l)" >/dev/null 2>quiet.err || die
    assert_eq "$(cat quiet.err)" "" "LLMSHIM_LOG defaults to off"
    LLMSHIM_LOG=debug shim_chat "$(chat_req l)" >/dev/null 2>debug.err || die
    assert_contains "$(cat debug.err)" 'llmshim:   key='
    assert_contains "$(cat debug.err)" 'entry=custom/gpt-4o-mini/'
    assert_contains "$(cat debug.err)" '(canonical JSON)'
}

test_namespace_separates_caches() {
    LLMSHIM_NAMESPACE=a shim_chat "$(chat_req ns)" >a.out || die
    LLMSHIM_NAMESPACE=b shim_chat "$(chat_req ns)" >b.out || die
    LLMSHIM_NAMESPACE=a shim_chat "$(chat_req ns)" >a2.out || die
    assert_count 2
    assert_same_file a2.out a.out
}

test_default_dir_is_xdg_cache_home() {
    env LD_PRELOAD="$SHIM" XDG_CACHE_HOME="$TEST_TMP/xdg" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS -d "$(chat_req d)" "$MOCK_URL/v1/chat/completions" >/dev/null || die
    [ -n "$(find "$TEST_TMP/xdg/llmshim" -name '*.json')" ] || die "no entry under \$XDG_CACHE_HOME/llmshim"
    env -u XDG_CACHE_HOME LD_PRELOAD="$SHIM" HOME="$TEST_TMP/home" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS -d "$(chat_req d)" "$MOCK_URL/v1/chat/completions" >/dev/null || die
    [ -n "$(find "$TEST_TMP/home/.cache/llmshim" -name '*.json')" ] || die "no entry under ~/.cache/llmshim"
}

test_config_file_read_by_the_shim() {
    printf '# settings for this project\nLLMSHIM_NAMESPACE=from-file\nLLMSHIM_LOG=info\n' >.llmshim
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS -d "$(chat_req cf)" "$MOCK_URL/v1/chat/completions" >/dev/null 2>err || die
    assert_contains "$(cat err)" 'llmshim: STORE' "./.llmshim turned logging on"
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_LOG=off \
        curl -sS -d "$(chat_req cf)" "$MOCK_URL/v1/chat/completions" >/dev/null 2>err || die
    assert_eq "$(cat err)" "" "the environment wins over the file"
    assert_count 1 "the file's namespace applied to both calls"
    printf 'LLMSHIM_MODE=off\nthis is not a setting\n' >"$TEST_TMP/bad.conf"
    env LD_PRELOAD="$SHIM" LLMSHIM_CONFIG="$TEST_TMP/bad.conf" LLMSHIM_NAMESPACE=from-file LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS -d "$(chat_req cf)" "$MOCK_URL/v1/chat/completions" >/dev/null 2>err || die
    assert_contains "$(cat err)" "bad.conf:2"
    assert_count 1 "a broken file is ignored whole (its MODE=off too): still a hit"
}

run_tests
