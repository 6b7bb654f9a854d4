"""Structured application logs (JSON Lines) and OpenTelemetry file-exporter spans.

Lines are written by hand in the exact shapes each library emits (named in each
test), and by synth.applog. Checked: the columns and the ``corr`` /
``fields`` objects, W3C traceparent validation, OTLP spans as records, damaged input
(every record ingested or quarantined, counts adding up), the sniffer against every
other format, property tests (random and mutated input never raises anything but
UnusableFile), and the real CLI ingesting a folder of application logs.
"""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from conftest import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.properties import examples

from skewsleuth import sources
from skewsleuth.schema import EVENTS
from skewsleuth.sources import applog, base
from skewsleuth.errors import UnusableFile
from skewsleuth.sources.base import FileContext
from synth.applog import otlp_line, otlp_span, python_json_logger_line, structlog_line, traceparent
from synth.syslog import journald_line, rfc3164_line, rfc5424_line
from conftest import mutate


UTC = timezone.utc


CHICAGO = ZoneInfo("America/Chicago")


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


SPAN = "00f067aa0ba902b7"


TP = f"00-{TRACE}-{SPAN}-01"


def make_ctx(path: Path, **kw) -> FileContext:
    args = dict(path=path, file_id=0, default_host="app01", timezone=CHICAGO)
    args.update(kw)
    return FileContext(**args)


def assert_counts(rows, quarantined) -> None:
    """Records seen == ingested + quarantined: the ordinals of both together are
    0..N-1, each exactly once."""
    nos = [r["record_no"] for r in rows] + [q.record_no for q in quarantined if q.record_no is not None]
    assert sorted(nos) == list(range(len(nos)))
    assert [r["record_no"] for r in rows] == sorted(r["record_no"] for r in rows)


def read_all(path: Path, **kw):
    """(rows with data decoded, quarantined) after checking what every source owes."""
    ctx = make_ctx(path, **kw)
    rows = []
    for batch in applog.read(ctx):
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema.equals(EVENTS)
        assert 0 < batch.num_rows <= base.BATCH_ROWS
        rows.extend(batch.to_pylist())
    for row in rows:
        assert row["format"] == "applog"
        assert row["channel"] in ("applog", "otlp")
        assert row["logged"].tzinfo is not None
        row["data"] = json.loads(row["data"])
        assert isinstance(row["data"]["corr"], dict) and isinstance(row["data"]["fields"], dict)
    assert_counts(rows, ctx.quarantined)
    assert all(q.excerpt.isprintable() for q in ctx.quarantined)
    return rows, ctx.quarantined


def write(tmp_path: Path, text: str | bytes, name: str = "app.log") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def rows_of(tmp_path, lines, **kw):
    return read_all(write(tmp_path, "\n".join(lines) + "\n"), **kw)


def one(tmp_path, line, **kw):
    rows, quarantined = rows_of(tmp_path, [line], **kw)
    assert not quarantined, quarantined
    (row,) = rows
    return row


