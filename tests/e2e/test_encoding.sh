#!/usr/bin/env bash
# Answers that come content-encoded because the program asked for it and decodes them itself
# (Symfony HttpClient, curl -H 'Accept-Encoding: gzip' without --compressed): stored decoded, so
# a cassette stays readable and every client can be answered; on a hit encoded again for a
# program that asked for the coding, as the network would have. The mock gzips its answer when
# the request has X-Mock-Gzip: 1 and accepts gzip.
. "$(dirname "$0")/lib.sh"
SYMFONY=$ROOT/tests/e2e/clients/symfony_client.php

need_symfony() {
    command -v php >/dev/null || skip "php-cli is not installed"
    [ -f /usr/share/php/Symfony/Component/HttpClient/autoload.php ] || skip "php-symfony-http-client is not installed"
}

# sf NAME MODE PROMPT...: the Symfony client under the shim; NAME.out
sf() {
    local name=$1 mode=$2; shift 2
    shim timeout -k 5 60 php "$SYMFONY" "$mode" "$MOCK_URL/v1/chat/completions" "$@" >"$name.out" 2>"$name.err" ||
        die "symfony $mode: $(cat "$name.err")"
}

test_symfony_http_client_sync_hit_on_second_run() {
    need_symfony
    sf miss sync one two
    assert_count 2
    assert_eq "$(cat miss.out)" $'one 200 none gzip answer #1 to: one\ntwo 200 none gzip answer #2 to: two'
    assert_eq "$(entries)" 2 "gzip answers Symfony decodes itself are stored"
    sf hit sync one two
    assert_count 2 "the second run is answered from the cache"
    assert_eq "$(cat hit.out)" "$(sed 's/ none / HIT /' miss.out)" "the same answers, still gzip-encoded"
}

test_symfony_http_client_concurrent_hit_on_second_run() {
    need_symfony
    sf miss concurrent three four five
    assert_count 3
    sf hit concurrent three four five
    assert_count 3
    assert_eq "$(cat hit.out)" "$(sed 's/ none / HIT /' miss.out)"
    assert_eq "$(grep -c 'HIT gzip answer #' hit.out)" 3
}

test_symfony_http_client_record_then_replay() {
    need_symfony
    LLMSHIM_MODE=record sf rec concurrent six seven
    LLMSHIM_MODE=replay sf rep sync six seven
    assert_count 2 "replay never touches the network"
    assert_eq "$(cat rep.out)" "$(sed 's/ none / HIT /' rec.out)"
}

# gz NAME [curl args]: curl with its own Accept-Encoding: gzip, no --compressed
gz() {
    local name=$1; shift
    shim_chat "$(chat_req zipped)" -H 'Accept-Encoding: gzip' -H 'X-Mock-Gzip: 1' -D "$name.h" -o "$name.gz" \
        -w '%{size_download} %{content_type}' "$@" >"$name.w" || die "curl $name"
}

test_curl_own_accept_encoding_gzip_on_hit() {
    gz miss
    gz hit
    assert_count 1
    gunzip -c miss.gz >miss.body || die "the miss is gzip"
    gunzip -c hit.gz >hit.body || die "the hit is gzip too: $(head -c 80 hit.gz | od -c | head -3)"
    assert_same_file hit.body miss.body "decodes to the same body"
    assert_contains "$(cat hit.h)" $'Content-Encoding: gzip\r'
    assert_contains "$(cat hit.h)" $'Content-Length: '"$(stat -c %s hit.gz)"$'\r' "the length of what is sent"
    assert_eq "$(cat hit.w)" "$(stat -c %s hit.gz) application/json" "size_download counts the encoded bytes"
    shim_chat "$(chat_req zipped)" -H 'Accept-Encoding: gzip' -H 'X-Mock-Gzip: 1' | gunzip >pipe.body ||
        die "curl -s -H 'Accept-Encoding: gzip' URL | gunzip on a hit"
    assert_same_file pipe.body miss.body
}

test_gzip_entry_stored_decoded_answers_every_client() {
    gz miss
    f=$(find "$CACHE" -name '*.json')
    assert_contains "$(cat "$f")" 'answer #1 to: zipped' "the cassette holds the decoded answer"
    assert_contains "$(cat "$f")" '["Content-Encoding", "gzip"]'
    gunzip -c miss.gz >miss.body
    # a client that lets libcurl decode: the decoded body, Content-Encoding shown as libcurl shows it
    shim_chat "$(chat_req zipped)" -H 'X-Mock-Gzip: 1' --compressed -D comp.h -o comp.body \
        -w '%{size_download}' >comp.w || die
    assert_same_file comp.body miss.body
    assert_contains "$(cat comp.h)" $'Content-Encoding: gzip\r'
    assert_contains "$(cat comp.h)" 'X-LLMShim-Cache: HIT'
    # a client that asked for no coding gets none
    shim_chat "$(chat_req zipped)" -H 'X-Mock-Gzip: 1' -D plain.h -o plain.body || die
    assert_same_file plain.body miss.body
    assert_not_contains "$(cat plain.h)" 'Content-Encoding'
    assert_contains "$(cat plain.h)" $'Content-Length: '"$(stat -c %s miss.body)"$'\r'
    # nor one that refuses it
    shim_chat "$(chat_req zipped)" -H 'X-Mock-Gzip: 1' -H 'Accept-Encoding: gzip;q=0, identity' -o refused.body || die
    assert_same_file refused.body miss.body
    assert_count 1
}

test_recorded_by_a_decoding_client_answers_an_encoding_one() {
    shim_chat "$(chat_req other)" -H 'X-Mock-Gzip: 1' --compressed -o comp.body || die
    shim_chat "$(chat_req other)" -H 'X-Mock-Gzip: 1' -H 'Accept-Encoding: gzip' -o hit.gz || die
    assert_count 1
    gunzip -c hit.gz >hit.body || die "a gzip answer"
    assert_same_file hit.body comp.body
}

run_tests
