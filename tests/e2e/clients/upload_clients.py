#!/usr/bin/python3
"""upload_clients.py MODE URL FILE - uploads FILE to a transcription endpoint the ways Python
programs using libcurl do. Prints the answer's body and its X-LLMShim-Cache (or "none").

    httppost   pycurl's HTTPPOST (curl_formadd): the file by name and a text field
    buffer     pycurl's HTTPPOST with the file's bytes as a FORM_BUFFER
    handmade   a multipart body built here with a new random boundary, sent as POSTFIELDS
"""
import io
import os
import sys

import pycurl

mode, url, path = sys.argv[1:4]
c = pycurl.Curl()
c.setopt(pycurl.URL, url)
out, cache = io.BytesIO(), ["none"]
c.setopt(pycurl.WRITEDATA, out)


def on_header(line):
    if line.lower().startswith(b"x-llmshim-cache:"):
        cache[0] = line.split(b":", 1)[1].strip().decode()


c.setopt(pycurl.HEADERFUNCTION, on_header)
if mode == "httppost":
    c.setopt(pycurl.HTTPPOST, [("file", (pycurl.FORM_FILE, path, pycurl.FORM_CONTENTTYPE, "audio/wav")),
                               ("model", "whisper-1")])
elif mode == "buffer":
    data = open(path, "rb").read()
    c.setopt(pycurl.HTTPPOST, [("file", (pycurl.FORM_BUFFER, os.path.basename(path), pycurl.FORM_BUFFERPTR, data)),
                               ("model", "whisper-1")])
else:
    boundary = "----py" + os.urandom(12).hex()
    data = open(path, "rb").read()
    body = (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: audio/wav\r\n\r\n"
            % (boundary.encode(), os.path.basename(path).encode()) + data +
            b"\r\n--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--%s--\r\n"
            % (boundary.encode(), boundary.encode()))
    c.setopt(pycurl.HTTPHEADER, ["Content-Type: multipart/form-data; boundary=" + boundary])
    c.setopt(pycurl.POSTFIELDS, body)
c.perform()
status = c.getinfo(pycurl.RESPONSE_CODE)
sys.stdout.write("%s %s\n" % (out.getvalue().decode("utf-8", "replace"), cache[0]))
sys.exit(0 if status == 200 else 1)
