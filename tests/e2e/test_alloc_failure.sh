#!/usr/bin/env bash
# Allocation failure, as curl's torture tests do it: the test-only shim in build-torture/ fails
# its own Nth allocation (LLMSHIM_TORTURE_FAIL_AT=N, tests/torture/torture.h). For every N along
# a path, until a run makes fewer than N allocations, the real curl tool must get the very
# answer it gets without failures (the mock is reset each time, so a fresh answer has the same
# bytes as the cached one), exit 0, print at most a few llmshim: lines, and leave only entries
# that decode (llmshim verify) under the right key, and no temporary file.
. "$(dirname "$0")/lib.sh"
TORTURE=${TORTURE_SHIM:-$ROOT/build-torture/libllmshim.so}
MAX_N=${TORTURE_MAX:-2000} # a guard against a path that never ends, far above the ~100 needed

# One request through the torture shim; $1 = N, $2 = cache dir, rest: extra curl arguments.
# Leaves out, err, and in alloc the number of allocations the run made.
tortured() {
    local n=$1 dir=$2; shift 2
    rm -f alloc.log
    env LD_PRELOAD="$TORTURE" LLMSHIM_DIR="$dir" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        LLMSHIM_TORTURE_FAIL_AT="$n" LLMSHIM_TORTURE_LOG="$PWD/alloc.log" \
        timeout -k 2 20 curl -sS "$MOCK_URL/v1/chat/completions" -H 'Content-Type: application/json' \
        -H 'Authorization: Bearer sk-test-SECRET-torture' -o out "$@" 2>err
}

# Every entry under $1 decodes and carries key $2; no temp file is left.
cache_sound() {
    local dir=$1 key=$2 f
    [ -d "$dir" ] || return 0
    LLMSHIM_DIR=$dir "$ROOT/build/llmshim" verify >verify.out 2>&1 # none at all is fine here
    grep -q '^verified [0-9]* entr[a-z]*: 0 corrupt' verify.out || die "N=$N: $(cat verify.out)"
    [ -z "$(find "$dir" -name '.tmp-*')" ] || die "N=$N: a temporary file was left: $(find "$dir" -name '.tmp-*')"
    for f in $(find "$dir" -name '*.json'); do
        grep -q "\"key\": \"$key\"" "$f" || die "N=$N: an entry under another key: $f: $(grep '"key"' "$f")"
    done
}

# torture_path NAME SETUP [curl args]: for N = 1, 2, ...: SETUP prepares $TEST_TMP/c (empty for a
# miss, the reference cache for a hit), then one tortured request must behave.
torture_path() {
    local name=$1 setup=$2; shift 2
    [ -f "$TORTURE" ] || die "$TORTURE is not built (make check builds it)"
    # the reference: the answer and the entry without any failure
    mock_reset
    shim curl -sS "$MOCK_URL/v1/chat/completions" -H 'Content-Type: application/json' -o expected "$@" || die
    key=$(sed -n 's/^  "key": "\([0-9a-f]*\)".*/\1/p' $(find "$CACHE" -name '*.json'))
    [ ${#key} = 64 ] || die "no reference entry"
    local allocs=0
    for ((N = 1; N <= MAX_N; N++)); do
        rm -rf "$TEST_TMP/c"
        $setup
        mock_reset
        tortured "$N" "$TEST_TMP/c" "$@"; rc=$?
        allocs=$(sed -n 's/^allocations=\([0-9]*\).*/\1/p' alloc.log 2>/dev/null | head -1)
        [ "$rc" = 0 ] || die "N=$N ($name): curl exit $rc: $(cat err)"
        cmp -s out expected || die "N=$N ($name): the answer differs: $(head -c 300 out)"
        [ "$(grep -c '^llmshim: ' err)" -le 3 ] || die "N=$N ($name): too many lines: $(cat err)"
        [ -z "$(grep -v '^llmshim: ' err)" ] || die "N=$N ($name): unexpected output: $(cat err)"
        cache_sound "$TEST_TMP/c" "$key"
        [ -n "$allocs" ] || die "N=$N ($name): no allocation count (did the process die?)"
        [ "$allocs" -lt "$N" ] && break # the Nth allocation never happened: every one was failed once
    done
    [ "$N" -le "$MAX_N" ] || die "$name: still allocating at N=$MAX_N"
    [ "$allocs" -ge 20 ] || die "$name: only $allocs allocations: is the torture build in use?"
    # TORTURE_REPORT=FILE: how far each path went (the output of a passing test is not shown)
    echo "$name: failed each of $((N - 1)) allocations in turn" >>"${TORTURE_REPORT:-/dev/null}"
}

empty_cache() { :; }
reference_cache() { cp -a "$CACHE" "$TEST_TMP/c"; }

test_every_allocation_fails_once_on_a_miss_and_store() {
    torture_path miss empty_cache -d "$(chat_req torture)"
}

test_every_allocation_fails_once_on_a_hit() {
    torture_path hit reference_cache -d "$(chat_req torture)"
}

test_every_allocation_fails_once_on_a_stream_miss_and_hit() {
    body='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three"}]}'
    torture_path stream-miss empty_cache -N -d "$body"
    torture_path stream-hit reference_cache -N -d "$body"
}

run_tests
