#!/usr/bin/env bash
# The llmshim command: every verb and its error cases, against caches the shim filled through
# the real curl tool (file backend).
. "$(dirname "$0")/lib.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
LLMSHIM_BIN=$ROOT/build/llmshim

# The command with the same settings as `shim`; no config file from the developer's home.
cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="${LLMSHIM_DIR:-$CACHE}" \
        LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" "$LLMSHIM_BIN" "$@"
}
# The command at another time: at +120s cmd ARGS...
at() { local t=$1; shift; FAKETIME=$t LD_PRELOAD=$FAKETIME_LIB cmd "$@"; }
# A chat call through the shim at another time: shim_chat_at -3d BODY
shim_chat_at() {
    env FAKETIME="$1" LD_PRELOAD="$SHIM:$FAKETIME_LIB" LLMSHIM_DIR="$CACHE" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS "$MOCK_URL/v1/chat/completions" -d "$2" >/dev/null
}
# The key the shim gives a chat body.
key_of() { cmd key --url "$MOCK_URL/v1/chat/completions" <<<"$1" | sed -n 's/^key: *//p'; }
# Where the shim keeps a chat body's answer: named by the first 16 digits of its key.
entry_file() { find "$CACHE" -name "$(key_of "$1" | cut -c1-16).json"; }
# The key written inside an entry file.
key_in() { sed -n 's/^  "key": "\([0-9a-f]*\)",$/\1/p' "$1"; }
json_entries() { find "${1:-$CACHE}" -name '*.json' | wc -l; }

test_help_and_usage_errors() {
    cmd --help >out || die "--help failed"
    assert_contains "$(cat out)" "verbs:"
    for v in run stats ls show key export import prune purge verify config; do
        cmd "$v" --help >out 2>err || die "$v --help failed"
        assert_contains "$(head -1 out)" "usage: llmshim $v" "$v --help"
        assert_eq "$(cat err)" "" "$v --help writes nothing to stderr"
    done
    cmd >out 2>err; assert_eq $? 2 "no verb"
    assert_contains "$(cat err)" "llmshim: no verb given"
    cmd frobnicate 2>err; assert_eq $? 2 "unknown verb"
    assert_contains "$(cat err)" "unknown verb 'frobnicate'"
    assert_contains "$(cat err)" "Try 'llmshim --help'."
    cmd --bogus ls 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "unknown option '--bogus'"
    cmd ls --bogus 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "llmshim ls: unknown option '--bogus'"
    assert_contains "$(cat err)" "Try 'llmshim ls --help'."
    cmd ls extra 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "unexpected argument 'extra'"
    cmd prune --max-size 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "option --max-size needs a value"
    cmd prune --older-than soon 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "--older-than 'soon' is not an age"
    cmd prune --max-size 5X 2>err; assert_eq $? 2
    cmd stats --json --prometheus 2>err; assert_eq $? 2
    cmd --dir "" ls 2>err; assert_eq $? 2
    cmd --version >out || die "--version"
    [[ $(head -1 out) =~ ^llmshim\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || die "llmshim MAJOR.MINOR.PATCH: $(cat out)"
    assert_contains "$(cat out)" "entry format 2 (reads 1 to 2), keys llmshim-key-v2"
}

test_run_miss_then_hit() {
    [ -z "${LD_PRELOAD:-}" ] || die "the test must not preload anything itself"
    cmd run -- curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req hi)" >a.out || die "run miss"
    cmd run -- curl -sS -i "$MOCK_URL/v1/chat/completions" -d "$(chat_req hi)" >b.out || die "run hit"
    assert_count 1 "the second call is answered by the cache"
    assert_contains "$(cat b.out)" $'X-LLMShim-Cache: HIT\r\n'
    sed -e '1,/^\r$/d' b.out >b.body
    assert_same_file b.body a.out
    assert_eq "$(json_entries)" 1
}

test_run_sets_preload_and_settings() {
    lib=$(realpath "$ROOT/build/libllmshim.so")
    out=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 cmd run --mode replay --dir rel --namespace n1 -- \
        sh -c 'echo "$LD_PRELOAD|$LLMSHIM_MODE|$LLMSHIM_DIR|$LLMSHIM_NAMESPACE"') || die "run failed"
    assert_eq "$out" "$lib:/lib/x86_64-linux-gnu/libc.so.6|replay|$TEST_TMP/rel|n1" "library first, then the old LD_PRELOAD"
    out=$(cmd --backend memory run -- sh -c 'echo "$LD_PRELOAD|$LLMSHIM_BACKEND"') || die
    assert_eq "$out" "$lib|memory" "settings before the verb reach CMD too"
    cmd run --mode replay -- curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req new)" >/dev/null 2>err
    assert_eq $? 7 "--mode replay reaches the shim: a miss fails"
    assert_count 0
    cmd run -- sh -c 'exit 3'; assert_eq $? 3 "CMD's exit status is run's"
}

