"""mockapis.py - the answers of tools/mockllm.py for the APIs beyond chat (stdlib only):

    multipart uploads   /audio/transcriptions, /audio/translations (stream=true: SSE
                        transcript.text.delta ... transcript.text.done), /images/edits,
                        /images/variations: the answer names each file part's name, file name,
                        size and the first 12 hex digits of its SHA-256
    binary answers      /audio/speech: audio bytes (X-Mock-Body-Bytes long; stream_format "sse":
                        speech.audio.delta ... speech.audio.done); /images/generations:
                        b64_json (default) or url (an https URL the provider would expire)
    AWS Bedrock         /model/<id>/converse, /converse-stream, /invoke,
                        /invoke-with-response-stream; streams are application/vnd.amazon.eventstream
                        frames (prelude, headers, payload, CRC-32s), one per chunk sent
    Vertex              :predict (embeddings); :rawPredict and :streamRawPredict answer as Anthropic
    Cohere              /v2/chat (SSE ... message-end), /v1/chat (stream+json ... stream-end),
                        /v2/embed, /v1/embed, /v2/rerank; Voyage and Jina /rerank
    Perplexity          (Host api.perplexity.ai) chat streams end with a finish_reason, no [DONE]

build() returns ("full", ctype, body) or ("stream", ctype, [chunks]) like mockllm's builders, or
None for a path it does not know.
"""
import base64
import binascii
import hashlib
import json
import re
import struct

CREATED = 1700000000


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


def sse(obj, event=None):
    head = "event: %s\n" % event if event else ""
    return ("%sdata: %s\n\n" % (head, js(obj))).encode()


def words(s):
    return len(s.split())


def stream_bytes(seed, n):
    """n deterministic bytes that are not UTF-8 (NULs, 0xff...): what an mp3 looks like to a cache."""
    out, block = bytearray(b"ID3\x04\x00\x00\xff\xfb"), seed.encode()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


# ---- multipart ----------------------------------------------------------------------------

def multipart(ctype, raw):
    """The parts of a multipart/form-data body: [{name, filename, type, data}] (None: not one)."""
    m = re.search(r'boundary="?([^";]+)"?', ctype or "")
    if not ctype.lower().startswith("multipart/") or not m:
        return None
    delim = b"--" + m.group(1).encode()
    parts = []
    for chunk in raw.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        part = {"name": None, "filename": None, "type": None, "data": data[:-2]}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                for key in ("name", "filename"):
                    mm = re.search(r'\b%s="([^"]*)"' % key, v)
                    if mm:
                        part[key] = mm.group(1)
            elif k.strip().lower() == "content-type":
                part["type"] = v.strip()
        parts.append(part)
    return parts


def form_fields(parts):
    """The text fields of a form as a request dict; the files under "_files"."""
    req, files = {}, []
    for p in parts:
        if p["filename"] is None and p["name"] != "file" and p["name"] != "image":
            req[p["name"]] = p["data"].decode("utf-8", "replace")
        else:
            files.append(p)
    req["_files"] = files
    return req


def describe_files(files):
    return ", ".join("%s=%s %d bytes sha %s" % (f["name"], f["filename"], len(f["data"]),
                                               hashlib.sha256(f["data"]).hexdigest()[:12]) for f in files)


def transcription(n, req, path):
    text = "transcript #%d of %s" % (n, describe_files(req.get("_files", [])))
    if req.get("prompt"):
        text += " with prompt " + req["prompt"]
    usage = {"type": "tokens", "input_tokens": 20, "output_tokens": words(text), "total_tokens": 20 + words(text)}
    if req.get("stream") == "true":
        ev = [sse({"type": "transcript.text.delta", "delta": w + " "}) for w in text.split()]
        return "stream", "text/event-stream", ev + [sse({"type": "transcript.text.done", "text": text, "usage": usage})]
    fmt = req.get("response_format", "json")
    if fmt in ("text", "srt", "vtt"):
        return "full", "text/plain; charset=utf-8", (text + "\n").encode()
    return "full", "application/json", js({"text": text, "usage": usage}).encode()


