"""Structured application logs (JSON Lines) and OpenTelemetry spans as events.

Two line shapes, told apart line by line; a file is sniffed from its first non-blank
line (a JSON object with a usable timestamp field, or an OTLP ``resourceSpans``
object), never from its name.

**Structured log lines** as logging libraries write them, one JSON object a line:
python-json-logger, structlog, logback with logstash-logback-encoder, log4j2
``JsonLayout``, Serilog compact JSON (CLEF), Go zap / zerolog / logrus / slog,
Bunyan and pino, ECS loggers, docker ``json-file`` logs, nginx / envoy JSON access
logs. One event per line, ``format="applog"``, ``channel="applog"``:

* ``logged`` = the first of ``@timestamp``, ``timestamp``, ``time``, ``ts``, ``@t``,
  ``t``, ``datetime``, ``asctime``, ``Timestamp``, ``timeMillis``, ``instant``,
  ``time_iso8601``, ``time_local``, ``start_time`` that holds a usable time (the
  host's clock). Accepted values: ISO 8601 / RFC 3339 (``T`` or space, ``.`` or
  ``,`` before up to nine fraction digits, ``Z`` / ``±hh:mm`` / ``±hhmm`` / ``±hh``);
  nginx ``$time_local`` (``14/Nov/2023:22:13:20 +0000``); epoch numbers (or strings
  of 9 or more digits) in seconds, milliseconds, microseconds or nanoseconds, the unit
  read from the magnitude (< 1e11 s, < 1e14 ms, < 1e17 µs, else ns); log4j2's
  ``{"epochSecond", "nanoOfSecond"}`` and ``{"seconds", "nanos"}`` objects. A time
  without an offset (python-json-logger's ``asctime``) is read in ``ctx.timezone``
  as syslog does (daylight-saving ambiguity resolved and noted the same way) and
  flagged ``"tz_assumed": true``. Times before 1970 or after 9999 are quarantined.
* ``message`` = the first string of ``message``, ``msg``, ``@m`` (Serilog rendered),
  ``@mt`` (Serilog template), ``log`` (docker), ``Message``, ``event`` (structlog's
  default key), ``RenderedMessage``, ``MessageTemplate`` (Serilog's ``JsonFormatter``);
  cut at 64 KiB. None for access logs, which have no message.
* ``host`` = ``host`` (a string, or an object's ``name`` / ``hostname``; a string
  ``host`` on an access-log line, one with ``remote_addr`` / ``request_method`` /
  ``http_user_agent`` / ``upstream_addr``, is the HTTP Host header and not used),
  ``hostname``, ``host.name``, ``host.hostname``, ``@h``, ``HOSTNAME``,
  ``MachineName`` / ``Properties.MachineName`` (Serilog's ``WithMachineName``); else
  the file's default host.
* ``provider`` = ``service`` / ``service.name``, ``logger``, ``logger_name``,
  ``app``, ``loggerName``, ``SourceContext``, ``log.logger``, ``Category``; then
  ``name`` on Bunyan / pino lines (with ``hostname`` and ``pid``) and
  python-json-logger lines (with ``levelname``), where it is the logger's name.

A dotted name (``host.name``) is looked up as a flat key first, then as nested
objects (``{"host": {"name": ...}}``).

**OpenTelemetry Collector file exporter output**: one OTLP/JSON
``ExportTraceServiceRequest`` a line (``{"resourceSpans": [{"resource": ...,
"scopeSpans": [{"scope": ..., "spans": [...]}]}]}``; or ``instrumentationLibrarySpans``,
the older name of ``scopeSpans``). One event per span, ``channel="otlp"``:
``logged`` = ``startTimeUnixNano``, ``host`` = the resource's ``host.name`` (else the
file's default host, flagged ``"host_assumed": true``: a central collector writes
spans from many hosts), ``provider`` = the resource's ``service.name``, ``message``
= the span name. Per the OTLP/JSON encoding ids are case-insensitive hex (base64, as
protobuf's own JSON mapping writes them, is accepted too), 64-bit integers are
decimal strings or numbers, enums are integers (the ``SPAN_KIND_SERVER`` names are
accepted too). Records are counted per span: a line with N spans is N records, and a
damaged container (a ``scopeSpans`` entry that is not an object, ...) is one
quarantined record; a line holding no spans at all is quarantined as one record.

``data`` (JSON) of every event::

    {"corr":   {...},   # normalised correlation fields, only those present
     "fields": {...},   # every other scalar, by its name or dotted path
     "tz_assumed": true, "tz_resolution": "ambiguous", "tz_fold": 1,   # when so
     "traceparent_invalid": true, "host_assumed": true,                 # when so
     "fields_cut": true}                                                # when so

``corr`` keys:

* ``request_id`` (str): ``request_id`` (structlog, zap, nginx ``$request_id``),
  ``requestId``, ``requestID`` (Go), ``x-request-id``, ``x_request_id``,
  ``X-Request-ID`` (envoy ``%REQ(X-REQUEST-ID)%``), ``req_id``, ``reqId`` (pino /
  fastify child loggers), ``correlation_id``, ``correlationId``, ``RequestId``
  (Serilog / ASP.NET), ``http.request_id``, ``http.request.id`` (ECS), ``req.id``
  (pino-http), ``mdc.requestId``, ``mdc.request_id``, ``mdc.X-Request-ID``,
  ``mdc.x-request-id`` (logback's ``JsonEncoder`` writes the MDC as an ``mdc``
  object), ``Properties.RequestId`` (Serilog's ``JsonFormatter``); a number is
  written as its decimal string;
* ``trace_id`` (32 lower-case hex; 64-bit ids are 16), ``span_id``,
  ``parent_span_id`` (16 lower-case hex): ``trace_id`` / ``traceId`` / ``trace.id``
  / ``dd.trace_id`` (Datadog's decimal ids are converted) / ``@tr`` (Serilog) /
  ``otelTraceID`` (OpenTelemetry logging instrumentation) / ``TraceId``; likewise
  for spans and parents; shorter hex (Jaeger drops leading zeros) is zero-padded.
  Then a W3C ``traceparent`` (``00-<trace-id>-<parent-id>-<flags>``), validated per
  the spec (lower-case hex, version ``ff`` and all-zero ids invalid, version 00
  exactly 55 characters): on a server / consumer (or, kind unknown, incoming) record
  its parent-id is the caller's span and fills ``parent_span_id``; on a client /
  producer (or outgoing) record it fills ``span_id``; it always fills ``trace_id``.
  Explicit id fields win. An invalid traceparent is ignored and flagged
  ``"traceparent_invalid": true``; the record is still ingested.
* ``kind``: ``client`` / ``server`` / ``producer`` / ``consumer`` / ``internal`` (OTLP
  ``kind``; fields ``span.kind``, ``kind``, ``span_kind``, any case, with or without
  ``SPAN_KIND_``);
* ``direction``: ``outgoing`` / ``incoming``, from a ``direction`` field (out,
  outgoing, outbound, sent, send, egress / in, incoming, inbound, received,
  receive, ingress) or else from the kind (client, producer -> outgoing; server,
  consumer -> incoming);
* ``phase``: ``request`` / ``response`` from ``phase``, ``message_type`` or ``type``;
* ``end_us`` (int, epoch microseconds by the same host's clock): OTLP
  ``endTimeUnixNano``, or an ``end`` / ``end_time`` timestamp field within a day of
  ``logged`` (another day's time is some other kind of "end" and left in ``fields``);
* ``request_start_us`` / ``request_end_us`` (int, epoch microseconds by the same
  host's clock): the other end of the request an access log line covers, from nginx
  ``request_time`` (seconds, a number or a string) on a line timed by ``time_local`` /
  ``time_iso8601`` (the write, at the request's end), or envoy ``duration``
  (milliseconds) on a line timed by ``start_time``; each the earliest it can be (a
  millisecond less for nginx's duration), the duration read to the millisecond;
* ``peer`` (str, as written): ``peer``, ``peer.hostname``, ``net.peer.name``,
  ``server.address`` (outgoing records only), ``client.address`` (incoming only),
  ``upstream_addr``, ``remote_addr``.

For a span, ``request_id`` and ``peer`` are read from its attributes by the same
names; ids, kind, direction and ``end_us`` from the span itself.

``fields`` holds each string (cut at 64 KiB), number or boolean of the line except
those that became ``logged``, ``message``, ``host`` and ``provider``, so that users can
name their own correlation keys (``order_id``) and rules their own fields: a top-level
one by its name, a nested one by its dotted path, as ECS names fields and
Elasticsearch flattens objects (``{"err": {"stack": ...}}`` is ``"err.stack"``, pino's
``req.id``, ECS ``http.request.id`` and ``error.message``), a list's items by index
(structlog's ``dict_tracebacks``: ``exception.0.exc_type``). A flat key wins over the
nested path it spells, as for the fields above. Shallower values come first, and a
line keeps at most 256 nested values, 8 names deep, paths of 256 characters and 256
KiB of nested text; the rest is left out and ``"fields_cut": true`` says so. The
``message`` stays what the logger wrote: an error's text nested beside it (pino's
``err.stack``) reaches a rule's ``Message`` through ``data``, which ``Message`` spans.
For a span, ``fields`` holds its string, int and bool attributes by key.

Files of 128 KiB and more are read in blocks, lines of one shape (keys and the kinds
of their values) together, by Arrow's JSON reader (:mod:`.applog_columns`), which
hands the lines it cannot build exactly to :func:`read_line`; ``read(ctx,
columnar=False)`` reads every line with ``read_line``, the reference the blocks must
equal.

Blank lines are skipped. A line that is not a JSON object (or nests deeper than the
parser allows), has no usable timestamp, or a span without a usable start time, is
quarantined with a reason and reading carries on. JSON ``NaN`` / ``Infinity`` and
numbers that overflow a float read as null; lone UTF-16 surrogates as U+FFFD.

References: RFC 3339; OTLP specification, "JSON Protobuf Encoding"
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding); OpenTelemetry
"File Exporter" (JSON Lines); W3C Trace Context, "traceparent Header"
(https://www.w3.org/TR/trace-context/#traceparent-header); Serilog CLEF
(https://clef-json.org/); ECS field reference (dotted field names); nginx ``log_format
escape=json``; pino-std-serializers ``err`` / ``req``; bunyan ``stdSerializers.err``;
ecs-logging-python / ecs-logging-nodejs (``error.*``, ``http.request.id``); structlog
``dict_tracebacks``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta
from typing import Any, Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import EventBatchBuilder, FileContext
from .contract import Source
from .textinput import CUT_SHORT, file_size, first_json_line, json_line, line_blocks
from .timeparse import EPOCH, MONTHS, US, UTC, Localizer, leap_second, micros, note_zone, utc_offset

FORMAT = "applog"
CHANNEL = "applog"
OTLP_CHANNEL = "otlp"
# OTLP batches make long lines: the collector writes a whole export request on one
# (OTLP/HTTP servers accept 20 MiB bodies). Longer "lines" are cut and quarantined.
MAX_LINE = 32 << 20

_MAX_US = 253_402_300_800 * 1_000_000  # 10000-01-01T00:00:00Z
_MAX_TEXT = 64 * 1024
# Nested values are kept within bounds, so that no line (up to MAX_LINE) makes a record
# much larger than itself, as paths each repeating a long prefix would: names in a path
# (ECS's deepest field has 4, http.request.body.bytes; structlog's dict tracebacks 6,
# exception.0.frames.0.locals.token), characters in a path (a case file or a rule names
# a field in at most 128), values, and characters of their text.
_MAX_DEPTH = 8
_MAX_PATH = 256
_MAX_NESTED = 256
_MAX_NESTED_TEXT = 4 * _MAX_TEXT
_U64 = 1 << 64
_DAY = timedelta(days=1)

Group = tuple[tuple[str, ...], frozenset[str]]


def _group(*keys: str) -> Group:
    """Field names tried in order, with the set of top-level keys that can hold one
    (a dotted name also lives under its first part), to skip absent groups at once."""
    return keys, frozenset(keys) | frozenset(k.split(".", 1)[0] for k in keys)


_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "@t", "t", "datetime", "asctime", "Timestamp",
              "timeMillis", "instant", "time_iso8601", "time_local", "start_time")
_MESSAGE_KEYS = _group("message", "msg", "@m", "@mt", "log", "Message", "event", "RenderedMessage", "MessageTemplate")
_HOST_KEYS = _group("host", "hostname", "host.name", "host.hostname", "@h", "HOSTNAME", "MachineName",
                    "Properties.MachineName")
_ACCESS_HINTS = ("remote_addr", "request_method", "http_user_agent", "upstream_addr")
_PROVIDER_KEYS = _group("service", "service.name", "logger", "logger_name", "app", "loggerName", "SourceContext",
                        "log.logger", "Category")
# Where each logger puts one: structlog / zap / nginx ``$request_id`` / envoy ``%REQ(X-REQUEST-ID)%``
# under the name the configuration gives it; Go's ``requestID``; pino / fastify child
# loggers ``reqId``, pino-http ``req.id``; logback's own JsonEncoder writes the MDC as an
# ``mdc`` object (logstash-logback-encoder writes its keys at the top level); Serilog's
# JsonFormatter writes properties under ``Properties`` (CLEF at the top level).
_REQUEST_KEYS = _group("request_id", "requestId", "requestID", "x-request-id", "x_request_id", "X-Request-ID", "req_id",
                       "reqId", "correlation_id", "correlationId", "RequestId", "http.request_id", "http.request.id",
                       "req.id", "mdc.requestId", "mdc.request_id", "mdc.X-Request-ID", "mdc.x-request-id",
                       "Properties.RequestId")
_TRACE_KEYS = _group("trace_id", "traceId", "trace.id", "dd.trace_id", "@tr", "otelTraceID", "TraceId")
_SPAN_KEYS = _group("span_id", "spanId", "span.id", "dd.span_id", "@sp", "otelSpanID", "SpanId")
_PARENT_KEYS = _group("parent_span_id", "parentSpanId", "parent_id", "parent.id", "ParentId")
_KIND_KEYS = _group("span.kind", "kind", "span_kind")
_PHASE_KEYS = _group("phase", "message_type", "type")
_END_KEYS = ("end", "end_time")
_PEER_KEYS = _group("peer", "peer.hostname", "net.peer.name")
_PEER_LATE_KEYS = _group("upstream_addr", "remote_addr")
_PEER_OF_CLIENT = _group("server.address")
_PEER_OF_SERVER = _group("client.address")
_DIRECTION_KEYS = _group("direction")
_TRACEPARENT_KEYS = ("traceparent", "traceParent")
_WRITTEN_AT_END = ("time_local", "time_iso8601")   # nginx: the time the access log line is written
_MAX_REQUEST_S = 86400
_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,9})?\Z")

_KINDS = {"client": "client", "server": "server", "producer": "producer", "consumer": "consumer",
          "internal": "internal"}
_OTLP_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
DIRECTION_WORDS = {**dict.fromkeys(("out", "outgoing", "outbound", "sent", "send", "egress"), "outgoing"),
               **dict.fromkeys(("in", "incoming", "inbound", "received", "receive", "ingress"), "incoming")}
_KIND_DIRECTION = {"client": "outgoing", "producer": "outgoing", "server": "incoming", "consumer": "incoming"}
_PHASES = {"request": "request", "response": "response"}

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))? ?(Z|z|[+-]\d\d(?::?\d\d)?)?\Z")
_CLF = re.compile(r"(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([+-]\d\d(?::?\d\d)?)\Z")
_EPOCH_TEXT = re.compile(r"\d{9,20}(?:\.\d{1,9})?\Z")
_HEX = re.compile(r"[0-9a-f]+\Z")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z", re.S)
_KEY_HINT = re.compile(r'"(?:@timestamp|timestamp|time|ts|@t|datetime|asctime|Timestamp|timeMillis|time_iso8601|'
                       r'time_local|start_time)"\s*:')
_MESSAGE_HINT = re.compile(r'"(?:message|msg|@m|@mt|log|Message|event|RenderedMessage|MessageTemplate)"\s*:')
_OTLP_HINT = re.compile(r'^\s*\{\s*"resourceSpans"\s*:\s*\[')
_JOURNALD_HINT = re.compile(r'"(?:__REALTIME_TIMESTAMP|MESSAGE)"\s*:')


def _finite(text: str) -> float | None:
    f = float(text)
    return f if f - f == 0 else None  # 1e999 is inf: JSON has no such number


def _no_constant(_name: str) -> None:
    return None  # NaN, Infinity, -Infinity are not JSON; read as null


_decoder = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)
_loads = _decoder.decode


def parse_json(line: str) -> Any:
    """One JSON value (NaN, Infinity and overflowing numbers read as null)."""
    return json_line(line, _loads)


# --- field access ------------------------------------------------------------------------


def _lookup(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]``; for a dotted key that is absent flat, the nested objects' value."""
    v = obj.get(key)
    if v is None and "." in key:
        v = obj
        for part in key.split("."):
            if v.__class__ is not dict:
                return None
            v = v.get(part)
    return v


