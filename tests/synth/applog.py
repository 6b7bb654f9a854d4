"""Write structured application log lines and OpenTelemetry Collector file-exporter lines.

Each function returns one line without its line end; join lines with ``"\\n"`` to
make a JSON Lines file.

* :func:`structlog_line` is what structlog's ``JSONRenderer`` writes after
  ``add_log_level``, ``add_logger_name`` and ``TimeStamper(fmt="iso", utc=True)``:
  the call's keywords, then ``event``, ``level``, ``logger`` and ``timestamp``
  (ISO 8601 in UTC with ``Z``). An aware ``logged`` is converted to UTC, a naive one
  is taken as UTC already.
* :func:`python_json_logger_line` is what python-json-logger's ``JsonFormatter``
  writes for ``"%(asctime)s %(name)s %(levelname)s %(message)s"`` with ``extra=``
  fields: ``asctime`` is the host's local wall time without an offset
  (``2014-10-20 18:19:05,123``), so pass ``logged_local`` as the host's clock showed
  it (its tzinfo, if any, is ignored).
* :func:`otlp_line` is one ``ExportTraceServiceRequest`` as the collector's file
  exporter writes it (OTLP/JSON: lower-case hex ids, times as decimal strings of
  nanoseconds, integer span kinds), with spans made by :func:`otlp_span`.
* :func:`traceparent` is a W3C ``traceparent`` header value.
* :func:`logback_json_line` is logback's own ``ch.qos.logback.classic.encoder.JsonEncoder``
  (1.3.8+): ``timestamp`` in epoch milliseconds, the MDC as an ``mdc`` object, the raw
  ``message``; :func:`pino_line` is pino's (``time`` in epoch milliseconds, ``msg``,
  child-logger bindings such as fastify's ``reqId``); :func:`zap_line` is zap's
  ``NewProduction()`` encoder (``ts`` in epoch seconds as a float, ``msg``);
  :func:`serilog_json_line` is Serilog's ``Serilog.Formatting.Json.JsonFormatter``
  with ``renderMessage: true`` (``Timestamp`` with seven fraction digits and the
  local offset, ``MessageTemplate``, ``RenderedMessage``, ``Properties``).
* :func:`nginx_json_line` is nginx's ``log_format ... escape=json`` access log line
  (``$time_iso8601``, the time the line is written, at the request's end, and
  ``$request_time``); :func:`envoy_json_line` is an envoy ``json_format`` access log
  line (``%START_TIME%``, ``%DURATION%`` in milliseconds, ``%REQ(X-REQUEST-ID)%``).

What these write is what :mod:`skewsleuth.sources.applog` reads back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["traceparent", "structlog_line", "python_json_logger_line", "otlp_span", "otlp_line", "SPAN_KINDS",
           "logback_json_line", "pino_line", "zap_line", "serilog_json_line", "nginx_json_line", "envoy_json_line"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# OTLP Span.SpanKind enum values.
SPAN_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _check_hex(name: str, value: str, digits: int) -> str:
    if len(value) != digits or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"{name} must be {digits} lower-case hex digits: {value!r}")
    return value


def traceparent(trace_id: str, span_id: str, flags: str = "01", version: str = "00") -> str:
    """``00-<trace-id>-<parent-id>-<flags>`` (W3C Trace Context)."""
    return f"{version}-{_check_hex('trace_id', trace_id, 32)}-{_check_hex('span_id', span_id, 16)}-{flags}"


def structlog_line(logged: datetime, event: str, *, level: str = "info", logger: str | None = None,
                   request_id: str | None = None, direction: str | None = None, peer: str | None = None,
                   **fields: Any) -> str:
    """``{"request_id": ..., "direction": "out", ..., "event": "...", "level": "info",
    "logger": "...", "timestamp": "2014-10-20T23:19:05.123456Z"}``."""
    entry: dict[str, Any] = {}
    if request_id is not None:
        entry["request_id"] = request_id
    if direction is not None:
        entry["direction"] = direction
    if peer is not None:
        entry["peer"] = peer
    entry.update(fields)
    entry["event"] = event
    entry["level"] = level
    if logger is not None:
        entry["logger"] = logger
    entry["timestamp"] = _utc(logged).isoformat().replace("+00:00", "Z")
    return json.dumps(entry)


def python_json_logger_line(logged_local: datetime, message: str, *, name: str = "root", levelname: str = "INFO",
                            **extra: Any) -> str:
    """``{"asctime": "2014-10-20 18:19:05,123", "name": "app", "levelname": "INFO",
    "message": "...", <extra>}``: local time, millisecond precision, no offset."""
    asctime = f"{logged_local:%Y-%m-%d %H:%M:%S},{logged_local.microsecond // 1000:03d}"
    entry: dict[str, Any] = {"asctime": asctime, "name": name, "levelname": levelname, "message": message}
    entry.update(extra)
    return json.dumps(entry)


def _nanos(t: datetime) -> str:
    return str((_utc(t) - _EPOCH) // timedelta(microseconds=1) * 1000)


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def _attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in attrs.items()]


def otlp_span(name: str, start: datetime, end: datetime, *, trace_id: str, span_id: str,
              parent_span_id: str | None = None, kind: str = "server",
              attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """One OTLP/JSON ``Span``; ``kind`` is a name of :data:`SPAN_KINDS`."""
    span: dict[str, Any] = {"traceId": _check_hex("trace_id", trace_id, 32),
                            "spanId": _check_hex("span_id", span_id, 16)}
    if parent_span_id:
        span["parentSpanId"] = _check_hex("parent_span_id", parent_span_id, 16)
    span.update({"name": name, "kind": SPAN_KINDS[kind], "startTimeUnixNano": _nanos(start),
                 "endTimeUnixNano": _nanos(end)})
    if attributes:
        span["attributes"] = _attributes(attributes)
    span["status"] = {}
    return span


def otlp_line(spans: list[dict[str, Any]], *, host: str | None = None, service: str | None = None,
              scope: str = "skewsleuth.synth", resource: dict[str, Any] | None = None) -> str:
    """One ``ExportTraceServiceRequest`` holding ``spans`` under one resource
    (``host.name``, ``service.name`` and any other ``resource`` attributes)."""
    attrs: dict[str, Any] = {}
    if host is not None:
        attrs["host.name"] = host
    if service is not None:
        attrs["service.name"] = service
    attrs.update(resource or {})
    request = {"resourceSpans": [{"resource": {"attributes": _attributes(attrs)},
                                  "scopeSpans": [{"scope": {"name": scope}, "spans": spans}]}]}
    return json.dumps(request, separators=(",", ":"))


def _epoch_ms(t: datetime) -> int:
    return (_utc(t) - _EPOCH) // timedelta(milliseconds=1)


def logback_json_line(logged: datetime, message: str, *, logger: str = "ROOT", thread: str = "main",
                      mdc: dict[str, str] | None = None, seq: int = 0, level: str = "INFO") -> str:
    """``{"sequenceNumber":0,"timestamp":1413847145123,"nanoseconds":123000000,"level":"INFO",
    "threadName":"main","loggerName":"...","context":{...},"mdc": {...},"message":"...","throwable":null}``:
    the field order and spacing of logback's JsonEncoder (``"mdc": {`` with a space)."""
    ms = _epoch_ms(logged)
    mdc_text = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in (mdc or {}).items())
    return (f'{{"sequenceNumber":{seq},"timestamp":{ms},"nanoseconds":{ms % 1000 * 1_000_000},'
            f'"level":"{level}","threadName":{json.dumps(thread)},"loggerName":{json.dumps(logger)},'
            f'"context":{{"name":"default","birthdate":{ms - 3_600_000},"properties":{{}}}},'
            f'"mdc": {{{mdc_text}}},"message":{json.dumps(message)},"throwable":null}}')


