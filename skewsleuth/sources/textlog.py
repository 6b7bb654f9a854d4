"""Plain text logs whose lines start with a time: the common shapes, one reader.

Most application and platform logs are neither syslog nor JSON: each record is a line
that starts with a time, followed by whatever the logging library puts there, and
sometimes more lines (a Java stack trace). The shapes read here, each recognised by
its time prefix alone (what follows is the message, kept whole):

==============  =====================================================  ==================================
shape           example                                                from
==============  =====================================================  ==================================
``iso``         ``2015-07-29 17:41:44,747 - INFO  [main:QuorumPeer``   log4j / logback ``%d`` (ISO8601,
                ``2016-09-28 04:30:30, Info  CBS  Loaded ...``         comma or dot fraction), Windows
                ``2017-05-16 00:00:00.008 25746 INFO nova...``         CBS, OpenStack, Python logging,
                ``2024-03-01T08:00:05.123Z app started``               an ISO 8601 prefix with a zone
``slash``       ``17/06/09 20:10:40 INFO executor.Executor: ...``      log4j ``yy/MM/dd HH:mm:ss`` (Spark)
``compact``     ``081109 203615 148 INFO dfs.DataNode$Packet...``      Hadoop HDFS ``yyMMdd HHmmss``
``klog``        ``I0520 08:00:07.215798       1 server.go:148] ...``   Kubernetes klog (no year)
``apache``      ``[Sun Dec 04 04:47:44 2005] [error] mod_jk ...``      Apache httpd error log (2.2 and,
                ``[Wed Oct 11 14:32:52.123456 2000] [core:error] ...``  with microseconds, 2.4)
``logcat``      ``03-17 16:13:38.811  1702  2395 D WindowManager: ...``  Android ``logcat -v threadtime``
==============  =====================================================  ==================================

Yields one event per record, ``format="textlog"``, ``host`` = the file's default host
(these lines never name their host), ``logged`` = the time (in ``ctx.timezone`` unless
the line gives its offset), ``message`` = the rest of the line and the lines that
continue it (up to ``MAX_MESSAGE`` characters), ``provider`` = the logcat tag or the
klog source file, ``data`` = ``shape`` and what the shape names (``level``, ``pid``,
``tid``). A file is read as the shape of its first line; a line of another shape, or
of none, continues the record before it. Lines before the first record are
quarantined. klog and logcat print no year: it is chosen as for RFC 3164 syslog
(:func:`.syslog_lines.first_year`: no line later than the file's modification time,
New Year crossings counted back; ``--year`` gives it), and a note says so.

References: log4j 2 PatternLayout (``%d`` ISO8601, ``yy/MM/dd``); klog's header
(``Lmmdd hh:mm:ss.uuuuuu threadid file:line]``, k8s.io/klog); Apache httpd ErrorLogFormat;
Android ``logcat`` output formats; the shapes of loghub's samples (logpai/loghub).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable, Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import EventBatchBuilder, FileContext
from .contract import Source
from .syslog_lines import YearTracker, first_year, wall_key
from .textinput import decode_head, line_blocks, text_blocks
from .timeparse import MONTHS, Localizer, leap_second, micros, note_zone, rfc3339_utc

FORMAT = "textlog"
MAX_MESSAGE = 64 * 1024

_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL|Info|Warning|Error)\b")

SHAPES: dict[str, re.Pattern] = {
    "iso": re.compile(r"^(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2})[ T](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
                      r"(?:[,.](?P<f>\d{1,9}))?(?P<z>Z|[+-]\d{2}:?\d{2})?(?:,|\s+-)?\s+(?P<rest>\S.*)$"),
    "slash": re.compile(r"^(?P<y>\d{2})/(?P<M>\d{2})/(?P<D>\d{2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})\s+"
                        r"(?P<rest>\S.*)$"),
    "compact": re.compile(r"^(?P<y>\d{2})(?P<M>\d{2})(?P<D>\d{2}) (?P<h>\d{2})(?P<m>\d{2})(?P<s>\d{2})\s+"
                          r"(?P<pid>\d+)\s+(?P<rest>(?:INFO|WARN|ERROR|DEBUG|FATAL|TRACE)\b.*)$"),
    "klog": re.compile(r"^(?P<lvl>[IWEF])(?P<M>\d{2})(?P<D>\d{2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
                       r"\.(?P<f>\d{6})\s+(?P<pid>\d+) (?P<src>[^\]\s]+:\d+)\] (?P<rest>.*)$"),
    "apache": re.compile(r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<Mon>[A-Z][a-z]{2}) (?P<D>\d{1,2}) "
                         r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))? (?P<Y>\d{4})\] "
                         r"(?P<rest>.*)$"),
    "logcat": re.compile(r"^(?P<M>\d{2})-(?P<D>\d{2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})\.(?P<f>\d{3})\s+"
                         r"(?P<pid>\d+)\s+(?P<tid>\d+) (?P<lvl>[VDIWEFA]) (?P<tag>[^:]*?)\s*: ?(?P<rest>.*)$"),
}
# The shapes that print no year.
_YEARLESS = ("klog", "logcat")
_KLOG_LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL"}
_LOGCAT_LEVELS = {"V": "VERBOSE", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL",
                  "A": "ASSERT"}


def match_shape(line: str) -> tuple[str, re.Match] | None:
    """The shape a line starts with, and its match."""
    for name, rx in SHAPES.items():
        if (m := rx.match(line)) is not None:
            return name, m
    return None


def shape_of(line: str) -> str | None:
    got = match_shape(line)
    return got[0] if got is not None else None


def klog_program(g: dict) -> tuple[str, str]:
    """(the source file, as the record's provider, and the level) of a klog header's match."""
    return g["src"].rsplit(":", 1)[0], _KLOG_LEVELS[g["lvl"]]


# Lines a file may start with before its first record (a banner, a JVM's notice).
PREAMBLE = 3


def sniff(head: bytes) -> bool:
    """One of the first lines has a shape, and most of the lines from it on too (the
    rest may continue records: a stack trace)."""
    lines = [ln for ln in decode_head(head).splitlines()[:12] if ln.strip()]
    if len(lines) > 1 and not head.endswith((b"\n", b"\n\x00")):
        lines = lines[:-1]   # (the head may cut the last line short)
    for k, line in enumerate(lines[:PREAMBLE + 1]):
        shape = shape_of(line)
        if shape is not None:
            rest = lines[k:]
            return sum(1 for ln in rest if SHAPES[shape].match(ln)) * 2 >= len(rest)
    return False


def _yearless_steps(rx: re.Pattern) -> Callable[[YearTracker, Iterator[str]], None]:
    def step(tracker: YearTracker, texts: Iterator[str]) -> None:
        for text in texts:
            for line in text.split("\n"):
                m = rx.match(line)
                if m is not None:
                    month, day = int(m.group("M")), int(m.group("D"))
                    if 1 <= month <= 12:
                        tracker.see(tracker.step(month, day),
                                    wall_key(month, day, int(m.group("h")), int(m.group("m")), int(m.group("s")),
                                             micros(m.group("f"))))
    return step


def _first_shape(ctx: FileContext) -> str | None:
    seen = 0
    for text in text_blocks(ctx):
        for line in text.split("\n"):
            if line.strip():
                if (shape := shape_of(line)) is not None:
                    return shape
                seen += 1
                if seen > PREAMBLE:
                    return None
    return None


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    shape = _first_shape(ctx)
    if shape is None:
        raise UnusableFile("no line starts with a time in a known shape")
    rx = SHAPES[shape]
    localizer = Localizer(ctx.timezone)
    years: YearTracker | None = None
    if shape in _YEARLESS:
        # as RFC 3164 syslog's: no line later than the file's modification time
        start, note = first_year(ctx, _yearless_steps(rx))
        years = YearTracker(start)
        ctx.notes.append(note.replace("RFC 3164 times", f"{shape} times", 1))
    builder = EventBatchBuilder(ctx.file_id)
    pending: list | None = None       # [record_no, logged, provider, message parts, data]
    size = 0
    no = 0

    def flush() -> None:
        assert pending is not None
        record_no, logged, provider, parts, data = pending
        builder.add(record_no=record_no, host=ctx.default_host, logged=logged, format=FORMAT, provider=provider,
                    message="\n".join(parts), data=data)

    for lines in line_blocks(ctx):
        for line in lines:
            if not line.strip():
                continue
            m = rx.match(line)
            if m is None:
                if pending is None:
                    ctx.quarantine(no, "a line before the file's first timestamped record", line)
                    no += 1
                elif size < MAX_MESSAGE:
                    text = line[:MAX_MESSAGE - size]
                    pending[3].append(text)
                    size += len(text) + 1
                continue
            record_no = no
            no += 1
            g = m.groupdict()
            data: dict = {"shape": shape}
            try:
                logged = _when(g, years, localizer, data)
            except (ValueError, OverflowError, KeyError):
                ctx.quarantine(record_no, f"a {shape} time that does not exist", line)
                continue
            provider = None
            if shape == "klog":
                provider, level = klog_program(g)
                data.update(level=level, pid=int(g["pid"]))
            elif shape == "logcat":
                data.update(level=_LOGCAT_LEVELS[g["lvl"]], pid=int(g["pid"]), tid=int(g["tid"]))
                provider = g["tag"] or None
            else:
                if g.get("pid"):
                    data["pid"] = int(g["pid"])
                if (lv := _LEVEL.search(g["rest"][:80])) is not None:
                    data["level"] = lv.group(1).upper()
            if pending is not None:
                flush()
                if builder.full():
                    yield builder.flush()  # type: ignore[misc]
            rest = g["rest"][:MAX_MESSAGE]
            pending, size = [record_no, logged, provider, [rest], data], len(rest)
    if pending is not None:
        flush()
    batch = builder.flush()
    if batch is not None:
        yield batch


def _when(g: dict, years: YearTracker | None, localizer: Localizer, data: dict) -> datetime:
    month = MONTHS[g["Mon"]] if g.get("Mon") else int(g["M"])
    day = int(g["D"])
    if g.get("Y"):
        year = int(g["Y"])
    elif g.get("y"):
        year = 2000 + int(g["y"])
    else:
        assert years is not None
        if not 1 <= month <= 12:
            raise ValueError("month")
        year = years.step(month, day)
    if g.get("z"):
        return rfc3339_utc(str(year), str(month), str(day), g["h"], g["m"], g["s"], g.get("f"), g["z"])
    sec, us = leap_second(int(g["s"]), micros(g.get("f")))
    logged, resolution, fold = localizer.to_utc(year, month, day, int(g["h"]), int(g["m"]), sec, us)
    note_zone(data, resolution, fold)
    return logged


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT)
