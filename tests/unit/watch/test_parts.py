"""watch's history (DuckDB), metrics (scraped over HTTP and parsed as Prometheus does) and
command line (arguments, --once against real chronyd servers)."""

from __future__ import annotations

import time
import urllib.request

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from skewsleuth.probe import Measurement
from skewsleuth.watch import Alerter, History, HistoryError, last_measurements
from skewsleuth.watch.metrics import HELP, MetricsServer, WatchCollector


def m(target: str, host: str, offset: float | None, *, at: str, tol: float | None = None) -> Measurement:
    ok = offset is not None
    return Measurement(target=target, protocol=target.split(":")[0], host=host, offset_s=offset,
                       uncertainty_s=0.001 if ok else None, rtt_s=0.0004 if ok else None, ok=ok,
                       error=None if ok else "no reply", measured_at=at, roles=("lync-edge",) if tol else (),
                       tolerance_s=tol)


EDGE, DC = "ntp://srv-lyncedge01.domain.com", "https://dc01.domain.com"


def test_history_schema_rounds_and_last_measurements(tmp_path):
    db = tmp_path / "w.duckdb"
    h = History(db)
    h.create()
    alerter = Alerter()
    rounds = [
        [m(EDGE, "srv-lyncedge01.domain.com", 0.01, at="2026-01-01T10:00:00.000Z", tol=300.0),
         m(DC, "dc01.domain.com", -0.2, at="2026-01-01T10:00:00.100Z")],
        [m(EDGE, "srv-lyncedge01.domain.com", -18000.0, at="2026-01-01T10:01:00.000Z", tol=300.0),
         m(DC, "dc01.domain.com", None, at="2026-01-01T10:01:00.100Z")],
    ]
    for r in rounds:
        h.append(r, alerter.evaluate(r))
    con = duckdb.connect(str(db), read_only=True)
    cols = [(c[0], c[1]) for c in con.execute("DESCRIBE measurements").fetchall()]
    assert cols == [("measured_at", "TIMESTAMP WITH TIME ZONE"), ("target", "VARCHAR"), ("host", "VARCHAR"),
                    ("protocol", "VARCHAR"), ("offset_s", "DOUBLE"), ("uncertainty_s", "DOUBLE"),
                    ("rtt_s", "DOUBLE"), ("ok", "BOOLEAN"), ("error", "VARCHAR"), ("tolerance_s", "DOUBLE"),
                    ("roles", "VARCHAR[]")]
    assert con.execute("SELECT count(*) FROM measurements").fetchone()[0] == 4
    assert con.execute("SELECT kind, status, jump_s FROM alerts ORDER BY raised_at, kind").fetchall() == [
        ("jump", "firing", -18000.01), ("tolerance", "firing", None)]
    con.close()

    latest = last_measurements(db)
    assert [(x.target, x.offset_s, x.ok) for x in latest] == [(DC, None, False), (EDGE, -18000.0, True)]
    assert latest[1].measured_at == "2026-01-01T10:01:00.000Z" and latest[1].roles == ("lync-edge",)
    assert latest[1].tolerance_s == 300.0 and latest[0].error == "no reply"
    assert [x.target for x in last_measurements(db, host="SRV-LYNCEDGE01")] == [EDGE]
    assert [x.target for x in last_measurements(db, host="dc01.domain.com")] == [DC]
    assert last_measurements(db, host="dc01.other.com") == []
    with pytest.raises(FileNotFoundError):
        last_measurements(tmp_path / "none.duckdb")
    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    with pytest.raises(HistoryError, match="not a skewsleuth watch history"):
        last_measurements(tmp_path / "other.duckdb")


