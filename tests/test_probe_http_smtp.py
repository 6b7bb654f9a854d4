"""HTTP Date and SMTP banner probes: a real HTTP server and a real exim ten minutes ahead
under faketime, servers that give no date or refuse, and the one-second arithmetic as a
property (every interval holds the true offset)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_helpers import faked, free_port, need, running, tcp_open
from skewsleuth.probe import probe
from skewsleuth.probe.http import parse_http_date
from skewsleuth.probe.seconds import Reading, ReadingError, bounds
from skewsleuth.probe.smtp import banner_date

TEN_MINUTES = 600.0


@pytest.fixture(scope="module")
def http_ahead(tmp_path_factory):
    """Python's http.server (stdlib, so no package to install) under faketime: its Date
    header comes from time.time() per response, which faketime moves ten minutes on."""
    need("faketime")
    tmp = tmp_path_factory.mktemp("http")
    port = free_port()
    cmd = faked("+10m", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(tmp), str(port)])
    with running(cmd, tmp / "http.log", lambda: tcp_open(port)):
        yield port


@pytest.fixture(scope="module")
def exim_ahead(tmp_path_factory):
    """exim, whose default banner ends with its clock ($tod_full), as a foreground daemon
    on a free loopback port, ten minutes ahead. Exim empties its environment and
    libfaketime re-reads its spec from the environment every 10 s by default, so the
    spec is cached for the test's lifetime instead."""
    need("exim4", "faketime")
    tmp = tmp_path_factory.mktemp("exim")
    port = free_port()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "FAKETIME_CACHE_DURATION": "86400"}
    cmd = faked("+10m", ["exim4", "-bdf", "-oX", f"127.0.0.1.{port}", "-oP", str(tmp / "exim.pid")])
    with running(cmd, tmp / "exim.log", lambda: tcp_open(port), env=env):
        yield port


def _holds(m, truth: float) -> bool:
    return abs(m.offset_s - truth) <= m.uncertainty_s + 1e-6


def test_http_date_ten_minutes_ahead(http_ahead):
    (m,) = probe([f"http://127.0.0.1:{http_ahead}"], timeout=6)
    assert m.ok, m.error
    assert _holds(m, TEN_MINUTES) and m.uncertainty_s <= 1.5
    # Readings across the second boundary narrow a one-second reading by far on loopback.
    assert m.uncertainty_s < 0.25 and m.samples_kept > 1 and m.evidence["consistent"]


def test_http_one_reading_is_a_second_wide_and_holds_the_truth(http_ahead):
    (m,) = probe([f"http://127.0.0.1:{http_ahead}"], timeout=0.5)   # no time to refine
    assert m.ok and m.samples_sent == 1
    assert _holds(m, TEN_MINUTES) and 0.5 <= m.uncertainty_s <= 0.75


def test_exim_banner_ten_minutes_ahead(exim_ahead):
    (m,) = probe([f"smtp://127.0.0.1:{exim_ahead}"], timeout=6)
    assert m.ok, m.error
    assert _holds(m, TEN_MINUTES) and m.uncertainty_s < 0.25
    assert "ESMTP Exim" in m.evidence["banner"]


# --- servers that give no date, refuse, or speak TLS -------------------------------------------

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


def test_head_refused_falls_back_to_get(http_server):
    (m,) = probe([f"http://127.0.0.1:{http_server()}"], timeout=0.5)
    assert m.ok and m.evidence["method"] == "GET" and abs(m.offset_s) <= m.uncertainty_s


def test_response_without_date_is_an_error(http_server):
    (m,) = probe([f"http://127.0.0.1:{http_server(no_date=True)}"], timeout=1)
    assert not m.ok and m.error.endswith("carries no Date header")


def test_https_verifies_certificates_unless_insecure(http_server, tmp_path):
    need("openssl")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    url = f"https://127.0.0.1:{http_server(tls_dir=tmp_path)}"
    (m,) = probe([url], timeout=1)
    assert not m.ok and "TLS certificate of 127.0.0.1" in m.error and "--insecure" in m.error
    (m,) = probe([url], timeout=1, insecure=True)
    assert m.ok and abs(m.offset_s) <= m.uncertainty_s


def test_smtp_banners_without_date_or_not_220_are_errors():
    async def run():
        async def greet(text: bytes):
            async def handle(reader, writer):
                writer.write(text)
                await writer.drain()
                await reader.read(100)
                writer.close()
            return await asyncio.start_server(handle, "127.0.0.1", 0)
        plain = await greet(b"220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n")
        busy = await greet(b"554 5.3.2 mx.example.com go away\r\n")
        multi = await greet(b"220-mx.example.com ESMTP\r\n220 ready Tue, 24 Nov 2026 14:30:00 +0000\r\n")
        try:
            from skewsleuth.probe import measure
            return await measure([f"smtp://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in (plain, busy, multi)],
                                 timeout=0.5)
        finally:
            for s in (plain, busy, multi):
                s.close()
    plain, busy, multi = asyncio.run(run())
    assert not plain.ok and plain.error == "banner carries no date: '220 mx.example.com ESMTP Postfix (Debian/GNU)'"
    assert not busy.ok and "does not greet with 220" in busy.error
    assert multi.ok    # the date may sit on any line of a multi-line greeting


def test_refused_connections_are_errors_not_exceptions():
    port = free_port()
    ms = probe([f"http://127.0.0.1:{port}", f"smtp://127.0.0.1:{port}"], timeout=0.5)
    assert [m.error for m in ms] == [f"connection refused by 127.0.0.1:{port}"] * 2


# --- dates and the one-second arithmetic ------------------------------------------------------

@pytest.mark.parametrize("text", ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                  "Sun Nov  6 08:49:37 1994"])
def test_http_dates_in_all_three_forms(text):
    assert parse_http_date(text) == 784111777       # RFC 9110 §5.6.7's example


def test_unreadable_http_date():
    with pytest.raises(ReadingError, match="unreadable Date header"):
        parse_http_date("yesterday")


@pytest.mark.parametrize("banner", [
    "220 mx.example.com ESMTP Exim 4.96 Sun, 06 Nov 1994 08:49:37 +0000",
    "220 mx.example.com ESMTP Sendmail 8.15.2/8.15.2; Sun, 6 Nov 1994 02:49:37 -0600",
    "220 mail.contoso.com Microsoft ESMTP MAIL Service ready at Sun, 6 Nov 1994 08:49:37 +0000",
])
def test_banner_dates_of_common_mtas(banner):
    assert banner_date(banner) == 784111777


@given(st.floats(-1e5, 1e5), st.lists(st.tuples(st.floats(0, 1e4), st.floats(0, 0.5), st.floats(0, 1)),
                                      min_size=1, max_size=20))
def test_readings_of_a_true_clock_always_hold_its_offset(theta, reads):
    """A server θ ahead reads its clock at some instant inside each round trip and writes
    the second; the intersection of the readings never excludes θ."""
    import math
    readings = []
    for sent, rtt, where in reads:
        at = sent + rtt * where                      # when the server read its clock
        readings.append(Reading(math.floor(at + theta), sent, sent + rtt))
    low, high = bounds(readings)
    assert low - 1e-6 <= theta <= high + 1e-6
