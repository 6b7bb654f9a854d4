"""Lync / Skype for Business SIPStack text traces (CLS logger, OCSLogger) as events.

Yields one event per trace record, ``format="sipstack"``, ``channel="SIPStack"``,
``provider`` = the component named in the record's first line (``SIPStack``),
``host`` = the file's default host (these traces never name the host that wrote
them), ``event_id`` None.

A record runs from a first line carrying the trace level, flag, process.thread ids,
the time and the component, ending in ``$$begin_record``, to ``$$end_record``::

    TL_INFO(TF_PROTOCOL) [0]0AF0.0C6C::10/20/2014-23:19:05.123.0000a1b2 (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record
    Trace-Correlation-Id: 2003888399
    Instance-Id: 0000C23F
    Direction: incoming;source="internal edge";destination="external edge"
    Peer: srv-lyncedge01.domain.com:5061
    Message-Type: response
    Start-Line: SIP/2.0 429 Provide Referrer Identity
    From: ...
    ms-diagnostics: 1020;reason="...";HRESULT="0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)"
    Message-Body: -
    $$end_record

Diagnostic records (``TL_WARN(TF_DIAG)``, ``TL_ERROR(TF_DIAG)``) have the same framing
with ``LogType``, ``Severity``, ``Text``, ``Result-Code``, ``SIP-Start-Line``,
``SIP-Call-ID``, ``SIP-CSeq``, ``Peer`` and ``Data`` lines. The time
``MM/DD/YYYY-HH:MM:SS.mmm`` is UTC as read from the writing host's clock (a logged
time). A ``TL_...(TF_...)`` line without ``$$begin_record`` is a one-line record; its
message is the text after the component.

``message`` is the record's lines (without the first line) joined with newlines,
followed by the message body cut to ``BODY_LIMIT`` characters. ``data`` holds, when
present: ``level``, ``flag``, ``direction`` (``incoming``/``outgoing``), ``peer``,
``message_type``, ``start_line``, ``call_id``, ``cseq``, ``from``, ``to``,
``result_code`` and ``headers``. ``start_line``, ``call_id`` and ``cseq`` come from
``Start-Line``/``Call-ID``/``CSeq`` or the diagnostic ``SIP-*`` lines.
``result_code`` is ``"0x<hex> <NAME>"`` (hex lower-cased) from ``Result-Code``, or
else from the ``HRESULT`` of an ``ms-diagnostics`` header, so that a 429 response and
a diagnostic record for the same failure carry the same code. ``headers`` maps every
other ``Name: value`` line, lower-cased, to its value (repeated names joined with
", ", folded lines unfolded); SIP headers that also have a key above (``from``,
``to``, ``call-id``, ``cseq``) stay in it too.

Damage: a record without a parseable time, a ``$$begin_record`` not closed before the
next record or the end of the file, a record with NUL bytes among its header lines,
and every run of non-blank text between records (binary junk included) are each
quarantined as one record; reading carries on. ``record_no`` counts records and
quarantined runs alike, from 0.

References: Microsoft Learn, "Centralized Logging Service in Skype for Business
Server" and "Using the Lync Server 2013 Logging Tool" (OCSLogger / Snooper);
[MS-OCER] Client Error Reporting Protocol Extensions (``ms-diagnostics``);
[MS-SIPRE] SIP Routing Extensions; RFC 3261 section 7.3 (header fields).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import EventBatchBuilder, FileContext
from .contract import Source, peer_host_sql
from .syslog_lines import looks_like_syslog
from .textinput import EVTX_MAGIC, XML_STARTS, decode_head, first_line, line_blocks
from .timeparse import UTC, micros

FORMAT = "sipstack"
CHANNEL = "SIPStack"

BODY_LIMIT = 4096
# Header lines kept per record: an unterminated record followed by megabytes of text
# must not grow without bound.
MAX_RECORD_LINES = 1000
MAX_VALUE = 16 * 1024

_BEGIN = "$$begin_record"
_END = "$$end_record"
_TL = re.compile(r"[ \t]*(TL_[A-Z]+)[ \t]*\([ \t]*(TF_[A-Z_]+)[ \t]*\)")
_TL_LINE = re.compile(r"^[ \t]*TL_[A-Z]+[ \t]*\([ \t]*TF_[A-Z_]+", re.M)
_TS = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})-(\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
# After the time: ".0000a1b2 (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))"
_COMPONENT = re.compile(r"[^\s(]*[ \t]*\([ \t]*([^,()\s]+)[^()]*(?:\([^()]*\)[^()]*)*\)")
_CODE = re.compile(r"(0x[0-9A-Fa-f]{1,8})[ \t]*\(?[ \t]*([A-Za-z][A-Za-z0-9_]*)?")
_HRESULT = re.compile(r'HRESULT\s*=\s*"?\s*(0x[0-9A-Fa-f]{1,8})[ \t]*\(?[ \t]*([A-Za-z][A-Za-z0-9_]*)?')
_INLINE_RESULT = re.compile(r"Result-Code:\s*(0x[0-9A-Fa-f]{1,8})[ \t]*\(?[ \t]*([A-Za-z][A-Za-z0-9_]*)?")

# Record-level lines that become their own ``data`` keys rather than ``headers``.
_RECORD_FIELDS = frozenset({"direction", "peer", "message-type", "start-line", "sip-start-line", "sip-call-id",
                            "sip-cseq", "result-code"})


def sniff(head: bytes) -> bool:
    if head.startswith(EVTX_MAGIC):
        return False
    text = decode_head(head)
    line, _ = first_line(text)
    if line is None:
        return False
    start = line.lstrip()
    if start.startswith("{") or start.startswith(XML_STARTS) or looks_like_syslog(line):
        return False
    return _BEGIN in text or _TL_LINE.search(text) is not None


class _Record:
    """One record being read: its first line and its lines so far."""

    __slots__ = ("no", "prefix", "lines", "headers", "body", "body_len", "in_body", "last_key", "nul", "dropped")

    def __init__(self, no: int, prefix: str) -> None:
        self.no = no
        self.prefix = prefix
        self.lines: list[str] = []
        self.headers: dict[str, str] = {}
        self.body: list[str] = []
        self.body_len = 0
        self.in_body = False
        self.last_key: str | None = None
        self.nul = False
        self.dropped = 0

    def add(self, line: str) -> None:
        if self.in_body:
            if self.body_len < BODY_LIMIT:
                self.body.append(line)
            self.body_len += len(line) + 1
            return
        s = line.strip()
        if not s:
            return
        if len(self.lines) >= MAX_RECORD_LINES:
            self.dropped += 1
            return
        if len(s) > MAX_VALUE:
            s = s[:MAX_VALUE]
        if "\x00" in s:
            self.nul = True
        key = self.last_key
        if key is not None and line[0] in " \t":
            # A folded header value (RFC 3261 7.3.1) continues the previous line.
            self.headers[key] += " " + s
            self.lines[-1] += " " + s
            return
        name, sep, value = s.partition(":")
        name = name.rstrip()
        if not sep or not name or " " in name:
            self.lines.append(s)
            self.last_key = None
            return
        key = name.lower()
        value = value.strip()
        if key == "message-body":
            self.in_body = True
            if value and value != "-":
                self.body.append(value)
                self.body_len = len(value) + 1
            return
        self.lines.append(s)
        old = self.headers.get(key)
        self.headers[key] = value if old is None else old + ", " + value
        self.last_key = key

    def raw(self) -> str:
        return self.prefix + _BEGIN + "\n" + "\n".join(self.lines[:4])


def _head(line: str) -> tuple[datetime | None, str, dict[str, Any], str | None, int]:
    """Parse a record's first line: (logged or None, reason, data, provider, end)."""
    m = _TS.search(line)
    if m is None:
        return None, "no MM/DD/YYYY-HH:MM:SS time on the record's first line", {}, None, 0
    mo, d, y, hh, mi, ss, frac = m.groups()
    try:
        logged = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss), micros(frac), tzinfo=UTC)
    except ValueError as exc:
        return None, f"invalid time {m.group(0)!r}: {exc}", {}, None, 0
    data: dict[str, Any] = {}
    t = _TL.match(line)
    if t is not None:
        data["level"], data["flag"] = t.group(1), t.group(2)
    c = _COMPONENT.match(line, m.end())
    if c is None:
        return logged, "", data, None, m.end()
    return logged, "", data, c.group(1), c.end()


