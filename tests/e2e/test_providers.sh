#!/usr/bin/env bash
# Every built-in provider, reached by its real host name over HTTPS (the mock holds a
# certificate for them; curl --connect-to sends the connection to it): miss then hit with
# identical bytes, plain and streamed, with no LLMSHIM_ENDPOINTS at all.
. "$(dirname "$0")/lib.sh"
NO_MOCK=1

# provider_call HOST PATH BODY [curl args]: one call under the shim, answer to stdout
provider_call() {
    local host=$1 path=$2 body=$3; shift 3
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS -N --cacert "$MOCK_CA" \
        --connect-to "$host:443:127.0.0.1:$MOCK_PORT" "https://$host$path" \
        -H 'Content-Type: application/json' -d "$body" "$@"
}

# miss_then_hit HOST PATH BODY PROVIDER: asserts one upstream call, identical bytes, entry filed
miss_then_hit() {
    local before; before=$(mock_count)
    provider_call "$1" "$2" "$3" >miss.out || die "miss: $1$2"
    provider_call "$1" "$2" "$3" >hit.out || die "hit: $1$2"
    assert_same_file hit.out miss.out "$1$2"
    assert_eq "$(mock_count)" $((before + 1)) "$1$2 answered from the cache the second time"
    [ -n "$(find "$CACHE/$4" -name '*.json' 2>/dev/null)" ] || die "no entry under $4/"
}

chat='{"model":"m-1","messages":[{"role":"user","content":"hi there"}]}'
chat_stream='{"model":"m-1","stream":true,"messages":[{"role":"user","content":"hi there"}]}'

test_openai_compatible_providers() {
    start_tls_mock
    miss_then_hit api.openai.com /v1/chat/completions "$chat" openai
    miss_then_hit api.openai.com /v1/chat/completions "$chat_stream" openai
    miss_then_hit api.openai.com /v1/responses '{"model":"m-1","input":"hi","stream":true}' openai
    miss_then_hit api.openai.com /v1/completions '{"model":"m-1","prompt":"hi"}' openai
    miss_then_hit api.openai.com /v1/embeddings '{"model":"e-1","input":"hi"}' openai
    miss_then_hit openrouter.ai /api/v1/chat/completions "$chat_stream" openrouter
    miss_then_hit generativelanguage.googleapis.com /v1beta/openai/chat/completions "$chat" gemini
    miss_then_hit myres.openai.azure.com '/openai/deployments/gpt4/chat/completions?api-version=2024-02-01' \
        '{"messages":[{"role":"user","content":"hi"}]}' azure
    [ -n "$(find "$CACHE/azure/gpt4" -name '*.json')" ] || die "the Azure deployment names the model"
}

test_anthropic_messages() {
    start_tls_mock
    body='{"model":"claude-x","max_tokens":20,"messages":[{"role":"user","content":"hi there"}]}'
    miss_then_hit api.anthropic.com /v1/messages "$body" anthropic
    miss_then_hit api.anthropic.com /v1/messages "${body%\}},\"stream\":true}" anthropic
    assert_contains "$(cat hit.out)" 'event: message_stop'
    # anthropic-version changes the answer's format: it is part of the key
    provider_call api.anthropic.com /v1/messages "$body" -H 'anthropic-version: 2023-06-01' >a.out || die
    provider_call api.anthropic.com /v1/messages "$body" -H 'anthropic-version: 2099-01-01' >b.out || die
    provider_call api.anthropic.com /v1/messages "$body" -H 'anthropic-version: 2023-06-01' >c.out || die
    assert_eq "$(mock_count)" 4 "two anthropic-version values are two questions"
    assert_same_file c.out a.out
}

test_gemini_native() {
    start_tls_mock
    body='{"contents":[{"role":"user","parts":[{"text":"hi there"}]}]}'
    miss_then_hit generativelanguage.googleapis.com '/v1beta/models/gemini-x:generateContent?key=SECRETgem' "$body" gemini
    miss_then_hit generativelanguage.googleapis.com '/v1beta/models/gemini-x:streamGenerateContent?alt=sse&key=SECRETgem' "$body" gemini
    miss_then_hit generativelanguage.googleapis.com '/v1beta/models/gemini-x:streamGenerateContent?key=SECRETgem' "$body" gemini
    [ -n "$(find "$CACHE/gemini/gemini-x" -name '*.json')" ] || die "model from the path"
    if grep -r SECRET "$CACHE"; then die "the ?key= credential reached the cache"; fi
}

test_ollama_on_its_port() {
    # Ollama speaks plain HTTP on localhost:11434: the mock (plain) stands in through --connect-to
    mock_start >/dev/null || die
    trap 'mock_stop >/dev/null 2>&1' EXIT
    for i in 1 2; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS -N --connect-to "localhost:11434:127.0.0.1:$MOCK_PORT" \
            http://localhost:11434/api/chat -d '{"model":"llama3","messages":[{"role":"user","content":"hi"}]}' >"o$i.out" || die
    done
    assert_same_file o2.out o1.out
    assert_contains "$(cat o1.out)" '"done":true'
    assert_eq "$(mock_count)" 1 "ollama streams (the default) are cached"
    [ -n "$(find "$CACHE/ollama/llama3" -name '*.json')" ] || die
}

test_credentials_of_every_provider_never_written() {
    start_tls_mock
    provider_call api.openai.com /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-test-SECRET1' >/dev/null || die
    provider_call api.anthropic.com /v1/messages "$chat" -H 'x-api-key: sk-ant-SECRET2' >/dev/null || die
    provider_call myres.openai.azure.com '/openai/deployments/d/chat/completions?api-version=1' "$chat" -H 'api-key: SECRET3' >/dev/null || die
    provider_call generativelanguage.googleapis.com /v1beta/models/g:generateContent "$chat" -H 'x-goog-api-key: SECRET4' >/dev/null || die
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_KEY_SCOPE=credential curl -sS --cacert "$MOCK_CA" \
        --connect-to "api.openai.com:443:127.0.0.1:$MOCK_PORT" https://api.openai.com/v1/chat/completions \
        -u 'user:SECRET5' -d "$chat" >/dev/null || die
    assert_eq "$(entries)" 5 "five answers"
    [ -s "$CACHE/.secret" ] || die "no scope secret"
    if grep -r SECRET "$CACHE"; then die "a credential reached the cache"; fi
}

run_tests