def image_answer(n, req, prompt, want):
    data = stream_bytes("image %d %s" % (n, prompt), max(want * 3 // 4, 64))
    item = ({"url": "https://oaidalleapiprodscus.blob.core.windows.net/private/img-%d.png?se=2099&sig=mock" % n}
            if req.get("response_format") == "url" else {"b64_json": base64.b64encode(data).decode()})
    return "full", "application/json", js({"created": CREATED, "data": [dict(item, revised_prompt=prompt)],
                                           "usage": {"input_tokens": words(prompt), "output_tokens": 1056}}).encode()


def speech(n, req, want):
    audio = stream_bytes("speech %d %s %s" % (n, req.get("voice"), req.get("input")), max(want, 1000))
    if req.get("stream_format") == "sse":
        ev = [sse({"type": "speech.audio.delta", "audio": base64.b64encode(audio[i:i + 4096]).decode()})
              for i in range(0, len(audio), 4096)]
        usage = {"input_tokens": words(req.get("input", "")), "output_tokens": len(audio) // 100}
        return "stream", "text/event-stream", ev + [sse({"type": "speech.audio.done", "usage": usage})]
    ctype = {"opus": "audio/ogg", "wav": "audio/wav", "pcm": "audio/pcm", "flac": "audio/flac"}
    return "full", ctype.get(req.get("response_format"), "audio/mpeg"), audio


# ---- AWS Bedrock --------------------------------------------------------------------------

def frame(headers, payload):
    """One application/vnd.amazon.eventstream frame with string headers."""
    h = b""
    for k, v in headers:
        k, v = k.encode(), v.encode()
        h += bytes([len(k)]) + k + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    msg = prelude + h + payload
    return msg + struct.pack(">I", binascii.crc32(msg))


def event(etype, obj):
    return frame([(":event-type", etype), (":content-type", "application/json"), (":message-type", "event")],
                 js(obj).encode())


def bedrock(n, path, req, answer, prompt, pieces):
    P, C = words(prompt), words(answer)
    if path.endswith("/converse"):
        return "full", "application/json", js({
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": P, "outputTokens": C, "totalTokens": P + C}, "metrics": {"latencyMs": 5}}).encode()
    if path.endswith("/converse-stream"):
        ev = [event("messageStart", {"role": "assistant", "p": "ab"})]
        ev += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}, "p": "abcd"}) for p in pieces]
        ev += [event("contentBlockStop", {"contentBlockIndex": 0, "p": "a"}),
               event("messageStop", {"stopReason": "end_turn", "p": "abc"}),
               event("metadata", {"usage": {"inputTokens": P, "outputTokens": C, "totalTokens": P + C},
                                  "metrics": {"latencyMs": 5}, "p": "ab"})]
        return "stream", "application/vnd.amazon.eventstream", ev
    mid = "msg_bdrk_%d" % n
    message = {"id": mid, "type": "message", "role": "assistant", "model": "claude",
               "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
               "usage": {"input_tokens": P, "output_tokens": C}}
    if path.endswith("/invoke"):
        return "full", "application/json", js(message).encode()
    inner = [{"type": "message_start", "message": dict(message, content=[], usage={"input_tokens": P, "output_tokens": 1})}]
    inner += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces]
    inner += [{"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": C}},
              {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                  "inputTokenCount": P, "outputTokenCount": C, "invocationLatency": 5, "firstByteLatency": 1}}]
    ev = [event("chunk", {"bytes": base64.b64encode(js(i).encode()).decode(), "p": "abc"}) for i in inner]
    return "stream", "application/vnd.amazon.eventstream", ev


# ---- Cohere, rerank, Vertex :predict -------------------------------------------------------

