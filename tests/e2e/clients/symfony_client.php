<?php
// Symfony HttpClient (Debian php-symfony-http-client): CurlHttpClient over PHP's curl multi API.
// It sends its own "Accept-Encoding: gzip" and decodes the answer itself, so libcurl does not.
//   php symfony_client.php sync|concurrent URL PROMPT... : one line per answer, in prompt order:
//   "<prompt> <status> <cache> <content-encoding> <the decoded answer text>"
require_once '/usr/share/php/Symfony/Component/HttpClient/autoload.php';
use Symfony\Component\HttpClient\CurlHttpClient;

[$self, $mode, $url] = array_slice($argv, 0, 3);
$prompts = array_slice($argv, 3);
$client = new CurlHttpClient();
$ask = fn($p) => $client->request('POST', $url, [
    'json' => ['model' => 'gpt-4o-mini', 'messages' => [['role' => 'user', 'content' => $p]]],
    'headers' => ['X-Mock-Gzip' => '1'],
]);
$show = function ($p, $r) {
    $h = $r->getHeaders();
    $text = json_decode($r->getContent(), true)['choices'][0]['message']['content'] ?? '?';
    printf("%s %d %s %s %s\n", $p, $r->getStatusCode(), $h['x-llmshim-cache'][0] ?? 'none',
           $h['content-encoding'][0] ?? 'identity', $text);
};
if ($mode === 'sync') {
    foreach ($prompts as $p) $show($p, $ask($p));
} else {
    $responses = [];
    foreach ($prompts as $p) $responses[$p] = $ask($p);
    foreach ($client->stream($responses) as $r => $chunk) {
        if ($chunk->isLast()) fprintf(STDERR, "done %s\n", $r->getInfo('url'));
    }
    foreach ($responses as $p => $r) $show($p, $r);
}
