#!/usr/bin/env bash
# Money saved: llmshim stats prices the tokens hits saved from the built-in table or LLMSHIM_PRICES.
. "$(dirname "$0")/lib.sh"
LLMSHIM_BIN=$ROOT/build/llmshim

# The command with the same settings as `shim`; no config file from the developer's home.
cmd() {
    env XDG_CONFIG_HOME="$TEST_TMP/xdg" LLMSHIM_DIR="${LLMSHIM_DIR:-$CACHE}" \
        LLMSHIM_ENDPOINTS="${LLMSHIM_ENDPOINTS:-$MOCK_URL/v1}" "$LLMSHIM_BIN" "$@"
}

write_stats() { # host lines...
    local host=$1; shift
    mkdir -p "$CACHE/.stats"
    printf '%s\n' "$@" >"$CACHE/.stats/$host.log"
}

stats_line2() { printf 'llmshim-stats-v2\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$@"; }

test_stats_dollars_from_a_price_file() {
    # a test price file: whole dollars per million tokens, so the sums are exact
    printf '# provider model input output cached date source\ncustom gpt-4o-mini 1000000 2000000 - 2025-01-01 test\n' >prices.tsv
    for i in 1 2 3; do shim_chat "$(chat_req priced)" >/dev/null || die; done
    assert_count 1
    grep -rq '"usage": {"input": 1, "output": 4}' "$CACHE" || die "the mock reports 1 input and 4 output tokens"
    LLMSHIM_PRICES=$TEST_TMP/prices.tsv cmd stats >out || die "stats: $(cat out)"
    assert_contains "$(head -1 out)" "DOLLARS"
    row=$(grep '^custom ' out) || die "no row: $(cat out)"
    assert_eq "$(echo "$row" | awk '{print $3, $NF}')" '2 $18.00' "2 hits x (1 x \$1 + 4 x \$2)"
    cmd stats >out || die
    assert_eq "$(grep '^custom ' out | awk '{print $NF}')" "-" "no price for the mock's provider in the built-in table"
    # the built-in table, an unpriced model, a cached-input discount, and --json / --prometheus
    write_stats hostc "$(stats_line2 openai gpt-4o-2024-08-06 1 0 0 0 0 100 3000000 0 2000000 1000000 1000000)" \
        "$(stats_line2 anthropic claude-unknown 1 0 0 0 0 100 50 0 40 10 0)"
    LLMSHIM_PRICES=$TEST_TMP/prices.tsv cmd stats >out || die
    # gpt-4o (built in: 2.50 in, 1.25 cached, 10.00 out): 1M x 2.50 + 1M x 1.25 + 1M x 10 = 13.75
    assert_eq "$(grep '^openai ' out | awk '{print $NF}')" '$13.75'
    assert_eq "$(grep '^anthropic ' out | awk '{print $NF}')" "-" "no price: never a made-up figure"
    assert_eq "$(grep '^total ' out | awk '{print $NF}')" '$31.75+' "the priced rows, marked incomplete"
    assert_contains "$(cat out)" "(1 model without a price: not in the total"
    LLMSHIM_PRICES=$TEST_TMP/prices.tsv cmd stats --json >out.json || die
    python3 - out.json <<'EOF2' || die "stats --json dollars: $(cat out.json)"
import json, sys
d = json.load(open(sys.argv[1]))
rows = {r["provider"]: r for r in d["rows"]}
assert abs(rows["custom"]["dollars_saved"] - 18) < 1e-9, rows
assert abs(rows["openai"]["dollars_saved"] - 13.75) < 1e-9, rows
assert rows["anthropic"]["dollars_saved"] is None, rows
assert rows["openai"]["cached_tokens_saved"] == 1000000, rows
assert abs(d["total"]["dollars_saved"] - 31.75) < 1e-9 and d["total"]["unpriced_models"] == 1, d["total"]
EOF2
    LLMSHIM_PRICES=$TEST_TMP/prices.tsv cmd stats --prometheus >prom || die
    assert_contains "$(cat prom)" '# TYPE llmshim_dollars_saved_total counter'
    assert_contains "$(cat prom)" 'llmshim_dollars_saved_total{provider="custom",model="gpt-4o-mini"} 18.000000'
    assert_contains "$(cat prom)" 'llmshim_dollars_saved_total{provider="openai",model="gpt-4o-2024-08-06"} 13.750000'
    assert_not_contains "$(cat prom)" 'llmshim_dollars_saved_total{provider="anthropic"'
    # a price file that is wrong is a bad setting
    printf 'custom gpt-4o-mini one two - 2025-01-01 test\n' >bad.tsv
    LLMSHIM_PRICES=$TEST_TMP/bad.tsv cmd stats 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "LLMSHIM_PRICES=$TEST_TMP/bad.tsv:1: expected 'provider model input output cached date source'"
    LLMSHIM_PRICES=$TEST_TMP/none.tsv cmd stats 2>err; assert_eq $? 2
    assert_contains "$(cat err)" "LLMSHIM_PRICES=$TEST_TMP/none.tsv: No such file or directory"
}

test_builtin_prices_cover_every_provider() {
    for p in $(sed -n 's/^    {"\([a-z]*\)", SHAPE_.*/\1/p' "$ROOT/src/endpoint.c" | sort -u); do
        # no list price of their own: the Hugging Face router bills the price of the provider it
        # routes to, Jina sells packs of tokens
        case $p in huggingface | jina) continue ;; esac
        grep -q "^$p " "$ROOT/tools/prices.tsv" || die "no price for provider $p"
    done
    bad=$(grep -v '^#' "$ROOT/tools/prices.tsv" | awk 'NF && ($6 !~ /^20[0-9][0-9]-[01][0-9]-[0-3][0-9]$/ || $7 !~ /^https:/)')
    assert_eq "$bad" "" "every price has its date and source"
}

run_tests
