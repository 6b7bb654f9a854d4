"""Clocks read to the second (HTTP ``Date``, SMTP banners), narrowed across a second boundary.

A server that writes its time to the second writes ⌊its clock⌋ at some instant between
our send and our receive, so one reading bounds its offset θ by

    shown − t_received  ≤  θ  ≤  shown + 1 − t_sent

an interval one second plus one round trip wide. Readings are constraints, so several
are intersected. The second is narrowed by timing readings across the server's second
boundary: its clock turns to a new second at our local times ``k − θ`` for integer k,
which the current interval places in a window ``[k − high, k − low]``; readings spread
over that window each fall on one side of the boundary, and the window shrinks by
the number of readings plus one every round. On loopback two rounds of eight take the
interval from a second to a few milliseconds.

The server's clock must not be stepped while it is read: readings that cannot all be
true (an empty intersection) are reported, and only the quickest reading is trusted.

References: RFC 9110 §6.6.1 (Date: the time the message was generated, one second
resolution); RFC 5322 §3.3 (date-time); the second-boundary method is the one HTP
("HTTP Time Protocol", htpdate) uses.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterator

from ..errors import ReadingError
from .base import Measurement, Target, failed, measured, now


@dataclass(frozen=True)
class Reading:
    shown: int          # the server's clock, whole seconds (Unix time)
    sent: float         # our clock just before the request
    received: float     # our clock when the answer arrived

    @property
    def low(self) -> float:
        return self.shown - self.received

    @property
    def high(self) -> float:
        return self.shown + 1 - self.sent

    @property
    def rtt(self) -> float:
        return self.received - self.sent


Reader = Callable[[], Awaitable[Reading]]


async def connect(target: Target, wait: float, ctx: ssl.SSLContext | None = None
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP (TLS with ``ctx``) stream to the target; ReadingError saying why not."""
    try:
        return await asyncio.wait_for(asyncio.open_connection(
            target.host, target.port, ssl=ctx, server_hostname=target.host if ctx else None), wait)
    except ssl.SSLCertVerificationError as exc:
        raise ReadingError(f"TLS certificate of {target.address} not verified: {exc.verify_message} "
                           "(--insecure skips the check)") from None
    except ssl.SSLError as exc:
        raise ReadingError(f"TLS handshake with {target.address} failed: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise ReadingError(f"connection refused by {target.address}") from None
    except asyncio.TimeoutError:
        raise ReadingError(f"no connection to {target.address} within {wait:.1f} s") from None
    except OSError as exc:
        raise ReadingError(f"cannot connect to {target.address}: {exc.strerror or exc}") from None


@contextmanager
def conversation(target: Target, writer: asyncio.StreamWriter, wait: float, awaited: str) -> Iterator[None]:
    """Time-outs and socket errors while talking to the target as ReadingError; the
    connection is closed after."""
    try:
        yield
    except asyncio.TimeoutError:
        raise ReadingError(f"no {awaited} from {target.address} within {wait:.1f} s") from None
    except OSError as exc:
        raise ReadingError(f"{target.address}: {exc.strerror or exc}") from None
    finally:
        writer.close()


def bounds(readings: list[Reading]) -> tuple[float, float]:
    """The offset interval all readings allow (low > high when they contradict)."""
    return max(r.low for r in readings), min(r.high for r in readings)


async def _read_at(read: Reader, at: float) -> Reading | None:
    await asyncio.sleep(max(0.0, at - now()))
    try:
        return await read()
    except (ReadingError, OSError, asyncio.TimeoutError):
        return None


async def measure_seconds(target: Target, read: Reader, *, deadline: float, per_round: int = 8,
                          rounds: int = 2, **evidence: object) -> Measurement:
    """Read the clock once, then refine across the second boundary while ``deadline``
    (loop time) allows; ``read`` raises ReadingError with the reason when it fails."""
    loop = asyncio.get_running_loop()
    try:
        first = await read()
    except ReadingError as exc:
        return failed(target, str(exc), sent=1)
    readings, sent = [first], 1
    for _ in range(rounds):
        low, high = bounds(readings)
        rtt = min(r.rtt for r in readings)
        if high - low <= 2 * rtt + 0.002 or per_round < 1:
            break               # the round trip, not the second, limits us now
        # The next boundary window that starts far enough ahead to be aimed at.
        k = math.ceil(now() + high + 0.02)
        start, width = k - high, high - low
        if start + width - now() > deadline - loop.time() - 2 * rtt:
            break
        # Aim each request so the server reads its clock (about half a round trip
        # after our send) at evenly spaced points of the window.
        aims = [start + width * (j + 1) / (per_round + 1) - rtt / 2 for j in range(per_round)]
        got = await asyncio.gather(*(_read_at(read, a) for a in aims))
        sent += per_round
        readings += [r for r in got if r is not None]
    low, high = bounds(readings)
    quickest = min(readings, key=lambda r: r.rtt)
    consistent = low <= high
    if not consistent:
        low, high = quickest.low, quickest.high
    return measured(target, (low + high) / 2, (high - low) / 2, quickest.rtt, at=quickest.sent, sent=sent,
                    kept=len(readings), consistent=consistent, **evidence)