def test_a_large_round_is_one_batch(tmp_path):
    """10,000 targets' round goes in as one Arrow table: well under a second."""
    h = History(tmp_path / "big.duckdb")
    h.create()
    ms = [m(f"ntp://10.0.{i // 250}.{i % 250}", f"h{i}", i * 1e-3, at="2026-01-01T10:00:00.000Z")
          for i in range(10_000)]
    began = time.perf_counter()
    h.append(ms)
    assert time.perf_counter() - began < 2.0
    latest = last_measurements(tmp_path / "big.duckdb")
    assert len(latest) == 10_000 and sum(x.offset_s for x in latest) == pytest.approx(sum(i * 1e-3 for i in range(10_000)))


def test_history_in_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryError, match="does not exist"):
        History(tmp_path / "no" / "w.duckdb").create()
    (tmp_path / "junk.duckdb").write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryError, match="cannot open history"):
        History(tmp_path / "junk.duckdb").create()


def _scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_as_prometheus_parses_them_from_two_servers_in_one_process():
    one, two = WatchCollector(), WatchCollector()
    s1, s2 = MetricsServer(one, "127.0.0.1", 0), MetricsServer(two, "127.0.0.1", 0)
    s1.start()
    s2.start()
    try:
        first = [m(EDGE, "srv-lyncedge01.domain.com", 0.01, at="2026-01-01T10:00:00.000Z", tol=300.0),
                 m(DC, "dc01.domain.com", -0.2, at="2026-01-01T10:00:00.100Z")]
        second = [m(EDGE, "srv-lyncedge01.domain.com", -18000.0, at="2026-01-01T10:01:00.000Z", tol=300.0),
                  m(DC, "dc01.domain.com", None, at="2026-01-01T10:01:00.100Z")]
        alerter = Alerter()
        for r in (first, second):
            one.update(r, [300.0, 1.0], alerter.evaluate(r), duration_s=0.5, ended_at=1767261660.0)
        got = _scrape(s1.url)
        assert _scrape(s2.url)["skewsleuth_watch_rounds"].samples[0].value == 0   # its own registry
    finally:
        s1.stop()
        s2.stop()
    # Counters lose _total in the family name; their samples keep it.
    for name, help_text in HELP.items():
        family = got[name.removesuffix("_total")]
        assert family.documentation == help_text
    assert got["skewsleuth_alerts"].type == "counter" and got["skewsleuth_probe_up"].type == "gauge"

    def sample(name: str, target: str) -> float | None:
        fam = got[name]
        vals = [s.value for s in fam.samples if s.labels.get("target") == target]
        return vals[0] if vals else None

    assert sample("skewsleuth_clock_offset_seconds", EDGE) == -18000.0
    labels = got["skewsleuth_clock_offset_seconds"].samples[0].labels
    assert labels == {"target": EDGE, "host": "srv-lyncedge01.domain.com", "protocol": "ntp"}
    assert sample("skewsleuth_clock_offset_uncertainty_seconds", EDGE) == 0.001
    assert sample("skewsleuth_clock_tolerance_seconds", EDGE) == 300.0
    # The DC was not measured this round: up 0, no stale offset, its last success kept.
    assert sample("skewsleuth_probe_up", DC) == 0.0 and sample("skewsleuth_probe_up", EDGE) == 1.0
    assert sample("skewsleuth_clock_offset_seconds", DC) is None
    assert sample("skewsleuth_probe_rtt_seconds", DC) is None
    assert sample("skewsleuth_probe_last_success_timestamp_seconds", DC) == pytest.approx(1767261600.1)
    kinds = {s.labels["kind"]: s.value for s in got["skewsleuth_alerts"].samples if s.name.endswith("_total")}
    assert kinds == {"tolerance": 1.0, "near_tolerance": 0.0, "jump": 1.0, "unreachable": 0.0}
    assert got["skewsleuth_watch_rounds"].samples[0].value == 2
    [info] = got["skewsleuth_build_info"].samples
    import importlib.metadata
    import platform
    assert info.value == 1.0 and info.labels == {"version": importlib.metadata.version("skewsleuth"),
                                                  "python": platform.python_version()}
