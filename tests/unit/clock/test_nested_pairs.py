"""Pairs from request ids that no record gives a direction: paired by nesting.

A gateway and the service it calls both log every request id, neither says which
side of the call it is on. The caller's records of an id bracket the call, the
callee's lie within them (as Jaeger's and Zipkin's clock skew adjusters nest a
child span in its parent); a span longer than the other by more than the logs'
ticks cannot be the callee's. Lines are written in the shapes the loggers emit
(tests/synth/applog.py names each): logback's JsonEncoder (MDC ``requestId``) and
structlog's JSONRenderer (``request_id``, ``event``), fastify / pino (``reqId``,
"incoming request" / "request completed") and zap (``request_id``, ``ts``), nginx and
envoy JSON access logs (one line a request, its span from ``$request_time`` /
``%DURATION%``) in front of Serilog's JsonFormatter and structlog, RFC 5424 syslog in
front of a journal.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from support.properties import examples

import skewsleuth
from skewsleuth.case import Case
from skewsleuth.clock.model import build_clock_model
from skewsleuth.clock.pairs import pair_bounds
from skewsleuth.store import Store
from synth.fleet import load_fleet, make_fleet
from synth.syslog import journald_line, rfc5424_line
from synth.applog import (envoy_json_line, logback_json_line, nginx_json_line, pino_line, serilog_json_line,
                          structlog_line, zap_line)

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
SKEW = 600.318          # the auth server's clock is this far ahead


def _calls(n: int, seed: int, *, first: float = 0.0):
    """Per call, in true seconds from T0: the caller's first record, the callee's first
    and last, the caller's last (network 0.5-20 ms each way, work 2-80 ms)."""
    rnd = random.Random(seed)
    t = first
    for k in range(n):
        t += rnd.uniform(0.5, 3.0)
        a = t + rnd.uniform(0.0005, 0.020)
        b = a + rnd.uniform(0.002, 0.080)
        yield k, t, a, b, b + rnd.uniform(0.0005, 0.020)


def _at(seconds: float, offset: float = 0.0) -> datetime:
    return T0 + timedelta(seconds=seconds + offset)


def _rid(seed: int, k: int) -> str:
    return f"{random.Random(seed * 100003 + k).getrandbits(128):032x}"


def logback_gateway_structlog_auth(n: int = 40, seed: int = 1, skew: float = SKEW):
    """gw01 (Spring Cloud Gateway, logback JsonEncoder, MDC requestId) calls auth01
    (a Python service, structlog, ``request_id``) for every token."""
    gw, auth = [], []
    for k, t, a, b, c in _calls(n, seed):
        rid = _rid(seed, k)
        gw.append(logback_json_line(_at(t), "--> POST /token", logger="com.example.gateway.AccessLog",
                                    thread=f"reactor-http-nio-{k % 4 + 1}", mdc={"requestId": rid}, seq=2 * k))
        auth.append(structlog_line(_at(a, skew), "request started", logger="auth.http", request_id=rid,
                                   method="POST", path="/token"))
        auth.append(structlog_line(_at(b, skew), "request finished", logger="auth.http", request_id=rid,
                                   status=200))
        gw.append(logback_json_line(_at(c), "<-- 200", logger="com.example.gateway.AccessLog",
                                    thread=f"reactor-http-nio-{k % 4 + 1}", mdc={"requestId": rid}, seq=2 * k + 1))
    return {"gw01/gateway.json": gw, "auth01/auth.log": auth}


