#!/usr/bin/python3
"""mockllm.py - a local mock LLM HTTP(S) server for llmshim tests (stdlib only).

Usage:
    /usr/bin/python3 tools/mockllm.py --port-file FILE [--host 127.0.0.1]
        [--port 0] [--tls-cert CERT --tls-key KEY] [--verbose]

Once listening, the bound port is written to FILE (atomically, via FILE.tmp).
Runs until SIGTERM/SIGINT, then exits 0.

Every request is counted except admin paths starting with /__ :
    GET /__count -> {"count": N}     POST /__reset -> {"count": 0}
    GET /__count?ua=1 -> {"count": N, "by_ua": {"<User-Agent>": n, ...}} (counted per User-Agent)
    GET /__last  -> {"method", "path", "headers", "body"} of the last counted request
POST answers mimic OpenAI (/chat/completions, /completions, /embeddings,
/responses), Anthropic (/v1/messages), Gemini (:generateContent,
:streamGenerateContent[?alt=sse], :embedContent) and Ollama (/api/chat,
/api/generate, /api/embed), and through tools/mockapis.py multipart uploads, audio, images,
Bedrock, Vertex, Cohere, rerank and Perplexity; other POSTs get {"echo": n, "path": path} and
other GETs "mock ok n". The answer text is "answer #n to: <last prompt>",
streamed one word per event (words grouped when there are more than 100).
Concatenating the stream deltas gives exactly the non-stream answer text.

Every counted answer carries X-Mock-Request: n, a Set-Cookie, and headers a real API sends that
differ on every call (X-Request-Id random, X-Ratelimit-Remaining-Requests, Openai-Processing-Ms)
besides Date. It also carries what this server received, the same on every call:
    X-Mock-Saw: <server port> <METHOD> <path?query> <first 12 hex of sha256(body)> <body length>
(credential query parameters - names with key, token, auth, sig, secret, ... - shown as NAME=*, so no secret is
echoed into an answer a cache keeps).
A method without a handler here (a lowercase "post", HEAD...) is counted too and answered 501
(http.server's error page) with X-Mock-Saw.

Request headers steering the answer:
    X-Mock-Status: CODE         error status with {"error": {...}} body (429 and 503 with Retry-After: 7)
    X-Mock-Delay-Ms: N          sleep before answering
    X-Mock-Event-Delay-Ms: N    sleep between stream events
    X-Mock-Body-Bytes: N        pad the answer so the body is >= N bytes
    X-Mock-Cut: 1               send half the body/events, then drop the connection
    X-Mock-Cut: mid             the same, and half of the next event (cut inside it)
    X-Mock-Gzip: 1              gzip non-stream bodies if Accept-Encoding has gzip
    X-Mock-Json: STYLE          write a non-stream JSON answer as pretty (indent 2, newline at
                                the end, as OpenAI and Gemini do), spaced (", " and ": " on one
                                line, Python's default) or odd (indent 3, " , " and " : ")
    X-Mock-Redirect: CODE       (301 302 303 307 308) unless the query has hop=1: answer CODE
                                with Location: <path>?hop=1 and a small body; with hop=1 answer
                                as usual. Checked before X-Mock-Status.
"""
import argparse
import gzip
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockapis  # noqa: E402  (the answers beyond chat: uploads, audio, images, Bedrock, Cohere...)

http.client._MAXHEADERS = 1000  # the tests send 200 header lines; a real API takes them
CREATED = 1700000000
MAX_EVENTS = 100
LOCK = threading.Lock()
STATE = {"count": 0, "last": None, "by_ua": {}}
VERBOSE = False


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


def text_of(x):
    """Forgiving text extraction from strings, content-part lists and dicts."""
    if isinstance(x, str):
        return x
    if isinstance(x, list):
        return " ".join(t for t in (text_of(i) for i in x) if t)
    if isinstance(x, dict):
        for k in ("text", "content", "parts", "input", "prompt"):
            if k in x:
                return text_of(x[k])
    return "" if x is None else str(x)


def prompt_of(req, raw):
    if not isinstance(req, dict):
        return raw
    for key in ("messages", "contents", "input", "prompt", "content"):
        v = req.get(key)
        if v:
            if isinstance(v, list) and (key in ("messages", "contents") or isinstance(v[-1], dict)):
                v = v[-1]
            return text_of(v)
    return raw


