"""The synthetic fleet corpus (tests/synth/corpus.py): written in every text format,
read back record for record, and investigated to the clocks and incidents it holds."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from skewsleuth import investigate
from skewsleuth.hosts import same_host
from synth.corpus import FORMATS, SNIFFED, CorpusTruth, HostTruth, main, write_corpus


HOSTS, EVENTS = 12, 20_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusTruth:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "fleet", HOSTS, EVENTS, seed=3, faults=0.5)


@pytest.fixture(scope="module")
def verdict(corpus):
    return investigate([corpus.root], workers=1)


def test_every_format_is_written_and_sniffed_as_intended(corpus, verdict):
    assert {h.format for h in corpus.hosts} == set(FORMATS)
    assert {h.style for h in corpus.hosts} >= {"structlog", "json-logger", "wevtutil-system", "eventviewer-security"}
    rows = verdict.store.con.execute("SELECT path, format, records, ingested, quarantined, status FROM files").fetchall()
    by_path = {Path(p).relative_to(corpus.root).as_posix(): r for p, *r in rows}
    assert by_path.pop("case.yml")[0] == "case"
    for h in corpus.hosts:
        (name,) = h.files
        fmt, records, ingested, quarantined, status = by_path.pop(name)
        assert (fmt, status) == (SNIFFED[h.format], "ok"), name
        assert records == ingested == h.events and quarantined == 0, name
    assert not by_path


def test_ingest_counts_add_up(corpus, verdict):
    s = verdict.ingest
    assert s.files == HOSTS + 1 and s.files_failed == 0 and s.quarantined == 0 and s.duplicates == 0
    # every record written, plus the case file's one change
    assert s.records == corpus.events + 1
    assert EVENTS <= corpus.events <= EVENTS * 1.05      # the incident's calls may add a few
    assert verdict.exit_status == 0
    assert corpus.lines > corpus.events                 # SIPStack records span many lines


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _true_offsets(h: HostTruth, end: datetime, seg: dict) -> set[float]:
    """The host's offsets whose stretch of logged time holds the segment's."""
    lo, hi = _dt(seg["from"]), _dt(seg["to"])
    slack = timedelta(seconds=2)
    found = set()
    for k, (at, off) in enumerate(h.offsets):
        until = h.offsets[k + 1][0] if k + 1 < len(h.offsets) else end
        d = timedelta(seconds=off)
        if at + d - slack <= lo and hi <= until + d + slack:
            found.add(off)
    return found


def test_segments_hold_the_true_offsets_where_evidence_bounds_them(corpus, verdict):
    hosts = verdict.to_dict()["hosts"]
    bounded = set()
    for entry in hosts:
        h = corpus.host(entry["host"])
        for seg in entry["segments"]:
            low, high = seg["offset_low_s"], seg["offset_high_s"]
            if low is None or high is None:
                continue
            truths = _true_offsets(h, corpus.end, seg)
            assert truths, (h.host, seg)
            assert any(low - 1e-3 <= o <= high + 1e-3 for o in truths), (h.host, seg, truths)
            bounded.add(h.host)
    # Every host exchanging messages, or logging a sync or a step, is bounded; Windows
    # hosts exchange none, and say nothing about a clock that stays wrong.
    for h in corpus.hosts:
        says = h.format != "eventxml" or h.fault == "step" or (h.fault == "none" and h.style == "wevtutil-system")
        assert (h.host in bounded) == says, h.host
    faulted = {h.fault for h in corpus.faulted()}
    assert faulted == {"offset", "step", "unlogged-step"}


def test_the_incidents_are_found_with_their_clocks(corpus, verdict):
    incidents = verdict.to_dict()["incidents"]
    assert len(incidents) == len(corpus.incidents) == 2
    for want in corpus.incidents:
        inc = next(i for i in incidents if want["signature"] in i["signatures"])
        top = inc["root_causes"][0]
        assert top["kind"] == "clock_skew" and same_host(top["host"], want["host"])
        assert math.isclose(top["offset_s"], want["offset_s"], abs_tol=2.0)
        assert abs(_dt(inc["onset"]) - want["onset"]) < timedelta(seconds=1)
    sip = next(i for i in incidents if "SIP_E_CRYPT_REFERRER_DATE_SKEWED" in i["signatures"])
    assert any("Password Sync" in r["what"] for r in sip["ruled_out"])


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_output_is_a_pure_function_of_the_arguments(tmp_path):
    a = write_corpus(tmp_path / "a", 7, 2_000, seed=5, layout="mixed")
    b = write_corpus(tmp_path / "b", 7, 2_000, seed=5, layout="mixed")
    assert _digest(a.root) == _digest(b.root)
    assert a.to_dict()["hosts"] == b.to_dict()["hosts"]
    c = write_corpus(tmp_path / "c", 7, 2_000, seed=6, layout="mixed")
    assert _digest(c.root) != _digest(a.root)


def test_one_format_only_and_no_incident(tmp_path):
    truth = write_corpus(tmp_path / "j", 4, 4_000, formats=["journald"], incident=False, faults=0)
    assert truth.incidents == [] and truth.faulted() == [] and truth.events == 4_000
    assert {h.format for h in truth.hosts} == {"journald"} and truth.references == [truth.hosts[0].host]


def test_evtx_samples_are_copied_into_windows_folders(tmp_path, evtx_dir):
    truth = write_corpus(tmp_path / "w", 6, 600, evtx=evtx_dir)
    samples = sorted(p.name for p in evtx_dir.glob("*.evtx"))
    assert sorted(Path(f).name for f in truth.evtx_files) == samples
    windows = {h.folder for h in truth.hosts if h.format == "eventxml"}
    assert {Path(f).parent.name for f in truth.evtx_files} <= windows


def test_refuses_to_write_over_a_folder_that_holds_files(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        write_corpus(tmp_path / "x", 3, 10)
    assert main([str(tmp_path / "x"), "--hosts", "3", "--events", "10"]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown format"):
        write_corpus(tmp_path / "y", 3, 10, formats=["evtx"])
