<?php
/* php_client.php - asks a chat endpoint through PHP's curl extension (Debian php-curl), the way
 * Guzzle and the OpenAI PHP clients do; it knows nothing of llmshim.
 *
 *   php php_client.php MODE URL PROMPT...
 *
 * MODE:
 *   exec   curl_exec with CURLOPT_RETURNTRANSFER, a new handle per prompt
 *   multi  one handle per prompt, driven by curl_multi_exec + curl_multi_select +
 *          curl_multi_info_read, bodies from curl_multi_getcontent
 *   reset  one handle for every prompt: curl_exec, then curl_reset and all options again
 *
 * Bodies go to stdout, each followed by a newline; one line per transfer on stderr:
 *   <label> result=0 status=200 bytes=N cache=HIT|none
 * Exit status: 0 when every transfer ended with CURLE_OK and status 200. */

function body_for(string $prompt): string {
    return json_encode(["model" => "gpt-4o-mini",
                        "messages" => [["role" => "user", "content" => $prompt]]]);
}

/* Sets a request up on $ch; the header callback records X-LLMShim-Cache into $cache[$label]. */
function setup($ch, string $url, string $prompt, array &$cache, string $label): void {
    $cache[$label] = "none";
    curl_setopt_array($ch, [
        CURLOPT_URL => $url,
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => body_for($prompt),
        CURLOPT_HTTPHEADER => ["Content-Type: application/json"],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 30,
        CURLOPT_HEADERFUNCTION => function ($ch, $line) use (&$cache, $label) {
            $p = strpos($line, ":");
            if ($p !== false && strtolower(trim(substr($line, 0, $p))) === "x-llmshim-cache")
                $cache[$label] = trim(substr($line, $p + 1));
            return strlen($line);
        },
    ]);
}

function report($ch, string $label, int $result, array $cache, ?string $body): bool {
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    fwrite(STDOUT, ($body ?? "") . "\n");
    fprintf(STDERR, "%s result=%d status=%d bytes=%d cache=%s\n", $label, $result, $status,
            strlen($body ?? ""), $cache[$label]);
    return $result === 0 && $status === 200;
}

if ($argc < 4) { fwrite(STDERR, "usage: php_client.php exec|multi|reset URL PROMPT...\n"); exit(2); }
[$mode, $url, $prompts] = [$argv[1], $argv[2], array_slice($argv, 3)];
$cache = [];
$ok = true;

if ($mode === "exec") {
    foreach ($prompts as $i => $p) {
        $ch = curl_init();
        setup($ch, $url, $p, $cache, "exec#$i");
        $body = curl_exec($ch);
        $ok = report($ch, "exec#$i", curl_errno($ch), $cache, $body === false ? null : $body) && $ok;
        curl_close($ch);
    }
} elseif ($mode === "reset") {
    $ch = curl_init();
    foreach ($prompts as $i => $p) {
        if ($i > 0) curl_reset($ch);
        setup($ch, $url, $p, $cache, "reset#$i");
        $body = curl_exec($ch);
        $ok = report($ch, "reset#$i", curl_errno($ch), $cache, $body === false ? null : $body) && $ok;
    }
    curl_close($ch);
} elseif ($mode === "multi") {
    $mh = curl_multi_init();
    $handles = [];
    foreach ($prompts as $i => $p) {
        $ch = curl_init();
        setup($ch, $url, $p, $cache, "multi#$i");
        curl_multi_add_handle($mh, $ch);
        $handles[$i] = $ch;
    }
    $results = [];
    $running = 0;
    $deadline = microtime(true) + 60;
    do {
        $mrc = curl_multi_exec($mh, $running);
        while ($info = curl_multi_info_read($mh)) {
            if ($info["msg"] === CURLMSG_DONE)
                $results[array_search($info["handle"], $handles, true)] = $info["result"];
        }
        if ($running > 0 && curl_multi_select($mh, 1.0) === -1) usleep(10000);
    } while ($mrc === CURLM_OK && $running > 0 && microtime(true) < $deadline);
    if ($running > 0) { fwrite(STDERR, "multi: still running at the deadline\n"); $ok = false; }
    foreach ($handles as $i => $ch) {
        $ok = report($ch, "multi#$i", $results[$i] ?? -1, $cache, curl_multi_getcontent($ch)) && $ok;
        curl_multi_remove_handle($mh, $ch);
        curl_close($ch);
    }
    curl_multi_close($mh);
} else {
    fwrite(STDERR, "unknown mode $mode\n");
    exit(2);
}
exit($ok ? 0 : 1);
