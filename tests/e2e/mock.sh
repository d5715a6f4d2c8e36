# shellcheck shell=bash
# mock.sh - helpers for e2e tests around tools/mockllm.py.  Source it:
#     . "$(dirname "$0")/mock.sh"
#     mock_start [--tls CERT KEY]   -> exports MOCK_PORT MOCK_PID MOCK_URL MOCK_LOG
#     mock_count / mock_reset / mock_last / mock_stop
#     make_test_ca DIR              -> DIR/ca.pem DIR/server.pem DIR/server.key
# No `set -e` here: every function returns non-zero on failure.
# Admin requests never go through LD_PRELOAD (env -u LD_PRELOAD).
# The mock is a background child of your shell: wait for your own jobs by
# pid (wait "$pid"); a bare `wait` would also wait for the mock forever.
# Optional: MOCK_CA (CA file for admin requests over TLS, else -k),
# MOCK_VERBOSE=1 (server logs each request to $MOCK_LOG), TEST_TMP.

_MOCK_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOCK_PYTHON=${MOCK_PYTHON:-/usr/bin/python3}
MOCK_SCRIPT=${MOCK_SCRIPT:-$_MOCK_SH_DIR/../../tools/mockllm.py}

mock_start() {
    local cert="" key="" scheme=http dir pf i
    if [ "${1:-}" = --tls ]; then
        if [ $# -lt 3 ]; then echo "mock_start: --tls needs CERT KEY" >&2; return 2; fi
        cert=$2 key=$3 scheme=https
    fi
    if [ -n "${MOCK_PID:-}" ] && kill -0 "$MOCK_PID" 2>/dev/null; then
        echo "mock_start: a mock is already running (pid $MOCK_PID)" >&2; return 1
    fi
    _MOCK_OWN_DIR=""
    if [ -n "${TEST_TMP:-}" ]; then
        dir=$TEST_TMP; mkdir -p "$dir" || return 1
    else
        dir=$(mktemp -d) || return 1; _MOCK_OWN_DIR=$dir
    fi
    pf="$dir/mock.$$.$RANDOM.port"
    rm -f "$pf" "$pf.tmp"
    MOCK_LOG="$dir/mock.$$.log"
    local args=(--port-file "$pf" --host 127.0.0.1)
    [ -n "$cert" ] && args+=(--tls-cert "$cert" --tls-key "$key")
    [ -n "${MOCK_VERBOSE:-}" ] && args+=(--verbose)
    env -u LD_PRELOAD "$MOCK_PYTHON" "$MOCK_SCRIPT" "${args[@]}" </dev/null >>"$MOCK_LOG" 2>&1 &
    MOCK_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$pf" ] && break
        if ! kill -0 "$MOCK_PID" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [ ! -s "$pf" ]; then
        echo "mock_start: mock server did not start; log:" >&2
        cat "$MOCK_LOG" >&2
        kill -TERM "$MOCK_PID" 2>/dev/null
        unset MOCK_PID
        return 1
    fi
    MOCK_PORT=$(tr -dc 0-9 <"$pf")
    MOCK_URL="$scheme://127.0.0.1:$MOCK_PORT"
    export MOCK_PORT MOCK_PID MOCK_URL MOCK_LOG
}

# _mock_admin METHOD PATH: an admin request with the real curl, no preload.
_mock_admin() {
    [ -n "${MOCK_URL:-}" ] || { echo "mock: not started" >&2; return 1; }
    local tls=()
    if [ "${MOCK_URL#https:}" != "$MOCK_URL" ]; then
        if [ -n "${MOCK_CA:-}" ]; then tls=(--cacert "$MOCK_CA"); else tls=(-k); fi
    fi
    env -u LD_PRELOAD curl -q -sS -f --noproxy '*' --max-time 10 "${tls[@]}" \
        -X "$1" "$MOCK_URL$2"
}

mock_count() {
    local out
    out=$(_mock_admin GET /__count) || return 1
    out=$(printf '%s' "$out" | sed -n 's/.*"count": *\([0-9][0-9]*\).*/\1/p')
    [ -n "$out" ] || return 1
    printf '%s\n' "$out"
}

mock_reset() {
    _mock_admin POST /__reset >/dev/null
}

mock_last() {
    _mock_admin GET /__last
}

mock_stop() {
    local pid=${MOCK_PID:-} i rc=0
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "mock_stop: pid $pid ignored TERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null; rc=1
        fi
        wait "$pid" 2>/dev/null
    fi
    if [ -n "${_MOCK_OWN_DIR:-}" ]; then rm -rf "$_MOCK_OWN_DIR"; fi
    unset MOCK_PID MOCK_PORT MOCK_URL _MOCK_OWN_DIR
    return $rc
}

# The other built-in providers' hosts (src/endpoint.c), for tests/e2e/test_apis.sh.
_mock_more_hosts() {
    local h out=""
    for h in bedrock-runtime.us-east-1.amazonaws.com us-central1-aiplatform.googleapis.com \
        us-east5-aiplatform.googleapis.com aiplatform.googleapis.com api.cohere.com api.cohere.ai \
        api.voyageai.com api.jina.ai api.perplexity.ai api.cerebras.ai router.huggingface.co api.sambanova.ai \
        api.mistral.ai api.deepseek.com api.groq.com; do
        out="$out${out:+,}DNS:$h"
    done
    printf '%s' "$out"
}

make_test_ca() {
    local d=${1:?make_test_ca DIR} log
    mkdir -p "$d" || return 1
    printf '%s\n' \
        "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:api.openai.com,DNS:localhost,DNS:api.anthropic.com,DNS:generativelanguage.googleapis.com,DNS:openrouter.ai,DNS:*.openai.azure.com,IP:127.0.0.1,$(_mock_more_hosts)" \
        >"$d/server.ext" || return 1
    # (set -e would be ignored here, hence the && chain)
    log=$(
        exec 2>&1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 -subj "/CN=llmshim test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -CAserial "$d/ca.srl" -out "$d/server.pem" -days 825 \
            -extfile "$d/server.ext"
    ) || { echo "make_test_ca: openssl failed:" >&2; printf '%s\n' "$log" >&2; return 1; }
    rm -f "$d/server.csr" "$d/server.ext" "$d/ca.srl"
}
