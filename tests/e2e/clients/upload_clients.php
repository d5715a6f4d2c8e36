<?php
// upload_clients.php MODE URL FILE [NAME] - uploads FILE to a transcription endpoint the ways PHP
// programs do. Prints each answer's body and its X-LLMShim-Cache (or "none"), one per line.
//   curlfile  curl_exec with a CURLFile (libcurl's curl_mime_data_cb), twice on one handle
//   changing  the same, with the file's bytes replaced by those of $argv[5] between the two
//   guzzle    Guzzle's "multipart" option (MultipartStream: its own random boundary each request)
[$_, $mode, $url, $path] = $argv;
$name = $argv[4] ?? basename($path);
if ($mode === "curlfile" || $mode === "changing") {
    $ch = curl_init($url);
    $cache = "none";
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_HEADERFUNCTION, function ($ch, $h) use (&$cache) {
        if (stripos($h, "X-LLMShim-Cache:") === 0) $cache = trim(substr($h, 16));
        return strlen($h);
    });
    curl_setopt($ch, CURLOPT_POSTFIELDS, ["file" => new CURLFile($path, "audio/wav", $name), "model" => "whisper-1"]);
    for ($i = 0; $i < 2; $i++) {
        $cache = "none";
        $body = curl_exec($ch);
        if ($body === false) { fwrite(STDERR, curl_error($ch) . "\n"); exit(1); }
        echo $body, " ", $cache, "\n";
        if ($mode === "changing" && $i === 0) file_put_contents($path, file_get_contents($argv[5]));
    }
} else {
    require "/usr/share/php/GuzzleHttp/autoload.php";
    $client = new GuzzleHttp\Client();
    $r = $client->post($url, ["multipart" => [
        ["name" => "file", "contents" => fopen($path, "r"), "filename" => $name],
        ["name" => "model", "contents" => "whisper-1"]]]);
    echo (string)$r->getBody(), " ", $r->getHeaderLine("X-LLMShim-Cache") ?: "none", "\n";
}
