#!/usr/bin/env bash
# The llmshim command's messages: one exit-code rule, did-you-mean hints, install and uninstall.
. "$(dirname "$0")/lib.sh"
LLMSHIM_BIN=$ROOT/build/llmshim

# The command with the same settings as `shim`; no config file from the developer's home.
cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="${LLMSHIM_DIR:-$CACHE}" \
        LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" "$LLMSHIM_BIN" "$@"
}

# One rule, table-driven: 2 = a bad command line, option value or setting (wherever it came
# from); 1 = the operation failed; 0 = done.
test_exit_codes_follow_one_rule() {
    shim_chat "$(chat_req coded)" >/dev/null || die
    mkdir -p empty
    printf 'LLMSHIM_TTL 5\n' >broken.conf
    local rows=(
        "0||ls"
        "0||stats"
        "0||--help"
        "2||"
        "2||stat"
        "2||ls --bogus"
        "2||ls --dir /tmp"
        "2||--json stats"
        "2||prune --older-than soon"
        "2||show abc"
        "2||--mode bogus ls"
        "2|LLMSHIM_MODE=bogus|ls"
        "2|LLMSHIM_TTL=soon|run -- true"
        "2|LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=rediss://x|ls"
        "2||--backend redis --redis-url rediss://x ls"
        "2||--backend redis --redis-url rediss://x run -- true"
        "2|LLMSHIM_CONFIG=$TEST_TMP/broken.conf|ls"
        "2|LLMSHIM_CONFIG=$TEST_TMP/broken.conf|config"
        "2|LLMSHIM_PRICES=$TEST_TMP/none|stats"
        "2||purge"
        "1|LLMSHIM_DIR=$TEST_TMP/nowhere|ls"
        "1|LLMSHIM_DIR=$TEST_TMP/empty|verify"
        "1||show 000000"
        "1|LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=redis://127.0.0.1:1|ls"
        "1||import $TEST_TMP/missing"
        "3||run -- sh -c 'exit 3'"
        "127||run -- /nonexistent"
    )
    local row want envs args got
    for row in "${rows[@]}"; do
        IFS='|' read -r want envs args <<<"$row"
        eval "env XDG_CONFIG_HOME=$TEST_TMP/xdg LLMSHIM_DIR=$CACHE LLMSHIM_ENDPOINTS=$MOCK_URL/v1 $envs $LLMSHIM_BIN $args" \
            </dev/null >out 2>err
        got=$?
        [ "$got" = "$want" ] || die "llmshim $args ($envs): exit $got, expected $want: $(head -3 err)"
    done
}

test_did_you_mean() {
    cmd stat 2>err; assert_contains "$(cat err)" "unknown verb 'stat'; did you mean 'stats'?"
    cmd ls --jsn 2>err; assert_contains "$(cat err)" "llmshim ls: unknown option '--jsn'; did you mean '--json'?"
    cmd ls --dir /tmp 2>err; assert_contains "$(cat err)" "'--dir' is a setting: give it before the verb (llmshim --dir VALUE ls ...)"
    cmd --json stats 2>err; assert_contains "$(cat err)" "'--json' is an option of ls and stats and goes after the verb (llmshim stats --json)"
    cmd --namespac x ls 2>err; assert_contains "$(cat err)" "unknown option '--namespac'; did you mean '--namespace'?"
    cmd prune --olderthan 2d 2>err; assert_contains "$(cat err)" "did you mean '--older-than'?"
    cmd run --mdoe replay -- true 2>err; assert_contains "$(cat err)" "did you mean '--mode'?"
    cmd frobnicate 2>err; assert_eq "$(head -1 err)" "llmshim: unknown verb 'frobnicate'" "no hint when nothing is near"
}

test_install_and_uninstall() {
    make -s -C "$ROOT" install PREFIX="$TEST_TMP/p" >out 2>&1 || die "install: $(cat out)"
    for f in lib/libllmshim.so bin/llmshim share/man/man1/llmshim.1; do [ -f "p/$f" ] || die "$f not installed"; done
    p/bin/llmshim --version >/dev/null || die "the installed command runs"
    touch p/bin/other
    make -s -C "$ROOT" uninstall PREFIX="$TEST_TMP/p" >out 2>&1 || die "uninstall: $(cat out)"
    assert_eq "$(cd p && find . -type f | sort)" "./bin/other" "only what install put there is removed"
}

run_tests
