"""Hostile and damaged input (issue 7): real EVTX files mutated, event XML and case files
mutated, whole damaged collections investigated, times no timeline can hold, and the
verdict the same whatever order the evidence is named in: the part that runs the command
line, a real daemon or another process (the rest is in tests/unit/test_reliability.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone


from skewsleuth.demo.eventxml import event_stream, event_xml
from synth.syslog import rfc5424_line
from conftest import one_line_error, run_cli


UTC = timezone.utc


def test_every_damaged_sample_next_to_good_evidence_gives_a_verdict(evtx_dir, tmp_path, seed_copy):
    ev = seed_copy
    win = ev / "win01"
    win.mkdir()
    for name in ("sample_with_a_bad_chunk_magic.evtx", "Application_no_crc32.evtx",
                 "sample-with-zero-data-size-event.evtx", "sysmon.evtx"):
        shutil.copy(evtx_dir / name, win / name)
    (win / "cut.evtx").write_bytes((evtx_dir / "system.evtx").read_bytes()[:300_000])
    (win / "empty.evtx").write_bytes(b"")
    r = run_cli("investigate", str(ev), "--json", "-", "-q")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    assert d["incidents"][0]["root_causes"][0]["host"] == "srv-lyncedge01.domain.com"
    assert d["ingest"]["quarantined"] > 0 and d["ingest"]["files_failed"] == 1
    assert d["ingest"]["failures"][0]["reason"] == "empty file (0 bytes)"


def test_far_future_and_ancient_times_are_quarantined_with_the_reason(tmp_path):
    host = tmp_path / "ev" / "h1"
    host.mkdir(parents=True)
    good = [event_xml(provider="P", event_id=7, logged=datetime(2020, 1, 1, 0, k, tzinfo=UTC), computer="h1",
                      channel="System", record_id=k + 1, data={"a": "b"}) for k in range(3)]
    text = event_stream(good)
    text = text.replace("2020-01-01T00:01:00", "30828-09-14T02:48:05").replace("2020-01-01T00:02:00",
                                                                                 "1850-01-01T00:00:00")
    (host / "events.xml").write_text(text)
    (host / "syslog").write_text(rfc5424_line(datetime(2020, 1, 1, 0, 5, tzinfo=UTC), "h1", "app", 1, "ok") + "\n"
                                 + "<165>1 9999-12-31T23:59:59Z h1 app 1 - - the end of time\n")
    r = run_cli("investigate", str(tmp_path / "ev"), "--db", str(tmp_path / "c.duckdb"), "--json", "-", "-q")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    d = json.loads(r.stdout)
    assert d["ingest"]["records"] == 5 and d["ingest"]["quarantined"] == 3
    import duckdb
    reasons = sorted(x for (x,) in duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True).execute(
        "SELECT reason FROM quarantine").fetchall())
    assert reasons == [f"logged time {t} is outside the years 1900-8999 a timeline can hold"
                       for t in ("1850-01-01T00:00:00Z", "30828-09-14T02:48:05Z", "9999-12-31T23:59:59Z")]


def test_the_order_evidence_is_named_in_changes_nothing(evtx_dir, tmp_path, seed_copy):
    """Failed files, duplicates (the copy kept) and case files in any order: the same bytes."""
    ev = seed_copy
    (ev / "srv-lyncedge01" / "junk.bin").write_bytes(b"\x01\x02 not a log")
    (ev / "srv-lyncfe01" / "empty.log").write_bytes(b"")
    shutil.copy(ev / "srv-lyncfe01" / "SIPStack.log", ev / "srv-lyncfe01" / "SIPStack-copy.log")
    parts = sorted(ev.iterdir())
    outs = set()
    for k, order in enumerate([parts, parts[::-1], parts[1:] + parts[:1]]):
        out = tmp_path / f"v{k}.json"
        r = run_cli("investigate", *map(str, order), "--json", str(out), "-q")
        assert r.returncode == 1, r.stderr
        outs.add(out.read_bytes())
    assert len(outs) == 1
    d = json.loads(outs.pop())
    assert d["ingest"]["files_failed"] == 2 and d["ingest"]["duplicates"] > 0


def test_a_hostile_reference_in_a_case_file_among_the_evidence_never_reaches_a_fix_command(tmp_path, seed_copy):
    ev = seed_copy
    case = (ev / "case.yml").read_text()
    hostile = 'srv-lyncfe01.domain.com" ; Restart-Computer -Force ; "'
    (ev / "case.yml").write_text(case.replace("references: [srv-lyncfe01.domain.com]",
                                              f"references: ['{hostile}']"))
    assert hostile in (ev / "case.yml").read_text()
    r = run_cli("investigate", str(ev), "--json", "-", "-q")
    d = json.loads(r.stdout)
    (fix,) = [x for x in d["incidents"][0]["remediation"] if x["host"] == "srv-lyncedge01.domain.com"]
    commands = " ".join(fix["steps"]) + fix["verify"]
    assert "Restart-Computer" not in commands and "<your NTP server>" in commands


def test_a_case_database_kept_inside_the_evidence_is_not_read_as_evidence(tmp_path, seed_copy):
    ev = seed_copy
    outs = []
    for k in range(2):      # the second run finds the database and its parse cache there
        out = tmp_path / f"v{k}.json"
        r = run_cli("investigate", str(ev), "--db", str(ev / "case.duckdb"), "--json", str(out), "-q")
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and json.loads(outs[1])["ingest"]["files_failed"] == 0


def test_a_rule_python_takes_but_duckdb_does_not_is_refused_when_rules_load(tmp_path, seed_copy):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ahead.yml").write_text("title: look-ahead\nlogsource: {product: any}\ndetection:\n"
                                     "  s: {Message|re: 'skew(?=ed)'}\n  condition: s\n"
                                     "skewsleuth: {protocol: x, tolerance_s: 5}\n")
    ev = seed_copy
    line = one_line_error("investigate", str(ev), "--rules", str(rules))
    assert "bad regular expression 'skew(?=ed)'" in line


def test_memory_limits_and_temporary_folders_that_would_fail_are_one_line_errors(tmp_path, seed_copy):
    ev = seed_copy
    env = dict(os.environ, SKEWSLEUTH_MEMORY_LIMIT="lots")
    r = subprocess.run([sys.executable, "-m", "skewsleuth", "investigate", str(ev), "-q"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "memory limit 'lots'" in r.stderr
    quoted = tmp_path / "it's here"
    quoted.mkdir()
    env = dict(os.environ, TMPDIR=str(quoted))
    r = subprocess.run([sys.executable, "-m", "skewsleuth", "investigate", str(ev), "-q"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_an_output_that_is_a_folder_is_refused_before_the_work(tmp_path, seed_copy):
    ev = seed_copy
    assert "it is a folder" in one_line_error("investigate", str(ev), "--html", str(tmp_path))


def test_a_cache_entry_whose_parquet_is_damaged_is_read_again(tmp_path, seed_copy):
    ev = seed_copy
    db = tmp_path / "c.duckdb"
    first = run_cli("investigate", str(ev), "--db", str(db), "--json", str(tmp_path / "a.json"), "-q")
    for p in (tmp_path / "c.duckdb.parsed").glob("*.events.parquet"):
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    again = run_cli("investigate", str(ev), "--db", str(db), "--json", str(tmp_path / "b.json"), "-q")
    assert first.returncode == again.returncode == 0, again.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
