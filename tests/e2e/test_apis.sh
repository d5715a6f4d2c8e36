#!/usr/bin/env bash
# The providers and APIs of issue 17, reached by their real host names over HTTPS (the mock holds
# a certificate for them; --connect-to sends the connection to it), with no LLMSHIM_ENDPOINTS:
# each row a miss then a hit, byte for byte, one upstream request; streams replayed event by
# event (Bedrock frame by frame) and never stored when cut; no credential, signature, session
# token or bearer written anywhere.
. "$(dirname "$0")/lib.sh"
NO_MOCK=1
CHUNKS=$ROOT/build/clients/chunks
BR=bedrock-runtime.us-east-1.amazonaws.com
VX=us-central1-aiplatform.googleapis.com
VXP=/v1/projects/proj-1/locations/us-central1/publishers

# api HOST PATH BODY [curl args]: one call under the shim, the answer to stdout
api() {
    local host=$1 path=$2 body=$3; shift 3
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS -N --cacert "$MOCK_CA" \
        --connect-to "$host:443:127.0.0.1:$MOCK_PORT" "https://$host$path" \
        -H 'Content-Type: application/json' -d "$body" "$@"
}

# twice HOST PATH BODY PROVIDER [curl args]: a miss then a hit, identical, one upstream call,
# the entry filed under the provider with the usage the API reported
twice() {
    local host=$1 path=$2 body=$3 provider=$4 before; shift 4
    before=$(mock_count)
    api "$host" "$path" "$body" "$@" >miss.out || die "miss: $host$path"
    api "$host" "$path" "$body" "$@" >hit.out || die "hit: $host$path"
    assert_same_file hit.out miss.out "$host$path"
    assert_eq "$(mock_count)" $((before + 1)) "$host$path answered from the cache the second time"
    local entry; entry=$(ls -t $(find "$CACHE/$provider" -name '*.json' 2>/dev/null) 2>/dev/null | head -1)
    [ -n "$entry" ] || die "no entry under $provider/ for $path"
    [ "${NO_USAGE:-}" ] || grep -q '"usage": {"input": [1-9]' "$entry" || die "no usage in the entry of $path"
}

# frames FILE: the sizes of the eventstream frames in FILE, comma-separated
frames() {
    /usr/bin/python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(); out = []; i = 0
while i + 4 <= len(d):
    n = struct.unpack(">I", d[i:i+4])[0]; out.append(str(n)); i += n
print(",".join(out))' "$1"
}

chat='{"model":"m-1","messages":[{"role":"user","content":"hi there"}]}'
chat_stream='{"model":"m-1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi there"}]}'
converse='{"messages":[{"role":"user","content":[{"text":"hi there"}]}],"inferenceConfig":{"maxTokens":50}}'
model=/model/anthropic.claude-3-haiku-20240307-v1:0

test_bedrock_signed_by_libcurl_every_call() {
    start_tls_mock
    local sig=(--aws-sigv4 aws:amz:us-east-1:bedrock --user AKIDEXAMPLEKEY:SECRETexampleKEY)
    for call in converse converse-stream invoke invoke-with-response-stream; do
        body=$converse
        case $call in invoke*) body='{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi there"}]}' ;; esac
        before=$(mock_count)
        api $BR "$model/$call" "$body" "${sig[@]}" >miss.out || die "$call"
        sleep 1.1 # a new X-Amz-Date: a new signature
        api $BR "$model/$call" "$body" "${sig[@]}" >hit.out || die "$call hit"
        assert_same_file hit.out miss.out "$call"
        assert_eq "$(mock_count)" $((before + 1)) "$call: a new signature every second is still the same question"
    done
    assert_contains "$(env -u LD_PRELOAD curl -s --cacert "$MOCK_CA" "$MOCK_URL/__last")" "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEKEY"
    [ -d "$CACHE/bedrock/anthropic.claude-3-haiku-20240307-v1_0" ] || die "the model comes from the path"
    grep -q '"stream": "eventstream"' -r "$CACHE/bedrock" || die "streams are stored as eventstream frames"
    grep -q '"usage": {"input": 2, "output": [1-9]' -r "$CACHE/bedrock" || die "usage from the metadata event"
    if grep -rE 'AKIDEXAMPLE|SECRETexample|Signature|X-Amz-Date|aws4_request' "$CACHE"; then die "a credential was written"; fi
}

