#!/usr/bin/env bash
# make demo: the real curl tool asks a local mock LLM server the same question twice under
# llmshim (embedded file cache, no other server) and shows what happened each time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/e2e/mock.sh"
SHIM=$ROOT/build/libllmshim.so
DEMO=$ROOT/build/demo
rm -rf "$DEMO" && mkdir -p "$DEMO" || exit 1
export TEST_TMP=$DEMO
mock_start >/dev/null || { echo "demo: the mock LLM server did not start" >&2; exit 1; }
trap 'mock_stop >/dev/null 2>&1' EXIT

URL=$MOCK_URL/v1/chat/completions
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Name three prime numbers."}]}'
echo "llmshim demo: two identical POSTs to $URL (the mock takes 500 ms to answer, like a model)"
echo "  LD_PRELOAD=$SHIM"
echo "  LLMSHIM_DIR=$DEMO/cache  LLMSHIM_ENDPOINTS=$MOCK_URL/v1"
echo
for i in 1 2; do
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$DEMO/cache" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$URL" -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-demo-not-a-real-key' \
        -H 'X-Mock-Delay-Ms: 500' \
        -d "$BODY" -D "$DEMO/headers.$i" -o "$DEMO/body.$i" -w '%{time_total}' >"$DEMO/time.$i" ||
        { echo "demo: curl failed" >&2; exit 1; }
    if grep -qi '^X-LLMShim-Cache: HIT' "$DEMO/headers.$i"; then what=HIT; else what=MISS; fi
    ms=$(awk '{printf "%.2f", $1 * 1000}' "$DEMO/time.$i")
    printf 'call %d: %-4s  %7s ms  upstream requests so far: %s\n' "$i" "$what" "$ms" "$(mock_count)"
done
echo
if cmp -s "$DEMO/body.1" "$DEMO/body.2"; then echo "answers: byte-identical"; else echo "answers: DIFFERENT"; exit 1; fi
echo "answer:  $(cut -c1-110 "$DEMO/body.2")..."
entry=$(find "$DEMO/cache" -name '*.json' | head -1)
echo "entry:   $entry"
echo
sed -n '1,14p' "$entry"
echo "  ..."
if grep -q sk-demo "$entry"; then echo "demo: the credential was written!" >&2; exit 1; fi
echo "(the Authorization header is not in the entry)"
