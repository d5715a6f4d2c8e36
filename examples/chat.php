<?php
// chat.php: asks an OpenAI-compatible chat API one question with PHP's curl extension
// (curl_exec), the way a PHP application does, and prints the answer text. It knows nothing
// of llmshim; run it under the shim and the second identical question is answered from the
// cache:
//
//   llmshim run -- php examples/chat.php "What is the capital of France?"
//
//   OPENAI_API_KEY   the API key, sent as a Bearer token (llmshim never stores it)
//   OPENAI_MODEL     the model (default gpt-4o-mini)
//   OPENAI_BASE_URL  another OpenAI-compatible server (default https://api.openai.com/v1);
//                    llmshim caches it once LLMSHIM_ENDPOINTS names it
//
// Prints the answer on stdout and, on stderr, whether it came from the cache (llmshim adds
// an X-LLMShim-Cache: HIT header to a cached answer). Needs php-cli and php-curl.

if ($argc < 2) {
    fwrite(STDERR, "usage: php chat.php PROMPT\n");
    exit(2);
}
$key = getenv('OPENAI_API_KEY');
if ($key === false || $key === '') {
    fwrite(STDERR, "chat.php: set OPENAI_API_KEY\n");
    exit(2);
}
$base = getenv('OPENAI_BASE_URL') ?: 'https://api.openai.com/v1';
$model = getenv('OPENAI_MODEL') ?: 'gpt-4o-mini';

$cache = 'none';
$ch = curl_init("$base/chat/completions");
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    // the body in CURLOPT_POSTFIELDS: what llmshim reads to make the key
    CURLOPT_POSTFIELDS => json_encode([
        'model' => $model,
        'messages' => [['role' => 'user', 'content' => $argv[1]]],
    ]),
    CURLOPT_HTTPHEADER => ['Content-Type: application/json', "Authorization: Bearer $key"],
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_HEADERFUNCTION => function ($ch, $line) use (&$cache) {
        if (stripos($line, 'x-llmshim-cache:') === 0) $cache = trim(substr($line, 16));
        return strlen($line);
    },
]);
$body = curl_exec($ch);
$status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
if ($body === false) {
    fwrite(STDERR, 'chat.php: ' . curl_error($ch) . "\n");
    exit(1);
}
curl_close($ch);
if ($status !== 200) {
    fwrite(STDERR, "chat.php: HTTP $status: $body\n");
    exit(1);
}
$answer = json_decode($body, true);
echo $answer['choices'][0]['message']['content'] ?? $body, "\n";
fwrite(STDERR, "status=$status cache=$cache\n");