test_bedrock_streams_replay_frame_by_frame() {
    start_tls_mock
    [ -x "$CHUNKS" ] || die "$CHUNKS is not built"
    local args=(-H 'Content-Type: application/json' -H 'X-Mock-Event-Delay-Ms: 20' --sigv4 aws:amz:us-east-1:bedrock
                --user AKIDEXAMPLEKEY:SECRETexampleKEY --connect-to "$BR:443:127.0.0.1:$MOCK_PORT" --cacert "$MOCK_CA")
    for call in converse-stream invoke-with-response-stream; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" "$CHUNKS" "https://$BR$model/$call" "$converse" "${args[@]}" \
            >miss.out 2>miss.err || die "$(cat miss.err)"
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" "$CHUNKS" "https://$BR$model/$call" "$converse" "${args[@]}" \
            >hit.out 2>hit.err || die "$(cat hit.err)"
        assert_same_file hit.out miss.out
        assert_contains "$(cat hit.err)" "cache=HIT"
        want=$(frames miss.out)
        [ "$(echo "$want" | tr ',' '\n' | wc -l)" -ge 5 ] || die "$call: too few frames: $want"
        assert_eq "$(sed -n 's/.*writes=//p' hit.err)" "$want" "$call: one write per frame on a hit"
    done
    assert_eq "$(mock_count)" 2
}

test_bedrock_cut_streams_and_exceptions_never_stored() {
    start_tls_mock
    local sig=(--aws-sigv4 aws:amz:us-east-1:bedrock --user AKIDEXAMPLEKEY:SECRETexampleKEY)
    for cut in 1 mid; do
        for call in converse-stream invoke-with-response-stream; do
            api $BR "$model/$call" "$converse" "${sig[@]}" -H "X-Mock-Cut: $cut" >/dev/null 2>&1
        done
    done
    api $BR "$model/converse" "$converse" "${sig[@]}" -H 'X-Mock-Status: 429' >/dev/null
    assert_eq "$(mock_count)" 5
    assert_eq "$(entries)" 0 "a cut stream or an error is never stored"
}

test_bedrock_signed_by_the_program_or_an_api_key() {
    start_tls_mock
    for i in 1 2; do
        api $BR "$model/converse" "$converse" -H "X-Amz-Date: 2025010${i}T000000Z" \
            -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIDPROGRAM/2025010$i/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=SIGPROGRAM$i" \
            -H "X-Amz-Security-Token: SESSIONTOKEN$i" -H "X-Amz-Content-Sha256: CONTENTSHA$i" >"p$i.out" || die
        api $BR "$model/converse-stream" "$converse" -H "Authorization: Bearer BEDROCKAPIKEY$i" >"k$i.out" || die
    done
    assert_same_file p2.out p1.out
    assert_same_file k2.out k1.out
    assert_eq "$(mock_count)" 2 "signatures, session tokens and API keys are not the question"
    # the guardrail header changes the answer: a new question
    api $BR "$model/converse" "$converse" -H 'X-Amzn-Bedrock-GuardrailIdentifier: g1' >/dev/null || die
    assert_eq "$(mock_count)" 3
    # with LLMSHIM_KEY_SCOPE=credential, the access key id names the tenant, not the signature
    for i in 1 2; do
        env LLMSHIM_KEY_SCOPE=credential LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS --cacert "$MOCK_CA" \
            --connect-to "$BR:443:127.0.0.1:$MOCK_PORT" "https://$BR$model/converse" -d "$converse" \
            -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTENANT/2025010$i/us-east-1/bedrock/aws4_request, Signature=SIGTENANT$i" \
            >/dev/null || die
    done
    assert_eq "$(mock_count)" 4 "one tenant, two signatures: one question"
    if grep -rE 'AKID|SIGPROGRAM|SIGTENANT|SESSIONTOKEN|CONTENTSHA|BEDROCKAPIKEY|Signature' "$CACHE"; then die "a credential was written"; fi
}

test_vertex_rows_and_rotating_tokens() {
    start_tls_mock
    local gen='{"contents":[{"role":"user","parts":[{"text":"hi there"}]}]}'
    local claude='{"anthropic_version":"vertex-2023-10-16","max_tokens":50,"messages":[{"role":"user","content":"hi there"}]}'
    twice $VX "$VXP/google/models/gemini-2.0-flash:generateContent" "$gen" vertex -H 'Authorization: Bearer ya29.t1'
    twice $VX "$VXP/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse" "$gen" vertex
    twice $VX "$VXP/google/models/text-embedding-005:predict" '{"instances":[{"content":"hi there"}]}' vertex
    twice $VX "$VXP/anthropic/models/claude-3-5-haiku@20241022:rawPredict" "$claude" vertex
    twice $VX "$VXP/anthropic/models/claude-3-5-haiku@20241022:streamRawPredict" "${claude%\}},\"stream\":true}" vertex
    assert_contains "$(cat hit.out)" "event: message_stop"
    twice aiplatform.googleapis.com /v1/projects/proj-1/locations/global/endpoints/openapi/chat/completions \
        "$chat_stream" vertex
    [ -d "$CACHE/vertex/claude-3-5-haiku_20241022" ] || die "the model comes from the path"
    # the OAuth token changes every hour: with key scope, the project (in the URL) is the tenant
    local n; n=$(mock_count)
    for tok in ya29.HOURONE ya29.HOURTWO; do
        LLMSHIM_KEY_SCOPE=credential api $VX "$VXP/google/models/g:generateContent" "$gen" \
            -H "Authorization: Bearer $tok" >/dev/null || die
    done
    assert_eq "$(mock_count)" $((n + 1)) "a new token is not a new tenant"
    LLMSHIM_KEY_SCOPE=credential api $VX "${VXP/proj-1/proj-2}/google/models/g:generateContent" "$gen" \
        -H 'Authorization: Bearer ya29.HOURONE' >/dev/null || die
    assert_eq "$(mock_count)" $((n + 2)) "another project is another tenant"
    if grep -r 'ya29' "$CACHE"; then die "a token was written"; fi
}

