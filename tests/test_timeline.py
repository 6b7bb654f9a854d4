"""`skewsleuth timeline`: the corrected timeline as JSON Lines, CSV, Parquet and the CSV
Timesketch imports, written from the case database."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from skewsleuth import investigate
from skewsleuth.report.timeline import FORMATS, export_timeline
from synth.syslog import rfc5424_line
from conftest import ROOT, run_cli

UTC = timezone.utc
HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
           "<script>alert(1)</script>"]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, seed_evidence):
    folder = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("seed") / "ev"))
    web = folder / "web01"
    web.mkdir()
    t0 = datetime(2014, 10, 20, 22, 0, tzinfo=UTC)
    (web / "syslog").write_text("".join(rfc5424_line(t0 + timedelta(seconds=k), "web01", "app", 1, m) + "\n"
                                        for k, m in enumerate(HOSTILE)))
    return folder


@pytest.fixture(scope="module")
def verdict(evidence):
    return investigate([evidence], evidence / "case.yml")


@pytest.fixture(scope="module")
def exports(verdict, tmp_path_factory):
    out = tmp_path_factory.mktemp("tl")
    counts = {fmt: export_timeline(verdict.store, out / f"t.{fmt}", fmt) for fmt in FORMATS}
    return out, counts


def _events(verdict) -> int:
    return verdict.store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]


def test_every_format_holds_every_event_once(verdict, exports):
    out, counts = exports
    n = _events(verdict)
    assert set(counts.values()) == {n}
    assert len((out / "t.jsonl").read_text().splitlines()) == n
    assert pq.read_table(out / "t.parquet").num_rows == n
    for fmt in ("csv", "timesketch"):
        with open(out / f"t.{fmt}", newline="") as f:
            assert sum(1 for _ in csv.DictReader(f)) == n


def test_parquet_reads_back_the_same_rows_as_json_lines(exports):
    out, _ = exports
    rows = [json.loads(line) for line in (out / "t.jsonl").read_text().splitlines()]
    table = pq.read_table(out / "t.parquet").to_pylist()
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    assert [(r["host"], r["logged"], r["true_time"], r["message"], r["symptoms"], r["record_no"]) for r in rows] == \
           [(r["host"], iso(r["logged"]), iso(r["true_time"]), r["message"], r["symptoms"], r["record_no"])
            for r in table]
    # Every other column too, value for value.
    assert set(rows[0]) == set(table[0])
    rest = sorted(set(rows[0]) - {"logged", "true_time"})
    assert [[r[c] for c in rest] for r in rows] == [[r[c] for c in rest] for r in table]


def test_the_edge_runs_five_hours_behind_between_its_reboot_and_its_resync(exports):
    out, _ = exports
    rows = [json.loads(line) for line in (out / "t.jsonl").read_text().splitlines()]
    edge = [r for r in rows if r["host"].startswith("srv-lyncedge01")]
    skewed = [r for r in edge if r["offset_s"] is not None and abs(r["offset_s"] + 18000) < 2]
    assert len(skewed) > 100
    for r in skewed[:50]:
        logged = datetime.fromisoformat(r["logged"].replace("Z", "+00:00"))
        true = datetime.fromisoformat(r["true_time"].replace("Z", "+00:00"))
        assert true - logged == timedelta(seconds=-r["offset_s"])
    trues = [r["true_time"] for r in rows]
    assert trues == sorted(trues)                              # in true-time order
    assert any(r["symptoms"] for r in rows)                    # the rules an event matched


def test_the_timesketch_csv_has_the_columns_timesketch_requires(exports):
    out, _ = exports
    with open(out / "t.timesketch", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[:4] == ["message", "timestamp", "datetime", "timestamp_desc"]
        rows = list(reader)
    for r in rows:
        assert r["message"] and r["timestamp_desc"]
        when = datetime.fromisoformat(r["datetime"])           # ISO 8601 with its offset
        assert when.utcoffset() == timedelta(0)
        assert int(r["timestamp"]) == (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_formula_cells_are_defused_in_csv_and_left_as_written_in_json(exports):
    out, _ = exports
    json_msgs = {json.loads(line)["message"] for line in (out / "t.jsonl").read_text().splitlines()}
    assert set(HOSTILE) <= json_msgs
    for fmt in ("csv", "timesketch"):
        with open(out / f"t.{fmt}", newline="") as f:
            msgs = {r["message"] for r in csv.DictReader(f)}
        assert {"'" + m if m[0] in "=+-@" else m for m in HOSTILE} <= msgs
        assert not any(m[:1] in ("=", "+", "-", "@") for m in msgs)


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
