"""A kept case database (``--db``): investigating again reads no unchanged file and
reaches the same verdict and the same database; a changed or new file is read again;
a run stopped part-way (Ctrl-C, an error) leaves the database as it was, and the next
run's verdict is a clean run's. How fast is benchmarks/db_rerun.py's business.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from skewsleuth import investigate
from skewsleuth.errors import InputError
from skewsleuth.report.json import write_json


@pytest.fixture(scope="module")
def collection(tmp_path_factory, seed_evidence, evtx_dir) -> Path:
    """The seed incident's evidence and the real EVTX samples as two more hosts."""
    folder = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("db") / "ev"))
    for host in ("win01", "win02"):
        shutil.copytree(evtx_dir, folder / host)
    return folder


@pytest.fixture
def ev(collection, tmp_path) -> Path:
    return Path(shutil.copytree(collection, tmp_path / "ev"))


@pytest.fixture
def clean_json(ev, tmp_path) -> bytes:
    """The verdict without --db (it names the files: of this test's own copy)."""
    return _json(investigate([ev]), tmp_path / "clean.json")


def _json(verdict, path: Path) -> bytes:
    write_json(verdict.to_dict(), str(path))
    return path.read_bytes()


def _tables(db: Path) -> dict[str, list]:
    """Every table and view of a kept case database, rows sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                           "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in sorted(names)}
    finally:
        con.close()


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_a_rerun_reads_no_unchanged_file_and_reaches_the_same_verdict_and_database(ev, tmp_path, clean_json):
    db = tmp_path / "case.duckdb"
    first = investigate([ev], db=db)
    n = first.ingest.parsed
    assert n > 40 and first.ingest.from_cache == 0
    assert _json(first, tmp_path / "first.json") == clean_json
    kept = _tables(db)
    assert {"events", "files", "quarantine", "segments", "symptoms", "timeline"} <= set(kept)
    assert len(kept["files"]) == first.ingest.files and len(kept["events"]) > 10_000

    again = investigate([ev], db=db)
    assert (again.ingest.parsed, again.ingest.from_cache) == (0, n)     # nothing parsed
    assert _json(again, tmp_path / "again.json") == clean_json
    assert _tables(db) == kept
    assert not Path(f"{db}.partial").exists() and not Path(f"{db}.wal").exists()


def test_a_changed_file_is_read_again_and_a_new_one_renumbers_the_rest(ev, tmp_path):
    db = tmp_path / "case.duckdb"
    n = investigate([ev], db=db).ingest.parsed

    # One file loses its last record: only it is read again, and the verdict follows.
    trace = next((ev / "srv-lyncfe01").glob("*.log"))
    text = trace.read_text(encoding="utf-8")
    trace.write_text(text[:text.rindex("\n", 0, text.rindex("$$begin_record")) + 1], encoding="utf-8")
    os.utime(trace, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    changed = investigate([ev], db=db)
    assert (changed.ingest.parsed, changed.ingest.from_cache) == (1, n - 1)
    fresh = investigate([ev])
    assert _json(changed, tmp_path / "changed.json") == _json(fresh, tmp_path / "fresh.json")

    # A new file found first: every file after it is numbered anew, loaded from the
    # cache all the same, into the database a run that parses everything writes.
    shutil.copy(next((ev / "win01").glob("*.evtx")), ev / "aaa-first.evtx")
    grown = investigate([ev], db=db)
    assert (grown.ingest.parsed, grown.ingest.from_cache) == (1, n)
    parsed_db = tmp_path / "parsed.duckdb"       # a parse cache of its own: nothing in it
    parsed = investigate([ev], db=parsed_db)
    assert parsed.ingest.from_cache == 0
    assert _json(grown, tmp_path / "grown.json") == _json(parsed, tmp_path / "parsed.json")
    assert _tables(db) == _tables(parsed_db)
    assert ("aaa-first.evtx", 1) in [(Path(p).name, i) for i, p, *_ in _tables(db)["files"]]


def test_a_run_that_fails_part_way_leaves_the_database_as_it_was(ev, tmp_path, monkeypatch, clean_json):
    import skewsleuth.investigation as investigation
    import skewsleuth.store as store

    db = tmp_path / "case.duckdb"
    investigate([ev], db=db)
    before, kept = _digest(db), _tables(db)

    def broken(*_args, **_kwargs):
        raise RuntimeError("a stage failed")

    # An error in a stage after the evidence is read: the database is not touched.
    monkeypatch.setattr(investigation, "match_rules", broken)
    with pytest.raises(RuntimeError, match="a stage failed"):
        investigate([ev], db=db)
    monkeypatch.undo()
    assert _digest(db) == before

    # Stopped while saving, the new database written but not yet in place.
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        investigate([ev], db=db)
    monkeypatch.undo()
    assert _digest(db) == before and not Path(f"{db}.partial").exists()

    # A save that cannot be written is one error, and the old database stays.
    Path(f"{db}.partial").mkdir()
    with pytest.raises(InputError, match="cannot write the case database"):
        investigate([ev], db=db)
    Path(f"{db}.partial").rmdir()
    assert _digest(db) == before

    assert _json(investigate([ev], db=db), tmp_path / "after.json") == clean_json
    assert _tables(db) == kept


def _cli(ev: Path, db: Path | None, out: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "skewsleuth", "investigate", str(ev), "-q", "--json", str(out)]
    # A process group of its own, as a terminal's Ctrl-C signals the command and its workers.
    return subprocess.Popen(args + (["--db", str(db)] if db else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_ctrl_c_at_any_point_leaves_the_database_as_it_was_and_the_next_run_is_a_clean_runs(ev, tmp_path,
                                                                                            clean_json):
    db = tmp_path / "case.duckdb"
    took = {}
    for kind in ("first", "rerun"):
        start = time.monotonic()
        run = _cli(ev, db, tmp_path / f"{kind}.json")
        assert run.wait(timeout=300) == 1, run.stderr.read()     # damaged EVTX records quarantined
        took[kind] = time.monotonic() - start
        assert (tmp_path / f"{kind}.json").read_bytes() == clean_json
    complete = _tables(db)
    # Ctrl-C in a first run (no database yet, the parse cache being written) and in a
    # rerun (a database to keep), early, in the middle and late.
    for k, (kind, share) in enumerate([("first", 0.25), ("first", 0.5), ("first", 0.85),
                                       ("rerun", 0.3), ("rerun", 0.7)]):
        if kind == "first":
            db.unlink()
            shutil.rmtree(f"{db}.parsed")
        before = _digest(db)
        run = _cli(ev, db, tmp_path / f"v{k}.json")
        time.sleep(took[kind] * share)
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=300)
        # As it was, or, when the run had saved it before the signal came, complete.
        assert _digest(db) == before or _tables(db) == complete, (kind, share, run.returncode, run.stderr.read())
        assert not Path(f"{db}.partial").exists() and not Path(f"{db}.partial.wal").exists()
        again = _cli(ev, db, tmp_path / f"again{k}.json")
        assert again.wait(timeout=300) == 1, again.stderr.read()
        assert (tmp_path / f"again{k}.json").read_bytes() == clean_json, (kind, share)
        assert _tables(db) == complete
