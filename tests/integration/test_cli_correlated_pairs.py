"""Clocks from application logs: request ids, W3C traceparent, OpenTelemetry spans and
the case file's own correlation keys pair the same call across hosts.

The evidence is written in the shapes real libraries write (synth.applog)
with a known skew on one host, and the whole CLI is run on it.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from synth.applog import otlp_line, otlp_span, python_json_logger_line, structlog_line, traceparent
from conftest import run_cli

UTC = timezone.utc
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SKEW_S = -300.0           # api01 runs five minutes behind, and nothing says so


def _calls(n: int, seed: int = 7):
    """n calls web01 -> api01: (request sent, received, reply sent, received), true time."""
    rng = random.Random(seed)
    t = START
    for _ in range(n):
        t += timedelta(seconds=rng.uniform(20, 90))
        d1, think, d2 = (timedelta(milliseconds=rng.uniform(1, 40)) for _ in range(3))
        yield t, t + d1, t + d1 + think, t + d1 + think + d2


def _investigate(tmp_path: Path, files: dict[str, list[str]], case: str) -> dict:
    for rel, lines in files.items():
        path = tmp_path / "evidence" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    (tmp_path / "evidence" / "case.yml").write_text(case)
    r = run_cli("investigate", str(tmp_path / "evidence"), "--json", str(tmp_path / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    return json.loads((tmp_path / "v.json").read_text())


def _api_segment(v: dict) -> dict:
    host = next(h for h in v["hosts"] if h["host"].startswith("api01"))
    assert len(host["segments"]) == 1, host["segments"]
    return host["segments"][0]


def _check(seg: dict, via: str, width: float = 0.2) -> None:
    assert seg["offset_s"] == pytest.approx(SKEW_S, abs=1.0)
    assert seg["offset_low_s"] <= SKEW_S <= seg["offset_high_s"]
    assert seg["offset_high_s"] - seg["offset_low_s"] < width       # round trips of tens of ms
    assert set(seg["basis"]) == {"pairs", "reference"}                 # pairs with the reference web01
    assert any(via in e for e in seg["evidence"]), seg["evidence"]


def test_request_ids_logged_by_both_sides_pair_the_calls(tmp_path):
    web, api = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        rid = f"req-{k:04d}"
        web.append(structlog_line(t1, "calling api", logger="web", request_id=rid, direction="out", peer="api01:8443"))
        api.append(structlog_line(t2 + skew, "request", logger="api", request_id=rid, direction="in"))
        api.append(structlog_line(t3 + skew, "reply", logger="api", request_id=rid, direction="out"))
        web.append(structlog_line(t4, "api answered", logger="web", request_id=rid, direction="in"))
    v = _investigate(tmp_path, {"web01/app.jsonl": web, "api01/app.jsonl": api},
                     "references: [web01]\nreference_accuracy_s: 0.001\n")
    assert v["ingest"]["records"] == 160 and v["ingest"]["quarantined"] == 0
    _check(_api_segment(v), "correlated message")


def test_traceparent_in_plain_log_lines_pairs_caller_and_callee(tmp_path):
    web, api = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, _, _) in enumerate(_calls(40)):
        tp = traceparent(f"{k + 1:032x}", f"{k + 1:016x}")
        web.append(structlog_line(t1, "GET /orders", logger="web", direction="out", traceparent=tp))
        api.append(structlog_line(t2 + skew, "GET /orders", logger="api", direction="in", traceparent=tp))
    # one direction only: the callee's clock is bounded from above (it cannot receive
    # before the call was made) and nothing else: the estimate is that bound
    v = _investigate(tmp_path, {"web01/app.jsonl": web, "api01/app.jsonl": api},
                     "references: [web01]\nreference_accuracy_s: 0.001\n")
    seg = _api_segment(v)
    assert seg["offset_high_s"] == pytest.approx(SKEW_S, abs=0.05) and seg["offset_low_s"] is None
    assert "pairs" in seg["basis"]


def test_otlp_client_and_server_spans_bound_the_clocks_from_both_sides(tmp_path):
    web, api = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(30)):
        trace, client_span, server_span = f"{k + 1:032x}", f"{2 * k + 1:016x}", f"{2 * k + 2:016x}"
        web.append(otlp_line([otlp_span("GET api", t1, t4, trace_id=trace, span_id=client_span, kind="client")],
                             host="web01", service="web"))
        api.append(otlp_line([otlp_span("GET /orders", t2 + skew, t3 + skew, trace_id=trace, span_id=server_span,
                                        parent_span_id=client_span, kind="server")], host="api01", service="api"))
    v = _investigate(tmp_path, {"web01/traces.jsonl": web, "api01/traces.jsonl": api},
                     "references: [web01]\nreference_accuracy_s: 0.001\n")
    _check(_api_segment(v), "traced message")


def test_a_key_the_case_file_declares_pairs_the_records_that_share_it(tmp_path):
    shop, ware = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        order = f"o-{k}"
        shop.append(python_json_logger_line(t1.replace(tzinfo=None), "order sent", name="shop", order_id=order,
                                            direction="out", phase="request"))
        ware.append(python_json_logger_line((t2 + skew).replace(tzinfo=None), "order in", name="wms", order_id=order,
                                            direction="in", phase="request"))
        ware.append(python_json_logger_line((t3 + skew).replace(tzinfo=None), "ack", name="wms", order_id=order,
                                            direction="out", phase="response"))
        shop.append(python_json_logger_line(t4.replace(tzinfo=None), "acked", name="shop", order_id=order,
                                            direction="in", phase="response"))
    files = {"web01/shop.jsonl": shop, "api01/wms.jsonl": ware}
    without = _investigate(tmp_path / "a", files, "references: [web01]\nreference_accuracy_s: 0.001\n")
    assert _api_segment(without)["offset_low_s"] is None          # nothing pairs them yet
    v = _investigate(tmp_path / "b", files,
                     "references: [web01]\nreference_accuracy_s: 0.001\ncorrelation_keys: [order_id]\n")
    _check(_api_segment(v), "correlated message")


def test_syslog_structured_data_pairs_by_request_id(tmp_path):
    """RFC 5424 structured data carrying a request id and its direction: paired like
    JSON logs, with no case file key needed."""
    from synth.syslog import rfc5424_line

    web, api = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        rid = f"req-{k:04d}"
        sd = lambda d, ph: {"req@32473": {"request_id": rid, "direction": d, "phase": ph}}  # noqa: E731
        web.append(rfc5424_line(t1, "web01", "web", 10, "calling api", structured_data=sd("out", "request")))
        api.append(rfc5424_line(t2 + skew, "api01", "api", 20, "request", structured_data=sd("in", "request")))
        api.append(rfc5424_line(t3 + skew, "api01", "api", 20, "reply", structured_data=sd("out", "response")))
        web.append(rfc5424_line(t4, "web01", "web", 10, "answered", structured_data=sd("in", "response")))
    v = _investigate(tmp_path, {"web01/syslog": web, "api01/syslog": api},
                     "references: [web01]\nreference_accuracy_s: 0.001\n")
    assert v["ingest"]["records"] == 160 and v["ingest"]["quarantined"] == 0
    _check(_api_segment(v), "correlated message")


def test_a_case_key_pairs_words_of_plain_syslog_and_journal_messages(tmp_path):
    """RFC 3164 lines on one side, a journal export on the other; the case file names
    the key and the word that gives the direction."""
    from synth.syslog import journald_line, rfc3164_line

    shop, ware = [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        shop.append(rfc3164_line(t1, "web01", "shop", 10, f'job={k} dir=sent step=request note="a b"'))
        ware.append(journald_line(t2 + skew, "api01", "wms", 20, f"accepted job: {k}, dir: received, step: request"))
        ware.append(journald_line(t3 + skew, "api01", "wms", 20, f"done job={k} dir=sent step=response"))
        shop.append(rfc3164_line(t4, "web01", "shop", 10, f"job={k} dir=received step=response"))
    files = {"web01/messages": shop, "api01/journal.json": ware}
    case = "references: [web01]\nreference_accuracy_s: 0.001\ntimezone: UTC\n"
    assert _api_segment(_investigate(tmp_path / "a", files, case))["offset_low_s"] is None
    v = _investigate(tmp_path / "b", files, case + "correlation_keys:\n  - {key: job, direction: dir, phase: step}\n")
    _check(_api_segment(v), "correlated message", width=1.1)   # RFC 3164 writes whole seconds


def test_a_server_response_under_its_span_is_not_taken_for_its_downstream_call(tmp_path):
    """web01 calls api01, which calls db01 (not logged) and answers web01. api01 logs
    the request it received and its response, both under its own span; db01 logs the
    call it received, with api01's span as parent. The response was written after
    db01 got the call: taken as the call, it would put db01's clock ahead of the
    truth. The call was made after api01 received its own request: that is the bound."""
    web, api, db = [], [], []
    db_skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        trace, web_span, api_span = f"{k + 1:032x}", f"{2 * k + 1:016x}", f"{2 * k + 2:016x}"
        db_in = t2 + (t3 - t2) / 3                       # db01 got the call while api01 worked
        web.append(structlog_line(t1, "GET /orders", logger="web", direction="out",
                                  traceparent=traceparent(trace, web_span)))
        api.append(structlog_line(t2, "GET /orders", logger="api", direction="in", span_id=api_span,
                                  traceparent=traceparent(trace, web_span)))
        db.append(structlog_line(db_in + db_skew, "SELECT", logger="db", direction="in",
                                 traceparent=traceparent(trace, api_span)))
        api.append(structlog_line(t3, "200 OK", logger="api", direction="out",
                                  traceparent=traceparent(trace, api_span)))
    v = _investigate(tmp_path, {"web01/app.jsonl": web, "api01/app.jsonl": api, "db01/app.jsonl": db},
                     "references: [web01, api01]\nreference_accuracy_s: 0.001\n")
    seg = next(h for h in v["hosts"] if h["host"].startswith("db01"))["segments"][0]
    assert SKEW_S <= seg["offset_high_s"] < SKEW_S + 1.0, seg      # holds the truth, and still bounds it
    assert "pairs" in seg["basis"]


def test_a_request_id_three_hosts_share_pairs_only_the_hosts_that_name_each_other(tmp_path):
    """web01 sends one request id to api01 and to db01; api01 answers under the same id
    (no phase logged). api01's answer was sent after db01 got its copy: paired with
    db01's record it would put db01's clock ahead of the truth. db01 names web01 as
    its peer, and api01 names web01: only their exchanges with web01 pair."""
    web, api, db = [], [], []
    skew = timedelta(seconds=SKEW_S)
    for k, (t1, t2, t3, t4) in enumerate(_calls(40)):
        rid = f"req-{k:04d}"
        web.append(structlog_line(t1, "call api", logger="web", request_id=rid, direction="out", peer="api01"))
        web.append(structlog_line(t1, "call db", logger="web", request_id=rid, direction="out", peer="db01"))
        api.append(structlog_line(t2, "request", logger="api", request_id=rid, direction="in", peer="web01"))
        db.append(structlog_line(t2 + skew, "request", logger="db", request_id=rid, direction="in", peer="web01"))
        t3, t4 = t2 + timedelta(seconds=2), t2 + timedelta(seconds=2.01)   # api01 thinks for 2 s
        api.append(structlog_line(t3, "reply", logger="api", request_id=rid, direction="out", peer="web01"))
        web.append(structlog_line(t4, "api answered", logger="web", request_id=rid, direction="in", peer="api01"))
    v = _investigate(tmp_path, {"web01/app.jsonl": web, "api01/app.jsonl": api, "db01/app.jsonl": db},
                     "references: [web01]\nreference_accuracy_s: 0.001\n")
    db_seg = next(h for h in v["hosts"] if h["host"].startswith("db01"))["segments"][0]
    assert SKEW_S <= db_seg["offset_high_s"] < SKEW_S + 0.05, db_seg      # bounded by web01 alone
    assert not v.get("contradictions"), v.get("contradictions")
    api_seg = _api_segment(v)
    assert api_seg["offset_low_s"] <= 0.0 <= api_seg["offset_high_s"]