def _values(obj: dict[str, Any], group: Group) -> Iterator[tuple[str, Any]]:
    """(key, value) of every key of ``group`` that ``obj`` holds, in the group's order."""
    keys, heads = group
    if obj.keys().isdisjoint(heads):
        return
    for key in keys:
        v = _lookup(obj, key)
        if v is not None:
            yield key, v


def _first_text(obj: dict[str, Any], group: Group) -> tuple[str | None, str | None]:
    """(value, key) of the first key of ``group`` holding a non-empty string."""
    for key, v in _values(obj, group):
        if v.__class__ is str and v:
            return v, key
    return None, None


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT]


# --- time ----------------------------------------------------------------------------------


def _epoch_us(v: int | float) -> int:
    """Epoch seconds / millis / micros / nanos, by magnitude, as microseconds."""
    a = abs(v)
    if a < 1e11:
        us = v * 1_000_000
    elif a < 1e14:
        us = v * 1000
    elif a < 1e17:
        us = v
    else:
        us = v // 1000 if v.__class__ is int else v / 1000
    return us if us.__class__ is int else int(round(us))


def _when(v: Any, localizer: Localizer, data: dict[str, Any] | None) -> datetime | str:
    """A timestamp field's value as UTC, or why it is not usable (a str). Notes on a
    local time (``tz_assumed``, ``tz_resolution``, ``tz_fold``) go into ``data``."""
    cls = v.__class__
    if cls is str:
        s = v.strip()
        m = _ISO.match(s)
        if m is not None:
            y, mo, d, hh, mi, ss, frac, zone = m.groups()
            sec, us = leap_second(int(ss), micros(frac))
            try:
                if zone is None:
                    logged, resolution, fold = localizer.to_utc(int(y), int(mo), int(d), int(hh), int(mi), sec, us)
                    if data is not None:
                        data["tz_assumed"] = True
                        note_zone(data, resolution, fold)
                else:
                    off = utc_offset(zone, checked=True)
                    if off is None:
                        return f"invalid UTC offset {zone!r}"
                    logged = datetime(int(y), int(mo), int(d), int(hh), int(mi), sec, us, tzinfo=UTC) - off
            except OverflowError:
                return "out of range (after 9999)"
            except ValueError as exc:
                return f"invalid date or time: {exc}"
            if logged < EPOCH:
                return "out of range (before 1970)"
            return logged
        m = _CLF.match(s)
        if m is not None:
            d, mon, y, hh, mi, ss, frac, zone = m.groups()
            month = MONTHS.get(mon.title())
            off = utc_offset(zone, checked=True)
            if month is None or off is None:
                return "invalid date or UTC offset"
            try:
                # Not a leap second: any second past 59 reads as 59, the fraction kept.
                logged = datetime(int(y), month, int(d), int(hh), int(mi), min(int(ss), 59), micros(frac),
                                  tzinfo=UTC) - off
            except (ValueError, OverflowError) as exc:
                return f"invalid date or time: {exc}"
            return logged if logged >= EPOCH else "out of range (before 1970)"
        if _EPOCH_TEXT.match(s) is None:
            return "not an ISO 8601 time or epoch number"
        v = float(s) if "." in s else int(s)
    elif cls is dict:
        # log4j2 JsonLayout "instant", protobuf / Google Cloud Timestamp.
        sec, nanos = v.get("epochSecond", v.get("seconds")), v.get("nanoOfSecond", v.get("nanos", 0))
        if sec.__class__ is str and sec.isdigit() and sec.isascii() and len(sec) < 20:
            sec = int(sec)
        if sec.__class__ is not int or nanos.__class__ is not int or not 0 <= nanos < 1_000_000_000:
            return "not a time object (epochSecond/nanoOfSecond or seconds/nanos)"
        v = sec * 1_000_000 + nanos // 1000
        if not 0 <= v < _MAX_US:
            return "out of range (before 1970 or after 9999)"
        return EPOCH + timedelta(microseconds=v)
    elif cls is not int and cls is not float:
        return f"not a time ({cls.__name__})"
    us = _epoch_us(v)
    if us < 0:
        return "out of range (before 1970)"
    if us >= _MAX_US:
        return "out of range (after 9999)"
    return EPOCH + timedelta(microseconds=us)


