#!/usr/bin/env bash
# Cassettes: a file-store directory committed with a project and replayed in CI. Stable names
# and contents (re-recording an unchanged answer changes nothing), no secrets, a CI-like
# record/replay run with the mock stopped, and the examples that show it.
. "$(dirname "$0")/lib.sh"
LLMSHIM_BIN=$ROOT/build/llmshim

# The command with the same settings as `shim`; no config file from the developer's home.
cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" \
        "$LLMSHIM_BIN" "$@"
}
STREAM_REQ='{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream a cassette"}]}'
EMBED_REQ='{"model":"text-embedding-3-small","input":"cassette"}'

# Three different requests: a chat, a streamed chat (-N), an embedding. $1: where the answers go.
suite3() {
    mkdir -p "$1"
    shim_chat "$(chat_req 'What is the capital of France?')" >"$1/chat" &&
        shim_chat "$STREAM_REQ" -N >"$1/stream" &&
        shim curl -sS "$MOCK_URL/v1/embeddings" -H 'Content-Type: application/json' -d "$EMBED_REQ" >"$1/embed"
}
# The CI suite: the same, with the chat asked again at the end (a retry, a second test).
suite4() { suite3 "$1" && shim_chat "$(chat_req 'What is the capital of France?')" >"$1/again"; }

# "sha256  ./path" of every entry under $1 (not the counters or locks beside them).
tree_sums() { (cd "$1" && find . -mindepth 1 -name '.*' -prune -o -type f -print | sort | xargs sha256sum); }
# "path inode mtime" of every entry: a rewrite (temp file + rename) changes the inode.
tree_stat() { (cd "$1" && find . -mindepth 1 -name '.*' -prune -o -type f -print | sort | xargs stat -c '%n %i %.9Y'); }
# An entry without what differs between two recordings of the same answer.
timeless() { sed -E -e 's/^  "(created|latency_us)": [0-9]+,$/  "\1": T,/' -e 's/^      \[[0-9]+, /      [T, /' "$1"; }
# The mock as freshly started: its answers are numbered from 1 again.
mock_restart() { mock_reset || die "mock reset"; }
stop_mock() { local url=$MOCK_URL; mock_stop >/dev/null; MOCK_URL=$url; }

test_rerecording_unchanged_answers_changes_no_file() {
    export LLMSHIM_MODE=record LLMSHIM_TTL=0
    suite3 run1 || die "record run 1"
    assert_eq "$(entries)" 3
    sums=$(tree_sums "$CACHE")
    stats=$(tree_stat "$CACHE")
    mock_restart
    sleep 0.05 # a rewrite now would show in the mtimes too
    suite3 run2 || die "record run 2"
    assert_count 3 "record mode fetched every answer again"
    for f in chat stream embed; do assert_same_file run2/$f run1/$f "the mock answered the same"; done
    assert_eq "$(tree_sums "$CACHE")" "$sums" "re-recording the same answers changed a file"
    assert_eq "$(tree_stat "$CACHE")" "$stats" "an unchanged entry was rewritten"
    # a changed answer is rewritten
    suite3 run3 || die "record run 3"
    assert_ne "$(tree_sums "$CACHE")" "$sums" "answers #4-#6 differ from #1-#3 and are recorded"
}

test_two_recordings_differ_only_in_timing() {
    export LLMSHIM_MODE=record LLMSHIM_TTL=0
    CACHE=$TEST_TMP/a suite3 out || die
    mock_restart
    CACHE=$TEST_TMP/b suite3 out || die
    names=$(cd a && find . -mindepth 1 -name '.*' -prune -o -type f -print | sort)
    assert_eq "$(cd b && find . -mindepth 1 -name '.*' -prune -o -type f -print | sort)" "$names" "the same names"
    for f in $names; do
        [[ $f =~ ^\./custom/(gpt-4o-mini|gpt-4o|text-embedding-3-small)/[0-9a-f]{16}\.json$ ]] ||
            die "not <provider>/<model>/<key16>.json: $f"
        diff <(timeless "a/$f") <(timeless "b/$f") >d.out || die "$f differs beyond created/latency/event times: $(cat d.out)"
    done
    # what a reviewer reads: the request pretty-printed with sorted keys, no volatile headers
    f=$(grep -l 'capital of France' -r a --include='*.json')
    assert_contains "$(cat "$f")" $'    "body": {\n      "messages": [\n        {\n          "content": "What is the capital of France?",\n          "role": "user"\n        }\n      ],\n      "model": "gpt-4o-mini"\n    }\n'
    for h in date x-request-id x-ratelimit-remaining-requests openai-processing-ms set-cookie; do
        grep -rqi "\"$h\"" a && die "volatile header $h was recorded"
    done
    grep -rq '"X-Mock-Request"' a || die "the other headers are kept"
}

