"""NTP probe: real chronyd servers (one five hours behind under faketime, like the seed's
Edge), hostile servers whose every bad reply must be rejected with a reason, and the
packet and era arithmetic as properties."""

from __future__ import annotations

import asyncio
import functools
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.properties import examples

from skewsleuth.probe import measure, probe
from skewsleuth.probe.base import now
from skewsleuth.probe.ntp import (ERA, NTP_UNIX_DELTA, PACKET_LEN, Packet, ReplyError, from_ntp, to_ntp,
                                  validate)


def _reply(request: bytes, offset: float = 0.0, **fields) -> bytes:
    """A valid server reply to ``request`` from a clock ``offset`` s ahead, then ``fields``."""
    t = to_ntp(now() + offset)
    base = dict(leap=0, version=4, mode=4, stratum=2, precision=-20, refid=bytes([10, 0, 0, 1]), reference=t,
                origin=int.from_bytes(request[40:48], "big"), receive=t, transmit=t)
    return Packet(**{**base, **fields}).encode()


def _kiss(code: bytes):
    return lambda r, n: [_reply(r, stratum=0, refid=code)]


HOSTILE = {
    "wrong origin": (lambda r, n: [_reply(r, origin=12345)], "origin timestamp does not match our request"),
    "kiss RATE": (_kiss(b"RATE"), "kiss-o'-death RATE: the server asks us to slow down"),
    "kiss DENY": (_kiss(b"DENY"), "kiss-o'-death DENY: the server refuses us, probing stopped"),
    "kiss RSTR": (_kiss(b"RSTR"), "kiss-o'-death RSTR: the server refuses us, probing stopped"),
    "stratum 16": (lambda r, n: [_reply(r, stratum=16)], "server not synchronised (stratum 16)"),
    "leap 3": (lambda r, n: [_reply(r, leap=3)], "server not synchronised (leap indicator 3)"),
    "stratum 0 without a code": (lambda r, n: [_reply(r, stratum=0, refid=bytes(4))], "not synchronised (stratum 0)"),
    "mode 3": (lambda r, n: [_reply(r, mode=3)], "reply in mode 3, not 4 (server)"),
    "version 6": (lambda r, n: [_reply(r, version=6)], "reply in NTP version 6, not 3 or 4"),
    "short": (lambda r, n: [r[:20]], "short reply (20 bytes, an NTP header is 48)"),
    "empty": (lambda r, n: [b""], "short reply (0 bytes"),
    "garbage": (lambda r, n: [bytes(range(200))], "origin timestamp does not match"),
    "zero transmit": (lambda r, n: [_reply(r, transmit=0)], "zero receive or transmit timestamp"),
    "receive after transmit": (lambda r, n: [_reply(r, receive=to_ntp(now() + 5))], "receive > transmit"),
    "insane root distance": (lambda r, n: [_reply(r, root_dispersion=17 << 16)], "root distance 17.000 s"),
    "negative delay": (lambda r, n: [_reply(r, receive=to_ntp(now() - 10))], "negative round-trip delay"),
    "silent": (lambda r, n: [], "no reply from 127.0.0.1:"),
}


WELL = {
    # A bogus datagram first, then the genuine reply: the bogus one is ignored (chrony).
    "bogus then genuine": lambda r, n: [bytes(100), _reply(r, offset=3.0)],
    # One good sample, then asked to slow down: keep the sample, stop the burst.
    "good then RATE": lambda r, n: [_reply(r, offset=3.0)] if n == 0 else [_reply(r, stratum=0, refid=b"RATE")],
}


class Hostile(asyncio.DatagramProtocol):
    def __init__(self, answer, sock):
        self.answer, self.sock, self.count = answer, sock, 0

    def datagram_received(self, data, addr):
        for d in self.answer(data, self.count):
            self.sock.sendto(d, addr)      # the socket itself: asyncio drops empty datagrams
        self.count += 1


@functools.cache
def _hostile_run() -> dict[str, tuple]:
    """Every behaviour on a server of its own on 127.0.0.1, probed in one run."""
    async def run():
        loop = asyncio.get_running_loop()
        servers, targets = {}, []
        for name, answer in [*((k, v[0]) for k, v in HOSTILE.items()), *WELL.items()]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            transport, proto = await loop.create_datagram_endpoint(lambda a=answer, s=sock: Hostile(a, s), sock=sock)
            servers[name] = (transport, proto)
            targets.append(f"ntp://127.0.0.1:{sock.getsockname()[1]}")
        try:
            results = await measure(targets, timeout=0.6, samples=3, interval=0)
        finally:
            for transport, _ in servers.values():
                transport.close()
        return {name: (m, servers[name][1].count) for name, m in zip(servers, results)}
    return asyncio.run(run())