def fastify_bff_zap_service(n: int = 40, seed: int = 2, skew: float = SKEW):
    """bff01 (fastify, pino, ``requestIdHeader: 'x-request-id'`` so that ``reqId`` is the
    header's value) calls auth01 (Go, zap ``NewProduction()``, ``request_id``)."""
    bff, auth = [], []
    for k, t, a, b, c in _calls(n, seed):
        rid = _rid(seed, k)
        bff.append(pino_line(_at(t), "incoming request", hostname="bff01", reqId=rid,
                             req={"method": "POST", "url": "/login", "hostname": "bff01", "remoteAddress": "10.0.0.5"}))
        auth.append(zap_line(_at(a, skew), "request started", logger="http", request_id=rid, method="POST",
                             path="/token"))
        auth.append(zap_line(_at(b, skew), "request finished", logger="http", request_id=rid, status=200))
        bff.append(pino_line(_at(c), "request completed", hostname="bff01", reqId=rid, res={"statusCode": 200},
                             responseTime=round((c - t) * 1000, 3)))
    return {"bff01/bff.log": bff, "auth01/auth.log": auth}


def nginx_gateway_serilog_auth(n: int = 40, seed: int = 3, skew: float = SKEW):
    """gw01: nginx proxying /token, one JSON access-log line a request when it is over
    (``$time_iso8601``, whole seconds, and ``$request_time``), passing ``$request_id``
    as X-Request-ID; auth01: ASP.NET Core with Serilog's JsonFormatter, the header made
    the request's TraceIdentifier (so ``RequestId``), Microsoft.AspNetCore.Hosting's
    "Request starting" / "Request finished" events."""
    gw, auth = [], []
    for k, t, a, b, c in _calls(n, seed):
        rid = _rid(seed, k)
        props = {"RequestId": rid, "RequestPath": "/token", "ConnectionId": "0HMV3K2GQ4Q1B",
                 "SourceContext": "Microsoft.AspNetCore.Hosting.Diagnostics"}
        auth.append(serilog_json_line(
            _at(a, skew), "Request starting {Protocol} {Method} {Scheme}://{Host}{PathBase}{Path}{QueryString} - "
            "{ContentType} {ContentLength}", "Request starting HTTP/1.1 POST http://auth01/token - "
            "application/x-www-form-urlencoded 42", properties={**props, "Protocol": "HTTP/1.1", "Method": "POST"}))
        auth.append(serilog_json_line(
            _at(b, skew), "Request finished {Protocol} {Method} {Scheme}://{Host}{PathBase}{Path}{QueryString} - "
            "{StatusCode} {ContentLength} {ContentType} {ElapsedMilliseconds}ms",
            f"Request finished HTTP/1.1 POST http://auth01/token - 200 512 application/json {(b - a) * 1000:.4f}ms",
            properties={**props, "StatusCode": 200}))
        # nginx's line is written once the response is sent, a little after the upstream's answer
        gw.append(nginx_json_line(_at(c + 0.0003), _at(t), request_id=rid))
    return {"gw01/access.json": gw, "auth01/auth.json": auth}


def envoy_gateway_structlog_auth(n: int = 40, seed: int = 4, skew: float = SKEW):
    """gw01: envoy, one JSON access-log line a request (``%START_TIME%``, ``%DURATION%``);
    auth01: structlog as above."""
    gw, auth = [], []
    for k, t, a, b, c in _calls(n, seed):
        rid = f"{_rid(seed, k)[:8]}-{_rid(seed, k)[8:12]}-4{_rid(seed, k)[13:16]}-8{_rid(seed, k)[17:20]}-" \
              f"{_rid(seed, k)[20:32]}"
        gw.append(envoy_json_line(_at(t), _at(c), request_id=rid))
        auth.append(structlog_line(_at(a, skew), "request started", request_id=rid))
        auth.append(structlog_line(_at(b, skew), "request finished", request_id=rid))
    return {"gw01/access.json": gw, "auth01/auth.log": auth}


def _write(root, files, *, newline="\n", encoding="utf-8", case="references: [gw01, bff01]\nreference_accuracy_s: 0.001\n"):
    for name, lines in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((newline.join(lines) + newline).encode(encoding))
    if case is not None:
        (root / "case.yml").write_text(case)
    return root


def _segments(verdict, host):
    return next(h for h in verdict["hosts"] if h["host"].split(".")[0] == host)["segments"]


