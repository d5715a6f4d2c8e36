#!/usr/bin/env bash
# Fault injection (README "Failure behaviour"): a cache disk that fills up or turns read-only, a
# cache dir removed under a running program, corrupt and oversized entries, answers and request
# bodies too large to cache, the app killed in the middle of a store, and 32 processes x 4
# threads on the same keys. The app always gets its answer; no half entry is ever visible.
# (A corrupt or future-format entry, a planted entry and an unusable dir: test_safety.sh.)
. "$(dirname "$0")/lib.sh"
KILLAT=$ROOT/build-torture/killat.so
THREADS=$ROOT/build/clients/threads
CHAT=$ROOT/build/examples/chat
LLMSHIM=$ROOT/build/llmshim

# The cache verifies: every entry decodes (none at all is fine here), no temporary file is visible.
sound() {
    [ -d "${1:-$CACHE}" ] || return 0
    LLMSHIM_DIR=${1:-$CACHE} "$LLMSHIM" verify >verify.out 2>&1
    grep -q '^verified [0-9]* entr[a-z]*: 0 corrupt' verify.out || die "verify: $(cat verify.out)"
}
no_temp() { assert_eq "$(find "${1:-$CACHE}" -name '.tmp-*' | wc -l)" 0 "temporary files"; }
# File $1 holds a whole chat answer to prompt $2.
answers() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] in d["choices"][0]["message"]["content"]' "$1" "$2" ||
        die "not a whole answer to $2: $(head -c 200 "$1")"
}
# The peak resident memory of a command, in MB (getrusage; no need for GNU time).
max_rss_mb() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$@"
}

mount_tmpfs() { # DIR SIZE
    mkdir -p "$1"
    local err
    err=$(mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" 2>&1) || skip "cannot mount a tmpfs (${err:-not permitted}; needs root)"
    trap "umount -l '$1' 2>/dev/null" EXIT
}

test_cache_disk_fills_up() {
    mount_tmpfs "$CACHE" 64k
    # each answer ~10 kB: a few fit, then the disk is full
    for i in $(seq 1 12); do
        shim_chat "$(chat_req "full $i")" -H 'X-Mock-Body-Bytes: 10000' -o "a$i" 2>"e$i" || die "call $i failed: $(cat "e$i")"
        answers "a$i" "full $i"
        [ "$(grep -c '^llmshim: ' "e$i")" -le 1 ] || die "call $i: more than one line: $(cat "e$i")"
    done
    grep -q 'No space left on device' e12 || die "the disk never filled up: $(df -k "$CACHE" | tail -1)"
    sound; no_temp
    stored=$(entries)
    [ "$stored" -ge 2 ] || die "only $stored entries fit"
    # what was stored still answers from the full disk
    n=$(mock_count)
    shim_chat "$(chat_req "full 1")" -H 'X-Mock-Body-Bytes: 10000' -o again 2>/dev/null || die
    assert_same_file again a1
    assert_count "$n" "a stored answer is a hit on a full disk"
}

test_read_only_cache_dir() {
    mount_tmpfs "$CACHE" 1m
    shim_chat "$(chat_req ro)" -o a || die
    mount -o remount,ro "$CACHE" || skip "cannot remount read-only"
    shim_chat "$(chat_req ro)" -o b 2>err || die "a hit from a read-only cache failed"
    assert_same_file b a
    assert_count 1
    shim_chat "$(chat_req "ro other")" -o c 2>err || die "a miss on a read-only cache failed"
    answers c "ro other"
    assert_contains "$(cat err)" 'Read-only file system'
    assert_eq "$(grep -c '^llmshim: ' err)" 1
}

test_cache_dir_removed_between_two_calls_of_one_process() {
    # curl does three transfers in one process; the cache dir goes while the second (slow) runs
    ( sleep 0.7; rm -rf "$CACHE" ) &
    shim curl -sS -d "$(chat_req gone)" "$MOCK_URL/v1/chat/completions" -o a \
        --next -sS -H 'X-Mock-Delay-Ms: 1500' "$MOCK_URL/slow" -o /dev/null \
        --next -sS -d "$(chat_req gone)" "$MOCK_URL/v1/chat/completions" -o b 2>err || die "$(cat err)"
    wait $!
    answers a gone; answers b gone
    assert_count 3 "the entry went with the dir: the third call is a miss"
    assert_eq "$(stat -c %a "$CACHE")" 700 "the dir is made again, private"
    sound
}

test_cache_dir_removed_again_and_again_under_a_running_program() {
    ( for i in $(seq 1 40); do rm -rf "$CACHE"; sleep 0.01; done ) &
    shim "$CHAT" "$MOCK_URL/v1/chat/completions" "churn" --repeat 60 >out 2>err
    rc=$?
    wait $!
    assert_eq "$rc" 0 "$(grep -v '^result=0' err | head -5)"
    assert_eq "$(grep -c '^result=0 status=200' err)" 60
    [ "$(grep -c '^llmshim: ' err)" -le 2 ] || die "$(grep '^llmshim: ' err)"
    sound; no_temp
}

test_garbage_empty_and_unreadable_entries_are_misses() {
    shim_chat "$(chat_req g)" -o ref || die
    f=$(find "$CACHE" -name '*.json')
    cp "$f" "$TEST_TMP/elsewhere.json"
    for kind in garbage empty dir symlink huge; do
        rm -rf "$f"
        case $kind in
            garbage) head -c 5000 /dev/urandom >"$f" ;;
            empty) : >"$f" ;;
            dir) mkdir "$f" ;;
            symlink) ln -s "$TEST_TMP/elsewhere.json" "$f" ;; # even to a good entry: never followed
            huge) truncate -s 300M "$f" ;; # beyond what the file store reads: never loaded
        esac
        rss=$(max_rss_mb env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
              curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req g)" -o "$kind.out")
        answers "$kind.out" g
        [ "$rss" -lt 100 ] || die "$kind: ${rss} MB"
    done
    assert_count 6 "each bad entry was a miss"
    # a good entry larger than LLMSHIM_MAX_ENTRY_BYTES (stored under a higher limit) still answers
    shim_chat "$(chat_req large)" -H 'X-Mock-Body-Bytes: 50000' -o large.ref || die
    LLMSHIM_MAX_ENTRY_BYTES=20k shim_chat "$(chat_req large)" -H 'X-Mock-Body-Bytes: 50000' -o large.out 2>err || die
    assert_same_file large.out large.ref
    assert_eq "$(cat err)" ""
}