def test_python_json_logger_asctime_is_local_time(tmp_path):
    # python-json-logger, JsonFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"), extra={...}
    row = one(tmp_path, '{"asctime": "2014-10-20 18:19:05,123", "name": "billing.api", "levelname": "INFO", '
                        '"message": "charge sent to gateway", "request_id": "req-7f3c", "direction": "outgoing", '
                        '"order_id": 99812}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)   # CDT, UTC-5
    assert (row["host"], row["provider"], row["message"]) == ("app01", "billing.api", "charge sent to gateway")
    assert row["data"]["tz_assumed"] is True
    assert row["data"]["corr"] == {"request_id": "req-7f3c", "direction": "outgoing"}
    assert row["data"]["fields"] == {"levelname": "INFO", "request_id": "req-7f3c", "direction": "outgoing",
                                     "order_id": 99812}


def test_structlog_json_renderer(tmp_path):
    # structlog: JSONRenderer after add_log_level, add_logger_name, TimeStamper(fmt="iso", utc=True)
    row = one(tmp_path, '{"request_id": "b1946ac9", "peer": "payments.internal:443", "direction": "out", '
                        '"event": "calling payments", "level": "info", "logger": "shop.checkout", '
                        '"timestamp": "2014-10-20T23:19:05.250671Z"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 250671, tzinfo=UTC)
    assert (row["provider"], row["message"]) == ("shop.checkout", "calling payments")
    assert "tz_assumed" not in row["data"]
    assert row["data"]["corr"] == {"request_id": "b1946ac9", "direction": "outgoing", "peer": "payments.internal:443"}
    assert row["data"]["fields"] == {"request_id": "b1946ac9", "peer": "payments.internal:443", "direction": "out",
                                     "level": "info"}


def test_logstash_logback_encoder_with_otel_mdc(tmp_path):
    # logback + net.logstash.logback.encoder.LogstashEncoder; the OpenTelemetry Java agent puts
    # trace_id / span_id / trace_flags into the MDC, which the encoder writes as top-level fields.
    row = one(tmp_path, '{"@timestamp":"2014-10-20T18:19:05.123-05:00","@version":"1","message":"Order 42 accepted",'
                        '"logger_name":"com.example.orders.OrderController","thread_name":"http-nio-8080-exec-3",'
                        '"level":"INFO","level_value":20000,"HOSTNAME":"orders-7d9f","trace_id":"' + TRACE + '",'
                        '"span_id":"' + SPAN + '","trace_flags":"01"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)
    assert (row["host"], row["provider"]) == ("orders-7d9f", "com.example.orders.OrderController")
    assert row["data"]["corr"] == {"trace_id": TRACE, "span_id": SPAN}
    assert row["data"]["fields"]["level_value"] == 20000 and "HOSTNAME" not in row["data"]["fields"]


def test_logback_json_encoder_mdc_object(tmp_path):
    # logback's own ch.qos.logback.classic.encoder.JsonEncoder (1.3.8+): "timestamp" in epoch ms,
    # "loggerName", the raw "message", the MDC as an "mdc" object ("mdc": { with a space).
    row = one(tmp_path, '{"sequenceNumber":7,"timestamp":1413847145123,"nanoseconds":123000000,"level":"INFO",'
                        '"threadName":"reactor-http-nio-2","loggerName":"com.example.gateway.AccessLog",'
                        '"context":{"name":"default","birthdate":1413843545123,"properties":{}},'
                        '"mdc": {"requestId":"9f2c4e1ab3d84f0e8a7b6c5d4e3f2a1b"},"message":"--> POST /token",'
                        '"throwable":null}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)
    assert (row["provider"], row["message"]) == ("com.example.gateway.AccessLog", "--> POST /token")
    assert row["data"]["corr"] == {"request_id": "9f2c4e1ab3d84f0e8a7b6c5d4e3f2a1b"}
    rows, _ = rows_of(tmp_path, ['{"timestamp":1413847145123,"mdc": {"X-Request-ID":"abc-1"},"message":"x"}'])
    assert rows[0]["data"]["corr"] == {"request_id": "abc-1"}


def test_fastify_pino_http_and_go_request_ids(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        # fastify (pino): the request's child logger binds "reqId" (the x-request-id header's value
        # with requestIdHeader set)
        '{"level":30,"time":1413847145123,"pid":4242,"hostname":"bff01","reqId":"7d1c0e9a-5b4f-4c3e-9d2a-1b0c9f8e7d6a",'
        '"req":{"method":"POST","url":"/login","hostname":"bff01","remoteAddress":"10.0.0.5"},"msg":"incoming request"}',
        # pino-http: "req" with its id (by default a per-process counter)
        '{"level":30,"time":1413847145200,"pid":4243,"hostname":"web01","req":{"id":17,"method":"GET","url":"/"},'
        '"res":{"statusCode":200},"responseTime":4,"msg":"request completed"}',
        # zap with a Go-style field name
        '{"level":"info","ts":1413847145.3,"logger":"http","caller":"server/main.go:42","msg":"request started",'
        '"requestID":"c0ffee00c0ffee00"}',
    ])
    assert not quarantined
    assert [r["data"]["corr"].get("request_id") for r in rows] == [
        "7d1c0e9a-5b4f-4c3e-9d2a-1b0c9f8e7d6a", "17", "c0ffee00c0ffee00"]
    assert rows[0]["message"] == "incoming request" and rows[0]["host"] == "bff01"


def test_serilog_json_formatter_properties(tmp_path):
    # Serilog.Formatting.Json.JsonFormatter(renderMessage: true): properties under "Properties",
    # the machine name from Serilog.Enrichers.Environment's WithMachineName().
    row = one(tmp_path, '{"Timestamp":"2014-10-20T18:19:05.1234560-05:00","Level":"Information",'
                        '"MessageTemplate":"Request starting {Protocol} {Method} {Path}",'
                        '"RenderedMessage":"Request starting \\"HTTP/1.1\\" \\"POST\\" \\"/token\\"",'
                        '"Properties":{"Protocol":"HTTP/1.1","Method":"POST","Path":"/token",'
                        '"RequestId":"0HMV3K2GQ4Q1B:00000001","MachineName":"AUTH02",'
                        '"SourceContext":"Microsoft.AspNetCore.Hosting.Diagnostics"}}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)
    assert row["message"] == 'Request starting "HTTP/1.1" "POST" "/token"'
    assert row["host"] == "AUTH02"
    assert row["data"]["corr"] == {"request_id": "0HMV3K2GQ4Q1B:00000001"}


def test_log4j2_json_layout_instant(tmp_path):
    # log4j2 JsonLayout (compact="true" eventEol="true"): "instant" with epochSecond / nanoOfSecond.
    row = one(tmp_path, '{"instant":{"epochSecond":1413847145,"nanoOfSecond":123456789},"thread":"main","level":"INFO",'
                        '"loggerName":"com.example.App","message":"Started App in 3.2 seconds","endOfBatch":false,'
                        '"loggerFqcn":"org.apache.logging.log4j.spi.AbstractLogger","threadId":1,"threadPriority":5}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)
    assert (row["provider"], row["message"]) == ("com.example.App", "Started App in 3.2 seconds")
    assert row["data"]["fields"]["endOfBatch"] is False


def test_serilog_compact_json(tmp_path):
    # Serilog.Formatting.Compact CompactJsonFormatter (CLEF): @t with 7 fraction digits,
    # @mt the template, @tr / @sp the trace and span ids (Serilog 3.1+), RequestId from ASP.NET Core.
    row = one(tmp_path, '{"@t":"2014-10-20T23:19:05.1234567Z","@mt":"HTTP {RequestMethod} {RequestPath} responded '
                        '{StatusCode} in {Elapsed:0.0000} ms","@r":["12.3456"],"@tr":"' + TRACE + '","@sp":"' + SPAN +
                        '","RequestMethod":"GET","RequestPath":"/api/orders","StatusCode":200,"Elapsed":12.3456,'
                        '"SourceContext":"Serilog.AspNetCore.RequestLoggingMiddleware",'
                        '"RequestId":"0HMV3K2GQ4Q1B:00000001","ConnectionId":"0HMV3K2GQ4Q1B"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)
    assert row["provider"] == "Serilog.AspNetCore.RequestLoggingMiddleware"
    assert row["message"].startswith("HTTP {RequestMethod}")
    assert row["data"]["corr"] == {"request_id": "0HMV3K2GQ4Q1B:00000001", "trace_id": TRACE, "span_id": SPAN}
    assert row["data"]["fields"]["Elapsed"] == 12.3456 and "@r" not in row["data"]["fields"]


def test_zap_production_epoch_seconds(tmp_path):
    # go.uber.org/zap NewProduction(): "ts" is epoch seconds as a float.
    row = one(tmp_path, '{"level":"info","ts":1413847145.1234567,"logger":"http","caller":"server/main.go:42",'
                        '"msg":"request served","request_id":"7b0c","kind":"server"}')
    assert abs(row["logged"] - datetime(2014, 10, 20, 23, 19, 5, 123457, tzinfo=UTC)) <= timedelta(microseconds=1)
    assert (row["provider"], row["message"]) == ("http", "request served")
    assert row["data"]["corr"] == {"request_id": "7b0c", "kind": "server", "direction": "incoming"}


def test_zerolog_and_logrus_rfc3339(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        # github.com/rs/zerolog default: RFC 3339 to the second, "message"
        '{"level":"info","service":"cart","request_id":"c-1","time":"2014-10-20T18:19:05-05:00","message":"cart loaded"}',
        # github.com/sirupsen/logrus JSONFormatter: "msg", "time"
        '{"level":"warning","msg":"slow query","time":"2014-10-20T23:19:06Z","elapsed_ms":812}',
    ])
    assert not quarantined
    assert [r["logged"] for r in rows] == [datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC),
                                          datetime(2014, 10, 20, 23, 19, 6, tzinfo=UTC)]
    assert (rows[0]["provider"], rows[0]["message"]) == ("cart", "cart loaded")
    assert rows[1]["message"] == "slow query" and rows[1]["data"]["fields"] == {"level": "warning", "elapsed_ms": 812}


def test_slog_json_handler_nanoseconds(tmp_path):
    # log/slog JSONHandler: RFC 3339 with nanoseconds and the local offset.
    row = one(tmp_path, '{"time":"2014-10-20T18:19:05.123456789-05:00","level":"INFO","msg":"outgoing call",'
                        '"peer":"db01:5432","direction":"sent","traceparent":"' + TP + '"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)
    assert row["data"]["corr"] == {"trace_id": TRACE, "span_id": SPAN, "direction": "outgoing", "peer": "db01:5432"}


def test_bunyan_and_pino(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        # node-bunyan: name, hostname, pid, level, msg, time, v
        '{"name":"myapp","hostname":"web02","pid":1234,"level":30,"msg":"listening","time":"2014-10-20T23:19:05.123Z","v":0}',
        # pino: time in epoch milliseconds
        '{"level":30,"time":1413847145123,"pid":657,"hostname":"web03","msg":"hello world"}',
    ])
    assert not quarantined
    bunyan, pino = rows
    assert (bunyan["host"], bunyan["provider"], bunyan["message"]) == ("web02", "myapp", "listening")
    assert bunyan["data"]["fields"] == {"pid": 1234, "level": 30, "v": 0}
    assert pino["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)
    assert (pino["host"], pino["provider"]) == ("web03", None)


def test_ecs_logging_nested_objects(tmp_path):
    # ecs-logging-python: "log.level" flat, ecs / log / service / trace / host as nested objects.
    row = one(tmp_path, '{"@timestamp":"2014-10-20T23:19:05.123Z","log.level":"info","message":"order shipped",'
                        '"ecs":{"version":"1.6.0"},"log":{"logger":"orders","origin":{"function":"ship"}},'
                        '"service":{"name":"orders-svc"},"trace":{"id":"' + TRACE + '"},"span":{"id":"' + SPAN + '"},'
                        '"host":{"hostname":"orders-01"},"http":{"request":{"id":"r-77"}}}')
    assert (row["host"], row["provider"], row["message"]) == ("orders-01", "orders-svc", "order shipped")
    assert row["data"]["corr"] == {"request_id": "r-77", "trace_id": TRACE, "span_id": SPAN}
    # nested fields by their dotted paths, but those that became the host and provider
    assert row["data"]["fields"] == {"log.level": "info", "ecs.version": "1.6.0", "log.logger": "orders",
                                     "trace.id": TRACE, "span.id": SPAN, "http.request.id": "r-77",
                                     "log.origin.function": "ship"}


def test_nginx_json_access_log(tmp_path):
    # nginx: log_format json escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr",...}'
    # "host" is $host, the HTTP Host header: not the machine that wrote the line.
    row = one(tmp_path, '{"time_local":"20/Oct/2014:18:19:05 -0500","remote_addr":"10.0.0.7","request":"GET /api/cart HTTP/1.1",'
                        '"status":200,"request_id":"f2c3d8e1a0b94c7d8e6f5a4b3c2d1e0f","upstream_addr":"10.0.0.9:8080",'
                        '"host":"shop.example.com","request_time":0.012,"http_user_agent":"curl/7.68.0"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)
    assert row["host"] == "app01" and row["message"] is None
    # $request_time (0.012 s) ends at the line's time: the request began 12 ms (and up to
    # a millisecond more, the duration's tick) before it
    assert row["data"]["corr"] == {"request_id": "f2c3d8e1a0b94c7d8e6f5a4b3c2d1e0f", "peer": "10.0.0.9:8080",
                                   "request_start_us": 1413847145_000000 - 12_000 - 1000}
    assert row["data"]["fields"]["host"] == "shop.example.com"


def test_envoy_json_access_log(tmp_path):
    # envoy access_log json_format {"start_time": "%START_TIME%", "x-request-id": "%REQ(X-REQUEST-ID)%", ...}
    row = one(tmp_path, '{"start_time":"2014-10-20T23:19:05.123Z","method":"GET","path":"/cart","protocol":"HTTP/1.1",'
                        '"response_code":200,"duration":3,"x-request-id":"3e5a4f1c-8a4b-4e3e-9f0d-6c1b2a3d4e5f",'
                        '"upstream_host":"10.0.0.9:8080","traceparent":"' + TP + '","direction":"ingress"}')
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)
    assert row["data"]["corr"] == {"request_id": "3e5a4f1c-8a4b-4e3e-9f0d-6c1b2a3d4e5f", "direction": "incoming",
                                   "trace_id": TRACE, "parent_span_id": SPAN,
                                   "request_end_us": 1413847145_123000 + 3000}     # %DURATION% 3 ms


@pytest.mark.parametrize("line,corr", [
    # nginx log_format escape=json with "$request_time" quoted, timed by $time_iso8601
    ('{"time_iso8601":"2014-10-20T23:19:05+00:00","request_time":"1.250","request_id":"ab12cd34ef56ab78"}',
     {"request_id": "ab12cd34ef56ab78", "request_start_us": 1413847145_000000 - 1_250_000 - 1000}),
    # a request_time on a line timed otherwise is not nginx's: no span
    ('{"ts":1413847145,"msg":"x","request_time":0.5}', {}),
    # a duration that is not a number, or a day long, bounds nothing
    ('{"start_time":"2014-10-20T23:19:05.123Z","duration":"-","method":"GET"}', {}),
    ('{"start_time":"2014-10-20T23:19:05.123Z","duration":86400000,"method":"GET"}', {}),
])
def test_access_log_request_spans(tmp_path, line, corr):
    assert one(tmp_path, line)["data"]["corr"] == corr


def test_docker_json_file_log(tmp_path):
    # docker json-file logging driver: the daemon's receive time, nanoseconds, "log" with its newline.
    row = one(tmp_path, '{"log":"GET /healthz 200\\n","stream":"stdout","time":"2014-10-20T23:19:05.123456789Z"}')
    assert row["message"] == "GET /healthz 200\n" and row["data"]["fields"] == {"stream": "stdout"}


def test_datadog_decimal_ids_and_nested_host(tmp_path):
    # ddtrace log injection into python-json-logger: dd.trace_id / dd.span_id as decimal 64-bit ids.
    row = one(tmp_path, '{"timestamp":"2014-10-20T23:19:05.123456+00:00","message":"x","dd.trace_id":"12345678901234567890",'
                        '"dd.span_id":"987654321","dd.service":"web","host":{"name":"web09"}}')
    assert row["host"] == "web09"
    assert row["data"]["corr"] == {"trace_id": f"{12345678901234567890:016x}", "span_id": f"{987654321:016x}"}


def test_end_time_phase_and_kind_fields(tmp_path):
    row = one(tmp_path, '{"ts":"2014-10-20T23:19:05Z","msg":"rpc done","span.kind":"SPAN_KIND_CLIENT","phase":"Response",'
                        '"end_time":"2014-10-20T23:19:05.250Z","server.address":"inventory:9090","trace_id":"3F2A1B"}')
    corr = row["data"]["corr"]
    assert corr["kind"] == "client" and corr["direction"] == "outgoing" and corr["phase"] == "response"
    assert corr["end_us"] == (datetime(2014, 10, 20, 23, 19, 5, 250000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert corr["peer"] == "inventory:9090"
    assert corr["trace_id"] == "00000000003f2a1b"    # Jaeger-style short hex, padded


def test_an_end_far_from_the_start_is_not_the_span_end(tmp_path):
    row = one(tmp_path, '{"ts":"2014-10-20T23:19:05Z","msg":"range served","end":1024,"end_time":"2014-10-25T00:00:00Z"}')
    assert "end_us" not in row["data"]["corr"]
    assert row["data"]["fields"]["end"] == 1024 and row["data"]["fields"]["end_time"] == "2014-10-25T00:00:00Z"


def test_server_address_is_not_the_peer_of_a_server(tmp_path):
    row = one(tmp_path, '{"ts":1413847145,"msg":"served","kind":"server","server.address":"me","client.address":"10.9.9.9"}')
    assert row["data"]["corr"]["peer"] == "10.9.9.9"


T0 = datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", ["1413847145", "1413847145000", "1413847145000000", "1413847145000000000",
                                   '"1413847145"', '"1413847145000"', "1413847145.0", '{"seconds": 1413847145, "nanos": 0}'])
def test_epoch_unit_is_read_from_magnitude(tmp_path, value):
    row = one(tmp_path, '{"ts": ' + value + ', "msg": "x"}')
    assert row["logged"] == T0


def test_local_time_in_the_repeated_dst_hour_is_flagged(tmp_path):
    rows, _ = rows_of(tmp_path, ['{"asctime": "2014-11-02 01:30:00,000", "message": "a"}',
                                 '{"asctime": "2014-11-02 01:10:00,000", "message": "b"}'])
    assert [r["data"]["tz_resolution"] for r in rows] == ["ambiguous", "ambiguous"]
    assert [r["data"]["tz_fold"] for r in rows] == [0, 1]
    assert rows[1]["logged"] > rows[0]["logged"]


def test_pytz_zone_works_too(tmp_path):
    tz = pytest.importorskip("pytz").timezone("America/Chicago")
    row = one(tmp_path, '{"asctime": "2014-01-15 12:00:00,000", "message": "winter"}', timezone=tz)
    assert row["logged"] == datetime(2014, 1, 15, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    (TP, (TRACE, SPAN)),
    (f"  {TP}\t", (TRACE, SPAN)),                                     # optional whitespace around the value
    (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN)),                         # not sampled is still valid
    (f"cc-{TRACE}-{SPAN}-01-what-the-future-adds", (TRACE, SPAN)),    # a higher version: parse the known prefix
    (f"ff-{TRACE}-{SPAN}-01", None),                                  # version ff is invalid
    (f"00-{'0' * 32}-{SPAN}-01", None),                               # all-zero trace-id
    (f"00-{TRACE}-{'0' * 16}-01", None),                              # all-zero parent-id
    (f"00-{TRACE.upper()}-{SPAN}-01", None),                          # upper-case hex
    (f"00-{TRACE}-{SPAN}-01-extra", None),                            # version 00 is exactly 55 characters
    (f"00-{TRACE}-{SPAN}", None),
    (f"00-{TRACE[:-1]}-{SPAN}-01", None),
    (f"00_{TRACE}_{SPAN}_01", None),
    ("", None), (None, None), (12, None),
])
def test_parse_traceparent(value, expected):
    assert applog.parse_traceparent(value) == expected


def test_traceparent_side_follows_kind_then_direction(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        json.dumps({"ts": 1413847145, "msg": "in", "direction": "incoming", "traceparent": TP}),
        json.dumps({"ts": 1413847145, "msg": "out", "direction": "outgoing", "traceparent": TP}),
        json.dumps({"ts": 1413847145, "msg": "consumer", "kind": "consumer", "traceparent": TP}),
        json.dumps({"ts": 1413847145, "msg": "producer", "kind": "PRODUCER", "traceparent": TP}),
        # a server's response line: the traceparent it logs is still the one it received
        json.dumps({"ts": 1413847145, "msg": "server response", "kind": "server", "direction": "out", "traceparent": TP}),
        json.dumps({"ts": 1413847145, "msg": "unknown side", "traceparent": TP}),
        json.dumps({"ts": 1413847145, "msg": "explicit ids win", "direction": "in", "trace_id": "a" * 32,
                    "parent_span_id": "b" * 16, "traceparent": TP}),
    ])
    assert not quarantined
    corr = [r["data"]["corr"] for r in rows]
    assert corr[0] == {"direction": "incoming", "trace_id": TRACE, "parent_span_id": SPAN}
    assert corr[1] == {"direction": "outgoing", "trace_id": TRACE, "span_id": SPAN}
    assert corr[2] == {"kind": "consumer", "direction": "incoming", "trace_id": TRACE, "parent_span_id": SPAN}
    assert corr[3] == {"kind": "producer", "direction": "outgoing", "trace_id": TRACE, "span_id": SPAN}
    assert corr[4]["parent_span_id"] == SPAN and "span_id" not in corr[4] and corr[4]["direction"] == "outgoing"
    assert corr[5] == {"trace_id": TRACE}
    assert corr[6] == {"trace_id": "a" * 32, "parent_span_id": "b" * 16, "direction": "incoming"}
    assert all(r["data"]["fields"]["traceparent"] == TP for r in rows)


@pytest.mark.parametrize("bad", [f"ff-{TRACE}-{SPAN}-01", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01", "garbage", 42])
def test_invalid_traceparent_is_noted_and_the_record_kept(tmp_path, bad):
    row = one(tmp_path, json.dumps({"ts": 1413847145, "msg": "x", "direction": "in", "request_id": "r1", "traceparent": bad}))
    assert row["data"]["traceparent_invalid"] is True
    assert row["data"]["corr"] == {"request_id": "r1", "direction": "incoming"}


def test_synth_traceparent_round_trips():
    assert applog.parse_traceparent(traceparent(TRACE, SPAN)) == (TRACE, SPAN)
    with pytest.raises(ValueError):
        traceparent(TRACE.upper(), SPAN)


S0 = datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)


def test_otlp_spans_from_the_synth_writer(tmp_path):
    server = otlp_span("GET /cart", S0, S0 + timedelta(milliseconds=80), trace_id=TRACE, span_id="1" * 16,
                       parent_span_id=SPAN, kind="server",
                       attributes={"http.request.method": "GET", "http.response.status_code": 200, "client.address": "10.0.0.7",
                                   "request_id": "rq-1", "sampled": True, "ratio": 0.5})
    client = otlp_span("SELECT carts", S0 + timedelta(milliseconds=10), S0 + timedelta(milliseconds=30), trace_id=TRACE,
                       span_id="2" * 16, parent_span_id="1" * 16, kind="client",
                       attributes={"server.address": "db01", "db.system": "postgresql"})
    rows, quarantined = rows_of(tmp_path, [otlp_line([server, client], host="web01.example.com", service="cart")])
    assert not quarantined
    a, b = rows
    assert [r["record_no"] for r in rows] == [0, 1]
    assert (a["host"], a["provider"], a["channel"], a["message"], a["logged"]) == (
        "web01.example.com", "cart", "otlp", "GET /cart", S0)
    assert a["data"]["corr"] == {"request_id": "rq-1", "trace_id": TRACE, "span_id": "1" * 16, "parent_span_id": SPAN,
                                 "kind": "server", "direction": "incoming",
                                 "end_us": (S0 + timedelta(milliseconds=80) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1),
                                 "peer": "10.0.0.7"}
    assert a["data"]["fields"] == {"http.request.method": "GET", "http.response.status_code": 200,
                                   "client.address": "10.0.0.7", "request_id": "rq-1", "sampled": True}
    assert "host_assumed" not in a["data"]
    assert b["data"]["corr"]["kind"] == "client" and b["data"]["corr"]["direction"] == "outgoing"
    assert b["data"]["corr"]["peer"] == "db01"


# opentelemetry-collector-contrib fileexporter output, written by hand: two resources (one
# without host.name), upper-case hex (OTLP/JSON hex is case-insensitive), a string kind,
# an empty parentSpanId (a root span), a span with no start time.
COLLECTOR_LINE = json.dumps({"resourceSpans": [
    {"resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "srv-api01"}},
                                 {"key": "service.name", "value": {"stringValue": "api"}},
                                 {"key": "telemetry.sdk.language", "value": {"stringValue": "go"}}]},
     "scopeSpans": [{"scope": {"name": "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "version": "0.45.0"},
                     "spans": [{"traceId": TRACE.upper(), "spanId": "EEE19B7EC3C1B174", "parentSpanId": "", "name": "HTTP GET",
                                "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "1413847145123456789",
                                "endTimeUnixNano": "1413847145223456789", "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "200"}},
                                    {"key": "http.route", "value": {"stringValue": "/v1/items"}},
                                    {"key": "net.peer.name", "value": {"stringValue": "gateway01"}},
                                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}],
                                "status": {}},
                               {"traceId": TRACE, "spanId": "eee19b7ec3c1b175", "name": "no start", "kind": 1}]}]},
    {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "worker"}}]},
     "scopeSpans": [{"scope": {}, "spans": [{"traceId": TRACE, "spanId": "eee19b7ec3c1b176", "parentSpanId": "eee19b7ec3c1b174",
                                             "name": "process", "kind": 5, "startTimeUnixNano": 1413847145323456789}]}]},
]})


