"""``w32tm /stripchart`` output, as saved by ``w32tm /stripchart ... > file``, as events.

The stripchart measures this host's clock against another's (``/computer:``) over NTP,
once every ``/period`` seconds. Its output, by Windows version and switches::

    Tracking dc01.corp.example [10.0.0.1:123].
    Collecting 4 samples.
    The current time is 28/05/2021 6:39:15 AM.
    06:39:15, d:+00.0004829s o:-600.1234567s  [*                |          ]
    06:39:17, error: 0x800705B4
    06:39:19, -43149.7349657s                       (with /dataonly, Windows 10)
    17:39:48 d:-00.0000840s o:-25.3004160s [@ | ]   (Windows Server 2003: no comma)
    RdtscStart, RdtscEnd, FileTime, RoundtripDelay, NtpOffset     (with /rdtsc)
    841651218510604, 841651276865480, 131951236975542534, +00.0240255, -00.0111940

Yields one event per sample or error line, ``format="w32tm_stripchart"``, ``provider``
"w32tm", ``channel`` "stripchart", ``host`` = the file's default host (the output
never names the host it ran on), ``message`` = the line, ``data`` with
``w32tm_target`` (the name given to ``/computer:``), ``w32tm_address`` and, for a
sample, ``w32tm_offset_s`` (``o:``) and ``w32tm_delay_s`` (``d:``, the round trip).
Header lines ("Tracking", "Collecting", "The current time is") are read, not yielded.

``o:`` is NTP's offset, "computed as per NTP offset computations" (Microsoft, "Windows
Time service tools and settings", /stripchart /rdtsc's NtpOffset): the target's clock
less this host's (RFC 5905 section 8, theta = ((T2 - T1) + (T3 - T4)) / 2). The clock
model reads each sample as a measurement of this host against the target
(:mod:`skewsleuth.clock.measured`).

Times: a sample line prints only the time of day, on this host's clock, in its local
zone (``ctx.timezone``); the date comes from the "current time" line that starts each
run, in the short date format of the host's locale: ``5/28/2021 6:39:15 AM``
(en-US), ``28/05/2021 06:39:15`` (en-GB, en-AU), ``20-Feb-19 09:08:17``, ``2021/5/28``.
A day and month that could be either way round (``05/06/2021``) are read as the one
nearer the file's modification time, and the choice is noted. The day advances where
the time of day goes back by more than twelve hours. ``/rdtsc`` lines carry the
sample's own FILETIME (UTC), read as it is. A sample before any date is quarantined.

References: Microsoft, "Windows Time service tools and settings" (w32tm /stripchart);
RFC 5905; the output forms as users posted them (Icinga/icinga-powershell-plugins
issue 176, MicrosoftDocs/windowsserverdocs issue 2065).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Iterator

import pyarrow as pa

from .base import EventBatchBuilder, FileContext
from .contract import Source
from .textinput import decode_head, line_blocks
from .timeparse import MONTHS, UTC, Localizer, note_zone

FORMAT = "w32tm_stripchart"
CHANNEL = "stripchart"
PROVIDER = "w32tm"

_TRACKING = re.compile(r"^\s*Tracking (\S+) \[([^\]]*)\]\.?\s*$")
_RDTSC_HEAD = re.compile(r"^\s*RdtscStart,\s*RdtscEnd,\s*FileTime,\s*RoundtripDelay,\s*NtpOffset\s*$")
_NUM = r"[+-]?\d+(?:\.\d+)?"
_SAMPLE = re.compile(rf"^\s*(\d{{1,2}}):(\d{{2}}):(\d{{2}}),?\s+(?:d:({_NUM})s\s+o:({_NUM})s|({_NUM})s)(?:\s.*)?$")
_ERROR = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2}),?\s+error:\s*(0x[0-9A-Fa-f]+)")
_RDTSC = re.compile(rf"^\s*\d+,\s*\d+,\s*(\d{{15,20}}),\s*(?:({_NUM}),\s*({_NUM})|error:\s*(0x[0-9A-Fa-f]+))\s*$")
# The "current time" line: any words (it is localised), then a date and a time.
_NOW = re.compile(r"(?:^|\s)(\d{1,4})([./-])(\d{1,2}|[A-Za-z]{3})\2(\d{1,4})\s+(\d{1,2}):(\d{2}):(\d{2})"
                  r"(?:\s*([AaPp])\.?[Mm]\.?)?")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def sniff(head: bytes) -> bool:
    lines = [ln for ln in decode_head(head).splitlines()[:8] if ln.strip()]
    if not lines:
        return False
    if _TRACKING.match(lines[0]):
        return True
    samples = sum(1 for ln in lines if _SAMPLE.match(ln) or _ERROR.match(ln))
    return bool(_RDTSC_HEAD.match(lines[0])) or (samples >= 2 and samples == len(lines))


def _year(y: int) -> int:
    return y + 2000 if y < 100 else y


def _dates(m: re.Match) -> list[date]:
    """The dates a "current time" line may mean (two when day and month could swap)."""
    a, _, b, c = m.group(1), m.group(2), m.group(3), m.group(4)
    out: list[date] = []
    try:
        if not b.isdigit():                       # 20-Feb-19
            month = MONTHS.get(b.title())
            if month is not None:
                out.append(date(_year(int(c)), month, int(a)))
        elif len(a) == 4:                         # 2021/5/28
            out.append(date(int(a), int(b), int(c)))
        else:                                     # 5/28/2021 or 28/05/2021
            x, y, year = int(a), int(b), _year(int(c))
            for month, day in ((x, y), (y, x)):
                if 1 <= month <= 12 and 1 <= day <= 31:
                    try:
                        d = date(year, month, day)
                    except ValueError:
                        continue
                    if d not in out:
                        out.append(d)
    except ValueError:
        return []
    return out


class _Run:
    """One stripchart run: its target, and the local date of its samples."""

    def __init__(self) -> None:
        self.target: str | None = None
        self.address: str | None = None
        self.day: date | None = None
        self.last_s: int | None = None     # the previous sample's second of the day


def _choose(ctx: FileContext, options: list[date], raw: str) -> date:
    if len(options) == 1:
        return options[0]
    # (the day the file was last written, on the host's local calendar)
    mtime = ctx.modified.astimezone(ctx.timezone).date() if ctx.modified is not None else None
    if mtime is not None:
        best = min(options, key=lambda d: abs((d - mtime).days))
        how = "the nearer to the file's modification date"
    else:
        best, how = options[0], "month first, as en-US writes it"
    note = (f"w32tm date {raw!r} reads either as {options[0].isoformat()} or {options[1].isoformat()}: "
            f"read as {best.isoformat()} ({how})")
    if note not in ctx.notes:
        ctx.notes.append(note)
    return best


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    localizer = Localizer(ctx.timezone)
    run = _Run()
    no = 0
    for lines in line_blocks(ctx):
        for line in lines:
            if not line.strip():
                continue
            if (t := _TRACKING.match(line)) is not None:
                run = _Run()
                # (an IPv4 address with its port: the port is not part of the name)
                address = t.group(2)
                run.target, run.address = t.group(1), (re.sub(r":\d+$", "", address) if address.count(":") == 1
                                                       else address) or None
                continue
            if _RDTSC_HEAD.match(line):
                continue
            sample, error, rdtsc = _SAMPLE.match(line), _ERROR.match(line), _RDTSC.match(line)
            if sample is None and error is None and rdtsc is None:
                if (now := _NOW.search(line)) is not None and run.day is None:
                    options = _dates(now)
                    if options:
                        run.day = _choose(ctx, options, now.group(0).strip())
                        h, ampm = int(now.group(5)), (now.group(8) or "").lower()
                        if ampm:
                            h = h % 12 + (12 if ampm == "p" else 0)
                        run.last_s = h * 3600 + int(now.group(6)) * 60 + int(now.group(7))
                        continue
                if line.lstrip().startswith(("Collecting", "The current time")) or now is not None:
                    continue
                record_no = no
                no += 1
                ctx.quarantine(record_no, "not a w32tm /stripchart line", line)
                continue
            record_no = no
            no += 1
            data: dict = {"w32tm_target": run.target, "w32tm_address": run.address}
            if rdtsc is not None:
                logged = _FILETIME_EPOCH + timedelta(microseconds=int(rdtsc.group(1)) // 10)
                if rdtsc.group(4):
                    data["w32tm_error"] = rdtsc.group(4)
                else:
                    data["w32tm_delay_s"], data["w32tm_offset_s"] = float(rdtsc.group(2)), float(rdtsc.group(3))
            else:
                m = sample or error
                assert m is not None
                if run.day is None:
                    ctx.quarantine(record_no, "a stripchart sample before any date (the 'The current time is' "
                                              "line of its run is missing): its day is unknown", line)
                    continue
                hh, mi, ss = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if hh > 23 or mi > 59 or ss > 59:
                    ctx.quarantine(record_no, "time of day out of range", line)
                    continue
                second = hh * 3600 + mi * 60 + ss
                if run.last_s is not None and second < run.last_s - 12 * 3600:
                    run.day += timedelta(days=1)
                run.last_s = second
                d = run.day
                logged, resolution, fold = localizer.to_utc(d.year, d.month, d.day, hh, mi, ss, 0)
                note_zone(data, resolution, fold)
                if sample is not None:
                    if sample.group(5) is not None:
                        data["w32tm_delay_s"], data["w32tm_offset_s"] = float(sample.group(4)), float(sample.group(5))
                    else:
                        data["w32tm_offset_s"] = float(sample.group(6))
                else:
                    data["w32tm_error"] = m.group(4)
            if run.target is None:
                del data["w32tm_target"], data["w32tm_address"]
            builder.add(record_no=record_no, host=ctx.default_host, logged=logged, format=FORMAT,
                        channel=CHANNEL, provider=PROVIDER, message=line.strip(), data=data)
            if builder.full():
                yield builder.flush()  # type: ignore[misc]
    batch = builder.flush()
    if batch is not None:
        yield batch


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="windows")
