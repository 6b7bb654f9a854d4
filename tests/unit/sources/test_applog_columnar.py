"""The column-wise JSON Lines reader equals the per-line one, exactly.

``applog.read(ctx, columnar=False)`` reads every line with ``json.loads`` and
``record_of`` in Python; the default groups lines by shape, reads each shape with
Arrow's JSON reader and builds its rows with Arrow compute, sending only the lines it
may not get right through that same per-line code. Both read the same files; their
EVENTS rows (every column, in order), quarantine (record number, reason, excerpt, in
order) and UnusableFile must be equal. Inputs: the synthetic corpus, the real loggers'
lines the per-line tests use, every hostile shape the column-wise reader must hand back
or read exactly alike (escapes, duplicate keys, numbers Python and RapidJSON read
differently, NaN, nesting, control characters, local times across a zone change, OTLP
lines among log lines), CRLF, UTF-16, BOMs, and generated lines.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.columnar import assert_same_outcome, reader_outcome
from support.properties import examples, json_lines
from synth.applog import otlp_line, otlp_span, python_json_logger_line, structlog_line

from skewsleuth.sources import applog, applog_columns
from skewsleuth.sources.base import FileContext

CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def columnar_whatever_the_size(monkeypatch):
    monkeypatch.setattr(applog, "COLUMNAR_MIN_BYTES", 0)


def _ctx(path: Path, tz=CHICAGO) -> FileContext:
    return FileContext(path=path, file_id=3, default_host="dflt", timezone=tz)


def outcome(columnar: bool, path: Path, tz=CHICAGO):
    return reader_outcome(applog.read, _ctx(path, tz), columnar)


def assert_same(path: Path, tz=CHICAGO) -> list:
    return assert_same_outcome(applog.read, lambda: _ctx(path, tz))


def per_line(monkeypatch) -> list[int]:
    """The record numbers the column-wise reader leaves to the per-line code."""
    left: list[int] = []
    read_line = applog_columns.read_line

    def spy(line, no, *args):
        left.append(no)
        return (yield from read_line(line, no, *args))

    monkeypatch.setattr(applog_columns, "read_line", spy)
    return left


def _line(**fields) -> str:
    return json.dumps({"timestamp": "2014-10-20T23:19:05.123456Z", "level": "info", "logger": "billing.api",
                       "host": "app01.corp", "event": "charge accepted"} | fields, ensure_ascii=False)


# Lines the column-wise reader must read exactly as the per-line code, or leave to it.
# The first group is what it reads itself (see test_every_shape_alone_and_together).
FAST = [
    _line(),
    _line(request_id="b1946ac9", direction="in", peer="payments.internal:443", phase="request"),
    _line(request_id=4242, direction="OUT", phase="Response", method="GET"),
    _line(request_id="", requestId="r-2", peer="", net_peer_name="x"),
    _line(direction="sideways", type="http_request", status=200, ok=True, failed=False, nothing=None),
    _line(direction="outgoing", **{"server.address": "db01", "client.address": "10.9.9.9"}),
    _line(direction="incoming", **{"server.address": "db01", "client.address": "10.9.9.9", "remote_addr": "10.0.0.1"}),
    _line(event="", message="fallback message", msg="third"),
    _line(host="", hostname="web02", logger="", service="cart"),
    _line(message='quote " backslash \\ tab \t newline \n cr \r bs \b ff \f slash /'),
    _line(message="\\" * 101 + '" a run of backslashes before a quote', **{"k\\\\": "\\" * 300}),
    _line(message="caf\u00e9 \u2028 \x7f \U0001f600 <script>alert(1)</script> =HYPERLINK(\"http://x\")"),
    _line(timestamp="2014-10-20T18:19:05.123-05:00"),
    _line(timestamp="2014-10-20T18:19:05,1234567+0530"),
    _line(timestamp="2014-10-20 18:19:05 +02"),
    _line(timestamp="2016-12-31T23:59:60.5Z"),                       # a leap second
    _line(timestamp="2014-10-20T18:19:05"),                          # local: Chicago
    _line(timestamp=1413847145), _line(timestamp=1413847145123), _line(timestamp=1413847145123456),
    _line(timestamp=1413847145123456789), _line(timestamp=99999999999),
    json.dumps({"asctime": "2014-10-20 18:19:05,123", "name": "billing.api", "levelname": "INFO",
                "message": "Charge accepted", "order_id": 42}),
    json.dumps({"name": "myapp", "hostname": "web02", "pid": 1234, "level": 30, "msg": "listening",
                "time": "2014-10-20T23:19:05.123Z", "v": 0}),
    '{"level":"warning","msg":"slow query","time":"2014-10-20T23:19:06Z","elapsed_ms":812}',
    '{"@timestamp":"2014-10-20T18:19:05.123-05:00","@version":"1","message":"Order 42 accepted","logger_name":"x"}',
    '{ "ts" : 1413847145 ,\t"msg" : "spaced out" , "host" : "h" }',
    _line(timestamp=253402300800000000), _line(timestamp=None, ts=1413847145),   # nanoseconds; a null is absent
    '{"ts": 1413847145, "msg": "backslashes \\\\\\\\\\" quote"}',
    _line(**{"host.name": "flat-dotted", "weird key \"\\ é": "v", "": "empty key"}),
    _line(big=9223372036854775807, small=-9223372036854775808, zero=-0),
    # nested objects: pino, ECS, logback's MDC, Serilog, bunyan's err
    _line(err={"stack": "Error: x\n  at f", "type": "Error"}), _line(empty={}),
    json.dumps({"level": 30, "time": 1413847145123, "pid": 4243, "hostname": "web01",
                "req": {"id": 17, "method": "GET", "url": "/", "headers": {"host": "shop", "x-b3": None}},
                "msg": "request completed"}),
    json.dumps({"@timestamp": "2014-10-20T23:19:05.123Z", "log": {"level": "info", "logger": "shop"},
                "message": "order shipped", "host": {"name": "", "hostname": "web9"},
                "http": {"request": {"id": "r-77"}}, "error": {"message": "boom"}, "service": {"name": "shop"}}),
    json.dumps({"timestamp": 1413847145123, "mdc": {"X-Request-ID": "abc-1", "user": "u"}, "message": "x"}),
    json.dumps({"@t": "2014-10-20T23:19:05.1234567Z", "@mt": "HTTP {Method}", "Properties": {
        "RequestId": "0HL", "MachineName": "web7", "Method": "GET"}}),
    json.dumps({"ts": 1413847145, "msg": "x", "host.name": "flat", "host": {"name": "nested"}, "a.b": 1,
                "a": {"b": 2, "c.d": 3, "c": {"d": 4}}, "n": {"x": None, "y": "quote \" é"}}),
    _line(deep={"a": {"b": {"c": {"d": {"e": 1}}}}}, peer={"hostname": "p"}, direction="out"),
    '{"level":"info","ts":1413847145.3,"logger":"http","caller":"server/main.go:42","msg":"request started"}',
    _line(timestamp=1413847145.5), _line(timestamp=1413847145123.5),
    _line(timestamp=0.0000015), _line(timestamp=-0.0), _line(timestamp=2.5e-06),
    # floats as repr writes them, nested ones too
    _line(took=0.25), _line(err={"took": 0.5}),
    _line(a=1.0, b=-0.0, c=1e-05, d=0.0001, e=1e15, f=123.456, g=2 / 3, h=1.5e-300, i=9007199254740991.0),
]
SLOW = [
    _line(timestamp="2014-11-02T01:30:00"),                          # local, in the repeated hour
    _line(timestamp="2014-03-09T02:30:00"),                          # local, in the skipped hour
    _line(timestamp="2014-02-30T00:00:00Z"), _line(timestamp="2014-10-20T24:00:00Z"),
    _line(timestamp="1969-12-31T23:59:59Z"), _line(timestamp="9999-12-31T23:59:59-01:00"),
    _line(timestamp="2014-10-20T18:19:05+24:00"), _line(timestamp=" 2014-10-20T18:19:05Z"),
    _line(timestamp="٢٠١٤-10-20T18:19:05Z"),                        # digits Python's \d reads
    _line(timestamp="yesterday", time="2014-10-20T18:19:05Z"),       # the next time key
    _line(timestamp=-5), _line(timestamp="1413847145123"),
    _line(timestamp=True), _line(timestamp={"epochSecond": 1413847145}),
    '{"time_local":"20/Oct/2014:18:19:05 -0500","remote_addr":"10.0.0.7","host":"www.example.com","msg":"x"}',
    _line(big=18446744073709551616),
    '{"ts": 1413847145, "msg": "x", "n": 5}\n' * 2 + '{"ts": 1413847145, "msg": "x", "n": -NaN}',
    '{"ts": 1413847145, "msg": "x", "n": 5}\n' * 2 + '{"ts": 1413847145, "msg": "x", "n": 99999999999999999999}',
    _line(message="nul \x00 and \x1b escape"),
    _line(direction=" in\u00a0"), _line(phase="REQUEST\u0130"),
    _line(message=17), _line(msg=True, event=""), _line(message=["a"]), _line(message={"text": "x"}),
    _line(tags=["a", "b"]), _line(err={"frames": [{"f": 1}]}),
    _line(deep={"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}),
    _line(trace_id="4bf92f3577b34da6a3ce929d0e0e4736"), _line(kind="server"), _line(traceparent="00-x"),
    _line(end="2014-10-20T23:19:06Z"), _line(**{"dd.span_id": 7}),
    '{"time_iso8601":"2014-10-20T23:19:05+00:00","request_time":"1.250","request_id":"ab12cd34ef56ab78"}',
    '{"ts": 1413847145, "msg": "first", "msg": "last"}',
    '{"ts": 1413847145, "msg": "x", "\\u006dsg": "escaped duplicate"}',
    '{"ts": 1413847145, "msg": "lone \\ud800 half", "pair": "\\ud83d\\ude00"}',
    '{"ts": 1413847145, "msg": "trailing comma",}',
    '{"ts": 1413847145, "msg": "x", "n": NaN}', '{"ts": NaN, "time": 1413847145, "msg": "x"}',
    '{"ts": -Infinity, "msg": "x"}', _line(timestamp=-1.5),
    '{"ts": 1413847145, "msg": "x", "n": -Infinity}',
    '{"ts": 1413847145, "msg": "x", "n": Infinity}', '{"ts": 1413847145, "msg": "x", "n": -Inf}',
    '{"ts": 1413847145, "msg": "x", "n": nan}', '{"ts": 1413847145, "msg": "x", "n": 1e400}',
    '{"ts": 1413847145, "msg": "x", "n": 012}', '{"ts": 1413847145, "msg": "x", "n": 1.}',
    '{"ts": 1413847145, "msg": "x", "n": +1}', '{"ts": 1413847145, "msg": "x" /* comment */}',
    '{"ts": 1413847145, "msg": "x", "n": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"ts": 1413847145, "msg": "x"} trailing', '{"ts": 1413847145, "msg": "x"}{"ts": 1, "msg": "y"}',
    '{"ts": 1413847145, "msg": "raw\ttab"}', '{"ts": 1413847145, "msg": "\\x41"}',
    '  {"ts": 1413847145, "msg": "indented"}', '\ufeff{"ts": 1413847145, "msg": "BOM inside"}',
    '{"msg": "no time at all"}', '{}', '[1]', '"text"', '{"msg": "cut', "not json at all",
    '{"ts": 1413847145, "msg": "' + "x" * 70_000 + '"}',
    otlp_line([otlp_span(name, T0, T0 + timedelta(seconds=1), trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
                         span_id=span)
               for name, span in (("checkout", "00f067aa0ba902b7"), ("charge", "00f067aa0ba902b8"))],
              service="cart", host="app01"),
    json.dumps({"resourceSpans": []}),
]


# Floats past 2**53 (or an integer past 64 bits Arrow reads as one): the other lines
# of their shape, whose float column they share, go line by line with them.
WHOLE_SHAPE = [_line(took=1e16), _line(timestamp=1.4138471451234568e18), _line(timestamp=2.6e20),
               _line(a=1.0, b=-0.0, c=1e-05, d=0.0001, e=1e15, f=123.456, g=2 / 3, h=1.5e-300, i=2.0 ** 53)]


def _file(tmp_path: Path, lines: list[str], name: str = "app.jsonl", newline: str = "\n") -> Path:
    p = tmp_path / name
    p.write_bytes(newline.join(lines).encode("utf-8", "surrogatepass") + newline.encode())
    return p


def test_synthetic_corpus_same(tmp_path, monkeypatch):
    from synth.corpus import write_corpus

    left = per_line(monkeypatch)
    truth = write_corpus(tmp_path / "c", 3, 6_000, formats=["applog"], incident=False, faults=0.0, seed=4)
    files = sorted(p for p in Path(truth.root).rglob("*.jsonl"))
    assert sum(len(assert_same(p, ZoneInfo("UTC"))) for p in files) == truth.events
    # structlog's and python-json-logger's lines read column-wise but for shapes of
    # fewer than _FEWEST lines in a block (the rarer requests' lines in files this small)
    assert len(left) < truth.events // 10, len(left)


def test_every_shape_alone_and_together(tmp_path, monkeypatch):
    monkeypatch.setattr(applog_columns, "_FEWEST", 1)
    left = per_line(monkeypatch)
    for k, line in enumerate(FAST + SLOW + WHOLE_SHAPE):
        assert_same(_file(tmp_path, [line, line], f"s{k}.jsonl"))
    assert_same(_file(tmp_path, FAST + WHOLE_SHAPE, "whole.jsonl"))
    # one shape each (a shape of a few lines alone), hostile lines between them,
    # OTLP spans moving the record numbers of the lines after them
    lines = [x for pair in zip(FAST * 3, (SLOW * 3)[:len(FAST) * 3]) for x in pair] + SLOW
    left.clear()
    rows = assert_same(_file(tmp_path, lines))
    assert len(rows) > len(FAST) * 3
    # every line of FAST read column-wise, and none of SLOW
    fast_nos = {r["record_no"] for r in rows if r["channel"] == "applog"} - set(left)
    fast_messages = {r["message"] for r in rows if r["record_no"] in fast_nos}
    assert len(fast_nos) == len(FAST) * 3, (len(fast_nos), len(FAST) * 3)
    assert "charge accepted" in fast_messages and "spaced out" in fast_messages


def test_fields_and_corr_as_record_of_writes_them(tmp_path, monkeypatch):
    """A row read column-wise, spelled out: the reference holds it too, but this says what it is."""
    monkeypatch.setattr(applog_columns, "_FEWEST", 1)
    left = per_line(monkeypatch)
    rows = assert_same(_file(tmp_path, [FAST[1], FAST[4]]))
    assert left == []
    assert rows[0]["data"] == ('{"corr": {"request_id": "b1946ac9", "direction": "incoming", "phase": "request", '
                               '"peer": "payments.internal:443"}, "fields": {"level": "info", "request_id": '
                               '"b1946ac9", "direction": "in", "peer": "payments.internal:443", "phase": "request"}}')
    assert rows[1]["data"] == ('{"corr": {}, "fields": {"level": "info", "direction": "sideways", '
                               '"type": "http_request", "status": 200, "ok": true, "failed": false}}')


@pytest.mark.parametrize("how", ["crlf", "utf-16", "utf-16-be", "bom", "no final newline", "blank lines"])
def test_encodings_and_line_ends(tmp_path, monkeypatch, how):
    monkeypatch.setattr(applog_columns, "_FEWEST", 1)
    left = per_line(monkeypatch)
    text = "\n".join(FAST) + "\n"
    data = {"crlf": text.replace("\n", "\r\n").encode(), "utf-16": text.replace("\n", "\r\n").encode("utf-16"),
            "utf-16-be": b"\xfe\xff" + text.encode("utf-16-be"), "bom": b"\xef\xbb\xbf" + text.encode(),
            "no final newline": text.rstrip("\n").encode(),
            "blank lines": ("\n \n\t\n" + text.replace("\n", "\n\n   \n")).encode()}[how]
    p = tmp_path / "a.jsonl"
    p.write_bytes(data)
    assert len(assert_same(p)) == len(FAST)
    assert left == []


def test_groups_of_blocks_and_shapes_across_them(tmp_path, monkeypatch):
    from skewsleuth.sources import journald_columns, textinput

    monkeypatch.setattr(textinput, "BLOCK", 1000)
    lines = [structlog_line(T0 + timedelta(seconds=i, microseconds=i), f"m{i} " + "x" * (i % 50),
                            logger="orders.worker", host="app01", n=i) if i % 3 else
             python_json_logger_line((T0 + timedelta(seconds=i)).replace(tzinfo=None), f"m{i}", name="w", n=i)
             for i in range(400)] + SLOW
    p = _file(tmp_path, lines)
    for group, fewest in ((1, 1), (3, 64), (8, 4)):
        monkeypatch.setattr(journald_columns, "_GROUP", group)
        monkeypatch.setattr(applog_columns, "_FEWEST", fewest)
        assert len(assert_same(p)) > 400


def test_local_times_across_zone_changes(tmp_path, monkeypatch):
    """asctime in Chicago through both changes of 2014: the repeated hour's fold is
    the reference's (its lines go through it, in order), the rest column-wise."""
    monkeypatch.setattr(applog_columns, "_FEWEST", 1)
    left = per_line(monkeypatch)
    lines = [json.dumps({"asctime": f"2014-{day} {h:02d}:{m:02d}:00,000", "name": "w", "levelname": "INFO",
                         "message": f"{day} {h}:{m}"})
             for day in ("03-09", "11-02") for h in (0, 1, 2, 3) for m in (0, 30, 59)]
    lines += lines[12:18]   # back into the repeated hour
    rows = assert_same(_file(tmp_path, lines))
    assert len(rows) == len(lines)
    # the skipped hour's three lines and the repeated hour's three, twice, are the
    # reference's, with their notes; the rest column-wise
    assert sum('"tz_resolution"' in r["data"] for r in rows) == 3 + 3 + 3
    assert 0 < len(left) < len(lines) - 12


