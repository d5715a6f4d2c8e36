#!/usr/bin/env bash
# Hardening, round two: no crash, no hang, no planted answer, no signal in the host. Each test
# failed before its fix.
. "$(dirname "$0")/lib.sh"
C=$ROOT/build/clients
URL() { echo "$MOCK_URL/v1/chat/completions"; }

# ---- crashes ------------------------------------------------------------------------------------

# The multi API called from a write callback: refused as libcurl refuses it, on a miss and on a
# hit alike, and the transfer still finishes.
test_multi_calls_from_a_callback_are_refused_like_libcurl() {
    "$C/reentry" "$(URL)" "$(chat_req re)" >plain.out 2>&1 || die "without llmshim: $(cat plain.out)"
    shim "$C/reentry" "$(URL)" "$(chat_req re)" >miss.out 2>&1 || die "miss: $(cat miss.out)"
    shim "$C/reentry" "$(URL)" "$(chat_req re)" >hit.out 2>&1 || die "hit: $(cat hit.out)"
    assert_contains "$(cat plain.out)" "remove=8 perform=8 add=8 cleanup=8" # CURLM_RECURSIVE_API_CALL
    assert_same_file miss.out plain.out
    assert_same_file hit.out plain.out
    assert_count 2 "the third run was a hit"
}

# A copy made while the original's answer is being recorded is independent of it.
test_duphandle_while_recording() {
    shim "$C/dup_recording" "$(URL)" "$(chat_req alpha)" "$(chat_req bravo)" >out 2>err || die "$(cat err)"
    assert_contains "$(sed -n 1p out)" "to: alpha"
    assert_contains "$(sed -n 2p out)" "to: bravo"
    shim_chat "$(chat_req alpha)" >a.out || die
    shim_chat "$(chat_req bravo)" >b.out || die
    assert_count 2 "both were stored, each under its own question"
    assert_eq "$(cat a.out)" "$(sed -n 1p out)"
    assert_eq "$(cat b.out)" "$(sed -n 2p out)"
}

# A stderr nobody reads: llmshim's lines never raise SIGPIPE in the program (a C program that
# keeps SIGPIPE's default action; the curl tool ignores it).
test_stderr_pipe_nobody_reads() {
    (
        exec 2> >(exec true)
        sleep 0.3 # the reader is gone
        touch go # pause_twice asks twice without waiting, and writes nothing to stderr itself
        LLMSHIM_LOG=info shim "$C/pause_twice" "$(URL)" "$(chat_req pipe)" go >out
        echo $? >rc
    )
    assert_eq "$(cat rc)" 0 "the program was not killed by SIGPIPE"
    assert_contains "$(cat out)" "to: pipe"
}

# A program that closed stderr and opened its own file on descriptor 2: llmshim writes nothing
# into that file.
test_closed_stderr_reused_by_the_program() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    LLMSHIM_LOG=info shim /usr/bin/python3 -c '
import os, sys, pycurl
os.close(2)
out = open("out.json", "wb")  # descriptor 2 is the program'"'"'s own file now
c = pycurl.Curl()
c.setopt(pycurl.URL, sys.argv[1])
c.setopt(pycurl.POSTFIELDS, sys.argv[2])
c.setopt(pycurl.WRITEDATA, out)
c.perform()
out.close()' "$(URL)" "$(chat_req closed)" || die
    if grep -q 'llmshim' out.json; then die "a log line landed in the program's file: $(cat out.json)"; fi
    /usr/bin/python3 -c 'import json,sys; json.load(open("out.json"))' || die "the answer is no longer JSON"
}

# ---- hangs --------------------------------------------------------------------------------------

# A FIFO where a file should be (an entry, the scope secret, the config file) never blocks.
test_fifos_never_block() {
    shim_chat "$(chat_req fifo)" >/dev/null || die
    entry=$(find "$CACHE" -name '*.json' | head -1)
    [ -n "$entry" ] || die "no entry"
    rm "$entry" && mkfifo "$entry"
    timeout 10 env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$(URL)" -d "$(chat_req fifo)" >a.out 2>/dev/null; assert_eq $? 0 "an entry that is a FIFO"
    mkfifo "$CACHE/.secret"
    LLMSHIM_KEY_SCOPE=credential timeout 10 env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" \
        LLMSHIM_ENDPOINTS="$MOCK_URL/v1" curl -sS "$(URL)" -d "$(chat_req fifo2)" >/dev/null 2>&1
    assert_eq $? 0 ".secret is a FIFO"
    mkfifo conf .llmshim
    LLMSHIM_CONFIG=$PWD/conf timeout 10 env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" \
        LLMSHIM_ENDPOINTS="$MOCK_URL/v1" curl -sS "$(URL)" -d "$(chat_req fifo3)" >/dev/null 2>&1
    assert_eq $? 0 "LLMSHIM_CONFIG is a FIFO"
    timeout 10 env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$(URL)" -d "$(chat_req fifo4)" >/dev/null 2>&1
    assert_eq $? 0 "./.llmshim is a FIFO"
    LLMSHIM_CONFIG=$PWD/conf timeout 10 "$ROOT/build/llmshim" config >/dev/null 2>&1
    [ $? -ne 124 ] || die "llmshim config blocked on a FIFO"
}

