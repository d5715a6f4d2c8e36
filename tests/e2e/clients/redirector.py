#!/usr/bin/python3
#!/usr/bin/python3
"""redirector.py PORTFILE: every request is answered 307 (or the code in the path's first
segment, e.g. /308/...) with Location: the target URL given in the query ?to=URL."""
import http.server, sys, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(n)
        u = urllib.parse.urlsplit(self.path)
        to = urllib.parse.parse_qs(u.query).get("to", ["/"])[0]
        code = int(u.path.strip("/").split("/")[0] or 307)
        self.send_response(code); self.send_header("Location", to)
        self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_POST = do_PUT = handle_any
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
