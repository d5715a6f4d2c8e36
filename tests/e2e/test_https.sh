#!/usr/bin/env bash
# HTTPS with a test CA, and the built-in recognition of api.openai.com (no LLMSHIM_ENDPOINTS):
# curl connects to the mock but believes it talks to https://api.openai.com.
. "$(dirname "$0")/lib.sh"
NO_MOCK=1

openai() {
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS --cacert "$MOCK_CA" \
        --connect-to "api.openai.com:443:127.0.0.1:$MOCK_PORT" "$@"
}

test_builtin_openai_over_https() {
    start_tls_mock
    for path in chat/completions embeddings; do
        openai "https://api.openai.com/v1/$path" -H 'Content-Type: application/json' \
            -d '{"model":"gpt-4o-mini","input":"x","messages":[{"role":"user","content":"tls"}]}' -o "miss-${path%%/*}" || die
        openai "https://api.openai.com/v1/$path" -H 'Content-Type: application/json' \
            -d '{"model":"gpt-4o-mini","input":"x","messages":[{"role":"user","content":"tls"}]}' -o "hit-${path%%/*}" || die
        assert_same_file "hit-${path%%/*}" "miss-${path%%/*}"
    done
    assert_count 2 "each built-in path answered once"
    [ -n "$(find "$CACHE/openai/gpt-4o-mini" -name '*.json')" ] || die "entry not filed under openai/"
}

# Replay: URLs spelled other ways that libcurl still sends to the API, and an HSTS upgrade from
# http:// (not an endpoint) to https:// (one) are refused before anything leaves.
test_replay_sealed_for_every_spelling_and_hsts() {
    start_tls_mock
    body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"spelled"}]}'
    for url in https://api.openai.com./v1/chat/completions https://api.openai.com/x/../v1/chat/completions \
               https://api.openai.com/./v1/chat/completions https://%61pi.openai.com/v1/chat/completions \
               https:/api.openai.com/v1/chat/completions; do
        LLMSHIM_MODE=replay openai "$url" -d "$body" >/dev/null 2>err
        assert_contains "$(cat err)" "replay miss" "$url"
    done
    printf 'api.openai.com "20991231 00:00:00"\n' >hsts.txt
    LLMSHIM_MODE=replay openai --hsts hsts.txt http://api.openai.com/v1/chat/completions -d "$body" >/dev/null 2>err
    assert_contains "$(cat err)" "llmshim: replay: not sent"
    assert_count 0 "replay never reached the API"
}

test_builtin_ignores_other_openai_paths() {
    start_tls_mock
    openai https://api.openai.com/v1/files -d '{"purpose":"x"}' >/dev/null || die
    openai https://api.openai.com/v1/files -d '{"purpose":"x"}' >/dev/null || die
    assert_count 2
    assert_eq "$(entries)" 0
}

test_credentials_never_written() {
    start_tls_mock
    for i in 1 2; do
        openai https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' \
            -H 'Authorization: Bearer sk-test-SECRETbearer' -H 'x-api-key: SECRETxapikey' \
            -H 'api-key: SECRETazure' -H 'x-goog-api-key: SECRETgoog' \
            -d "$(chat_req creds)" >/dev/null || die
    done
    # a user endpoint with the key in the query string
    for i in 1 2; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="https://127.0.0.1:$MOCK_PORT/v1" \
            curl -sS --cacert "$MOCK_CA" "https://127.0.0.1:$MOCK_PORT/v1/chat/completions?key=SECRETquery&x=1" \
            -d "$(chat_req creds2)" >/dev/null || die
    done
    assert_count 2 "both requests cached despite credentials"
    assert_eq "$(entries)" 2
    if grep -r SECRET "$CACHE"; then die "a credential reached the cache"; fi
    assert_contains "$(cat "$(grep -rl creds2 "$CACHE")")" '/v1/chat/completions?x=1"'
}

test_credential_does_not_change_the_key() {
    start_tls_mock
    openai https://api.openai.com/v1/chat/completions -H 'Authorization: Bearer sk-one' -d "$(chat_req k)" >a.out || die
    openai https://api.openai.com/v1/chat/completions -H 'Authorization: Bearer sk-two' -d "$(chat_req k)" >b.out || die
    assert_count 1
    assert_same_file b.out a.out
}

run_tests
