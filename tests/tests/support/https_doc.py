"""Serve the files of a directory over HTTPS on 127.0.0.1 (a client's
metadata documents, for the OAuth tests), plus /moved, a redirect.
Prints the port, then serves until killed.

Usage: https_doc.py CERT KEY DIR
"""

import http.server
import os
import ssl
import sys

CERT, KEY, DIR = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/client.json")
            self.end_headers()
            return
        name = os.path.basename(self.path)
        path = os.path.join(DIR, name)
        if not name or not os.path.isfile(path):
            self.send_response(404)
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
