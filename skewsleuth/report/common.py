"""Formatting shared by the renderers: times in the case's zone, offsets, escaping."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

# Only what changes meaning inline: our own text starts every line, so line-start
# markers (#, -, 1.) cannot be forged; "_" inside a word is not emphasis in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def local(dt: datetime | None, zone: tzinfo, seconds: bool = True) -> str:
    if dt is None:
        return "—"
    fmt = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return dt.astimezone(zone).strftime(fmt)


def offset(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    sign = "+" if seconds >= 0 else "-"
    s = abs(seconds)
    if s >= 2 * 86400:
        return f"{sign}{s:,.0f} s ({sign}{s / 86400:,.1f} d)"
    if s >= 3600:
        return f"{sign}{s:,.0f} s ({sign}{s / 3600:.2f} h)"
    if s >= 60:
        return f"{sign}{s:,.1f} s ({sign}{s / 60:.1f} min)"
    return f"{sign}{s:.2f} s"


def md(text: object) -> str:
    """Escape text for Markdown, and neutralise HTML that renderers would pass through."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def code_span(text: object) -> str:
    """Text as an inline code span: backticks inside cannot end it."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def code(text: object) -> str:
    """Text for inside a ~~~ fence: it cannot close the fence."""
    return str(text).replace("~~~", "~ ~ ~").replace("\r", "")


def bounded(estimate: float | None, low: float | None, high: float | None, beyond: float | None = None) -> str:
    """An offset as the evidence bounds it: a value when the interval is narrow, the
    interval when it is wide, one bound when only one is known; ``beyond``: only its
    size is known to exceed that (a host the failures accuse, with no log of its own)."""
    if low is None and high is None:
        return f"more than {beyond:g} s (either way)" if beyond is not None and estimate is None else "unknown"
    if low is None:
        return f"≤ {offset(high)}"
    if high is None:
        return f"≥ {offset(low)}"
    width = high - low
    if estimate is not None and (width <= 10 or width <= 0.01 * abs(estimate)):
        return f"{offset(estimate)} ± {width / 2:.1f} s" if width >= 0.05 else offset(estimate)
    return f"{offset(low)} .. {offset(high)}"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# What the reports show of the evidence not read (``ingest.quarantine`` and
# ``ingest.failures``): the terminal the first few, the Markdown and HTML more; the JSON
# holds them all.
TERMINAL_REASONS, TERMINAL_FAILURES = 5, 10
REPORT_REASONS, REPORT_FAILURES = 20, 50


def printable(text: object) -> str:
    """Text from the evidence or the file system with its control characters escaped
    (``\\x1b``, ``\\n``): a file name cannot move a terminal's cursor or start a line."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in s)


def where(example: dict) -> str:
    """Where a quarantined record is: its file and its record (EventRecordID, or
    record_no as the case database numbers it)."""
    if example.get("record") is None:
        return printable(example.get("path") or "")
    return f"{printable(example.get('path') or '')}, {example['record_kind']} {example['record']}"
