#!/usr/bin/env bash
# Differential tests: a program under llmshim must observe what it observes on plain libcurl.
# tests/e2e/clients/diff runs a script of libcurl steps (tests/e2e/diff/*.txt, one usage pattern
# each, or seeded random sequences) and prints one line per transfer: what the server saw, the
# answer, the callbacks that ran. Each script runs twice without the shim (the baseline, which
# must repeat itself exactly), then under the shim: cache mode twice on one cache, record on a
# fresh cache, replay of that. tests/e2e/diffcheck.py compares each run with the baseline.
#
# Two mocks: mock 2 is the target of CURLOPT_PORT and of URLs llm2/plain2. The mocks' steering
# headers (X-Mock-Redirect, X-Mock-Status) change the answer, so they are key headers here, the
# way anthropic-version is for Anthropic.
#
#   DIFF_SEQUENCES=N (default 100 per seed), DIFF_STEPS=N (20): size of the random tests;
#   DIFF_SEEDS="4 5 6": other seeds (default 1 2 3).
#   LLMSHIM_TEST_CLIENTS=dir: the clients to run (build-asan/clients for sanitized ones).
. "$(dirname "$0")/lib.sh"
CLIENTS=${LLMSHIM_TEST_CLIENTS:-$ROOT/build/clients}
DIFF=$CLIENTS/diff
CPR=$CLIENTS/cpr_pattern
CHECK=(/usr/bin/python3 "$ROOT/tests/e2e/diffcheck.py")
T=(timeout -k 5 120)

# Starts mock 2 beside mock 1 (mock.sh keeps one mock in MOCK_*): exports MOCK2_PORT, MOCK2_URL.
start_mock2() {
    local port=$MOCK_PORT url=$MOCK_URL pid=$MOCK_PID
    unset MOCK_PID
    mock_start >/dev/null || die "cannot start mock 2"
    MOCK2_PORT=$MOCK_PORT MOCK2_URL=$MOCK_URL MOCK2_PID=$MOCK_PID
    MOCK_PORT=$port MOCK_URL=$url MOCK_PID=$pid
    export MOCK_PORT MOCK_URL MOCK_PID MOCK2_PORT MOCK2_URL
    trap '(MOCK_PID=$MOCK2_PID; mock_stop >/dev/null 2>&1)' EXIT
}

# The shim in mode $1 on cache dir $2, for both mocks.
under_shim() {
    local mode=$1 dir=$2; shift 2
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$dir" LLMSHIM_MODE="$mode" LLMSHIM_ENDPOINTS="$MOCK_URL/v1,$MOCK2_URL/v1" \
        LLMSHIM_KEY_HEADERS=x-mock-redirect,x-mock-status "$@"
}

