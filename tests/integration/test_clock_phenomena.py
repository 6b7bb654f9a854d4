"""The clock phenomena of issue 17, one named test per numbered case.

Each case's evidence comes from :mod:`synth.phenomena` (real message texts, several
logs per host, noise beside the incident) with its truth; each test runs
``skewsleuth.investigate`` on it and checks what the issue's "What to build" says is
right: every record's segment holds the host's true offset at that record (or is
unbounded there), no invented steps or phantom incidents, ``since`` / ``until`` within
the evidence's uncertainty of the true boundary, the culprit named and the healthy
hosts neither accused nor stripped of their clock evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import skewsleuth
from synth import phenomena as ph

pytestmark = pytest.mark.integration

# Slack on an offset interval: second-resolution syslog times, case-file minutes.
TOL_S = 2.0


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _investigate(builder, tmp_path):
    truth = builder(tmp_path / "evidence")
    verdict = skewsleuth.investigate([truth.root])
    vd = verdict.to_dict()
    ing = vd["ingest"]
    # The builders write what the readers take whole: nothing quarantined, nothing failed.
    assert ing["quarantined"] == 0 and ing["files_failed"] == 0, ing
    want = sum(len(r) for h in truth.hosts.values() for r in h.records.values())
    (got,) = verdict.store.con.execute(
        "SELECT sum(ingested) FROM files WHERE path NOT LIKE '%case.yml'").fetchone()
    assert got == want, f"{got} records ingested from the logs, {want} written"
    return truth, verdict, vd


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()


def _host(vd: dict, fqdn: str) -> dict:
    for h in vd["hosts"]:
        if _short(h["host"]) == _short(fqdn):
            return h
    raise AssertionError(f"{fqdn} not among {[h['host'] for h in vd['hosts']]}")


def _records(verdict, truth: ph.Truth, fqdn: str) -> list[dict]:
    """Every record of the host with its true offset, true time and its segment's interval."""
    ht = truth.host(fqdn)
    rows = verdict.store.con.execute("""
        WITH ranked AS (
            SELECT e.file_id, e.record_no,
                   row_number() OVER (PARTITION BY e.file_id ORDER BY e.record_no) - 1 AS idx
            FROM events e)
        SELECT f.path, r.idx, t.segment_id, s.offset_low_s, s.offset_high_s, t.logged, t.true_time, t.message
        FROM timeline t JOIN ranked r USING (file_id, record_no)
        JOIN files f USING (file_id) JOIN segments s ON s.segment_id = t.segment_id""").fetchall()
    out = []
    for path, idx, seg, low, high, logged, true_time, message in rows:
        rel = "/".join(str(path).replace("\\", "/").split("/")[-2:])
        if rel not in ht.records:
            continue
        t, off = ht.records[rel][idx]
        out.append(dict(file=rel, idx=idx, segment=seg, low=low, high=high, logged=logged, true_time=true_time,
                        truth_t=t, truth_off=off, message=message or ""))
    n = sum(len(r) for r in ht.records.values())
    assert len(out) == n, f"{fqdn}: {len(out)} of its {n} records on the timeline"
    return out


def _assert_offsets_hold(verdict, truth: ph.Truth, fqdn: str, tol: float = TOL_S) -> list[dict]:
    """Every record's segment interval holds the host's true offset there (a missing
    bound is unbounded on that side)."""
    recs = _records(verdict, truth, fqdn)
    bad: dict[int, list] = {}
    for r in recs:
        lo_ok = r["low"] is None or r["low"] - tol <= r["truth_off"]
        hi_ok = r["high"] is None or r["truth_off"] <= r["high"] + tol
        if not (lo_ok and hi_ok):
            bad.setdefault(r["segment"], []).append(r)
    if bad:
        lines = [f"segment {seg} [{rs[0]['low']}, {rs[0]['high']}] holds {len(rs)} records whose true offsets are "
                 f"{sorted({round(r['truth_off'], 1) for r in rs})} (true {rs[0]['truth_t']:%H:%M:%S}..."
                 f"{rs[-1]['truth_t']:%H:%M:%S}, e.g. {rs[0]['file']})" for seg, rs in bad.items()]
        raise AssertionError(f"{fqdn}: offsets outside their segment's interval:\n  " + "\n  ".join(lines))
    return recs


