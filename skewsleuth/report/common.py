"""Formatting shared by the renderers: times in the case's zone, offsets, escaping."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


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


def code(text: object) -> str:
    """Text for inside a ~~~ fence: it cannot close the fence."""
    return str(text).replace("~~~", "~ ~ ~").replace("\r", "")
