#!/usr/bin/env bash
# Perl's WWW::Curl (Debian libwww-curl-perl): an easy handle whose answer and headers go to Perl
# file handles through the module's own callbacks.
. "$(dirname "$0")/lib.sh"
CLIENT=$ROOT/tests/e2e/clients/perl_client.pl

test_perl_www_curl_miss_then_hit() {
    perl -MWWW::Curl::Easy -e 1 2>/dev/null || skip "WWW::Curl (libwww-curl-perl) is not installed"
    shim timeout 60 perl "$CLIENT" "$MOCK_URL/v1/chat/completions" "perl" >miss.out 2>miss.err || die "$(cat miss.err)"
    shim timeout 60 perl "$CLIENT" "$MOCK_URL/v1/chat/completions" "perl" >hit.out 2>hit.err || die "$(cat hit.err)"
    assert_count 1
    assert_eq "$(head -1 miss.out)" "rc 0 status 200 cache none"
    assert_eq "$(head -1 hit.out)" "rc 0 status 200 cache HIT"
    assert_eq "$(tail -n +2 hit.out)" "$(tail -n +2 miss.out)"
    assert_contains "$(cat hit.out)" 'answer #1 to: perl'
}

run_tests
