#!/usr/bin/env bash
# Multipart uploads (audio transcriptions, image edits) keyed by what their parts hold, never by
# the random boundary: the curl tool's -F (libcurl's curl_mime_*), PHP's CURLFile
# (curl_mime_data_cb), pycurl's HTTPPOST (curl_formadd), and bodies the program built itself
# (Guzzle's MultipartStream, a script), each sent twice: one upstream request. The mock's answer
# names each file part's SHA-256, so a wrong answer shows.
. "$(dirname "$0")/lib.sh"
PHPC=$ROOT/tests/e2e/clients/upload_clients.php
PYC=$ROOT/tests/e2e/clients/upload_clients.py
URL_T=/v1/audio/transcriptions

sha12() { sha256sum "$1" | cut -c1-12; }
# audio FILE BYTES: a file of random bytes (not UTF-8, NULs included)
audio() { mkdir -p "$(dirname "$1")"; head -c "${2:-20000}" /dev/urandom >"$1"; }
latest_entry() { ls -t $(find "$CACHE" -name '*.json') | head -1; }

test_curl_F_same_file_twice_is_a_hit() {
    audio a.wav 200000
    shim curl -sS "$MOCK_URL$URL_T" -F file=@a.wav -F model=whisper-1 >1.out || die
    shim curl -sS "$MOCK_URL$URL_T" -F file=@a.wav -F model=whisper-1 -D h >2.out || die
    assert_count 1 "the same file with a new boundary is the same question"
    assert_same_file 2.out 1.out
    grep -qi '^X-LLMShim-Cache: HIT' h || die "not served from the cache"
    assert_contains "$(cat 1.out)" "file=a.wav 200000 bytes sha $(sha12 a.wav)"
    # the entry shows the parts, not the audio
    e=$(latest_entry)
    [ "$(stat -c %s "$e")" -lt 3000 ] || die "the entry holds the upload: $(stat -c %s "$e") bytes"
    assert_contains "$(cat "$e")" "\"sha256\": \"$(sha256sum a.wav | cut -c1-64)\""
    assert_contains "$(cat "$e")" '"value": "whisper-1"'
    assert_contains "$(cat "$e")" '"size": 200000'
    [ -d "$CACHE/custom/whisper-1" ] || die "the model field names the entry's directory"
    # a file from stdin (the curl tool reads it, then hands it over through a read callback)
    shim curl -sS "$MOCK_URL$URL_T" -F file=@-\;filename=a.wav -F model=whisper-1 <a.wav >3.out || die
    shim curl -sS "$MOCK_URL$URL_T" -F file=@-\;filename=a.wav -F model=whisper-1 <a.wav >4.out || die
    assert_count 2 "stdin: one more question, asked once"
    assert_same_file 4.out 3.out
}

test_different_file_same_name_is_a_miss() {
    audio one/a.wav
    audio two/a.wav
    shim curl -sS "$MOCK_URL$URL_T" -F file=@one/a.wav -F model=whisper-1 >1.out || die
    shim curl -sS "$MOCK_URL$URL_T" -F file=@two/a.wav -F model=whisper-1 >2.out || die
    assert_count 2 "two different files under one name are two questions"
    assert_contains "$(cat 2.out)" "sha $(sha12 two/a.wav)"
    # the same bytes under another name, or with another field: other questions too
    cp one/a.wav b.wav
    shim curl -sS "$MOCK_URL$URL_T" -F file=@b.wav -F model=whisper-1 >/dev/null || die
    shim curl -sS "$MOCK_URL$URL_T" -F file=@one/a.wav -F model=whisper-1 -F language=fr >/dev/null || die
    assert_count 4
    # a file changed in place is a new question
    audio one/a.wav
    shim curl -sS "$MOCK_URL$URL_T" -F file=@one/a.wav -F model=whisper-1 >3.out || die
    assert_count 5
    assert_contains "$(cat 3.out)" "sha $(sha12 one/a.wav)"
}

