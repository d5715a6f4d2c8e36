#!/usr/bin/env bash
# Trust, part 2 (keys that never merge different requests, replay sealed, nothing silent),
# through the real curl tool under the shim and the counting mock.
. "$(dirname "$0")/lib.sh"

# ---- keys ---------------------------------------------------------------------------------------

# Two numbers a double cannot tell apart are two questions; two spellings of one number are one.
test_numbers_compared_exactly() {
    b1='{"model":"m","seed":12345678901234567890.0,"messages":[{"role":"user","content":"n"}]}'
    b2='{"model":"m","seed":12345678901234567891.0,"messages":[{"role":"user","content":"n"}]}'
    b3='{"model":"m","seed":9007199254740993.0,"messages":[{"role":"user","content":"n"}]}'
    b4='{"model":"m","seed":9007199254740992,"messages":[{"role":"user","content":"n"}]}'
    for b in "$b1" "$b2" "$b3" "$b4"; do shim_chat "$b" >/dev/null || die; done
    assert_count 4 "four different numbers, four questions"
    shim_chat '{"model":"m","seed":1.0,"messages":[{"role":"user","content":"n"}]}' >a.out || die
    shim_chat '{"model":"m","seed":1e0,"messages":[{"role":"user","content":"n"}]}' >b.out || die
    shim_chat '{"model":"m","seed":1,"messages":[{"role":"user","content":"n"}]}' >c.out || die
    assert_count 5 "1.0, 1e0 and 1 are one number"
    assert_same_file b.out a.out
    assert_same_file c.out a.out
}

# Every request header line is read, however many: the 200th decides.
test_key_header_after_199_others() {
    for i in $(seq 1 199); do echo "X-Filler-$i: $i"; done >h
    cp h h.tools && echo 'anthropic-beta: tools-2024-04-04' >>h.tools
    cp h h.computer && echo 'anthropic-beta: computer-use-2024-10-22' >>h.computer
    body='{"model":"claude-x","max_tokens":9,"messages":[{"role":"user","content":"beta"}]}'
    for f in h.tools h.computer h.tools h.computer; do
        LLMSHIM_ENDPOINTS="anthropic=$MOCK_URL/v1" shim curl -sS "$MOCK_URL/v1/messages" -H @"$f" \
            -H 'content-type: application/json' -d "$body" >"out.$f" || die
    done
    assert_count 2 "the two betas are two questions; each asked again is a hit"
    assert_contains "$(cat out.h.tools)" 'answer #1'
    assert_contains "$(cat out.h.computer)" 'answer #2'
}