def test_otlp_collector_line(tmp_path):
    rows, quarantined = rows_of(tmp_path, [COLLECTOR_LINE], default_host="collector01")
    a, c = rows
    assert [r["record_no"] for r in rows] == [0, 2]
    assert [(q.record_no, q.reason) for q in quarantined] == [(1, "OTLP span without a usable startTimeUnixNano")]
    assert a["logged"] == datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)
    assert (a["host"], a["provider"]) == ("srv-api01", "api")
    assert a["data"]["corr"] == {"trace_id": TRACE, "span_id": "eee19b7ec3c1b174", "kind": "server", "direction": "incoming",
                                 "end_us": 1413847145223456, "peer": "gateway01"}
    assert a["data"]["fields"] == {"http.status_code": 200, "http.route": "/v1/items", "net.peer.name": "gateway01"}
    # No host.name: the file's host, and said so (a central collector writes many hosts' spans).
    assert (c["host"], c["provider"], c["data"]["host_assumed"]) == ("collector01", "worker", True)
    assert c["data"]["corr"] == {"trace_id": TRACE, "span_id": "eee19b7ec3c1b176", "parent_span_id": "eee19b7ec3c1b174",
                                 "kind": "consumer", "direction": "incoming"}


def test_otlp_old_collector_and_base64_ids(tmp_path):
    # Older collectors wrote instrumentationLibrarySpans; protobuf's own JSON mapping writes ids in base64.
    line = json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "instrumentationLibrarySpans": [
        {"instrumentationLibrary": {"name": "x"}, "spans": [
            {"traceId": base64.b64encode(bytes.fromhex(TRACE)).decode(), "spanId": base64.b64encode(bytes.fromhex(SPAN)).decode(),
             "name": "op", "kind": 3, "startTimeUnixNano": "1413847145000000000"}]}]}]})
    row = one(tmp_path, line)
    assert row["logged"] == T0
    assert row["data"]["corr"] == {"trace_id": TRACE, "span_id": SPAN, "kind": "client", "direction": "outgoing"}


