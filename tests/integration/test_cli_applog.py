"""Structured application logs (JSON Lines) and OpenTelemetry file-exporter spans: the part
that runs the command line, a real daemon or another process (the rest is in
tests/unit/sources/test_applog.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
from conftest import run_cli

from synth.applog import otlp_line, otlp_span, structlog_line


UTC = timezone.utc


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


S0 = datetime(2014, 10, 20, 23, 19, 5, 123456, tzinfo=UTC)


def test_cli_investigate_ingests_application_logs(tmp_path):
    web, api = tmp_path / "evidence" / "web01", tmp_path / "evidence" / "api01"
    web.mkdir(parents=True)
    api.mkdir(parents=True)
    lines = [structlog_line(S0 + timedelta(seconds=i), f"calling api {i}", logger="web", request_id=f"r{i}",
                            direction="out", peer="api01") for i in range(5)]
    (web / "app.jsonl").write_text("\n".join(lines) + "\n")
    spans = [otlp_span("GET /items", S0 + timedelta(seconds=i, milliseconds=3), S0 + timedelta(seconds=i, milliseconds=9),
                       trace_id=TRACE, span_id=f"{i + 1:016x}", kind="server", attributes={"request_id": f"r{i}"})
             for i in range(5)]
    (api / "traces.json").write_text(otlp_line(spans[:3], host="api01", service="api") + "\n"
                                     + otlp_line(spans[3:], host="api01", service="api") + "\n")
    db = tmp_path / "case.duckdb"
    r = run_cli("investigate", str(tmp_path / "evidence"), "--json", "-", "--timezone", "UTC", "--db", str(db))
    assert r.returncode == 0, r.stderr[-800:]
    assert "Traceback" not in r.stderr
    ingest = json.loads(r.stdout)["ingest"]
    assert (ingest["files"], ingest["records"], ingest["quarantined"], ingest["files_failed"]) == (2, 10, 0, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute("""SELECT channel, count(*), count(DISTINCT json_extract_string(data, '$.corr.request_id'))
                             FROM events WHERE format = 'applog' GROUP BY channel ORDER BY channel""").fetchall()
        formats = con.execute("SELECT DISTINCT format FROM files").fetchall()
    finally:
        con.close()
    assert got == [("applog", 5, 5), ("otlp", 5, 5)]
    assert formats == [("applog",)]
