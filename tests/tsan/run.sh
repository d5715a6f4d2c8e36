#!/usr/bin/env bash
# make check-tsan: the shim built with ThreadSanitizer (build-tsan/) preloaded into the threaded,
# forking and event-loop C clients built with it too (tests/tsan/test_tsan.sh). Ends with
# "check-tsan: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# halt on the first report with an exit status no test expects
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
out=$(bash tests/tsan/test_tsan.sh 2>&1)
printf '%s\n' "$out"
passed=$(printf '%s\n' "$out" | grep -c '^PASS ')
failed=$(printf '%s\n' "$out" | grep -c '^FAIL ')
echo "check-tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