def inputs_of(req, raw):
    """List of texts to embed (one embedding each)."""
    v = req.get("input", req.get("prompt")) if isinstance(req, dict) else None
    if isinstance(v, list) and v and all(isinstance(i, str) for i in v):
        return v
    return [prompt_of(req, raw)]


def redacted(path):
    """path?query with the values of credential parameters replaced by *."""
    return re.sub(r"([?&](?:[^=&]*(?:key|token|auth|sig|passw|secret|credential|%6Bey|mytok)[^=&]*)=)[^&]*",
                  r"\1*", path, flags=re.I)


def words(s):
    return len(s.split())


def vector(text, n):
    d = hashlib.sha256(("%d:%s" % (n, text)).encode()).digest()
    return [round(b / 127.5 - 1.0, 6) for b in d[:8]]


def pieces(answer):
    """Split the answer into '<word> ' tokens (grouped if there are too many)."""
    toks = re.findall(r"\s*\S+\s*", answer) or [answer]
    if len(toks) > MAX_EVENTS:
        size = -(-len(toks) // MAX_EVENTS)
        toks = ["".join(toks[i:i + size]) for i in range(0, len(toks), size)]
    return toks


def sse(obj, event=None):
    head = "event: %s\n" % event if event else ""
    return ("%sdata: %s\n\n" % (head, js(obj))).encode()


# ---- answer builders: each returns ("full", ctype, body) or ("stream", ctype, [chunks])

def openai_chat(n, req, model, answer, prompt, stream):
    cid = "chatcmpl-mock-%d" % n
    P, C = words(prompt), words(answer)
    usage = {"prompt_tokens": P, "completion_tokens": C, "total_tokens": P + C}
    if not stream:
        return "full", "application/json", js({
            "id": cid, "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                         "finish_reason": "stop"}],
            "usage": usage}).encode()
    ps = pieces(answer)
    ev = [sse({"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model,
               "choices": [{"index": 0, "delta": {"content": p},
                            "finish_reason": "stop" if i == len(ps) - 1 else None}]})
          for i, p in enumerate(ps)]
    if (req.get("stream_options") or {}).get("include_usage"):
        ev.append(sse({"id": cid, "object": "chat.completion.chunk", "created": CREATED,
                       "model": model, "choices": [], "usage": usage}))
    ev.append(b"data: [DONE]\n\n")
    return "stream", "text/event-stream", ev


def openai_completion(n, req, model, answer, prompt, stream):
    cid = "cmpl-mock-%d" % n
    P, C = words(prompt), words(answer)
    if not stream:
        return "full", "application/json", js({
            "id": cid, "object": "text_completion", "created": CREATED, "model": model,
            "choices": [{"text": answer, "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": P, "completion_tokens": C, "total_tokens": P + C}}).encode()
    ev = [sse({"id": cid, "object": "text_completion", "created": CREATED, "model": model,
               "choices": [{"text": p, "index": 0, "logprobs": None, "finish_reason": None}]})
          for p in pieces(answer)]
    return "stream", "text/event-stream", ev + [b"data: [DONE]\n\n"]


def openai_embeddings(n, req, model, raw):
    texts = inputs_of(req, raw)
    P = sum(words(t) for t in texts)
    return "full", "application/json", js({
        "object": "list", "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": vector(t, n)}
                 for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": P, "total_tokens": P}}).encode()


def openai_responses(n, req, model, answer, prompt, stream):
    rid, mid = "resp_mock_%d" % n, "msg_mock_%d" % n
    P, C = words(prompt), words(answer)
    full = {"id": rid, "object": "response", "created_at": CREATED, "status": "completed",
            "model": model,
            "output": [{"type": "message", "id": mid, "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": answer, "annotations": []}]}],
            "usage": {"input_tokens": P, "output_tokens": C, "total_tokens": P + C}}
    # like the real Responses API, the answer echoes these request fields
    for k in ("user", "metadata", "store", "prompt_cache_key", "safety_identifier", "prompt_cache_retention"):
        if isinstance(req, dict) and k in req:
            full[k] = req[k]
    if not stream:
        return "full", "application/json", js(full).encode()
    start = dict(full, status="in_progress", output=[], usage=None)
    ev = [sse({"type": "response.created", "response": start}, "response.created")]
    ev += [sse({"type": "response.output_text.delta", "item_id": mid, "output_index": 0,
                "content_index": 0, "delta": p}, "response.output_text.delta")
           for p in pieces(answer)]
    ev.append(sse({"type": "response.completed", "response": full}, "response.completed"))
    return "stream", "text/event-stream", ev


def anthropic(n, req, model, answer, prompt, stream):
    mid = "msg_mock_%d" % n
    P, C = words(prompt), words(answer)
    if not stream:
        return "full", "application/json", js({
            "id": mid, "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": answer}], "model": model,
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": P, "output_tokens": C}}).encode()
    ev = [sse({"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": P, "output_tokens": 1}}}, "message_start"),
        sse({"type": "content_block_start", "index": 0,
             "content_block": {"type": "text", "text": ""}}, "content_block_start")]
    ev += [sse({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": p}}, "content_block_delta")
           for p in pieces(answer)]
    ev += [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
           sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": C}}, "message_delta"),
           sse({"type": "message_stop"}, "message_stop")]
    return "stream", "text/event-stream", ev


def gemini(n, req, model, answer, prompt, stream, alt_sse):
    P, C = words(prompt), words(answer)
    usage = {"promptTokenCount": P, "candidatesTokenCount": C, "totalTokenCount": P + C}
    if not stream:
        return "full", "application/json", js({
            "candidates": [{"content": {"parts": [{"text": answer}], "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model}).encode()
    ps = pieces(answer)
    chunks = []
    for i, p in enumerate(ps):
        c = {"candidates": [{"content": {"parts": [{"text": p}], "role": "model"}, "index": 0}],
             "modelVersion": model}
        if i == len(ps) - 1:
            c["candidates"][0]["finishReason"] = "STOP"
            c["usageMetadata"] = usage
        chunks.append(c)
    if alt_sse:
        return "stream", "text/event-stream", [sse(c) for c in chunks]
    # JSON array, streamed piecewise like the real API: "[{..}\n,\r\n{..}\n]"
    ev = [(("[" if i == 0 else "\n,\r\n") + js(c)).encode() for i, c in enumerate(chunks)]
    return "stream", "application/json", ev + [b"\n]"]


def ollama(n, req, model, answer, prompt, stream, chat):
    P, C = words(prompt), words(answer)
    base = {"model": model, "created_at": "2023-11-14T22:13:20Z"}

    def obj(text, done):
        o = dict(base, **({"message": {"role": "assistant", "content": text}} if chat
                          else {"response": text}), done=done)
        if done:
            o.update(done_reason="stop", total_duration=1000000, prompt_eval_count=P, eval_count=C)
        return o
    if not stream:
        return "full", "application/json", js(obj(answer, True)).encode()
    ev = [(js(obj(p, False)) + "\n").encode() for p in pieces(answer)]
    return "stream", "application/x-ndjson", ev + [(js(obj("", True)) + "\n").encode()]


def build(n, path, query, req, raw, answer, prompt, host="", want=0):
    """Dispatch on the path shape; returns a builder result tuple."""
    r = req if isinstance(req, dict) else {}
    model = r.get("model") or "mock-model"
    stream = r.get("stream") is True
    res = mockapis.build(n, path, query, r, raw, answer, prompt, pieces(answer), vector, host, want)
    if res and res[0] == "anthropic":  # Vertex :rawPredict
        return anthropic(n, r, model, answer, prompt, res[1])
    if res:
        return res
    if host.startswith("api.perplexity.ai") and path.endswith("/chat/completions"):
        return mockapis.perplexity(openai_chat(n, dict(r, stream_options=None), model, answer, prompt, stream),
                                   words(prompt), words(answer))
    if path.endswith("/chat/completions"):
        return openai_chat(n, r, model, answer, prompt, stream)
    if path.endswith("/completions"):
        return openai_completion(n, r, model, answer, prompt, stream)
    if path.endswith("/embeddings") and not path.endswith("/api/embeddings"):
        return openai_embeddings(n, req, model, raw)
    if path.endswith("/responses"):
        return openai_responses(n, r, model, answer, prompt, stream)
    if path.endswith("/v1/messages"):
        return anthropic(n, r, model, answer, prompt, stream)
    m = re.search(r"/models/([^/:]+):", path)
    gmodel = m.group(1) if m else model
    if ":streamGenerateContent" in path or ":generateContent" in path:
        return gemini(n, r, gmodel, answer, prompt, ":streamGenerateContent" in path,
                      "sse" in query.get("alt", []))
    if ":batchEmbedContents" in path:
        texts = [text_of(x.get("content")) for x in r.get("requests", [])] or [prompt]
        return "full", "application/json", js(
            {"embeddings": [{"values": vector(t, n)} for t in texts]}).encode()
    if ":embedContent" in path:
        return "full", "application/json", js({"embedding": {"values": vector(prompt, n)}}).encode()
    if path.endswith("/api/chat") or path.endswith("/api/generate"):
        return ollama(n, r, model, answer, prompt, r.get("stream", True) is not False,
                      path.endswith("/api/chat"))
    if path.endswith("/api/embed"):
        texts = inputs_of(req, raw)
        return "full", "application/json", js({"model": model, "embeddings": [
            vector(t, n) for t in texts], "prompt_eval_count": sum(map(words, texts))}).encode()
    if path.endswith("/api/embeddings"):
        return "full", "application/json", js({"embedding": vector(prompt, n)}).encode()
    return "full", "application/json", js({"echo": n, "path": path}).encode()


def body_len(res):
    return len(res[2]) if res[0] == "full" else sum(len(c) for c in res[2])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mockllm/1.0"

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("mockllm: %s %s\n" % (self.address_string(), fmt % args))

    def setup(self):
        # headers and body are separate writes: without this, Nagle holds the body back until
        # the client's delayed ACK (40 ms per answer)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(30)
            self.request.do_handshake()      # in the handler thread, not in accept()
            self.request.settimeout(None)
        super().setup()

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
            self.close_connection = True

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def hdr_int(self, name, default=0):
        try:
            return int(self.headers.get(name, default))
        except ValueError:
            return default

    def __getattr__(self, name):
        # http.server answers a method without a do_<METHOD> 501 uncounted; count it, name it
        if name.startswith("do_") and name != "do_":
            return self.unsupported
        raise AttributeError(name)

    def unsupported(self):
        self.count(self.read_body())
        self.send_error(501, "Unsupported method (%r)" % self.command)

    def end_headers(self):
        saw = getattr(self, "saw", None)
        if saw:
            self.send_header("X-Mock-Saw", saw)
            self.saw = None
        super().end_headers()

    def count(self, raw):
        """Counts a request; returns its number. Sets the headers every counted answer has."""
        text = raw.decode("utf-8", "replace")
        ua = self.headers.get("User-Agent", "")
        with LOCK:
            STATE["count"] += 1
            n = STATE["count"]
            STATE["by_ua"][ua] = STATE["by_ua"].get(ua, 0) + 1
            STATE["last"] = {"method": self.command, "path": self.path,
                             "headers": dict(self.headers.items()), "body": text}
        self.saw = "%d %s %s %s %d" % (self.server.server_address[1], self.command, redacted(self.path),
                                       hashlib.sha256(raw).hexdigest()[:12], len(raw))
        # like a real API: a cookie, and headers that change on every call (never recorded)
        self.extra = [("X-Mock-Request", str(n)), ("Set-Cookie", "mocksession=%d; Path=/" % n),
                      ("X-Request-Id", "req_" + os.urandom(8).hex()),
                      ("X-Ratelimit-Remaining-Requests", str(max(0, 9999 - n))),
                      ("Openai-Processing-Ms", str(int(time.monotonic() * 1000) % 1000))]
        return n

    def dispatch(self):
        raw = self.read_body()
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if path.startswith("/__"):
            return self.admin(path, query)
        text = raw.decode("utf-8", "replace")
        n = self.count(raw)
        self.cut = self.headers.get("X-Mock-Cut", "").strip()
        self.cut = self.cut if self.cut in ("1", "mid") else ""
        delay = self.hdr_int("X-Mock-Delay-Ms")
        if delay > 0:
            time.sleep(delay / 1000.0)
        redirect = self.hdr_int("X-Mock-Redirect")
        if redirect in (301, 302, 303, 307, 308) and "1" not in query.get("hop", []):
            loc = path + "?" + (url.query + "&" if url.query else "") + "hop=1"
            return self.send_full(redirect, "text/plain", b"redirect to %s\n" % loc.encode(),
                                  [("Location", loc)])
        status = self.hdr_int("X-Mock-Status")
        if 200 < status <= 599:
            err = {"error": {"message": "mock error", "code": status}}
            retry = [("Retry-After", "7")] if status in (429, 503) else []
            return self.send_full(status, "application/json", js(err).encode(), retry)
        if self.command != "POST":
            return self.send_full(200, "text/plain", b"mock ok %d\n" % n)
        parts = mockapis.multipart(self.headers.get("Content-Type", ""), raw)
        try:
            req = mockapis.form_fields(parts) if parts is not None else json.loads(text)
        except ValueError:
            req = None
        prompt = prompt_of(req, text)
        if parts is not None:
            prompt = req.get("prompt") or mockapis.describe_files(req["_files"])
        base = "answer #%d to: %s" % (n, prompt)
        want, extra, size = self.hdr_int("X-Mock-Body-Bytes"), 0, 0
        while True:
            answer = base + " lorem" * extra
            res = build(n, path, query, req, text, answer, prompt, self.headers.get("Host", ""), want)
            size, last = body_len(res), (size if extra else -1)
            if size >= want or size == last:  # long enough, or an answer that does not grow
                break
            extra += (want - size) // 6 + 1
        if res[0] == "full":
            self.send_full(200, res[1], res[2])
        else:
            self.send_stream(res[1], res[2])

    def admin(self, path, query):
        if path == "/__count" and self.command == "GET":
            with LOCK:
                out = {"count": STATE["count"]}
                if query.get("ua"):
                    out["by_ua"] = dict(STATE["by_ua"])
        elif path == "/__reset" and self.command == "POST":
            with LOCK:
                STATE["count"] = 0
                STATE["by_ua"] = {}
            out = {"count": 0}
        elif path == "/__last" and self.command == "GET":
            with LOCK:
                out = STATE["last"]
        else:
            self.extra, self.cut = [], False
            return self.send_full(404, "application/json",
                                  js({"error": {"message": "unknown admin path"}}).encode())
        body = (json.dumps(out) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start(self, status, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in list(self.extra) + list(headers):
            self.send_header(k, v)
        self.end_headers()

    def drop(self):
        """Close the connection abruptly (no terminating chunk, no TLS close_notify)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_full(self, status, ctype, body, headers=()):
        headers = list(headers)
        style = self.headers.get("X-Mock-Json", "").strip()
        if style and ctype.startswith("application/json"):
            obj = json.loads(body)
            body = {"pretty": lambda: json.dumps(obj, indent=2) + "\n",
                    "spaced": lambda: json.dumps(obj),
                    "odd": lambda: json.dumps(obj, indent=3, separators=(" , ", " : ")) + " \n"}[style]().encode()
        if (self.headers.get("X-Mock-Gzip", "").strip() == "1"
                and "gzip" in self.headers.get("Accept-Encoding", "").lower()):
            body = gzip.compress(body, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        self.start(status, ctype, headers)
        if self.cut:
            self.wfile.write(body[:len(body) // 2])
            return self.drop()
        self.wfile.write(body)

    def send_stream(self, ctype, chunks):
        chunked = self.request_version != "HTTP/1.0"
        headers = [("Cache-Control", "no-cache")]
        headers.append(("Transfer-Encoding", "chunked") if chunked else ("Connection", "close"))
        self.start(200, ctype, headers)
        if not chunked:
            self.close_connection = True
        delay = self.hdr_int("X-Mock-Event-Delay-Ms") / 1000.0
        limit = max(1, len(chunks) // 2) if self.cut else len(chunks)
        if self.cut == "mid":  # and half of the next event: cut inside it
            chunks = chunks[:limit] + [chunks[limit][:len(chunks[limit]) // 2]]
            limit += 1
        for i, c in enumerate(chunks[:limit]):
            if i and delay > 0:
                time.sleep(delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c) if chunked else c)
            self.wfile.flush()
        if self.cut:
            return self.drop()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    ssl_context = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_context:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if VERBOSE:
            super().handle_error(request, client_address)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description="mock LLM HTTP(S) server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if ":" in a.host:
        Server.address_family = socket.AF_INET6
    srv = Server((a.host, a.port), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        srv.ssl_context = ctx
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    port = srv.server_address[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    if VERBOSE:
        sys.stderr.write("mockllm: listening on %s:%d%s\n" % (a.host, port, " (TLS)" if a.tls_cert else ""))
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    while not stop.wait(1.0):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
