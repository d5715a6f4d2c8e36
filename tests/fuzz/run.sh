#!/usr/bin/env bash
# run.sh TARGET SECONDS: fuzzes one target (built by make) for SECONDS, starting from the seeds
# in tests/fuzz/corpus/TARGET; what it learns stays in build/fuzz/corpus/TARGET for the next
# run. A finding is left in build/fuzz/artifacts/TARGET/: fix it, then keep the input as
# tests/fuzz/corpus/TARGET/regress-<what> so that make fuzz-smoke (and so make check) replays it.
set -u
cd "$(dirname "$0")/../.." || exit 1
t=$1 secs=$2 b=build/fuzz
case $t in fuzz_url) dict=url ;; fuzz_config) dict=config ;; fuzz_redis_url) dict=redis_url ;; *) dict=json ;; esac
mkdir -p "$b/corpus/$t" "$b/artifacts/$t"
start=$(date +%s)
"$b/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="tests/fuzz/$dict.dict" -artifact_prefix="$b/artifacts/$t/" \
    "$b/corpus/$t" "tests/fuzz/corpus/$t" >"$b/$t.log" 2>&1
rc=$?
took=$(($(date +%s) - start))
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/$t.log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$b/$t.log" | tail -1)
echo "$(date -u +%FT%TZ) $t seconds=$took runs=${runs:-?} ${cov:-} rc=$rc" >>"$b/fuzz-time.log"
if [ $rc -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} runs in ${took}s, ${cov:-cov ?}, corpus $(ls "$b/corpus/$t" | wc -l) inputs: no finding"
    exit 0
fi
echo "fuzz $t: FINDING after ${took}s (exit $rc); log $b/$t.log:"
grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9]+ .* in .*(src|tests)/)|runtime error|artifact_prefix' "$b/$t.log" |
    head -20 | sed 's/^/    /'
exit 1