test_run_errors() {
    cmd run 2>err; assert_eq $? 2 "no command"
    assert_contains "$(cat err)" "llmshim run: no command to run"
    assert_contains "$(cat err)" "usage: llmshim run"
    cmd run --mode replay -- 2>err; assert_eq $? 2
    cmd run -- /nonexistent/prog 2>err; assert_eq $? 127 "exec failure"
    assert_contains "$(cat err)" "cannot run /nonexistent/prog: No such file or directory"
    cmd run --mode bogus -- true 2>err; assert_eq $? 2 "a bad option value"
    assert_contains "$(cat err)" "LLMSHIM_MODE='bogus' is not one of"
    assert_contains "$(cat err)" "(from the command line)"
    LLMSHIM_TTL=soon cmd run -- true 2>err; assert_eq $? 2 "a bad setting in the environment"
    assert_contains "$(cat err)" "LLMSHIM_TTL='soon'"
    assert_contains "$(cat err)" "(from the environment)"
    cmd run --frob -- true 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "unknown option '--frob'"
}

test_run_finds_the_installed_library() {
    mkdir -p prefix/bin prefix/lib
    cp "$LLMSHIM_BIN" prefix/bin/
    LLMSHIM_BIN=$TEST_TMP/prefix/bin/llmshim
    cmd run -- true 2>err; assert_eq $? 1 "no library anywhere"
    assert_contains "$(cat err)" "cannot find libllmshim.so"
    cp "$ROOT/build/libllmshim.so" prefix/lib/
    out=$(cmd run -- sh -c 'echo "$LD_PRELOAD"') || die
    assert_eq "$out" "$TEST_TMP/prefix/lib/libllmshim.so"
    cmd run -- curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req inst)" >a.out || die
    cmd run -- curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req inst)" >b.out || die
    assert_count 1
    assert_same_file b.out a.out
}

write_stats() { # host lines...
    local host=$1; shift
    mkdir -p "$CACHE/.stats"
    printf '%s\n' "$@" >"$CACHE/.stats/$host.log"
}
stats_line() { printf 'llmshim-stats-v1\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$@"; }

test_stats_sums_every_host() {
    write_stats hosta "$(stats_line openai gpt-4o 2 1 1 0 0 2048 30 1500000)" \
        "$(stats_line openai gpt-4o 1 0 0 0 0 1024 15 500000)" "not a stats line"
    write_stats hostb "$(stats_line anthropic claude-3 0 4 3 1 0 0 0 0)"
    cmd stats >out || die "stats failed"
    row=$(grep '^openai ' out) || die "no openai row: $(cat out)"
    assert_eq "$(echo "$row" | awk '{print $3, $4, $5, $6, $7, $8, $9, $10, $11}')" "3 1 75.0% 1 0 0 3.0K 45 2.0s"
    total=$(grep '^total ' out) || die "no total row"
    assert_eq "$(echo "$total" | awk '{print $2, $3, $4, $5, $6}')" "3 5 37.5% 4 1" "total: hits misses ratio stores errors"
    cmd stats --json >out.json || die
    python3 - out.json <<'EOF' || die "stats --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"]["hits"] == 3 and d["total"]["misses"] == 5 and d["total"]["stores"] == 4, d
o = [r for r in d["rows"] if r["provider"] == "openai"][0]
assert o["model"] == "gpt-4o" and o["bytes_saved"] == 3072 and o["tokens_saved"] == 45, o
assert abs(o["seconds_saved"] - 2.0) < 1e-6 and abs(o["hit_ratio"] - 0.75) < 1e-4, o
EOF
    cmd stats --prometheus >prom || die
    assert_contains "$(cat prom)" "# HELP llmshim_hits_total "
    assert_contains "$(cat prom)" "# TYPE llmshim_hits_total counter"
    assert_contains "$(cat prom)" 'llmshim_hits_total{provider="openai",model="gpt-4o"} 3'
    assert_contains "$(cat prom)" 'llmshim_misses_total{provider="anthropic",model="claude-3"} 4'
    assert_contains "$(cat prom)" 'llmshim_seconds_saved_total{provider="openai",model="gpt-4o"} 2.000000'
    assert_contains "$(cat prom)" 'llmshim_hit_ratio{provider="openai",model="gpt-4o"} 0.7500'
    bad=$(grep -v '^#' prom | grep -cvE '^llmshim_[a-z_]+\{provider="[^"]*",model="[^"]*"\} [0-9.]+$')
    assert_eq "$bad" 0 "every sample line is well-formed"
}