def test_otlp_damaged_containers_are_one_record_each(tmp_path):
    span = {"traceId": TRACE, "spanId": SPAN, "name": "ok", "startTimeUnixNano": "1413847145000000000"}
    lines = [
        json.dumps({"resourceSpans": "nope"}),                                                     # 0
        json.dumps({"resourceSpans": [7, {"scopeSpans": "x"}, {"scopeSpans": [3, {"spans": {}}, {"spans": [span, "s"]}]}]}),  # 1-6
        json.dumps({"resourceSpans": []}),                                                         # 7 no spans
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [dict(span, startTimeUnixNano="99999999999999999999")]}]}]}),  # 8
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [dict(span, startTimeUnixNano="0")]}]}]}),  # 9
    ]
    rows, quarantined = rows_of(tmp_path, lines)
    assert [r["record_no"] for r in rows] == [5]
    reasons = {q.record_no: q.reason for q in quarantined}
    assert set(reasons) == {0, 1, 2, 3, 4, 6, 7, 8, 9}
    assert "not a list" in reasons[0] and "not an object" in reasons[1] and "not a list" in reasons[2]
    assert "span is not an object" in reasons[6] and "no spans" in reasons[7]
    assert "startTimeUnixNano" in reasons[8] and "startTimeUnixNano" in reasons[9]   # over 2**64, and 0 (unset)


