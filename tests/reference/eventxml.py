"""The event-XML reader as it was before the template fast path (commit 5ec4daf), kept as the
reference the fast reader must equal, row for row and quarantine for quarantine.

Windows event XML exports as events.

Reads the two shapes Windows produces:

* Event Viewer "Save as XML" and ``wevtutil epl``-style exports: an ``<Events>`` root
  holding ``<Event>`` elements;
* ``wevtutil qe /f:xml`` / ``/f:RenderedXml`` and ``Get-WinEvent ... | ToXml()``
  output: a bare stream of ``<Event>`` elements with no root.

Each ``<Event>`` element is parsed on its own, so one damaged record costs only itself.
DTDs and entity declarations are refused (defusedxml) and the region that carries them
is quarantined: an event log has no business declaring entities, and expanding them is
how XML bombs and external-entity reads work. Events are rendered into the JSON shape
of the ``evtx`` package and share its normalisation (:mod:`.winevent`); the
``RenderingInfo/Message`` of RenderedXml, when present, becomes the event's message.

References: Microsoft, "Event Schema" (``EventType``, ``RenderingInfoType``);
"wevtutil" command reference; defusedxml documentation.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator
from xml.etree.ElementTree import Element

import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from skewsleuth.sources.base import BATCH_ROWS, FileContext, UnusableFile
from skewsleuth.sources.winevent import normalize

FORMAT = "eventxml"

# A DOCTYPE is allowed here only so that such a file is recognised, read, and its
# declarations quarantined, rather than rejected as an unknown format.
_HEAD = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*"
                   rb"(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?(?:<!--.*?-->\s*)*<(?:Events|Event)[\s>/]", re.S)
_EVENT_OPEN = re.compile(r"<Event[\s>]")
_EVENT_CLOSE = "</Event>"
_DECLARATION = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.I)
# What may stand between events without being a record: the prolog, the <Events>
# wrapper, comments and white space.
_FILLER = re.compile(r"^(?:\s+|<\?xml[^>]*\?>|</?Events(?:\s[^>]*)?>|<!--.*?-->)*$", re.S)
_CHUNK = 1 << 20


def sniff(head: bytes) -> bool:
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        try:
            head = head.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return False
    return bool(_HEAD.match(head))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _node(el: Element) -> Any:
    """Element -> the evtx package's JSON rendering (attributes, #text, children)."""
    out: dict[str, Any] = {}
    if el.attrib:
        out["#attributes"] = {_local(k): v for k, v in el.attrib.items()}
    for child in el:
        key = _local(child.tag)
        value = _node(child)
        if key in out:
            prev = out[key]
            out[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[key] = value
    text = (el.text or "").strip()
    if not out:
        return _scalar(text) if text else None
    if text:
        out["#text"] = _scalar(text)
    return out


def _scalar(text: str) -> Any:
    return int(text) if text.isdigit() and len(text) < 19 else text


def _event_data(el: Element) -> dict[str, Any]:
    # Named <Data Name="X">v</Data> become {"X": v}; unnamed ones a list under "Data",
    # as the evtx package renders them.
    named: dict[str, Any] = {}
    unnamed: list[Any] = []
    for child in el:
        tag = _local(child.tag)
        text = child.text or ""
        if tag == "Data" and "Name" in child.attrib:
            named[child.attrib["Name"]] = _scalar(text.strip()) if text.strip() else text
        elif tag == "Data":
            unnamed.append(text)
        else:
            named[tag] = _node(child)
    if unnamed:
        named["Data"] = {"#text": unnamed if len(unnamed) > 1 else unnamed[0]}
    return named


def _render(root: Element) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for part in root:
        name = _local(part.tag)
        if name == "EventData":
            event[name] = _event_data(part)
        elif name == "RenderingInfo":
            info = {_local(c.tag): (c.text or "") for c in part if len(c) == 0}
            event[name] = info
        else:
            event[name] = _node(part)
    return {"Event": event}


def _decode(head: bytes) -> str:
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return "utf-16"
    return "utf-8"


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    with open(ctx.path, "rb") as fh:
        head = fh.read(4)
        if not head:
            raise UnusableFile("empty file")
        fh.seek(0)
        encoding = _decode(head)
        import codecs

        reader = codecs.getreader(encoding)(fh, errors="replace")
        yield from _read_stream(reader, ctx)


def _read_stream(reader: Any, ctx: FileContext) -> Iterator[pa.RecordBatch]:
    nos: list[int] = []
    ids: list[int | None] = []
    jsons: list[str] = []
    ordinal = 0
    buf = ""
    eof = False

    def between(text: str) -> None:
        nonlocal ordinal
        if _FILLER.match(text):
            return
        if _DECLARATION.search(text):
            ctx.quarantine(ordinal, "DTD or entity declaration refused", text.strip())
        else:
            ctx.quarantine(ordinal, "text outside any <Event> element", text.strip())
        ordinal += 1

    while True:
        if not eof:
            chunk = reader.read(_CHUNK)
            if chunk:
                buf += chunk
            else:
                eof = True
        pos = 0
        while True:
            m = _EVENT_OPEN.search(buf, pos)
            if not m:
                break
            end = buf.find(_EVENT_CLOSE, m.end())
            nxt = _EVENT_OPEN.search(buf, m.end())
            if end < 0 and not eof:
                break  # the rest of this event is in the next chunk
            between(buf[pos:m.start()])
            if end < 0 or (nxt is not None and nxt.start() < end):
                # An <Event> that never closes before the next one opens: truncated.
                stop = nxt.start() if nxt is not None else len(buf)
                ctx.quarantine(ordinal, "truncated <Event> element (no </Event>)", buf[m.start():stop])
                ordinal += 1
                pos = stop
                continue
            text = buf[m.start():end + len(_EVENT_CLOSE)]
            pos = end + len(_EVENT_CLOSE)
            try:
                rendered = _render(fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True))
            except (ParseError, DefusedXmlException, ValueError) as exc:
                ctx.quarantine(ordinal, f"malformed event XML: {exc}", text)
                ordinal += 1
                continue
            nos.append(ordinal)
            ids.append(None)
            jsons.append(json.dumps(rendered, ensure_ascii=False))
            ordinal += 1
            if len(nos) >= BATCH_ROWS:
                batch = normalize(nos, ids, jsons, ctx, FORMAT)
                nos, ids, jsons = [], [], []
                if batch is not None:
                    yield batch
        buf = buf[pos:]
        if eof:
            break
    if buf.strip():
        between(buf)
    batch = normalize(nos, ids, jsons, ctx, FORMAT)
    if batch is not None:
        yield batch
