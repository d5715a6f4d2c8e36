#!/usr/bin/python3
"""pycurl_client.py - asks a chat endpoint through pycurl (Debian python3-pycurl, which links
libcurl-gnutls), the way a Python program would; it knows nothing of llmshim.

    pycurl_client.py MODE URL PROMPT...

MODE:
    writefunction  Curl.perform() with WRITEFUNCTION (a list of pieces), one transfer per prompt
    writedata      Curl.perform() with WRITEDATA = io.BytesIO, one transfer per prompt
    nowrite        Curl.perform() with no write callback: libcurl fwrites the body to stdout
    multi          CurlMulti driving one handle per prompt with perform + select + info_read

Bodies go to stdout, each followed by a newline (nowrite: as libcurl writes them); one line per transfer on stderr:
    <label> result=0 status=200 bytes=N cache=HIT|none
Exit status: 0 when every transfer ended with CURLE_OK and status 200.
"""
import io
import json
import os
import sys

import pycurl


def body_for(prompt):
    return json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})


class Transfer:
    def __init__(self, url, prompt, mode):
        self.prompt = prompt
        self.cache = "none"
        self.pieces = []
        self.buf = io.BytesIO()
        self.c = c = pycurl.Curl()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTPHEADER, ["Content-Type: application/json"])
        c.setopt(pycurl.POSTFIELDS, body_for(prompt))
        c.setopt(pycurl.HEADERFUNCTION, self.on_header)
        if mode in ("writefunction", "multi"):
            c.setopt(pycurl.WRITEFUNCTION, self.pieces.append)
        elif mode == "writedata":
            c.setopt(pycurl.WRITEDATA, self.buf)
        # nowrite: no write callback at all (libcurl's default: fwrite to stdout)

    def on_header(self, line):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "x-llmshim-cache":
            self.cache = value.strip()

    def body(self):
        return b"".join(self.pieces) if self.pieces else self.buf.getvalue()

    def report(self, label, result):
        status = self.c.getinfo(pycurl.RESPONSE_CODE)
        size = int(self.c.getinfo(pycurl.SIZE_DOWNLOAD))
        sys.stderr.write("%s result=%d status=%d bytes=%d cache=%s\n"
                         % (label, result, status, size, self.cache))
        return result == 0 and status == 200


def run_easy(mode, url, prompts):
    ok = True
    for i, p in enumerate(prompts):
        t = Transfer(url, p, mode)
        result = 0
        try:
            t.c.perform()
        except pycurl.error as e:
            result = e.args[0]
        if mode != "nowrite":  # else libcurl wrote the body to its own FILE *stdout
            os.write(1, t.body() + b"\n")
        ok = t.report("easy#%d" % i, result) and ok
        t.c.close()
    return ok


def run_multi(url, prompts):
    m = pycurl.CurlMulti()
    ts = [Transfer(url, p, "multi") for p in prompts]
    by_handle = {}
    for t in ts:
        m.add_handle(t.c)
        by_handle[id(t.c)] = t
    results = {}
    running = len(ts)
    while running:
        while True:
            ret, running = m.perform()
            if ret != pycurl.E_CALL_MULTI_PERFORM:
                break
        while True:
            queued, done, failed = m.info_read()
            for c in done:
                results[id(c)] = 0
            for c, errno, _msg in failed:
                results[id(c)] = errno
            if queued == 0:
                break
        if running:
            m.select(1.0)
    ok = len(results) == len(ts)
    for i, t in enumerate(ts):
        os.write(1, t.body() + b"\n")
        ok = t.report("multi#%d" % i, results.get(id(t.c), -1)) and ok
        m.remove_handle(t.c)
        t.c.close()
    m.close()
    return ok


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    mode, url, prompts = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.stdout.flush()
    if mode == "multi":
        ok = run_multi(url, prompts)
    elif mode in ("writefunction", "writedata", "nowrite"):
        ok = run_easy(mode, url, prompts)
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