test_stats_after_one_miss_two_hits() {
    for i in 1 2 3; do shim_chat "$(chat_req counted)" >/dev/null || die; done
    assert_count 1
    cmd stats --json >out.json || die
    python3 - out.json <<'EOF' || die "counters after 1 miss + 2 hits: $(cat out.json)"
import json, sys
t = json.load(open(sys.argv[1]))["total"]
assert t["hits"] == 2 and t["stores"] == 1 and t["misses"] == 1 and t["bytes_saved"] > 0, t
EOF
}

test_stats_and_ls_on_a_missing_cache() {
    mkdir -p "$TEST_TMP/xdg"
    LLMSHIM_DIR=$TEST_TMP/nowhere cmd stats 2>err; assert_eq $? 1
    assert_contains "$(cat err)" "cache directory $TEST_TMP/nowhere does not exist"
    LLMSHIM_DIR=$TEST_TMP/nowhere cmd ls 2>err; assert_eq $? 1
    [ -e "$TEST_TMP/nowhere" ] && die "reading verbs must not create the cache"
    LLMSHIM_BACKEND=memory cmd ls 2>err; assert_eq $? 1
    assert_contains "$(cat err)" "LLMSHIM_BACKEND=memory keeps entries inside each program"
    mkdir -p "$CACHE/.stats"
    cmd stats >out || die "an empty cache has zero counters"
    assert_contains "$(cat out)" "(nothing counted yet)"
}

test_ls_lists_entries() {
    shim_chat "$(chat_req 'What is the capital of France?')" >/dev/null || die
    LLMSHIM_TTL=0 shim_chat "$(chat_req 'tell me   a story' gpt-4o)" >/dev/null || die
    cmd ls >out || die "ls failed"
    assert_eq "$(wc -l <out)" 3 "a header and one line per entry"
    assert_contains "$(head -1 out)" "KEY"
    k=$(key_of "$(chat_req 'What is the capital of France?')")
    line=$(grep "^${k:0:12} " out) || die "no line for key ${k:0:12}: $(cat out)"
    [[ $line =~ \ in\ [67]d\  ]] || die "expires in 7d (6d once a second has passed): $line"
    assert_contains "$line" "custom"
    assert_contains "$line" "gpt-4o-mini"
    assert_contains "$line" "What is the capital of France?"
    line=$(grep "tell me a story" out) || die "whitespace in the prompt is collapsed"
    assert_contains "$line" "never"
    at +8d ls >later || die
    assert_contains "$(grep France later)" "expired"
    assert_contains "$(grep story later)" "never"
    cmd ls --json >out.json || die
    python3 - out.json "$k" <<'EOF' || die "ls --json: $(cat out.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2, d
e = [x for x in d if x["key"] == sys.argv[2]][0]
assert e["provider"] == "custom" and e["model"] == "gpt-4o-mini" and e["ttl"] == 604800, e
assert e["prompt"] == "What is the capital of France?" and e["size"] > 0 and not e["expired"], e
assert e["name"].startswith("custom/gpt-4o-mini/"), e
assert [x for x in d if x["key"] != sys.argv[2]][0]["expires"] is None
EOF
}

test_show_prints_request_and_answer() {
    shim_chat "$(chat_req hello)" >/dev/null || die
    shim_chat '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream it"}]}' >/dev/null || die
    k=$(key_of "$(chat_req hello)")
    cmd show "${k:0:8}" >out || die "show failed"
    assert_contains "$(cat out)" "key        $k"
    assert_contains "$(cat out)" "== request =="
    assert_contains "$(cat out)" "POST $MOCK_URL/v1/chat/completions"
    assert_contains "$(cat out)" $'\n  "messages": [\n    {\n      "content": "hello",'
    assert_contains "$(cat out)" "HTTP/1.1 200 OK"
    assert_contains "$(cat out)" $'\n  "choices": [\n'
    assert_contains "$(cat out)" '"content": "answer #1 to: hello"'
    [[ $(grep '^created' out) =~ \ ago\)\;\ it\ expires\ in\ [67]d$ ]] || die "a sentence: $(grep '^created' out)"
    LLMSHIM_TTL=0 shim_chat "$(chat_req forever)" >/dev/null || die
    cmd show "$(key_of "$(chat_req forever)" | cut -c1-10)" | grep -q '; it never expires$' || die "never expires"
    at +8d show "${k:0:8}" >old || die
    assert_contains "$(grep '^created' old)" "; it expired 24h ago: cache mode fetches it again, replay mode still serves it"
    K=$(echo "$k" | tr a-f A-F)
    cmd show "${K:0:10}" >upper || die "an upper-case key works too"
    assert_eq "$(grep -v '^created' upper)" "$(grep -v '^created' out)" "the same entry (the age may have moved on)"
    s=$(key_of '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream it"}]}')
    cmd show "$s" >sse || die
    assert_contains "$(cat sse)" $'data: {"id":"chatcmpl-mock-2"'
    assert_contains "$(cat sse)" 'data: [DONE]' "an event stream is shown as it was received"
}