test_no_secret_in_a_cassette() {
    export LLMSHIM_MODE=record LLMSHIM_TTL=0
    export LLMSHIM_ENDPOINTS="$MOCK_URL/v1,gemini=$MOCK_URL/v1beta"
    shim_chat "$(chat_req s1)" -H 'Authorization: Bearer sk-test-SECRET0001' >/dev/null || die
    shim_chat "$(chat_req s2)" -H 'x-api-key: SECRET0002' -H 'api-key: SECRET0003' >/dev/null || die
    shim_chat "$(chat_req s3)" -H 'x-goog-api-key: SECRET0004' -u 'user:SECRET0005' >/dev/null || die
    shim curl -sS "$MOCK_URL/v1/chat/completions?key=SECRET0006" -d "$(chat_req s4)" >/dev/null || die
    shim curl -sS "$MOCK_URL/v1beta/models/gemini-1.5-flash:generateContent?key=SECRET0007&alt=json" \
        -d '{"contents":[{"parts":[{"text":"s5"}]}]}' >/dev/null || die
    OPENAI_API_KEY=sk-test-SECRET0008 OPENAI_BASE_URL=$MOCK_URL/v1 shim "$ROOT/examples/openai.sh" s6 >/dev/null || die
    assert_count 6
    assert_eq "$(entries)" 6 "every call was recorded: the scan below looks at real entries"
    if grep -rn SECRET "$CACHE"; then die "a credential reached the cassette"; fi
    if grep -rni mocksession "$CACHE"; then die "a cookie reached the cassette"; fi
    grep -rq 'alt=json' "$CACHE" || die "the rest of the query is kept"
    cmd verify >out || die "verify: $(cat out)"
    assert_eq "$(cat out)" "verified 6 entries: 0 corrupt"
}

test_ci_record_then_replay_with_the_mock_stopped() {
    LLMSHIM_MODE=record LLMSHIM_TTL=0 suite4 rec || die "the recording run failed"
    assert_count 4 "record fetches every request, the repeated one too"
    assert_eq "$(entries)" 3 "one entry per distinct request"
    stop_mock
    shim_chat "$(chat_req x)" >/dev/null 2>&1 && die "the mock really is down"
    LLMSHIM_MODE=replay suite4 rep1 || die "a replay of the recorded suite failed"
    LLMSHIM_MODE=replay suite4 rep2 || die "a second replay failed"
    for f in chat stream embed again; do assert_same_file rep2/$f rep1/$f "replays are identical"; done
    assert_same_file rep1/stream rec/stream "the stream, event for event"
    assert_same_file rep1/embed rec/embed
    # a request repeated in one run replays every time, with the answer recorded last
    assert_same_file rep1/chat rec/again
    assert_same_file rep1/again rec/again
    # a request the cassettes do not hold
    LLMSHIM_MODE=replay shim_chat "$(chat_req 'What is the capital of Spain?')" >new.out 2>err
    assert_eq $? 7 "a replay miss fails like an unreachable host"
    assert_contains "$(cat err)" "llmshim: replay miss: POST $MOCK_URL/v1/chat/completions key "
    # at the miss itself: the nearest recording and what changed, with both values
    assert_contains "$(cat err)" "llmshim:   nearest recorded: custom/gpt-4o-mini/"
    assert_contains "$(cat err)" "(same URL and model, recorded "
    assert_contains "$(cat err)" $'1 JSON path differs:\nllmshim:     /messages/0/content: "What is the capital of France?" → "What is the capital of Spain?"\n'
    # and the printed command works when pasted: the request was saved where it looks
    line=$(grep '^llmshim:   to compare: ' err) || die "no command to paste: $(cat err)"
    (export PATH=$ROOT/build:$PATH XDG_CONFIG_HOME=$TEST_TMP/xdg LLMSHIM_ENDPOINTS=$MOCK_URL/v1; eval "${line#*to compare: }") >why ||
        die "the printed command failed: $line"
    assert_contains "$(cat why)" "mode:    replay"
    assert_contains "$(cat why)" "stored:  no; nearest of 2 entries for this URL"
    assert_contains "$(cat why)" $'differs: 1 JSON path (recorded → this request)\n  /messages/0/content: "What is the capital of France?" → "What is the capital of Spain?"'
    assert_eq "$(tail -1 err)" "$(grep -E 'replay miss(es)? in this run' err)" "the summary line comes last"
}