test_answer_larger_than_max_entry_bytes_passes_uncached() {
    export LLMSHIM_MAX_ENTRY_BYTES=20k
    shim_chat "$(chat_req big)" -H 'X-Mock-Body-Bytes: 50000' -o a 2>err || die
    answers a big
    [ "$(wc -c <a)" -ge 50000 ] || die "the answer was cut: $(wc -c <a) bytes"
    assert_eq "$(entries)" 0
    stream='{"model":"m","stream":true,"messages":[{"role":"user","content":"'"$(printf 'w%.0s ' $(seq 1 3000))"'"}]}'
    shim curl -sS -N "$MOCK_URL/v1/chat/completions" -d "$stream" -o s 2>>err || die
    assert_contains "$(tail -c 20 s)" '[DONE]'
    [ "$(wc -c <s)" -gt 20480 ] || die "the stream is too small to test: $(wc -c <s)"
    assert_eq "$(entries)" 0
    shim_chat "$(chat_req big)" -H 'X-Mock-Body-Bytes: 50000' -o b 2>>err || die
    assert_count 3 "nothing was cached"
    assert_eq "$(cat err)" "" "passing through a large answer is not a failure"
}

# The app dies between writing the temporary file and publishing it, or halfway through
# writing it: the entry is simply not there; llmshim prune removes the leftovers.
test_sigkill_in_the_middle_of_a_store() {
    [ -f "$KILLAT" ] || die "$KILLAT is not built (make check builds it)"
    stored=0
    for at in write rename; do
        # (an inner bash, so that the "Killed" notice goes to /dev/null with the rest)
        bash -c '"$@"; exit $?' _ env LD_PRELOAD="$KILLAT:$SHIM" LLMSHIM_KILL_AT=$at LLMSHIM_DIR="$CACHE" \
            LLMSHIM_ENDPOINTS="$MOCK_URL/v1" curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req "kill $at")" \
            -o /dev/null 2>/dev/null
        assert_eq $? 137 "killed at $at"
        assert_eq "$(find "$CACHE" -name '*.json' | wc -l)" $stored "no entry visible after a kill at $at"
        sound
        stored=$((stored + 1))
        shim_chat "$(chat_req "kill $at")" -o ok 2>err || die "the next call after a kill at $at"
        answers ok "kill $at"
        assert_eq "$(cat err)" ""
    done
    assert_eq "$(find "$CACHE" -name '.tmp-*' | wc -l)" 2 "the killed writers' temporary files"
    find "$CACHE" -name '.tmp-*' -exec touch -d '2 hours ago' {} +
    LLMSHIM_DIR=$CACHE "$LLMSHIM" prune >prune.out 2>&1 || die "$(cat prune.out)"
    assert_contains "$(cat prune.out)" '2 stale temporary files'
    no_temp; sound
    assert_eq "$(entries)" 2
}

