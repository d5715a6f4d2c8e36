#!/usr/bin/env bash
# Found by an adversarial pass after the trust work: each broke "never another request's
# answer" or changed what the program observes, and each failed before its fix.
. "$(dirname "$0")/lib.sh"
C=$ROOT/build/clients
URL() { echo "$MOCK_URL/v1/chat/completions"; }

# A header list appended to in place after llmshim keyed the request: libcurl gets the list as
# keyed, so the padded answer is never stored under the plain request's key.
test_header_list_appended_in_place() {
    shim "$C/hdr_mutate" "$(URL)" "$(chat_req hdr)" 1 >a.out 2>&1 || true
    "$C/hdr_mutate" "$(URL)" "$(chat_req hdr)" 0 >plain.out 2>&1
    shim "$C/hdr_mutate" "$(URL)" "$(chat_req hdr)" 0 >b.out 2>&1 || true
    plain_len=$(sed -n 's/.* body=\([0-9]*\).*/\1/p' plain.out)
    assert_contains "$(cat b.out)" "body=$plain_len " "the untouched request gets its own answer, not the padded one"
}

# NOBODY, then POSTFIELDS: libcurl keeps NOBODY and sends HEAD; a cached POST answer is not it.
test_nobody_then_postfields_is_a_head() {
    /usr/bin/python3 -c 'import pycurl' 2>/dev/null || skip "python3-pycurl is not installed"
    shim_chat "$(chat_req head)" >/dev/null || die
    cat >head.py <<'PY'
import io, sys, pycurl
c = pycurl.Curl(); out = io.BytesIO()
c.setopt(pycurl.URL, sys.argv[1]); c.setopt(pycurl.NOBODY, 1); c.setopt(pycurl.POSTFIELDS, sys.argv[2])
c.setopt(pycurl.WRITEDATA, out); c.perform()
print(c.getinfo(pycurl.RESPONSE_CODE), len(out.getvalue()))
PY
    /usr/bin/python3 head.py "$(URL)" "$(chat_req head)" >plain.out 2>&1
    shim /usr/bin/python3 head.py "$(URL)" "$(chat_req head)" >shim.out 2>&1
    assert_same_file shim.out plain.out
}

# A Host header routes to another virtual host behind the same address: part of the key.
test_host_header_is_part_of_the_key() {
    shim_chat "$(chat_req vhost)" -H 'Host: llama.gw' >/dev/null || die
    shim_chat "$(chat_req vhost)" -H 'Host: mistral.gw' >/dev/null || die
    shim_chat "$(chat_req vhost)" -H 'Host: llama.gw' >/dev/null || die
    assert_count 2
}

# Credentials from libcurl's cookie engine or .netrc: key scope cannot see them, so it does
# not cache such requests rather than share them between tenants.
test_key_scope_with_cookie_files_and_netrc() {
    printf '127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\talice\n' >jar.a
    printf '127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tbob\n' >jar.b
    export LLMSHIM_KEY_SCOPE=credential
    shim_chat "$(chat_req jar)" -b jar.a >a.out || die
    shim_chat "$(chat_req jar)" -b jar.b >b.out || die
    assert_count 2 "bob is not served alice's answer"
    echo "machine 127.0.0.1 login alice password pa" >netrc.a
    echo "machine 127.0.0.1 login bob password pb" >netrc.b
    shim_chat "$(chat_req netrc)" --netrc-file netrc.a >/dev/null || die
    shim_chat "$(chat_req netrc)" --netrc-file netrc.b >/dev/null || die
    assert_count 4
}

# curl_easy_perform on the handle from inside its own write callback: libcurl refuses it;
# so does a cached answer, which is delivered once.
test_perform_from_its_own_callback() {
    "$C/reenter_easy" "$(URL)" "$(chat_req self)" >plain.out 2>&1
    shim "$C/reenter_easy" "$(URL)" "$(chat_req self)" >miss.out 2>&1
    shim "$C/reenter_easy" "$(URL)" "$(chat_req self)" >hit.out 2>&1
    assert_same_file miss.out plain.out
    assert_same_file hit.out plain.out
}

# The HTTP version asked for is part of the answer (its status line): part of the key.
test_http_version_is_part_of_the_key() {
    shim_chat "$(chat_req ver)" --http1.0 -i >a.out || die
    shim_chat "$(chat_req ver)" --http1.1 -i >b.out || die
    assert_count 2
}

run_tests
