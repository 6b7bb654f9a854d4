"""Frozen copy of skewsleuth.sources.syslog before the column-wise reader (commit 5ec4daf), kept
as the reference the column-wise reader must equal exactly (tests/test_syslog_columnar.py).

Syslog text files (RFC 3164 / BSD, RFC 5424, rsyslog ISO, krb5kdc) as events.

Yields one event per syslog line, ``format="syslog"``, ``channel="syslog"``,
``provider`` = the program (APP-NAME / TAG: ``chronyd``, ``ntpd``,
``systemd-timesyncd``, ``krb5kdc``, ...), ``host`` = the HOSTNAME field (the file's
default host when it is ``-`` or missing), ``message`` = MSG, and ``data`` a JSON
object with only the keys that apply: ``facility``, ``severity`` (keyword names:
``auth``, ``err``, ...), ``pid`` (int when numeric), ``msgid``, ``structured_data``
(``{sd_id: {param: value}}``), ``tz_resolution`` (``"ambiguous"`` / ``"nonexistent"``)
and ``tz_fold`` (which occurrence of an ambiguous local time was chosen).

Accepted line shapes::

    <34>Oct 20 18:19:05 host app[123]: msg            RFC 3164 (PRI optional, as in /var/log)
    Oct 20 18:19:05 kdc krb5kdc[1234](info): AS_REQ ...   MIT krb5kdc log file (level after the pid)
    <165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd ...] msg   RFC 5424 (NILVALUE ``-``)
    2014-10-20T18:19:05.003+02:00 host app[123]: msg  rsyslog RSYSLOG_FileFormat (RFC 3339 time)

``journalctl -o short``, ``short-precise`` and ``short-iso`` output has these shapes too.

A line starting with whitespace continues the previous record's message (multi-line
messages written by some daemons); blank lines are skipped; any other line that does
not parse is quarantined with a reason, and reading carries on.

Time. RFC 5424 and ISO times carry their offset and are converted to UTC. RFC 3164
times carry neither year nor zone:

* Zone: ``ctx.timezone``. A local time that a daylight-saving change makes ambiguous
  is resolved to its first occurrence (``fold=0``) until the file's local times go
  back by more than ten minutes inside the ambiguous hour, from which point the
  second occurrence (``fold=1``) is used, so the repeated hour does not look like a
  clock step; a non-existent local time (spring-forward gap) uses the offset in force
  before the change (PEP 495 ``fold=0``). Both are recorded in ``tz_resolution``.
* Year: the newest line of the file is taken to be in ``ctx.reference_year`` (the
  file's modification year), and years are counted back from it. Each 3164 line's
  day of the year is compared with the newest day seen so far (the anchor): a jump
  *backwards* by more than half a year (Dec 31 -> Jan 1) crosses a New Year, so
  everything before it belongs to the previous year; a line dated in the month
  before the anchor's New Year (a late Dec 31 line among Jan 1 lines) is a straggler
  from the previous year and leaves the anchor where it is. Any other forward jump
  (a gap in logging, however long) and any backward jump under half a year
  (out-of-order lines, a clock stepped back) stay in the same year. Because the
  year of the first line depends on crossings further down, the file is scanned
  twice when it holds 3164 lines (the first pass only counts crossings; memory stays
  bounded). A clock set back by more than half a year (a CMOS reset) reads as a
  New Year crossing: the text alone cannot tell them apart.

References: RFC 3164 "The BSD syslog Protocol"; RFC 5424 "The Syslog Protocol"
(sections 6.2 HEADER, 6.3 STRUCTURED-DATA); RFC 3339; rsyslog "RSYSLOG_FileFormat"
template; MIT Kerberos ``kdc.conf`` [logging]; PEP 495 (local time disambiguation).

The helpers ``detect_encoding``, ``decode_head`` and ``line_blocks`` are shared with
the other text sources (SIPStack, journald).
"""

from __future__ import annotations

import codecs
import json
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterator

import pyarrow as pa

from skewsleuth.sources.base import EventBatchBuilder, FileContext, UnusableFile

FORMAT = "syslog"
CHANNEL = "syslog"

UTC = timezone.utc
BLOCK = 1 << 20
# A "line" longer than this is cut: binary junk without newlines must not be held
# whole in memory.
MAX_LINE = 1 << 20
# Continuations appended to one message stop growing it beyond this.
MAX_MESSAGE = 64 * 1024

