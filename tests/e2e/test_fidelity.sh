#!/usr/bin/env bash
# On a hit a program sees what the network would have shown it, besides the body: the buffers
# libcurl hands over (a NUL after each header line), every CURLINFO_* and the header API, the
# progress and debug callbacks, pausing and resuming. tests/e2e/clients/fidelity.c and info.c
# print what they saw; a hit must print what the recorded miss printed.
. "$(dirname "$0")/lib.sh"
FID=$ROOT/build/clients/fidelity
INFO=$ROOT/build/clients/info
URL() { echo "$MOCK_URL/v1/chat/completions"; }

# fid NAME MODE PROMPT [args]: the client under the shim; NAME.out
fid() {
    local name=$1 mode=$2 prompt=$3; shift 3
    shim timeout 60 "$FID" "$mode" "$(URL)" "$(chat_req "$prompt")" "$@" >"$name.out" 2>"$name.err" ||
        die "$name: $(cat "$name.err")"
}

test_header_lines_and_body_pieces_end_with_nul() {
    fid miss nul one
    fid hit nul one
    assert_count 1
    assert_eq "$(head -1 miss.out)" "nul-terminated yes" "libcurl's own buffers"
    assert_same_file hit.out miss.out
    shim timeout 60 "$FID" nul "$(URL)" "$(chat_req one)" --multi >multi.out 2>&1 || die
    assert_same_file multi.out miss.out
}

test_tclcurl_headervar_on_hit() {
    command -v tclsh >/dev/null && echo 'package require TclCurl' | tclsh >/dev/null 2>&1 || skip "TclCurl (tclcurl) not installed"
    cat >t.tcl <<'EOF'
package require TclCurl
set rc [curl::transfer -url [lindex $argv 0] -post 1 -postfields [lindex $argv 1] \
    -httpheader [list "Content-Type: application/json"] -headervar hdr -bodyvar out]
puts "rc=$rc"
foreach k [lsort [array names hdr]] { puts "header $k=$hdr($k)" }
puts "body $out"
EOF
    shim tclsh t.tcl "$(URL)" "$(chat_req tcl)" >miss.out 2>&1 || die "$(cat miss.out)"
    shim tclsh t.tcl "$(URL)" "$(chat_req tcl)" >hit.out 2>&1 || die "$(cat hit.out)"
    assert_count 1
    assert_contains "$(cat hit.out)" "header X-LLMShim-Cache=HIT"
    # every header of the hit is a header of the miss with its value (volatile ones are not replayed)
    grep '^header ' hit.out | grep -v 'X-LLMShim-Cache' >hit.h
    while IFS= read -r line; do
        grep -qxF "$line" miss.out || die "TclCurl's header array on the hit has [$line], not in the miss: $(cat hit.out)"
    done <hit.h
    assert_eq "$(grep -c "^header " hit.out)" "$(($(grep -c "^header " miss.out) - 5 + 1))" \
        "the miss's headers less Date, Set-Cookie, X-Request-Id, X-Ratelimit-*, Openai-Processing-Ms, plus X-LLMShim-Cache"
    assert_eq "$(grep '^body' hit.out)" "$(grep '^body' miss.out)"
}

# info [args]: the getinfo/header-API table; every row ok
info_table() {
    shim timeout 60 "$INFO" "$(URL)" "$@" >info.out 2>info.err || die "$(grep -v '^ok' info.out) $(cat info.err)"
    assert_eq "$(grep -c '^ok ' info.out)" 70 "every CURLINFO_* row and the header API row"
    assert_contains "$(cat info.out)" "rc live 0 hit 0"
    grep -q '^FAIL' info.out && die "$(grep '^FAIL' info.out)"
    return 0
}

test_getinfo_and_header_api_table_fresh_handle() {
    timeout 60 "$INFO" "$(URL)" --live >live.out 2>&1 || die "the table's SAME rows do not hold between two live transfers: $(grep -v '^ok' live.out)"
    info_table
    assert_count 3 "the live pair, then a miss and a hit"
}

test_getinfo_and_header_api_table_after_a_429() {
    timeout 60 "$INFO" "$(URL)" --live --after-429 >live.out 2>&1 || die "live table: $(grep -v '^ok' live.out)"
    info_table --after-429
    assert_contains "$(cat info.out)" "before: 429"
    assert_count 7 "two 429s and a miss in each run; the last is a hit"
}

test_progress_callback_called_on_hit_and_can_abort() {
    fid miss progress prog
    fid hit progress prog
    assert_count 1
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.out)" "progress called yes"
    fid abort progress-abort prog
    assert_contains "$(cat abort.out)" "rc 42" "CURLE_ABORTED_BY_CALLBACK from a hit's progress callback"
    fid abortm progress-abort prog --multi
    assert_contains "$(cat abortm.out)" "rc 42"
    assert_count 1
}

test_debug_callback_on_hit() {
    fid miss verbose dbg
    fid hit verbose dbg
    assert_count 1
    assert_contains "$(cat miss.out)" "debug text yes header_in yes"
    assert_eq "$(head -1 hit.out)" "$(head -1 miss.out)" "text, headers in and the body's bytes in"
    assert_contains "$(cat hit.out)" "first text: llmshim: answered from the cache (HIT)"
}

test_curl_verbose_on_hit() {
    shim_chat "$(chat_req verbose)" -v >miss.out 2>miss.err || die
    shim_chat "$(chat_req verbose)" -v >hit.out 2>hit.err || die
    assert_count 1
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.err)" "* llmshim: answered from the cache (HIT); no connection made"
    assert_contains "$(cat hit.err)" "< HTTP/1.1 200 OK"
    assert_contains "$(cat hit.err)" "< Content-Type: application/json"
    assert_contains "$(cat hit.err)" "< X-LLMShim-Cache: HIT"
    # without -v nothing is printed
    shim_chat "$(chat_req verbose)" >quiet.out 2>quiet.err || die
    assert_eq "$(cat quiet.err)" ""
}

test_pause_and_resume_on_hit() {
    for api in easy multi; do
        local arg=(); [ $api = multi ] && arg=(--multi)
        fid "miss-$api" pause "pause $api" "${arg[@]}"
        fid "hit-$api" pause "pause $api" "${arg[@]}"
        assert_eq "$(head -1 "miss-$api.out")" "paused 1 resumed 1 redelivered same" "libcurl on the miss ($api)"
        assert_same_file "hit-$api.out" "miss-$api.out"
    done
    assert_count 2
}

run_tests