def _timestamp(obj: dict[str, Any], localizer: Localizer,
               data: dict[str, Any] | None) -> tuple[datetime | str, str | None]:
    """(logged, key) from the first timestamp field that holds a usable time, else
    (reason, None) naming the first one present."""
    first: str | None = None
    for key in _TIME_KEYS:
        v = obj.get(key)
        if v is None:
            continue
        logged = _when(v, localizer, data)
        if logged.__class__ is not str:
            return logged, key
        if first is None:
            first = f"unusable timestamp {key}={_short(v)}: {logged}"
        if data:  # notes of a local time that was not used after all
            for note in ("tz_assumed", "tz_resolution", "tz_fold"):
                data.pop(note, None)
    return first or "no timestamp field (" + ", ".join(_TIME_KEYS[:8]) + ", ...)", None


def _short(v: Any) -> str:
    """A field value for a quarantine reason: short, and never a whole object."""
    if v.__class__ is dict or v.__class__ is list:
        return "{...}" if v.__class__ is dict else "[...]"
    text = v if v.__class__ is str else str(v)
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


# --- correlation ---------------------------------------------------------------------------


def _hex_id(v: Any, trace: bool) -> str | None:
    """A trace / span id as lower-case hex, zero-padded to 16 (or 32) digits."""
    if v.__class__ is not str:
        return None
    s = v.strip().lower()
    if s.startswith("0x"):
        s = s[2:]
    n = len(s)
    if not 0 < n <= (32 if trace else 16) or _HEX.match(s) is None or s.count("0") == n:
        return None
    return s.zfill(16 if n <= 16 else 32)


