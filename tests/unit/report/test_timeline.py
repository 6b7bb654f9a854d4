"""`skewsleuth timeline`: the corrected timeline as JSON Lines, CSV, Parquet and the CSV
Timesketch imports, written from the case database."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest

from skewsleuth import investigate
from skewsleuth.report.timeline import CSV_FORMATS, FORMATS, export_timeline
from support.timeline import HOSTILE, UTC, evidence  # noqa: F401


@pytest.fixture(scope="module")
def verdict(evidence):
    return investigate([evidence], evidence / "case.yml")


@pytest.fixture(scope="module")
def exports(verdict, tmp_path_factory):
    out = tmp_path_factory.mktemp("tl")
    counts = {fmt: export_timeline(verdict.store, out / f"t.{fmt}", fmt) for fmt in FORMATS}
    for fmt in CSV_FORMATS:
        export_timeline(verdict.store, out / f"safe.{fmt}", fmt, spreadsheet_safe=True)
    return out, counts


def _csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _events(verdict) -> int:
    return verdict.store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]


def test_every_format_holds_every_event_once(verdict, exports):
    out, counts = exports
    n = _events(verdict)
    assert set(counts.values()) == {n}
    assert len((out / "t.jsonl").read_text().splitlines()) == n
    assert len((out / "t.timesketch-jsonl").read_text().splitlines()) == n
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


def test_symptoms_and_tags_are_the_rules_signatures_not_their_ids(verdict, exports):
    out, _ = exports
    signatures = {s for (s,) in verdict.store.con.execute("SELECT DISTINCT signature FROM symptoms").fetchall()}
    uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-")
    for names in ([r["symptoms"] for r in _jsonl(out / "t.jsonl")]
                  + [r["tag"] for r in _jsonl(out / "t.timesketch-jsonl")]
                  + [json.loads(r["symptoms"]) for r in _csv(out / "t.csv")]
                  + [json.loads(r["tag"]) for r in _csv(out / "t.timesketch")]):
        assert isinstance(names, list) and set(names) <= signatures and not any(uuid.match(n) for n in names)
    tagged = [r["tag"] for r in _jsonl(out / "t.timesketch-jsonl") if r["tag"]]
    assert len(tagged) == verdict.store.con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT file_id, record_no FROM symptoms)").fetchall()[0][0]
    assert ["SIP_E_CRYPT_REFERRER_DATE_SKEWED"] in tagged


def test_ids_are_integers_in_every_format_and_empty_where_absent(exports):
    out, _ = exports
    for fmt in ("jsonl", "timesketch-jsonl"):
        rows = _jsonl(out / f"t.{fmt}")
        for col in ("event_id", "record_id", "record_no"):
            assert all(r[col] is None or type(r[col]) is int for r in rows), (fmt, col)
        assert any(r["event_id"] == 1502 for r in rows) and any(r["event_id"] is None for r in rows)
    for fmt in CSV_FORMATS:
        text = (out / f"t.{fmt}").read_text(encoding="utf-8")
        assert "1502.0" not in text
        rows = _csv(out / f"t.{fmt}")
        for col in ("event_id", "record_id", "record_no"):
            assert all(re.fullmatch(r"[0-9]*", r[col]) for r in rows), (fmt, col)
        assert any(r["event_id"] == "1502" for r in rows) and any(r["event_id"] == "" for r in rows)


def test_timestamp_desc_says_logged_or_how_the_time_was_corrected(exports):
    out, _ = exports
    rows = _jsonl(out / "t.timesketch-jsonl")
    for r in rows:
        if r["offset_s"] in (None, 0):
            assert r["timestamp_desc"] == "Logged", r
        else:
            assert r["timestamp_desc"].startswith("Corrected by skewsleuth: offset "), r
    skewed = [r for r in rows if r["host"].startswith("srv-lyncedge01") and r["offset_s"] == -18000]
    assert len(skewed) > 100
    desc = re.compile(r"Corrected by skewsleuth: offset -18000 s ± (1\.005|1) s \(([a-z_]+(, )?)+\)")
    assert all(desc.fullmatch(r["timestamp_desc"]) for r in skewed), skewed[0]["timestamp_desc"]
    assert "observation" in skewed[0]["timestamp_desc"]        # the case file's reading of the Edge's clock
    assert sum(r["timestamp_desc"] == "Logged" for r in rows) > len(rows) // 2
    # the same text in the CSV Timesketch imports
    assert [r["timestamp_desc"] for r in _csv(out / "t.timesketch")] == [r["timestamp_desc"] for r in rows]


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


def test_evidence_text_is_written_as_logged_and_defused_only_when_asked(exports, verdict):
    out, _ = exports
    for fmt in ("jsonl", "timesketch-jsonl"):
        assert set(HOSTILE) <= {r["message"] for r in _jsonl(out / f"t.{fmt}")}
    for fmt in CSV_FORMATS:
        assert set(HOSTILE) <= {r["message"] for r in _csv(out / f"t.{fmt}")}
        # for a spreadsheet, on request: shown, never run
        msgs = {r["message"] for r in _csv(out / f"safe.{fmt}")}
        assert {"'" + m if m[0] in "=+-@" else m for m in HOSTILE} <= msgs
        assert not any(m[:1] in ("=", "+", "-", "@") for m in msgs)
    for fmt in ("jsonl", "timesketch-jsonl", "parquet"):
        with pytest.raises(ValueError, match="CSV formats"):
            export_timeline(verdict.store, out / "never", fmt, spreadsheet_safe=True)
