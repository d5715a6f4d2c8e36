#!/usr/bin/env bash
# The shim inside other people's processes: invisible when unused, and every internal failure
# becomes the plain network call plus one llmshim: line.
. "$(dirname "$0")/lib.sh"

test_library_needs_only_libc_and_exports_only_hooks() {
    needed=$(readelf -d "$SHIM" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    assert_eq "$needed" "libc.so.6"
    exported=$(nm -D --defined-only "$SHIM" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
    assert_eq "$exported" "curl_easy_cleanup curl_easy_duphandle curl_easy_getinfo curl_easy_header curl_easy_init curl_easy_nextheader curl_easy_pause curl_easy_perform curl_easy_reset curl_easy_setopt curl_mime_addpart curl_mime_data curl_mime_data_cb curl_mime_encoder curl_mime_filedata curl_mime_filename curl_mime_free curl_mime_headers curl_mime_init curl_mime_name curl_mime_subparts curl_mime_type curl_multi_add_handle curl_multi_cleanup curl_multi_info_read curl_multi_perform curl_multi_poll curl_multi_remove_handle curl_multi_setopt curl_multi_socket_action curl_multi_socket_all curl_multi_timeout curl_multi_wait dlopen dlsym "
}

test_programs_without_libcurl_do_not_notice() {
    out=$(env LD_PRELOAD="$SHIM" HOME="$TEST_TMP/home" sh -c 'echo hi; ls / >/dev/null; true' 2>err) || die
    assert_eq "$out" "hi"
    assert_eq "$(cat err)" ""
    [ ! -e "$TEST_TMP/home/.cache" ] || die "a cache dir was created by a program that never used libcurl"
    env LD_PRELOAD="$SHIM" /bin/true || die "/bin/true failed"
}

test_dlopen_and_dlsym_still_see_the_real_caller() {
    # llmshim interposes dlopen and dlsym (PHP, FFI); glibc must still see the program as the
    # caller: its RUNPATH ($ORIGIN/lib) finds the plugin, and RTLD_NEXT is relative to it
    mkdir -p lib
    printf 'int plugin_answer(void) { return 42; }\n' >plug.c
    cat >main.c <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
size_t strlen(const char *s) { size_t (*next)(const char *) = (size_t (*)(const char *))dlsym(RTLD_NEXT, "strlen");
                               return next ? next(s) + 1000 : 0; }
int main(void) {
    void *h = dlopen("libplug.so", RTLD_NOW);
    if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
    int (*f)(void) = (int (*)(void))dlsym(h, "plugin_answer");
    printf("%d %zu\n", f ? f() : -1, strlen("abc"));
    return 0;
}
C
    gcc -shared -fPIC -o lib/libplug.so plug.c && gcc -fno-builtin -o main main.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/lib' || die "cannot build"
    assert_eq "$(./main)" "42 1003" "without the shim"
    assert_eq "$(env LD_PRELOAD="$SHIM" ./main)" "42 1003" "with the shim"
}

test_plain_web_traffic_creates_no_cache() {
    env LD_PRELOAD="$SHIM" HOME="$TEST_TMP/home" curl -sS "$MOCK_URL/index.html" >out 2>err || die
    env LD_PRELOAD="$SHIM" HOME="$TEST_TMP/home" curl -sS -d 'a=1' "$MOCK_URL/form" >>out 2>>err || die
    assert_eq "$(cat err)" ""
    [ ! -e "$TEST_TMP/home/.cache/llmshim" ] || die "no LLM call was made, yet a cache dir exists"
}

test_corrupt_entry_is_a_miss_and_gets_replaced() {
    shim_chat "$(chat_req c)" >a.out || die
    f=$(find "$CACHE" -name '*.json')
    printf '{"llmshim": 1, "key": "trunc' >"$f"
    shim_chat "$(chat_req c)" >b.out 2>err || die "a corrupt entry broke the call"
    assert_count 2
    assert_contains "$(cat b.out)" 'answer #2'
    assert_eq "$(grep -c '^llmshim: corrupt cache entry' err)" 1
    shim_chat "$(chat_req c)" >c.out 2>err2 || die
    assert_count 2 "the corrupt entry was replaced by a good one"
    assert_same_file c.out b.out
}

test_future_format_version_is_a_miss() {
    shim_chat "$(chat_req v)" >a.out || die
    f=$(find "$CACHE" -name '*.json')
    sed -i 's/"llmshim": [0-9]*,/"llmshim": 99,/' "$f"
    shim_chat "$(chat_req v)" >b.out 2>/dev/null || die
    assert_count 2
}

test_planted_entry_for_another_request_is_ignored() {
    shim_chat "$(chat_req A)" >a.out || die
    shim_chat "$(chat_req B)" >b.out || die
    fa=$(grep -rlF 'answer #1 to: A' "$CACHE")
    fb=$(grep -rlF 'answer #2 to: B' "$CACHE")
    cp "$fa" "$fb" # B's file now holds the answer to A
    shim_chat "$(chat_req B)" >b2.out 2>err || die
    assert_count 3 "an entry that answers another question must not be served"
    assert_contains "$(cat b2.out)" 'answer #3 to: B'
    assert_contains "$(cat err)" 'does not match its request'
}

test_hand_edited_request_body_still_answers() {
    # a reviewer reformats a cassette and reorders the request's keys: the same question still hits
    shim_chat '{"model":"gpt-4o-mini","temperature":0.5,"messages":[{"role":"user","content":"edit"}]}' >a.out || die
    f=$(find "$CACHE" -name '*.json')
    /usr/bin/python3 - "$f" <<'PY' || die "cannot rewrite the entry"
import json, sys
path = sys.argv[1]
e = json.load(open(path))
body = e["request"]["body"]
e["request"]["body"] = {k: body[k] for k in reversed(list(body))}  # reversed key order
json.dump(e, open(path, "w"), indent=3, ensure_ascii=True)
PY
    grep -q '"temperature": 0.5,' "$f" || die "the rewrite did not reorder"
    shim_chat '{"model":"gpt-4o-mini","temperature":0.5,"messages":[{"role":"user","content":"edit"}]}' >b.out 2>err || die
    assert_count 1 "an edited but equal request is still a hit"
    assert_same_file b.out a.out
    assert_eq "$(cat err)" ""
}

test_request_body_over_the_entry_limit_passes_uncached() {
    # no canonical copy of a body larger than any entry may be, and nothing stored for it
    big=$(head -c 3000 /dev/zero | tr '\0' a)
    for i in 1 2; do
        LLMSHIM_MAX_ENTRY_BYTES=2k shim_chat "$(chat_req "$big")" >"$i.out" 2>err || die
    done
    assert_count 2 "a 3 KB body with a 2 KB entry limit goes upstream every time"
    assert_eq "$(entries)" 0
    assert_eq "$(cat err)" ""
    shim_chat "$(chat_req "$big")" >/dev/null || die
    assert_eq "$(entries)" 1 "under the default limit the same body is cached"
}

test_unusable_cache_dir_falls_back_to_network() {
    touch "$TEST_TMP/afile"
    for dir in "$TEST_TMP/afile/sub" "$TEST_TMP/afile"; do
        env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$dir" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
            curl -sS -d "$(chat_req u)" "$MOCK_URL/v1/chat/completions" \
            "$MOCK_URL/v1/chat/completions" >out 2>err || die "the call must succeed"
        assert_eq "$(grep -c '^llmshim: ' err)" 1 "one warning for $dir"
        assert_contains "$(cat err)" "$dir"
        assert_eq "$(grep -o '"chat.completion"' out | wc -l)" 2
    done
}

test_world_writable_cache_dir_refused() {
    mkdir -m 0777 "$TEST_TMP/shared" && chmod 0777 "$TEST_TMP/shared"
    env LD_PRELOAD="$SHIM" LLMSHIM_DIR="$TEST_TMP/shared" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" \
        curl -sS -d "$(chat_req w)" "$MOCK_URL/v1/chat/completions" >out 2>err || die
    assert_contains "$(cat err)" "world-writable"
    assert_eq "$(find "$TEST_TMP/shared" -type f | wc -l)" 0
}

test_full_disk_stores_nothing_partial() {
    # a cache dir whose entry file cannot be written: its shard directory is a plain file
    shim_chat "$(chat_req d)" >/dev/null || die
    f=$(find "$CACHE" -name '*.json'); shard=$(dirname "$f")
    rm -rf "$shard" && touch "$shard"
    shim_chat "$(chat_req d)" >out 2>err || die "the call must succeed"
    assert_contains "$(cat out)" 'answer #2'
    assert_eq "$(grep -c '^llmshim: file store: cannot' err)" 1
    assert_eq "$(find "$CACHE" -name '.tmp-*' | wc -l)" 0 "no temp file left behind"
}

run_tests