def _check_skewed(v, caller, *, width):
    (auth,) = _segments(v, "auth01")
    assert auth["offset_low_s"] <= SKEW <= auth["offset_high_s"]
    assert auth["offset_high_s"] - auth["offset_low_s"] < width
    assert "pairs" in auth["basis"] and any("within it" in e for e in auth["evidence"]), auth["evidence"]
    for s in _segments(v, caller):
        assert abs(s["offset_s"]) < 0.01


@pytest.mark.parametrize("scenario,caller", [(logback_gateway_structlog_auth, "gw01"),
                                             (fastify_bff_zap_service, "bff01")])
def test_request_ids_without_direction_give_the_skewed_clock(tmp_path, scenario, caller):
    v = skewsleuth.investigate([_write(tmp_path / "ev", scenario())]).to_dict()
    # logback and pino write milliseconds: the interval is a few ms wide
    _check_skewed(v, caller, width=0.05)


def test_an_access_log_line_gives_its_request_span(tmp_path):
    """nginx writes one line a request, at its end, in whole seconds: its span comes from
    $request_time, so it pairs, each bound as wide as a second's tick."""
    v = skewsleuth.investigate([_write(tmp_path / "ev", nginx_gateway_serilog_auth())]).to_dict()
    _check_skewed(v, "gw01", width=2.1)
    v = skewsleuth.investigate([_write(tmp_path / "ev2", envoy_gateway_structlog_auth())]).to_dict()
    _check_skewed(v, "gw01", width=0.05)


def test_a_syslog_gateway_and_a_journald_service_pair_by_nesting_too(tmp_path):
    """Text logs name request ids too: an RFC 5424 gateway (structured data, as a
    Go/Java syslog appender writes it) and a service's journal (``request_id=`` words of
    its messages, as logfmt writes them); neither says its direction."""
    gw, auth = [], []
    for k, t, a, b, c in _calls(30, 5):
        rid = _rid(5, k)
        gw.append(rfc5424_line(_at(t), "gw01", "gateway", 812, "--> POST /token",
                               structured_data={"req@32473": {"request_id": rid}}))
        gw.append(rfc5424_line(_at(c), "gw01", "gateway", 812, "<-- 200",
                               structured_data={"req@32473": {"request_id": rid}}))
        auth.append(journald_line(_at(a, SKEW), "auth01", "authd", 977,
                                  f'level=info msg="request started" request_id={rid} method=POST path=/token'))
        auth.append(journald_line(_at(b, SKEW), "auth01", "authd", 977,
                                  f'level=info msg="request finished" request_id={rid} status=200'))
    v = skewsleuth.investigate([_write(tmp_path / "ev", {"gw01/syslog": gw, "auth01/journal.json": auth})]).to_dict()
    _check_skewed(v, "gw01", width=0.05)


def test_with_the_default_reference_accuracy_the_interval_is_that_wide(tmp_path):
    v = skewsleuth.investigate([_write(tmp_path / "ev", logback_gateway_structlog_auth(),
                                       case="references: [gw01]\n")]).to_dict()
    (auth,) = _segments(v, "auth01")
    assert auth["offset_low_s"] <= SKEW <= auth["offset_high_s"] and auth["offset_high_s"] - auth["offset_low_s"] < 2.05
    (gw,) = _segments(v, "gw01")
    assert abs(gw["offset_s"]) <= 1.0


def test_the_evidence_says_which_host_logged_the_span_and_which_within_it(tmp_path):
    v = skewsleuth.investigate([_write(tmp_path / "ev", logback_gateway_structlog_auth())]).to_dict()
    (auth,) = _segments(v, "auth01")
    text = " ".join(auth["evidence"])
    assert "with no direction by" in text and "logged by gw01" in text and "by auth01 within it" in text
    assert "request_id " in text and "auth01's clock is at most 600.3" in text
    assert "gw01's clock is at least 600.3" in text and " behind auth01's" in text