# LLMSHIM_KEY_SCOPE=credential keeps tenants apart however the credential reaches the server.
test_key_scope_every_way_a_credential_is_sent() {
    export LLMSHIM_KEY_SCOPE=credential
    n=0
    for way in "-u alice:pw|-u bob:pw" "-b session=alice|-b session=bob" \
               "-H X-Tenant-Token:alice|-H X-Tenant-Token:bob" "-H Cookie:s=alice|-H Cookie:s=bob"; do
        a=${way%%|*} b=${way##*|}
        # shellcheck disable=SC2086
        shim_chat "$(chat_req "scope $n")" $a >a.out || die
        # shellcheck disable=SC2086
        shim_chat "$(chat_req "scope $n")" $b >b.out || die
        # shellcheck disable=SC2086
        shim_chat "$(chat_req "scope $n")" $a >a2.out || die
        n=$((n + 1))
        assert_count $((2 * n)) "$a and $b are two tenants; $a again is a hit"
        assert_same_file a2.out a.out
        assert_ne "$(cat a.out)" "$(cat b.out)"
    done
    if grep -rq -e alice -e bob "$CACHE"; then die "a credential was written into the cache"; fi
}

# The Responses API echoes user and metadata in its answer: they are part of the question there
# (on chat/completions they are left out of the key, since its answer never holds them).
test_responses_user_and_metadata_are_part_of_the_question() {
    ra='{"model":"gpt-4o","input":"hello","user":"alice","metadata":{"team":"a"}}'
    rb='{"model":"gpt-4o","input":"hello","user":"bob","metadata":{"team":"b"}}'
    shim curl -sS "$MOCK_URL/v1/responses" -d "$ra" >a.out || die
    shim curl -sS "$MOCK_URL/v1/responses" -d "$rb" >b.out || die
    shim curl -sS "$MOCK_URL/v1/responses" -d "$ra" >a2.out || die
    assert_count 2 "bob is not served alice's answer"
    assert_same_file a2.out a.out
    assert_contains "$(cat a.out)" '"user":"alice"'
    assert_contains "$(cat b.out)" '"user":"bob"'
    assert_contains "$(cat b.out)" '"metadata":{"team":"b"}'
    assert_not_contains "$(cat b.out)" alice
    shim_chat '{"model":"m","user":"alice","messages":[{"role":"user","content":"u"}]}' >c1.out || die
    shim_chat '{"model":"m","user":"bob","messages":[{"role":"user","content":"u"}]}' >c2.out || die
    assert_count 3 "chat/completions: user never changes nor appears in the answer"
}

# ---- settings and log lines ---------------------------------------------------------------------

test_misspelt_setting_is_named_once() {
    LLMSHIM_MDOE=replay shim curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req a)" \
        --next "$MOCK_URL/v1/chat/completions" -d "$(chat_req b)" >/dev/null 2>err || die
    assert_eq "$(grep -c 'LLMSHIM_MDOE: unknown setting; did you mean LLMSHIM_MODE?' err)" 1 "once per process: $(cat err)"
    assert_count 2 "still cache mode: the misspelt setting does nothing"
    LLMSHIM_MDOE=replay "$ROOT/build/llmshim" config >/dev/null 2>err || true
    assert_contains "$(cat err)" "LLMSHIM_MDOE: unknown setting; did you mean LLMSHIM_MODE?"
    LLMSHIM_MDOE=replay "$ROOT/build/llmshim" run -- true 2>err || die
    assert_contains "$(cat err)" "LLMSHIM_MDOE: unknown setting; did you mean LLMSHIM_MODE?"
    # a program that never touches libcurl hears nothing
    LLMSHIM_MDOE=replay shim ls / >/dev/null 2>err || die
    assert_eq "$(cat err)" ""
}

test_bypass_and_not_an_endpoint_are_logged() {
    LLMSHIM_LOG=info shim curl -sS -X post "$MOCK_URL/v1/chat/completions" -d "$(chat_req low)" >/dev/null 2>err
    assert_contains "$(cat err)" 'llmshim: BYPASS the method is "post", not POST'
    LLMSHIM_LOG=debug shim curl -sS "$MOCK_URL/other/thing?key=SECRET" -d '{}' >/dev/null 2>err || die
    assert_contains "$(cat err)" "not an LLM endpoint; to cache it: LLMSHIM_ENDPOINTS=$MOCK_URL/other"
    assert_not_contains "$(cat err)" SECRET
    LLMSHIM_LOG=info shim curl -sS "$MOCK_URL/other/thing" -d '{}' >/dev/null 2>err || die
    assert_eq "$(cat err)" "" "at info, other POSTs are not mentioned"
}

test_store_logged_only_when_written() {
    touch file # a cache directory that cannot be made, even by root
    CACHE=$TEST_TMP/file/cache LLMSHIM_LOG=info shim_chat "$(chat_req ro)" >/dev/null 2>err || die
    assert_not_contains "$(cat err)" "STORE"
    assert_contains "$(cat err)" "MISS (not stored)"
}

# ---- replay never leaves the machine -------------------------------------------------------------

