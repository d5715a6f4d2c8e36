<?php
// guzzle_client.php MODE URL FILE - POSTs FILE's bytes with Guzzle (Debian php-guzzlehttp-guzzle),
// which sends bodies of 1,000,000 bytes or more with CURLOPT_UPLOAD and a read callback.
// MODE sync: one request; pool: two at once through a Pool (curl_multi). Prints, per answer,
// "<body length> <X-LLMShim-Cache>".
require "/usr/share/php/GuzzleHttp/autoload.php";
[$_, $mode, $url, $path] = $argv;
$client = new GuzzleHttp\Client();
$body = file_get_contents($path);
$opts = ["body" => $body, "headers" => ["Content-Type" => "application/json"]];
if ($mode === "pool") {
    $reqs = [new GuzzleHttp\Psr7\Request("POST", $url, $opts["headers"], $body),
             new GuzzleHttp\Psr7\Request("POST", $url, $opts["headers"], $body)];
    $out = [];
    $pool = new GuzzleHttp\Pool($client, $reqs, ["concurrency" => 2,
        "fulfilled" => function ($r, $i) use (&$out) { $out[$i] = strlen((string)$r->getBody()) . " " . $r->getHeaderLine("X-LLMShim-Cache"); },
        "rejected" => function ($e, $i) use (&$out) { $out[$i] = "error"; }]);
    $pool->promise()->wait();
    ksort($out);
    echo implode("\n", $out), "\n";
} else {
    $r = $client->post($url, $opts);
    echo strlen((string)$r->getBody()), " ", $r->getHeaderLine("X-LLMShim-Cache"), "\n";
}