@pytest.mark.parametrize("behaviour", list(HOSTILE))
def test_hostile_replies_are_rejected_with_a_reason(behaviour):
    m, requests = _hostile_run()[behaviour]
    assert not m.ok and m.offset_s is None
    assert HOSTILE[behaviour][1] in m.error, m.error
    assert "\n" not in m.error
    if behaviour in ("kiss DENY", "kiss RSTR"):
        assert requests == 1       # told to go away: not asked again


def test_bogus_datagrams_do_not_hide_the_genuine_reply():
    m, _ = _hostile_run()["bogus then genuine"]
    assert m.ok and abs(m.offset_s - 3.0) < 0.05 and m.evidence["bogus_replies"] >= 1


def test_rate_kiss_after_a_good_sample_keeps_it():
    m, requests = _hostile_run()["good then RATE"]
    assert m.ok and abs(m.offset_s - 3.0) < 0.05 and m.evidence["kiss"] == "RATE"
    assert requests == 2 and m.samples_kept == 1


def test_unreachable_and_unresolvable_targets_are_measurements_not_exceptions():
    ms = probe(["ntp://no-such-host.invalid", "ntp://127.0.0.1:9"], timeout=0.3)
    assert [m.ok for m in ms] == [False, False]
    assert ms[0].error.startswith("cannot resolve no-such-host.invalid")


def test_concurrency_bound_and_timeout_per_target():
    # Silent targets each take their whole timeout: one at a time they queue up.
    silent = ["ntp://127.0.0.1:9"] * 3
    t0 = time.monotonic()
    probe(silent, timeout=0.3, concurrency=1)
    serial = time.monotonic() - t0
    t0 = time.monotonic()
    probe(silent, timeout=0.3, concurrency=3)
    parallel = time.monotonic() - t0
    assert serial >= 0.85 and parallel < 0.6, (serial, parallel)


packets = st.builds(
    Packet, leap=st.integers(0, 3), version=st.integers(0, 7), mode=st.integers(0, 7), stratum=st.integers(0, 255),
    poll=st.integers(-128, 127), precision=st.integers(-128, 127), root_delay=st.integers(0, 2**32 - 1),
    root_dispersion=st.integers(0, 2**32 - 1), refid=st.binary(min_size=4, max_size=4),
    reference=st.integers(0, 2**64 - 1), origin=st.integers(0, 2**64 - 1), receive=st.integers(0, 2**64 - 1),
    transmit=st.integers(0, 2**64 - 1))


@given(packets)
def test_packet_encode_decode_round_trip(p):
    data = p.encode()
    assert len(data) == PACKET_LEN and Packet.decode(data) == p
    assert Packet.decode(data + b"extension fields") == p


@given(st.binary(max_size=120), st.integers(0, 2**64 - 1))
def test_any_datagram_is_a_sample_or_a_reasoned_rejection(data, sent):
    t = now()
    try:
        s = validate(data, sent, t, t + 0.001)
    except ReplyError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert s.delay_s >= 0 and s.uncertainty_s > 0


# Unix seconds from 1900 to 2200: both sides of the 2036 era rollover.
instants = st.integers(-NTP_UNIX_DELTA, 7_258_118_400)


@given(instants, st.integers(0, 2**32 - 1), st.integers(-(2**31) + 2, 2**31 - 2))
def test_era_is_the_one_nearest_our_clock(seconds, frac, away):
    t = seconds + frac / 2**32
    assert abs(from_ntp(to_ntp(t), t + away) - t) < 1e-6


@settings(max_examples=examples(50))
@given(st.floats(-1e6, 1e6))
def test_timestamps_across_the_2036_rollover(delta):
    rollover = ERA - NTP_UNIX_DELTA            # 2036-02-07T06:28:16Z, NTP seconds wrap to 0
    t = rollover + delta
    ts = to_ntp(t)
    assert (ts >> 32) == (int(t // 1) + NTP_UNIX_DELTA) % ERA
    assert abs(from_ntp(ts, rollover) - t) < 1e-6


def test_rollover_example():
    assert to_ntp(2_085_978_496.5) == 1 << 31     # era 1 second 0 and a half
    assert from_ntp(1 << 31, 2_085_978_496.0) == 2_085_978_496.5
    assert from_ntp(to_ntp(0.0), 0.0) == 0.0