test_php_curlfile_via_curl_exec() {
    php -r 'exit(function_exists("curl_init") ? 0 : 1);' 2>/dev/null || skip "php-curl is not installed"
    audio a.wav 50000
    shim php "$PHPC" curlfile "$MOCK_URL$URL_T" a.wav speech.wav >1.out 2>err || die "$(cat err)"
    assert_count 1 "the second curl_exec on the handle is a hit"
    assert_eq "$(sed -n 2p 1.out)" "$(sed -n 1p 1.out | sed 's/ none$/ HIT/')"
    assert_contains "$(sed -n 1p 1.out)" "file=speech.wav 50000 bytes sha $(sha12 a.wav)"
    shim php "$PHPC" curlfile "$MOCK_URL$URL_T" a.wav speech.wav >2.out 2>err || die "$(cat err)"
    assert_count 1 "another process: a hit"
    assert_eq "$(grep -c ' HIT$' 2.out)" 2
    # without llmshim, the server gets the same bytes (what libcurl sent from llmshim's read-ahead)
    php "$PHPC" curlfile "$MOCK_URL$URL_T" a.wav speech.wav >3.out 2>err || die "$(cat err)"
    assert_contains "$(sed -n 1p 3.out)" "file=speech.wav 50000 bytes sha $(sha12 a.wav)"
    audio b.wav 50000
    shim php "$PHPC" curlfile "$MOCK_URL$URL_T" b.wav speech.wav >4.out 2>err || die "$(cat err)"
    assert_contains "$(sed -n 1p 4.out)" "sha $(sha12 b.wav)"
    # a hit read the file ahead; rewritten before the next curl_exec, it is read again
    audio c.wav 50000
    cp a.wav d.wav
    shim php "$PHPC" changing "$MOCK_URL$URL_T" d.wav speech.wav c.wav >5.out 2>err || die "$(cat err)"
    assert_contains "$(sed -n 1p 5.out)" "sha $(sha12 a.wav)"
    assert_contains "$(sed -n 1p 5.out)" " HIT"
    assert_contains "$(sed -n 2p 5.out)" "sha $(sha12 c.wav)"
}

test_pycurl_httppost() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    audio a.wav 30000
    for mode in httppost httppost buffer buffer; do
        shim /usr/bin/python3 "$PYC" $mode "$MOCK_URL$URL_T" a.wav >>out 2>err || die "$mode: $(cat err)"
    done
    assert_count 2 "a form by file name and one by buffer: one request each"
    assert_eq "$(grep -c ' HIT$' out)" 2
    assert_contains "$(sed -n 1p out)" "file=a.wav 30000 bytes sha $(sha12 a.wav)"
    audio a.wav 30000
    shim /usr/bin/python3 "$PYC" httppost "$MOCK_URL$URL_T" a.wav >new 2>err || die
    assert_count 3 "the file changed: a new question"
    assert_contains "$(cat new)" "sha $(sha12 a.wav)"
}

test_hand_built_body_with_a_new_boundary_each_run() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    audio a.wav 40000
    shim /usr/bin/python3 "$PYC" handmade "$MOCK_URL$URL_T" a.wav >1.out 2>err || die "$(cat err)"
    shim /usr/bin/python3 "$PYC" handmade "$MOCK_URL$URL_T" a.wav >2.out 2>err || die "$(cat err)"
    assert_count 1 "a random boundary is not part of the question"
    assert_contains "$(cat 2.out)" " HIT"
    assert_contains "$(cat 1.out)" "sha $(sha12 a.wav)"
    assert_not_contains "$(cat "$(latest_entry)")" "----py"
    # the curl tool with a body written by a script
    for b in one two; do
        { printf -- "--$b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
          cat a.wav; printf -- "\r\n--$b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--$b--\r\n"; } >body.$b
        shim curl -sS "$MOCK_URL$URL_T" -H "Content-Type: multipart/form-data; boundary=$b" --data-binary @body.$b >"c.$b" || die
    done
    # the same parts as pycurl's body: the same question, whoever sent it and whatever the boundary
    assert_count 1 "the curl tool's two boundaries are pycurl's question"
    assert_same_file c.two c.one
}

