"""A Python HTTP server on 127.0.0.1 whose Date header the test chooses (HTTP probe tests)."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Handler(BaseHTTPRequestHandler):
    def do_HEAD(self):
        # HEAD refused, GET answered: the probe falls back to GET.
        self.send_response(405)
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_header(self, keyword, value):
        if keyword == "Date" and self.path == "/" and self.server.no_date:
            return
        super().send_header(keyword, value)

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server():
    servers = []

    def start(no_date=False, tls_dir=None):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        srv.no_date = no_date
        if tls_dir is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv.server_address[1]
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