def test_otlp_line_with_many_spans_is_split_into_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "BATCH_ROWS", 3)
    spans = [otlp_span(f"op{i}", S0 + timedelta(milliseconds=i), S0 + timedelta(milliseconds=i + 1), trace_id=TRACE,
                       span_id=f"{i + 1:016x}", kind="internal") for i in range(10)]
    p = write(tmp_path, otlp_line(spans, host="h") + "\n" + structlog_line(S0, "after") + "\n")
    batches = list(applog.read(make_ctx(p)))
    assert [b.num_rows for b in batches] == [3, 3, 3, 2]
    assert [n for b in batches for n in b.column("record_no").to_pylist()] == list(range(11))


def test_damaged_lines_are_quarantined_and_counted(tmp_path):
    good = [structlog_line(S0 + timedelta(seconds=i), f"ok{i}", request_id=f"r{i}") for i in range(4)]
    p = write(tmp_path, "\r\n".join([
        good[0],
        "plain text, not JSON",                                         # 1
        '["an", "array"]',                                              # 2
        '{"msg": "no time at all"}',                                    # 3
        good[1],
        '{"time": "2014-02-30T10:00:00Z", "msg": "no such day"}',       # 5
        '{"time": "1969-12-31T23:59:59Z", "msg": "before 1970"}',       # 6
        '{"ts": -5, "msg": "negative epoch"}',                          # 7
        '{"ts": 9e30, "msg": "after 9999"}',                            # 8
        '{"time": "9999-12-31T23:30:00-05:00", "msg": "after 9999 in UTC"}',  # 9
        '{"time": "2014-10-20T10:00:00+25:00", "msg": "bad offset"}',   # 10
        '{"time": true, "msg": "bool"}',                                # 11
        "",
        "   ",
        "[" * 100_000,                                                  # 12 too deep
        '{"ts": NaN, "msg": "NaN is not JSON"}',                        # 13
        good[2],
        '{"time": "20/Oct/2014:18:19:05 +0000", "t": 1413847145, "msg": "first usable time wins"}',
        '{"timestamp": "yesterday", "ts": 1413847145, "msg": "falls through to ts"}',
        good[3],
    ]).encode() + b"\n\x00\x01\xff\xfe garbage\n" + b'{"ts": 1413847145, "msg": "truncated last li')   # 18, 19
    rows, quarantined = read_all(p)
    assert [r["message"] for r in rows] == ["ok0", "ok1", "ok2", "first usable time wins", "falls through to ts", "ok3"]
    reasons = {q.record_no: q.reason for q in quarantined}
    assert set(reasons) == {1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 19}
    assert reasons[1].startswith("not JSON") and reasons[2] == "JSON line is not an object"
    assert reasons[3].startswith("no timestamp field")
    assert "invalid date" in reasons[5]
    for n in (6, 7):
        assert "before 1970" in reasons[n]
    for n in (8, 9):
        assert "after 9999" in reasons[n]
    assert "offset" in reasons[10] and "bool" in reasons[11]
    assert "nested too deeply" in reasons[12]
    assert "no timestamp" in reasons[13] or "unusable" in reasons[13]
    assert reasons[18].startswith("not JSON") and reasons[19].startswith("not JSON")
    assert rows[4]["data"]["fields"]["timestamp"] == "yesterday"


