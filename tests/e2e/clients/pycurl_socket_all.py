#!/usr/bin/python3
"""pycurl_socket_all.py URL BODY: a POST driven by pycurl's CurlMulti.socket_all() (libcurl's
curl_multi_socket_all). Prints the response code and the X-Mock-Saw header."""
import io, sys, select, pycurl
url, body = sys.argv[1], sys.argv[2]
hdrs = io.BytesIO(); out = io.BytesIO()
c = pycurl.Curl()
c.setopt(pycurl.URL, url); c.setopt(pycurl.POSTFIELDS, body)
c.setopt(pycurl.HEADERFUNCTION, hdrs.write); c.setopt(pycurl.WRITEFUNCTION, out.write)
m = pycurl.CurlMulti(); m.add_handle(c)
running = 1
for _ in range(2000):
    ret, running = m.socket_all()
    if not running: break
    m.select(0.01)
n, ok, err = m.info_read()
saw = [l for l in hdrs.getvalue().decode().splitlines() if l.lower().startswith("x-mock-saw")]
print("ok=%d err=%s code=%s %s" % (len(ok), [(e[1], e[2]) for e in err], c.getinfo(pycurl.RESPONSE_CODE), saw))
