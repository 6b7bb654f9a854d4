"""An offset holds only as far as its evidence reaches (issue: "one event stretched over
16 months"): a segment's interval is what its evidence says where it was read, and more
than a day (model.REACH_S) from there the offset is unknown: the events keep their
logged time, of unknown uncertainty, as on a clock nothing measures."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

import skewsleuth
from skewsleuth.clock.model import REACH_PHI, REACH_S
from skewsleuth.clock.solve import Constraint, ConstraintSet, evidence_spans, solve
from skewsleuth.demo.eventxml import event_stream, event_xml, filetime_text

UTC = timezone.utc
HOST = "ws01.corp.test"
SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
SVCHOST = r"C:\Windows\System32\svchost.exe"
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
FIRST = datetime(2020, 7, 1, 8, 0, tzinfo=UTC)
STEP_DAY = datetime(2021, 11, 10, tzinfo=UTC)
# (true instant, process, offset after it): the clock was 213.6 s ahead until the first
OFFSET_BEFORE = 213.6
STEPS = [(STEP_DAY + timedelta(hours=9), POWERSHELL, 513.6),
         (STEP_DAY + timedelta(hours=10), SVCHOST, 0.0),
         (STEP_DAY + timedelta(hours=11), POWERSHELL, 60.0),
         (STEP_DAY + timedelta(hours=12), SVCHOST, 0.0)]


def _offset(true: datetime) -> float:
    o = OFFSET_BEFORE
    for at, _, after in STEPS:
        if true >= at:
            o = after
    return o


def _security_log(root) -> dict[str, datetime]:
    """A Windows Security log (wevtutil's RenderedXml stream) with logons (4624) every
    two and a half days for 16 months, then every ten minutes around a day with four
    clock changes (4616, fields as Microsoft's "4616(S): The system time was changed"
    lists them): two by PowerShell (a person), two by svchost.exe (W32Time). Returns
    the true times of a few records, by name."""
    trues = [FIRST + timedelta(hours=60 * k) for k in range(10_000)]
    trues = [t for t in trues if t < STEP_DAY - timedelta(days=2)]
    t = STEP_DAY - timedelta(hours=6)
    while t < STEP_DAY + timedelta(hours=20):
        trues.append(t)
        t += timedelta(minutes=10)
    records: list[tuple[datetime, int, str | None, float]] = [(t, 0, None, 0.0) for t in trues]
    for k, (at, process, _) in enumerate(STEPS):
        records.append((at, 1, process, k))
    records.sort(key=lambda r: (r[0], r[1]))
    events = []
    for rid, (true, kind, process, _) in enumerate(records, 1):
        logged = true + timedelta(seconds=_offset(true))
        common = dict(provider="Microsoft-Windows-Security-Auditing", provider_guid=SEC_GUID, logged=logged,
                      computer=HOST, channel="Security", record_id=rid, keywords="0x8020000000000000", process_id=640)
        if kind:
            before = true + timedelta(seconds=_offset(true - timedelta(microseconds=1)))
            events.append(event_xml(event_id=4616, task=12288, **common, data={
                "SubjectUserSid": "S-1-5-18" if process == SVCHOST else "S-1-5-21-1004336348-1177238915-682003330-500",
                "SubjectUserName": "WS01$" if process == SVCHOST else "admin", "SubjectDomainName": "CORP",
                "SubjectLogonId": "0x3e7", "PreviousTime": filetime_text(before), "NewTime": filetime_text(logged),
                "ProcessId": "0x4a8", "ProcessName": process}))
        else:
            events.append(event_xml(event_id=4624, task=12544, **common, data={
                "SubjectUserSid": "S-1-5-18", "SubjectUserName": "WS01$", "SubjectDomainName": "CORP",
                "SubjectLogonId": "0x3e7", "TargetUserName": "amy.jones", "TargetDomainName": "CORP",
                "LogonType": "3", "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                "IpAddress": "10.0.4.21", "IpPort": "0"}))
    folder = root / "ws01"
    folder.mkdir(parents=True)
    (folder / "Security.xml").write_text(event_stream(events), encoding="utf-8")
    return {"oldest": trues[0], "a year before": FIRST + timedelta(hours=60 * 40),
            "an hour before the first step": STEPS[0][0] - timedelta(hours=1),
            "between the steps": STEPS[0][0] + timedelta(minutes=30)}


@pytest.fixture(scope="module")
def investigated(tmp_path_factory):
    root = tmp_path_factory.mktemp("reach")
    trues = _security_log(root)
    return skewsleuth.investigate([root]), trues


def _row(v, true: datetime):
    """The timeline's row of the record written at true time ``true``."""
    logged = true + timedelta(seconds=_offset(true))
    rows = v.store.con.execute("""SELECT logged, true_time, uncertainty_s, offset_s FROM timeline
                                  WHERE host = ? AND logged = ?""", [HOST, logged]).fetchall()
    assert len(rows) == 1, (true, rows)
    return rows[0]


def test_the_months_before_the_first_step_are_unknown_not_shifted(investigated):
    v, _ = investigated
    h = next(h for h in v.to_dict()["hosts"] if h["host"] == HOST)
    assert [s["set_by"] for s in h["steps"]] == ["user", "time_service", "user", "time_service"]
    first_step = h["steps"][0]["at"]
    old, near = h["segments"][0], h["segments"][1]
    # the 16 months before the first step: one row, of unknown offset, and why
    assert old["from"].startswith("2020-07-01") and old["offset_s"] is None
    assert old["offset_low_s"] is None and old["offset_high_s"] is None
    assert old["basis"] == ["beyond the evidence: the offset was measured only at 2021-11-10 09:03:33.600 UTC (logged)"]
    assert first_step == "2021-11-10T09:03:33.600000Z"          # (the first step, on the old clock)
    assert old["events"] > 150
    # ... and the day before it, as the step's size and the next offset give it
    assert near["offset_s"] == pytest.approx(OFFSET_BEFORE, abs=2.5)
    assert near["from"] == old["to"] and near["events"] > 0
    assert near["evidence_from"] == near["evidence_to"] == first_step
    assert old["evidence_from"] == near["evidence_from"]
    # no event was moved by more than what its own clock was measured at
    assert sum(s["events"] for s in h["segments"]) == v.store.con.execute(
        "SELECT count(*) FROM events WHERE host = ?", [HOST]).fetchall()[0][0]


def test_an_old_event_keeps_its_logged_time_with_unknown_uncertainty(investigated):
    v, trues = investigated
    for name in ("oldest", "a year before"):
        logged, true, uncertainty, offset = _row(v, trues[name])
        assert true == logged, name               # not shifted by the offset measured 16 months later
        assert uncertainty is None and offset is None, name


def test_events_near_the_steps_are_corrected(investigated):
    v, trues = investigated
    for name in ("an hour before the first step", "between the steps"):
        logged, true, uncertainty, _ = _row(v, trues[name])
        assert abs((true - trues[name]).total_seconds()) <= uncertainty + 1e-6, name
        assert uncertainty < 5, name
    # an hour from the evidence the interval has widened by PHI x an hour
    _, _, far, _ = _row(v, trues["an hour before the first step"])
    _, _, close, _ = _row(v, STEPS[0][0] - timedelta(minutes=10))
    assert far - close == pytest.approx(REACH_PHI * 3000, abs=1e-3)


def test_the_terminal_markdown_and_html_say_unknown(investigated):
    import io

    from rich.console import Console

    from skewsleuth.report.html import _findings, _Records, chart_data
    from skewsleuth.report.markdown import render_markdown
    from skewsleuth.report.text import render_text

    v, _ = investigated
    out = io.StringIO()
    render_text(v, Console(file=out, width=200))
    assert "beyond the evidence" in out.getvalue() and "unknown" in out.getvalue()
    md = render_markdown(v)
    assert "beyond the evidence" in md and "unknown" in md
    # the HTML report's clock table and chart (as they are built, before the page)
    recs = _Records.of(v)
    rows = next(h for h in _findings(v, recs)["hosts"] if h["host"] == HOST)["segments"]
    assert rows[0]["offset"] == "unknown" and rows[0]["basis"].startswith("beyond the evidence")
    marks, _ = chart_data(v, recs)
    assert any(m["kind"] == "label" and "offset unknown: beyond the evidence" in m["label"] for m in marks)


# -- the spans, on the solver alone -----------------------------------------------

def _at(hours: float) -> tuple[datetime, datetime]:
    t = FIRST + timedelta(hours=hours)
    return (t, t)


def test_a_span_is_the_hull_of_the_constraints_that_bound_the_segment():
    # 1: a reference (whole); 2: pairs with 1 at hours 10 and 30; 3: a boot after a
    # segment nothing bounds (4), and a sync report at hour 50
    cons = [Constraint(0, 1, -1, 1, "reference", "reference"),
            Constraint(1, 2, -math.inf, 0.1, "pairs", "a -> b", at_i=_at(10), at_j=_at(10)),
            Constraint(2, 1, -math.inf, 0.1, "pairs", "b -> a", at_i=_at(30), at_j=_at(30)),
            Constraint(4, 3, -math.inf, 60, "boot", "boot", at_i=_at(40), at_j=_at(41)),
            Constraint(0, 3, -2, 2, "sync", "sync", at_j=_at(50))]
    cs = ConstraintSet(cons)
    first, last = evidence_spans(4, cs, solve(4, cs))
    assert (first[0], last[0]) == (-math.inf, math.inf)
    assert (first[1], last[1]) == (_at(10)[0].timestamp(), _at(30)[0].timestamp())
    # the boot says nothing of segment 3 (the clock before it is not bounded), but
    # bounds that one from below (o4 >= o3 - 60) where it ended
    assert (first[2], last[2]) == (_at(50)[0].timestamp(), _at(50)[0].timestamp())
    assert (first[3], last[3]) == (_at(40)[0].timestamp(), _at(40)[0].timestamp())
    # nothing bounds a segment of no evidence
    cs = ConstraintSet([Constraint(1, 2, -math.inf, 5, "boot", "boot", at_i=_at(1), at_j=_at(2))])
    first, last = evidence_spans(2, cs, solve(2, cs))
    assert list(first) == [math.inf] * 2 and list(last) == [-math.inf] * 2


def test_evidence_set_aside_reaches_nothing():
    cons = [Constraint(0, 1, -1, 1, "reference", "reference"),
            Constraint(1, 2, 99.5, 100.5, "step", "step of +100 s", at_i=_at(5), at_j=_at(5)),
            Constraint(0, 2, -1, 1, "sync", "B reports sync", at_j=_at(500))]
    cs = ConstraintSet(cons)
    sol = solve(2, cs)
    assert sol.contradictions and sol.contradictions[0]["kind"] == "sync"
    first, last = evidence_spans(2, cs, sol)
    assert (first[1], last[1]) == (_at(5)[0].timestamp(), _at(5)[0].timestamp())


def test_the_reach_is_a_day():
    assert REACH_S == 86400 and REACH_PHI * REACH_S == pytest.approx(1.296)
