#!/usr/bin/env bash
# A C program that forks after a transfer (tests/e2e/clients/fork.c). The child's hit comes from
# the file store (or the memory inherited from the parent), its miss is stored for the parent;
# a fork while another thread is inside libcurl must not leave the child a held lock (200 forks
# make a lock held at the moment of some fork likely; a child that hangs is killed after 10 s).
. "$(dirname "$0")/lib.sh"
FORK=$ROOT/build/clients/fork
T=(timeout -k 5 90)

# frk NAME [args...] : the fork client under the shim, NAME.out / NAME.err
frk() {
    local name=$1; shift
    [ -x "$FORK" ] || die "$FORK is not built (make check builds it)"
    shim "${T[@]}" "$FORK" "$MOCK_URL/v1/chat/completions" "$@" >"$name.out" 2>"$name.err" ||
        die "fork $*: rc=$? $(cat "$name.out" "$name.err")"
}
# line NAME WHO PROMPT: that transfer's line; body NAME WHO PROMPT: its body alone
line() { grep "^$2 $3 " "$1.out" | head -1; }
body() { line "$@" | sed 's/^[^{]*//'; }

fork_file_store() {
    frk run "$@" || die
    assert_contains "$(line run parent A)" 'result=0 status=200 cache=none'
    assert_contains "$(line run child A)" 'result=0 status=200 cache=HIT'
    assert_contains "$(line run child B)" 'result=0 status=200 cache=none'
    assert_contains "$(line run parent B)" 'result=0 status=200 cache=HIT'
    assert_eq "$(body run child A)" "$(body run parent A)" "the child's hit"
    assert_eq "$(body run parent B)" "$(body run child B)" "the parent's hit on what the child stored"
    assert_contains "$(body run child B)" 'answer #2 to: fork prompt B'
    assert_count 2
    assert_eq "$(entries)" 2
}

test_fork_child_hits_and_stores_for_parent() {
    fork_file_store
}

test_fork_child_reuses_the_inherited_handle() {
    fork_file_store --child-reuse
}

# Counters are summed in the process and written later (at most once a second, and at exit): a
# child must not write the parent's unwritten ones again. The parent's 3 extra hits are pending
# when it forks; each process's count reaches the store once (at its exit).
test_fork_counters_counted_once() {
    frk run --repeat 3 || die
    assert_eq "$(grep -c '^parent-again A result=0 status=200 cache=HIT' run.out)" 3
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="$CACHE" "$ROOT/build/llmshim" stats --json >stats.json ||
        die "llmshim stats failed"
    python3 - stats.json <<'EOF' || die "counters: $(cat stats.json)"
import json, sys
t = json.load(open(sys.argv[1]))["total"]
# parent: A stored, A hit x3, B hit; child: A hit, B stored
assert (t["hits"], t["misses"], t["stores"]) == (5, 2, 2), t
EOF
}

test_fork_memory_store_inherited_by_child() {
    LLMSHIM_BACKEND=memory frk run || die
    assert_contains "$(line run parent A)" 'result=0 status=200 cache=none'
    assert_contains "$(line run child A)" 'result=0 status=200 cache=HIT'
    assert_eq "$(body run child A)" "$(body run parent A)" "the child answers from the memory it inherited"
    # the child's miss lives in the child's memory only: the parent asks upstream again
    assert_contains "$(line run child B)" 'result=0 status=200 cache=none'
    assert_contains "$(line run parent B)" 'result=0 status=200 cache=none'
    assert_contains "$(body run parent B)" 'answer #3 to: fork prompt B'
    assert_count 3
    assert_eq "$(entries)" 0
}

test_fork_while_another_thread_is_in_libcurl() {
    for backend in file memory; do
        rm -rf "$CACHE"
        mock_reset
        LLMSHIM_BACKEND=$backend "${T[@]}" env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" \
            LLMSHIM_ENDPOINTS="$MOCK_URL/v1" "$FORK" "$MOCK_URL/v1/chat/completions" --busy 200 \
            >"busy.$backend.out" 2>&1 ||
            die "$backend store: rc=$? $(grep -v 'cache=HIT' "busy.$backend.out" | cut -c1-160)"
        assert_count 1 "$backend store: only the parent's first A goes upstream"
        assert_eq "$(grep -c '^child[0-9]* A result=0 status=200 cache=HIT' "busy.$backend.out")" 200 \
            "$backend store: 200 children hit: $(grep -v 'cache=HIT' "busy.$backend.out" | cut -c1-200)"
    done
}

test_fork_without_shim_unchanged() {
    [ -x "$FORK" ] || die "$FORK is not built (make check builds it)"
    "${T[@]}" "$FORK" "$MOCK_URL/v1/chat/completions" >out 2>err || die "$(cat out err)"
    "${T[@]}" "$FORK" "$MOCK_URL/v1/chat/completions" --busy 5 >busy.out 2>busy.err || die "$(cat busy.out busy.err)"
    assert_eq "$(grep -c 'result=0 status=200 cache=none' out)" 4
    assert_eq "$(grep -c '^child[0-9] A result=0 status=200 cache=none' busy.out)" 5
}

run_tests