test_show_errors() {
    shim_chat "$(chat_req hello)" >/dev/null || die
    k=$(key_of "$(chat_req hello)")
    cmd show 2>err; assert_eq $? 2 "no key"
    cmd show abc 2>err; assert_eq $? 2 "too short"
    assert_contains "$(cat err)" "must have 6 to 64 hex digits"
    cmd show zzzzzzzz 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "is not hexadecimal"
    other=$(printf '%s' "${k:0:1}" | tr '0-9a-f' '1-9a-f0')000000
    cmd show "$other" 2>err; assert_eq $? 1 "no such entry"
    assert_contains "$(cat err)" "no entry with a key starting with $other"
    # a second entry whose key shares the first 8 digits
    twin=${k:0:8}$(printf '%s' "${k:8:1}" | tr '0-9a-f' '1-9a-f0')$(printf '0%.0s' $(seq 55))
    f=$(entry_file "$(chat_req hello)")
    sed "s/$k/$twin/" "$f" >"$(dirname "$f")/${twin:0:16}.json"
    cmd show "${k:0:8}" 2>err; assert_eq $? 1 "ambiguous"
    assert_contains "$(cat err)" "key prefix ${k:0:8} is ambiguous: 2 entries match"
    assert_contains "$(cat err)" "${k:0:16}"
    assert_contains "$(cat err)" "${twin:0:16}"
    cmd show "${k:0:9}" >/dev/null || die "one more digit is unique"
    # file names hold 16 digits of the key; a longer prefix is matched against the key inside
    cmd show "${k:0:20}" >out || die "a prefix longer than the file name"
    assert_contains "$(cat out)" "key        $k"
    cmd show "${k:0:16}$(printf '%s' "${k:16:1}" | tr '0-9a-f' '1-9a-f0')" 2>err; assert_eq $? 1 "digit 17 differs"
    assert_contains "$(cat err)" "no entry with a key starting with"
}

test_key_matches_the_shim() {
    shim_chat "$(chat_req hello)" >/dev/null || die
    f=$(find "$CACHE" -name '*.json')
    stored=$(key_in "$f")
    assert_eq "$(basename "$f" .json)" "${stored:0:16}" "the file is named by the key's first 16 digits"
    cmd key --url "$MOCK_URL/v1/chat/completions" >out <<<'{ "messages": [ {"role": "user", "content": "hell\u006f"} ],
        "model": "gpt-4o-mini" }' || die "key failed"
    assert_eq "$(sed -n 's/^key: *//p' out)" "$stored" "the key of a re-spaced, re-ordered body is the stored key"
    assert_contains "$(cat out)" 'body:     {"messages":[{"content":"hello","role":"user"}],"model":"gpt-4o-mini"}'
    assert_contains "$(cat out)" "entry:    custom/gpt-4o-mini/${stored:0:16}.json"
    cmd key <<<"$(chat_req hi gpt-4o)" >out || die
    assert_contains "$(cat out)" "url:      https://api.openai.com/v1/chat/completions"
    assert_contains "$(cat out)" "provider: openai"
    assert_contains "$(cat out)" "model:    gpt-4o"
    cmd --namespace other key --url "$MOCK_URL/v1/chat/completions" <<<"$(chat_req hello)" >ns || die
    assert_ne "$(sed -n 's/^key: *//p' ns)" "$stored" "the namespace is part of the key"
    cmd key --url "$MOCK_URL/v1/chat/completions" <<<'not json' >raw || die
    assert_contains "$(cat raw)" "(not JSON: hashed as raw bytes)"
}

