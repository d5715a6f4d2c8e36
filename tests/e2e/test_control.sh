#!/usr/bin/env bash
# X-LLMShim-Cache-Control: per-request control from the program. The header is llmshim's own:
# it never reaches the API (the mock records what it received) and never enters a key.
. "$(dirname "$0")/lib.sh"

H=X-LLMShim-Cache-Control
last_headers() { curl -s "$MOCK_URL/__last" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["headers"])'; }

test_no_cache_and_refresh_fetch_and_store() {
    for v in no-cache refresh; do
        shim_chat "$(chat_req "$v")" >a.out || die
        shim_chat "$(chat_req "$v")" -H "$H: $v" >b.out || die
        assert_not_contains "$(last_headers)" "LLMShim" "$v: the header reached the API"
        shim_chat "$(chat_req "$v")" >c.out || die
        assert_ne "$(cat b.out)" "$(cat a.out)" "$v fetched anew"
        assert_same_file c.out b.out "$v stored what it fetched"
    done
    assert_count 4
}

test_no_store_fetches_and_keeps_the_old_entry() {
    shim_chat "$(chat_req ns)" >a.out || die
    shim_chat "$(chat_req ns)" -H "$H: no-store" >b.out || die
    shim_chat "$(chat_req ns)" >c.out || die
    assert_count 2
    assert_ne "$(cat b.out)" "$(cat a.out)"
    assert_same_file c.out a.out "no-store left the entry as it was"
    shim_chat "$(chat_req ns2)" -H "$H: no-store" >/dev/null || die
    assert_eq "$(find "$CACHE" -name '*.json' | wc -l)" 1 "nothing stored for no-store"
}

test_ttl_per_request() {
    shim_chat "$(chat_req ttl)" -H "$H: ttl=1" >a.out || die
    entry=$(find "$CACHE" -name '*.json')
    assert_contains "$(grep '"ttl"' "$entry")" '"ttl": 1,'
    shim_chat "$(chat_req ttl)" >b.out || die
    assert_same_file b.out a.out "the header is not part of the key"
    sleep 2
    shim_chat "$(chat_req ttl)" >c.out || die
    assert_count 2 "expired after a second"
}

test_only_if_cached_never_reaches_the_network() {
    shim_chat "$(chat_req oic)" -H "$H: only-if-cached" >/dev/null 2>err; rc=$?
    assert_eq "$rc" 7 "a miss fails like a replay miss"
    assert_count 0
    shim_chat "$(chat_req oic)" >a.out || die
    shim_chat "$(chat_req oic)" -H "$H: only-if-cached" >b.out || die
    assert_same_file b.out a.out
    assert_count 1
}

test_header_never_leaves_whatever_the_url_or_mode() {
    shim curl -sS "$MOCK_URL/other" -H "$H: no-store" -d x >/dev/null || die
    assert_not_contains "$(last_headers)" "LLMShim" "a URL that is not an LLM endpoint"
    LLMSHIM_MODE=record shim_chat "$(chat_req rec)" -H "$H: ttl=60" -H 'X-Other: kept' >/dev/null || die
    assert_not_contains "$(last_headers)" "LLMShim" "record mode"
    assert_contains "$(last_headers)" "X-Other" "the other headers are sent"
    LLMSHIM_MODE=replay shim_chat "$(chat_req rec)" -H "$H: no-cache" >a.out 2>err || die "replay stays sealed: $(cat err)"
    assert_count 2 "replay mode never fetches, whatever the header says"
}

test_unknown_value_warns_once() {
    shim curl -sS "$MOCK_URL/v1/chat/completions" -H "$H: sometimes" -d "$(chat_req u1)" \
        --next "$MOCK_URL/v1/chat/completions" -H "$H: sometimes" -d "$(chat_req u2)" >/dev/null 2>err || die
    assert_eq "$(grep -c "X-LLMShim-Cache-Control: 'sometimes' is not one of" err)" 1 "$(cat err)"
    assert_not_contains "$(last_headers)" "LLMShim"
}

run_tests