def test_a_small_file_is_read_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(applog, "COLUMNAR_MIN_BYTES", 4096)
    left = per_line(monkeypatch)
    monkeypatch.setattr(applog_columns, "_FEWEST", 1)
    for n, small in ((5, True), (100, False)):
        left.clear()
        p = _file(tmp_path, [_line(n=i) for i in range(n)])
        assert len(assert_same(p)) == n
        assert left == []
        calls: list[int] = []
        monkeypatch.setattr(applog_columns, "read_columns", lambda ctx: calls.append(1) or iter(()))
        list(applog.read(FileContext(path=p, file_id=0, default_host="d", timezone=CHICAGO)))
        assert calls == ([] if small else [1])
        monkeypatch.undo()
        monkeypatch.setattr(applog, "COLUMNAR_MIN_BYTES", 4096)
        left = per_line(monkeypatch)
        monkeypatch.setattr(applog_columns, "_FEWEST", 1)


def test_blank_file_is_unusable_either_way(tmp_path):
    p = tmp_path / "blank.jsonl"
    p.write_text("\n  \n\n")
    assert outcome(True, p)[0] == outcome(False, p)[0] == ("unusable", "no log lines (blank file)")


_KEYS = st.sampled_from(["timestamp", "ts", "time", "asctime", "message", "msg", "event", "host", "hostname",
                         "logger", "service", "name", "levelname", "pid", "request_id", "requestId", "direction",
                         "phase", "type", "peer", "remote_addr", "server.address", "level", "n", "", "é\"\\"])