def pino_line(logged: datetime, msg: str, *, hostname: str, pid: int = 4242, level: int = 30,
              **bindings: Any) -> str:
    """``{"level":30,"time":1413847145123,"pid":4242,"hostname":"bff01","reqId":"...",...,"msg":"..."}``."""
    entry: dict[str, Any] = {"level": level, "time": _epoch_ms(logged), "pid": pid, "hostname": hostname}
    entry.update(bindings)
    entry["msg"] = msg
    return json.dumps(entry, separators=(",", ":"))


def zap_line(logged: datetime, msg: str, *, logger: str | None = None, caller: str = "server/main.go:42",
             level: str = "info", **fields: Any) -> str:
    """``{"level":"info","ts":1413847145.123456,"logger":"http","caller":"...","msg":"...",<fields>}``."""
    entry: dict[str, Any] = {"level": level, "ts": (_utc(logged) - _EPOCH) / timedelta(seconds=1)}
    if logger is not None:
        entry["logger"] = logger
    entry.update({"caller": caller, "msg": msg})
    entry.update(fields)
    return json.dumps(entry, separators=(",", ":"))


def serilog_json_line(logged: datetime, template: str, rendered: str, *, level: str = "Information",
                      properties: dict[str, Any] | None = None, zone: timezone = timezone.utc) -> str:
    """``{"Timestamp":"2014-10-20T18:19:05.1234560-05:00","Level":"Information","MessageTemplate":"...",
    "RenderedMessage":"...","Properties":{...}}`` (seven fraction digits, the host's offset)."""
    local = _utc(logged).astimezone(zone)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0" + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    entry: dict[str, Any] = {"Timestamp": stamp, "Level": level, "MessageTemplate": template,
                             "RenderedMessage": rendered, "Properties": properties or {}}
    return json.dumps(entry, separators=(",", ":"))


def nginx_json_line(end: datetime, start: datetime, *, request_id: str, request: str = "POST /token HTTP/1.1",
                    status: int = 200, upstream: str = "10.0.0.9:8080", remote: str = "10.0.0.7") -> str:
    """``{"time_iso8601":"...","remote_addr":"...","request":"...","status":"200","request_time":"0.012",
    "request_id":"...","upstream_addr":"...","http_user_agent":"..."}``: nginx quotes every
    variable; ``$time_iso8601`` is whole seconds, ``$request_time`` milliseconds (truncated)."""
    t = _utc(end).replace(microsecond=0)
    rt = (_utc(end) - _utc(start)) // timedelta(milliseconds=1)
    return json.dumps({"time_iso8601": t.isoformat(), "remote_addr": remote, "request": request,
                       "status": str(status), "request_time": f"{rt // 1000}.{rt % 1000:03d}",
                       "request_id": request_id, "upstream_addr": upstream, "http_user_agent": "curl/8.5.0"},
                      separators=(",", ":"))


def envoy_json_line(start: datetime, end: datetime, *, request_id: str, method: str = "POST", path: str = "/token",
                    code: int = 200, upstream: str = "10.0.0.9:8080") -> str:
    """``{"start_time":"...Z","method":"POST","path":"/token","protocol":"HTTP/1.1","response_code":200,
    "duration":12,"x-request-id":"...","upstream_host":"..."}`` (envoy writes milliseconds, truncated)."""
    s = _utc(start)
    s = s.replace(microsecond=s.microsecond // 1000 * 1000)
    return json.dumps({"start_time": s.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "method": method,
                       "path": path, "protocol": "HTTP/1.1", "response_code": code,
                       "duration": (_utc(end) - s) // timedelta(milliseconds=1), "x-request-id": request_id,
                       "upstream_host": upstream}, separators=(",", ":"))