test_cache_mode_records_only_what_is_missing() {
    LLMSHIM_TTL=0 shim_chat "$(chat_req 'What is the capital of France?')" >/dev/null || die
    stats=$(tree_stat "$CACHE")
    LLMSHIM_TTL=0 suite4 run || die
    assert_count 3 "only the two new requests went out (VCR's new_episodes)"
    assert_eq "$(entries)" 3
    assert_eq "$(tree_stat "$CACHE" | grep -F "$(echo "$stats" | cut -d' ' -f1)")" "$stats" "the recorded entry is untouched"
    assert_same_file run/again run/chat
}

test_example_openai_sh_miss_hit_replay() {
    ex() { OPENAI_API_KEY=sk-test-example OPENAI_BASE_URL=$MOCK_URL/v1 cmd run "$@" -- "$ROOT/examples/openai.sh" 'What is 2+2?'; }
    ex >miss.out || die "miss"
    ex >hit.out || die "hit"
    assert_count 1
    assert_contains "$(cat miss.out)" '"answer #1 to: What is 2+2?"'
    assert_same_file hit.out miss.out
    OPENAI_STREAM=1 ex >s1.out || die "stream"
    OPENAI_STREAM=1 ex >s2.out || die "stream hit"
    assert_count 2
    assert_contains "$(cat s1.out)" 'data: [DONE]'
    assert_same_file s2.out s1.out
    stop_mock
    ex --mode replay >rep.out || die "replay with the mock stopped"
    assert_same_file rep.out miss.out
    OPENAI_MODEL=gpt-4o ex --mode replay >/dev/null 2>err; assert_eq $? 7 "another model is not in the cache"
    assert_contains "$(cat err)" "llmshim: replay miss: POST $MOCK_URL/v1/chat/completions key "
}

test_example_chat_php_miss_then_hit() {
    if ! command -v php >/dev/null || ! php -r 'exit(function_exists("curl_init") ? 0 : 1);' 2>/dev/null; then
        echo "php-cli with php-curl is not installed: nothing to test"
        return 0
    fi
    ex() { OPENAI_API_KEY=sk-test-php OPENAI_BASE_URL=$MOCK_URL/v1 cmd run -- php "$ROOT/examples/chat.php" 'PHP, are you there?'; }
    ex >miss.out 2>miss.err || die "miss: $(cat miss.err)"
    ex >hit.out 2>hit.err || die "hit: $(cat hit.err)"
    assert_count 1
    assert_eq "$(cat miss.out)" "answer #1 to: PHP, are you there?"
    assert_same_file hit.out miss.out
    assert_eq "$(cat miss.err)" "status=200 cache=none"
    assert_eq "$(cat hit.err)" "status=200 cache=HIT"
}

test_example_workflow_is_valid_yaml() {
    wf=$ROOT/examples/github-actions.yml
    grep -q 'LLMSHIM_MODE\|--mode replay' "$wf" || die "the workflow does not replay"
    python3 -c 'import yaml' 2>/dev/null || { echo "python3-yaml is not installed: syntax not checked"; return 0; }
    python3 - "$wf" <<'EOF' || die "workflow: $wf"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
on = d.get(True, d.get("on"))  # YAML 1.1 reads the key `on` as true
assert set(on) == {"push", "pull_request", "workflow_dispatch"}, on
replay, record = d["jobs"]["replay"], d["jobs"]["record"]
steps = lambda job: "\n".join(s.get("run", "") for s in job["steps"])
assert "--mode replay" in steps(replay) and "OPENAI_API_KEY" not in str(replay), "replay must need no key"
assert "workflow_dispatch" in record["if"] and "secrets.OPENAI_API_KEY" in str(record)
assert '--mode "${{ inputs.mode }}"' in steps(record) and record["steps"][2]["env"]["LLMSHIM_TTL"] == "0"
EOF
}