_TEXT = st.lists(st.sampled_from(list("09aZ é\"\\\t\n\x00\x1f\x7f\u2028:,{}[]-TZ+") + ["in", "OUT", "request",
                                                                                         "2014-10-20T18:19:05"]),
                 max_size=10).map("".join)
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**64), st.floats(allow_nan=True, allow_infinity=True),
                   _TEXT, st.sampled_from(["2014-10-20T18:19:05.5Z", "2014-11-02 01:30:00,000", "2014-10-20 18:19:05",
                                           "20/Oct/2014:18:19:05 -0500", "", "in", "outgoing"]),
                   st.integers(1_000_000_000, 2_000_000_000_000_000_000), st.lists(st.integers(), max_size=2),
                   st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-1, 5), _TEXT),
                                lambda inner: st.dictionaries(st.sampled_from(["id", "name", "hostname", "b.c", "b",
                                                                               "c", "RequestId", ""]), inner,
                                                              max_size=3), max_leaves=6))


@settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(st.lists(st.tuples(_KEYS, _VALUE), max_size=8),
                          st.sampled_from(FAST + SLOW + WHOLE_SHAPE)), max_size=30),
       st.sampled_from(["\n", "\r\n"]), st.sampled_from([1, 3]), st.booleans())
def test_hostile_lines_same(tmp_path_factory, monkeypatch, entries, newline, fewest, repeat):
    monkeypatch.setattr(applog_columns, "_FEWEST", fewest)
    lines = json_lines(entries, ("ts", 1413847145))
    if repeat:
        lines = lines * 3   # shapes of several lines
    p = tmp_path_factory.mktemp("h") / "h.jsonl"
    p.write_bytes(newline.join(lines).encode("utf-8", "surrogatepass"))
    assert_same(p)


