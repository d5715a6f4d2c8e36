#!/usr/bin/env bash
# What goes into a key (and what never does), and how streams are recorded and replayed.
. "$(dirname "$0")/lib.sh"

chat_url() { echo "$MOCK_URL/v1/chat/completions"; }
stream_req() { printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$1"; }

test_ignored_fields_share_a_key_kept_fields_do_not() {
    base='"model":"m","messages":[{"role":"user","content":"q"}]'
    shim_chat "{$base}" >a.out || die
    shim_chat "{$base,\"user\":\"u-42\",\"metadata\":{\"run\":\"7\"},\"store\":true,\"prompt_cache_key\":\"p\",\"safety_identifier\":\"s\"}" >b.out || die
    assert_count 1 "user, metadata, store, prompt_cache_key, safety_identifier never change an answer"
    assert_same_file b.out a.out
    for kept in '"temperature":0.2' '"seed":7' '"n":2' '"max_tokens":5' '"tools":[]' '"response_format":{"type":"json_object"}' '"stream_options":{}'; do
        shim_chat "{$base,$kept}" >/dev/null || die
    done
    assert_count 8 "each sampling/format field is a different question"
}

test_key_ignore_nested_pointer() {
    r1='{"model":"m","messages":[{"role":"user","name":"alice","content":"q"}]}'
    r2='{"model":"m","messages":[{"role":"user","name":"bob","content":"q"}]}'
    LLMSHIM_KEY_IGNORE=/messages/0/name shim_chat "$r1" >a.out || die
    LLMSHIM_KEY_IGNORE=/messages/0/name shim_chat "$r2" >b.out || die
    assert_count 1
    shim_chat "$r2" >/dev/null || die
    assert_count 2 "without the setting the name matters"
}

test_key_headers_setting() {
    LLMSHIM_KEY_HEADERS=x-tenant shim_chat "$(chat_req h)" -H 'X-Tenant: a' >a.out || die
    LLMSHIM_KEY_HEADERS=x-tenant shim_chat "$(chat_req h)" -H 'X-Tenant: b' >b.out || die
    LLMSHIM_KEY_HEADERS=x-tenant shim_chat "$(chat_req h)" -H 'x-tenant:  a ' >c.out || die
    assert_count 2
    assert_same_file c.out a.out
}

test_normalize_is_opt_in() {
    shim_chat "$(chat_req 'Hello   World')" >a.out || die
    shim_chat "$(chat_req 'hello world')" >b.out || die
    assert_count 2 "by default text is compared exactly"
    LLMSHIM_NORMALIZE=whitespace,case shim_chat "$(chat_req '  Hello   WORLD ')" >c.out || die
    LLMSHIM_NORMALIZE=whitespace,case shim_chat "$(chat_req 'HELLO world')" >d.out || die
    assert_count 2 "normalized, both are the question 'hello world', already answered"
    assert_same_file c.out b.out
    assert_same_file d.out b.out
}

test_key_scope_keeps_tenants_apart() {
    for who in alice bob alice; do
        LLMSHIM_KEY_SCOPE=credential shim_chat "$(chat_req s)" -H "Authorization: Bearer sk-$who-SECRET" >"$who.out" || die
    done
    assert_count 2 "alice's answer is not served to bob"
    assert_eq "$(stat -c %a "$CACHE/.secret")" 600
    if grep -r SECRET "$CACHE" --exclude=.secret; then die "a credential was stored"; fi
    shim_chat "$(chat_req s)" -H "Authorization: Bearer sk-alice-SECRET" >plain.out || die
    assert_count 3 "unscoped keys differ from scoped ones"
}

test_stream_miss_then_hit_identical() {
    shim curl -sS -N "$(chat_url)" -d "$(stream_req s1)" >miss.out || die
    shim curl -sS -N "$(chat_url)" -d "$(stream_req s1)" -D hit.h >hit.out || die
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.out)" 'data: [DONE]'
    assert_contains "$(cat hit.h)" 'text/event-stream'
    assert_count 1
    f=$(find "$CACHE" -name '*.json')
    assert_contains "$(cat "$f")" '"stream": "sse"'
    shim curl -sS -N "$(chat_url)" -d '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"u v"}]}' >/dev/null || die
    assert_contains "$(cat "$(grep -rl include_usage "$CACHE")")" '"usage": {"input": 2, "output": 5}' "usage from the last stream chunk"
}