@pytest.mark.parametrize("newline,encoding", [("\r\n", "utf-8"), ("\r\n", "utf-16"), ("\n", "utf-8-sig")])
def test_crlf_and_utf16_exports_pair_the_same(tmp_path, newline, encoding):
    v = skewsleuth.investigate([_write(tmp_path / "ev", logback_gateway_structlog_auth(),
                                       newline=newline, encoding=encoding)]).to_dict()
    _check_skewed(v, "gw01", width=0.05)


def _bounds(root):
    """The investigation's store and model, and the pair bounds on its final segments."""
    v = skewsleuth.investigate([root])
    return v.store, v.model, pair_bounds(v.store)


def _nested(store) -> int:
    return store.con.execute("SELECT count(*) FROM _nested").fetchall()[0][0]


def test_a_key_logged_on_three_hosts_pairs_nothing(tmp_path):
    files = logback_gateway_structlog_auth(n=20)
    # the same ids reach a third host too (an audit service the auth server calls):
    # whose span holds whose is no longer told by their lengths
    files["audit01/audit.log"] = [line.replace('"auth.http"', '"audit.http"')
                                  for line in files["auth01/auth.log"][::2]] + \
                                 [line.replace('"auth.http"', '"audit.http"')
                                  for line in files["auth01/auth.log"][1::2]]
    store, model, pb = _bounds(_write(tmp_path / "ev", files, case=None))
    assert store.con.execute("SELECT count(*) FROM _nested").fetchall()[0][0] == 0
    assert len(pb) == 0


def test_one_record_per_side_pairs_nothing(tmp_path):
    files = logback_gateway_structlog_auth(n=20)
    files["gw01/gateway.json"] = files["gw01/gateway.json"][1::2]     # only "<-- 200"
    files["auth01/auth.log"] = files["auth01/auth.log"][::2]           # only "request started"
    store, model, pb = _bounds(_write(tmp_path / "ev", files, case=None))
    assert len(pb) == 0


@pytest.mark.parametrize("case", [None, "correlation_keys: [request_id]\n"])
def test_a_side_with_one_record_pairs_nothing_even_if_the_other_has_a_span(tmp_path, case):
    # An access log written when the request is over is one record: it may be the
    # caller, whose record then lies after its callee's span, not around it. Here the
    # auth server logs one record a request (a case key of the same name reads it
    # again: still one record).
    files = logback_gateway_structlog_auth(n=20)
    files["auth01/auth.log"] = files["auth01/auth.log"][1::2]
    store, model, pb = _bounds(_write(tmp_path / "ev", files, case=case))
    assert len(pb) == 0
    files["gw01/gateway.json"] = files["gw01/gateway.json"][1::2]
    files["auth01/auth.log"] = logback_gateway_structlog_auth(n=20)["auth01/auth.log"]
    store, model, pb = _bounds(_write(tmp_path / "ev2", files, case=case))
    assert len(pb) == 0


def test_spans_equally_long_within_the_ticks_pair_nothing(tmp_path):
    # both sides log whole seconds (one tick is a second): no span is surely longer
    gw = [logback_json_line(_at(float(k * 10)), "--> POST /token", mdc={"requestId": f"r{k:08x}ab"})
          for k in range(5)] + [logback_json_line(_at(float(k * 10 + 1)), "<-- 200", mdc={"requestId": f"r{k:08x}ab"})
                                for k in range(5)]
    auth = [structlog_line(_at(float(k * 10), 600), "request started", request_id=f"r{k:08x}ab") for k in range(5)] + \
           [structlog_line(_at(float(k * 10), 600), "request finished", request_id=f"r{k:08x}ab") for k in range(5)]
    store, model, pb = _bounds(_write(tmp_path / "ev", {"gw01/g.json": gw, "auth01/a.log": auth}, case=None))
    assert len(pb) == 0


