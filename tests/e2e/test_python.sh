#!/usr/bin/env bash
# Python: pycurl (Debian python3-pycurl, linked with libcurl-gnutls and loaded RTLD_LOCAL by the
# interpreter) for the easy and the multi API; and a ctypes load of libcurl that the shim cannot
# reach, which must run exactly as without it.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CLIENTS=$ROOT/tests/e2e/clients
T=(timeout -k 5 60)

need_pycurl() {
    [ -x $PY ] || skip "no $PY"
    $PY -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
}

# pyc NAME MODE PROMPT... : runs the pycurl client under the shim, NAME.out / NAME.err
pyc() {
    local name=$1; shift
    shim "${T[@]}" $PY "$CLIENTS/pycurl_client.py" "$1" "$MOCK_URL/v1/chat/completions" "${@:2}" \
        >"$name.out" 2>"$name.err" || die "pycurl $*: rc=$? $(cat "$name.err")"
}

test_pycurl_perform_writefunction() {
    need_pycurl
    pyc miss writefunction "py hello" || die
    pyc hit writefunction "py hello" || die
    assert_count 1
    assert_same_file hit.out miss.out
    assert_contains "$(cat miss.out)" 'answer #1 to: py hello'
    assert_contains "$(cat miss.err)" 'easy#0 result=0 status=200'
    assert_contains "$(cat miss.err)" 'cache=none'
    assert_contains "$(cat hit.err)" "easy#0 result=0 status=200 bytes=$(($(stat -c %s miss.out) - 1)) cache=HIT"
}

test_pycurl_perform_writedata_bytesio() {
    need_pycurl
    pyc miss writedata "py bytesio" "py other" || die
    pyc hit writedata "py bytesio" "py other" || die
    assert_count 2
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'status=200.*cache=HIT' hit.err)" 2 "both transfers hit: $(cat hit.err)"
}

test_pycurl_perform_without_write_callback() {
    need_pycurl
    pyc miss nowrite "py stdout" || die
    pyc hit nowrite "py stdout" || die
    assert_count 1
    assert_contains "$(cat miss.out)" 'answer #1 to: py stdout'
    assert_same_file hit.out miss.out "body fwritten to stdout on a hit"
    assert_contains "$(cat hit.err)" 'result=0 status=200'
    assert_contains "$(cat hit.err)" 'cache=HIT'
}

test_pycurl_curlmulti_two_handles() {
    need_pycurl
    pyc miss multi "py multi one" "py multi two" || die
    assert_count 2
    assert_contains "$(sed -n 1p miss.out)" 'to: py multi one'
    assert_contains "$(sed -n 2p miss.out)" 'to: py multi two'
    assert_eq "$(entries)" 2 "both multi transfers stored"
    pyc hit multi "py multi one" "py multi two" || die
    assert_count 2 "the second CurlMulti run must not leave the process"
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=0 status=200 .*cache=HIT' hit.err)" 2 "$(cat hit.err)"
}

test_pycurl_curlmulti_hit_and_miss_together() {
    need_pycurl
    pyc seed writefunction "py seeded" || die
    pyc mix multi "py seeded" "py new" || die
    assert_count 2 "only the new prompt goes upstream"
    assert_eq "$(sed -n 1p mix.out)" "$(cat seed.out)" "the hit in a CurlMulti"
    assert_contains "$(sed -n 2p mix.out)" 'answer #2 to: py new'
    assert_contains "$(grep 'multi#0' mix.err)" 'cache=HIT'
    assert_contains "$(grep 'multi#1' mix.err)" 'cache=none'
}

test_pycurl_easy_and_multi_share_entries() {
    need_pycurl
    pyc easy writefunction "py shared" || die
    pyc multi multi "py shared" || die
    assert_count 1
    assert_same_file multi.out easy.out
}

# --- ctypes: libcurl loaded RTLD_LOCAL, functions looked up on the private handle -------------

# ct NAME [env...] : the ctypes client ($CT_ARGS added), optionally with the shim; NAME.out
# NAME.err NAME.rc
ct() {
    local name=$1; shift
    env "$@" "${T[@]}" $PY "$CLIENTS/ctypes_client.py" "$MOCK_URL/v1/chat/completions" "ffi prompt" \
        ${CT_ARGS:-} >"$name.out" 2>"$name.err"
    echo $? >"$name.rc"
}

# Runs the ctypes client without the shim, with it, and with it in LLMSHIM_MODE=off, each against
# a freshly numbered mock: all three must print the same bytes and exit 0.
ctypes_like_without_shim() {
    ct plain
    assert_eq "$(cat plain.rc)" 0 "without the shim: $(cat plain.err)"
    assert_contains "$(cat plain.err)" 'result=0 status=200 type=application/json'
    assert_contains "$(cat plain.out)" 'answer #1 to: ffi prompt'
    mock_reset
    ct shimmed LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1"
    assert_eq "$(cat shimmed.rc)" 0 "with the shim: $(cat shimmed.err)"
    assert_same_file shimmed.out plain.out "stdout with the shim"
    assert_same_file shimmed.err plain.err "stderr with the shim"
    mock_reset
    ct off LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE.off" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_MODE=off
    assert_eq "$(cat off.rc)" 0 "with the shim, LLMSHIM_MODE=off: $(cat off.err)"
    assert_same_file off.out plain.out "stdout with LLMSHIM_MODE=off"
    assert_same_file off.err plain.err "stderr with LLMSHIM_MODE=off"
}

test_ctypes_dlsym_first_run_as_without_shim() {
    [ -x $PY ] || skip "no $PY"
    ctypes_like_without_shim
}

test_ctypes_dlsym_without_write_callback_as_without_shim() {
    [ -x $PY ] || skip "no $PY"
    CT_ARGS=--nowrite ctypes_like_without_shim
}

test_ctypes_dlsym_lookups_reach_the_cache() {
    # ctypes looks curl_* up with dlsym on its private handle: llmshim's dlsym hook answers
    [ -x $PY ] || skip "no $PY"
    ct miss LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1"
    ct hit LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1"
    assert_eq "$(cat miss.rc) $(cat hit.rc)" "0 0" "$(cat miss.err hit.err)"
    assert_count 1
    assert_same_file hit.out miss.out
    assert_contains "$(cat hit.err)" 'result=0 status=200 type=application/json'
    assert_contains "$(cat hit.err)" 'cache=HIT'
}

test_ctypes_dlvsym_is_unreachable_and_untouched() {
    # versioned lookups (dlvsym) bypass every preloaded library: the program runs as without
    # the shim, and nothing is cached
    [ -x $PY ] || skip "no $PY"
    CT_ARGS=--dlvsym ctypes_like_without_shim
    mock_reset
    CT_ARGS=--dlvsym ct again LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1"
    assert_eq "$(cat again.rc)" 0 "$(cat again.err)"
    assert_same_file again.out plain.out "a second run, as without the shim"
    assert_count 1 "the second run went upstream again"
    assert_eq "$(entries)" 0 "nothing stored"
}

run_tests
