"""SMTP: a host's clock read from the date in its greeting banner.

What it measures. An SMTP server greets with ``220`` (RFC 5321 §4.2, §4.3.1); the text
after the domain is free, and several MTAs put their clock there as an RFC 5322
date-time: exim's default ``smtp_banner`` is ``$smtp_active_hostname ESMTP Exim
$version_number $tod_full`` (``220 mx.example.com ESMTP Exim 4.96 Tue, 24 Nov 2026
14:30:00 +0000``), sendmail's and Microsoft Exchange's greetings carry one too;
Postfix's does not. The banner is written to the second after the server accepts our
connection, so the send time is taken before connecting, and readings are narrowed
across the second boundary like HTTP Date (``seconds``). A banner without a date
is ``ok=False`` with the error ``banner carries no date``. We say ``QUIT`` and close.

References: RFC 5321 §4.2 (replies), §4.3.1 (greeting), §4.1.1.10 (QUIT); RFC 5322
§3.3 (date-time, with its obsolete zone names); exim spec, ``smtp_banner``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from email.utils import parsedate_to_datetime

from .base import Measurement, Target, now
from ..errors import ReadingError
from .seconds import Reading, connect, conversation, measure_seconds

MAX_BANNER_LINES = 20
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# RFC 5322 §3.3 date-time, day name optional, seconds required (a reading to the
# minute is not worth a clock measurement), zone numeric or obsolete name.
DATE_TIME = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?\b\d{1,2}\s+(?:" + _MONTHS + r")\s+\d{4}\s+"
    r"\d{1,2}:\d{2}:\d{2}\s+(?:[+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)\b", re.I)


def banner_date(banner: str) -> int | None:
    """The RFC 5322 date-time in a greeting, as whole Unix seconds; None if there is none."""
    m = DATE_TIME.search(banner)
    if not m:
        return None
    try:
        return int(parsedate_to_datetime(m.group(0)).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


async def _greeting(target: Target, wait: float) -> tuple[str, float, float]:
    t_sent = now()
    reader, writer = await connect(target, wait)
    with conversation(target, writer, wait, "greeting"):
        lines = []
        for _ in range(MAX_BANNER_LINES):
            raw = await asyncio.wait_for(reader.readline(), wait)
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if not (len(line) >= 4 and line[3] == "-"):   # "220-" continues, "220 " ends
                break
        t_received = now()
        banner = "\n".join(lines)
        if not lines or not lines[0][:3].isdigit():
            raise ReadingError(f"not an SMTP greeting from {target.address}: {banner[:60]!r}")
        if not lines[0].startswith("220"):
            raise ReadingError(f"SMTP server {target.address} does not greet with 220: {banner[:80]!r}")
        try:
            writer.write(b"QUIT\r\n")
            await asyncio.wait_for(writer.drain(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass
        return banner, t_sent, t_received


async def measure_smtp(target: Target, *, deadline: float, per_round: int = 8) -> Measurement:
    """The banner's clock, refined across the second boundary until ``deadline``."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    async def read() -> Reading:
        banner, t_sent, t_received = await _greeting(target, max(0.05, deadline - loop.time()))
        shown = banner_date(banner)
        if shown is None:
            raise ReadingError(f"banner carries no date: {banner.splitlines()[0][:80]!r}")
        seen[:] = [banner.splitlines()[0]]
        return Reading(shown, t_sent, t_received)

    m = await measure_seconds(target, read, deadline=deadline, per_round=per_round)
    return replace(m, evidence={**m.evidence, "banner": seen[0][:200]}) if m.ok else m
