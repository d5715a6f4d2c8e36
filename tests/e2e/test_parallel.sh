#!/usr/bin/env bash
# The curl tool with -Z/--parallel: every transfer goes through libcurl's multi API
# (add_handle, poll, perform, info_read, remove_handle). Hits must complete inside the multi loop
# with the same bytes as the misses that stored them, and must not hang curl's loop.
. "$(dirname "$0")/lib.sh"

# A hit must never wait on a loop that has nothing real to do: bound every run.
T=(timeout -k 5 60)

# pcurl OUT_PREFIX PROMPT... : one `curl -Z` invocation, one transfer per prompt (in order), each
# body to OUT_PREFIX.N, its headers to OUT_PREFIX.N.h, `-w` (status, size) to OUT_PREFIX.N.w.
# X-Mock-Delay-Ms keeps the misses in flight together.
pcurl() {
    local prefix=$1 i=0 p args=()
    shift
    for p in "$@"; do
        i=$((i + 1))
        chat_req "$p" >"req.$prefix.$i"
        [ $i -gt 1 ] && args+=(--next)
        args+=(-sS -H 'Content-Type: application/json' -H 'X-Mock-Delay-Ms: 300' -d "@req.$prefix.$i"
               -o "$prefix.$i" -D "$prefix.$i.h" -w "%{http_code} %{size_download}\n"
               "$MOCK_URL/v1/chat/completions")
    done
    # -w writes to stdout, one line per transfer in completion order: keep them per transfer via -D/-o
    shim "${T[@]}" curl -Z --parallel-max 4 "${args[@]}" >"$prefix.w" 2>"$prefix.err"
}

# hits PREFIX N: how many of PREFIX.1..N were answered from the cache
hits() { local n=0 i; for ((i = 1; i <= $2; i++)); do grep -qi '^x-llmshim-cache: HIT' "$1.$i.h" && n=$((n + 1)); done; echo $n; }

test_parallel_miss_then_all_hits() {
    pcurl miss alpha beta gamma delta || die "first -Z run: rc=$? $(cat miss.err)"
    assert_count 4 "four different prompts, four upstream requests"
    for i in 1 2 3 4; do assert_contains "$(cat miss.$i)" '"answer #' "transfer $i of the first run"; done
    assert_eq "$(hits miss 4)" 0 "the first run has no hits"
    assert_eq "$(entries)" 4 "four entries stored from multi transfers"

    # again, with two of the prompts asked twice in the same invocation: 6 transfers, all hits
    pcurl hit alpha beta gamma delta alpha beta || die "second -Z run: rc=$? $(cat hit.err)"
    assert_count 4 "the second -Z run must not leave the process"
    for i in 1 2 3 4; do assert_same_file "hit.$i" "miss.$i" "transfer $i: hit body"; done
    assert_same_file hit.5 miss.1 "repeated alpha"
    assert_same_file hit.6 miss.2 "repeated beta"
    assert_eq "$(hits hit 6)" 6 "every transfer of the second run is a HIT"
    # -w (getinfo on the hits): one line per transfer, status 200, sizes those of the bodies
    assert_eq "$(cut -d' ' -f1 hit.w | sort | uniq -c | tr -s ' ')" " 6 200" "-w http_code of six hits"
    assert_eq "$(cut -d' ' -f2 hit.w | sort -n | tr '\n' ' ')" \
        "$(for i in 1 2 3 4 5 6; do stat -c %s "hit.$i"; done | sort -n | tr '\n' ' ')" "-w size_download of six hits"
}

test_parallel_cached_and_uncached_together() {
    # seed one prompt through the easy path (no -Z)
    shim_chat "$(chat_req cached)" -o seed.out || die "seed"
    assert_count 1
    # one invocation: the cached prompt, a new one, the cached one again
    pcurl mix cached fresh cached || die "mixed -Z run: rc=$? $(cat mix.err)"
    assert_count 2 "only the new prompt goes upstream"
    assert_same_file mix.1 seed.out "cached prompt in a -Z run"
    assert_same_file mix.3 seed.out "cached prompt again in the same -Z run"
    assert_contains "$(cat mix.2)" 'answer #2 to: fresh'
    assert_eq "$(hits mix 3)" 2 "two hits, one miss"
    grep -qi '^x-llmshim-cache' mix.2.h && die "the miss carries a cache header"
    assert_contains "$(head -1 mix.2.h)" ' 200' "status line of the miss"
    # the miss was stored by the multi path: a third run is all hits
    pcurl again fresh cached || die "third -Z run: rc=$? $(cat again.err)"
    assert_count 2
    assert_same_file again.1 mix.2 "the prompt stored by the multi path"
    assert_same_file again.2 seed.out
    assert_eq "$(hits again 2)" 2
}

test_parallel_all_hits_do_not_wait() {
    pcurl miss one two three || die "first run: $(cat miss.err)"
    start=$(date +%s%N)
    pcurl hit one two three || die "second run: $(cat hit.err)"
    ms=$((($(date +%s%N) - start) / 1000000))
    assert_count 3
    for i in 1 2 3; do assert_same_file "hit.$i" "miss.$i"; done
    # the misses took >= 300 ms (X-Mock-Delay-Ms); hits never reach the mock
    [ "$ms" -lt 2000 ] || die "three hits in one -Z run took $ms ms"
}

test_parallel_same_prompt_twice_in_flight() {
    # Two identical uncached prompts in flight at once: both must complete correctly (going
    # upstream twice is allowed); what is stored then answers both in the next run.
    pcurl miss twin twin || die "first run: $(cat miss.err)"
    n=$(mock_count)
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] || die "upstream count $n for two identical prompts"
    assert_contains "$(cat miss.1)" 'to: twin'
    assert_contains "$(cat miss.2)" 'to: twin'
    pcurl hit twin twin || die "second run: $(cat hit.err)"
    assert_count "$n" "the second run is all hits"
    assert_same_file hit.2 hit.1
    cmp -s hit.1 miss.1 || cmp -s hit.1 miss.2 || die "the stored answer is neither of the first run's"
}

test_parallel_without_shim_unchanged() {
    # reference: the same invocation without the shim behaves as it does with it on a miss
    chat_req plain >req.plain
    "${T[@]}" curl -Z -sS -H 'Content-Type: application/json' -d @req.plain -o a.out "$MOCK_URL/v1/chat/completions" \
        --next -sS -H 'Content-Type: application/json' -d @req.plain -o b.out "$MOCK_URL/v1/chat/completions" || die
    assert_count 2
    assert_eq "$(entries)" 0
}

run_tests
