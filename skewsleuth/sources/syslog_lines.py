"""The syslog per-line grammar: what one line reads as, with regular expressions.

It decides every line's shape, fields, time and quarantine reason (the format is
described in :mod:`.syslog`), and the year of a file's RFC 3164 lines (``first_year``:
given, or from the file's modification time after a first pass). The column-wise
reader (:mod:`.syslog_columns`) reads the lines of the common shapes itself and hands
every other line to :class:`LineGrammar`. :func:`read_lines` reads a whole file with
the grammar alone, one line at a time (``syslog.read(ctx, columnar=False)``): the
reference whose output the column-wise reader must equal exactly
(tests/test_syslog_columnar.py).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pyarrow as pa

from ..errors import UnusableFile
from ..timefmt import clockface
from .base import EventBatchBuilder, FileContext
from .textinput import line_blocks, text_blocks
from .timeparse import MONTHS, Localizer, micros, note_zone, rfc3339_utc

FORMAT = "syslog"
CHANNEL = "syslog"

# Continuations appended to one message stop growing it beyond this.
MAX_MESSAGE = 64 * 1024

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_BSD = re.compile(r"(?:<(\d{1,3})>)?([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,6}))? +(\S+) ?(.*)", re.S)
_ISO = re.compile(r"(?:<(\d{1,3})>)?(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)?"
                  r" +(\S+) ?(.*)", re.S)
_5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z", re.I)
# TAG[PID](level): as written by syslog(3) callers; krb5kdc adds "(info)".
_TAG = re.compile(r"([^\s\[\]():]+)(?:\[([^\]\s]*)\])?(?:\(([A-Za-z]+)\))?: ?(.*)", re.S)

# SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]"; PARAM-VALUE escapes '"', '\\' and ']'.
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?: [^\s\]="]+="(?:[^"\\]|\\.)*")*)\]', re.S)
_SD_PARAM = re.compile(r' ([^\s\]="]+)="((?:[^"\\]|\\.)*)"', re.S)
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')


def as_pid(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else text


def bsd_match(line: str) -> re.Match[str] | None:
    """The RFC 3164 match of ``line``, month name checked."""
    m = _BSD.match(line)
    if m is None or m.group(2).title() not in MONTHS:
        return None
    return m


def looks_like_syslog(line: str) -> bool:
    """Does one line have the shape of a syslog record of any accepted kind?"""
    if bsd_match(line) is not None:
        return True
    if line.startswith("<"):
        m = _5424.match(line)
        if m is not None and (m.group(3) == "-" or _RFC3339.match(m.group(3))):
            return True
    return _ISO.match(line) is not None


# --- year ----------------------------------------------------------------------------

# Day-of-year of the first of each month (non-leap; one day of error is irrelevant
# against a half-year threshold).
CUM = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
HALF_YEAR = 183
STRAGGLE = 31

# RFC 3164 lines are local wall time in ctx.timezone; the file's modification time is
# an instant. But ctx.timezone is the case's zone (UTC when nobody said it) and a host
# may write in another: a line written at the modification time reads up to 14 hours
# later on its own wall clock than in UTC (UTC+14 is the zone furthest ahead). The
# modification time read on that clock bounds the newest line whatever its zone; read
# in ctx.timezone, an active log of a host east of it would be put a whole year back.
ZONE_SLACK = timedelta(hours=14)


def wall_key(month: Any, day: Any, hh: Any, mm: Any, ss: Any, us: Any) -> Any:
    """A wall time within its year as one integer that sorts as the times do: of
    ints, or of numpy int64 arrays (the fields as a line writes them, unchecked: up
    to two digits each)."""
    return ((((month * 100 + day) * 100 + hh) * 100 + mm) * 100 + ss) * 1_000_000 + us


def bsd_wall(m: re.Match[str]) -> int:
    """``wall_key`` of a ``bsd_match``."""
    return wall_key(MONTHS[m.group(2).title()], int(m.group(3)), int(m.group(4)), int(m.group(5)),
                    int(m.group(6)), micros(m.group(7)))


class YearTracker:
    """Year of each RFC 3164 line relative to the newest line (see :mod:`.syslog`)."""

    __slots__ = ("year", "anchor", "newest")

    def __init__(self, year: int) -> None:
        self.year = year
        self.anchor = -1
        # (year, wall_key) of the newest line the first pass has seen (``see``).
        self.newest: tuple[int, int] | None = None

    def step(self, month: int, day: int) -> int:
        return self.step_day(CUM[month] + day)

    def step_day(self, p: int) -> int:
        a = self.anchor
        if a < 0:
            self.anchor = p
            return self.year
        raw = p - a
        if raw >= 0:
            if raw > 365 - STRAGGLE:  # late Dec line after Jan lines: last year's
                return self.year - 1
            self.anchor = p
            return self.year
        if raw < -HALF_YEAR:  # Dec -> Jan
            self.year += 1
            self.anchor = p
        return self.year

    def see(self, year: int, wall: int) -> None:
        """A line ``step`` put in ``year``, at ``wall`` (``wall_key``) in it."""
        if self.newest is None or (year, wall) > self.newest:
            self.newest = (year, wall)


def _step_lines(tracker: YearTracker, texts: Iterator[str]) -> None:
    for text in texts:
        for line in text.split("\n"):
            m = bsd_match(line)
            if m is not None:
                tracker.see(tracker.step(MONTHS[m.group(2).title()], int(m.group(3))), bsd_wall(m))


def first_pass(ctx: FileContext,
               step_blocks: Callable[[YearTracker, Iterator[str]], None] = _step_lines) -> YearTracker:
    """The file's New Year crossings (the tracker's year, counted from 0) and its newest
    line (``newest``): the first pass of the year inference.

    ``step_blocks`` steps the tracker over the file's blocks of lines (``text_blocks``)
    and shows it each line's wall time: over the lines ``bsd_match`` accepts as they
    stand (a line starting with a BOM is not one here, unlike in the reading pass), in
    file order.
    """
    tracker = YearTracker(0)
    # A context of its own: what this pass meets is quarantined by the reading pass.
    probe = FileContext(path=ctx.path, file_id=ctx.file_id, default_host=ctx.default_host,
                        timezone=ctx.timezone)
    try:
        step_blocks(tracker, text_blocks(probe))
    except UnusableFile:
        pass
    return tracker


def first_year(ctx: FileContext,
               step_blocks: Callable[[YearTracker, Iterator[str]], None] = _step_lines) -> tuple[int, str]:
    """The year of the file's first RFC 3164 line, and the note that says how it was
    chosen: the year given (``ctx.year``), or the one that puts the newest line in the
    last year in which it is no later than the file's modification time (ZONE_SLACK),
    counted back from there over the file's New Year crossings."""
    head = f"{ctx.path.name}: RFC 3164 times carry no year; "
    if ctx.year is not None:
        return ctx.year, head + (f"the first line was taken to be in {ctx.year} (given with --year) and years "
                                 f"counted forward from it")
    modified = ctx.modified if ctx.modified is not None else datetime.now(timezone.utc)
    try:
        limit = (modified.astimezone(timezone.utc) + ZONE_SLACK).replace(tzinfo=None)
    except OverflowError:
        limit = datetime.max
    tracker = first_pass(ctx, step_blocks)
    newest = limit.year
    if tracker.newest is not None and tracker.newest[1] > wall_key(limit.month, limit.day, limit.hour, limit.minute,
                                                                   limit.second, limit.microsecond):
        newest -= 1
    what = "the file's modification time" if ctx.modified is not None else "the time it was read"
    # To the second: file systems keep modification times to different precisions, and
    # the note reads the same on each.
    shown = modified.replace(microsecond=0)
    try:
        when = clockface(ctx.timezone)(shown)
    except OverflowError:   # a time set to the end of year 9999, past it in the case's zone
        when = shown.isoformat()
    return newest - tracker.year, head + (
        f"the newest line was taken to be no later than {what}, {when} (whatever zone it was written in), so in "
        f"{newest}, and years counted back from it")