def cohere(n, path, req, answer, prompt, pieces, stream):
    P, C = words(prompt), words(answer)
    usage = {"billed_units": {"input_tokens": P, "output_tokens": C}, "tokens": {"input_tokens": P + 5, "output_tokens": C}}
    if path.endswith("/v1/chat"):
        full = {"text": answer, "generation_id": "gen-%d" % n, "finish_reason": "COMPLETE", "meta": usage}
        if not stream:
            return "full", "application/json", js(full).encode()
        ev = [(js({"is_finished": False, "event_type": "stream-start", "generation_id": "gen-%d" % n}) + "\n").encode()]
        ev += [(js({"is_finished": False, "event_type": "text-generation", "text": p}) + "\n").encode() for p in pieces]
        ev.append((js({"is_finished": True, "event_type": "stream-end", "finish_reason": "COMPLETE",
                       "response": full}) + "\n").encode())
        return "stream", "application/stream+json", ev
    mid = "cohere-%d" % n
    if not stream:
        return "full", "application/json", js({
            "id": mid, "finish_reason": "COMPLETE", "usage": usage,
            "message": {"role": "assistant", "content": [{"type": "text", "text": answer}]}}).encode()
    ev = [sse({"type": "message-start", "id": mid, "delta": {"message": {"role": "assistant"}}}, "message-start"),
          sse({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
              "content-start")]
    ev += [sse({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": p}}}}, "content-delta")
           for p in pieces]
    ev += [sse({"type": "content-end", "index": 0}, "content-end"),
           sse({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}}, "message-end")]
    return "stream", "text/event-stream", ev


def rerank(n, req, vector):
    docs = req.get("documents") or []
    scored = sorted(((vector(str(d) + str(req.get("query")), n)[0], i) for i, d in enumerate(docs)), reverse=True)
    results = [{"index": i, "relevance_score": round((s + 1) / 2, 6)} for s, i in scored]
    T = words(str(req.get("query", ""))) + sum(words(str(d)) for d in docs)
    return "full", "application/json", js({"object": "list", "model": req.get("model"), "results": results,
                                           "data": results, "usage": {"total_tokens": T},
                                           "meta": {"billed_units": {"search_units": 1}}}).encode()


def perplexity(res, P, C):
    """An OpenAI chat answer as Perplexity streams it: no [DONE]; the chunk with the
    finish_reason is the last, and carries the usage."""
    if res[0] == "full":
        return res
    last = json.loads(res[2][-2][len(b"data: "):])
    last["usage"] = {"prompt_tokens": P, "completion_tokens": C}
    return res[0], res[1], res[2][:-2] + [sse(last)]


def build(n, path, query, req, raw, answer, prompt, pieces, vector, host, want):
    """The answer for the APIs above, or None."""
    stream = req.get("stream") in (True, "true")
    if path.endswith(("/audio/transcriptions", "/audio/translations")):
        return transcription(n, req, path)
    if path.endswith("/audio/speech"):
        return speech(n, req, want)
    if path.endswith(("/images/generations", "/images/edits", "/images/variations")):
        p = req.get("prompt", "") + (" " + describe_files(req["_files"]) if req.get("_files") else "")
        return image_answer(n, req, p, want)
    if re.search(r"/model/[^/]+/(converse|converse-stream|invoke|invoke-with-response-stream)$", path):
        return bedrock(n, path, req, answer, prompt, pieces)
    if path.endswith((":rawPredict", ":streamRawPredict")):
        return "anthropic", path.endswith(":streamRawPredict")
    if path.endswith(":predict"):
        texts = [i.get("content", "") for i in req.get("instances", [])] or [prompt]
        return "full", "application/json", js({"predictions": [
            {"embeddings": {"statistics": {"token_count": words(t), "truncated": False}, "values": vector(t, n)}}
            for t in texts]}).encode()
    if path.endswith(("/v2/chat", "/v1/chat")) and "/api/" not in path:
        return cohere(n, path, req, answer, prompt, pieces, stream)
    if path.endswith(("/v2/embed", "/v1/embed")):
        texts = req.get("texts") or [prompt]
        return "full", "application/json", js({"id": "emb-%d" % n, "texts": texts,
                                               "embeddings": {"float": [vector(t, n) for t in texts]},
                                               "meta": {"billed_units": {"input_tokens": sum(map(words, texts))}}}).encode()
    if path.endswith("/rerank"):
        return rerank(n, req, vector)
    return None
