"""`skewsleuth timeline`: the corrected timeline as JSON Lines, CSV, Parquet and the CSV
Timesketch imports, written from the case database: the part that runs the command line,
a real daemon or another process (the rest is in tests/unit/report/test_timeline.py).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime

import pyarrow.parquet as pq

from conftest import EVTX_DIR, ROOT, run_cli
from support.timeline import HOSTILE, UTC, evidence  # noqa: F401


def test_cli_writes_json_lines_to_stdout_and_refuses_what_it_cannot_write(evidence, tmp_path):
    r = run_cli("timeline", str(evidence))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and {"host", "logged", "true_time", "offset_s", "uncertainty_s", "symptoms"} <= set(rows[0])
    r = run_cli("timeline", str(evidence), "--format", "parquet")
    assert r.returncode == 2 and "give --out FILE" in r.stderr and not r.stdout
    r = run_cli("timeline", str(evidence), "--format", "xml")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = run_cli("timeline", str(evidence), "--spreadsheet-safe")
    assert r.returncode == 2 and "CSV formats" in r.stderr and r.stderr.count("\n") == 1 and not r.stdout
    r = run_cli("timeline", str(evidence), "-f", "parquet", "-o", str(tmp_path / "t.parquet"))
    assert r.returncode == 0 and pq.read_table(tmp_path / "t.parquet").num_rows == len(rows)


def test_a_reader_that_stops_early_is_no_error(evidence):
    r = subprocess.run(f"{sys.executable} -m skewsleuth timeline {evidence} | head -c 10 >/dev/null; "
                       "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.stdout.strip() == "141" and "Error" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_cli_timesketch_csv_of_the_demo_is_what_timesketch_imports(evidence, tmp_path):
    """Timesketch's CSV importer requires ``message``, ``datetime`` and ``timestamp_desc``
    in the header and a ``datetime`` every row can be parsed from; it drops rows whose
    ``datetime`` it cannot read."""
    out = tmp_path / "demo.csv"                              # the importer wants a .csv name
    r = run_cli("timeline", str(evidence), "--format", "timesketch", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert {"message", "datetime", "timestamp_desc"} <= set(reader.fieldnames)
        rows = list(reader)
    assert rows and all(r["message"].strip() and r["timestamp_desc"].strip() for r in rows)
    parsed = [datetime.fromisoformat(r["datetime"]) for r in rows]
    assert all(p.tzinfo is not None for p in parsed) and parsed == sorted(parsed)
    r = run_cli("timeline", str(evidence), "-f", "parquet", "-o", str(tmp_path / "demo.parquet"))
    assert r.returncode == 0 and pq.read_table(tmp_path / "demo.parquet").num_rows == len(rows)


def test_cli_timeline_of_real_evtx_gives_every_row_text_and_integer_ids(tmp_path):
    """EVTX records hold no rendered text: every row still reads as something, its
    event id and EventData fields, and the ids stay whole numbers."""
    ev = tmp_path / "ws01"
    ev.mkdir()
    for name in ("security.evtx", "system.evtx"):
        shutil.copy(EVTX_DIR / name, ev / name)
    out = tmp_path / "ts.csv"
    r = run_cli("timeline", str(tmp_path), "--format", "timesketch", "--out", str(out))
    assert r.returncode in (0, 1), r.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 4000
    assert all(row["message"].strip() for row in rows)
    assert not any(row["message"] == row["provider"] for row in rows)       # no longer the provider's name
    fields = [row for row in rows if re.match(r"[0-9]+: \S+=", row["message"])]
    assert len(fields) > len(rows) // 2
    logon = next(row for row in rows if row["event_id"] == "4624")
    assert logon["message"].startswith("4624: SubjectUserSid=") and "LogonType=" in logon["message"]
    assert all(re.fullmatch(r"[0-9]+", row[c]) for row in rows for c in ("event_id", "record_id"))
    assert all(row["timestamp_desc"] == "Logged" or row["timestamp_desc"].startswith("Corrected by skewsleuth: ")
               for row in rows)
    assert all(json.loads(row["tag"]) == [] or all(not re.match(r"[0-9a-f]{8}-", t) for t in json.loads(row["tag"]))
               for row in rows)
    r = run_cli("timeline", str(tmp_path))
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == len(rows) and all(line["message"] for line in lines)
    assert all(type(line["event_id"]) is int and type(line["record_id"]) is int for line in lines)


def test_cli_writes_formula_like_text_as_logged_unless_asked_for_a_spreadsheet(evidence, tmp_path):
    plain, safe = tmp_path / "plain.csv", tmp_path / "safe.csv"
    assert run_cli("timeline", str(evidence), "-f", "csv", "-o", str(plain)).returncode == 0
    assert run_cli("timeline", str(evidence), "-f", "csv", "--spreadsheet-safe", "-o", str(safe)).returncode == 0
    with open(plain, newline="", encoding="utf-8") as f:
        as_logged = {r["message"] for r in csv.DictReader(f)}
    with open(safe, newline="", encoding="utf-8") as f:
        defused = {r["message"] for r in csv.DictReader(f)}
    assert HOSTILE[0].startswith("=") and HOSTILE[0] in as_logged and "'" + HOSTILE[0] not in as_logged
    assert "'" + HOSTILE[0] in defused and HOSTILE[0] not in defused
