"""watch's history (DuckDB), metrics (scraped over HTTP and parsed as Prometheus does) and
command line (arguments, --once against real chronyd servers)."""

from __future__ import annotations

import socket
import time
import urllib.request

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import one_line_error, run_cli
from probe_helpers import chronyd, free_port
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


def _one_line_exit_2(*args: str, cwd=None) -> str:
    return one_line_error("watch", *args, cwd=cwd)


def test_watch_bad_arguments_are_one_line_exit_2(tmp_path):
    assert "at least one TARGET" in _one_line_exit_2()
    assert "give host:port" in _one_line_exit_2("ntp://127.0.0.1", "--listen", "nowhere")
    assert "webhook 'file:///etc/passwd': give an http:// or https:// URL" in _one_line_exit_2(
        "ntp://127.0.0.1", "--webhook", "file:///etc/passwd")
    assert "bad option" in _one_line_exit_2("ntp://127.0.0.1", "--interval", "0")
    bad = tmp_path / "hosts.yml"
    bad.write_text("hosts:\n  - name: dc01\n    roles: [wizard]\n")
    assert "unknown role 'wizard'" in _one_line_exit_2("--inventory", str(bad))
    assert "does not exist" in _one_line_exit_2("ntp://127.0.0.1", "--db", str(tmp_path / "no" / "w.duckdb"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert "cannot listen on 127.0.0.1:" in _one_line_exit_2("ntp://127.0.0.1:9", "--once", "--listen",
                                                                 f"127.0.0.1:{port}", "--db", str(tmp_path / "w.duckdb"))


def test_watch_help_has_examples_and_exit_statuses():
    r = run_cli("watch", "--help")
    assert r.returncode == 0
    assert "skewsleuth watch --inventory hosts.yml" in r.stdout and "--webhook" in r.stdout
    assert "Exit status: 0 stopped by SIGINT/SIGTERM" in r.stdout


def test_watch_once_has_probe_statuses_against_real_servers(tmp_path):
    dead = free_port()
    with chronyd(tmp_path / "good") as good, chronyd(tmp_path / "edge", "-5h") as edge:
        inv = tmp_path / "hosts.yml"
        inv.write_text(f"hosts:\n  - name: srv-lyncedge01.domain.com\n    roles: [lync-edge]\n"
                       f"    probe: ['ntp://127.0.0.1:{edge}']\n")
        # Without --listen, --once serves no metrics: a cron job beside a running watch.
        common = ["--once", "--samples", "1", "--timeout", "1"]
        with socket.socket() as default_port:     # a watch already serving on 9393
            try:
                default_port.bind(("127.0.0.1", 9393))
                default_port.listen(1)
            except OSError:
                pass                                # taken already: the same situation
            ok = run_cli("watch", f"ntp://127.0.0.1:{good}", *common, "--db", "a.duckdb", cwd=tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert "metrics=" not in ok.stderr
        skewed = run_cli("watch", "--inventory", str(inv), *common, "--db", "b.duckdb", cwd=tmp_path)
        assert skewed.returncode == 1, skewed.stderr
        assert "kind=tolerance status=firing" in skewed.stderr
        lost = run_cli("watch", f"ntp://127.0.0.1:{good}", f"ntp://127.0.0.1:{dead}", *common,
                       "--unreachable-after", "1", "--db", "c.duckdb", cwd=tmp_path)
        assert lost.returncode == 2, lost.stderr
        assert f"kind=unreachable status=firing severity=warning target=ntp://127.0.0.1:{dead}" in lost.stderr
    [edge_m] = last_measurements(tmp_path / "b.duckdb")
    assert edge_m.offset_s == pytest.approx(-18000, abs=0.05) and edge_m.tolerance_s == 300.0
    by_target = {x.target: x.ok for x in last_measurements(tmp_path / "c.duckdb")}
    assert by_target == {f"ntp://127.0.0.1:{good}": True, f"ntp://127.0.0.1:{dead}": False}