test_cohere_voyage_jina() {
    start_tls_mock
    local co='{"model":"command-r","messages":[{"role":"user","content":"hi there"}]}'
    twice api.cohere.com /v2/chat "$co" cohere -H 'Authorization: Bearer co-SECRET'
    twice api.cohere.com /v2/chat "${co%\}},\"stream\":true}" cohere
    assert_contains "$(cat hit.out)" "event: message-end"
    twice api.cohere.ai /v1/chat '{"model":"command-r","message":"hi there","stream":true}' cohere
    assert_contains "$(cat hit.out)" '"event_type":"stream-end"'
    twice api.cohere.com /v2/embed '{"model":"embed-v4.0","texts":["hi there"],"input_type":"search_query"}' cohere
    NO_USAGE=1 twice api.cohere.com /v2/rerank '{"model":"rerank-v3.5","query":"q","documents":["a","b"]}' cohere
    twice api.voyageai.com /v1/embeddings '{"model":"voyage-3","input":["hi there"]}' voyage
    twice api.voyageai.com /v1/rerank '{"model":"rerank-2","query":"q","documents":["a","b"]}' voyage
    twice api.jina.ai /v1/embeddings '{"model":"jina-embeddings-v3","input":["hi there"]}' jina
    twice api.jina.ai /v1/rerank '{"model":"jina-reranker-v2","query":"q","documents":["a","b"]}' jina
    # a cut stream is never stored
    local n; n=$(entries)
    api api.cohere.com /v2/chat '{"model":"c","stream":true,"messages":[{"role":"user","content":"cut"}]}' -H 'X-Mock-Cut: 1' >/dev/null 2>&1
    assert_eq "$(entries)" "$n"
    if grep -r 'SECRET' "$CACHE"; then die "a credential was written"; fi
}

test_openai_compatible_newcomers_and_fim() {
    start_tls_mock
    twice api.perplexity.ai /chat/completions "$chat" perplexity
    twice api.perplexity.ai /chat/completions "$chat_stream" perplexity
    assert_not_contains "$(cat miss.out)" "[DONE]" # Perplexity ends with a finish_reason alone
    twice api.cerebras.ai /v1/chat/completions "$chat_stream" cerebras
    twice router.huggingface.co /v1/chat/completions "$chat" huggingface
    twice api.sambanova.ai /v1/chat/completions "$chat_stream" sambanova
    twice api.mistral.ai /v1/fim/completions '{"model":"codestral-latest","prompt":"def f(","suffix":"return x"}' mistral
    NO_USAGE=1 twice api.mistral.ai /v1/fim/completions '{"model":"codestral-latest","prompt":"def g(","suffix":"","stream":true}' mistral
    twice api.deepseek.com /beta/completions '{"model":"deepseek-chat","prompt":"def f(","suffix":"pass"}' deepseek
    # a cut Perplexity stream (no finish_reason yet) is never stored
    local n; n=$(entries)
    api api.perplexity.ai /chat/completions '{"model":"s","stream":true,"messages":[{"role":"user","content":"a b c d e f"}]}' \
        -H 'X-Mock-Cut: 1' >/dev/null 2>&1
    assert_eq "$(entries)" "$n"
}

