"""Hostile and damaged input (issue 7): real EVTX files mutated, event XML and case files
mutated, whole damaged collections investigated, times no timeline can hold, and the
verdict the same whatever order the evidence is named in.

Every fuzz test here is bounded for the suite; ``SKEWSLEUTH_FUZZ_EXAMPLES=N`` runs N
examples each (docs/reliability.md records a long run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from skewsleuth import investigate
from skewsleuth.case import CaseError, load_case
from skewsleuth.reading.files import FileTask, read_bundle, read_file
from skewsleuth.sources import sniff
from skewsleuth.demo.eventxml import event_stream, event_xml, events_document
from skewsleuth.demo.scenario import SEED, case_yaml, write_evidence
from synth.syslog import rfc5424_line
from conftest import mutate, one_line_error, run_cli

UTC = timezone.utc
EXAMPLES = int(os.environ.get("SKEWSLEUTH_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or 40, deadline=timedelta(seconds=20), derandomize=not EXAMPLES,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _read(path: Path, fmt: str | None = None):
    """One file through the reader every input takes; the invariants of every result."""
    fmt = fmt or sniff(path.read_bytes()[:8192])
    if fmt is None:
        return None
    task = FileTask(str(path), 1, fmt, "folder", UTC, 2024)
    result = read_file(task)
    if result.failed is not None:
        assert result.ingested == 0 and result.events is None and result.failed
        return result
    assert result.events.num_rows == result.ingested
    assert all(result.quarantine.column("reason").to_pylist())          # every quarantine says why
    nos = result.events.column("record_no").to_pylist() + [
        n for n in result.quarantine.column("record_no").to_pylist() if n is not None]
    assert len(nos) == len(set(nos))                                      # nothing counted twice
    return result


# --- EVTX: the real samples, mutated ----------------------------------------------------

@FUZZ
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 64), cut=st.none() | st.integers(0, 1_118_208),
       zero=st.none() | st.tuples(st.integers(0, 1_118_208), st.integers(1, 70_000)))
def test_a_mutated_real_evtx_file_is_read_as_far_as_it_can_be(tmp_path, evtx_dir, seed, flips, cut, zero):
    rnd = random.Random(seed)
    data = bytearray((evtx_dir / "system.evtx").read_bytes())
    for _ in range(flips):            # bytes flipped where records, chunk headers and string tables are
        i = rnd.randrange(4096, len(data))
        data[i] = rnd.randrange(256)
    if zero is not None:
        a, n = zero
        data[a:a + n] = bytes(len(data[a:a + n]))
    if cut is not None:
        del data[cut:]
    p = tmp_path / "system.evtx"
    p.write_bytes(bytes(data))
    result = _read(p, "evtx")
    if result is not None and result.failed is None:
        assert result.ingested + result.quarantined > 0
    # Between two good files, normalised with theirs, it reads the same as alone.
    good = [FileTask(str(evtx_dir / name), i, "evtx", "folder", UTC, 2024)
            for i, name in ((2, "security.evtx"), (3, "system.evtx"))]
    together = read_bundle([good[0], FileTask(str(p), 1, "evtx", "folder", UTC, 2024), good[1]])
    for alone, mixed in zip([read_file(good[0]), result, read_file(good[1])], together):
        assert (mixed.failed, mixed.ingested, mixed.notes) == (alone.failed, alone.ingested, alone.notes)
        if alone.failed is None:
            assert mixed.events.equals(alone.events) and mixed.quarantine.equals(alone.quarantine)


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


# --- event XML and case files, mutated --------------------------------------------------

_T = datetime(2014, 10, 20, 23, 19, 47, tzinfo=UTC)
_EVENTS = [event_xml(provider="Microsoft-Windows-Kernel-General", event_id=1, logged=_T + timedelta(seconds=k),
                     computer="srv-lyncedge01.domain.com", channel="System", record_id=k + 1,
                     data={"NewTime": "2014-10-20T18:19:47.5000000Z", "OldTime": "2014-10-20T23:19:47.5000000Z"})
           for k in range(4)]
XML_VALID = {"document": events_document(_EVENTS).encode("utf-8"), "stream": event_stream(_EVENTS).encode("utf-8")}
XML_TOKENS = [b"<Event ", b"</Event>", b"<Events>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;", b"<![CDATA[",
              b"]]>", b"\x00", b"<?xml version='1.0' encoding='utf-16'?>", b"SystemTime='", b"\xff\xfe", b"&#0;"]


@pytest.mark.parametrize("shape", sorted(XML_VALID))
@FUZZ
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 12))
def test_mutated_event_xml_never_crashes_and_counts_add_up(tmp_path, shape, seed, steps):
    p = tmp_path / "events.xml"
    p.write_bytes(mutate(XML_VALID[shape], random.Random(seed), steps, XML_TOKENS))
    _read(p)


def test_the_valid_event_xml_samples_read_clean(tmp_path):
    for shape, data in XML_VALID.items():
        p = tmp_path / f"{shape}.xml"
        p.write_bytes(data)
        result = _read(p)
        assert result.ingested == 4 and result.quarantined == 0, shape


CASE_TOKENS = [b"\n", b": ", b"- ", b"  ", b"at: ", b"2014-03-09 02:30", b"{", b"[", b"&a ", b"*a", b"!!python/object:os.system",
               b"timezone: Mars/Olympus", b"\t", b"\x00", b"'", b'"']


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 10))
def test_a_mutated_case_file_is_read_or_refused_with_a_reason(tmp_path, seed, steps):
    p = tmp_path / "case.yml"
    p.write_bytes(mutate(case_yaml(SEED).encode(), random.Random(seed), steps, CASE_TOKENS))
    try:
        case = load_case(p)
    except CaseError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    # Read: every entry is used or rejected with a reason, never lost.
    assert all(reason for _, _, reason in case.rejected)


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("timezone: UTC\nchanges:\n  - at: 2014-10-20 18:30\n    what: !!python/object/apply:os.system ['touch "
                 f"{tmp_path}/pwned']\n")
    with pytest.raises(CaseError):
        load_case(p)
    assert not (tmp_path / "pwned").exists()


# --- times no timeline can hold -----------------------------------------------------------

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


# --- determinism ----------------------------------------------------------------------------

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


# --- what reaches a command line --------------------------------------------------------

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


def test_fix_runs_commands_as_argument_free_strings_of_the_runbook_only(tmp_path):
    """The inventory's strings that reach a command are names and program paths, checked
    when the inventory is read; a host's name goes to the transport, never into a command."""
    from skewsleuth.remediation.runbook import Basis, build
    from skewsleuth.remediation.settings import parse_fix

    settings = parse_fix({"peers": ["ntp1.corp"], "services": ["RTCSRV"], "chronyc": "/usr/bin/chronyc"})
    evil_host = "edge01; reboot"
    for platform in ("windows", "linux"):
        rb = build(evil_host, platform, roles=("lync-edge",), basis=Basis(-18000.0), limit_s=300,
                   settings=settings)
        assert all(evil_host not in s.command for s in (*rb.steps, rb.verify))
    for bad in ({"peers": ["a b"]}, {"services": ["x`id`"]}, {"chronyc": "$(id)"}, {"reference": ["a;b"]}):
        with pytest.raises(ValueError):
            parse_fix(bad)


# --- what the first review found -----------------------------------------------------------

def test_a_case_database_kept_inside_the_evidence_is_not_read_as_evidence(tmp_path, seed_copy):
    ev = seed_copy
    outs = []
    for k in range(2):      # the second run finds the database and its parse cache there
        out = tmp_path / f"v{k}.json"
        r = run_cli("investigate", str(ev), "--db", str(ev / "case.duckdb"), "--json", str(out), "-q")
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and json.loads(outs[1])["ingest"]["files_failed"] == 0


@pytest.mark.parametrize("fmt", ["evtx", "eventxml", "sipstack", "syslog", "journald", "applog"])
def test_a_file_gone_before_it_is_read_is_a_failed_file_not_a_quarantined_record(tmp_path, fmt):
    result = read_file(FileTask(str(tmp_path / "gone.log"), 1, fmt, "h", UTC, 2024))
    assert result.failed and result.ingested == 0 and result.quarantined == 0


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
