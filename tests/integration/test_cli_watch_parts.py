"""watch's history (DuckDB), metrics (scraped over HTTP and parsed as Prometheus does) and
command line (arguments, --once against real chronyd servers): the part that runs the
command line, a real daemon or another process (the rest is in
tests/unit/watch/test_parts.py).
"""

from __future__ import annotations

import socket

import pytest

from conftest import one_line_error, run_cli
from support.probe_helpers import chronyd, free_port
from skewsleuth.watch import last_measurements


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
