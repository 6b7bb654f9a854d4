"""Instants for people: one zone (the case's) and one format in every sentence we write.

Structured fields (JSON) stay UTC ISO 8601; prose (evidence, reasons) uses this.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Callable

Format = Callable[[datetime], str]


def clockface(zone: tzinfo = timezone.utc) -> Format:
    def fmt(dt: datetime) -> str:
        local = dt.astimezone(zone)
        text = local.strftime("%Y-%m-%d %H:%M:%S")
        if local.microsecond:
            text += f".{local.microsecond // 1000:03d}"
        return f"{text} {local.tzname() or 'UTC'}"
    return fmt


UTC_FORMAT: Format = clockface()
