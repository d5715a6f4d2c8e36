#!/usr/bin/env bash
# Regenerates the realistic part of the seed corpora in tests/fuzz/corpus/ (run it after the
# entry format changes): every API shape asked of tools/mockllm.py with the real curl under the
# shim; the request bodies go to fuzz_canon, the answers to fuzz_stream, the entries the shim
# wrote to fuzz_entry. Hand-written seeds and regression inputs (regress-*) are left alone.
# Needs build/libllmshim.so (make).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=$ROOT/tests/fuzz/corpus
. "$ROOT/tests/e2e/mock.sh"
TEST_TMP=$(mktemp -d /tmp/llmshim-seed.XXXXXX)
trap 'mock_stop >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT
mock_start >/dev/null
CACHE=$TEST_TMP/cache
mkdir -p "$CORPUS"/fuzz_canon "$CORPUS"/fuzz_stream "$CORPUS"/fuzz_entry
rm -f "$CORPUS"/fuzz_canon/mock-* "$CORPUS"/fuzz_stream/mock-* "$CORPUS"/fuzz_entry/mock-*

# name  shape-byte  path  body   (shape byte for fuzz_stream: (shape-1)*2, +1 for NDJSON, +128 for eventstream)
while IFS='|' read -r name sb path body; do
    [ -n "$name" ] || continue
    printf '%s' "$body" >"$CORPUS/fuzz_canon/mock-$name"
    before=$(find "$CACHE" -name '*.json' 2>/dev/null | sort || true)
    env LD_PRELOAD="$ROOT/build/libllmshim.so" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/" \
        curl -sS -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-test-SECRET-seed' \
        -d "$body" -o "$TEST_TMP/body" "$MOCK_URL$path"
    { printf "\\x$(printf %02x "$sb")\\x2a"; cat "$TEST_TMP/body"; } >"$CORPUS/fuzz_stream/mock-$name"
    f=$(comm -13 <(printf '%s\n' "$before") <(find "$CACHE" -name '*.json' | sort) | head -1)
    [ -n "$f" ] && cp "$f" "$CORPUS/fuzz_entry/mock-$name.json"
done <<'LIST'
chat|0|/v1/chat/completions|{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi \u00e9 \ud83d\ude00"}],"temperature":0.7,"max_tokens":64,"user":"u1"}
chat-stream|0|/v1/chat/completions|{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count to three"}]}
completion|0|/v1/completions|{"model":"gpt-3.5-turbo-instruct","prompt":"Once upon a time","max_tokens":16,"temperature":0}
completion-stream|0|/v1/completions|{"model":"gpt-3.5-turbo-instruct","prompt":"Once","stream":true}
embeddings|0|/v1/embeddings|{"model":"text-embedding-3-small","input":["one","two"],"encoding_format":"float"}
responses|0|/v1/responses|{"model":"gpt-4.1","input":"Write a haiku","instructions":"You are a poet","metadata":{"run":"7"}}
responses-stream|0|/v1/responses|{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"stream":true}
anthropic|2|/v1/messages|{"model":"claude-3-5-sonnet-20241022","max_tokens":1024,"system":"terse","messages":[{"role":"user","content":"Hello, Claude"}],"metadata":{"user_id":"x"}}
anthropic-stream|2|/v1/messages|{"model":"claude-3-5-haiku-latest","max_tokens":256,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"Stream please"}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}
gemini|4|/v1beta/models/gemini-1.5-flash:generateContent|{"contents":[{"role":"user","parts":[{"text":"Explain AI"}]}],"generationConfig":{"temperature":1.0,"topP":0.95,"maxOutputTokens":8192}}
gemini-sse|4|/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse|{"contents":[{"parts":[{"text":"Stream it"}]}],"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}
gemini-array|4|/v1beta/models/gemini-1.5-pro:streamGenerateContent|{"contents":[{"parts":[{"text":"As an array"}]}]}
gemini-embed|4|/v1beta/models/text-embedding-004:embedContent|{"content":{"parts":[{"text":"embed me"}]}}
ollama-chat|7|/api/chat|{"model":"llama3.2","messages":[{"role":"user","content":"why is the sky blue?"}],"options":{"seed":42,"temperature":0},"keep_alive":"5m"}
ollama-generate|7|/api/generate|{"model":"llama3.2","prompt":"Why?","stream":true}
ollama-nostream|6|/api/chat|{"model":"llama3.2","messages":[{"role":"user","content":"no stream"}],"stream":false}
ollama-embed|6|/api/embed|{"model":"all-minilm","input":["a","b"]}
LIST
echo "seeds: $(ls "$CORPUS"/fuzz_canon | wc -l) canon, $(ls "$CORPUS"/fuzz_stream | wc -l) stream, $(ls "$CORPUS"/fuzz_entry | wc -l) entry"
