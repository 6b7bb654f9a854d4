"""HTTP Date and SMTP banner probes: a real HTTP server and a real exim ten minutes ahead
under faketime, servers that give no date or refuse, and the one-second arithmetic as a
property (every interval holds the true offset): the part that runs the command line, a
real daemon or another process (the rest is in tests/unit/probe/test_http_smtp.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.probe_helpers import faked, free_port, need, running, tcp_open
from skewsleuth.probe import probe
from support.probe_http_smtp import _Handler, http_server  # noqa: F401


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