test_sigkill_at_random_moments_of_large_stores() {
    for i in $(seq 1 8); do
        bash -c '"$@"; exit $?' _ env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
            curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req "random kill $i")" \
            -H 'X-Mock-Body-Bytes: 3000000' -o /dev/null 2>/dev/null &
        pid=$!
        sleep "0.0$((RANDOM % 9 + 1))"
        kill -KILL $(pgrep -P "$pid") 2>/dev/null
        wait $pid 2>/dev/null
        sound
    done
    for f in $(find "$CACHE" -name '*.json'); do
        [ "$(stat -c %s "$f")" -gt 3000000 ] || die "a short entry is visible: $f"
    done
}

test_32_processes_4_threads_same_10_keys() {
    [ -x "$THREADS" ] || die "$THREADS is not built (make check builds it)"
    pids=()
    for p in $(seq 1 32); do
        shim timeout -k 5 120 "$THREADS" "$MOCK_URL/v1/chat/completions" --threads 4 --requests 20 --prompts 10 \
            >"p$p.out" 2>"p$p.err" &
        pids+=($!)
    done
    wait_all=0
    for pid in "${pids[@]}"; do wait "$pid" || wait_all=1; done
    for p in $(seq 1 32); do
        assert_contains "$(cat "p$p.err")" 'requests=80 errors=0 wrong_prompt=0 mismatches=0' "process $p"
        [ -z "$(grep '^llmshim: ' "p$p.err")" ] || die "process $p: $(grep '^llmshim: ' "p$p.err")"
    done
    assert_eq "$wait_all" 0 "every process exited 0"
    assert_eq "$(entries)" 10
    sound
    [ "$(mock_count)" -le 64 ] || die "$(mock_count) upstream calls for 10 prompts"
}

# A request body is read by the shim (canonical JSON, key, the entry): its memory must stay in
# proportion to the body, whose copy the program already holds.
test_50mb_request_body_memory_stays_in_proportion() {
    python3 -c 'import json
msgs = [{"role": "user", "content": "x" * (50 << 20)}, {"role": "user", "content": "big body"}]
json.dump({"model": "m", "messages": msgs}, open("big.json", "w"))'
    run() {
        max_rss_mb env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
            curl -sS "$@" "$MOCK_URL/v1/chat/completions"
    }
    base=$(max_rss_mb curl -sS --data-binary @big.json "$MOCK_URL/v1/chat/completions")
    miss=$(run --data-binary @big.json)
    hit=$(run --data-binary @big.json)
    assert_count 2 "the second call is a hit"
    [ "$miss" -le $((base * 5)) ] && [ "$hit" -le $((base * 5)) ] ||
        die "max RSS ${base} MB without the shim, ${miss} MB on a miss, ${hit} MB on a hit"
    # the worst shape: 25 million tiny values, one JSON token each (an error answer: not stored)
    python3 -c 'open("values.json", "w").write("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"v\"}],"
                                         "\"v\":[" + ",".join(["1"] * (25 << 20)) + "]}")'
    base=$(max_rss_mb curl -sS --data-binary @values.json -H 'X-Mock-Status: 500' "$MOCK_URL/v1/chat/completions")
    miss=$(run --data-binary @values.json -H 'X-Mock-Status: 500')
    [ "$miss" -le $((base * 10)) ] || die "max RSS ${base} MB without the shim, ${miss} MB with it"
}

run_tests
