"""Reading spread over processes and a Dask cluster, and re-investigation from the parse
cache: the same verdict, byte for byte, however the files were read."""

from __future__ import annotations

import shutil


from skewsleuth import investigate
from skewsleuth.report.json import write_json
from support.scale import evidence  # noqa: F401
from support.worker_processes import _evtx_tasks  # noqa: F401


def _json(verdict, path) -> bytes:
    write_json(verdict.to_dict(), str(path))
    return path.read_bytes()


def test_a_damaged_cache_entry_is_parsed_again_not_trusted(evidence, tmp_path):
    ev = tmp_path / "ev"
    shutil.copytree(evidence / "srv-lyncfe01", ev / "srv-lyncfe01")
    db = tmp_path / "case.duckdb"
    fresh = _json(investigate([ev], db=db, workers=1), tmp_path / "a.json")
    for meta in (tmp_path / "case.duckdb.parsed").glob("*.json"):
        meta.write_text("{not json", encoding="utf-8")
    for events in (tmp_path / "case.duckdb.parsed").glob("*.events.parquet"):
        events.unlink()
    assert _json(investigate([ev], db=db, workers=1), tmp_path / "b.json") == fresh


def test_windows_records_of_many_files_normalised_together_are_each_files_own(evtx_dir, tmp_path, monkeypatch):
    """Records of consecutive files share a normalisation query (its fixed cost is more
    than a small file's parse); each file gets back exactly what it gets read alone,
    an unreadable file among them included."""
    from dataclasses import replace

    from skewsleuth.reading.files import read_bundle, read_file
    from skewsleuth.sources import winevent

    tasks = _evtx_tasks(evtx_dir)
    unreadable = tmp_path / "header.evtx"
    unreadable.write_bytes(b"ElfFile\x00" + bytes(30))        # a header cut short: nothing to read
    tasks.insert(5, replace(tasks[0], path=str(unreadable), file_id=99))
    alone = [read_file(t) for t in tasks]
    queries = []
    real = winevent._extract
    monkeypatch.setattr(winevent, "_extract", lambda raw: queries.append(raw.num_rows) or real(raw))
    together = read_bundle(tasks)
    assert [r.task for r in together] == tasks
    for a, b in zip(alone, together):
        assert (a.failed, a.ingested, a.notes) == (b.failed, b.ingested, b.notes), a.task.path
        if a.failed is None:
            assert a.events.equals(b.events) and a.quarantine.equals(b.quarantine), a.task.path
    assert sum(r.quarantined for r in together) > 0 and sum(r.failed is not None for r in together) > 0
    # 23 files, 18,000 records: a few queries (one per 16,384 records or so), not one per file.
    assert len(queries) <= 3 and sum(queries) >= sum(r.ingested for r in alone) > 18_000


def test_a_files_result_is_sent_as_its_own_rows_not_the_batch_they_were_cut_from(evtx_dir):
    """Files normalised together are slices of one batch; what a worker sends back of
    each is its own rows (Arrow IPC), not the batch under them, and arrives the same."""
    import pickle

    from skewsleuth.reading.files import read_bundle

    results = read_bundle(_evtx_tasks(evtx_dir))
    small = min((r for r in results if r.failed is None and r.ingested), key=lambda r: r.ingested)
    sent = pickle.dumps(small)
    assert len(sent) < 2 * small.events.nbytes + 100_000
    back = pickle.loads(sent)
    assert back.events.equals(small.events) and back.quarantine.equals(small.quarantine)
    assert (back.task, back.ingested, back.notes, back.failed) == (small.task, small.ingested, small.notes, small.failed)


def test_the_parse_cache_key_changes_with_what_syslog_years_depend_on(tmp_path):
    """A file read with another modification time or another year given is parsed
    again: its RFC 3164 lines may land in another year."""
    from dataclasses import replace
    from datetime import datetime, timezone

    from skewsleuth.reading.cache import ParseCache
    from skewsleuth.reading.files import FileTask

    log = tmp_path / "auth.log"
    log.write_text("Dec 10 08:15:00 bastion sshd[4242]: Accepted publickey for ops\n")
    task = FileTask(str(log), 1, "syslog", "bastion", timezone.utc, datetime(2026, 12, 2, tzinfo=timezone.utc))
    cache = ParseCache(tmp_path / "parsed")
    keys = [cache.key(t) for t in (task, replace(task, modified=datetime(2026, 12, 11, tzinfo=timezone.utc)),
                                   replace(task, year=2026))]
    assert None not in keys and len(set(keys)) == 3
    ev = tmp_path / "ev" / "bastion"
    ev.mkdir(parents=True)
    shutil.copy(log, ev / "auth.log")
    db = tmp_path / "case.duckdb"
    for year, said in ((None, "so in "), (2026, "in 2026 (given with --year)"), (None, "so in ")):
        (note,) = [n for n in investigate([ev], db=db, workers=1, year=year).notes if "no year" in n]
        assert said in note
