"""Write Windows event XML as Windows itself writes it, for the demo and tests.

Makes ``<Event>`` elements in the Microsoft event schema (``System``, ``EventData``
and, for RenderedXml, ``RenderingInfo``) and lays them out in the two shapes
responders collect:

* :func:`events_document`: Event Viewer "Save as XML", an ``<Events>`` root;
* :func:`event_stream`: ``wevtutil qe /f:RenderedXml`` (or ``Get-WinEvent ... |
  ToXml()``), one ``<Event>`` per line and no root.

``TimeCreated/@SystemTime`` is UTC with Windows' seven fractional digits, and it is a
*logged* time: pass what the writing host's clock read, not the true time. Every
value is XML-escaped; line ends inside values are written as ``&#13;``/``&#10;``, so
that a parser's line-end normalisation does not change a message and every event
stays on one line (as the stream shape promises). Characters XML 1.0 cannot carry at
all (most C0 controls) raise ValueError: no Windows export contains them either, and
a writer that emits unparseable XML would make tests lie.

What these write is what :mod:`skewsleuth.sources.eventxml` reads back.

References: Microsoft, "Event Schema" (``EventType``, ``SystemPropertiesType``,
``RenderingInfoType``); "wevtutil" command reference.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timezone
from typing import Iterable
from xml.sax.saxutils import escape

__all__ = ["EVENT_NS", "event_xml", "events_document", "event_stream", "systemtime", "filetime_text"]

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"

_LEVEL_NAMES = {1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose", 0: "Information"}
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEXT_ENTITIES = {"\r": "&#13;", "\n": "&#10;"}
# Attributes are single-quoted, as Windows writes them.
_ATTR_ENTITIES = {"'": "&apos;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def systemtime(t: datetime) -> str:
    """``2014-10-20T23:19:05.1234560Z``: UTC, seven fractional digits (100 ns FILETIME ticks)."""
    t = _utc(t)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}0Z"


def filetime_text(t: datetime) -> str:
    """A time inside EventData (Kernel-General OldTime/NewTime/StartTime): nine digits."""
    t = _utc(t)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}000Z"


def _check(value: str) -> str:
    m = _BAD_XML.search(value)
    if m:
        raise ValueError(f"character {m.group(0)!r} cannot be written in XML 1.0: {value[:60]!r}")
    return value


def _text(value: object) -> str:
    return escape(_check(str(value)), _TEXT_ENTITIES)


def _attr(value: object) -> str:
    return "'" + escape(_check(str(value)), _ATTR_ENTITIES) + "'"


def event_xml(*, provider: str, event_id: int, logged: datetime, computer: str, channel: str, record_id: int,
              level: int = 4, data: dict[str, str] | list[str] | None = None, user_sid: str | None = None,
              process_id: int | None = None, qualifiers: int | None = None, message: str | None = None,
              provider_guid: str | None = None, thread_id: int | None = None, task: int = 0,
              keywords: str = "0x80000000000000", binary: bytes | None = None) -> str:
    """One ``<Event>`` element on one line.

    ``data`` as a dict becomes ``<Data Name='k'>v</Data>`` (manifest providers); as a
    list, unnamed ``<Data>`` elements (classic event-message-file providers such as
    Service Control Manager and the Lync Server sources). ``message`` adds the
    ``RenderingInfo`` that RenderedXml carries. Without ``process_id`` the
    ``Execution`` element is left out; ``thread_id`` defaults to a stable number
    derived from the record.
    """
    prov = f"<Provider Name={_attr(provider)}"
    if provider_guid:
        prov += f" Guid={_attr(provider_guid)}"
    elif qualifiers is not None:
        # Classic sources name themselves twice, as Windows renders them.
        prov += f" EventSourceName={_attr(provider)}"
    prov += "/>"
    eid = f"<EventID Qualifiers={_attr(qualifiers)}>{int(event_id)}</EventID>" if qualifiers is not None \
        else f"<EventID>{int(event_id)}</EventID>"
    parts = [
        f"<Event xmlns={_attr(EVENT_NS)}><System>",
        prov,
        eid,
        "<Version>0</Version>",
        f"<Level>{int(level)}</Level>",
        f"<Task>{int(task)}</Task>",
        "<Opcode>0</Opcode>",
        f"<Keywords>{_text(keywords)}</Keywords>",
        f"<TimeCreated SystemTime={_attr(systemtime(logged))}/>",
        f"<EventRecordID>{int(record_id)}</EventRecordID>",
        "<Correlation/>",
    ]
    if process_id is not None:
        if thread_id is None:
            thread_id = 4 * (zlib.crc32(f"{process_id}/{record_id}".encode()) % 2048 + 16)
        parts.append(f"<Execution ProcessID={_attr(int(process_id))} ThreadID={_attr(int(thread_id))}/>")
    parts.append(f"<Channel>{_text(channel)}</Channel>")
    parts.append(f"<Computer>{_text(computer)}</Computer>")
    parts.append(f"<Security UserID={_attr(user_sid)}/>" if user_sid else "<Security/>")
    parts.append("</System>")
    if data is None and binary is None:
        parts.append("<EventData/>")
    else:
        parts.append("<EventData>")
        if isinstance(data, dict):
            parts += [f"<Data Name={_attr(k)}>{_text(v)}</Data>" for k, v in data.items()]
        elif data is not None:
            parts += [f"<Data>{_text(v)}</Data>" for v in data]
        if binary is not None:
            parts.append(f"<Binary>{binary.hex().upper()}</Binary>")
        parts.append("</EventData>")
    if message is not None:
        parts.append("<RenderingInfo Culture='en-US'>"
                     f"<Message>{_text(message)}</Message>"
                     f"<Level>{_LEVEL_NAMES.get(int(level), 'Information')}</Level>"
                     f"<Channel>{_text(channel)}</Channel>"
                     f"<Provider>{_text(provider)}</Provider>"
                     "</RenderingInfo>")
    parts.append("</Event>")
    return "".join(parts)


def events_document(events: Iterable[str]) -> str:
    """Event Viewer "Save as XML": a declaration and an ``<Events>`` root."""
    return '<?xml version="1.0" encoding="utf-8"?>\n<Events>' + "\n".join(events) + "</Events>\n"


def event_stream(events: Iterable[str]) -> str:
    """``wevtutil qe /f:RenderedXml`` output: one ``<Event>`` per line, no root."""
    text = "\n".join(events)
    return text + "\n" if text else ""
