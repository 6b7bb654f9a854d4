"""Hostile and damaged input (issue 7): real EVTX files mutated, event XML and case files
mutated, whole damaged collections investigated, times no timeline can hold, and the
verdict the same whatever order the evidence is named in; and the exit statuses of the
contract (issue 20): a reader that goes away, Ctrl-C, user mistakes, misspelt case-file
keys. The part that runs the command line, a real daemon or another process (the rest
is in tests/unit/test_reliability.py and tests/unit/report/test_terminal.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

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


# The exit statuses of the contract (issue 20): a reader that goes away, Ctrl-C, and
# user mistakes are each one status and at most one line, never a traceback.


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skewsleuth", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, COLUMNS="200"), **kwargs)


def _reader_gone(*args: str) -> tuple[int, str]:
    """Run with standard output a pipe whose reader went away before the first byte:
    every write the command makes fails (EPIPE), deterministically."""
    p = _cli(*args)
    p.stdout.close()
    err = p.stderr.read()
    return p.wait(timeout=300), err


@pytest.fixture(scope="module")
def quarantining(seed_evidence, tmp_path_factory):
    """The seed with a file nothing can be read from: its verdict's status is 1."""
    ev = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("q") / "ev"))
    (ev / "srv-lyncfe01" / "junk.bin").write_bytes(b"\x01\x02 not a log")
    return ev


@pytest.mark.parametrize("args, status", [
    (["investigate", "{seed}"], 0),
    (["investigate", "{bad}"], 1),                   # the verdict's status, not "quarantined" by accident
    (["investigate", "{bad}", "--json", "-"], 1),
    (["investigate", "{bad}", "--md", "-"], 1),
    (["demo", "--out", "{tmp}/demo", "-q", "--json", "-"], 0),
    (["rules", "list"], 0),
    (["rules", "list", "--json", "-"], 0),
    (["rules", "test"], 0),
    (["rules", "export", "--sigma"], 0),
    (["probe", "ntp://127.0.0.1:9", "--timeout", "0.3", "--samples", "1"], 2),
    (["timeline", "{seed}"], 141),                   # the export itself is cut short: as a Unix tool
    (["--help"], 0),
    (["investigate", "--help"], 0),
    (["version"], 0),
    (["--version"], 0),                              # answered before typer loads (cli.py)
])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_its_status(args, status, seed_evidence, quarantining,
                                                                          tmp_path):
    args = [a.format(seed=seed_evidence, bad=quarantining, tmp=tmp_path) for a in args]
    code, err = _reader_gone(*args)
    assert code == status, (args, err)
    noise = [line for line in err.splitlines() if not line.startswith("evidence written to")]
    assert noise == [], err           # no traceback, no "Exception ignored ... BrokenPipeError"


def test_investigate_piped_to_head_exits_with_the_verdicts_status(quarantining):
    r = subprocess.run(f"{sys.executable} -m skewsleuth investigate {quarantining} | head -1; "
                       "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True, text=True,
                       timeout=300)
    first, status = r.stdout.splitlines()
    assert first.startswith("Read ") and status == "1" and r.stderr == ""


def test_rules_list_into_a_file_keeps_every_column_whole(tmp_path):
    with open(tmp_path / "rules.txt", "w") as out:
        r = subprocess.run([sys.executable, "-m", "skewsleuth", "rules", "list"], stdout=out, stderr=subprocess.PIPE,
                           text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "COLUMNS"})
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "rules.txt").read_text()
    rules = json.loads(run_cli("rules", "list", "--json", "-").stdout)
    assert "…" not in text and max(map(len, text.splitlines())) > 80
    lines = text.splitlines()
    for rule in rules:      # each rule on one line: its signature, protocol and whole title
        assert any(line.startswith(rule["signature"] + " ") and f" {rule['protocol']} " in line
                   and line.rstrip().endswith(rule["title"]) for line in lines), rule