def test_request_counters_pair_nothing(tmp_path):
    # pino-http's default genReqId counts 1, 2, 3 ... in every process, fastify's
    # req-1, req-2 ...: the same ids on two hosts are different requests
    files = fastify_bff_zap_service(n=20)
    for k in range(20):
        rid = _rid(2, k)
        files["bff01/bff.log"] = [line.replace(rid, f"req-{k + 1}") for line in files["bff01/bff.log"]]
        files["auth01/auth.log"] = [line.replace(f'"{rid}"', str(k + 1)) for line in files["auth01/auth.log"]]
    assert '"request_id":1,' in "".join(files["auth01/auth.log"])
    store, model, pb = _bounds(_write(tmp_path / "ev", files, case=None))
    assert _nested(store) == 0 and len(pb) == 0
    files = {name: [line.replace('"request_id":', '"request_id":"req-').replace(',"method"', '","method"')
                    .replace(',"status"', '","status"') for line in lines] for name, lines in files.items()}
    store, model, pb = _bounds(_write(tmp_path / "ev2", files, case=None))
    assert _nested(store) == 0 and len(pb) == 0


def test_ids_with_a_direction_keep_the_directed_pairing(tmp_path):
    # the same ids, the gateway saying "out": today's pairing, no nesting
    files = logback_gateway_structlog_auth(n=20)
    files["gw01/gateway.json"] = [line.replace('"mdc": {', '"direction":"out","mdc": {')
                                  for line in files["gw01/gateway.json"]]
    files["auth01/auth.log"] = [line.replace('"request_id"', '"direction": "in", "request_id"')
                                for line in files["auth01/auth.log"]]
    store, model, pb = _bounds(_write(tmp_path / "ev", files, case=None))
    assert store.con.execute("SELECT count(*) FROM _nested").fetchall()[0][0] == 0
    assert store.con.execute("SELECT count(*) FROM _message_pairs WHERE via = 'correlated'").fetchall()[0][0] > 0


def test_a_step_inside_a_span_drops_that_key(tmp_path):
    """The auth server's clock is set back by an hour while it serves request 10: that
    key's span on it holds the step (its length says nothing); the other keys pair
    on each side of the step, and both of the auth server's segments are found."""
    files = logback_gateway_structlog_auth(n=20)
    auth = files["auth01/auth.log"]
    late = [structlog_line(datetime.fromisoformat(line.split('"timestamp": "')[1][:-2].replace("Z", "+00:00"))
                           - timedelta(hours=1), "x", request_id="y").split('"timestamp": ')[1][:-1]
            for line in auth[21:]]
    files["auth01/auth.log"] = auth[:21] + [line.split('"timestamp": ')[0] + '"timestamp": ' + t + "}"
                                            for line, t in zip(auth[21:], late)]
    store, model, pb = _bounds(_write(tmp_path / "ev", files))
    segs = [e for e in model.segments if e.segment.host.startswith("auth01")]
    assert len(segs) == 2
    assert segs[0].interval.low <= SKEW <= segs[0].interval.high
    assert segs[1].interval.low <= SKEW - 3600 <= segs[1].interval.high
    # request 10 (records 20 and 21 of the auth log) crosses the step: in _nested, not in _pairs
    crossing = store.con.execute("""SELECT count(*) FROM _nested n JOIN files f ON f.file_id = n.r_file
                                    WHERE f.path LIKE '%auth.log' AND n.r_rn IN (20, 21)""").fetchall()[0][0]
    kept = store.con.execute("""SELECT count(*) FROM _pairs p JOIN files f ON f.file_id = p.r_file
                                WHERE f.path LIKE '%auth.log' AND p.r_rn IN (20, 21)""").fetchall()[0][0]
    assert crossing == 1 and kept == 0