test_uploads_to_groq_and_azure_and_sse_event_by_event() {
    start_tls_mock
    head -c 20000 /dev/urandom >a.wav
    for target in "api.groq.com /openai/v1/audio/transcriptions groq" \
        "res.openai.azure.com /openai/deployments/whisper/audio/translations?api-version=2024-06-01 azure"; do
        set -- $target
        for i in 1 2; do
            env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" curl -sS --cacert "$MOCK_CA" \
                --connect-to "$1:443:127.0.0.1:$MOCK_PORT" "https://$1$2" -H 'api-key: AZSECRET' \
                -F file=@a.wav -F model=whisper-large-v3 >"$3.$i" || die "$1"
        done
        assert_same_file "$3.2" "$3.1"
        assert_contains "$(cat "$3.1")" "sha $(sha256sum a.wav | cut -c1-12)"
        [ -n "$(find "$CACHE/$3" -name '*.json')" ] || die "no entry under $3/"
    done
    assert_eq "$(mock_count)" 2
    # an SSE stream replays one write per event
    local co='{"model":"command-r","stream":true,"messages":[{"role":"user","content":"one two three four five"}]}'
    for run in miss hit; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" "$CHUNKS" https://api.cohere.com/v2/chat "$co" \
            -H 'X-Mock-Event-Delay-Ms: 20' --connect-to "api.cohere.com:443:127.0.0.1:$MOCK_PORT" \
            --cacert "$MOCK_CA" >$run.out 2>$run.err || die "$(cat $run.err)"
    done
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.err)" "cache=HIT"
    want=$(/usr/bin/python3 -c 'import sys; print(",".join(str(len(e) + 2) for e in open(sys.argv[1]).read().split("\n\n")[:-1]))' miss.out)
    assert_eq "$(sed -n 's/.*writes=//p' hit.err)" "$want" "one write per event on a hit"
    if grep -r 'AZSECRET' "$CACHE"; then die "a credential was written"; fi
}

test_replay_of_new_apis_never_reaches_the_network() {
    start_tls_mock
    api $BR "$model/converse-stream" "$converse" --aws-sigv4 aws:amz:us-east-1:bedrock --user AK:SECRET >a.out || die
    LLMSHIM_MODE=replay api $BR "$model/converse-stream" "$converse" --aws-sigv4 aws:amz:us-east-1:bedrock --user AK2:SECRET2 >b.out || die
    assert_same_file b.out a.out
    LLMSHIM_MODE=replay api api.cohere.com /v2/chat '{"never":"seen"}' >/dev/null 2>err; rc=$?
    assert_eq "$rc" 7
    assert_contains "$(cat err)" "replay miss"
    assert_eq "$(mock_count)" 1
}

test_no_credential_in_stores_or_exports() {
    start_tls_mock
    redis_ok=0
    . "$ROOT/tests/redis.sh"
    if redis_start >/dev/null 2>&1; then redis_ok=1; trap 'redis_stop; mock_stop >/dev/null 2>&1' EXIT; fi
    for backend in file memory,file $([ $redis_ok = 1 ] && echo redis); do
        for scope in none credential; do
            export LLMSHIM_BACKEND=$backend LLMSHIM_KEY_SCOPE=$scope LLMSHIM_REDIS_URL=${REDIS_URL:-} LLMSHIM_LOG=debug
            api $BR "$model/converse" "$converse" --aws-sigv4 aws:amz:us-east-1:bedrock --user AKIDLEAK:SECRETLEAK 2>>shim.err >/dev/null
            api $BR "$model/converse-stream" "$converse" -H 'Authorization: Bearer BEDROCKKEYLEAK' 2>>shim.err >/dev/null
            api $BR "$model/invoke" '{"x":1}' -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDLEAK2/x, Signature=SIGLEAK' \
                -H 'X-Amz-Security-Token: TOKENLEAK' 2>>shim.err >/dev/null
            api $VX "$VXP/google/models/g:generateContent" '{"contents":[]}' -H 'Authorization: Bearer ya29.LEAK' 2>>shim.err >/dev/null
            api api.cohere.com /v2/chat "$chat" -H 'Authorization: Bearer COHERELEAK' 2>>shim.err >/dev/null
        done
    done
    unset LLMSHIM_BACKEND LLMSHIM_KEY_SCOPE LLMSHIM_LOG
    LLMSHIM_DIR=$CACHE "$ROOT/build/llmshim" export "$TEST_TMP/cassette" >/dev/null 2>>shim.err || die "export"
    [ -n "$(find "$TEST_TMP/cassette" -name '*.json')" ] || die "nothing exported"
    local leak='LEAK|Signature|aws4_request|X-Amz'
    if grep -rE "$leak" "$CACHE" "$TEST_TMP/cassette" shim.err; then die "a credential was written"; fi
    if [ $redis_ok = 1 ]; then
        dump=$(for k in $(redis-cli -u "$REDIS_URL" --scan); do redis-cli -u "$REDIS_URL" --raw GET "$k" 2>/dev/null; done)
        [ -n "$dump" ] || die "nothing in redis"
        if printf '%s' "$dump" | grep -E "$leak"; then die "a credential reached redis"; fi
    fi
}

run_tests