test_guzzle_multipart_stream() {
    [ -f /usr/share/php/GuzzleHttp/autoload.php ] || skip "php-guzzlehttp-guzzle is not installed"
    audio a.wav 20000
    shim php "$PHPC" guzzle "$MOCK_URL$URL_T" a.wav >1.out 2>err || die "$(cat err)"
    shim php "$PHPC" guzzle "$MOCK_URL$URL_T" a.wav >2.out 2>err || die "$(cat err)"
    assert_count 1 "Guzzle's random boundary is not part of the question"
    assert_contains "$(cat 2.out)" " HIT"
    assert_contains "$(cat 1.out)" "sha $(sha12 a.wav)"
}

# A C program with every kind of MIME part (file, data, its own read/seek/free callbacks,
# subparts), twice on one handle and once from a duplicate: what the server gets and the free
# callback's calls are those of plain libcurl.
test_c_program_every_kind_of_part() {
    c=$ROOT/build/clients/mime
    audio a.wav 12000
    "$c" "$MOCK_URL$URL_T" a.wav >plain.out 2>plain.err || die "$(cat plain.err)"
    shim "$c" "$MOCK_URL$URL_T" a.wav >1.out 2>1.err || die "$(cat 1.err)"
    shim "$c" "$MOCK_URL$URL_T" a.wav >2.out 2>2.err || die "$(cat 2.err)"
    assert_contains "$(cat 1.err)" "2 rc=0 status=200 cache=HIT"
    assert_contains "$(cat 2.err)" "1 rc=0 status=200 cache=HIT"
    assert_contains "$(cat 2.err)" "3 rc=0 status=200 cache=none" # the duplicate's own mime passes through
    assert_eq "$(grep '^end' 2.err)" "$(grep '^end' plain.err)" "the free callback called as often as without llmshim"
    assert_count 6 "3 without llmshim, 1 miss, and the duplicate of each run"
    for f in plain 1 2; do
        [ "$(grep -c "file=a.wav 12000 bytes sha $(sha12 a.wav), again=again.wav 12000 bytes sha $(sha12 a.wav)" $f.out)" = 3 ] ||
            die "$f: the server did not get both copies of the file: $(cat $f.out)"
    done
}

test_transcription_stream_replays_event_by_event() {
    audio a.wav
    shim curl -sS -N "$MOCK_URL$URL_T" -F file=@a.wav -F model=gpt-4o-transcribe -F stream=true >1.out || die
    shim curl -sS -N "$MOCK_URL$URL_T" -F file=@a.wav -F model=gpt-4o-transcribe -F stream=true >2.out || die
    assert_count 1
    assert_same_file 2.out 1.out
    assert_contains "$(cat 1.out)" "transcript.text.done"
    e=$(latest_entry)
    assert_contains "$(cat "$e")" '"stream": "sse"'
    [ "$(grep -c 'transcript.text.delta' "$e")" -ge 5 ] || die "one line per event"
    assert_contains "$(cat "$e")" '"usage": {"input": 20'
    # a cut stream is never stored
    audio b.wav
    shim curl -sS -N "$MOCK_URL$URL_T" -F file=@b.wav -F model=m -F stream=true -H 'X-Mock-Cut: 1' >/dev/null 2>&1
    assert_eq "$(entries)" 1 "a cut transcription stream is not stored"
}

test_image_edits_and_replay() {
    audio img.png 5000
    shim curl -sS "$MOCK_URL/v1/images/edits" -F image=@img.png -F prompt='a hat' -F user=alice >1.out || die
    shim curl -sS "$MOCK_URL/v1/images/edits" -F image=@img.png -F prompt='a hat' -F user=bob >2.out || die
    assert_count 1 "images never echo user: left out of the key"
    assert_same_file 2.out 1.out
    assert_not_contains "$(cat "$(latest_entry)")" "alice"
    # replay: the recorded upload answers; a new one fails like a miss, without the network
    LLMSHIM_MODE=replay shim curl -sS "$MOCK_URL/v1/images/edits" -F image=@img.png -F prompt='a hat' >3.out || die
    assert_same_file 3.out 1.out
    audio other.png 5000
    LLMSHIM_MODE=replay shim curl -sS "$MOCK_URL/v1/images/edits" -F image=@other.png -F prompt='a hat' >/dev/null 2>err
    assert_eq "$?" 7
    assert_contains "$(cat err)" "replay miss"
    assert_count 1 "replay never reaches the API"
}

run_tests