def test_investigate_into_a_file_cuts_no_host_name(tmp_path):
    long_host = "srv-with-a-name-longer-than-any-terminal-column.datacenter-frankfurt-2.corp.example.com"
    ev = tmp_path / "ev" / long_host
    ev.mkdir(parents=True)
    t = datetime(2014, 10, 20, 20, 0, tzinfo=UTC)
    (ev / "syslog").write_text(rfc5424_line(t, long_host, "chronyd", 7, "System clock wrong by -42.000000 seconds")
                               + "\n")
    r = run_cli("investigate", str(tmp_path / "ev"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    (row,) = [line for line in r.stdout.splitlines() if long_host in line]
    assert "+42.00 s" in row and "…" not in r.stdout


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A collection large enough to interrupt at leisure (worker processes read it by
    default: more than 32 MB), and how long investigating it takes here."""
    from synth.corpus import write_corpus

    root = tmp_path_factory.mktemp("big")
    write_corpus(root / "fleet", 24, 200_000, seed=2)
    start = time.monotonic()
    r = run_cli("investigate", str(root / "fleet"), "-q")
    assert r.returncode == 0, r.stderr
    return root / "fleet", time.monotonic() - start


def _interrupted(args: list[str], delay: float) -> tuple[int | None, str]:
    """Start ``skewsleuth ARGS`` in its own process group and send SIGINT to the whole
    group after ``delay`` s, as Ctrl-C in a terminal does (the worker processes get it
    too). (None, "") when the command was over before."""
    p = _cli(*args, start_new_session=True)
    time.sleep(delay)
    if p.poll() is not None:
        p.communicate()
        return None, ""
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=300)
    return p.returncode, err


def test_ctrl_c_at_any_stage_exits_130_with_one_line(big, tmp_path):
    """From Python loading the command line to the verdict: the readers (worker
    processes, the fork server starting), the case database's queries (DuckDB
    interrupts them with errors of its own), the clock model."""
    fleet, took = big
    landed = 0
    for k, delay in enumerate([0.5, 1.5] + [f * took for f in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85)]):
        args = ["investigate", str(fleet), "-q"] + (["--workers", "1"] if k % 3 == 2 else [])
        args += ["--db", str(tmp_path / f"c{k}.duckdb")] if k % 2 else []
        code, err = _interrupted(args, delay)
        if code is None:
            continue
        landed += 1
        assert (code, err) == (130, "skewsleuth: interrupted\n"), (delay, args, err[-2000:])
    assert landed >= 6
    # The CLI's part of --db: the next investigation with it runs.
    r = run_cli("investigate", str(fleet), "-q", "--db", str(tmp_path / "c1.duckdb"))
    assert r.returncode == 0, r.stderr


def test_ctrl_c_during_timeline_and_demo_is_130_too(big, tmp_path):
    fleet, took = big
    for args in (["timeline", str(fleet), "--out", str(tmp_path / "t.jsonl")],
                 ["demo", "--out", str(tmp_path / "demo"), "-q"]):
        code, err = _interrupted(args, 1.0)
        assert code in (130, None) and (code is None or err.endswith("skewsleuth: interrupted\n")), (args, err)
        assert "Traceback" not in err and err.count("\n") <= 2


@pytest.mark.parametrize("mistake, says", [
    (["demo", "--out", "{file}", "-q"], "cannot write the demo's evidence to {file}: it is a file"),
    (["demo", "--out", "{full}", "-q"], "cannot write the demo's evidence to {full}: it holds other files (notes.txt)"),
    (["investigate", "{seed}", "--json", "{tmp}", "-q"], "it is a folder"),
    (["investigate", "{seed}", "--html", "/proc/skewsleuth-report.html", "-q"], "cannot write /proc/skewsleuth-report.html"),
    (["investigate", "{seed}", "--md", "/dev/full", "-q"], "cannot write /dev/full: No space left on device"),
    (["investigate", "{seed}", "--db", "{tmp}/no/such/folder/c.duckdb", "-q"], "folder"),
    (["investigate", "{seed}", "--db", "{file}", "-q"], "is not a DuckDB database"),
    (["investigate", "{seed}", "--case", "{tmp}", "-q"], "Is a directory"),
    (["timeline", "{seed}", "--out", "/dev/full"], "cannot write /dev/full"),
    (["rules", "list", "--json", "/proc/rules.json"], "cannot write /proc/rules.json"),
])
def test_user_mistakes_are_one_line_errors_not_internal_ones(mistake, says, seed_evidence, tmp_path):
    values = {"seed": seed_evidence, "tmp": tmp_path, "file": tmp_path / "notes.txt", "full": tmp_path / "full"}
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("my notes\n")
    line = one_line_error(*[a.format(**values) for a in mistake])
    assert says.format(**values) in line and "internal error" not in line
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"       # nothing of the user's overwritten


def test_demo_writes_its_evidence_again_into_the_folder_it_wrote(tmp_path):
    for _ in range(2):
        r = run_cli("demo", "--out", str(tmp_path / "seed"), "-q")
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("where", ["--case", "among the evidence"])
@pytest.mark.parametrize("edit, says", [
    (("references:", "refrences:"), "unknown key 'refrences' in {case}; did you mean 'references'?"),
    (("    shown:", "    shwon:"), "unknown key 'shwon' in observations[0] of {case}; did you mean 'shown'?"),
    (("    what:", "    waht:"), "unknown key 'waht' in changes[0] of {case}; did you mean 'what'?"),
])
def test_a_misspelt_case_file_key_is_refused_with_a_suggestion(seed_copy, tmp_path, where, edit, says):
    """Not a note at the bottom of a verdict reached without what the key held: the
    inventory refuses an unknown key the same way."""
    ev = seed_copy
    case = ev / "case.yml"
    assert edit[0] in case.read_text()
    case.write_text(case.read_text().replace(edit[0], edit[1], 1))
    if where == "--case":
        moved = tmp_path / "case.yml"
        case.rename(moved)
        case = moved
        line = one_line_error("investigate", str(ev), "--case", str(case), "-q")
    else:
        line = one_line_error("investigate", str(ev), "-q")
    assert line == "skewsleuth: " + says.format(case=case)


def test_a_misspelt_key_in_a_second_case_file_among_the_evidence_is_refused_too(seed_copy):
    ev = seed_copy
    (ev / "srv-lyncfe01" / "changes.yml").write_text("changes:\n  - at: 2014-10-20 18:00\n    hots: fe01\n"
                                                     "    what: firewall rule\n")
    line = one_line_error("investigate", str(ev), "-q")
    assert "unknown key 'hots' in changes[0] of" in line and "did you mean 'host'?" in line


# -- what was not read, said everywhere (issue 20) ---------------------------------------------

def _junk_folder(evtx_dir, folder):
    """A truncated EVTX, a 0-byte file, random bytes, text that is no log, a dangling
    link, a named pipe, and a hidden file (not evidence)."""
    folder.mkdir(parents=True)
    (folder / "cut.evtx").write_bytes((evtx_dir / "system.evtx").read_bytes()[:5000])
    (folder / "empty.log").write_bytes(b"")
    (folder / "random.bin").write_bytes(random.Random(7).randbytes(4000))
    (folder / "notes.txt").write_text("remember to call the vendor\nnothing here has a time\n")
    (folder / "link.log").symlink_to(folder / "gone.log")
    os.mkfifo(folder / "pipe.log")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return {"cut.evtx": "the file was cut short inside its first chunk (904 of 65,536 bytes): not one record in "
                        "it is whole",
            "empty.log": "empty file (0 bytes)", "random.bin": "unrecognised format",
            "notes.txt": "unrecognised format",
            "link.log": f"a link to {(folder / 'gone.log').absolute()}, which does not exist",
            "pipe.log": "not a regular file (a named pipe)"}


def test_every_file_of_a_junk_folder_is_named_with_its_reason_in_json_and_terminal(evtx_dir, tmp_path, seed_copy):
    ev = seed_copy
    reasons = _junk_folder(evtx_dir, ev / "junk")
    r = run_cli("investigate", str(ev), "--json", str(tmp_path / "v.json"), "--md", str(tmp_path / "t.md"),
                "--html", str(tmp_path / "r.html"))
    assert r.returncode == 1, r.stderr
    d = json.loads((tmp_path / "v.json").read_text())
    failures = {f["path"]: f["reason"] for f in d["ingest"]["failures"]}
    assert d["ingest"]["files_failed"] == len(failures) == len(reasons) == 6
    terminal = " ".join(r.stdout.split())         # as printed, long lines wrapped
    for name, reason in reasons.items():
        path = str(ev / "junk" / name)
        assert failures[path].startswith(reason), name
        assert f"failed: {path}: {failures[path]}" in terminal, name
        assert path in (tmp_path / "t.md").read_text() and path in (tmp_path / "r.html").read_text()
    # the hidden file is no failure, but it is counted where the user sees it
    note = f"not read as evidence: 1 hidden file or folder (names starting with '.'): {ev / 'junk' / '.DS_Store'}"
    assert note in d["notes"] and note in terminal
    assert d["incidents"][0]["root_causes"][0]["host"] == "srv-lyncedge01.domain.com"


def test_a_junk_folder_alone_is_exit_2_naming_every_file_on_one_line(evtx_dir, tmp_path):
    reasons = _junk_folder(evtx_dir, tmp_path / "junk")
    line = one_line_error("investigate", "junk", cwd=tmp_path)
    # the reasons of the first files found, each with its files, and how many more
    assert line == ("skewsleuth: nothing could be read from the input: junk/cut.evtx: " + reasons["cut.evtx"]
                    + "; junk/empty.log: empty file (0 bytes); junk/link.log: " + reasons["link.log"]
                    + "; and 3 more")


def test_a_truncated_evtx_alone_is_exit_2_naming_the_file_and_the_reason(evtx_dir, tmp_path):
    cut = tmp_path / "cut.evtx"
    data = (evtx_dir / "system.evtx").read_bytes()
    for size, reason in ((5000, "the file was cut short inside its first chunk (904 of 65,536 bytes): not one "
                                "record in it is whole"),
                         (4096, "the file holds its header and no chunk of records (the header lists 3: the file "
                                "was cut short)"),
                         (1000, "the file was cut short inside its header block (1,000 of 4,096 bytes): it holds "
                                "no record")):
        cut.write_bytes(data[:size])
        assert one_line_error("investigate", "cut.evtx", cwd=tmp_path) == \
            f"skewsleuth: nothing could be read from the input: cut.evtx: {reason}"


def test_a_truncated_evtx_is_read_up_to_the_cut(evtx_dir, tmp_path):
    (tmp_path / "srv01").mkdir()
    (tmp_path / "srv01" / "System.evtx").write_bytes((evtx_dir / "system.evtx").read_bytes()[:4096 + 20_000])
    r = run_cli("investigate", str(tmp_path), "--json", "-", "-q")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["ingest"]["records"] - d["ingest"]["quarantined"] > 0 and d["ingest"]["files_failed"] == 0
    (q, *_) = d["ingest"]["quarantine"]
    assert q["reason"] == ("file ends inside chunk …: its records after EventRecordID … are lost "
                           "(the file was cut short)")


def _damaged_evidence(evtx_dir, ev):
    """Evidence with quarantined records of several reasons, one excerpt hostile."""
    win = ev / "win01"
    win.mkdir()
    for name in ("sample_with_a_bad_chunk_magic.evtx", "sysmon.evtx", "sample-with-zero-data-size-event.evtx",
                 "Microsoft-Windows-HelloForBusiness%4Operational.evtx"):
        shutil.copy(evtx_dir / name, win / name)
    good = [rfc5424_line(datetime(2014, 10, 20, 18, m, tzinfo=UTC), "lnx01", "app", 1, "ok") for m in range(5)]
    hostile = ("<999>Oct 20 18:19:05 lnx01 app: <script>alert(1)</script> `code` [x](javascript:alert(1)) "
               "| pipe \x1b[31mred\x07")
    (ev / "lnx01").mkdir()
    (ev / "lnx01" / "syslog").write_text("\n".join(good[:2] + [hostile, hostile.replace("999", "777")] + good[2:])
                                         + "\n")


def test_quarantine_reasons_add_up_with_an_example_each_in_every_report(evtx_dir, tmp_path, seed_copy):
    ev = seed_copy
    _damaged_evidence(evtx_dir, ev)
    r = run_cli("investigate", str(ev), "--json", str(tmp_path / "v.json"), "--md", str(tmp_path / "t.md"),
                "--html", str(tmp_path / "r.html"))
    assert r.returncode == 1, r.stderr
    ing = json.loads((tmp_path / "v.json").read_text())["ingest"]
    reasons = ing["quarantine"]
    assert sum(q["count"] for q in reasons) == ing["quarantined"] > 0
    assert [q["count"] for q in reasons] == sorted((q["count"] for q in reasons), reverse=True)
    assert len({q["reason"] for q in reasons}) == len(reasons) >= 5
    by = {q["reason"]: q for q in reasons}
    pri = by["PRI out of range: …"]
    assert pri["count"] == 2 and pri["example"]["path"] == str(ev / "lnx01" / "syslog")
    assert pri["example"]["record"] == 2 and pri["example"]["record_kind"] == "record_no"
    assert "<script>alert(1)</script>" in pri["example"]["excerpt"] and "\\x1b[31m" in pri["example"]["excerpt"]
    filetime = by["TimeCreated is FILETIME 0 (1601-01-01): no time recorded"]["example"]
    assert filetime["record_kind"] == "EventRecordID"
    assert filetime["path"].endswith("HelloForBusiness%4Operational.evtx")
    for q in reasons:
        assert set(q["example"]) == {"path", "record", "record_kind", "excerpt"} and q["example"]["path"]
    md = (tmp_path / "t.md").read_text()
    html = (tmp_path / "r.html").read_text()
    top = html[:html.index('id="clocks-chart"')]          # a section under the verdict, above the chart
    shown = reasons[:5]                                   # the terminal shows the first five reasons
    for q in shown:
        assert f"{q['count']:,} quarantined: {q['reason']}" in r.stdout
    if len(reasons) > 5:
        assert f"… {len(reasons) - 5} more reason" in r.stdout and "see --json" in r.stdout
    for q in reasons:
        assert f"**{q['count']:,}** × " in md and q["example"]["path"] in md
        assert q["example"]["path"] in top
    assert "PRI out of range: …" in md and "PRI out of range: …" in top


def test_a_hostile_excerpt_is_escaped_in_markdown_html_and_the_terminal(evtx_dir, tmp_path, seed_copy):
    ev = seed_copy
    _damaged_evidence(evtx_dir, ev)
    r = run_cli("investigate", str(ev), "--md", str(tmp_path / "t.md"), "--html", str(tmp_path / "r.html"))
    assert r.returncode == 1, r.stderr
    md = (tmp_path / "t.md").read_text()
    (line,) = [x for x in md.splitlines() if x.startswith("- **2** × PRI out of range")]
    # inside a code span: no tag, link or emphasis can form, and the span cannot be closed early
    span = line[line.index(": `") + 2:]
    assert span.startswith("`") and span.endswith("`") and span.count("`") == 2
    assert "<script>alert(1)</script>" in span and "'code'" in span
    assert "\x1b" not in md and "\x07" not in md
    html = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; `code` [x](javascript:alert(1)) | pipe \\x1b[31mred\\x07" in html
    assert "\x1b" not in r.stdout and "\x1b" not in html
