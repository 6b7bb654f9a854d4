"""HTTP Date and SMTP banner probes: a real HTTP server and a real exim ten minutes ahead
under faketime, servers that give no date or refuse, and the one-second arithmetic as a
property (every interval holds the true offset)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.probe_helpers import free_port
from skewsleuth.probe import probe
from skewsleuth.probe.http import parse_http_date
from skewsleuth.probe.seconds import Reading, ReadingError, bounds
from skewsleuth.probe.smtp import banner_date
from support.probe_http_smtp import _Handler, http_server  # noqa: F401


def test_head_refused_falls_back_to_get(http_server):
    (m,) = probe([f"http://127.0.0.1:{http_server()}"], timeout=0.5)
    assert m.ok and m.evidence["method"] == "GET" and abs(m.offset_s) <= m.uncertainty_s


def test_response_without_date_is_an_error(http_server):
    (m,) = probe([f"http://127.0.0.1:{http_server(no_date=True)}"], timeout=1)
    assert not m.ok and m.error.endswith("carries no Date header")


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


def test_stale_faketime_semaphores_are_cleared_and_live_ones_kept(tmp_path):
    """faketime's wrapper names its semaphore after its PID; one left by a killed
    wrapper makes the next wrapper with that PID fail ("sem_open: File exists")."""
    import os

    from support.probe_helpers import clear_stale_faketime

    dead, live = 2 ** 22 + 12345, os.getpid()    # above pid_max: no such process
    for name in (f"sem.faketime_sem_{dead}", f"faketime_shm_{dead}", f"sem.faketime_sem_{live}", "unrelated_1"):
        (tmp_path / name).write_text("")
    clear_stale_faketime(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"sem.faketime_sem_{live}", "unrelated_1"]
