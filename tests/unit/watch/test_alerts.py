"""watch's alert rules on sequences of measurements, and its webhook sink against real
HTTP servers on 127.0.0.1 (one that answers, one that accepts and never replies)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.properties import examples

from skewsleuth.probe import Measurement
from skewsleuth.watch import Alerter, AlertRules
from skewsleuth.watch.alerts import Webhooks, log_alert, webhook_payload

T = "ntp://srv-lyncedge01.domain.com"


def good(offset: float, u: float = 0.001, *, tol: float | None = 300.0, at: int = 0, target: str = T) -> Measurement:
    return Measurement(target=target, protocol="ntp", host="srv-lyncedge01.domain.com", offset_s=offset,
                       uncertainty_s=u, rtt_s=0.0002, ok=True, measured_at=f"2026-01-01T00:00:{at % 60:02d}.000Z",
                       tolerance_s=tol)


def down(*, target: str = T) -> Measurement:
    return Measurement(target=target, protocol="ntp", host="srv-lyncedge01.domain.com", offset_s=None,
                       uncertainty_s=None, rtt_s=None, ok=False, error="no reply", measured_at="2026-01-01T00:00:00.000Z",
                       tolerance_s=300.0)


def run(alerter: Alerter, *ms: Measurement) -> list[list[tuple[str, str]]]:
    return [[(a.kind, a.status) for a in alerter.evaluate([m])] for m in ms]


def test_the_seed_edge_coming_back_five_hours_behind():
    a = Alerter()
    rounds = run(a, good(0.002), good(0.001), down(), good(-18000.0), good(-18000.0), good(-18000.0))
    assert rounds == [[], [], [], [("jump", "firing"), ("tolerance", "firing")], [], []]
    assert a.active() == [("tolerance", T)]
    jump = a.evaluate([good(0.0)])
    # Resynced: the jump back is a jump too, and the tolerance alert is resolved.
    assert [(x.kind, x.status) for x in jump] == [("jump", "firing"), ("tolerance", "resolved")]
    assert jump[0].jump_s == pytest.approx(18000.0) and jump[0].previous_offset_s == -18000.0


def test_warning_before_the_tolerance_then_crossed_then_resolved():
    a = Alerter(AlertRules(jump_min_s=1e6))     # a slow drift, not jumps
    assert run(a, good(100.0), good(160.0), good(170.0), good(301.0), good(290.0), good(0.5)) == [
        [], [("near_tolerance", "firing")], [], [("near_tolerance", "resolved"), ("tolerance", "firing")],
        [], [("tolerance", "resolved")]]


def test_a_resolved_alert_says_when_it_fired():
    a = Alerter()
    a.evaluate([good(0.0, at=1)])
    fired = [x for x in a.evaluate([good(-400.0, at=2)]) if x.kind == "tolerance"][0]
    a.evaluate([good(-400.0, at=3)])
    [resolved] = [x for x in a.evaluate([good(0.0, at=4)]) if x.kind == "tolerance"]
    assert resolved.status == "resolved" and resolved.since == fired.at == "2026-01-01T00:00:02.000Z"
    shown = resolved.to_alertmanager()
    assert (shown["startsAt"], shown["endsAt"]) == ("2026-01-01T00:00:02.000Z", "2026-01-01T00:00:04.000Z")
    assert fired.to_alertmanager()["endsAt"] == "0001-01-01T00:00:00Z"    # firing: no end yet


def test_uncertainty_keeps_a_reading_that_may_be_within_from_the_tolerance_alert():
    a = Alerter()
    # 301 ± 2 may be 299: not certainly beyond, so a warning only.
    assert run(a, good(301.0, u=2.0)) == [[("near_tolerance", "firing")]]
    assert a.evaluate([good(-303.5, u=2.0)])[-1].kind == "tolerance"


def test_hysteresis_no_flapping_on_the_threshold():
    a = Alerter(AlertRules(jump_min_s=1e6))
    flaps = run(a, good(150.5), good(149.5), good(150.5), good(149.0), good(134.0))
    assert flaps == [[("near_tolerance", "firing")], [], [], [], [("near_tolerance", "resolved")]]


def test_unreachable_after_n_failures_once_then_resolved():
    a = Alerter(AlertRules(unreachable_after=3))
    rounds = run(a, down(), down(), down(), down(), down(), good(0.0), down())
    assert rounds == [[], [], [("unreachable", "firing")], [], [], [("unreachable", "resolved")], []]
    a2 = Alerter(AlertRules(unreachable_after=2))
    fired = a2.evaluate([down(), down()])
    assert [x.failures for x in fired] == [2] and "no reply" in fired[0].message


def test_targets_are_kept_apart_and_no_tolerance_means_max_offset():
    a = Alerter(AlertRules(max_offset_s=2.0))
    other = "ntp://dc01.domain.com"
    first = a.evaluate([good(0.0, tol=None), good(5.0, tol=None, target=other)])
    assert [(x.kind, x.target, x.tolerance_s) for x in first] == [("tolerance", other, 2.0)]
    second = a.evaluate([good(5.0, tol=None), good(5.0, tol=None, target=other)])
    assert [(x.kind, x.target) for x in second] == [("jump", T), ("tolerance", T)]


offsets = st.floats(-1e6, 1e6, allow_nan=False)
uncertainties = st.floats(0, 100, allow_nan=False)
tolerances = st.floats(0.01, 1e4, allow_nan=False)


@settings(max_examples=examples(300), deadline=None)
@given(offsets, uncertainties, tolerances)
def test_tolerance_alert_iff_certainly_beyond(offset, u, tol):
    fired = {x.kind for x in Alerter().evaluate([good(offset, u, tol=tol)])}
    certainly = abs(offset) - u > tol
    assert ("tolerance" in fired) == certainly
    assert ("near_tolerance" in fired) == (not certainly and abs(offset) > 0.5 * tol)


@settings(max_examples=examples(300), deadline=None)
@given(offsets, offsets, uncertainties, uncertainties, st.integers(0, 4))
def test_jump_iff_beyond_threshold_whatever_failed_in_between(o1, o2, u1, u2, failures):
    rules = AlertRules()
    a = Alerter(rules)
    a.evaluate([good(o1, u1)])
    for _ in range(failures):
        a.evaluate([down()])
    jumps = [x for x in a.evaluate([good(o2, u2)]) if x.kind == "jump"]
    expected = abs(o2 - o1) > max(rules.jump_min_s, rules.jump_k * (u1 + u2))
    assert bool(jumps) == expected
    if jumps:
        assert jumps[0].jump_s == o2 - o1


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.none(), offsets), min_size=1, max_size=30))
def test_alerts_alternate_firing_and_resolved_per_kind(sequence):
    """De-duplication: whatever the sequence, a state alert never fires twice without a
    resolution in between, and a resolution always follows a firing."""
    a = Alerter(AlertRules(unreachable_after=2))
    firing: set[str] = set()
    for o in sequence:
        for x in a.evaluate([down() if o is None else good(o)]):
            if x.kind == "jump":
                assert x.status == "firing"
                continue
            if x.status == "firing":
                assert x.kind not in firing
                firing.add(x.kind)
            else:
                assert x.kind in firing
                firing.remove(x.kind)
    assert sorted(firing) == sorted(k for k, _ in a.active())


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        AlertRules(warn_fraction=1.5)
    with pytest.raises(ValueError):
        AlertRules(unreachable_after=0)


def test_log_line_is_logfmt_with_the_numbers():
    a = Alerter()
    a.evaluate([good(0.0)])
    jump = a.evaluate([good(-18000.0)])[0]
    out = io.StringIO()
    log_alert(jump, out)
    line = out.getvalue()
    assert line.count("\n") == 1 and line.startswith("time=")
    assert "level=error" in line and "kind=jump status=firing severity=critical" in line
    assert f"target={T} host=srv-lyncedge01.domain.com" in line and "jump_s=-18000 previous_offset_s=0\n" in line
    assert 'msg="ntp://srv-lyncedge01.domain.com (srv-lyncedge01.domain.com) clock jumped by -18000.000 s' in line


def test_payload_is_alertmanager_shaped():
    a = Alerter()
    a.evaluate([good(0.0)])
    alerts = a.evaluate([good(-18000.0)])
    body = webhook_payload(alerts, external_url="http://127.0.0.1:9393/metrics")
    assert body["version"] == "4" and body["status"] == "firing" and len(body["alerts"]) == 2
    assert body["commonLabels"] == {"severity": "critical", "target": T, "host": "srv-lyncedge01.domain.com",
                                    "instance": "srv-lyncedge01.domain.com", "protocol": "ntp"}
    # grouped by no label: Alertmanager's key for such a group is "{}:{}"
    assert body["groupLabels"] == {} and body["groupKey"] == "{}:{}"
    jump = body["alerts"][0]
    assert jump["labels"]["alertname"] == "ClockJump" and jump["startsAt"] == "2026-01-01T00:00:00.000Z"
    assert jump["skewsleuth"]["jump_s"] == -18000.0 and jump["skewsleuth"]["kind"] == "jump"
    assert len(jump["fingerprint"]) == 16 and jump["generatorURL"].endswith("/metrics")
    json.dumps(body)        # plain JSON all the way down


def test_each_jump_is_its_own_alert_and_a_level_keeps_its_fingerprint():
    a = Alerter()
    a.evaluate([good(0.0, at=0)])
    first = a.evaluate([good(-18000.0, at=10)])
    again = a.evaluate([good(0.0, at=20)])
    jumps = [x for x in first + again if x.kind == "jump"]
    assert len(jumps) == 2 and jumps[0].fingerprint != jumps[1].fingerprint
    assert jumps[0].labels["jump_at"] != jumps[1].labels["jump_at"]
    fired, resolved = (next(x for x in batch if x.kind == "tolerance") for batch in (first, again))
    assert resolved.status == "resolved" and fired.fingerprint == resolved.fingerprint


def test_alertmanager_gets_every_firing_alert_each_round_until_resolved():
    from datetime import datetime, timedelta, timezone

    from skewsleuth.watch.alertmanager import MIN_RESEND_S, RESEND_FACTOR, Alertmanager, api_url

    assert api_url("http://127.0.0.1:9093/") == "http://127.0.0.1:9093/api/v2/alerts"
    assert api_url("http://127.0.0.1:9093/api/v2/alerts") == "http://127.0.0.1:9093/api/v2/alerts"
    a = Alerter()
    am = Alertmanager(["http://127.0.0.1:9093"], interval_s=30.0)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    hold = timedelta(seconds=RESEND_FACTOR * max(30.0, MIN_RESEND_S))
    rounds = []
    for k, offset in enumerate((0.0, -18000.0, -18000.0, -18000.0, 0.0)):
        raised = a.evaluate([good(offset, at=10 * k)])
        rounds.append(am.body(raised, a.firing(), t0 + timedelta(seconds=10 * k)))
    assert rounds[0] == []
    for k in (1, 2, 3):      # firing: sent every round, endsAt pushed ahead each time
        [tol] = [x for x in rounds[k] if x["labels"]["kind"] == "tolerance"]
        assert tol["startsAt"] == "2026-01-01T00:00:10.000Z"
        assert tol["endsAt"] == (t0 + timedelta(seconds=10 * k) + hold).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        assert tol["labels"]["alertname"] == "ClockBeyondTolerance" and tol["labels"]["instance"] == a.states[T].last_good.host
        assert float(tol["annotations"]["offset_seconds"]) == -18000.0
    # the jump is an event: shown with a fixed end while it lasts, not moved ahead
    jump1 = [x for x in rounds[1] if x["labels"]["kind"] == "jump"]
    jump3 = [x for x in rounds[3] if x["labels"]["kind"] == "jump"]
    assert jump1 and jump1 == jump3[:1]
    # resolved: once, ending at the resolution
    [res] = [x for x in rounds[4] if x["labels"]["kind"] == "tolerance"]
    assert res["endsAt"] == "2026-01-01T00:00:40.000Z" and res["startsAt"] == "2026-01-01T00:00:10.000Z"
    assert not a.firing()
    json.dumps(rounds)


class _Sink:
    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        bodies = self.bodies

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_deliver_and_a_silent_receiver_neither_blocks_nor_breaks():
    """One receiver answers, one returns 500, one accepts connections and never replies
    (a hung receiver): send() returns at once, the good one gets the alerts, the others
    are given up after timeout and retries, and logged."""
    ok, failing = _Sink(), _Sink(500)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
    a = Alerter()
    a.evaluate([good(0.0)])
    alerts = a.evaluate([good(-18000.0)])
    log = io.StringIO()

    async def main() -> tuple[float, Webhooks]:
        hooks = Webhooks([ok.url, failing.url, silent_url], timeout=0.3, retries=1, backoff=0.05, stream=log)
        hooks.start()
        began = time.monotonic()
        hooks.send(alerts)
        queued = time.monotonic() - began
        await hooks.close(wait=5)
        return queued, hooks

    try:
        queued, hooks = asyncio.run(main())
    finally:
        ok.close()
        failing.close()
        silent.close()
    assert queued < 0.05
    assert [x["labels"]["kind"] for x in ok.bodies[0]["alerts"]] == ["jump", "tolerance"]
    assert len(failing.bodies) == 2                      # tried, and tried again
    assert hooks.delivered == 1 and hooks.failed == 2
    text = log.getvalue()
    assert f"url={failing.url} attempts=2" in text and "HTTP 500 Internal Server Error" in text
    assert f"url={silent_url} attempts=2" in text and "timed out" in text
