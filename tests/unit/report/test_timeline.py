"""`skewsleuth timeline`: the corrected timeline as JSON Lines, CSV, Parquet and the CSV
Timesketch imports, written from the case database."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest

from skewsleuth import investigate
from skewsleuth.report.timeline import FORMATS, export_timeline
from support.timeline import HOSTILE, UTC, evidence  # noqa: F401


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
