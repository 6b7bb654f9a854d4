"""Clocks reconstructed from the messages hosts exchange (SIP transactions)."""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from support.properties import examples

import skewsleuth
from skewsleuth.case import Case
from skewsleuth.clock.model import build_clock_model
from skewsleuth.store import Store
from skewsleuth.demo.scenario import write_evidence
from synth.fleet import load_fleet, make_fleet
from synth.scenarios import two_edges_scenario
from support.pairs import _only_sip_traces  # noqa: F401


def test_the_other_layout_from_sip_pairs_alone(tmp_path):
    evidence = write_evidence(two_edges_scenario(), tmp_path / "evidence")
    _only_sip_traces(evidence, "sfb-edge02")
    v = skewsleuth.investigate([evidence]).to_dict()
    rc = v["incidents"][0]["root_causes"][0]
    assert rc["host"] == "sfb-edge02.contoso.de" and rc["offset_s"] == pytest.approx(7200, abs=1)
    assert rc["offset_low_s"] <= 7200 <= rc["offset_high_s"]
    healthy = next(h for h in v["hosts"] if h["host"] == "sfb-edge01.contoso.de")
    assert all(abs(s["offset_s"]) < 1.5 for s in healthy["segments"])


def _check_fleet(fleet, events, truth, accuracy):
    store = Store()
    load_fleet(store, events)
    case = Case(references=[fleet.hosts[0]], reference_accuracy_s=accuracy)
    model = build_clock_model(store, case)
    store.con.register("truth", truth)
    rows = store.rows("""SELECT s.segment_id, min(t.offset_s) AS lo, max(t.offset_s) AS hi
                         FROM event_segments s JOIN truth t USING (file_id, record_no) GROUP BY 1""")
    return model, rows


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 10), st.floats(0, 2), st.integers(0, 2**31))
def test_on_fleets_with_known_clocks_every_interval_holds_the_truth(n_hosts, steps, seed):
    fleet, events, truth = make_fleet(n_hosts, 300 * n_hosts, steps_per_host=steps, seed=seed)
    model, rows = _check_fleet(fleet, events, truth, accuracy=0.0005)
    assert model.contradictions == []
    for r in rows:
        iv = model.segments[r["segment_id"]].interval
        assert r["hi"] - r["lo"] < 1e-6, "a segment mixes two clock settings"
        assert iv.low - 1e-6 <= r["lo"] <= iv.high + 1e-6


def test_intervals_are_about_as_narrow_as_the_quickest_round_trips():
    # one-way delays of 1-50 ms, timestamps to 1 ms (2 ms margin each way), a
    # reference trusted to 0.5 ms: a host that talks to the reference often is known
    # to within a few milliseconds.
    fleet, events, truth = make_fleet(6, 6000, steps_per_host=0.5, seed=11)
    model, rows = _check_fleet(fleet, events, truth, accuracy=0.0005)
    widths = [model.segments[r["segment_id"]].interval.high - model.segments[r["segment_id"]].interval.low
              for r in rows if r["segment_id"] not in ()]
    assert max(widths) < 0.02
    for r in rows:
        e = model.segments[r["segment_id"]]
        assert abs(e.offset_s - r["lo"]) < 0.01        # the estimate, within 10 ms of the truth


def test_clocks_that_drift_are_given_their_rate_and_every_event_its_true_time():
    """Hosts whose clocks gain or lose up to 40 ppm over eight hours (up to 1.2 s): the
    rate of each is found within its interval, and the corrected times are right to
    the round trip's precision all day, with no contradiction."""
    fleet, events, truth = make_fleet(12, 3000, drift_ppm=40.0, seed=5)
    store = Store()
    load_fleet(store, events)
    model = build_clock_model(store, Case(references=[fleet.hosts[0]], reference_accuracy_s=0.001))
    assert model.contradictions == []
    for est in model.segments:
        h = fleet.hosts.index(est.segment.host)
        if h == 0:
            continue
        assert est.drift is not None and est.drift.significant
        assert est.drift.low - 1e-9 <= fleet.rates[h] <= est.drift.high + 1e-9
        assert est.drift.high - est.drift.low < 12e-6                  # a few ppm over 8 h of messages
    store.con.register("truth", truth)
    worst = store.con.execute("""SELECT max(abs((epoch_us(logged) - epoch_us(true_time)) / 1e6 - t.offset_s))
                                 FROM timeline JOIN truth t USING (file_id, record_no)""").fetchone()[0]
    assert worst < 0.06


def test_correlation_keys_are_data_not_sql():
    """Case files are evidence too: a key with quotes is a field name, never SQL."""
    fleet, events, _ = make_fleet(3, 50, seed=2)
    store = Store()
    load_fleet(store, events)
    case = Case(references=[fleet.hosts[0]], correlation_keys=["o'); DROP TABLE events; --", 'a"b'])
    build_clock_model(store, case)
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 200