def _root_causes(vd: dict) -> list[dict]:
    return [rc for inc in vd["incidents"] for rc in inc["root_causes"]]


def _first_cause(vd: dict) -> dict:
    assert vd["incidents"], "no incident found"
    assert vd["incidents"][0]["root_causes"], "the incident has no root cause"
    return vd["incidents"][0]["root_causes"][0]


def _assert_within(label: str, value: datetime | None, lo: datetime | None, hi: datetime | None,
                   slack_s: float = 2.0) -> None:
    assert value is not None, f"{label} is null, expected between {lo} and {hi}"
    slack = timedelta(seconds=slack_s)
    if lo is not None:
        assert value >= lo - slack, f"{label} {value} before {lo}"
    if hi is not None:
        assert value <= hi + slack, f"{label} {value} after {hi}"


def _assert_healthy_keep_evidence(vd: dict, truth: ph.Truth) -> None:
    accused = {_short(rc["host"]) for rc in _root_causes(vd) if rc["kind"] == "clock_skew"}
    for fqdn in truth.healthy:
        assert _short(fqdn) not in accused, f"healthy {fqdn} accused: {sorted(accused)}"
        for s in _host(vd, fqdn)["segments"]:
            assert s["basis"] != ["no clock evidence"], f"{fqdn} segment {s['from']}..{s['to']}: {s['basis']}"
            assert s["offset_low_s"] is not None and s["offset_high_s"] is not None, (fqdn, s)
            assert s["offset_low_s"] - TOL_S <= 0 <= s["offset_high_s"] + TOL_S, (fqdn, s)


def _clock_steps(h: dict) -> list[dict]:
    return [s for s in h["steps"] if s["delta_s"] is not None and abs(s["delta_s"]) >= 1.0]


# ----------------------------------------------------------------------------------