test_key_errors() {
    cmd key --url http://example.com/api/generate <<<'{}' 2>err; assert_eq $? 1 "not an LLM endpoint"
    assert_contains "$(cat err)" "http://example.com/api/generate is not an LLM endpoint"
    assert_contains "$(cat err)" "LLMSHIM_ENDPOINTS=http://example.com/api"
    cmd key --method GET <<<'{}' 2>err; assert_eq $? 1
    assert_contains "$(cat err)" "only POST requests are cached"
    cmd key --url 2>err </dev/null; assert_eq $? 2
    cmd key --frob <<<'{}' 2>err; assert_eq $? 2
}

test_key_explain_names_differing_paths() {
    body='{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"}]}'
    shim_chat "$body" >/dev/null || die
    shim_chat "$(chat_req 'something else entirely')" >/dev/null || die
    cmd key --explain --url "$MOCK_URL/v1/chat/completions" >out \
        <<<'{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello!"}]}' ||
        die "explain failed"
    assert_contains "$(cat out)" "stored:  no; nearest of 2 entries for this URL: $(key_of "$body" | cut -c1-12)"
    assert_contains "$(cat out)" "differs: 2 JSON paths (recorded → this request)"
    assert_contains "$(cat out)" $'\n  /messages/1/content: "hello" → "hello!"\n'
    assert_contains "$(cat out)" $'\n  /temperature: 0.2 → 0.7'
    cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >same || die
    assert_contains "$(cat same)" "this request is a hit"
    cmd key --explain --url "$MOCK_URL/v1/embeddings" <<<'{"model":"e","input":"x"}' >none || die
    assert_contains "$(cat none)" "stored:  no; no stored entry for POST $MOCK_URL/v1/embeddings or model e"
    # a long value is cut around where it changed
    long=$(printf 'word%.0s ' $(seq 40))
    shim_chat "$(chat_req "${long}alpha ${long}")" >/dev/null || die
    cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$(chat_req "${long}beta ${long}")" >cut || die
    assert_contains "$(cat cut)" "/messages/0/content: …word word word word alpha word wor… → …word word word word beta word wor…"
    # another model at the same URL is still named, after the same model
    cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$(chat_req hello gpt-4o)" >model || die
    assert_contains "$(cat model)" "same URL, another model"
    assert_contains "$(cat model)" '/model: "gpt-4o-mini" → "gpt-4o"'
    cmd --namespace elsewhere key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$body" >ns || die
    assert_contains "$(cat ns)" "has the same URL and body but another key"
}

test_export_import_then_replay_without_network() {
    shim_chat "$(chat_req one)" >one.out || die
    shim_chat "$(chat_req two)" >two.out || die
    cmd export "$TEST_TMP/cassette" >out 2>err || die "export failed: $(cat err)"
    assert_eq "$(cat out)" "copied 2 entries to $TEST_TMP/cassette"
    assert_eq "$(cat err)" "" "export is silent on stderr when it is not a terminal"
    assert_eq "$(json_entries "$TEST_TMP/cassette")" 2
    for f in $(cd "$CACHE" && find . -name '*.json'); do
        assert_same_file "$TEST_TMP/cassette/$f" "$CACHE/$f" "entries are copied byte for byte, same layout"
    done
    LLMSHIM_DIR=$TEST_TMP/fresh cmd import "$TEST_TMP/cassette" >out || die "import failed"
    assert_eq "$(cat out)" "copied 2 entries to $TEST_TMP/fresh"
    url=$MOCK_URL
    mock_stop >/dev/null
    MOCK_URL=$url
    for p in one two; do
        env LD_PRELOAD="$SHIM" LLMSHIM_MODE=replay LLMSHIM_DIR="$TEST_TMP/fresh" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
            curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req $p)" >rep.out || die "replay of $p failed"
        assert_same_file rep.out $p.out
    done
}

test_export_import_skip_corrupt_and_expired() {
    shim_chat "$(chat_req good)" >/dev/null || die
    LLMSHIM_TTL=60 shim_chat "$(chat_req short-lived)" >/dev/null || die
    bad=$CACHE/custom/gpt-4o-mini/$(printf 'e%.0s' $(seq 16)).json
    mkdir -p "$(dirname "$bad")"
    printf '{"llmshim": 1, "key": "eee' >"$bad"
    at +120s export "$TEST_TMP/cassette" >out 2>err || die "corrupt entries are skipped, not fatal"
    assert_eq "$(cat out)" "copied 1 entry to $TEST_TMP/cassette; skipped 1 expired; skipped 1 corrupt (llmshim verify names them)"
    assert_contains "$(cat err)" "skipping custom/gpt-4o-mini/eeeeeeeeeeeeeeee.json"
    assert_contains "$(cat err)" "not valid JSON"
    assert_eq "$(json_entries "$TEST_TMP/cassette")" 1
    [ -f "$bad" ] || die "export must not touch the source"
}