def _code(m: re.Match[str] | None) -> str | None:
    if m is None:
        return None
    return m.group(1).lower() + (" " + m.group(2) if m.group(2) else "")


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    add = builder.add
    host = ctx.default_host
    quarantine = ctx.quarantine
    no = 0
    rec: _Record | None = None
    junk = 0
    junk_first = ""
    junk_binary = False

    def emit(rec: _Record) -> None:
        logged, reason, data, provider, _ = _head(rec.prefix)
        if logged is None:
            quarantine(rec.no, reason, rec.raw())
            return
        if rec.nul:
            quarantine(rec.no, "binary data (NUL bytes) inside the record", rec.raw())
            return
        h = rec.headers
        v = h.get("direction")
        if v is not None:
            data["direction"] = v.split(";", 1)[0].strip().lower()
        v = h.get("peer")
        if v is not None:
            data["peer"] = v
        v = h.get("message-type")
        if v is not None:
            data["message_type"] = v.lower()
        for key, names in (("start_line", ("start-line", "sip-start-line")), ("call_id", ("call-id", "sip-call-id", "i")),
                           ("cseq", ("cseq", "sip-cseq")), ("from", ("from", "f")), ("to", ("to", "t"))):
            for name in names:
                v = h.get(name)
                if v is not None:
                    data[key] = v
                    break
        v = h.get("result-code")
        code = (_code(_CODE.match(v)) or v) if v is not None else None
        if code is None and "text" in h:
            code = _code(_INLINE_RESULT.search(h["text"]))
        if code is None and "ms-diagnostics" in h:
            code = _code(_HRESULT.search(h["ms-diagnostics"]))
        if code:
            data["result_code"] = code
        headers = {k: v for k, v in h.items() if k not in _RECORD_FIELDS}
        if headers:
            data["headers"] = headers
        message = "\n".join(rec.lines)
        if rec.dropped:
            message += f"\n… [{rec.dropped} more lines]"
        if rec.body:
            body = "\n".join(rec.body)
            if rec.body_len > BODY_LIMIT or len(body) > BODY_LIMIT:
                body = body[:BODY_LIMIT] + f"… [{rec.body_len} chars]"
            message += "\nMessage-Body: " + body
        add(record_no=rec.no, host=host, logged=logged, format=FORMAT, channel=CHANNEL, provider=provider,
            message=message, data=data)

    def one_line(line: str, record_no: int) -> None:
        logged, reason, data, provider, end = _head(line)
        if logged is None:
            quarantine(record_no, reason, line)
            return
        add(record_no=record_no, host=host, logged=logged, format=FORMAT, channel=CHANNEL, provider=provider,
            message=line[end:].strip()[:MAX_VALUE], data=data)

    def end_junk() -> None:
        nonlocal no, junk, junk_binary
        what = "binary data" if junk_binary else "text"
        quarantine(no, f"{what} outside any record ({junk} line{'s' if junk > 1 else ''})", junk_first)
        no += 1
        junk = 0
        junk_binary = False

    for lines in line_blocks(ctx):
        for line in lines:
            if rec is not None:
                if "$$" in line:
                    i = line.find(_END)
                    if i >= 0:
                        if i and not line[:i].isspace():
                            rec.add(line[:i])
                        emit(rec)
                        rec = None
                        if builder.full():
                            yield builder.flush()  # type: ignore[misc]
                        continue
                    if _BEGIN not in line:
                        rec.add(line)
                        continue
                elif line[:1] not in ("T", " ", "\t") or _TL.match(line) is None:
                    rec.add(line)
                    continue
                # A new record starts before this one ended: the trace was cut short.
                quarantine(rec.no, "record not closed by $$end_record before the next record", rec.raw())
                rec = None
            if not line or line.isspace():
                continue
            i = line.find(_BEGIN)
            if i >= 0:
                if junk:
                    end_junk()
                rec = _Record(no, line[:i])
                no += 1
                continue
            if _TL.match(line) is not None:
                if junk:
                    end_junk()
                one_line(line, no)
                no += 1
                if builder.full():
                    yield builder.flush()  # type: ignore[misc]
                continue
            if not junk:
                junk_first = line
            junk += 1
            if "\x00" in line:
                junk_binary = True

    if rec is not None:
        quarantine(rec.no, "record not closed by $$end_record (end of file)", rec.raw())
    if junk:
        end_junk()
    if no == 0:
        raise UnusableFile("no SIPStack records (blank file)")
    batch = builder.flush()
    if batch is not None:
        yield batch


# --- what later stages need of these records (see .contract) ---------------------------------

_PEER = peer_host_sql("json_extract_string(data, '$.peer')")
SOURCE = Source(
    FORMAT, platform="windows", messages="sip", peer_sql=_PEER,
    # The names Lync servers give each other, their peers and the Edge an ms-ep-fqdn
    # names, let a trace that only knows its folder's short name find its FQDN.
    host_names_sql=(_PEER, "regexp_extract(message, 'ms-ep-fqdn=([A-Za-z0-9_.-]+)', 1)"),
    # What a person needs to see of a SIP record: its start line and diagnostics rather
    # than its first header line.
    excerpt_sql="""concat_ws(' | ',
                      json_extract_string(data, '$.start_line'),
                      json_extract_string(data, '$.headers."ms-diagnostics"'),
                      json_extract_string(data, '$.result_code'),
                      json_extract_string(data, '$.headers.text'))""",
)