# scenario, its caller, how wide the two bounds may be together (nginx: whole seconds)
SCENARIOS = [(logback_gateway_structlog_auth, "gw01", 0.25), (fastify_bff_zap_service, "bff01", 0.25),
             (nginx_gateway_serilog_auth, "gw01", 2.25), (envoy_gateway_structlog_auth, "gw01", 0.25)]


def test_a_span_holding_a_record_read_twice_pairs_nothing(tmp_path):
    """A record logged in a stretch its clock read twice (ambiguous_records) may be on
    either side of a change: its key's lengths, and so which side called, are unknown."""
    from skewsleuth.clock.pairs import match_pairs
    store, model, pb = _bounds(_write(tmp_path / "ev", logback_gateway_structlog_auth(n=20), case=None))
    keys = lambda: store.con.execute("SELECT count(DISTINCT label) FROM _pairs WHERE via = 'nested'").fetchall()[0][0]  # noqa: E731
    assert keys() == 20
    # the auth server's "request finished" of request 3 (the end of its span: only the
    # other end is in each of its two rows), and the gateway's "--> POST" of request 7
    store.con.execute("""INSERT INTO ambiguous_records
                         SELECT e.file_id, e.record_no, es.segment_id FROM events e JOIN files f USING (file_id)
                         JOIN event_segments es USING (file_id, record_no)
                         WHERE (f.path LIKE '%auth.log' AND e.record_no = 7)
                            OR (f.path LIKE '%gateway.json' AND e.record_no = 14)""")
    store.versions["event_segments"] = store.versions.get("event_segments", 0) + 1
    match_pairs(store)
    assert keys() == 18


def _truth_check(tmp_path, scenario, n, seed, skew):
    """Bounds straight from the pairs: the true o_auth - o_caller lies within them."""
    make, caller, width = scenario
    store, model, pb = _bounds(_write(tmp_path, make(n=n, seed=seed, skew=skew), case=None))
    hosts = pb.table.column("host_send").to_pylist()
    assert len(pb) == 2 and sorted(h.split(".")[0] for h in hosts) == sorted(["auth01", caller]), "one bound each way"
    up = next(pb.bound_s[k] for k in range(2) if hosts[k].startswith(caller))      # o_auth - o_caller <= up
    down = next(pb.bound_s[k] for k in range(2) if hosts[k].startswith("auth01"))  # o_caller - o_auth <= down
    assert -down - 1e-9 <= skew <= up + 1e-9
    assert up + down < width


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SCENARIOS), st.integers(3, 12), st.integers(0, 2**31), st.floats(-86400, 86400))
def test_the_true_offset_difference_is_always_within_the_bounds(tmp_path_factory, scenario, n, seed, skew):
    _truth_check(tmp_path_factory.mktemp("ev"), scenario, n, seed, skew)


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 8), st.floats(0, 2), st.integers(0, 2**31))
def test_on_fleets_talking_by_request_ids_alone_every_interval_holds_the_truth(n_hosts, steps, seed):
    """Fleets with known clocks (steps included) whose calls carry a request id and no
    direction: the clock model, from nesting alone, keeps every true offset."""
    fleet, events, truth = make_fleet(n_hosts, 300 * n_hosts, steps_per_host=steps, seed=seed)
    store = Store()
    load_fleet(store, events, undirected=True)
    model = build_clock_model(store, Case(references=[fleet.hosts[0]], reference_accuracy_s=0.0005))
    assert store.con.execute("SELECT count(*) FROM _nested").fetchall()[0][0] > 0
    assert model.contradictions == []
    store.con.register("truth", truth)
    rows = store.rows("""SELECT s.segment_id, min(t.offset_s) AS lo, max(t.offset_s) AS hi
                         FROM event_segments s JOIN truth t USING (file_id, record_no) GROUP BY 1""")
    for r in rows:
        iv = model.segments[r["segment_id"]].interval
        assert r["hi"] - r["lo"] < 1e-6, "a segment mixes two clock settings"
        assert iv.low - 1e-6 <= r["lo"] <= iv.high + 1e-6