test_export_moves_an_older_layout() {
    shim_chat "$(chat_req old)" >old.out || die
    # as llmshim 0.1 named entries: provider/model/<2 digits>/<64 digits>.json
    f=$(entry_file "$(chat_req old)")
    k=$(key_in "$f")
    mkdir -p "$TEST_TMP/v01/custom/gpt-4o-mini/${k:0:2}"
    cp "$f" "$TEST_TMP/v01/custom/gpt-4o-mini/${k:0:2}/$k.json"
    LLMSHIM_DIR=$TEST_TMP/v01 cmd verify >out || die "an older layout still verifies"
    LLMSHIM_DIR=$TEST_TMP/v01 cmd show "${k:0:6}" >/dev/null || die "and shows"
    LLMSHIM_DIR=$TEST_TMP/v01 cmd key --explain --url "$MOCK_URL/v1/chat/completions" <<<"$(chat_req old)" >why || die
    assert_contains "$(cat why)" "stored:  yes, as custom/gpt-4o-mini/${k:0:2}/$k.json, but the shim looks for custom/gpt-4o-mini/${k:0:16}.json"
    LLMSHIM_DIR=$TEST_TMP/v01 cmd export "$TEST_TMP/now" >out || die "export failed"
    assert_eq "$(cd "$TEST_TMP/now" && find . -name '*.json')" "./custom/gpt-4o-mini/${k:0:16}.json"
    assert_same_file "$TEST_TMP/now/custom/gpt-4o-mini/${k:0:16}.json" "$f" "copied byte for byte"
}

test_import_into_redis_uses_the_key_inside() {
    . "$ROOT/tests/redis.sh"
    redis_start >/dev/null || die "redis"
    trap 'redis_stop' EXIT
    shim_chat "$(chat_req warm)" >warm.out || die
    k=$(key_in "$(entry_file "$(chat_req warm)")")
    cmd export "$TEST_TMP/cassette" >/dev/null || die
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$REDIS_URL cmd import "$TEST_TMP/cassette" >out || die "import into redis"
    assert_eq "$(cat out)" "copied 1 entry to $REDIS_URL"
    keys=$(redis_cli --raw keys 'llmshim:v1:*' | grep -v ':stats$')
    assert_eq "$keys" "llmshim:v1::$k" "stored under the whole key, not the file name's 16 digits"
    url=$MOCK_URL
    mock_stop >/dev/null
    MOCK_URL=$url
    env LD_PRELOAD="$SHIM" LLMSHIM_MODE=replay LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL="$REDIS_URL" \
        LLMSHIM_ENDPOINTS="$MOCK_URL/v1" curl -sS "$MOCK_URL/v1/chat/completions" -d "$(chat_req warm)" >rep.out ||
        die "replay from the warmed redis failed"
    assert_same_file rep.out warm.out
    # and back: a redis entry has no file name; export gives it the shim's
    LLMSHIM_BACKEND=redis LLMSHIM_REDIS_URL=$REDIS_URL cmd export "$TEST_TMP/back" >/dev/null || die
    assert_same_file "$TEST_TMP/back/custom/gpt-4o-mini/${k:0:16}.json" "$TEST_TMP/cassette/custom/gpt-4o-mini/${k:0:16}.json"
}

test_export_import_errors() {
    shim_chat "$(chat_req x)" >/dev/null || die
    cmd import "$TEST_TMP/missing" 2>err; assert_eq $? 1
    assert_contains "$(cat err)" "llmshim import: $TEST_TMP/missing: No such file or directory"
    cmd import 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "import from where? give a directory"
    cmd export a b 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "unexpected argument 'b'"
    cmd export "$CACHE" 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "is the cache directory itself"
    touch afile
    cmd export afile 2>err; assert_eq $? 1
    assert_contains "$(cat err)" "afile"
    chmod 0777 "$CACHE"
    cmd export "$TEST_TMP/c2" 2>err; assert_eq $? 1 "a world-writable cache is refused"
    assert_contains "$(cat err)" "world-writable; refusing to use it"
}