def test_unrepresentable_json_values_are_made_safe(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        '{"ts": 1413847145, "msg": "lone surrogate \\ud800 here", "user": "\\udc00x", "emoji": "\\ud83d\\ude00"}',
        '{"ts": 1413847145, "msg": "huge float", "v": 1e400, "w": -Infinity}',
        '{"ts": 1413847145, "message": {"nested": ["object", 1]}}',
        '{"ts": 1413847145, "message": 42}',
    ])
    assert not quarantined
    assert rows[0]["message"] == "lone surrogate \ufffd here"
    assert rows[0]["data"]["fields"] == {"user": "\ufffdx", "emoji": "\U0001F600"}
    assert rows[1]["data"]["fields"] == {}          # inf read as null: not a scalar kept
    assert rows[2]["message"] == '{"nested": ["object", 1]}' and rows[3]["message"] == "42"


def test_long_values_are_cut_and_long_lines_read(tmp_path, monkeypatch):
    big = "x" * 200_000
    row = one(tmp_path, json.dumps({"ts": 1413847145, "msg": big, "blob": big, "request_id": big}))
    assert len(row["message"]) == 64 * 1024
    assert len(row["data"]["fields"]["blob"]) == 64 * 1024 and len(row["data"]["corr"]["request_id"]) == 64 * 1024
    # A line longer than the reader's limit is cut into pieces, each quarantined.
    monkeypatch.setattr(applog, "MAX_LINE", 1000)
    p = write(tmp_path, json.dumps({"ts": 1413847145, "msg": "y" * (3 << 20)}) + "\n" + structlog_line(S0, "after") + "\n")
    rows, quarantined = read_all(p)
    assert [r["message"] for r in rows] == ["after"]
    assert len(quarantined) >= 2 and all(q.reason.startswith("not JSON") for q in quarantined)


