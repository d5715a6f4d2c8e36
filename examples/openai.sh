#!/bin/sh
# openai.sh: asks OpenAI's chat completions API one question with the curl tool and prints the
# answer (JSON, or the event stream) as the API sent it. It knows nothing of llmshim; run it
# under the shim and the second identical question is answered from the cache:
#
#   llmshim run -- examples/openai.sh "What is the capital of France?"
#
#   OPENAI_API_KEY    the API key, sent as a Bearer token (llmshim never stores it)
#   OPENAI_MODEL      the model (default gpt-4o-mini)
#   OPENAI_STREAM=1   ask for a streamed answer, printed event by event as it arrives
#   OPENAI_BASE_URL   another OpenAI-compatible server (default https://api.openai.com/v1);
#                     llmshim caches it once LLMSHIM_ENDPOINTS names it
set -eu

prompt=${1:?usage: openai.sh PROMPT}
base=${OPENAI_BASE_URL:-https://api.openai.com/v1}
model=${OPENAI_MODEL:-gpt-4o-mini}

# A JSON string for the prompt: backslashes, quotes, tabs and newlines escaped.
text=$(printf '%s' "$prompt" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
    awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')
stream=
[ "${OPENAI_STREAM:-}" = 1 ] && stream=',"stream":true'
body=$(printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$model" "$text" "$stream")

# -N: print each event of a stream the moment it arrives; --fail-with-body: exit 22 on an API
# error, with the error body shown.
exec curl -sS -N --fail-with-body "$base/chat/completions" \
    -H "Authorization: Bearer ${OPENAI_API_KEY:?set OPENAI_API_KEY}" \
    -H 'Content-Type: application/json' \
    -d "$body"