test_prune_expired_with_faketime() {
    LLMSHIM_TTL=60 shim_chat "$(chat_req short)" >/dev/null || die
    LLMSHIM_TTL=0 shim_chat "$(chat_req forever)" >/dev/null || die
    short=$(entry_file "$(chat_req short)")
    at +120s prune --expired --dry-run >out || die "dry run failed"
    assert_contains "$(cat out)" "would remove ${short#"$CACHE"/} (expired)"
    assert_contains "$(cat out)" "would remove 1 entry"
    assert_eq "$(json_entries)" 2 "a dry run removes nothing"
    cmd prune --expired >out || die
    assert_contains "$(cat out)" "removed 0 entries" "nothing has expired yet"
    at +120s prune >out || die "prune without criteria prunes expired entries"
    assert_contains "$(cat out)" "removed 1 entry"
    assert_contains "$(cat out)" "1 entry ("
    [ -e "$short" ] && die "the expired entry is still there"
    assert_eq "$(json_entries)" 1
    cmd ls | grep -q forever || die "the entry that never expires stays"
}

test_prune_older_than_and_max_size() {
    shim_chat_at -3d "$(chat_req old)" || die
    shim_chat_at -1d "$(chat_req middle)" || die
    shim_chat "$(chat_req new)" >/dev/null || die
    cmd prune --older-than 2d >out || die
    assert_contains "$(cat out)" "removed 1 entry"
    [ -n "$(entry_file "$(chat_req old)")" ] && die "the 3-day-old entry is still there"
    size=$(stat -c %s "$(entry_file "$(chat_req new)")")
    cmd prune --max-size "$size" >out || die
    assert_contains "$(cat out)" "removed 1 entry"
    [ -n "$(entry_file "$(chat_req middle)")" ] && die "the oldest entry goes first"
    [ -n "$(entry_file "$(chat_req new)")" ] || die "the newest entry fits and stays"
    cmd prune --max-size 0 --dry-run >out || die
    assert_contains "$(cat out)" "would remove 1 entry"
    assert_eq "$(json_entries)" 1
}

test_prune_removes_stale_temp_files() {
    shim_chat "$(chat_req t)" >/dev/null || die
    d=$(dirname "$(find "$CACHE" -name '*.json')")
    echo partial >"$d/.tmp-99999-0"
    touch -d '2 hours ago' "$d/.tmp-99999-0"
    echo writing >"$d/.tmp-99999-1"
    cmd prune >out || die
    assert_contains "$(cat out)" "and 1 stale temporary file"
    [ -e "$d/.tmp-99999-0" ] && die "a temp file from 2 hours ago is left by a dead process"
    [ -e "$d/.tmp-99999-1" ] || die "a fresh temp file may belong to a live writer"
    assert_eq "$(json_entries)" 1
}

test_purge_asks_or_needs_yes() {
    shim_chat "$(chat_req a)" >/dev/null || die
    shim_chat "$(chat_req b)" >/dev/null || die
    cmd purge </dev/null 2>err; assert_eq $? 2 "no terminal, no --yes"
    assert_contains "$(cat err)" "refusing to remove 2 entries of $CACHE without confirmation: stdin is not a terminal"
    assert_contains "$(cat err)" "llmshim purge --yes"
    assert_eq "$(json_entries)" 2
    # on a terminal it asks
    printf 'n\n' | script -qec "env LLMSHIM_DIR='$CACHE' XDG_CONFIG_HOME=/nonexistent '$LLMSHIM_BIN' purge" /dev/null >tty.out
    assert_contains "$(cat tty.out)" "Remove all 2 entries of $CACHE? [y/N]"
    assert_eq "$(json_entries)" 2 "answering no keeps everything"
    cmd purge --yes >out || die
    assert_eq "$(cat out)" "removed 2 entries and 2 unused lock files from $CACHE"
    assert_eq "$(json_entries)" 0
}

test_verify_reports_corrupt_entries() {
    shim_chat "$(chat_req a)" >/dev/null || die
    shim_chat "$(chat_req b)" >/dev/null || die
    cmd verify >out || die "a sound cache verifies"
    assert_eq "$(cat out)" "verified 2 entries: 0 corrupt"
    f=$(entry_file "$(chat_req a)")
    head -c 100 "$f" >"$f.cut" && mv "$f.cut" "$f"
    g=$(entry_file "$(chat_req b)")
    cp "$g" "$(dirname "$g")/$(printf 'f%.0s' $(seq 16)).json"
    cmd verify >out 2>err; assert_eq $? 1 "corrupt entries fail verify"
    assert_contains "$(cat out)" "CORRUPT $f: not valid JSON (cut short, or edited by hand?)"
    assert_contains "$(cat out)" "/ffffffffffffffff.json: the key inside does not match the file name"
    assert_contains "$(cat out)" "verified 3 entries: 2 corrupt"
    cmd ls >ls.out 2>err || die
    assert_contains "$(cat err)" "2 corrupt entries not listed"
}