test_cut_stream_not_stored() {
    shim curl -sS -N "$(chat_url)" -d "$(stream_req cut)" -H 'X-Mock-Cut: 1' >cut.out 2>/dev/null
    assert_contains "$(cat cut.out)" 'data: {' "part of the stream arrived"
    assert_eq "$(entries)" 0 "a stream that ended early is never stored"
    shim curl -sS -N "$(chat_url)" -d "$(stream_req cut)" >ok.out || die
    assert_count 2
}

test_stream_without_terminator_not_stored() {
    # the server ends cleanly, but the stream never says it is done: not an answer to keep
    LLMSHIM_ENDPOINTS="$MOCK_URL/" shim curl -sS -N "$MOCK_URL/v1/messages" \
        -d '{"model":"c","stream":true,"messages":[{"role":"user","content":"x"}]}' -H 'X-Mock-Cut: 1' >/dev/null 2>&1
    assert_eq "$(entries)" 0
}

test_app_abort_mid_stream_not_stored() {
    # head closes the pipe after the first line: curl's write fails, the transfer aborts
    shim curl -sS -N "$(chat_url)" -d "$(stream_req abort)" -H 'X-Mock-Event-Delay-Ms: 50' 2>/dev/null | head -c 10 >/dev/null
    sleep 0.5
    assert_eq "$(entries)" 0
}

test_first_event_reaches_app_before_stream_ends() {
    # 12 events 150 ms apart: a tee delivers the first one ~1.6 s before the end; a cache that
    # buffered the whole answer would deliver everything at once at the end
    start=$(date +%s%N)
    shim curl -sS -N "$(chat_url)" -d "$(stream_req 'a b c d e f g h i j')" -H 'X-Mock-Event-Delay-Ms: 150' |
        while IFS= read -r line; do [ -n "$line" ] && echo "$(date +%s%N)"; done >times
    first=$(( ($(head -1 times) - start) / 1000000 )); last=$(( ($(tail -1 times) - start) / 1000000 ))
    [ "$last" -ge 1200 ] || die "the stream took ${last} ms, expected paced events"
    [ $((last - first)) -ge 1000 ] || die "first event at ${first} ms, last at ${last} ms: the miss was buffered"
    assert_eq "$(entries)" 1 "and the stream was stored"
}

test_replay_pace() {
    shim curl -sS -N "$(chat_url)" -d "$(stream_req 'p q r s t')" -H 'X-Mock-Event-Delay-Ms: 200' >rec.out || die
    t0=$(date +%s%N); shim curl -sS -N "$(chat_url)" -d "$(stream_req 'p q r s t')" >fast.out || die; t1=$(date +%s%N)
    LLMSHIM_REPLAY_PACE=1 shim curl -sS -N "$(chat_url)" -d "$(stream_req 'p q r s t')" >paced.out || die; t2=$(date +%s%N)
    LLMSHIM_REPLAY_PACE=0.5 shim curl -sS -N "$(chat_url)" -d "$(stream_req 'p q r s t')" >half.out || die; t3=$(date +%s%N)
    assert_count 1
    assert_same_file fast.out rec.out
    assert_same_file paced.out rec.out
    fast=$(( (t1 - t0) / 1000000 )); paced=$(( (t2 - t1) / 1000000 )); half=$(( (t3 - t2) / 1000000 ))
    [ "$paced" -ge 1000 ] || die "LLMSHIM_REPLAY_PACE=1 took ${paced} ms for a ~1.2 s recording"
    [ "$half" -ge 500 ] && [ "$half" -lt "$paced" ] || die "pace 0.5 took ${half} ms (pace 1: ${paced} ms)"
    [ "$fast" -lt 500 ] || die "the default replay took ${fast} ms; it should not wait"
}

run_tests
