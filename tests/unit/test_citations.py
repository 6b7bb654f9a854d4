"""Records are cited as FILE#N: the log's own number for them (EVTX and event XML: the
EventRecordID, what Event Viewer and every EVTX tool show) where it has one, else their
position in the file from 0 (the timeline's ``record_no``). Never a position where the
log numbers its records."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import skewsleuth
from conftest import EVTX_DIR

# "(.../System.xml#701150)", "in .../SIPStack.log#529:", ", at ...#12)": a path and a number
CITED = re.compile(r"(?:\(|in |at )(/[^()#]*?)#([0-9]+)\b")


def _citations(verdict) -> list[tuple[str, str, int]]:
    """(the string, the file, the number) of every citation in the verdict's JSON."""
    out = []

    def walk(o):
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        elif isinstance(o, str):
            out.extend((o, m.group(1), int(m.group(2))) for m in CITED.finditer(o))
    walk(verdict.to_dict())
    return out


def _check(verdict) -> list[tuple[str, str, int, int | None, str, int]]:
    """Every citation names a record that exists, by its EventRecordID where it has one;
    returns (string, file, number, record_id, provider, event_id) of each."""
    found = []
    for text, path, n in _citations(verdict):
        rows = verdict.store.con.execute(
            """SELECT e.record_id, e.record_no, e.provider, e.event_id FROM events e JOIN files f USING (file_id)
               WHERE f.path = ? AND coalesce(e.record_id, e.record_no) = ?""", [path, n]).fetchall()
        assert rows, f"{path}#{n} names no record: {text}"
        numbered = verdict.store.con.execute(
            "SELECT bool_or(record_id IS NOT NULL) FROM events JOIN files f USING (file_id) WHERE f.path = ?",
            [path]).fetchall()[0][0]
        record_id, record_no, provider, event_id = rows[0]
        assert (record_id is not None) == bool(numbered), text   # never a position where the log numbers them
        found.append((text, path, n, record_id, provider, event_id))
    return found


def test_the_seed_verdict_cites_its_event_log_records_by_event_record_id(seed_verdict):
    found = _check(seed_verdict)
    windows = [f for f in found if f[1].endswith(".xml")]
    assert windows and all(f[3] == f[2] for f in windows)
    # the Edge's reboot, the step its time service made, and the first symptoms
    boot = next(f for f in windows if f[0].startswith("Kernel-General 12 on srv-lyncedge01"))
    assert (boot[4], boot[5]) == ("Microsoft-Windows-Kernel-General", 12) and boot[2] > 700000
    step = next(f for f in windows if f[0].startswith("Kernel-General 1 on srv-lyncedge01"))
    assert (step[4], step[5]) == ("Microsoft-Windows-Kernel-General", 1)
    firsts = [s for inc in seed_verdict.to_dict()["incidents"] for s in inc["first_symptoms"]]
    assert firsts and all(CITED.search(s) for s in firsts)
    # a SIP trace numbers no records: its position
    assert any(f[1].endswith("SIPStack.log") and f[3] is None for f in found)
    assert not re.search(r" #[0-9]", json.dumps(seed_verdict.to_dict()))     # no bare position


@pytest.mark.parametrize("name", ["security.evtx"])
def test_a_real_evtx_verdict_cites_event_record_ids(tmp_path, name):
    shutil.copy(EVTX_DIR / name, tmp_path / name)
    verdict = skewsleuth.investigate([tmp_path / name])
    found = _check(verdict)
    assert len(found) > 10 and all(f[3] == f[2] for f in found)
    change = next(f for f in found if f[0].startswith("Security 4616 on "))
    assert change[5] == 4616 and Path(change[1]).name == name


def test_the_html_report_lists_records_by_event_record_id_or_position(seed_verdict):
    from skewsleuth.report.html import _Records

    con = seed_verdict.store.con
    wanted = con.execute("""
        (SELECT file_id, record_no, f.path, record_id FROM events JOIN files f USING (file_id)
         WHERE record_id IS NOT NULL ORDER BY file_id, record_no LIMIT 1)
        UNION ALL
        (SELECT file_id, record_no, f.path, record_id FROM events JOIN files f USING (file_id)
         WHERE record_id IS NULL AND record_no > 0 ORDER BY file_id, record_no LIMIT 1)""").fetchall()
    recs = _Records.of(seed_verdict)
    for file_id, record_no, _, _ in wanted:
        recs.ref(file_id, record_no)
    sources = [r["source"] for r in recs.rows(seed_verdict)]
    assert sources == [f"{path}#{record_id if record_id is not None else record_no}"
                       for _, record_no, path, record_id in wanted]
    assert sources[0] != f"{wanted[0][2]}#{wanted[0][1]}"       # the EventRecordID, not the position


def test_the_html_report_shows_an_evtx_records_fields_as_its_message(tmp_path):
    """EVTX records hold no text: the HTML's records table shows what the timeline shows,
    the event id and its EventData, not an empty cell."""
    from skewsleuth.report.html import _Records

    shutil.copy(EVTX_DIR / "security.evtx", tmp_path / "security.evtx")
    verdict = skewsleuth.investigate([tmp_path / "security.evtx"])
    con = verdict.store.con
    ((file_id, record_no),) = con.execute("SELECT file_id, record_no FROM events WHERE event_id = 4616 "
                                          "ORDER BY record_no LIMIT 1").fetchall()
    recs = _Records.of(verdict)
    recs.ref(file_id, record_no)
    (row,) = recs.rows(verdict)
    assert row["message"].startswith("4616: SubjectUserSid=") and "NewTime=" in row["message"]