# No ASan/UBSan report in the given stderr files (with LLMSHIM_TEST_CLIENTS=build-asan/clients);
# otherwise prints it with its first frames in llmshim's sources.
no_sanitizer_report() {
    local hit
    hit=$(grep -h -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$@")
    [ -z "$hit" ] && return 0
    echo "    sanitizer report: ${hit#*ERROR: }"
    grep -h -m3 -E '^ +#[0-9]+ .* src/[a-z_]+\.c:[0-9]+' "$@" | sed 's/^ *#[0-9]* 0x[0-9a-f]* in /      at /'
    return 1
}

# differential LABEL DIFF-ARGS...: the baseline twice, then each shim run checked against it.
differential() {
    local label=$1 failed=0 run mode dir rc; shift
    [ -x "$DIFF" ] || die "$DIFF is not built (make check builds it)"
    start_mock2
    "${T[@]}" "$DIFF" "$@" >base.out 2>base.err || die "$label: baseline failed: $(tail -3 base.err)"
    "${T[@]}" "$DIFF" "$@" >base2.out 2>base2.err || die "$label: second baseline failed: $(tail -3 base2.err)"
    no_sanitizer_report base.err base2.err || die "$label: sanitizer report without the shim"
    "${CHECK[@]}" same base.out base2.out "$label" || die "$label: the harness itself is not deterministic"
    grep -q '^T' base.out || die "$label: no transfer in the baseline"
    for run in cache cache2 record replay; do
        case $run in
            cache | cache2) mode=cache dir=$TEST_TMP/cache ;;
            *) mode=$run dir=$TEST_TMP/recorded ;;
        esac
        under_shim "$mode" "$dir" "${T[@]}" "$DIFF" "$@" >"$run.out" 2>"$run.err"
        rc=$?
        "${CHECK[@]}" "$run" base.out "$run.out" "$label" >"$run.check" || failed=1
        if ! no_sanitizer_report "$run.err" >"$run.asan"; then
            echo "$label [$run]: diff exited $rc" | cat - "$run.asan" >>"$run.check"
            failed=1
        elif [ $rc -gt 128 ]; then
            echo "$label [$run]: diff killed by signal $((rc - 128)) ($(kill -l $((rc - 128))))" >>"$run.check"
            failed=1
        elif [ $rc -ne 0 ]; then
            echo "$label [$run]: diff exited $rc: $(grep -v '^llmshim:' "$run.err" | tail -2)" >>"$run.check"
            failed=1
        fi
    done
    [ $failed -eq 0 ] && return 0
    # the summary of each run, then the details of the first that failed
    for run in cache cache2 record replay; do head -1 "$run.check"; done | grep .
    for run in cache cache2 record replay; do
        [ -s "$run.check" ] && { tail -n +2 "$run.check"; break; }
    done
    die "$label: llmshim changed what the program observes"
}

# One test per table script.
for f in "$ROOT"/tests/e2e/diff/*.txt; do
    n=$(basename "$f" .txt)
    eval "test_table_$n() { differential '$n.txt' '$f'; }"
done

# Seeded random sequences; a failure names the sequence and seed: `diff --random SEED
# --sequences N --steps M | sed -n 's/^# //p'` (after its '#= sequence' line) is its script.
for seed in ${DIFF_SEEDS:-1 2 3}; do
    eval "test_random_seed_$seed() { differential 'seed $seed' --random $seed --sequences ${DIFF_SEQUENCES:-100} --steps ${DIFF_STEPS:-20}; }"
done

# cpr_pattern: B's answer names B (X-Mock-Saw carries the sha256 of the body the server got),
# on a fresh cache and on a warm one; A is answered as without the shim. $1: A's extra header.
cpr_case() {
    [ -x "$CPR" ] || die "$CPR is not built (make check builds it)"
    start_mock2
    local a b url=$MOCK_URL/v1/chat/completions sha_b extra=()
    a=$(chat_req alpha) b=$(chat_req bravo)
    sha_b=$(printf '%s' "$b" | sha256sum | cut -c1-12)
    [ -n "${1:-}" ] && extra=(--a-header "$1")
    "${T[@]}" "$CPR" "$url" "$a" "$b" "${extra[@]}" >base.out 2>base.err || die "baseline: $(cat base.err)"
    assert_contains "$(grep '^B rc' base.out)" "POST /v1/chat/completions $sha_b ${#b}>" "without the shim, B is sent"
    for run in fresh warm; do
        under_shim cache "$CACHE" "${T[@]}" "$CPR" "$url" "$a" "$b" "${extra[@]}" >$run.out 2>$run.err ||
            die "$run: $(cat $run.err)"
        assert_contains "$(grep '^B rc' $run.out)" "POST /v1/chat/completions $sha_b ${#b}>" \
            "$run cache: B's answer must name B's body (B: $sha_b) - got $(grep '^B rc' $run.out)"
        assert_contains "$(grep '^B body' $run.out)" "to: bravo" "$run cache: B's answer"
        assert_eq "$(grep '^A rc' $run.out | sed 's/ cache=[^ ]*//')" "$(grep '^A rc' base.out | sed 's/ cache=[^ ]*//')" \
            "$run cache: A answered as without the shim"
    done
}

test_cpr_pattern_fresh_and_warm_cache() { cpr_case; }
test_cpr_pattern_after_a_500() { cpr_case 'X-Mock-Status: 500'; }

run_tests