# Each transfer to an LLM endpoint that llmshim cannot key fails in replay mode, with its reason.
test_replay_refuses_what_it_cannot_key() {
    echo '{"model":"m","messages":[]}' >body.json
    printf 'x' >f.bin
    mkfifo f.fifo # a multipart part llmshim cannot read ahead without taking it from libcurl
    big=$(head -c 3000 /dev/zero | tr '\0' a)
    while IFS='|' read -r reason args; do
        # shellcheck disable=SC2086
        LLMSHIM_MODE=replay LLMSHIM_MAX_ENTRY_BYTES=2000 shim curl -sS $args >/dev/null 2>err; rc=$?
        assert_eq "$rc" 7 "refused like a replay miss: $args"
        assert_contains "$(cat err)" "llmshim: replay: not sent, because $reason"
    done <<EOF
the method is "post", not POST|-X post $MOCK_URL/v1/chat/completions -d {}
a multipart file is not a regular file|-F file=@f.fifo $MOCK_URL/v1/audio/transcriptions
the body is larger than LLMSHIM_MAX_ENTRY_BYTES|$MOCK_URL/v1/chat/completions -d {"x":"$big"}
CURLOPT_RANGE is set|-r 0-10 $MOCK_URL/v1/chat/completions -d {}
CURLOPT_REQUEST_TARGET is set|--request-target /v1/chat/completions $MOCK_URL/v1/chat/completions -d {}
EOF
    assert_count 0 "nothing reached the API"
    # other URLs are untouched
    LLMSHIM_MODE=replay shim curl -sS "$MOCK_URL/other" -d x >/dev/null || die
    LLMSHIM_MODE=replay shim curl -sS "$MOCK_URL/v1/models" >/dev/null || die
    assert_count 2
}

# A URL given as a CURLU handle is read through libcurl's own curl_url_get: cached, and sealed.
test_curlu_url_is_keyed_and_sealed() {
    c=$ROOT/build/clients/curlu
    shim "$c" "$MOCK_URL/v1/chat/completions?x=1" "$(chat_req curlu)" >a.out 2>a.err || die "$(cat a.err)"
    shim "$c" "$MOCK_URL/v1/chat/completions?x=1" "$(chat_req curlu)" >b.out 2>b.err || die "$(cat b.err)"
    assert_count 1
    assert_contains "$(cat b.err)" "cache=HIT"
    assert_same_file b.out a.out
    shim "$c" "$MOCK_URL/v1/chat/completions?x=2" "$(chat_req curlu)" >/dev/null 2>&1 || die
    assert_count 2 "another query is another question"
    LLMSHIM_MODE=replay shim "$c" "$MOCK_URL/v1/chat/completions?x=3" "$(chat_req curlu)" >/dev/null 2>err
    assert_contains "$(cat err)" "replay miss"
    assert_count 2 "replay never reaches the API"
}

# curl_multi_socket_all (pycurl's CurlMulti.socket_all) drives transfers like perform does: they
# are judged too, so replay refuses and cache hits.
test_multi_socket_all_is_judged() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    sa=$ROOT/tests/e2e/clients/pycurl_socket_all.py
    LLMSHIM_MODE=replay shim /usr/bin/python3 "$sa" "$MOCK_URL/v1/chat/completions" "$(chat_req sa)" >r.out 2>&1
    assert_count 0 "replay refused it: $(cat r.out)"
    shim /usr/bin/python3 "$sa" "$MOCK_URL/v1/chat/completions" "$(chat_req sa)" >a.out 2>&1 || die "$(cat a.out)"
    shim /usr/bin/python3 "$sa" "$MOCK_URL/v1/chat/completions" "$(chat_req sa)" >b.out 2>&1 || die "$(cat b.out)"
    assert_count 1 "the second was a hit"
}

# Replay: a POST to a URL that is not an LLM endpoint, redirected (307/308) to one, is stopped
# before libcurl sends it there.
test_replay_redirect_to_an_llm_endpoint_is_stopped() {
    /usr/bin/python3 "$ROOT/tests/e2e/clients/redirector.py" rp &
    rpid=$!
    trap 'kill $rpid 2>/dev/null; mock_stop >/dev/null 2>&1' EXIT
    for i in $(seq 100); do [ -s rp ] && break; sleep 0.05; done
    for code in 307 308; do
        LLMSHIM_MODE=replay shim curl -sS -L "http://127.0.0.1:$(cat rp)/$code/x?to=$MOCK_URL/v1/chat/completions" \
            -d "$(chat_req redir)" >/dev/null 2>err
        assert_contains "$(cat err)" "llmshim: replay: not sent, because a redirect led to an LLM endpoint"
    done
    assert_count 0 "nothing reached the API"
    # in cache mode the same redirect is followed, as without llmshim
    shim curl -sS -L "http://127.0.0.1:$(cat rp)/307/x?to=$MOCK_URL/v1/chat/completions" -d "$(chat_req redir)" >/dev/null || die
    assert_count 1
}

run_tests
