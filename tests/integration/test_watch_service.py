"""skewsleuth watch end to end, with real components on 127.0.0.1: chronyd (under
faketime), a Prometheus server scraping watch's metrics, and an HTTP webhook receiver.

The story is the seed's: an Edge whose clock is right reboots and comes back five
hours behind. Watch must report the jump and the crossed tolerance to the webhook,
Prometheus must hold the Edge's −18000 s, an unreachable host must be reported (up=0,
a log line, an alert) without stopping the loop, and a webhook receiver that is down
must not stop it either.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pytest

from support.probe_helpers import chronyd, free_port, need, running, tcp_open
from skewsleuth.watch import last_measurements

EDGE = "srv-lyncedge01.domain.com"
DC = "dc01.domain.com"
GONE = "gone.domain.com"


class Receiver:
    """A webhook receiver: records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:   # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, kind: str | None = None, target: str | None = None, status: str = "firing") -> list[dict]:
        return [a for b in list(self.bodies) for a in b["alerts"]
                if (kind is None or a["labels"]["kind"] == kind) and (target is None or a["labels"]["target"] == target)
                and a["status"] == status]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log else ""
    pytest.fail(f"no {what} within {timeout:g} s\n{tail}")


@contextmanager
def prometheus(tmp: Path, scrape_port: int) -> Iterator[int]:
    """A real Prometheus scraping 127.0.0.1:<scrape_port>/metrics every second."""
    need("prometheus")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "prometheus.yml"
    conf.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: skewsleuth\n"
        "    scrape_interval: 1s\n"
        "    scrape_timeout: 1s\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{scrape_port}']}}]\n")
    cmd = ["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={tmp / 'tsdb'}",
           f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with running(cmd, tmp / "prometheus.log", lambda: tcp_open(port), wait=30):
        yield port


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            doc = json.load(resp)
    except OSError:
        return []      # not ready yet
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def value(port: int, promql: str) -> float | None:
    result = query(port, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_watch_with_prometheus_webhooks_and_a_rebooted_edge(tmp_path):
    need("chronyd", "faketime", "prometheus")
    receiver = Receiver()
    dead_hook = f"http://127.0.0.1:{free_port()}/alerts"    # nothing listens there
    gone = free_port()                                       # an NTP host that is down
    metrics_port = free_port()
    db = tmp_path / "watch.duckdb"
    log = tmp_path / "watch.log"
    with ExitStack() as stack:
        stack.callback(receiver.close)
        dc = stack.enter_context(chronyd(tmp_path / "dc"))
        edge_before = ExitStack()
        stack.callback(edge_before.close)
        edge = edge_before.enter_context(chronyd(tmp_path / "edge-before"))
        edge_t, dc_t, gone_t = (f"ntp://127.0.0.1:{p}" for p in (edge, dc, gone))
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(f"""
hosts:
  - name: {EDGE}
    roles: [lync-edge]
    probe: ["{edge_t}"]
  - name: {DC}
    roles: [domain-controller]
    probe: ["{dc_t}"]
  - name: {GONE}
    probe: ["{gone_t}"]
""")
        cmd = [sys.executable, "-m", "skewsleuth", "watch", "--inventory", str(inventory), "--interval", "1",
               "--db", str(db), "--listen", f"127.0.0.1:{metrics_port}", "--webhook", receiver.url,
               "--webhook", dead_hook, "--timeout", "0.8", "--samples", "2", "--unreachable-after", "2"]
        prom = stack.enter_context(prometheus(tmp_path / "prom", metrics_port))
        watch = stack.enter_context(running(cmd, log, lambda: tcp_open(metrics_port)))

        # Prometheus scrapes watch: the Edge is right for now, the lost host is down.
        wait_for("the Edge's offset in Prometheus",
                 lambda: value(prom, f'skewsleuth_clock_offset_seconds{{host="{EDGE}"}}') is not None, 30, log)
        assert abs(value(prom, f'skewsleuth_clock_offset_seconds{{host="{EDGE}"}}')) < 0.05
        wait_for("up=0 for the lost host in Prometheus",
                 lambda: value(prom, f'skewsleuth_probe_up{{target="{gone_t}"}}') == 0.0, 15, log)
        assert value(prom, f'skewsleuth_probe_up{{target="{dc_t}"}}') == 1.0
        assert value(prom, f'skewsleuth_clock_tolerance_seconds{{host="{EDGE}"}}') == 300.0
        assert query(prom, f'skewsleuth_clock_offset_seconds{{target="{gone_t}"}}') == []
        unreachable = wait_for("the unreachable alert", lambda: receiver.alerts("unreachable", gone_t), 15, log)
        assert unreachable[0]["skewsleuth"]["failures"] == 2 and unreachable[0]["labels"]["host"] == GONE
        assert not receiver.alerts("jump") and not receiver.alerts("tolerance")

        # The Edge reboots (down for a round at least) and comes back on the same address
        # five hours behind.
        edge_before.close()
        wait_for("the Edge's failed probe", lambda: f"event=probe target={edge_t}" in log.read_text(), 10, log)
        stack.enter_context(chronyd(tmp_path / "edge-after", "-5h", port=edge))
        jump = wait_for("the jump alert", lambda: receiver.alerts("jump", edge_t), 20, log)[0]
        assert jump["labels"]["host"] == EDGE and jump["labels"]["severity"] == "critical"
        assert jump["skewsleuth"]["jump_s"] == pytest.approx(-18000, abs=0.1)
        assert abs(jump["skewsleuth"]["previous_offset_s"]) < 0.05
        beyond = wait_for("the tolerance alert", lambda: receiver.alerts("tolerance", edge_t), 5, log)[0]
        assert beyond["skewsleuth"]["offset_s"] == pytest.approx(-18000, abs=0.05)
        assert beyond["skewsleuth"]["tolerance_s"] == 300.0
        skewed = wait_for("the Edge's −18000 s in Prometheus",
                          lambda: (v := value(prom, f'skewsleuth_clock_offset_seconds{{target="{edge_t}"}}')) is not None
                          and v < -1000 and v, 15, log)
        assert skewed == pytest.approx(-18000, abs=0.05)
        assert value(prom, f'skewsleuth_alerts_total{{kind="jump"}}') == 1.0
        # The shipped Grafana dashboard's queries, as Grafana sends them, run on real data.
        from skewsleuth.watch.assets import asset_text
        board = json.loads(asset_text("grafana-dashboard"))
        results = {t["expr"]: query(prom, t["expr"].replace("$host", ".*").replace("$__range", "5m"))
                   for p in board["panels"] for t in p.get("targets") or []}
        by_panel = {p["title"]: results[p["targets"][0]["expr"]] for p in board["panels"] if p.get("targets")}
        assert {r["metric"]["host"] for r in by_panel["Clock offset per host"]} == {EDGE, DC}
        assert float(by_panel["Hosts beyond tolerance"][0]["value"][1]) == 1.0
        assert float(by_panel["Targets not measured"][0]["value"][1]) == 1.0
        assert [r["metric"]["host"] for r in by_panel["Unreachable targets"]] == [GONE]

        # Two more rounds: the skewed Edge is not alerted again; the dead receiver was
        # reported and the loop goes on.
        rounds = lambda: [int(n) for n in re.findall(r"event=round round=(\d+)", log.read_text())]  # noqa: E731
        now = rounds()[-1]
        wait_for("two more rounds", lambda: rounds()[-1] >= now + 2, 10, log)
        assert len(receiver.alerts("jump", edge_t)) == 1 and len(receiver.alerts("tolerance", edge_t)) == 1
        text = log.read_text()
        assert re.search(rf'msg="webhook not delivered" event=webhook url={re.escape(dead_hook)}', text)
        assert re.search(rf"msg=\"probe failed\" event=probe target={re.escape(gone_t)} host={GONE}", text)

        # The history can be read while watch runs (it holds the file only to append).
        [now_edge] = last_measurements(db, host="srv-lyncedge01")
        assert now_edge.target == edge_t and now_edge.offset_s == pytest.approx(-18000, abs=0.05)

        # SIGTERM: a clean stop, exit 0.
        os.killpg(watch.pid, signal.SIGTERM)
        assert watch.wait(15) == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert "Traceback" not in text
    done = int(re.findall(r"event=stop rounds=(\d+)", text)[-1])
    assert done >= 5

    # The history: one row per target per round, and the alerts that were raised.
    con = duckdb.connect(str(db), read_only=True)
    per_target = dict(con.execute("SELECT target, count(*) FROM measurements GROUP BY target").fetchall())
    assert per_target == {edge_t: done, dc_t: done, gone_t: done}
    assert con.execute("SELECT count(*) FROM measurements WHERE target = ? AND ok", [gone_t]).fetchone()[0] == 0
    kinds = {r[0] for r in con.execute("SELECT kind FROM alerts WHERE status = 'firing'").fetchall()}
    assert {"jump", "tolerance", "unreachable"} <= kinds
    con.close()
    latest = {m.target: m for m in last_measurements(db)}
    assert latest[edge_t].offset_s == pytest.approx(-18000, abs=0.05) and latest[edge_t].roles == ("lync-edge",)
    assert not latest[gone_t].ok and latest[gone_t].error
    assert [m.target for m in last_measurements(db, host="srv-lyncedge01")] == [edge_t]


@contextmanager
def ntp_responder(offset_s: float) -> Iterator[Any]:
    """An SNTP responder on a loopback port in a thread of this process, its offset
    changeable while it runs (a clock that jumps), its port kept."""
    import asyncio

    from synth.ntp import Responder

    loop = asyncio.new_event_loop()
    responder = Responder(offset_s)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        transport, _ = loop.run_until_complete(
            loop.create_datagram_endpoint(lambda: responder, local_addr=("127.0.0.1", 0)))
        responder.port = transport.get_extra_info("sockname")[1]
        ready.set()
        loop.run_forever()
        transport.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield responder
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_watch_killed_with_sigkill_loses_no_round_and_resumes(tmp_path):
    """Every round logged before a SIGKILL is in the history; the next watch goes on
    from it: the alert left firing is not raised again, a jump across the restart is."""
    db, log1, log2 = tmp_path / "watch.duckdb", tmp_path / "w1.log", tmp_path / "w2.log"
    receiver = Receiver()
    with ntp_responder(-18000.0) as edge, ntp_responder(0.0) as dc:
        targets = [f"ntp://127.0.0.1:{edge.port}", f"ntp://127.0.0.1:{dc.port}"]
        cmd = [sys.executable, "-m", "skewsleuth", "watch", *targets, "--interval", "0.3", "--db", str(db),
               "--no-metrics", "--webhook", receiver.url, "--timeout", "0.5", "--samples", "1"]
        with open(log1, "w") as out:
            first = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("five rounds", lambda: log1.read_text().count('msg=round') >= 5, 30, log1)
            os.killpg(first.pid, signal.SIGKILL)       # mid-run: no handler, no flush, no close
            first.wait(10)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
        rounds = log1.read_text().count("msg=round")
        con = duckdb.connect(str(db), read_only=True)
        kept = con.execute("SELECT count(*) FROM measurements").fetchall()[0][0]
        fired = con.execute("SELECT count(*) FROM alerts WHERE kind = 'tolerance' AND status = 'firing'"
                            ).fetchall()[0][0]
        con.close()
        assert kept >= 2 * rounds and fired == 1, (rounds, kept, fired)
        assert len(receiver.alerts("tolerance")) == 1

        edge.offset_s = 0.0                            # the Edge was fixed while nothing watched
        with open(log2, "w") as out:
            second = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("the jump back and the resolution", lambda: receiver.alerts("tolerance", status="resolved"),
                     30, log2)
            time.sleep(1.0)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(15)
    receiver.close()
    # Resumed: the firing alert was not raised again; it was resolved, with when it fired.
    assert len(receiver.alerts("tolerance")) == 1
    (resolved,) = receiver.alerts("tolerance", status="resolved")
    assert resolved["startsAt"] == receiver.alerts("tolerance")[0]["startsAt"]
    (jump,) = receiver.alerts("jump")
    assert jump["skewsleuth"]["jump_s"] == pytest.approx(18000, abs=0.1)
    assert abs(jump["skewsleuth"]["previous_offset_s"] + 18000) < 0.1
    assert "Traceback" not in log1.read_text() + log2.read_text()


@contextmanager
def alertmanager(tmp: Path) -> Iterator[int]:
    """A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, alone (no
    cluster), routing every alert to a receiver that sends nothing."""
    need("prometheus-alertmanager")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "alertmanager.yml"
    conf.write_text("route: {receiver: keep, group_wait: 0s, group_interval: 1s, repeat_interval: 1h}\n"
                    "receivers: [{name: keep}]\n")
    cmd = ["prometheus-alertmanager", f"--config.file={conf}", f"--storage.path={tmp / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    with running(cmd, tmp / "alertmanager.log", lambda: tcp_open(port), wait=30):
        yield port


def am_alerts(port: int, alertname: str | None = None) -> list[dict]:
    """The alerts Alertmanager holds now (its API v2 lists none past its endsAt)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=2) as resp:
            alerts = json.load(resp)
    except OSError:
        return []
    return [a for a in alerts if alertname is None or a["labels"]["alertname"] == alertname]


def test_watch_keeps_alertmanager_up_to_date_and_resolves(tmp_path):
    """Read back through Alertmanager's own API: a clock beyond its tolerance is an active
    alert, re-sent each round (its endsAt moves ahead, so it never times out while it
    holds), resolved when the clock is right again; each jump is an alert of its own."""
    db, log = tmp_path / "watch.duckdb", tmp_path / "watch.log"
    with ExitStack() as stack:
        am = stack.enter_context(alertmanager(tmp_path / "am"))
        edge = stack.enter_context(ntp_responder(-18000.0))
        dc = stack.enter_context(ntp_responder(0.0))
        edge_t = f"ntp://127.0.0.1:{edge.port}"
        cmd = [sys.executable, "-m", "skewsleuth", "watch", edge_t, f"ntp://127.0.0.1:{dc.port}", "--interval", "0.5",
               "--db", str(db), "--no-metrics", "--alertmanager", f"http://127.0.0.1:{am}", "--max-offset", "300",
               "--timeout", "0.5", "--samples", "1"]
        watch = stack.enter_context(running(cmd, log, lambda: log.exists() and "event=start" in log.read_text()))
        [tol] = wait_for("the tolerance alert in Alertmanager", lambda: am_alerts(am, "ClockBeyondTolerance"), 20, log)
        assert tol["status"]["state"] == "active" and tol["labels"]["severity"] == "critical"
        assert tol["labels"]["target"] == edge_t and tol["labels"]["instance"] == "127.0.0.1"
        assert float(tol["annotations"]["offset_seconds"]) == pytest.approx(-18000, abs=0.1)
        assert "beyond its tolerance of 300 s" in tol["annotations"]["summary"]
        first_end = tol["endsAt"]
        later = wait_for("the alert re-sent with a later endsAt",
                         lambda: [a for a in am_alerts(am, "ClockBeyondTolerance") if a["endsAt"] > first_end], 10, log)
        assert later[0]["startsAt"] == tol["startsAt"] and later[0]["fingerprint"] == tol["fingerprint"]
        assert not am_alerts(am, "ClockJump")

        edge.offset_s = 0.0                   # set right: resolved, and a jump
        wait_for("the tolerance alert resolved", lambda: not am_alerts(am, "ClockBeyondTolerance"), 20, log)
        [jump] = wait_for("the jump alert", lambda: am_alerts(am, "ClockJump"), 10, log)
        assert float(jump["annotations"]["jump_seconds"]) == pytest.approx(18000, abs=0.1)
        edge.offset_s = -18000.0              # and wrong again: a second jump, a second alert
        jumps = wait_for("the second jump", lambda: len(am_alerts(am, "ClockJump")) == 2 and am_alerts(am, "ClockJump"),
                         10, log)
        assert len({j["fingerprint"] for j in jumps}) == 2
        wait_for("the tolerance alert again", lambda: am_alerts(am, "ClockBeyondTolerance"), 10, log)
        os.killpg(watch.pid, signal.SIGTERM)
        assert watch.wait(15) == 0
    text = log.read_text()
    assert "Traceback" not in text and "not delivered" not in text