@pytest.mark.parametrize("layout", ["2014-10-20T18:19:05Z", "2014-10-20T18:19:05.123456Z", "2014-10-20 18:19:05,123",
                                    "2014-10-20T18:19:05.123456789-05:00", "2014-10-20T18:19:05+0530",
                                    "2014-10-20t18:19:05 +02", "2014-10-20T18:19:05.1z", "2014-10-20T18:19:05",
                                    "2014-10-20T18:19:05 "])
def test_times_of_one_layout_read_by_position_as_by_pattern(layout):
    """A column of one layout is read by byte position; what it reads must be what the
    pattern reads of the same rows, bad dates, hours, leap seconds and offsets too."""
    import random

    rng = random.Random(layout)
    digits = [i for i, c in enumerate(layout) if c.isdigit()]
    rows = [layout]
    for _ in range(300):
        chars = list(layout)
        for i in rng.sample(digits, 3):
            chars[i] = rng.choice("0123456789")
        rows.append("".join(chars))
    values = pa.array(rows, pa.string())
    fixed = applog_columns._iso_fixed(values)
    assert fixed is not None
    for got, want in zip(fixed, applog_columns._iso_matched(values)):
        assert got.tolist() == want.tolist()
    assert applog_columns._iso_fixed(pa.array(rows + ["2014-10-20T18:19:05.1234567"])) is None   # another layout


def test_floats_written_as_repr_writes_them():
    """Every float the column-wise reader writes is repr's text: doubles of every bit
    pattern, the edges of the fixed and exponent forms, and the values logs hold."""
    import random
    import struct

    rng = random.Random(22)
    values = [0.0, -0.0, 1.0, 0.1, 1e-4, 1e-5, 1e15, 1e16, 9999999999999998.0, 5e-324, 1.7976931348623157e308,
              2.5e-06, 1413847145.3, 100.0, 12345.678, 2 / 3]
    values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20_000)]
    values += [round(rng.uniform(0, 1000), rng.randint(0, 6)) for _ in range(5_000)]
    values += [rng.randint(1, 10**6) * 10.0 ** rng.randint(-30, 30) for _ in range(5_000)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    text, written = applog_columns._float_repr(pa.array(values, pa.float64()))
    pairs = [(t, repr(v)) for v, t, w in zip(values, text.to_pylist(), written.to_pylist()) if w]
    assert [t for t, _ in pairs] == [r for _, r in pairs]
    assert len(pairs) > 0.98 * len(values)   # the rest, left to read_line, are few
