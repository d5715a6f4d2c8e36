#!/usr/bin/env bash
# Request bodies from the application's read callback (curl -T, pycurl READFUNCTION, Guzzle
# bodies of 1,000,000 bytes and more): read whole, keyed, cached, and sealed in replay mode.
. "$(dirname "$0")/lib.sh"

PYCURL_UPLOAD=$ROOT/tests/e2e/clients/pycurl_upload.py
GUZZLE=$ROOT/tests/e2e/clients/guzzle_client.php
pycurl_upload() { /usr/bin/python3 "$PYCURL_UPLOAD" "$@"; }
test_curl_upload_twice_is_one_request() {
    chat_req "upload me" >body.json
    shim curl -sS -X POST -T body.json "$MOCK_URL/v1/chat/completions" >a.out || die
    shim curl -sS -X POST -T body.json "$MOCK_URL/v1/chat/completions" -D h >b.out || die
    assert_count 1 "the second upload is a hit"
    assert_same_file b.out a.out
    grep -qi '^X-LLMShim-Cache: HIT' h || die "not served from the cache"
    # the same bytes sent another way (stdin, chunked; or POSTFIELDS) are the same question
    shim curl -sS -X POST -T - "$MOCK_URL/v1/chat/completions" <body.json >c.out || die
    assert_count 1
    assert_same_file c.out a.out
    # what the API received is exactly the file
    curl -s "$MOCK_URL/__last" | /usr/bin/python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["body"])' >got
    assert_same_file got body.json
}

test_pycurl_readfunction_sized_chunked_and_upload() {
    chat_req "pycurl read" >body.json
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    for mode in sized chunked upload sized; do
        shim /usr/bin/python3 "$PYCURL_UPLOAD" "$mode" "$MOCK_URL/v1/chat/completions" body.json >"out.$mode" 2>"err.$mode" || die "$mode"
        assert_contains "$(cat "err.$mode")" "result=0"
    done
    assert_count 1 "one question, however its body was read"
    assert_contains "$(cat err.chunked)" "cache=HIT"
    assert_same_file out.upload out.sized
}

test_pycurl_read_callback_that_aborts_passes_through() {
    chat_req "abort me" >body.json
    shim /usr/bin/python3 "$PYCURL_UPLOAD" abort "$MOCK_URL/v1/chat/completions" body.json >/dev/null 2>err
    # as without llmshim: the transfer fails with CURLE_ABORTED_BY_CALLBACK (42)
    pycurl_upload abort "$MOCK_URL/v1/chat/completions" body.json >/dev/null 2>plain
    assert_contains "$(cat err)" "result=42"
    assert_contains "$(cat plain)" "result=42"
    assert_eq "$(entries)" 0 "nothing stored"
    LLMSHIM_LOG=info shim /usr/bin/python3 "$PYCURL_UPLOAD" abort "$MOCK_URL/v1/chat/completions" body.json >/dev/null 2>err
    assert_contains "$(cat err)" "BYPASS an upload whose body its read callback aborted"
}

# Guzzle sends bodies of 1,000,000 bytes or more with CURLOPT_UPLOAD and a read callback.

test_guzzle_body_over_a_megabyte_sync_and_pool() {
    [ -f /usr/share/php/GuzzleHttp/autoload.php ] || skip "php-guzzlehttp-guzzle is not installed"
    /usr/bin/python3 -c 'import json; print(json.dumps({"model": "m", "messages": [{"role": "user", "content": "g" * 1100000}]}))' >big.json
    shim php "$GUZZLE" sync "$MOCK_URL/v1/chat/completions" big.json >a.out 2>err || die "guzzle: $(cat err)"
    shim php "$GUZZLE" sync "$MOCK_URL/v1/chat/completions" big.json >b.out 2>err || die "guzzle: $(cat err)"
    assert_count 1 "a 1.1 MB body is cached like any other"
    assert_contains "$(cat b.out)" " HIT"
    shim php "$GUZZLE" pool "$MOCK_URL/v1/chat/completions" big.json >p.out 2>err || die "guzzle pool: $(cat err)"
    assert_count 1 "the Pool's two requests are hits"
    assert_eq "$(grep -c ' HIT$' p.out)" 2 "$(cat p.out)"
    # and in replay mode nothing reaches the API
    LLMSHIM_MODE=replay shim php "$GUZZLE" sync "$MOCK_URL/v1/chat/completions" big.json >r.out 2>err || die
    assert_count 1
}

test_replay_upload_miss_never_reaches_the_network() {
    chat_req "never recorded" >body.json
    LLMSHIM_MODE=replay shim curl -sS -X POST -T body.json "$MOCK_URL/v1/chat/completions" >/dev/null 2>err; rc=$?
    assert_eq "$rc" 7
    assert_contains "$(cat err)" "replay miss: POST"
    LLMSHIM_MODE=replay shim /usr/bin/python3 "$PYCURL_UPLOAD" abort "$MOCK_URL/v1/chat/completions" body.json >/dev/null 2>err
    assert_contains "$(cat err)" "llmshim: replay: not sent, because its read callback aborted"
    assert_count 0 "replay never reaches the API"
}

run_tests
