#!/usr/bin/env bash
# Binary answers: speech (audio bytes, or SSE with stream_format "sse") and images (base64 JSON
# or URLs) round-trip byte for byte; a 5 MB answer too; image URLs expire, and an entry holding
# them never outlives them.
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
speech='{"model":"gpt-4o-mini-tts","voice":"alloy","input":"Hello there, this is a test."}'
latest_entry() { ls -t $(find "$CACHE" -name '*.json') | head -1; }

test_speech_bytes_round_trip() {
    for fmt in mp3 wav; do
        body=${speech%\}},\"response_format\":\"$fmt\"}
        shim curl -sS "$MOCK_URL/v1/audio/speech" -d "$body" -o "a.$fmt" -D ha || die
        shim curl -sS "$MOCK_URL/v1/audio/speech" -d "$body" -o "b.$fmt" -D hb || die
        assert_same_file "b.$fmt" "a.$fmt" "$fmt byte for byte"
        grep -qi '^X-LLMShim-Cache: HIT' hb || die "$fmt not from the cache"
        assert_eq "$(grep -i '^Content-Type' hb | tr -d '\r')" "$(grep -i '^Content-Type' ha | tr -d '\r')"
    done
    assert_count 2
    grep -q '"body_base64": "' "$(latest_entry)" || die "audio is kept as base64"
    [ "$(od -An -c a.mp3 | head -1 | grep -c '\\0')" = 1 ] || die "the answer holds NUL bytes (a real binary test)"
}

test_five_megabyte_answer() {
    shim curl -sS "$MOCK_URL/v1/audio/speech" -H 'X-Mock-Body-Bytes: 5242880' -d "$speech" -o a.mp3 || die
    start=$(date +%s%N)
    shim curl -sS "$MOCK_URL/v1/audio/speech" -H 'X-Mock-Body-Bytes: 5242880' -d "$speech" -o b.mp3 || die
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    assert_count 1
    assert_eq "$(stat -c %s b.mp3)" 5242880
    assert_same_file b.mp3 a.mp3
    size=$(stat -c %s "$(latest_entry)")
    # base64: 4/3 of the bytes, plus the request and headers
    [ "$size" -gt 6990000 ] && [ "$size" -lt 7000000 ] || die "entry of $size bytes for a 5 MiB answer"
    echo "5 MiB answer: entry $size bytes, hit through the curl tool in $ms ms" >&2
    [ "$ms" -lt 3000 ] || die "a 5 MiB hit took $ms ms"
}

test_speech_stream_and_cut() {
    body=${speech%\}},\"stream_format\":\"sse\"}
    shim curl -sS -N "$MOCK_URL/v1/audio/speech" -H 'X-Mock-Body-Bytes: 20000' -d "$body" >a.out || die
    shim curl -sS -N "$MOCK_URL/v1/audio/speech" -H 'X-Mock-Body-Bytes: 20000' -d "$body" >b.out || die
    assert_count 1
    assert_same_file b.out a.out
    assert_contains "$(cat a.out)" "speech.audio.done"
    assert_contains "$(cat "$(latest_entry)")" '"stream": "sse"'
    shim curl -sS -N "$MOCK_URL/v1/audio/speech" -H 'X-Mock-Body-Bytes: 20000' -H 'X-Mock-Cut: 1' \
        -d "${body%\}},\"speed\":2}" >/dev/null 2>&1
    assert_eq "$(entries)" 1 "a cut speech stream is not stored"
}

test_image_base64_round_trip() {
    img='{"model":"gpt-image-1","prompt":"a red hat","size":"1024x1024"}'
    shim curl -sS "$MOCK_URL/v1/images/generations" -H 'X-Mock-Body-Bytes: 300000' -d "$img" >a.json || die
    shim curl -sS "$MOCK_URL/v1/images/generations" -H 'X-Mock-Body-Bytes: 300000' -d "$img" >b.json || die
    assert_count 1
    assert_same_file b.json a.json
    assert_contains "$(cat "$(latest_entry)")" '"ttl": 604800'
    assert_contains "$(cat "$(latest_entry)")" '"usage": {"input": 3'
}

test_image_urls_never_outlive_themselves() {
    img='{"model":"dall-e-3","prompt":"a red hat","response_format":"url"}'
    LLMSHIM_TTL=0 shim curl -sS "$MOCK_URL/v1/images/generations" -d "$img" >a.json || die
    assert_contains "$(cat a.json)" '"url":"https://'
    assert_contains "$(cat "$(latest_entry)")" '"ttl": 3000' # 60 minutes, less a margin of 10
    env FAKETIME=+2900s LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$MOCK_URL/v1/images/generations" -d "$img" >b.json || die
    assert_count 1 "fresh before the URLs expire"
    assert_same_file b.json a.json
    env FAKETIME=+3100s LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        LLMSHIM_MODE=replay curl -sS "$MOCK_URL/v1/images/generations" -d "$img" >/dev/null 2>err
    assert_eq "$?" 7 "expired with its URLs: a replay miss"
    # an answer that could stand in after its expiry (stale-if-error) must expire sooner
    LLMSHIM_STALE_IF_ERROR=20m shim curl -sS "$MOCK_URL/v1/images/generations" -d "${img%\}},\"n\":2}" >/dev/null || die
    assert_contains "$(cat "$(latest_entry)")" '"ttl": 1800'
    LLMSHIM_LOG=info LLMSHIM_STALE_IF_ERROR=1h shim curl -sS "$MOCK_URL/v1/images/generations" \
        -d "${img%\}},\"n\":3}" >/dev/null 2>err || die
    assert_contains "$(cat err)" "not stored: its image URLs expire within the hour"
    assert_eq "$(entries)" 2
}

run_tests
