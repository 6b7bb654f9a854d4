"""NTP: a host's clock read over SNTPv4 (RFC 4330 / RFC 5905), validated as chrony does.

What it measures. Each sample is one client request (mode 3) and the server's reply
(mode 4) with the four timestamps of RFC 5905 §8: T1 our send, T2 the server's receive,
T3 the server's transmit, T4 our receive. The offset of the server's clock is
θ = ((T2 − T1) + (T3 − T4)) / 2 and the round-trip delay δ = (T4 − T1) − (T3 − T2).
Whatever the split of δ between the two directions, the true offset lies within δ/2 of
θ, so a sample is worth ``δ/2 + ε`` where ε is the server's clock precision (the
``precision`` field, log2 seconds) plus ours. Of several samples the least-delay one
is kept (RFC 5905 §10, the clock filter's idea in one step).

Uncertainty does not include the server's root delay and dispersion: they bound how
far the *server's reference* is from UTC, not how well we read the server's clock,
and this tool measures a host's clock against the machine it runs on. They are
reported (``root_delay_s``, ``root_dispersion_s``) and a root distance
(delay/2 + dispersion) of 16 s or more, RFC 5905's MAXDISP, rejects the reply as
insane.

Validation (every reply, in this order; a rejected reply is never used):

* at least 48 bytes; mode 4 (server); version 3 or 4;
* the origin timestamp equals the transmit timestamp we sent. Like chrony, we send a
  random transmit timestamp rather than our clock (draft-ietf-ntp-data-minimization):
  it reveals nothing about our clock and an off-path attacker cannot guess it. A reply
  from the target's address with another origin is counted as bogus and the real one
  is still awaited;
* stratum 0 with an ASCII code as reference id is a kiss-o'-death (RFC 5905 §7.4).
  DENY and RSTR end probing that target (the server asks us to go away), RATE ends the
  burst and keeps the samples in hand; other codes reject the reply;
* leap indicator 3, stratum 0 without a code (chronyd with no source) or stratum 16
  and above: the server is not synchronised, its time is not a reading of a
  disciplined clock;
* transmit and receive timestamps non-zero, receive ≤ transmit, δ not negative beyond
  the server's precision, root distance below 16 s.

Timestamps are 64-bit NTP (seconds since 1900 in 32.32 fixed point); the 32-bit seconds
wrap every 2^32 s (era, RFC 5905 §6), so a timestamp is read in the era that puts it
closest to our own clock.

One UDP socket per address family serves every target of a run: replies are matched to
requests by their origin timestamp (the random value we sent) and source address, which
is what lets one process probe ten thousand servers in seconds.

References: RFC 5905 "Network Time Protocol Version 4" (§6 eras, §7.3 packet, §7.4
kiss-o'-death, §8 on-wire, §10 clock filter); RFC 4330 "SNTPv4" (§5 client operation);
draft-ietf-ntp-data-minimization; chrony ``ntp_core.c`` (packet tests).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import ReplyError
from .base import Measurement, Target, failed, measured, now

NTP_UNIX_DELTA = 2_208_988_800     # seconds from 1900-01-01 to 1970-01-01
ERA = 1 << 32                      # seconds in one NTP era
FRAC = 1 << 32
MAXDISP = 16.0                     # RFC 5905: a root distance this large is insane
PACKET = struct.Struct("!BBbbII4sQQQQ")
PACKET_LEN = PACKET.size           # 48
MODE_CLIENT, MODE_SERVER = 3, 4
# A kiss code is four ASCII letters or digits in the reference id (RFC 5905 §7.4);
# stratum 0 with anything else is just an unsynchronised server.
KISS_CODE = re.compile(rb"[A-Z0-9]{1,4}\x00{0,3}")
# Kiss codes after which a client must stop asking this server (RFC 5905 §7.4).
STOP_CODES = {"DENY", "RSTR"}
# Our own clock-reading precision, added to every sample's uncertainty.
LOCAL_PRECISION = 2e-6


def to_ntp(t: float) -> int:
    """Unix time -> 64-bit NTP timestamp (era dropped, as on the wire)."""
    seconds = int(t // 1) + NTP_UNIX_DELTA
    frac = int(round((t - (t // 1)) * FRAC))
    if frac >= FRAC:                # rounding carried into the next second
        seconds, frac = seconds + 1, frac - FRAC
    return ((seconds % ERA) << 32) | frac


def from_ntp(ts: int, pivot: float) -> float:
    """64-bit NTP timestamp -> Unix time, in the era that puts it nearest ``pivot``
    (within ±2^31 s, about 68 years, RFC 5905 §6)."""
    seconds, frac = ts >> 32, ts & (FRAC - 1)
    base = pivot + NTP_UNIX_DELTA                     # pivot in seconds since 1900
    era = round((base - seconds) / ERA)
    return era * ERA + seconds - NTP_UNIX_DELTA + frac / FRAC


def short(value: int) -> float:
    """NTP short format (16.16 fixed point) in seconds."""
    return value / 65536.0


@dataclass(frozen=True)
class Packet:
    """An NTP header (RFC 5905 §7.3); timestamps raw 64-bit, as on the wire."""

    leap: int = 0
    version: int = 4
    mode: int = MODE_CLIENT
    stratum: int = 0
    poll: int = 0
    precision: int = 0
    root_delay: int = 0          # 16.16 seconds
    root_dispersion: int = 0     # 16.16 seconds
    refid: bytes = b"\0\0\0\0"
    reference: int = 0
    origin: int = 0
    receive: int = 0
    transmit: int = 0

    def encode(self) -> bytes:
        first = ((self.leap & 3) << 6) | ((self.version & 7) << 3) | (self.mode & 7)
        return PACKET.pack(first, self.stratum, self.poll, self.precision, self.root_delay,
                           self.root_dispersion, self.refid, self.reference, self.origin, self.receive,
                           self.transmit)

    @classmethod
    def decode(cls, data: bytes) -> "Packet":
        if len(data) < PACKET_LEN:
            raise ReplyError(f"short reply ({len(data)} bytes, an NTP header is {PACKET_LEN})")
        # Extension fields and MACs may follow the header; they are not needed here.
        (first, stratum, poll, precision, rdelay, rdisp, refid, ref, org, rec, xmt) = PACKET.unpack_from(data)
        return cls(first >> 6, (first >> 3) & 7, first & 7, stratum, poll, precision, rdelay, rdisp, refid,
                   ref, org, rec, xmt)

    def refid_text(self) -> str:
        """The reference id as chrony shows it: a kiss code or reference clock name for
        stratum 0/1, a dotted IPv4 address (or IPv6 hash) above."""
        if self.stratum <= 1:
            return self.refid.rstrip(b"\0").decode("ascii", "replace")
        return socket.inet_ntoa(self.refid)


def request(transmit: int) -> bytes:
    """A client request: version 4, mode 3, every field zero but the (random) transmit
    timestamp (RFC 4330 §5; nothing about our clock is sent)."""
    return Packet(transmit=transmit).encode()


@dataclass(frozen=True)
class Sample:
    offset_s: float
    delay_s: float
    uncertainty_s: float
    t1: float
    packet: Packet


def validate(data: bytes, sent: int, t1: float, t4: float) -> Sample:
    """The sample a reply gives, or ReplyError saying why it must be rejected.
    ``sent`` is the transmit timestamp of our request, ``t1``/``t4`` our clock at send
    and receive."""
    try:
        p = Packet.decode(data)
    except ReplyError as exc:
        raise ReplyError(str(exc), genuine=False) from None
    if p.origin != sent:
        raise ReplyError("origin timestamp does not match our request (bogus or spoofed reply)", genuine=False)
    if p.mode != MODE_SERVER:
        raise ReplyError(f"reply in mode {p.mode}, not 4 (server)")
    if p.version not in (3, 4):
        raise ReplyError(f"reply in NTP version {p.version}, not 3 or 4")
    if p.stratum == 0 and KISS_CODE.fullmatch(p.refid):
        code = p.refid.rstrip(b"\0").decode("ascii")
        raise ReplyError(f"kiss-o'-death {code}", kiss=code)
    if p.leap == 3 or p.stratum == 0 or p.stratum >= 16:
        # chronyd without a source answers LI 3, stratum 0 and no reference id.
        why = "leap indicator 3" if p.leap == 3 else f"stratum {p.stratum}"
        raise ReplyError(f"server not synchronised ({why})")
    if p.transmit == 0 or p.receive == 0:
        raise ReplyError("reply with a zero receive or transmit timestamp")
    t2, t3 = from_ntp(p.receive, t1), from_ntp(p.transmit, t1)
    if t2 > t3:
        raise ReplyError("reply received after it was sent (receive > transmit timestamp)")
    precision = 2.0 ** p.precision
    delay = (t4 - t1) - (t3 - t2)
    if delay < -precision - LOCAL_PRECISION:
        raise ReplyError(f"negative round-trip delay ({delay:.6f} s): the server's timestamps are inconsistent")
    distance = short(p.root_delay) / 2 + short(p.root_dispersion)
    if distance >= MAXDISP:
        raise ReplyError(f"root distance {distance:.3f} s is not below {MAXDISP:g} s (insane reply)")
    delay = max(delay, 0.0)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    return Sample(offset, delay, delay / 2 + precision + LOCAL_PRECISION, t1, p)


class _Waiting:
    """One request's mailbox: datagrams from its server, and a future to wake it."""

    __slots__ = ("inbox", "wake")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inbox: list[tuple[bytes, float]] = []
        self.wake: asyncio.Future = loop.create_future()

    def put(self, item: tuple[bytes, float]) -> None:
        self.inbox.append(item)
        if not self.wake.done():
            self.wake.set_result(None)


