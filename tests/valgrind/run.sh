#!/usr/bin/env bash
# make check-valgrind: runs tests/valgrind/test_*.sh; ends with "check-valgrind: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
passed=0 failed=0
for t in tests/valgrind/test_*.sh; do
    out=$(bash "$t" 2>&1)
    printf '%s\n' "$out"
    passed=$((passed + $(printf '%s\n' "$out" | grep -c '^PASS ')))
    failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
done
echo "check-valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
