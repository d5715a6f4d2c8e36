#!/usr/bin/env bash
# Editors whose LLM plugins run the curl tool as a child process, which inherits LD_PRELOAD:
# Emacs with plz.el (Debian elpa-plz; the HTTP library of llm.el), and Neovim running curl the
# way plenary.curl-based plugins do. The editor itself never touches libcurl.
. "$(dirname "$0")/lib.sh"
PLZ_DIR=$(ls -d /usr/share/emacs/site-lisp/elpa/plz-* 2>/dev/null | head -1)
URL_CHAT=/v1/chat/completions

emacs_plz() {
    shim timeout 60 emacs --batch -Q -L "$PLZ_DIR" -l "$ROOT/tests/e2e/clients/plz_client.el" \
        "$MOCK_URL$URL_CHAT" "$1" "$PWD/$2"
}
nvim_curl() {
    NV_URL=$MOCK_URL$URL_CHAT NV_BODY=$1 NV_OUT=$PWD/$2 shim timeout 60 nvim --headless --clean \
        -c "luafile $ROOT/tests/e2e/clients/nvim_client.lua" </dev/null >/dev/null
}

test_emacs_plz_miss_then_hit_and_replay() {
    command -v emacs >/dev/null && [ -n "$PLZ_DIR" ] || skip "emacs-nox and elpa-plz are not installed"
    emacs_plz "$(chat_req emacs)" miss.out >miss.err 2>&1 || die "$(cat miss.err)"
    emacs_plz "$(chat_req emacs)" hit.out >hit.err 2>&1 || die "$(cat hit.err)"
    assert_count 1
    assert_eq "$(head -1 miss.out)" "status 200 cache none"
    assert_eq "$(head -1 hit.out)" "status 200 cache HIT"
    assert_eq "$(tail -n +2 hit.out)" "$(tail -n +2 miss.out)" "the same body through plz"
    assert_contains "$(cat hit.out)" "answer #1 to: emacs"
    # replay: the recorded question is answered, a new one fails in plz and never reaches the server
    LLMSHIM_MODE=replay emacs_plz "$(chat_req emacs)" replay.out >replay.err 2>&1 || die "$(cat replay.err)"
    assert_eq "$(head -1 replay.out)" "status 200 cache HIT"
    LLMSHIM_MODE=replay emacs_plz "$(chat_req "emacs, new")" new.out >new.err 2>&1 && die "a replay miss must fail"
    [ -e new.out ] && die "plz returned an answer to a question never recorded"
    assert_contains "$(cat new.err)" "plz-curl-error"
    assert_contains "$(cat new.err)" "(7 . " "curl's exit code for a replay miss: could not connect"
    assert_count 1
}

test_neovim_curl_job_miss_then_hit() {
    command -v nvim >/dev/null || skip "neovim is not installed"
    nvim_curl "$(chat_req neovim)" miss.out || die "nvim failed"
    nvim_curl "$(chat_req neovim)" hit.out || die "nvim failed"
    assert_count 1
    assert_eq "$(head -1 miss.out)" "exit 0 cache none"
    assert_eq "$(head -1 hit.out)" "exit 0 cache HIT"
    assert_eq "$(tail -n +2 hit.out)" "$(tail -n +2 miss.out)" "the same body through Neovim"
    assert_contains "$(cat hit.out)" "answer #1 to: neovim"
}

run_tests