class NtpClient(asyncio.DatagramProtocol):
    """One UDP socket shared by every NTP target of a run: requests are sent with a
    random transmit timestamp and replies routed back by it and their source address."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Waiting] = {}
        self.by_addr: dict[tuple[str, int], list[_Waiting]] = {}
        self.unmatched = 0

    @classmethod
    async def open(cls, family: int) -> "NtpClient":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        # Bursts of replies from thousands of servers must not overflow the queue.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.setblocking(False)
        _, proto = await asyncio.get_running_loop().create_datagram_endpoint(cls, sock=sock)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        t4 = now()   # first thing: every statement before it would be counted as delay
        source = (addr[0], addr[1])
        mine = self.pending.get(int.from_bytes(data[24:32], "big")) if len(data) >= 32 else None
        if mine is not None and mine in self.by_addr.get(source, ()):
            mine.put((data, t4))
            return
        # Not an answer to a request of ours to that address (bogus origin, short,
        # garbage): hand it to the requests waiting on that address, which say why
        # they reject it and keep waiting.
        waiting = self.by_addr.get(source)
        if not waiting:
            self.unmatched += 1
        for w in waiting or ():
            w.put((data, t4))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors on an unconnected socket name no target; the request times out.
        pass

    async def exchange(self, addr: tuple[str, int], wait: float) -> tuple[Sample | ReplyError | None, int]:
        """One request to ``addr``: the valid sample, or the server's genuine answer
        that was rejected (ReplyError), or None when none came within ``wait`` s; and
        how many bogus datagrams from that address were ignored meanwhile."""
        loop = asyncio.get_running_loop()
        transmit = int.from_bytes(os.urandom(8), "big")
        while transmit in self.pending:
            transmit = int.from_bytes(os.urandom(8), "big")
        mine = _Waiting(loop)
        self.pending[transmit] = mine
        self.by_addr.setdefault(addr, []).append(mine)
        bogus: list[str] = []
        try:
            assert self.transport is not None
            packet = request(transmit)
            end = loop.time() + wait
            t1 = now()
            self.transport.sendto(packet, addr)
            while True:
                if not mine.inbox:
                    if mine.wake.done():
                        mine.wake = loop.create_future()
                    # asyncio.timeout, not wait_for: no task per request (10,000 targets).
                    try:
                        async with asyncio.timeout_at(end):
                            await mine.wake
                    except TimeoutError:
                        break
                data, t4 = mine.inbox.pop(0)
                try:
                    return validate(data, transmit, t1, t4), len(bogus)
                except ReplyError as exc:
                    if exc.genuine:
                        return exc, len(bogus)
                    bogus.append(str(exc))
            return (ReplyError(bogus[-1], genuine=False) if bogus else None), len(bogus)
        finally:
            del self.pending[transmit]
            waiting = self.by_addr[addr]
            waiting.remove(mine)
            if not waiting:
                del self.by_addr[addr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class NtpClients:
    """The shared sockets of one run, opened on first use per address family."""

    def __init__(self) -> None:
        self._clients: dict[int, NtpClient] = {}
        self._lock = asyncio.Lock()

    async def get(self, family: int) -> NtpClient:
        async with self._lock:
            if family not in self._clients:
                self._clients[family] = await NtpClient.open(family)
            return self._clients[family]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


async def resolve(host: str, port: int, kind: int) -> tuple[int, tuple[str, int]]:
    """(family, (address, port)) of a host name, the first the resolver gives."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=kind)
    family, _, _, _, sockaddr = infos[0]
    return family, (sockaddr[0], sockaddr[1])