# --- one line --------------------------------------------------------------------------


def parse_sd(text: str) -> tuple[dict[str, dict[str, str]] | None, int]:
    """RFC 5424 STRUCTURED-DATA at the start of ``text``: (elements, end), or
    (None, -1) when malformed. The NILVALUE ``-`` gives ({}, 1)."""
    if text.startswith("-"):
        return {}, 1
    out: dict[str, dict[str, str]] = {}
    pos = 0
    while (m := _SD_ELEMENT.match(text, pos)) is not None:
        params = out.setdefault(m.group(1), {})
        for name, value in _SD_PARAM.findall(m.group(2)):
            params[name] = _SD_UNESCAPE.sub(r"\1", value) if "\\" in value else value
        pos = m.end()
    if pos == 0:
        return None, -1
    return out, pos


def to_json(data: dict[str, Any], cache: dict[tuple[Any, ...], str]) -> str | None:
    """``data`` as JSON text. Most lines of a file repeat a few shapes (same pid,
    same PRI), so the text is cached by content instead of encoded per line."""
    if not data:
        return None
    key = tuple(data.items())
    text = cache.get(key)
    if text is None:
        text = json.dumps(data, ensure_ascii=False)
        if len(cache) >= 4096:
            cache.clear()
        cache[key] = text
    return text


