#!/usr/bin/env bash
# The real curl command-line tool under the shim against the counting mock server.
. "$(dirname "$0")/lib.sh"

test_miss_then_hit_identical_bytes() {
    shim_chat "$(chat_req hello)" -o miss.out || die "miss failed"
    shim_chat "$(chat_req hello)" -o hit.out || die "hit failed"
    assert_same_file hit.out miss.out "hit body must equal the miss body"
    assert_contains "$(cat hit.out)" '"answer #1 to: hello"'
    assert_count 1 "second call must not leave the process"
    assert_eq "$(entries)" 1 "one entry stored"
}

test_entry_file_is_private_and_readable() {
    shim_chat "$(chat_req hello)" >/dev/null || die "miss failed"
    f=$(find "$CACHE" -name '*.json')
    assert_eq "$(stat -c %a "$f")" 600 "entry mode"
    assert_eq "$(stat -c %a "$CACHE")" 700 "cache dir mode"
    [[ $f =~ ^$CACHE/custom/gpt-4o-mini/[0-9a-f]{16}\.json$ ]] || die "unexpected entry path $f"
    content=$(cat "$f")
    assert_contains "$content" '"url": "'"$MOCK_URL"'/v1/chat/completions"'
    assert_contains "$content" $'"body": {\n      "messages": [\n        {\n          "content": "hello",\n'
    assert_contains "$content" $'\n      "model": "gpt-4o-mini"\n    }\n'
    assert_not_contains "$content" 'mocksession' "Set-Cookie must not be stored"
}

test_json_equal_requests_share_an_answer() {
    shim_chat '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"caf\u00e9"}],"temperature":1.0}' >a.out || die
    shim_chat '{ "temperature": 1, "messages": [ {"content": "café", "role": "user"} ],
               "model": "gpt-4o-mini" }' >b.out || die
    assert_same_file b.out a.out
    assert_count 1 "reordered, re-spaced, re-escaped JSON is the same request"
}

test_different_prompt_is_a_miss() {
    shim_chat "$(chat_req one)" >a.out || die
    shim_chat "$(chat_req two)" >b.out || die
    shim_chat "$(chat_req one)" -H 'X-Anything: differs' >c.out || die
    assert_count 2 "different prompts each go upstream; an unrelated header does not change the key"
    assert_contains "$(cat b.out)" 'answer #2 to: two'
    assert_same_file c.out a.out
}

test_include_headers_on_hit() {
    shim_chat "$(chat_req hi)" -i >miss.out || die
    shim_chat "$(chat_req hi)" -i >hit.out || die
    assert_count 1
    assert_contains "$(cat hit.out)" $'X-LLMShim-Cache: HIT\r\n'
    assert_not_contains "$(cat miss.out)" 'X-LLMShim-Cache'
    # Same status line, same headers apart from the ones a cache must not replay and the volatile
    # ones never recorded (src/entry.c: entry_keep_header)
    volatile='date|age|retry-after|server-timing|x-request-id|request-id|openai-request-id|x-amzn-requestid'
    volatile+='|x-amzn-trace-id|x-amz-cf-id|x-amz-cf-pop|cf-ray|cf-cache-status|x-cloud-trace-context'
    volatile+='|x-goog-request-id|x-kong-request-id|x-kong-upstream-latency|x-kong-proxy-latency'
    volatile+='|openai-processing-ms|x-envoy-upstream-service-time|alt-svc|via|report-to|nel|openai-organization'
    volatile+='|openai-project|anthropic-organization-id|x-ratelimit-[^:]*|anthropic-ratelimit-[^:]*|ratelimit-[^:]*'
    norm() { sed -e '/^\r$/,$d' "$1" | grep -viE "^(set-cookie|x-llmshim-cache|$volatile):" | sort; }
    assert_eq "$(norm hit.out)" "$(norm miss.out)" "header block on a hit"
    assert_eq "$(head -1 hit.out)" "$(head -1 miss.out)" "status line"
    # the body after the blank line is byte-identical
    sed -e '1,/^\r$/d' miss.out >miss.body
    sed -e '1,/^\r$/d' hit.out >hit.body
    assert_same_file hit.body miss.body
}

test_dump_header_and_write_out() {
    shim_chat "$(chat_req hi)" -D miss.h -o miss.b -w '%{http_code} %{content_type} %{size_download}' >miss.w || die
    shim_chat "$(chat_req hi)" -D hit.h -o hit.b -w '%{http_code} %{content_type} %{size_download}' >hit.w || die
    assert_count 1
    assert_same_file hit.w miss.w "-w output"
    assert_eq "$(cat hit.w)" "200 application/json $(stat -c %s miss.b)"
    assert_same_file hit.b miss.b
    assert_contains "$(cat hit.h)" 'HTTP/1.1 200 OK'
    assert_contains "$(cat hit.h)" 'X-LLMShim-Cache: HIT'
}