def test_lines_over_syslogs_limit_are_read_whole(tmp_path):
    # An OTLP export request is one line of several MiB: more than the 1 MiB other text sources allow.
    spans = [otlp_span("op", S0, S0, trace_id=TRACE, span_id=f"{i + 1:016x}", attributes={"pad": "p" * 1000})
             for i in range(2000)]
    line = otlp_line(spans, host="h")
    assert len(line) > 2 << 20
    rows, quarantined = rows_of(tmp_path, [line])
    assert len(rows) == 2000 and not quarantined


def test_utf8_bom_and_utf16(tmp_path):
    line = structlog_line(S0, "bom")
    rows, _ = read_all(write(tmp_path, b"\xef\xbb\xbf" + (line + "\n\ufeff" + line + "\n").encode()))
    assert [r["message"] for r in rows] == ["bom", "bom"]
    p = write(tmp_path, b"\xff\xfe" + (line + "\r\n").encode("utf-16-le"), "u16.log")
    assert applog.sniff(p.read_bytes())
    (row,), _ = read_all(p)
    assert row["message"] == "bom"


@pytest.mark.parametrize("content", [b"", b"\n \r\n\t\n"], ids=["empty", "blank"])
def test_nothing_to_read_is_unusable(tmp_path, content):
    with pytest.raises(UnusableFile):
        list(applog.read(make_ctx(write(tmp_path, content))))


def test_missing_file_is_unusable(tmp_path):
    with pytest.raises(UnusableFile):
        list(applog.read(make_ctx(tmp_path / "gone.log")))


APPLOG_SAMPLES = {
    "structlog": structlog_line(S0, "x", request_id="r") + "\n",
    "python-json-logger": python_json_logger_line(datetime(2014, 10, 20, 18, 19, 5), "x") + "\n",
    "serilog": '{"@t":"2014-10-20T23:19:05.1234567Z","@mt":"Hello {Name}","Name":"x"}\n',
    "zap": '{"level":"info","ts":1413847145.123,"msg":"x"}\n',
    "nginx": '{"time_local":"20/Oct/2014:18:19:05 -0500","remote_addr":"10.0.0.7","status":200}\n',
    "log4j2": '{"instant":{"epochSecond":1413847145,"nanoOfSecond":0},"level":"INFO","message":"x"}\n',
    "otlp": otlp_line([otlp_span("op", S0, S0, trace_id=TRACE, span_id=SPAN)], host="h") + "\n",
    "otlp-long": otlp_line([otlp_span("op", S0, S0, trace_id=TRACE, span_id=f"{i + 1:016x}") for i in range(100)]) + "\n",
    "long-message": json.dumps({"timestamp": "2014-10-20T23:19:05Z", "message": "m" * 20_000}) + "\n",
    "blank-first": "\n\n" + structlog_line(S0, "x") + "\n",
}


OTHER_SAMPLES = {
    "journald": journald_line(S0, "h", "app", 1, "x") + "\n",
    "journald-lower-time": json.dumps({"__REALTIME_TIMESTAMP": "1413847145000000", "timestamp": "2014-10-20T23:19:05Z",
                                       "MESSAGE": "x"}) + "\n",
    "journald-long": json.dumps({"MESSAGE": "x" * 10_000, "__REALTIME_TIMESTAMP": "1", "time": "2014"}) + "\n",
    "syslog-5424-json-msg": rfc5424_line(S0, "h", "app", 1, '{"time": "2014-10-20T23:19:05Z", "msg": "x"}') + "\n",
    "syslog-3164": rfc3164_line(datetime(2014, 10, 20, 18, 0), "h", "app", 1, '{"ts": 1}') + "\n",
    "json-no-time": '{"level": "info", "msg": "structured app log"}\n',
    "json-bad-time": '{"time": "soon", "msg": "x"}\n',
    "json-array": '[{"time": "2014-10-20T23:19:05Z"}]\n',
    "pretty-json": '{\n  "time": "2014-10-20T23:19:05Z",\n  "msg": "x"\n}\n',
    "otlp-metrics": '{"resourceMetrics":[{"resource":{},"scopeMetrics":[]}]}\n',
    "case-yaml": "timezone: America/Chicago\nreferences: [a]\n",
    "changes-csv": "time,host,change\n2014-10-20 18:30,h,x\n",
    "sipstack": "TL_INFO(TF_COMPONENT) [0]0AF0.0C6C::10/20/2014-23:19:05.123.0000a1b2 (SIPStack,X::Y:x.cpp(1)) started\n",
    "xml": '<?xml version="1.0"?>\n<Events><Event/></Events>',
    "evtx": b"ElfFile\x00" + bytes(4088),
    "binary": bytes(random.Random(7).randrange(256) for _ in range(4096)),
    "empty": b"",
    "blank": "\n\n  \n",
    "long-cut-no-message-key": '{"time": "2014-10-20T23:19:05Z", "data": "' + "d" * 10_000 + '"}\n',
}