# A child forked while its parent fetches a prompt neither keeps the parent's fill lock (file
# store) nor waits for the parent's fetch it cannot see (memory store).
test_fork_child_never_holds_or_waits_on_the_parents_lock() {
    body=$(chat_req forked)
    LLMSHIM_COALESCE_MS=20000 shim "$C/fork_lock" hold "$(URL)" "$body" >p.out 2>&1 || die "$(cat p.out)"
    assert_contains "$(cat p.out)" "parent rc=0"
    # the parent's fetch failed (500) and its lock is gone; its child sleeps on with a copy of
    # the descriptor: another process must not wait for that child
    start=$(date +%s%N)
    LLMSHIM_COALESCE_MS=20000 timeout 15 env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" \
        LLMSHIM_ENDPOINTS="$MOCK_URL/v1" curl -sS "$(URL)" -d "$body" >o.out || die
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$ms" -lt 3000 ] || die "waited ${ms} ms for a lock the parent had released"
    LLMSHIM_BACKEND=memory shim "$C/fork_lock" ask "$(URL)" "$(chat_req forked2)" >m.out 2>&1 || die "$(cat m.out)"
    ms=$(sed -n 's/^child ms=\([0-9]*\) rc=0$/\1/p' m.out)
    [ -n "$ms" ] || die "the child did not finish: $(cat m.out)"
    [ "$ms" -lt 2500 ] || die "the child waited ${ms} ms for its parent's fetch"
}

# A sandbox whose filter makes llmshim's file system calls fail (mkdir, flock, getrandom): the
# program gets its answer, with one line that says what failed, never a wrong blame.
test_seccomp_filter_that_returns_errors() {
    /usr/bin/python3 -c 'import seccomp' 2>/dev/null || skip "python3-seccomp is not installed"
    mkdir -p "$CACHE" && chmod 700 "$CACHE"
    LLMSHIM_KEY_SCOPE=credential shim /usr/bin/python3 "$ROOT/tests/e2e/clients/seccomp_run.py" ERRNO \
        mkdir,mkdirat,flock,getrandom -- curl -sS "$(URL)" -d "$(chat_req sandbox)" >out 2>err || die "$(cat err)"
    assert_contains "$(cat out)" "to: sandbox"
    assert_not_contains "$(cat err)" "cannot create cache directory"
    [ "$(grep -c '^llmshim:' err)" -le 2 ] || die "more than a line or two: $(cat err)"
    assert_contains "$(cat err)" "llmshim: "
}

# ---- data loss ----------------------------------------------------------------------------------

# purge and prune pointed at a project directory by mistake: only llmshim's entries may go.
test_purge_of_a_project_directory_deletes_nothing_else() {
    mkdir -p proj/src/config proj/node_modules/x
    for f in package.json tsconfig.json src/config/settings.json node_modules/x/package.json \
             node_modules/x/0123456789abcdef.json; do echo '{"keep": true}' >"proj/$f"; done
    chmod 700 proj
    "$ROOT/build/llmshim" --dir "$PWD/proj" purge --yes >out 2>&1
    assert_eq $? 1 "purge of a directory without entries fails"
    assert_contains "$(cat out)" "holds no llmshim entries but other files: refusing to purge it"
    "$ROOT/build/llmshim" --dir "$PWD/proj" prune --older-than 0 >>out 2>&1
    for f in package.json tsconfig.json src/config/settings.json node_modules/x/package.json \
             node_modules/x/0123456789abcdef.json; do
        [ -f "proj/$f" ] || die "$f was deleted: $(cat out)"
    done
}

# ---- planted answers ----------------------------------------------------------------------------

EVIL=
make_evil() {
    [ "$(id -u)" = 0 ] || skip "needs root to make a second user"
    EVIL=llmshim-evil-$$
    useradd -M -N -r -s /usr/sbin/nologin "$EVIL" 2>/dev/null || skip "cannot add a user"
    trap 'userdel "$EVIL" 2>/dev/null; mock_stop >/dev/null 2>&1' EXIT
}