async def measure_ntp(target: Target, clients: NtpClients, *, deadline: float, samples: int = 4,
                      interval: float = 0.25) -> Measurement:
    """Up to ``samples`` requests ``interval`` s apart until ``deadline`` (loop time);
    the least-delay valid reply is the measurement."""
    loop = asyncio.get_running_loop()
    try:
        family, addr = await resolve(target.host, target.port, socket.SOCK_DGRAM)
    except OSError as exc:
        return failed(target, f"cannot resolve {target.host}: {exc.strerror or exc}")
    client = await clients.get(family)
    best: Sample | None = None
    kept = sent = bogus = 0
    last_error: str | None = None
    for i in range(max(1, samples)):
        if i and interval > 0:
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        # Until one reply is in, the time left is shared by the tries left; after it, a
        # lost reply most likely means rate limiting, so the burst is not dragged out.
        wait = remaining / (samples - i) if best is None else min(remaining, 1.0)
        sent += 1
        answer, ignored = await client.exchange(addr, wait)
        bogus += ignored
        if answer is None:
            if best is not None:
                break
            continue
        if isinstance(answer, ReplyError):
            last_error = str(answer)
            if answer.kiss in STOP_CODES:
                return failed(target, f"{last_error}: the server refuses us, probing stopped", sent=sent,
                              kiss=answer.kiss)
            if answer.kiss == "RATE":
                if best is not None:
                    return _result(target, best, sent, kept, bogus, kiss="RATE")
                return failed(target, f"{last_error}: the server asks us to slow down", sent=sent, kiss="RATE")
            continue
        kept += 1
        if best is None or answer.delay_s < best.delay_s:
            best = answer
    if best is None:
        if last_error:
            return failed(target, f"no valid reply: {last_error}", sent=sent, bogus_replies=bogus)
        return failed(target, f"no reply from {target.address} (udp)", sent=sent)
    return _result(target, best, sent, kept, bogus)


def _result(target: Target, best: Sample, sent: int, kept: int, bogus: int, **more: Any) -> Measurement:
    p = best.packet
    return measured(target, best.offset_s, best.uncertainty_s, best.delay_s, at=best.t1, sent=sent, kept=kept,
                    stratum=p.stratum, leap=p.leap, refid=p.refid_text(), precision_s=2.0 ** p.precision,
                    root_delay_s=short(p.root_delay), root_dispersion_s=short(p.root_dispersion),
                    bogus_replies=bogus, **more)