def _dd_id(v: Any, trace: bool) -> str | None:
    """Datadog's ``dd.trace_id`` / ``dd.span_id``: decimal 64-bit ids (128-bit trace
    ids are logged as 32 hex digits)."""
    if v.__class__ is int:
        v = str(v)
    if v.__class__ is str and v.isdigit() and v.isascii() and len(v) <= 20:
        n = int(v)
        return f"{n:016x}" if 0 < n < 1 << 64 else None
    return _hex_id(v, trace)


def _id_from(obj: dict[str, Any], group: Group, trace: bool) -> str | None:
    keys, heads = group
    if obj.keys().isdisjoint(heads):
        return None
    for key in keys:
        v = _lookup(obj, key)
        if v is not None:
            h = _dd_id(v, trace) if key.startswith("dd.") else _hex_id(v, trace)
            if h is not None:
                return h
    return None


def parse_traceparent(value: Any) -> tuple[str, str] | None:
    """(trace-id, parent-id) of a valid W3C ``traceparent`` value, else None."""
    if value.__class__ is not str:
        return None
    m = _TRACEPARENT.match(value.strip(" \t"))
    if m is None:
        return None
    version, trace_id, parent_id, _flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id


def _kind(v: Any) -> str | None:
    if v.__class__ is str:
        s = v.strip().lower()
        if s.startswith("span_kind_"):
            s = s[10:]
        return _KINDS.get(s)
    if v.__class__ is int:
        return _OTLP_KINDS.get(v)
    return None