test_config_shows_values_and_sources() {
    printf '# test\nLLMSHIM_TTL=1h\nLLMSHIM_MODE=replay\n' >conf
    LLMSHIM_CONFIG=$TEST_TMP/conf LLMSHIM_MODE=record cmd --namespace cli config >out || die "config failed"
    assert_contains "$(cat out)" "config file: $TEST_TMP/conf"
    assert_contains "$(grep '^LLMSHIM_MODE ' out)" "record"
    assert_contains "$(grep '^LLMSHIM_MODE ' out)" "environment"
    assert_contains "$(grep '^LLMSHIM_TTL ' out)" "3600 (1h)"
    assert_contains "$(grep '^LLMSHIM_TTL ' out)" "$TEST_TMP/conf"
    assert_contains "$(grep '^LLMSHIM_NAMESPACE ' out)" "cli"
    assert_contains "$(grep '^LLMSHIM_NAMESPACE ' out)" "command line"
    assert_contains "$(grep '^LLMSHIM_LOG ' out)" "default"
    for n in LLMSHIM_BACKEND LLMSHIM_DIR LLMSHIM_REDIS_URL LLMSHIM_ENDPOINTS LLMSHIM_KEY_IGNORE LLMSHIM_STALE_IF_ERROR; do
        grep -q "^$n " out || die "$n is not listed"
    done
    # ./.llmshim is found without LLMSHIM_CONFIG
    printf 'LLMSHIM_LOG=info\n' >.llmshim
    cmd config >out || die
    assert_contains "$(cat out)" "config file: $TEST_TMP/.llmshim"
    assert_contains "$(grep '^LLMSHIM_LOG ' out)" "info"
    # a broken file: the command says where
    printf 'LLMSHIM_LOG=info\nLLMSHIM_TTL 5\n' >.llmshim
    cmd config >out 2>err; assert_eq $? 2
    assert_contains "$(cat out)" "$TEST_TMP/.llmshim:2: expected NAME=value"
    cmd ls 2>err; assert_eq $? 2 "every verb refuses a broken config file"
    assert_contains "$(cat err)" "$TEST_TMP/.llmshim:2: expected NAME=value, got 'LLMSHIM_TTL 5'"
    rm .llmshim
    LLMSHIM_TTL=soon cmd config >out 2>err; assert_eq $? 2 "an invalid setting"
    assert_contains "$(cat err)" "LLMSHIM_TTL='soon'"
    cmd --config "$TEST_TMP/none" config 2>err >out; assert_eq $? 2
    assert_contains "$(cat out)" "LLMSHIM_CONFIG=$TEST_TMP/none: No such file or directory"
}

test_config_file_settings_reach_the_command() {
    shim_chat "$(chat_req filed)" >/dev/null || die
    printf 'LLMSHIM_DIR=%s\n' "$CACHE" >.llmshim
    env -u LLMSHIM_DIR XDG_CONFIG_HOME="$TEST_TMP/xdg" "$LLMSHIM_BIN" ls >out || die "ls with the dir from ./.llmshim"
    assert_contains "$(cat out)" "filed"
}

test_progress_only_on_a_terminal() {
    shim_chat "$(chat_req p)" >/dev/null || die
    cmd verify >out 2>err || die
    assert_eq "$(cat err)" "" "no progress when stderr is not a terminal"
    script -qec "env LLMSHIM_DIR='$CACHE' XDG_CONFIG_HOME=/nonexistent '$LLMSHIM_BIN' verify" /dev/null >tty.out
    assert_contains "$(cat tty.out)" $'\rllmshim verify: verifying entries: 1'
    assert_contains "$(cat tty.out)" "verified 1 entry: 0 corrupt"
}

test_man_page_covers_every_verb_and_setting() {
    man=$ROOT/tools/llmshim.1
    for v in run stats ls show key export import prune purge verify config; do
        grep -q "^\.B $v\( \|$\)" "$man" || die "verb $v is not in the man page"
    done
    for n in $(cmd config | awk '/^LLMSHIM_/{print $1}'); do
        grep -q "$n" "$man" || die "setting $n is not in the man page"
    done
    if command -v groff >/dev/null; then
        groff -man -Tutf8 -ww "$man" >/dev/null 2>err || die "groff failed"
        assert_eq "$(cat err)" "" "the man page renders without warnings"
    fi
}

run_tests