def test_one_resync_seen_in_three_logs_is_one_step(tmp_path):
    truth, v, vd = _investigate(ph.case1_edge_resync_in_three_logs, tmp_path)
    edge_t = truth.host("sfb-edge01.contoso.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    edge = _host(vd, edge_t.host)
    steps = _clock_steps(edge)
    assert len(steps) == 1, f"one resync, steps: {[(s['at'], s['delta_s'], s['source']) for s in steps]}"
    assert steps[0]["delta_s"] == pytest.approx(-10800, abs=300)
    offsets = [s["offset_s"] for s in edge["segments"]]
    assert len(edge["segments"]) == 2, f"segments: {offsets}"
    assert len(vd["incidents"]) == truth.incidents, \
        f"incidents: {[(i['onset'], i['end'], i['symptoms']) for i in vd['incidents']]}"
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "sfb-edge01" and rc["offset_s"] == pytest.approx(10800, abs=5)
    last_before, first_after = edge_t.bracket(truth.until)
    _assert_within("until", _ts(rc["until"]), last_before, first_after)
    end = _ts(vd["incidents"][0]["end"])
    assert end is not None and end <= truth.until + timedelta(minutes=5), f"incident ends {end}"
    _assert_healthy_keep_evidence(vd, truth)


def test_forward_fix_without_a_record_is_a_step(tmp_path):
    truth, v, vd = _investigate(ph.case2a_forward_fix_unlogged, tmp_path)
    med_t = truth.host("sfb-med01.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    med = _host(vd, med_t.host)
    steps = _clock_steps(med)
    assert len(steps) == 1 and steps[0]["delta_s"] == pytest.approx(400, abs=30), \
        f"steps: {[(s['at'], s['delta_s'], s['source']) for s in steps]}"
    # The skewed stretch is not "within tolerance": its interval excludes 0.
    recs = _records(v, truth, med_t.host)
    before = [r for r in recs if r["truth_t"] < truth.until]
    assert all(r["high"] is not None and r["high"] < -300 for r in before), \
        sorted({(r["low"], r["high"]) for r in before})
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "sfb-med01" and rc["offset_s"] == pytest.approx(-400, abs=10)
    _assert_within("until", _ts(rc["until"]), *med_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)


def test_forward_gap_of_days_on_a_domain_controller_is_a_step(tmp_path):
    truth, v, vd = _investigate(ph.case2b_dc_forward_gap, tmp_path)
    dc_t = truth.host("dc02.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    dc = _host(vd, dc_t.host)
    offsets = [s["offset_s"] for s in dc["segments"]]
    assert len(dc["segments"]) == 2, f"segments: {offsets}"
    steps = _clock_steps(dc)
    assert len(steps) == 1 and steps[0]["delta_s"] == pytest.approx(ph.GAP_2B_S, abs=3600), \
        f"steps: {[(s['at'], s['delta_s'], s['source']) for s in steps]}"
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "dc02" and rc["offset_s"] == pytest.approx(-ph.GAP_2B_S, abs=130)
    _assert_within("until", _ts(rc["until"]), *dc_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)


def test_clock_set_wrong_by_vmware_tools_is_weighed_not_trusted(tmp_path):
    truth, v, vd = _investigate(ph.case3_snapshot_vmtools_wrong_time, tmp_path)
    dc_t = truth.host("dc03.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    recs = _records(v, truth, dc_t.host)
    wrong = [r for r in recs if truth.since <= r["truth_t"] < truth.until]
    assert wrong and all(r["low"] is not None and r["high"] is not None and r["high"] < -10000 for r in wrong), \
        f"vmtoolsd's stretch: {sorted({(r['low'], r['high']) for r in wrong})}"
    after = [r for r in recs if r["truth_t"] >= truth.until]
    assert all(r["low"] is not None and abs(r["low"]) <= 10 for r in after), \
        f"after the administrator's fix: {sorted({(r['low'], r['high']) for r in after})}"
    # The observation that contradicts "vmtoolsd sets true time" is used, not dropped.
    dropped = [c for c in vd["contradictions"] if c.get("kind") == "observation"]
    assert not dropped, dropped
    # Who set the clock stays a fact about the step.
    setters = {s["set_by"] for s in _host(vd, dc_t.host)["steps"] if s["source"] == "Security 4616"}
    assert len(setters) == 2, setters
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "dc03" and rc["offset_s"] == pytest.approx(-10800, abs=130)
    _assert_within("since", _ts(rc["since"]), *dc_t.bracket(truth.since))
    _assert_within("until", _ts(rc["until"]), *dc_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)


def test_sync_logged_just_before_a_step_does_not_vouch_for_the_stretch_before(tmp_path):
    truth, v, vd = _investigate(ph.case4_selected_source_before_step, tmp_path)
    lnx_t = truth.host("lnx04.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    recs = _records(v, truth, lnx_t.host)
    before = [r for r in recs if r["truth_t"] < truth.until]
    assert all(r["low"] is not None and r["low"] > 300 for r in before), \
        f"before the step: {sorted({(r['low'], r['high']) for r in before})}"
    steps = _clock_steps(_host(vd, lnx_t.host))
    assert len(steps) == 1 and steps[0]["delta_s"] == pytest.approx(-600, abs=0.01)
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "lnx04" and rc["offset_s"] == pytest.approx(600, abs=2)
    _assert_within("until", _ts(rc["until"]), *lnx_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)


def test_rsyslog_start_line_before_kernel_lines_opens_the_new_boot(tmp_path):
    truth, v, vd = _investigate(ph.case5_rsyslog_start_before_kernel, tmp_path)
    m_t = truth.host("deb05.corp.test")
    recs = _assert_offsets_hold(v, truth, m_t.host)
    start = next(r for r in recs if r["message"].endswith("] start"))
    kernel = next(r for r in recs if "Linux version" in r["message"])
    assert start["segment"] == kernel["segment"], \
        f"rsyslogd's start line on segment {start['segment']} [{start['low']}, {start['high']}], the boot's kernel " \
        f"lines on {kernel['segment']} [{kernel['low']}, {kernel['high']}]"
    old = [r for r in recs if r["truth_t"] < m_t.boots[0]]
    assert all(r["low"] is not None and r["high"] is not None and r["high"] - r["low"] <= 10 for r in old), \
        f"the old boot: {sorted({(r['low'], r['high']) for r in old})}"
    assert len(_host(vd, m_t.host)["boots"]) == 1
    assert vd["incidents"] == []


def test_one_contradiction_sets_aside_only_the_constraints_in_it(tmp_path):
    truth, v, vd = _investigate(ph.case6_one_contradiction, tmp_path)
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    for fqdn in ("app61.corp.test", "app62.corp.test"):
        for s in _host(vd, fqdn)["segments"]:
            assert "sync" in s["basis"], f"{fqdn}: basis {s['basis']} despite eight Time-Service 37"
            assert s["offset_high_s"] is not None and s["offset_low_s"] is not None \
                and s["offset_high_s"] - s["offset_low_s"] <= 10, (fqdn, s["offset_low_s"], s["offset_high_s"])
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "sfb-edge06" and rc["offset_s"] == pytest.approx(900, abs=5)
    edge_t = truth.host("sfb-edge06.corp.test")
    _assert_within("since", _ts(rc["since"]), *edge_t.bracket(truth.since))
    _assert_healthy_keep_evidence(vd, truth)


def test_resume_opens_the_skewed_segment_and_gives_since(tmp_path):
    truth, v, vd = _investigate(ph.case7_resume_ahead, tmp_path)
    win_t = truth.host("win07.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    recs = _records(v, truth, win_t.host)
    asleep_before = [r for r in recs if r["truth_t"] < win_t.suspends[0]]
    assert all(r["high"] is not None and r["high"] < 300 for r in asleep_before), \
        f"before the sleep: {sorted({(r['low'], r['high']) for r in asleep_before})}"
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "win07" and rc["offset_s"] == pytest.approx(420, abs=5)
    # Nothing is logged while it sleeps: since lies between the sleep and the resume.
    _assert_within("since", _ts(rc["since"]), win_t.suspends[0], win_t.resumes[0] + timedelta(seconds=60))
    _assert_within("until", _ts(rc["until"]), *win_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)


def test_cmos_reset_boot_then_timesyncd_sync_is_a_forward_step(tmp_path):
    truth, v, vd = _investigate(ph.case8_cmos_reset, tmp_path)
    m_t = truth.host("iot08.corp.test")
    recs = _assert_offsets_hold(v, truth, m_t.host, tol=120)
    steps = _clock_steps(_host(vd, m_t.host))
    reset = truth.culprit_offset_s
    assert len(steps) == 1 and steps[0]["delta_s"] == pytest.approx(-reset, abs=120), \
        f"steps: {[(s['at'], s['delta_s'], s['source']) for s in steps]}"
    # After the sync every record is back on true time, not moved to 2031.
    after = [r for r in recs if r["truth_t"] >= truth.until]
    off = [r for r in after if abs((r["true_time"] - r["truth_t"]).total_seconds()) > 5]
    assert not off, f"{len(off)} of {len(after)} records after the sync placed at e.g. {off[0]['true_time']}"
    assert len(vd["incidents"]) == truth.incidents
    for rc in _root_causes(vd):   # the reboot that reset the clock is a cause of its own, with no end
        if _short(rc["host"]) == "iot08" and rc["kind"] == "clock_skew":
            _assert_within("until", _ts(rc["until"]), *m_t.bracket(truth.until))
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "iot08"


def test_journald_monotonic_clock_gives_an_unlogged_step_exactly(tmp_path):
    truth, v, vd = _investigate(ph.case9_journald_monotonic, tmp_path)
    lnx_t = truth.host("lnx09.corp.test")
    for fqdn in truth.hosts:
        _assert_offsets_hold(v, truth, fqdn)
    steps = _clock_steps(_host(vd, lnx_t.host))
    assert len(steps) == 1 and steps[0]["delta_s"] == pytest.approx(-3600, abs=0.01), \
        f"steps: {[(s['at'], s['delta_s'], s['source']) for s in steps]}"
    for s in _host(vd, lnx_t.host)["segments"]:
        assert s["offset_low_s"] is not None and s["offset_high_s"] - s["offset_low_s"] <= 5, s
    rc = _first_cause(vd)
    assert _short(rc["host"]) == "lnx09" and rc["offset_s"] == pytest.approx(3600, abs=2)
    _assert_within("until", _ts(rc["until"]), *lnx_t.bracket(truth.until))
    _assert_healthy_keep_evidence(vd, truth)