def _word(obj: dict[str, Any], group: Group, table: dict[str, str]) -> str | None:
    for _, v in _values(obj, group):
        if v.__class__ is str:
            w = table.get(v.strip().lower())
            if w is not None:
                return w
    return None


def _peer(attrs: dict[str, Any], direction: str | None) -> str | None:
    peer, _ = _first_text(attrs, _PEER_KEYS)
    if peer is None and direction is not None:
        peer, _ = _first_text(attrs, _PEER_OF_CLIENT if direction == "outgoing" else _PEER_OF_SERVER)
    if peer is None:
        peer, _ = _first_text(attrs, _PEER_LATE_KEYS)
    return peer


def _request_id(obj: dict[str, Any]) -> str | None:
    for _, v in _values(obj, _REQUEST_KEYS):
        if v.__class__ is str:
            if v:
                return _cut(v)
        elif v.__class__ is int:
            return str(v)
    return None


def _amount(v: Any) -> float | None:
    """A number, or a string holding one (nginx writes ``"$request_time"`` quoted)."""
    if v.__class__ is int or v.__class__ is float:
        return float(v)
    if v.__class__ is str and _AMOUNT.match(v):
        return float(v)
    return None


def _request_span(obj: dict[str, Any], logged: datetime, time_key: str | None, corr: dict[str, Any]) -> None:
    """An access log line's request span, from the duration it logs: nginx
    ``$request_time`` (seconds to the millisecond, "since the first bytes were read from
    the client") ends at the line's ``$time_local`` / ``$time_iso8601`` (written once the
    request is over); envoy's ``%DURATION%`` (milliseconds, to the last byte out) starts
    at its ``%START_TIME%``. Each is set to the earliest instant it can be, both
    durations read to the millisecond (see clock.pairs)."""
    us = (logged - EPOCH) // US
    if time_key in _WRITTEN_AT_END:
        d = _amount(obj.get("request_time"))
        if d is not None and 0 <= d < _MAX_REQUEST_S:
            corr["request_start_us"] = us - round(d * 1_000_000) - 1000
    elif time_key == "start_time":
        d = _amount(obj.get("duration"))
        if d is not None and 0 <= d < _MAX_REQUEST_S * 1000:
            corr["request_end_us"] = us + round(d * 1000)