def add_pri(data: dict[str, Any], pri_s: str | None) -> bool:
    if pri_s is None:
        return True
    pri = int(pri_s)
    if pri > 191:
        return False
    data["facility"] = FACILITIES[pri >> 3]
    data["severity"] = SEVERITIES[pri & 7]
    return True


# What one line came to.
SKIP, CONT, QCONT, QUAR, EVENT = range(5)


def continued(message: str, text: str) -> str:
    """``message`` with a continuation line's text appended, while it is shorter than
    ``MAX_MESSAGE`` (and cut to it)."""
    return (message + "\n" + text)[:MAX_MESSAGE] if len(message) < MAX_MESSAGE else message


def end_of_file(ctx: FileContext, records: int, year_note: str | None) -> None:
    """Raise UnusableFile when no line was a record; note how the year was chosen
    (``first_year``), when a line needed one."""
    if records == 0:
        raise UnusableFile("no syslog lines (blank file)")
    if year_note is not None:
        # A choice that shapes every time of the file: the verdict must say so.
        ctx.notes.append(year_note)


class LineGrammar:
    """Reads lines one at a time as the grammar says, with the state they share in
    file order: the localizer's fold, the year tracker (when the grammar counts the
    years itself) and the cache of data JSON texts."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.default_host = ctx.default_host
        self.localizer = Localizer(ctx.timezone)
        self.years: YearTracker | None = None
        self.year_note: str | None = None
        self.json_cache: dict[tuple[Any, ...], str] = {}

    def start_years(self, step_blocks: Callable[[YearTracker, Iterator[str]], None] = _step_lines) -> YearTracker:
        """The year tracker, started at the file's first RFC 3164 line (``first_year``:
        after a first pass over the file, unless the year was given)."""
        if self.years is None:
            start, self.year_note = first_year(self.ctx, step_blocks)
            self.years = YearTracker(start)
        return self.years

    def year(self, month: int, day: int) -> int:
        """The year of an RFC 3164 line, lines taken one at a time in file order."""
        return (self.years or self.start_years()).step(month, day)

    def parse(self, line: str, no: int, can_continue: bool, year: int | None = None) -> tuple[int, Any]:
        """One non-empty line read as the per-line grammar says: skipped, a
        continuation (its text), quarantined, or an event (host, logged, provider,
        message, data). ``year``: the year of a line ``bsd_match`` accepts (after a
        leading BOM) when the caller tracks them; None to have ``self.year`` count."""
        quarantine = self.ctx.quarantine
        c = line[0]
        if c == "\ufeff":  # a BOM where files were concatenated
            line = line[1:]
            if not line:
                return SKIP, None
            c = line[0]
        if c in " \t":
            if not line.strip():
                return SKIP, None
            if can_continue:
                return CONT, line.strip()
            quarantine(no, "continuation line without a record to continue", line)
            return QCONT, None
        if c == "\r" and not line.strip():
            return SKIP, None
        record_no = no
        localizer = self.localizer
        data: dict[str, Any] = {}
        try:
            m = bsd_match(line)
            if m is not None:
                pri_s, mon, day_s, hh, mm, ss, frac, host, rest = m.groups()
                month, day = MONTHS[mon.title()], int(day_s)
                if year is None:
                    year = self.year(month, day)
                assert year >= 0, "an RFC 3164 line the column-wise pass did not count"
                logged, resolution, fold = localizer.to_utc(year, month, day, int(hh), int(mm), int(ss),
                                                            micros(frac))
                note_zone(data, resolution, fold)
            elif c == "<" and (m := _5424.match(line)) is not None:
                pri_s, _version, ts, host, app, procid, msgid = m.groups()
                if ts == "-":
                    quarantine(record_no, "RFC 5424 record without a timestamp (NILVALUE)", line)
                    return QUAR, None
                t = _RFC3339.match(ts)
                if t is None:
                    quarantine(record_no, f"RFC 5424 TIMESTAMP not RFC 3339: {ts[:40]!r}", line)
                    return QUAR, None
                logged = rfc3339_utc(*t.groups())
                tail = line[m.end():]
                sd, end = parse_sd(tail) if tail else ({}, 0)
                if sd is None:
                    quarantine(record_no, "malformed RFC 5424 STRUCTURED-DATA", line)
                    return QUAR, None
                msg = line[m.end() + end:]
                if msg.startswith(" "):
                    msg = msg[1:]
                if msg.startswith("\ufeff"):
                    msg = msg[1:]
                if procid != "-":
                    data["pid"] = as_pid(procid)
                if msgid != "-":
                    data["msgid"] = msgid
                if sd:
                    data["structured_data"] = sd
                if not add_pri(data, pri_s):
                    quarantine(record_no, f"PRI out of range: <{pri_s}>", line)
                    return QUAR, None
                return EVENT, (self.default_host if host == "-" else host, logged, None if app == "-" else app,
                                msg, json.dumps(data, ensure_ascii=False) if sd else to_json(data, self.json_cache))
            elif (m := _ISO.match(line)) is not None:
                pri_s, y, mo, d, hh, mm, ss, frac, zone, host, rest = m.groups()
                if zone is None:
                    logged, resolution, fold = localizer.to_utc(int(y), int(mo), int(d), int(hh), int(mm),
                                                                int(ss), micros(frac))
                    note_zone(data, resolution, fold)
                else:
                    logged = rfc3339_utc(y, mo, d, hh, mm, ss, frac, zone)
            else:
                quarantine(record_no, "not a syslog line (RFC 3164, RFC 5424 or ISO timestamp)", line)
                return QUAR, None
        except (ValueError, OverflowError) as exc:
            quarantine(record_no, f"invalid timestamp: {exc}", line)
            return QUAR, None

        # RFC 3164 / ISO: HOSTNAME then TAG[PID]: MSG.
        if host.endswith(":") or "[" in host:
            # No HOSTNAME field (some devices omit it): what we took for one is the tag.
            rest = host + (" " + rest if rest else "")
            host = "-"
        t = _TAG.match(rest)
        if t is not None:
            app, pid, level, msg = t.groups()
            if pid:
                data["pid"] = as_pid(pid)
        else:
            app, level, msg = None, None, rest
        if pri_s is not None and not add_pri(data, pri_s):
            quarantine(record_no, f"PRI out of range: <{pri_s}>", line)
            return QUAR, None
        if level and "severity" not in data:
            data["severity"] = level.lower()
        return EVENT, (self.default_host if host == "-" else host, logged, app, msg, to_json(data, self.json_cache))


def read_lines(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    """The file's events, every line read by the grammar, one at a time."""
    grammar = LineGrammar(ctx)
    builder = EventBatchBuilder(ctx.file_id)
    messages = builder.cols["message"]
    no = 0
    last_event = False  # may a continuation line extend the last message?
    for lines in line_blocks(ctx):
        for line in lines:
            if not line:
                continue
            kind, value = grammar.parse(line, no, last_event)
            if kind == SKIP:
                continue
            if kind == CONT:
                messages[-1] = continued(messages[-1] or "", value)
                continue
            record_no = no
            no += 1
            last_event = kind == EVENT
            if not last_event:
                continue
            if builder.full():
                # Flushed before an event is added, never after: a continuation line
                # may still extend the last message.
                yield builder.flush()  # type: ignore[misc]
            host, logged, app, msg, data = value
            builder.add(record_no=record_no, host=host, logged=logged, format=FORMAT, channel=CHANNEL,
                        provider=app, message=msg, data=data)
    end_of_file(ctx, no, grammar.year_note)
    batch = builder.flush()
    if batch is not None:
        yield batch
