#!/usr/bin/python3
"""A tiny HTTP backend for the NTLM proxy's checks (tests/ews/ntlm/check.sh).

   echo_backend.py PORT LOGFILE [CERT KEY]

Listens on 127.0.0.1:PORT (HTTPS when CERT and KEY are given). For GET and
POST under /EWS/ it answers 200 with a line naming the user the proxy vouched
for (X-Authenticated-User) and appends one JSON line per request to LOGFILE:
method, path, that header, whether an Authorization header reached it, and
the body length. Any other path is 404 (and logged too)."""
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, logfile = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        user = self.headers.get("X-Authenticated-User")
        entry = {"method": self.command, "path": self.path, "user": user,
                 "authorization": self.headers.get("Authorization") is not None,
                 "body_len": len(body)}
        with lock, open(logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")
        if self.path.startswith("/EWS/"):
            code, out = 200, ("ews-backend user=%s method=%s body=%d\n"
                              % (user, self.command, len(body))).encode()
        else:
            code, out = 404, b"not found\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
