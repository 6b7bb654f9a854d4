"""HTTP(S): a host's clock read from the ``Date`` header of its responses.

What it measures. RFC 9110 §6.6.1: an origin server with a clock MUST send ``Date``,
the time the message was generated, as an IMF-fixdate to the second (recipients also
accept the obsolete RFC 850 and asctime forms, §5.6.7). One response bounds the offset
to one second plus the round trip; ``seconds.measure_seconds`` then times further
requests across the server's second boundary to narrow it (see there).

Requests are ``HEAD /`` over HTTP/1.1 with ``Connection: close`` (a fresh connection
each, so no reading waits behind another), falling back to ``GET /`` when HEAD is
refused (405, 501) or answered without a Date. Only the status line and headers are
read. The send time is taken after the TCP (and TLS) handshake: the server cannot
generate the response before it has the request. TLS certificates are verified unless
``insecure`` (a clock far off makes valid certificates look expired or not yet valid:
with ``verify`` that shows up as the error, which is itself a finding).

Caches and proxies may serve a stored Date: probe the origin server itself.

References: RFC 9110 §5.6.7 (HTTP-date), §6.6.1 (Date); RFC 9112 (HTTP/1.1 messages).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from datetime import timezone
from email.utils import parsedate_to_datetime

from .base import Measurement, Target, now
from ..errors import ReadingError
from .seconds import Reading, connect, conversation, measure_seconds

MAX_HEADER_LINES = 200
USER_AGENT = "skewsleuth-probe"


def parse_http_date(value: str) -> int:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime) as whole Unix seconds (UTC)."""
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        raise ReadingError(f"unreadable Date header {value.strip()[:60]!r}") from None
    # asctime carries no zone and HTTP dates are always GMT (RFC 9110 §5.6.7).
    return int((dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp())


def tls_context(insecure: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _exchange(target: Target, method: str, ctx: ssl.SSLContext | None, wait: float) -> tuple[int, str | None, float, float]:
    """(status, Date header, t_sent, t_received) of one request."""
    reader, writer = await connect(target, wait, ctx)
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.protocol == "https" else 80
    authority = host if target.port == default else f"{host}:{target.port}"
    with conversation(target, writer, wait, "response"):
        t_sent = now()
        writer.write(f"{method} / HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n".encode("ascii"))
        status_line = await asyncio.wait_for(reader.readline(), wait)
        t_received = now()
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ReadingError(f"not an HTTP response from {target.address}: {status_line[:60]!r}")
        date = None
        for _ in range(MAX_HEADER_LINES):
            line = await asyncio.wait_for(reader.readline(), wait)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "date":
                date = value.strip()
        return int(parts[1]), date, t_sent, t_received


async def measure_http(target: Target, *, deadline: float, per_round: int = 8, insecure: bool = False) -> Measurement:
    """The Date header's clock, refined across the second boundary until ``deadline``."""
    loop = asyncio.get_running_loop()
    ctx = tls_context(insecure) if target.protocol == "https" else None
    method = ["HEAD"]

    async def read() -> Reading:
        wait = max(0.05, deadline - loop.time())
        status, date, t_sent, t_received = await _exchange(target, method[0], ctx, wait)
        if (date is None or status in (405, 501)) and method[0] == "HEAD":
            method[0] = "GET"
            status, date, t_sent, t_received = await _exchange(target, "GET", ctx, wait)
        if date is None:
            raise ReadingError(f"HTTP {status} response from {target.address} carries no Date header")
        return Reading(parse_http_date(date), t_sent, t_received)

    m = await measure_seconds(target, read, deadline=deadline, per_round=per_round)
    return replace(m, evidence={**m.evidence, "method": method[0]}) if m.ok else m