test_fail_on_500_never_stored() {
    shim_chat "$(chat_req boom)" --fail -H 'X-Mock-Status: 500' >/dev/null 2>err1; rc1=$?
    shim_chat "$(chat_req boom)" --fail -H 'X-Mock-Status: 500' >/dev/null 2>err2; rc2=$?
    assert_eq "$rc1" 22 "first --fail exit"
    assert_eq "$rc2" 22 "second --fail exit"
    assert_contains "$(cat err2)" "500"
    assert_count 2 "errors are not cached"
    assert_eq "$(entries)" 0
}

test_error_status_without_fail_is_passed_through() {
    shim_chat "$(chat_req boom)" -H 'X-Mock-Status: 429' -w '%{http_code}' >a.out || die
    shim_chat "$(chat_req boom)" -H 'X-Mock-Status: 429' -w '%{http_code}' >b.out || die
    assert_contains "$(cat b.out)" '429'
    assert_count 2
    assert_eq "$(entries)" 0
}

test_get_is_untouched() {
    shim curl -sS "$MOCK_URL/v1/models" >a.out || die
    shim curl -sS "$MOCK_URL/v1/models" >b.out || die
    assert_eq "$(cat a.out)" "mock ok 1"
    assert_eq "$(cat b.out)" "mock ok 2"
    assert_eq "$(entries)" 0
}

test_other_hosts_untouched() {
    # the mock is reachable as localhost too, but only 127.0.0.1/v1 is an LLM endpoint
    url="http://localhost:$MOCK_PORT/v1/chat/completions"
    shim curl -sS "$url" -d "$(chat_req x)" >a.out || die
    shim curl -sS "$url" -d "$(chat_req x)" >b.out || die
    assert_count 2
    assert_contains "$(cat b.out)" 'answer #2'
    assert_eq "$(entries)" 0
}

test_two_urls_in_one_process() {
    # curl reuses one easy handle for both transfers: the second is answered from the file
    # cache inside the same process.
    shim curl -sS -H 'Content-Type: application/json' -d "$(chat_req twice)" \
        "$MOCK_URL/v1/chat/completions" "$MOCK_URL/v1/chat/completions" >both.out || die
    assert_count 1
    assert_eq "$(grep -o 'answer #1 to: twice' both.out | wc -l)" 2
}

test_large_answer_in_16k_pieces() {
    shim_chat "$(chat_req big)" -H 'X-Mock-Body-Bytes: 200000' -o miss.out || die
    shim_chat "$(chat_req big)" -H 'X-Mock-Body-Bytes: 200000' -o hit.out || die
    assert_count 1
    [ "$(stat -c %s hit.out)" -ge 200000 ] || die "answer too small: $(stat -c %s hit.out)"
    assert_same_file hit.out miss.out
}

test_cut_transfer_not_stored() {
    shim_chat "$(chat_req cut)" -H 'X-Mock-Cut: 1' -o /dev/null; rc=$?
    [ $rc -ne 0 ] || die "a cut transfer must fail"
    assert_eq "$(entries)" 0 "nothing partial is stored"
    shim_chat "$(chat_req cut)" -o ok.out || die
    assert_contains "$(cat ok.out)" 'answer #2'
}

test_compressed_answer_stored_decoded() {
    shim_chat "$(chat_req zip)" --compressed -H 'X-Mock-Gzip: 1' -D miss.h -o miss.out || die
    assert_contains "$(cat miss.h)" 'Content-Encoding: gzip' "the mock really compressed"
    shim_chat "$(chat_req zip)" --compressed -H 'X-Mock-Gzip: 1' -D hit.h -o hit.out || die
    assert_count 1
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.h)" 'Content-Encoding: gzip' "shown as libcurl shows it to a decoding client"
    assert_contains "$(cat "$(find "$CACHE" -name '*.json')")" 'answer #1 to: zip' "the stored body is decoded"
}

test_write_failure_on_hit() {
    shim_chat "$(chat_req full)" -o /dev/null || die
    shim_chat "$(chat_req full)" -o /dev/full 2>/dev/null; rc=$?
    assert_eq "$rc" 23 "a failing write on a hit is CURLE_WRITE_ERROR, like a live transfer"
    assert_count 1
}

run_tests
