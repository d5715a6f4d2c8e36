#!/usr/bin/perl
# perl_client.pl URL PROMPT - one POST with Perl's WWW::Curl::Easy (Debian libwww-curl-perl):
# prints the status, the X-LLMShim-Cache header (or "none") and the body.
use strict;
use warnings;
use WWW::Curl::Easy;

my ($url, $prompt) = @ARGV;
my $curl = WWW::Curl::Easy->new;
my ($body, $head) = ('', '');
open(my $bfh, '>', \$body) or die;
open(my $hfh, '>', \$head) or die;
$curl->setopt(CURLOPT_URL, $url);
$curl->setopt(CURLOPT_POSTFIELDS, qq({"model":"gpt-4o-mini","messages":[{"role":"user","content":"$prompt"}]}));
$curl->setopt(CURLOPT_HTTPHEADER, ['Content-Type: application/json']);
$curl->setopt(CURLOPT_WRITEDATA, $bfh);
$curl->setopt(CURLOPT_WRITEHEADER, $hfh);
my $rc = $curl->perform;
close $bfh;
close $hfh;
my ($cache) = $head =~ /^X-LLMShim-Cache: (\S+)/mi;
printf "rc %d status %d cache %s\n%s\n", $rc, $curl->getinfo(CURLINFO_HTTP_CODE), $cache // 'none', $body;
