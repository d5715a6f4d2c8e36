#!/usr/bin/env bash
# Unused recordings: every hit (replay and cache) notes which entry answered, from many processes
# at once; `llmshim ls/prune --unused-since` find and remove what no test asks for any more.
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
LLMSHIM_BIN=$ROOT/build/llmshim

cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" "$LLMSHIM_BIN" "$@"
}
# Records a prompt a minute ago: a recording made before the run that is judged.
record_earlier() {
    env FAKETIME=-60s LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        LLMSHIM_TTL=0 curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req "$1")" >/dev/null
}
key_of() { cmd key --url "$MOCK_URL/v1/chat/completions" <<<"$(chat_req "$1")" | sed -n 's/^key: *//p'; }

test_unused_entries_listed_and_pruned_after_a_partial_replay() {
    for p in kept-a kept-b dropped; do record_earlier "$p" || die "record $p"; done
    assert_eq "$(entries)" 3
    start=$(date +%s)
    # the suite now asks only two of the three, one of them from 8 processes at once
    LLMSHIM_MODE=replay shim_chat "$(chat_req kept-a)" >/dev/null || die "replay kept-a"
    for i in 1 2 3 4 5 6 7 8; do LLMSHIM_MODE=replay shim_chat "$(chat_req kept-b)" >/dev/null & done
    wait $(jobs -p | grep -v "^$MOCK_PID$") 2>/dev/null
    lines=$(cat "$CACHE"/.used/*.log)
    assert_eq "$(grep -cvE $'^llmshim-used-v1\t[0-9]+\t[0-9a-f]{64}$' <<<"$lines")" 0 "every mark is a whole line: $lines"
    assert_eq "$(grep -c "$(key_of kept-b)" <<<"$lines")" 8 "one mark per process"
    cmd ls --unused-since "@$start" >out 2>err || die "ls: $(cat err)"
    assert_eq "$(tail -n +2 out | wc -l)" 1 "one unused entry: $(cat out)"
    assert_contains "$(cat out)" "$(key_of dropped | cut -c1-12)"
    assert_contains "$(cat err)" "1 of 3 entries not used since @$start"
    cmd ls --json >all.json || die
    python3 - all.json "$(key_of kept-a)" "$(key_of dropped)" "$start" <<'EOF' || die "ls --json used: $(cat all.json)"
import json, sys
d = {e["key"]: e for e in json.load(open(sys.argv[1]))}
assert d[sys.argv[2]]["used"] >= int(sys.argv[4]), d
assert d[sys.argv[3]]["used"] is None, d
EOF
    cmd prune --unused-since "@$start" --dry-run >dry || die
    assert_contains "$(cat dry)" "(not used since --unused-since)"
    assert_eq "$(entries)" 3 "a dry run removes nothing"
    cmd prune --unused-since "@$start" >out || die "prune: $(cat out)"
    assert_contains "$(cat out)" "removed 1 entry"
    assert_eq "$(entries)" 2
    url=$MOCK_URL; mock_stop >/dev/null; MOCK_URL=$url
    for p in kept-a kept-b; do LLMSHIM_MODE=replay shim_chat "$(chat_req $p)" >/dev/null || die "$p still replays"; done
}

test_cache_hits_count_as_use_and_new_recordings_are_kept() {
    record_earlier old || die
    record_earlier hit || die
    start=$(date +%s)
    shim_chat "$(chat_req hit)" >/dev/null || die "a cache-mode hit"
    shim_chat "$(chat_req new)" >/dev/null || die "recorded during the run"
    assert_count 3
    cmd ls --unused-since "@$start" >out 2>err || die
    assert_eq "$(tail -n +2 out | wc -l)" 1 "only the old one: $(cat out)"
    assert_contains "$(cat out)" "$(key_of old | cut -c1-12)"
    # the other ways to say when
    cmd ls --unused-since 30s >out 2>/dev/null || die
    assert_eq "$(tail -n +2 out | wc -l)" 1 "an age: since 30 s ago"
    cmd ls --unused-since 2020-01-01 >out 2>/dev/null || die
    assert_eq "$(tail -n +2 out | wc -l)" 0 "nothing was recorded before 2020"
    cmd ls --unused-since soon 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "--unused-since 'soon' is not a time"
}

test_a_busy_process_marks_an_entry_once() {
    record_earlier busy || die
    shim curl -sS -d "$(chat_req busy)" $(for i in $(seq 20); do echo "$MOCK_URL/v1/chat/completions"; done) >/dev/null || die
    assert_eq "$(cat "$CACHE"/.used/*.log | wc -l)" 1 "20 hits in one process, one mark"
}

test_rerecording_an_unchanged_answer_counts_as_use() {
    record_earlier same || die
    mock_reset || die # the mock answers #1 again: the same answer
    start=$(date +%s)
    LLMSHIM_MODE=record LLMSHIM_TTL=0 shim_chat "$(chat_req same)" >/dev/null || die
    grep -rq '"created": '"$start" "$CACHE" && die "the unchanged entry must not be rewritten"
    cmd ls --unused-since "@$start" >out 2>/dev/null || die
    assert_eq "$(tail -n +2 out | wc -l)" 0 "asked for again in record mode: used ($(cat out))"
}

run_tests