EVTX_MAGIC = b"ElfFile\x00"
XML_STARTS = ("<?xml", "<Event")  # "<Events" too

# --- shared text helpers -------------------------------------------------------------


def detect_encoding(head: bytes) -> tuple[str, int]:
    """Codec and BOM length of a text log: UTF-8 unless a BOM or the byte pattern of
    UTF-16 says otherwise (Windows tools write UTF-16LE, sometimes without a BOM)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:512]
    half = len(sample) // 2
    if half >= 8:
        even_zero, odd_zero = sample[0::2].count(0), sample[1::2].count(0)
        if odd_zero >= 0.9 * half and even_zero <= 0.1 * half:
            return "utf-16-le", 0
        if even_zero >= 0.9 * half and odd_zero <= 0.1 * half:
            return "utf-16-be", 0
    return "utf-8", 0


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text, for sniffers (never raises)."""
    enc, skip = detect_encoding(head)
    return head[skip:].decode(enc, "replace")


def first_line(text: str) -> tuple[str | None, bool]:
    """The first non-blank line of ``text`` (without its line end) and whether it was
    terminated (False when the head cut it short)."""
    pos, n = 0, len(text)
    while pos < n:
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos:end]
        if line.strip():
            return line.rstrip("\r"), end >= 0
        if end < 0:
            break
        pos = end + 1
    return None, False


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def json_line(line: str, loads=json.loads):
    """One value of a JSON Lines file. A lone surrogate escape (invalid UTF-16, which
    Python decodes but UTF-8 cannot store) becomes U+FFFD. Raises ValueError or
    RecursionError."""
    obj = loads(line)
    if _LONE_SURROGATE.search(line) is not None:
        text = json.dumps(obj, ensure_ascii=False)
        obj = loads(text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"))
    return obj


CUT_SHORT = object()   # first_json_line: the line did not parse (perhaps cut by the head)


def first_json_line(head: bytes) -> tuple[str, bool, Any] | None:
    """For the JSON Lines sniffers: the first non-blank line of a head that starts like
    a JSON object, whether it was terminated, and its value (``CUT_SHORT`` when it does
    not parse). None when the head is binary EVTX or does not start with ``{``."""
    if head.startswith(EVTX_MAGIC):
        return None
    line, terminated = first_line(decode_head(head))
    if line is None or not line.strip().startswith("{"):
        return None
    line = line.strip()
    try:
        return line, terminated, json.loads(line)
    except (ValueError, RecursionError):
        return line, terminated, CUT_SHORT


def line_blocks(ctx: FileContext, max_line: int = MAX_LINE) -> Iterator[list[str]]:
    """The file's lines, decoded once per block of ``BLOCK`` bytes, without line ends.
    A line that grows past ``max_line`` characters without ending is cut at the block
    boundary where it does, and its rest read as further lines.

    Raises UnusableFile when the file cannot be opened or is empty; a read error
    later on is quarantined (record_no None) and ends the stream.
    """
    try:
        f = open(ctx.path, "rb")
    except OSError as exc:
        raise UnusableFile(f"cannot open: {exc.strerror or exc}") from None
    with f:
        try:
            chunk = f.read(BLOCK)
        except OSError as exc:
            raise UnusableFile(f"cannot read: {exc.strerror or exc}") from None
        if not chunk:
            raise UnusableFile("empty file")
        enc, skip = detect_encoding(chunk)
        decoder = codecs.getincrementaldecoder(enc)("replace")
        chunk = chunk[skip:]
        pending = ""
        while True:
            text = decoder.decode(chunk, final=not chunk)
            if pending:
                text = pending + text
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            lines = text.split("\n")
            pending = lines.pop()
            if len(pending) > max_line:
                lines.append(pending)
                pending = ""
            if lines:
                yield lines
            if not chunk:
                break
            try:
                chunk = f.read(BLOCK)
            except OSError as exc:
                ctx.quarantine(None, f"read error, rest of file not read: {exc.strerror or exc}")
                chunk = b""
        if pending:
            yield [pending.rstrip("\r")]


# --- syslog grammar --------------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                      "Nov", "Dec"), 1)}
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(r"(?:<(\d{1,3})>)?([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,6}))? +(\S+) ?(.*)", re.S)
# _BSD's head, for whole blocks: the same acceptance, line by line (see _count_crossings).
_BSD_DAY = re.compile(r"^(?:<\d{1,3}>)?([A-Za-z]{3}) +(\d{1,2}) \d{1,2}:\d\d:\d\d(?:\.\d{1,6})? +\S", re.M)
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

_OFFSETS: dict[str, timedelta] = {}


def _offset(text: str | None) -> timedelta:
    if not text or text in "Zz":
        return timedelta(0)
    off = _OFFSETS.get(text)
    if off is None:
        digits = text[1:].replace(":", "")
        off = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if text[0] == "-":
            off = -off
        if len(_OFFSETS) < 256:
            _OFFSETS[text] = off
    return off


def _micros(frac: str | None) -> int:
    return int((frac + "00000")[:6]) if frac else 0


def _pid(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else text


def _bsd_match(line: str) -> re.Match[str] | None:
    """The RFC 3164 match of ``line``, month name checked."""
    m = _BSD.match(line)
    if m is None or m.group(2).title() not in MONTHS:
        return None
    return m


def looks_like_syslog(line: str) -> bool:
    """Does one line have the shape of a syslog record of any accepted kind?"""
    if _bsd_match(line) is not None:
        return True
    if line.startswith("<"):
        m = _5424.match(line)
        if m is not None and (m.group(3) == "-" or _RFC3339.match(m.group(3))):
            return True
    return _ISO.match(line) is not None


def sniff(head: bytes) -> bool:
    if head.startswith(EVTX_MAGIC):
        return False
    line, _ = first_line(decode_head(head))
    if line is None or line.lstrip().startswith(XML_STARTS):
        return False
    return looks_like_syslog(line)


# --- time ------------------------------------------------------------------------------

# Day-of-year of the first of each month (non-leap; one day of error is irrelevant
# against a half-year threshold).
_CUM = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_HALF_YEAR = 183
_STRAGGLE = 31


class _YearTracker:
    """Year of each RFC 3164 line relative to the newest line (see module docstring)."""

    __slots__ = ("year", "anchor")

    def __init__(self, year: int) -> None:
        self.year = year
        self.anchor = -1

    def step(self, month: int, day: int) -> int:
        p = _CUM[month] + day
        a = self.anchor
        if a < 0:
            self.anchor = p
            return self.year
        raw = p - a
        if raw >= 0:
            if raw > 365 - _STRAGGLE:  # late Dec line after Jan lines: last year's
                return self.year - 1
            self.anchor = p
            return self.year
        if raw < -_HALF_YEAR:  # Dec -> Jan
            self.year += 1
            self.anchor = p
        return self.year


def _count_crossings(ctx: FileContext) -> int:
    """New Year crossings in the file: the first pass of the year inference.

    Runs ``_BSD_DAY`` over each block's lines rejoined, which matches exactly the
    lines that ``_bsd_match`` accepts, in the same order, at a fraction of the cost of
    a Python loop per line.
    """
    tracker = _YearTracker(0)
    step = tracker.step
    probe = FileContext(path=ctx.path, file_id=ctx.file_id, default_host=ctx.default_host,
                        timezone=ctx.timezone, reference_year=ctx.reference_year)
    try:
        for lines in line_blocks(probe):
            for mon, day in _BSD_DAY.findall("\n".join(lines)):
                month = MONTHS.get(mon.title())
                if month is not None:
                    step(month, int(day))
    except UnusableFile:
        pass
    return tracker.year


class _Localizer:
    """Local wall time in ``tz`` -> UTC, with explicit DST disambiguation.

    Offsets are cached per local minute: zone transitions fall on whole minutes.
    """

    __slots__ = ("tz", "cache", "pytz", "prev_ambiguous", "fold")

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.cache: dict[tuple[int, int, int, int, int], tuple[timedelta, timedelta, str | None]] = {}
        self.pytz = hasattr(tz, "localize")
        self.prev_ambiguous: datetime | None = None
        self.fold = 0

    def _offsets(self, key: tuple[int, int, int, int, int]) -> tuple[timedelta, timedelta, str | None]:
        naive = datetime(*key)
        tz = self.tz
        if self.pytz:  # pytz ignores fold; its localize() reports the two cases itself
            try:
                off = tz.localize(naive, is_dst=None).utcoffset()  # type: ignore[attr-defined]
                return off, off, None
            except Exception as exc:  # noqa: BLE001 - pytz's AmbiguousTimeError / NonExistentTimeError
                first = tz.localize(naive, is_dst=True).utcoffset()  # type: ignore[attr-defined]
                second = tz.localize(naive, is_dst=False).utcoffset()  # type: ignore[attr-defined]
                if "Ambiguous" in type(exc).__name__:
                    return first, second, "ambiguous"
                return second, second, "nonexistent"
        off0 = naive.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
        off1 = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
        if off0 == off1:
            return off0, off0, None
        # PEP 495: in a fall-back overlap fold=0 is the earlier (larger) offset; in a
        # spring-forward gap fold=0 is the offset before the change (the smaller one).
        return (off0, off1, "ambiguous") if off0 > off1 else (off0, off0, "nonexistent")

    def to_utc(self, y: int, mo: int, d: int, h: int, mi: int, s: int, us: int) -> tuple[datetime, str | None, int]:
        key = (y, mo, d, h, mi)
        hit = self.cache.get(key)
        if hit is None:
            hit = self._offsets(key)
            if len(self.cache) >= 4096:
                self.cache.clear()
            self.cache[key] = hit
        off0, off1, resolution = hit
        wall = datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
        if resolution != "ambiguous":
            return wall - off0, resolution, 0
        prev = self.prev_ambiguous
        if prev is None or abs(wall - prev) > timedelta(hours=3):
            self.fold = 0  # a new overlap (or the first one): start with the first occurrence
        elif wall < prev - timedelta(minutes=10):
            self.fold = 1  # local time went back inside the overlap: the repeated hour
        self.prev_ambiguous = wall
        return wall - (off1 if self.fold else off0), resolution, self.fold


# --- reader ----------------------------------------------------------------------------


def _parse_sd(text: str) -> tuple[dict[str, dict[str, str]] | None, int]:
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


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    add = builder.add
    messages = builder.cols["message"]
    default_host = ctx.default_host
    localizer = _Localizer(ctx.timezone)
    years: _YearTracker | None = None
    quarantine = ctx.quarantine
    no = 0
    json_cache: dict[tuple[Any, ...], str] = {}
    last_event = False  # may a continuation line be appended to the last message?

    for lines in line_blocks(ctx):
        for line in lines:
            if not line:
                continue
            c = line[0]
            if c == "\ufeff":  # a BOM where files were concatenated
                line = line[1:]
                if not line:
                    continue
                c = line[0]
            if c in " \t":
                if not line.strip():
                    continue
                if last_event:
                    prev = messages[-1] or ""
                    if len(prev) < MAX_MESSAGE:
                        messages[-1] = (prev + "\n" + line.strip())[:MAX_MESSAGE]
                    continue
                quarantine(no, "continuation line without a record to continue", line)
                no += 1
                continue
            if c == "\r" and not line.strip():
                continue
            if builder.full():
                # Flushed before adding rather than after, so that a continuation line
                # can still reach the message it belongs to.
                yield builder.flush()  # type: ignore[misc]
                last_event = False
            record_no = no
            no += 1
            last_event = False
            data: dict[str, Any] = {}
            try:
                m = _bsd_match(line)
                if m is not None:
                    pri_s, mon, day_s, hh, mm, ss, frac, host, rest = m.groups()
                    month, day = MONTHS[mon.title()], int(day_s)
                    if years is None:
                        years = _YearTracker(ctx.reference_year - _count_crossings(ctx))
                    year = years.step(month, day)
                    logged, resolution, fold = localizer.to_utc(year, month, day, int(hh), int(mm), int(ss),
                                                                _micros(frac))
                    if resolution is not None:
                        data["tz_resolution"] = resolution
                        if resolution == "ambiguous":
                            data["tz_fold"] = fold
                elif c == "<" and (m := _5424.match(line)) is not None:
                    pri_s, _version, ts, host, app, procid, msgid = m.groups()
                    if ts == "-":
                        quarantine(record_no, "RFC 5424 record without a timestamp (NILVALUE)", line)
                        continue
                    t = _RFC3339.match(ts)
                    if t is None:
                        quarantine(record_no, f"RFC 5424 TIMESTAMP not RFC 3339: {ts[:40]!r}", line)
                        continue
                    logged = _aware(t.groups())
                    tail = line[m.end():]
                    sd, end = _parse_sd(tail) if tail else ({}, 0)
                    if sd is None:
                        quarantine(record_no, "malformed RFC 5424 STRUCTURED-DATA", line)
                        continue
                    msg = line[m.end() + end:]
                    if msg.startswith(" "):
                        msg = msg[1:]
                    if msg.startswith("\ufeff"):
                        msg = msg[1:]
                    if procid != "-":
                        data["pid"] = _pid(procid)
                    if msgid != "-":
                        data["msgid"] = msgid
                    if sd:
                        data["structured_data"] = sd
                    if not _add_pri(data, pri_s):
                        quarantine(record_no, f"PRI out of range: <{pri_s}>", line)
                        continue
                    add(record_no=record_no, host=default_host if host == "-" else host, logged=logged,
                        format=FORMAT, channel=CHANNEL, provider=None if app == "-" else app, message=msg,
                        data=json.dumps(data, ensure_ascii=False) if sd else _to_json(data, json_cache))
                    last_event = True
                    continue
                elif (m := _ISO.match(line)) is not None:
                    pri_s, y, mo, d, hh, mm, ss, frac, zone, host, rest = m.groups()
                    if zone is None:
                        logged, resolution, fold = localizer.to_utc(int(y), int(mo), int(d), int(hh), int(mm),
                                                                    int(ss), _micros(frac))
                        if resolution is not None:
                            data["tz_resolution"] = resolution
                            if resolution == "ambiguous":
                                data["tz_fold"] = fold
                    else:
                        logged = _aware((y, mo, d, hh, mm, ss, frac, zone))
                else:
                    quarantine(record_no, "not a syslog line (RFC 3164, RFC 5424 or ISO timestamp)", line)
                    continue
            except (ValueError, OverflowError) as exc:
                quarantine(record_no, f"invalid timestamp: {exc}", line)
                continue

            # RFC 3164 / ISO: HOSTNAME then TAG[PID]: MSG.
            if host.endswith(":") or "[" in host:
                # No HOSTNAME field (some devices omit it): what we took for one is the tag.
                rest = host + (" " + rest if rest else "")
                host = "-"
            t = _TAG.match(rest)
            if t is not None:
                app, pid, level, msg = t.groups()
                if pid:
                    data["pid"] = _pid(pid)
            else:
                app, level, msg = None, None, rest
            if pri_s is not None and not _add_pri(data, pri_s):
                quarantine(record_no, f"PRI out of range: <{pri_s}>", line)
                continue
            if level and "severity" not in data:
                data["severity"] = level.lower()
            add(record_no=record_no, host=default_host if host == "-" else host, logged=logged, format=FORMAT,
                channel=CHANNEL, provider=app, message=msg, data=_to_json(data, json_cache))
            last_event = True

    if no == 0:
        raise UnusableFile("no syslog lines (blank file)")
    if years is not None:
        # A guess that shapes every time of the file: the verdict must say so.
        ctx.notes.append(f"{ctx.path.name}: RFC 3164 times carry no year; the file's newest line was taken to be "
                         f"in {ctx.reference_year} (the file's modification year) and years counted back from it")
    batch = builder.flush()
    if batch is not None:
        yield batch


def _to_json(data: dict[str, Any], cache: dict[tuple[Any, ...], str]) -> str | None:
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


def _add_pri(data: dict[str, Any], pri_s: str | None) -> bool:
    if pri_s is None:
        return True
    pri = int(pri_s)
    if pri > 191:
        return False
    data["facility"] = FACILITIES[pri >> 3]
    data["severity"] = SEVERITIES[pri & 7]
    return True


def _aware(groups: tuple[str | None, ...]) -> datetime:
    y, mo, d, hh, mm, ss, frac, zone = groups
    sec = int(ss)  # type: ignore[arg-type]
    us = _micros(frac)
    if sec == 60:  # a leap second: the clock's own way of saying 59.999999
        sec, us = 59, 999_999
    wall = datetime(int(y), int(mo), int(d), int(hh), int(mm), sec, us, tzinfo=UTC)  # type: ignore[arg-type]
    return wall - _offset(zone)
