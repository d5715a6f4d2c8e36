#!/usr/bin/env bash
# smoke.sh TARGET...: every seed and regression input in tests/fuzz/corpus/TARGET/ once through
# TARGET (no fuzzing: a few seconds in all). Part of make check. Without clang's libFuzzer (not
# installable here) it says SKIPPED and why, and succeeds.
set -u
cd "$(dirname "$0")/../.." || exit 1
skip() { echo "SKIPPED fuzz-smoke: $*"; exit 0; }
cc=${FUZZ_CC:-clang}
if ! out=$(make -s --no-print-directory fuzz-deps 2>&1); then
    skip "cannot install clang and libclang-rt-14-dev: $(printf '%s' "$out" | tail -1)"
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
"$cc" -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" >/dev/null 2>&1 ||
    skip "$cc cannot build a libFuzzer target (-fsanitize=fuzzer)"
make -s --no-print-directory "${@/#/build/fuzz/}" >"$probe/build.log" 2>&1 || {
    echo "FAIL fuzz-smoke: build"; sed 's/^/    | /' "$probe/build.log" | tail -20; exit 1; }
failed=0
for t in "$@"; do
    inputs=(tests/fuzz/corpus/"$t"/*)
    if out=$(build/fuzz/"$t" -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" 2>&1); then
        echo "PASS fuzz:$t (${#inputs[@]} inputs)"
    else
        echo "FAIL fuzz:$t"
        printf '%s\n' "$out" | grep -E 'Running:|ERROR|SUMMARY|runtime error|    #[0-9]+ .* in ' | tail -20 | sed 's/^/    | /'
        failed=1
    fi
done
exit $failed
