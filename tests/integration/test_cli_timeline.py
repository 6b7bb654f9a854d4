"""`skewsleuth timeline`: the corrected timeline as JSON Lines, CSV, Parquet and the CSV
Timesketch imports, written from the case database: the part that runs the command line,
a real daemon or another process (the rest is in tests/unit/report/test_timeline.py).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime

import pyarrow.parquet as pq

from conftest import ROOT, run_cli
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