# The cache directory swapped by another user while a program runs: the planted answer is never
# served, and nothing is written into that user's directory.
test_directory_recreated_by_another_user_is_refused() {
    make_evil
    chmod 755 "$TEST_TMP" # the other user may pass through, not write
    dir=$TEST_TMP/share
    mkdir -m 1777 "$dir" # a sticky directory anyone may create in, like /tmp
    body=$(chat_req capital)
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$dir/cache" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        "$C/pause_twice" "$(URL)" "$body" go >out 2>err &
    pid=$!
    for i in $(seq 100); do [ -n "$(find "$dir/cache" -name '*.json' 2>/dev/null)" ] && break; sleep 0.05; done
    entry=$(find "$dir/cache" -name '*.json' | head -1)
    [ -n "$entry" ] || die "nothing stored"
    rel=${entry#"$dir/cache/"}
    sed 's/answer #1 to: capital/EVIL: the capital of France is Berlin/' "$entry" >planted
    rm -rf "$dir/cache"
    su -s /bin/sh "$EVIL" -c "mkdir -p '$dir/cache/$(dirname "$rel")' && cp '$TEST_TMP/planted' '$dir/cache/$rel'" ||
        die "the other user could not plant"
    touch go
    wait $pid || die "the program failed: $(cat err)"
    assert_not_contains "$(cat out)" "EVIL"
    assert_contains "$(sed -n 2p out)" "answer #2 to: capital" "asked the API again"
    assert_contains "$(cat err)" "owned by another user"
    [ -z "$(find "$dir/cache" -user root -name '*.json')" ] || die "wrote into the other user's directory"
}

# A group-writable cache directory: said once; an entry another user put there is not served.
test_group_writable_directory_and_foreign_entry() {
    make_evil
    shim_chat "$(chat_req planted)" >a.out || die
    entry=$(find "$CACHE" -name '*.json' | head -1)
    chmod 770 "$CACHE" "$(dirname "$entry")" "$(dirname "$(dirname "$entry")")"
    sed 's/answer #1 to: planted/EVIL/' "$entry" >"$entry.new" && mv "$entry.new" "$entry"
    chown "$EVIL" "$entry"
    shim_chat "$(chat_req planted)" >b.out 2>err || die
    assert_not_contains "$(cat b.out)" "EVIL"
    assert_count 2 "the foreign entry is a miss"
    assert_contains "$(cat err)" "is group-writable"
    # an ancestor owned by another user: refused outright
    mkdir -p other && chown "$EVIL" other
    CACHE=$TEST_TMP/other/cache shim_chat "$(chat_req planted)" >c.out 2>err || die
    assert_contains "$(cat err)" "inside a directory owned by another user"
}

# An entry the command cannot read is named as such, and export says it left one behind.
test_unreadable_entry_is_said_not_hidden() {
    make_evil
    shim_chat "$(chat_req one)" >/dev/null || die
    shim_chat "$(chat_req two)" >/dev/null || die
    chown "$EVIL" "$(find "$CACHE" -name '*.json' | head -1)"
    "$ROOT/build/llmshim" --dir "$CACHE" ls >out 2>err || die "ls: $(cat err)"
    assert_contains "$(cat err)" "1 unreadable entry not listed"
    "$ROOT/build/llmshim" --dir "$CACHE" export "$TEST_TMP/cas" >out 2>err
    assert_eq $? 1 "export left an entry behind"
    assert_contains "$(cat out)" "copied 1 entry"
    assert_contains "$(cat out)" "could not read 1"
    assert_not_contains "$(cat out)" "corrupt"
}

# Fill-lock files nobody holds are removed by purge and prune; one held right now stays.
test_stale_lock_files_removed() {
    for i in 1 2 3 4 5; do shim_chat "$(chat_req "lock $i")" >/dev/null || die; done
    n=$(find "$CACHE/.locks" -name '*.lock' | wc -l)
    [ "$n" -ge 5 ] || die "expected lock files, found $n"
    held=$(find "$CACHE/.locks" -name '*.lock' | head -1)
    exec 9<>"$held"
    flock -n 9 || die "cannot hold a lock for the test"
    "$ROOT/build/llmshim" --dir "$CACHE" prune --expired >out 2>&1 || die "$(cat out)"
    assert_eq "$(find "$CACHE/.locks" -name '*.lock' | wc -l)" 1 "only the held lock is left: $(cat out)"
    [ -f "$held" ] || die "the held lock was removed"
    exec 9>&-
    "$ROOT/build/llmshim" --dir "$CACHE" purge --yes >out 2>&1 || die "$(cat out)"
    assert_eq "$(find "$CACHE/.locks" -name '*.lock' | wc -l)" 0 "purge leaves no lock files"
}

run_tests
