#!/usr/bin/env bash
# R's curl package (Debian r-cran-curl): curl_fetch_memory, whose default interruptible fetch
# drives libcurl's multi API (add_handle, wait, perform, info_read), and multi_add + multi_run.
. "$(dirname "$0")/lib.sh"
CLIENT=$ROOT/tests/e2e/clients/r_client.R
T=(timeout -k 5 60)

need_r() {
    command -v Rscript >/dev/null || skip "Rscript is not installed (r-base-core)"
    Rscript -e 'suppressPackageStartupMessages(library(curl))' >/dev/null 2>&1 ||
        skip "the R curl package is not installed (r-cran-curl)"
}

# rcl NAME MODE PROMPT... : the R client under the shim, NAME.out / NAME.err
rcl() {
    local name=$1; shift
    shim "${T[@]}" Rscript "$CLIENT" "$1" "$MOCK_URL/v1/chat/completions" "${@:2}" \
        >"$name.out" 2>"$name.err" || die "Rscript $*: rc=$? $(cat "$name.err")"
}

test_r_curl_fetch_memory() {
    need_r
    rcl miss fetch "r hello" || die
    rcl hit fetch "r hello" || die
    assert_count 1
    assert_contains "$(cat miss.out)" 'answer #1 to: r hello'
    assert_same_file hit.out miss.out
    assert_contains "$(cat miss.err)" 'fetch#0 result=ok status=200'
    assert_contains "$(cat miss.err)" 'cache=none'
    assert_contains "$(cat hit.err)" "fetch#0 result=ok status=200 bytes=$(($(stat -c %s miss.out) - 1)) cache=HIT"
}

test_r_curl_fetch_memory_gzip_answer() {
    need_r
    CLIENT_GZIP=1 rcl miss fetch "r gzip" || die
    assert_contains "$(mock_last)" '"X-Mock-Gzip": "1"'
    CLIENT_GZIP=1 rcl hit fetch "r gzip" || die
    assert_count 1
    assert_contains "$(cat miss.out)" 'answer #1 to: r gzip'
    assert_same_file hit.out miss.out "the decoded body, stored decoded and replayed as such"
    assert_contains "$(cat hit.err)" 'cache=HIT'
}

test_r_multi_run_two_handles() {
    need_r
    rcl miss multi "r multi one" "r multi two" || die
    assert_count 2
    assert_contains "$(sed -n 1p miss.out)" 'to: r multi one'
    assert_contains "$(sed -n 2p miss.out)" 'to: r multi two'
    assert_eq "$(entries)" 2 "both multi transfers stored"
    rcl hit multi "r multi one" "r multi two" || die
    assert_count 2 "the second multi_run must not leave the process"
    assert_same_file hit.out miss.out
    assert_eq "$(grep -c 'result=ok status=200 .*cache=HIT' hit.err)" 2 "$(cat hit.err)"
}

test_r_multi_run_hit_and_miss_together() {
    need_r
    rcl seed fetch "r seeded" || die
    rcl mix multi "r seeded" "r new" || die
    assert_count 2 "only the new prompt goes upstream"
    assert_eq "$(sed -n 1p mix.out)" "$(cat seed.out)" "the hit in multi_run"
    assert_contains "$(sed -n 2p mix.out)" 'answer #2 to: r new'
    assert_contains "$(grep 'multi#0' mix.err)" 'cache=HIT'
    assert_contains "$(grep 'multi#1' mix.err)" 'cache=none'
}

run_tests