def _correlate(obj: dict[str, Any], logged: datetime, localizer: Localizer, data: dict[str, Any],
               time_key: str | None = None) -> dict[str, Any]:
    """The ``corr`` object of a structured log line logged at ``logged`` (from the
    field ``time_key``)."""
    corr: dict[str, Any] = {}
    _request_span(obj, logged, time_key, corr)
    v = _request_id(obj)
    if v is not None:
        corr["request_id"] = v
    for key, keys, trace in (("trace_id", _TRACE_KEYS, True), ("span_id", _SPAN_KEYS, False),
                             ("parent_span_id", _PARENT_KEYS, False)):
        h = _id_from(obj, keys, trace)
        if h is not None:
            corr[key] = h
    kind = None
    for key in () if obj.keys().isdisjoint(_KIND_KEYS[1]) else _KIND_KEYS[0]:
        v = _lookup(obj, key)
        if v.__class__ is str and (kind := _kind(v)) is not None:
            corr["kind"] = kind
            break
    direction = _word(obj, _DIRECTION_KEYS, DIRECTION_WORDS) or _KIND_DIRECTION.get(kind)  # type: ignore[arg-type]
    if direction is not None:
        corr["direction"] = direction
    for key in _TRACEPARENT_KEYS:
        v = obj.get(key)
        if v is None:
            continue
        tp = parse_traceparent(v)
        if tp is None:
            data["traceparent_invalid"] = True
            continue
        corr.setdefault("trace_id", tp[0])
        side = _KIND_DIRECTION.get(kind) if kind is not None else direction  # type: ignore[arg-type]
        if side == "incoming":
            corr.setdefault("parent_span_id", tp[1])
        elif side == "outgoing":
            corr.setdefault("span_id", tp[1])
        data.pop("traceparent_invalid", None)
        break
    phase = _word(obj, _PHASE_KEYS, _PHASES)
    if phase is not None:
        corr["phase"] = phase
    for key in _END_KEYS:
        v = obj.get(key)
        if v is not None and v.__class__ is not bool:
            end = _when(v, localizer, None)
            # Within a day of the start, or it is some other "end" (a byte range, ...).
            if end.__class__ is not str and abs(end - logged) <= _DAY:  # type: ignore[operator]
                corr["end_us"] = (end - EPOCH) // US  # type: ignore[operator]
                break
    peer = _peer(obj, direction)
    if peer is not None:
        corr["peer"] = _cut(peer)
    return corr


def _scalars(obj: dict[str, Any], skip: tuple[str | None, ...], data: dict[str, Any]) -> dict[str, Any]:
    """The strings, numbers and booleans of ``obj`` but those in ``skip``: top-level
    ones by name, nested ones by their dotted path (see :func:`_flatten`)."""
    out: dict[str, Any] = {}
    nested = None
    for k, v in obj.items():
        cls = v.__class__
        if cls is str:
            if k not in skip:
                out[k] = v if len(v) <= _MAX_TEXT else v[:_MAX_TEXT]
        elif (cls is int or cls is float or cls is bool) and k not in skip:
            out[k] = v
        elif (cls is dict or cls is list) and v and k not in skip:
            # Most lines nest nothing: the list is made only for those that do.
            if nested is None:
                nested = [(k, v)]
            else:
                nested.append((k, v))
    if nested is not None and not _flatten(nested, skip, out):
        data["fields_cut"] = True
    return out


def _flatten(level: list[tuple[str, Any]], skip: tuple[str | None, ...], out: dict[str, Any]) -> bool:
    """Add the values nested in ``level`` ((path, object or list) pairs) to ``out``
    under their dotted paths (``err.stack``; a list's items by index,
    ``exception.0.exc_type``), shallower ones first; a path ``out`` holds already (a
    flat ``"a.b"`` key) or that ``skip`` names is left out. False when the bounds left
    something out."""
    whole = True
    count = 0
    text = _MAX_NESTED_TEXT
    depth = 1
    while level:
        depth += 1          # the number of names in the paths of this round's values
        descend = depth < _MAX_DEPTH
        deeper: list[tuple[str, Any]] = []
        for prefix, container in level:
            if len(prefix) >= _MAX_PATH - 1:
                whole = False
                continue
            prefix += "."
            for k, v in container.items() if container.__class__ is dict else enumerate(container):
                cls = v.__class__
                if cls is str:
                    n = len(v)
                    if n > text or n > _MAX_TEXT:
                        if not text:
                            whole = False
                            continue
                        if n > text:
                            whole = False
                        v = v[:min(text, _MAX_TEXT)]
                        n = len(v)
                elif cls is dict or cls is list:
                    if not v:
                        continue
                    # Breadth first, within bounds: a flood of deep values (headers, stack
                    # frames) cannot crowd out a shallow one (err.stack).
                    if not descend or count + len(deeper) >= _MAX_NESTED:
                        whole = False
                        continue
                    path = prefix + (k if k.__class__ is str else str(k))
                    if len(path) > _MAX_PATH:
                        whole = False
                        continue
                    deeper.append((path, v))
                    continue
                elif v is None:
                    continue
                else:
                    n = 0
                # A long key is copied into a path once at most (prefixes are short), then dropped.
                path = prefix + (k if k.__class__ is str else str(k))
                if len(path) > _MAX_PATH:
                    whole = False
                    continue
                if path in out or path in skip:
                    continue
                if count == _MAX_NESTED:
                    return False
                text -= n
                out[path] = v
                count += 1
        level = deeper
    return whole


# --- sniffing ------------------------------------------------------------------------------


def is_otlp(obj: dict[str, Any]) -> bool:
    return "resourceSpans" in obj


def sniff(head: bytes) -> bool:
    first = first_json_line(head)
    if first is None:
        return False
    line, terminated, obj = first
    if obj is CUT_SHORT:
        # A first line longer than the head is cut short: judge it by its keys.
        if terminated or _JOURNALD_HINT.search(line) is not None:
            return False
        return _OTLP_HINT.match(line) is not None or (
            _KEY_HINT.search(line) is not None and _MESSAGE_HINT.search(line) is not None)
    if obj.__class__ is not dict or "__REALTIME_TIMESTAMP" in obj or "MESSAGE" in obj:
        return False
    if is_otlp(obj):
        return obj["resourceSpans"].__class__ is list
    logged, _ = _timestamp(obj, Localizer(UTC), None)
    return logged.__class__ is not str


