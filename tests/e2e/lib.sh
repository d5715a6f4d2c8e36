# shellcheck shell=bash
# lib.sh — sourced by every tests/e2e/test_*.sh. Each function named test_* in the sourcing
# script is one test: it runs in its own subshell with a fresh temp dir ($TEST_TMP), an empty
# cache dir ($CACHE) and a freshly started mock LLM server (count 0). `run_tests` at the end of
# the script runs them and prints one PASS/FAIL line each.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# LLMSHIM_TEST_SHIM: another build of the shim (make check-asan); LLMSHIM_TEST_PRELOAD: libraries
# that must come first in LD_PRELOAD (the sanitizer runtimes).
SHIM=${LLMSHIM_TEST_SHIM:-$ROOT/build/libllmshim.so}
[ -n "${LLMSHIM_TEST_PRELOAD:-}" ] && SHIM="$LLMSHIM_TEST_PRELOAD:$SHIM"
. "$ROOT/tests/e2e/mock.sh"

# Settings from the developer's own shell must not leak into tests.
for v in $(env | sed -n 's/^\(LLMSHIM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD

die() { echo "    FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || die "${3:-values differ}: expected [$2], got [$1]"; }
assert_ne() { [ "$1" != "$2" ] || die "${3:-values equal}: both [$1]"; }
assert_contains() { case "$1" in *"$2"*) ;; *) die "${3:-missing text}: [$2] not in [$(printf '%s' "$1" | head -c 600)]";; esac; }
assert_not_contains() { case "$1" in *"$2"*) die "${3:-unexpected text}: [$2] found";; esac; }
assert_same_file() { cmp -s "$1" "$2" || die "${3:-files differ}: $1 vs $2 ($(cmp "$1" "$2" 2>&1 | head -1))"; }
assert_count() { local n; n=$(mock_count) || die "mock not reachable"; assert_eq "$n" "$1" "${2:-upstream request count}"; }

# Number of cache entries under $CACHE, temp files included so leftovers show up (the stats log,
# lock files, usage marks, the scope secret and the requests saved by replay misses are not entries).
entries() {
    if [ -d "$CACHE" ]; then
        find "$CACHE" -path "$CACHE/.misses" -prune -o -type f \( -name '*.json' -o -name '.tmp-*' \) -print | wc -l
    else echo 0; fi
}

# A chat request body; $1 = prompt, $2 = model.
chat_req() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]}' "${2:-gpt-4o-mini}" "$1"; }

# Runs a command with the shim preloaded, caching into $CACHE, the mock's /v1 as an LLM endpoint.
shim() {
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" "$@"
}

# curl against the mock's chat endpoint under the shim: shim_chat BODY [curl args...]
shim_chat() {
    local body=$1; shift
    shim curl -sS "$MOCK_URL/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" "$@"
}

# For tests with NO_MOCK=1: a mock with a certificate from a fresh test CA ($MOCK_CA), valid for
# the providers' real host names, so `curl --connect-to` reaches it as https://api.openai.com etc.
start_tls_mock() {
    make_test_ca "$TEST_TMP/ca" || die "cannot make a test CA"
    export MOCK_CA=$TEST_TMP/ca/ca.pem
    mock_start --tls "$TEST_TMP/ca/server.pem" "$TEST_TMP/ca/server.key" >/dev/null || die "mock"
    trap 'mock_stop >/dev/null 2>&1' EXIT
}

# Ends the current test as passed but skipped, with the reason; run_tests shows it as
# "PASS file:test (skipped: reason)". For clients a machine cannot install (R, Ruby, PHP...).
skip() { echo "SKIPPED: $*"; exit 0; }

run_tests() {
    local file t out rc
    file=$(basename "$0")
    for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
        [ -n "${TEST_FILTER:-}" ] && [[ $t != *$TEST_FILTER* ]] && continue
        out=$(
            TEST_TMP=$(mktemp -d /tmp/llmshim-test.XXXXXX)
            export TEST_TMP CACHE=$TEST_TMP/cache
            cd "$TEST_TMP" || exit 1
            if [ -z "${NO_MOCK:-}" ]; then mock_start >/dev/null || exit 1; fi
            ( set -o pipefail; "$t" ) 2>&1
            rc=$?
            [ -z "${NO_MOCK:-}" ] && mock_stop >/dev/null 2>&1
            rm -rf "$TEST_TMP"
            exit $rc
        )
        rc=$?
        if [ $rc -eq 0 ]; then
            local why; why=$(printf '%s\n' "$out" | sed -n 's/^SKIPPED: //p' | head -1)
            echo "PASS $file:$t${why:+ (skipped: $why)}"
        else
            echo "FAIL $file:$t"
            printf '%s\n' "$out" | tail -n 25 | sed 's/^/    | /'
        fi
    done
}
