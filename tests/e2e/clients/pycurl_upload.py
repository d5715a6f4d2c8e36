#!/usr/bin/python3
"""pycurl_upload.py MODE URL FILE - POSTs FILE's bytes through pycurl's READFUNCTION.

MODE: sized (CURLOPT_POST + POSTFIELDSIZE), chunked (CURLOPT_POST, no size), upload (UPLOAD +
CUSTOMREQUEST POST + INFILESIZE, like curl -T -X POST and Guzzle), abort (READFUNCTION returns
READFUNC_ABORT after 10 bytes). Prints the answer; "result=N cache=..." on stderr.
"""
import io, sys, pycurl
mode, url, path = sys.argv[1:4]
data = open(path, "rb").read()
src = io.BytesIO(data)
sent = [0]
def read(n):
    if mode == "abort" and sent[0] >= 10:
        return pycurl.READFUNC_ABORT
    chunk = src.read(min(n, 10) if mode == "abort" else n)
    sent[0] += len(chunk)
    return chunk
hdrs = {}
def header(line):
    line = line.decode("latin-1")
    if ":" in line:
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
out = io.BytesIO()
c = pycurl.Curl()
c.setopt(pycurl.URL, url)
c.setopt(pycurl.HTTPHEADER, ["Content-Type: application/json"])
c.setopt(pycurl.READFUNCTION, read)
if mode == "upload":
    c.setopt(pycurl.UPLOAD, 1)
    c.setopt(pycurl.CUSTOMREQUEST, "POST")
    c.setopt(pycurl.INFILESIZE, len(data))
else:
    c.setopt(pycurl.POST, 1)
    if mode == "sized":
        c.setopt(pycurl.POSTFIELDSIZE, len(data))
c.setopt(pycurl.WRITEFUNCTION, out.write)
c.setopt(pycurl.HEADERFUNCTION, header)
rc = 0
try:
    c.perform()
except pycurl.error as e:
    rc = e.args[0]
sys.stdout.write(out.getvalue().decode())
sys.stderr.write("result=%d cache=%s\n" % (rc, hdrs.get("x-llmshim-cache", "none")))