# --- reader --------------------------------------------------------------------------------


def read(ctx: FileContext, *, columnar: bool = True) -> Iterator[pa.RecordBatch]:
    """The file's events. ``columnar=False``: every line through :func:`read_line`, the
    reference the column-wise reader (:mod:`.applog_columns`) must equal."""
    if columnar and file_size(ctx) >= COLUMNAR_MIN_BYTES:
        from .applog_columns import read_columns  # it builds on read_line(): imported here, not above

        return read_columns(ctx)
    return read_lines(ctx)


# Column-wise reading costs a few milliseconds a file whatever its size (a parse and
# some hundred column operations per shape of line): smaller files are read line by line.
COLUMNAR_MIN_BYTES = 128 * 1024


def read_lines(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    localizer = Localizer(ctx.timezone)
    no = 0
    for lines in line_blocks(ctx, max_line=MAX_LINE):
        for line in lines:
            if not line or line.isspace():
                continue
            no = yield from read_line(line, no, builder, ctx.quarantine, localizer, ctx.default_host)
    if no == 0:
        raise UnusableFile("no log lines (blank file)")
    batch = builder.flush()
    if batch is not None:
        yield batch


def read_line(line: str, no: int, builder: EventBatchBuilder, quarantine: Any, localizer: Localizer,
              default_host: str) -> Iterator[pa.RecordBatch]:
    """One non-blank line's records (one, or a span each) into ``builder``, numbered
    from ``no``, or its quarantine; yields the batches the builder fills and returns
    the next record number."""
    if line[0] == "\ufeff":  # a BOM where files were concatenated
        line = line[1:]
    try:
        obj = parse_json(line)
    except RecursionError:
        quarantine(no, "not JSON: nested too deeply", line)
        return no + 1
    except ValueError as exc:
        quarantine(no, f"not JSON: {str(exc)[:120]}", line)
        return no + 1
    if obj.__class__ is not dict:
        quarantine(no, "JSON line is not an object", line)
        return no + 1
    if is_otlp(obj):
        return (yield from _otlp(obj, line, no, builder, quarantine, default_host))
    got = record_of(obj, localizer)
    if got.__class__ is str:
        quarantine(no, got, line)  # type: ignore[arg-type]
        return no + 1
    logged, host, provider, message, data = got  # type: ignore[misc]
    builder.add(record_no=no, host=host or default_host, logged=logged, format=FORMAT,
                channel=CHANNEL, provider=provider, message=message, data=data)
    if builder.full():
        yield builder.flush()  # type: ignore[misc]
    return no + 1


def record_of(obj: dict[str, Any], localizer: Localizer
              ) -> tuple[datetime, str | None, str | None, str | None, dict[str, Any]] | str:
    """One JSON log object as a record: (logged, host it names or None, provider,
    message, data with ``corr`` and ``fields``), or why it is none (no time). Also
    for JSON lines inside other formats (a container's line, :mod:`.containers`)."""
    data: dict[str, Any] = {}
    logged, time_key = _timestamp(obj, localizer, data)
    if time_key is None:
        return logged  # type: ignore[return-value]

    message, message_key = _first_text(obj, _MESSAGE_KEYS)
    if message is None:
        # Some loggers put a number or an object under "message".
        for key in ("message", "msg"):
            v = obj.get(key)
            if v is not None and v.__class__ is not str:
                message = _dump(v, "") if v.__class__ is dict or v.__class__ is list else str(v)
                message_key = key
                break
    if message is not None and len(message) > _MAX_TEXT:
        message = message[:_MAX_TEXT]

    host, host_key = None, None
    for key in () if obj.keys().isdisjoint(_HOST_KEYS[1]) else _HOST_KEYS[0]:
        v = _lookup(obj, key)
        if v.__class__ is str and v:
            if key == "host" and any(h in obj for h in _ACCESS_HINTS):
                continue  # nginx/envoy "host": the HTTP Host header, not this machine
            host, host_key = v, key
            break
        if key == "host" and v.__class__ is dict:
            n, path = v.get("name"), "host.name"
            if n.__class__ is not str or not n:
                n, path = v.get("hostname"), "host.hostname"
            if n.__class__ is str and n:
                host, host_key = n, path
                break
    provider, provider_key = _first_text(obj, _PROVIDER_KEYS)
    if provider is None:
        v = obj.get("name")
        if v.__class__ is str and v and ("levelname" in obj or ("hostname" in obj and "pid" in obj)):
            provider, provider_key = v, "name"

    data["corr"] = _correlate(obj, logged, localizer, data, time_key)  # type: ignore[arg-type]
    data["fields"] = _scalars(obj, (time_key, message_key, host_key, provider_key), data)
    return (logged, _cut(host) if host else None,  # type: ignore[return-value]
            _cut(provider) if provider else None, message, data)


# --- OTLP ----------------------------------------------------------------------------------


def _nanos(v: Any) -> int | None:
    """An OTLP fixed64 (a decimal string or a number) as int; None when it is not one."""
    if v.__class__ is str:
        v = int(v) if v.isdigit() and v.isascii() and len(v) <= 20 else None
    elif v.__class__ is float:
        v = int(v) if 0 <= v < _U64 else None
    elif v.__class__ is not int:
        return None
    return v if v is not None and 0 <= v < _U64 else None


def _otlp_id(v: Any, nbytes: int) -> str | None:
    """A traceId / spanId: hex as OTLP/JSON writes it, or base64 as protobuf's JSON
    mapping does; empty or all-zero ids are absent."""
    if v.__class__ is not str or not v:
        return None
    if len(v) == 2 * nbytes:
        s = v.lower()
        if _HEX.match(s) is None:
            return None
    elif len(v) == (nbytes + 2) // 3 * 4:
        try:
            s = base64.b64decode(v, validate=True).hex()
        except (binascii.Error, ValueError):
            return None
        if len(s) != 2 * nbytes:
            return None
    else:
        return None
    return None if s.count("0") == len(s) else s


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list -> {key: value} for string, int and bool values."""
    out: dict[str, Any] = {}
    if items.__class__ is not list:
        return out
    for kv in items:
        if kv.__class__ is not dict:
            continue
        key, value = kv.get("key"), kv.get("value")
        if key.__class__ is not str or value.__class__ is not dict:
            continue
        if (v := value.get("stringValue")) is not None:
            if v.__class__ is str:
                out[key] = v if len(v) <= _MAX_TEXT else v[:_MAX_TEXT]
        elif (v := value.get("intValue")) is not None:
            if v.__class__ is int:
                out[key] = v
            elif v.__class__ is str and v.lstrip("-").isdigit() and v.isascii() and len(v) <= 20:
                out[key] = int(v)
        elif (v := value.get("boolValue")) is not None:
            if v.__class__ is bool:
                out[key] = v
    return out


def _dump(v: Any, fallback: str) -> str:
    try:
        return json.dumps(v, ensure_ascii=False)[:_MAX_TEXT]
    except (ValueError, RecursionError):
        return fallback


def _otlp(obj: dict[str, Any], line: str, no: int, builder: EventBatchBuilder, quarantine: Any,
          default_host: str) -> Iterator[pa.RecordBatch]:
    """The spans of one ``ExportTraceServiceRequest`` line; returns the next record_no."""
    add = builder.add
    start_no = no
    resource_spans = obj.get("resourceSpans")
    if resource_spans.__class__ is not list:
        quarantine(no, "OTLP resourceSpans is not a list", line)
        return no + 1
    for rs in resource_spans:
        if rs.__class__ is not dict:
            quarantine(no, "OTLP resourceSpans entry is not an object", _dump(rs, line))
            no += 1
            continue
        resource = rs.get("resource")
        rattrs = _attributes(resource.get("attributes")) if resource.__class__ is dict else {}
        host = rattrs.get("host.name")
        host = host if host.__class__ is str and host else None
        service = rattrs.get("service.name")
        service = service if service.__class__ is str and service else None
        scope_spans = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans"))
        if scope_spans is None:
            continue
        if scope_spans.__class__ is not list:
            quarantine(no, "OTLP scopeSpans is not a list", _dump(rs, line))
            no += 1
            continue
        for ss in scope_spans:
            spans = ss.get("spans") if ss.__class__ is dict else None
            if spans is None and ss.__class__ is dict:
                continue
            if spans.__class__ is not list:
                quarantine(no, "OTLP scopeSpans entry is not an object with a list of spans", _dump(ss, line))
                no += 1
                continue
            for span in spans:
                record_no = no
                no += 1
                if span.__class__ is not dict:
                    quarantine(record_no, "OTLP span is not an object", _dump(span, line))
                    continue
                start = _nanos(span.get("startTimeUnixNano"))
                if not start:
                    quarantine(record_no, "OTLP span without a usable startTimeUnixNano", _dump(span, line))
                    continue
                us = start // 1000   # a fixed64 of nanoseconds ends in 2554: always in range
                corr: dict[str, Any] = {}
                attrs = _attributes(span.get("attributes"))
                v = _request_id(attrs)
                if v is not None:
                    corr["request_id"] = v
                for key, field, nbytes in (("trace_id", "traceId", 16), ("span_id", "spanId", 8),
                                           ("parent_span_id", "parentSpanId", 8)):
                    h = _otlp_id(span.get(field), nbytes)
                    if h is not None:
                        corr[key] = h
                kind = _kind(span.get("kind"))
                if kind is not None:
                    corr["kind"] = kind
                    direction = _KIND_DIRECTION.get(kind)
                    if direction is not None:
                        corr["direction"] = direction
                else:
                    direction = None
                end = _nanos(span.get("endTimeUnixNano"))
                if end:
                    corr["end_us"] = end // 1000
                peer = _peer(attrs, direction)
                if peer is not None:
                    corr["peer"] = _cut(peer)
                data: dict[str, Any] = {"corr": corr, "fields": attrs}
                if host is None:
                    data["host_assumed"] = True
                name = span.get("name")
                add(record_no=record_no, host=_cut(host) if host else default_host,
                    logged=EPOCH + timedelta(microseconds=us), format=FORMAT, channel=OTLP_CHANNEL,
                    provider=_cut(service) if service else None,
                    message=_cut(name) if name.__class__ is str and name else None, data=data)
                if builder.full():
                    yield builder.flush()  # type: ignore[misc]
    if no == start_no:
        quarantine(no, "OTLP line holds no spans", line)
        no += 1
    return no


# --- what later stages need of these records (see .contract) ---------------------------------

# JSON lines and spans come from any platform.
SOURCE = Source(FORMAT, messages="correlated", direction_words=tuple(DIRECTION_WORDS.items()))
