#!/usr/bin/env bash
# HTTP/2: the curl tool over TLS with ALPN h2 to nghttpx (Debian nghttp2-proxy), which forwards to
# the mock. HTTP/2 header names are lowercase; the lines a hit adds (Content-Length,
# X-LLMShim-Cache) are written the same way.
. "$(dirname "$0")/lib.sh"

# Starts nghttpx with the test CA's certificate in front of the mock: exports H2_URL.
start_h2_front() {
    command -v nghttpx >/dev/null || skip "nghttpx (nghttp2-proxy) is not installed"
    make_test_ca "$TEST_TMP/ca" || die "cannot make a test CA"
    local port
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nghttpx --conf=/dev/null --frontend="127.0.0.1,$port" --backend="127.0.0.1,$MOCK_PORT" --workers=1 --no-ocsp \
        --errorlog-file="$TEST_TMP/nghttpx.log" "$TEST_TMP/ca/server.key" "$TEST_TMP/ca/server.pem" &
    H2_PID=$!
    trap 'kill $H2_PID 2>/dev/null; mock_stop >/dev/null 2>&1' EXIT
    for _ in $(seq 50); do
        curl -s -o /dev/null --cacert "$TEST_TMP/ca/ca.pem" "https://127.0.0.1:$port/__count" && break
        sleep 0.1
    done
    export H2_URL="https://127.0.0.1:$port"
}

h2() {
    LLMSHIM_ENDPOINTS="$H2_URL/v1" shim curl -sS --http2 --cacert "$TEST_TMP/ca/ca.pem" "$H2_URL/v1/chat/completions" \
        -H 'Content-Type: application/json' -d "$(chat_req "over h2")" "$@"
}

test_curl_http2_include_headers_hit_lowercase() {
    start_h2_front
    h2 -i -w '%{http_version}' >miss.out || die "miss: $(cat "$TEST_TMP/nghttpx.log")"
    h2 -i -w '%{http_version}' >hit.out || die "hit"
    assert_count 1
    assert_eq "$(head -1 miss.out | tr -d '\r')" "HTTP/2 200 " "the front speaks HTTP/2"
    assert_eq "$(head -1 hit.out | tr -d '\r')" "HTTP/2 200 "
    assert_contains "$(cat hit.out)" $'\r\nx-llmshim-cache: HIT\r\n'
    assert_contains "$(cat hit.out)" $'\r\ncontent-length: '
    # every header name on the hit is lowercase, as on the miss
    local upper
    upper=$(sed -e '1d' -e '/^\r$/,$d' hit.out | cut -d: -f1 | grep '[A-Z]')
    assert_eq "$upper" "" "header names with capitals on an HTTP/2 hit"
    assert_eq "$(tail -c 1 hit.out)" "2" "%{http_version} on the hit"
    sed -e '1,/^\r$/d' miss.out >miss.body
    sed -e '1,/^\r$/d' hit.out >hit.body
    assert_same_file hit.body miss.body
}

test_http1_hit_keeps_its_capitals() {
    shim_chat "$(chat_req h1)" -i >miss.out || die
    shim_chat "$(chat_req h1)" -i >hit.out || die
    assert_contains "$(cat hit.out)" $'\r\nContent-Length: '
    assert_contains "$(cat hit.out)" $'\r\nX-LLMShim-Cache: HIT\r\n'
}

run_tests
