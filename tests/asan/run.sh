#!/usr/bin/env bash
# make check-asan: the unit tests built with ASan+UBSan (arguments), then tests/asan/test_*.sh:
# the sanitized shim (build-asan/) preloaded into sanitized clients, leak detection on. Ends
# with "check-asan: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# halt on the first report, with an exit status no test expects; leaks are checked at exit
export ASAN_OPTIONS=detect_leaks=1:exitcode=86:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
export LSAN_OPTIONS=suppressions=$PWD/tests/asan/lsan.supp:print_suppressions=0
passed=0 failed=0
for bin in "$@"; do
    out=$("$bin" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    if [ $rc -eq 0 ]; then
        echo "PASS asan-unit:$(basename "$bin") (${p:-0} tests)"
        passed=$((passed + ${p:-0}))
    else
        echo "FAIL asan-unit:$(basename "$bin") (exit $rc)"
        printf '%s\n' "$out" | grep -v '^\[ \(RUN\|      OK\) ' | tail -40 | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
done
for t in tests/asan/test_*.sh; do
    out=$(bash "$t" 2>&1)
    printf '%s\n' "$out"
    passed=$((passed + $(printf '%s\n' "$out" | grep -c '^PASS ')))
    failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
done
echo "check-asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
