#!/usr/bin/env bash
# Runs the unit test binaries given as arguments, then every tests/e2e/test_*.sh, and ends with
# one line "check: N passed, N failed". Exit status is non-zero when anything failed.
# TEST_FILTER=word runs only e2e tests whose name contains word.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0

for bin in "$@"; do
    out=$("$bin" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
    if [ $rc -eq 0 ]; then echo "PASS unit:$(basename "$bin") (${p:-0} tests)"
    else echo "FAIL unit:$(basename "$bin")"; printf '%s\n' "$out" | grep -v '^\[ \(RUN\|      OK\) ' | tail -40 | sed 's/^/    | /'; fi
done

for t in tests/e2e/test_*.sh; do
    out=$(bash "$t" 2>&1)
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | grep -c '^PASS ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ -z "${TEST_FILTER:-}" ] && { echo "FAIL $t: ran no test"; failed=$((failed + 1)); }
done

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