# A JSON answer is kept as JSON (one field per line, a readable diff) when its bytes can be given
# back exactly, else as a string: either way replay gives the very bytes the API sent.
test_json_answers_readable_and_byte_exact() {
    export LLMSHIM_TTL=0
    for style in compact pretty spaced odd; do
        h=(); [ $style != compact ] && h=(-H "X-Mock-Json: $style")
        shim_chat "$(chat_req "json $style")" "${h[@]}" >rec.$style || die "record $style"
    done
    stop_mock
    for style in compact pretty spaced odd; do
        LLMSHIM_MODE=replay shim_chat "$(chat_req "json $style")" >rep.$style || die "replay $style"
        assert_same_file rep.$style rec.$style "$style: replayed byte for byte"
    done
    assert_contains "$(head -c 3 rec.pretty)" $'{\n ' "the mock did answer indented"
    assert_contains "$(cat rec.odd)" '" : ' "and oddly spaced"
    for style in compact pretty spaced; do
        f=$(grep -rl "json $style" "$CACHE" --include='*.json')
        assert_contains "$(cat "$f")" $'    "body_json": {\n      "id": "chatcmpl-mock-' "$style: readable"
        assert_contains "$(cat "$f")" $'\n            "content": "answer #' "$style: one field per line"
    done
    f=$(grep -rl "json odd" "$CACHE" --include='*.json')
    assert_contains "$(cat "$f")" '    "body": "{' "odd whitespace is kept as the string it was"
    LLMSHIM_DIR=$CACHE "$ROOT/build/llmshim" verify >out || die "verify: $(cat out)"
    assert_eq "$(cat out)" "verified 4 entries: 0 corrupt"
}

# A program keeps the entries it decoded (the hit path's memo) only while the stored bytes stay
# the same: a cassette edited while the program runs is served as edited on its next hit.
test_cassette_edited_while_a_program_runs() {
    shim_chat "$(chat_req 'edit me later')" >first || die
    f=$(find "$CACHE" -name '*.json' -not -path '*/.*') && [ -n "$f" ] || die "no entry recorded"
    shim env URL="$MOCK_URL/v1/chat/completions" BODY="$(chat_req 'edit me later')" GO="$TEST_TMP/go" \
        /usr/bin/python3 -c '
import os, sys, time, pycurl, io
def ask():
    c, out = pycurl.Curl(), io.BytesIO()
    c.setopt(pycurl.URL, os.environ["URL"]); c.setopt(pycurl.POSTFIELDS, os.environ["BODY"])
    c.setopt(pycurl.HTTPHEADER, ["Content-Type: application/json"]); c.setopt(pycurl.WRITEDATA, out)
    c.perform(); c.close()
    print(out.getvalue().decode(), flush=True)
ask(); ask()  # the second hit comes from the memo
print("WAITING", flush=True)
for _ in range(400):
    if os.path.exists(os.environ["GO"]): break
    time.sleep(0.05)
ask()' >out 2>err &
    local pid=$! i
    for ((i = 0; i < 200; i++)); do grep -q WAITING out 2>/dev/null && break; sleep 0.05; done
    grep -q WAITING out || die "the client did not get its first hits: $(cat out err)"
    sed -i 's/answer #1 to: edit me later/answer EDITED to: edit me later/' "$f"
    grep -q 'answer EDITED' "$f" || die "the edit did not apply: $(cat "$f")"
    touch "$TEST_TMP/go"
    wait "$pid" || die "client failed: $(cat err)"
    assert_eq "$(grep -c 'answer #1 to: edit me later' out)" 2 "the first two hits: $(cat out)"
    assert_eq "$(tail -1 out | grep -c 'answer EDITED to: edit me later')" 1 "the hit after the edit: $(cat out)"
    assert_count 1
}

run_tests