def _head(sample: str | bytes) -> bytes:
    return (sample.encode() if isinstance(sample, str) else sample)[:8192]


@pytest.mark.parametrize("name", sorted(APPLOG_SAMPLES))
def test_sniff_claims_application_logs_alone(name):
    head = _head(APPLOG_SAMPLES[name])
    assert applog.sniff(head)
    assert sources.sniff(head) == "applog"
    assert sum(m.sniff(head) for m in sources.MODULES) == 1


@pytest.mark.parametrize("name", sorted(OTHER_SAMPLES))
def test_sniff_leaves_other_formats_alone(name):
    head = _head(OTHER_SAMPLES[name])
    assert not applog.sniff(head)
    assert sum(m.sniff(head) for m in sources.MODULES) <= 1


def test_applog_sits_after_journald_and_before_syslog():
    names = [m.FORMAT for m in sources.MODULES]
    assert names.index("journald") < names.index("applog") < names.index("syslog")
    assert sources.READERS["applog"] is applog.read


PROPERTY = settings(max_examples=examples(200), deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.function_scoped_fixture])


VALID = "\n".join([
    structlog_line(S0, "calling", request_id="r1", direction="out", peer="db01", traceparent=TP),
    python_json_logger_line(datetime(2014, 11, 2, 1, 30), "local", name="api", request_id="r1", direction="in"),
    APPLOG_SAMPLES["serilog"].strip(),
    APPLOG_SAMPLES["nginx"].strip(),
    APPLOG_SAMPLES["log4j2"].strip(),
    COLLECTOR_LINE.replace('"name": "no start", ', '"name": "no start", "startTimeUnixNano": "1413847145000000000", '),
]).encode() + b"\n"


def _read_anything(path: Path) -> None:
    """Read whatever is there: only UnusableFile may come out, and counts add up."""
    try:
        read_all(path)
    except UnusableFile:
        pass


# What the JSON and OTLP readers key on, for mutate().
TOKENS = [b"\n", b"\r\n", b"{", b"}", b"[", b'"', b",", b":", b"\\u", b"\\ud800", b"NaN", b"1e999",
          b'"ts":', b'"resourceSpans":[', b'"spans":[', b"-1", b"99999999999999999999", b"\x00",
          b"\xff\xfe", b"ff-", b"00-"]


def test_valid_sample_reads_clean(tmp_path):
    assert sources.sniff(VALID[:8192]) == "applog"
    rows, quarantined = read_all(write(tmp_path, VALID))
    assert len(rows) == 8 and not quarantined


@PROPERTY
@given(data=st.binary(max_size=3000))
def test_random_bytes_never_crash(tmp_path, data):
    _read_anything(write(tmp_path, data))
    assert sum(m.sniff(data[:8192]) for m in sources.MODULES) <= 1


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 12))
def test_mutated_input_never_crashes(tmp_path, seed, steps):
    data = mutate(VALID, random.Random(seed), steps, TOKENS)
    _read_anything(write(tmp_path, data))
    assert sum(m.sniff(data[:8192]) for m in sources.MODULES) <= 1


json_scalar = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)


json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                          max_leaves=12)


key = st.sampled_from(["@timestamp", "timestamp", "time", "ts", "@t", "t", "asctime", "instant", "message", "msg", "host",
                       "hostname", "service", "name", "levelname", "pid", "request_id", "trace_id", "span_id", "traceparent",
                       "kind", "span.kind", "direction", "phase", "end", "peer", "server.address", "dd.trace_id",
                       "resourceSpans", "scopeSpans", "spans", "startTimeUnixNano", "x"]) | st.text(max_size=8)


@PROPERTY
@given(objs=st.lists(st.dictionaries(key, json_value, max_size=8), min_size=1, max_size=5))
def test_arbitrary_json_objects_never_crash(tmp_path, objs):
    _read_anything(write(tmp_path, "\n".join(json.dumps(o) for o in objs) + "\n"))


token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-._"), min_size=1, max_size=20)


@PROPERTY
@given(t=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
       event=st.text(max_size=200), request_id=token, direction=st.sampled_from(["in", "out", "incoming", "outgoing"]),
       logger=token)
def test_structlog_round_trip(tmp_path, t, event, request_id, direction, logger):
    row = one(tmp_path, structlog_line(t, event, request_id=request_id, direction=direction, logger=logger))
    assert row["logged"] == t and row["provider"] == logger
    assert row["message"] == (event or None)
    assert row["data"]["corr"]["request_id"] == request_id
    assert row["data"]["corr"]["direction"] == ("incoming" if direction.startswith("in") else "outgoing")


@PROPERTY
@given(t=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2500, 1, 1), timezones=st.just(UTC)),
       trace=st.binary(min_size=16, max_size=16).filter(any), span=st.binary(min_size=8, max_size=8).filter(any),
       kind=st.sampled_from(["internal", "server", "client", "producer", "consumer"]), n=st.integers(1, 5))
def test_otlp_round_trip(tmp_path, t, trace, span, kind, n):
    spans = [otlp_span("op", t, t + timedelta(seconds=1), trace_id=trace.hex(), span_id=span.hex(), kind=kind) for _ in range(n)]
    rows, quarantined = rows_of(tmp_path, [otlp_line(spans, host="h", service="s")])
    assert len(rows) == n and not quarantined
    for row in rows:
        assert row["logged"] == t and row["data"]["corr"]["trace_id"] == trace.hex()
        assert row["data"]["corr"]["span_id"] == span.hex() and row["data"]["corr"]["kind"] == kind
