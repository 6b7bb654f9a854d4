"""From paths on disk to the case database: read, count, load.

Formats are sniffed from content, never trusted from file names. Every record of every
file is either ingested into ``events`` or quarantined with a reason; a file nothing
can be read from is marked failed with a reason. Case files and change logs found
among the evidence are read as the case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator


import duckdb
import numpy as np
import pyarrow as pa

from ..errors import CaseError, CaseKeyError, UnusableFile, WorkerDied
from ..case import Case, load_case, load_changes_csv, sniff_case, sniff_changes_csv
from ..schema import EVENTS, QUARANTINE, quarantine_table
from ..sources import bytes_to_read, sniff
from ..sources.base import EXCERPT_CHARS, excerpt
from ..store import Store
from .cache import CacheEntryWriter, ParseCache
from .discovery import HIDDEN, LINKED, discover, head_of, host_hint
from .files import FileResult, FileTask, read_bundle, read_files
from .workers import PARALLEL_MIN_BYTES, default_workers, ordered_map, usable_cores, warm_up

@dataclass
class IngestSummary:
    files: int = 0
    records: int = 0
    quarantined: int = 0
    files_failed: int = 0
    # Ingested records that were copies of records already read from another file.
    duplicates: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)  # what readers assumed about whole files
    # The quarantined records counted by reason, most first, each with its first record
    # (:func:`quarantine_by_reason`); the counts add up to ``quarantined``.
    quarantine: list[dict] = field(default_factory=list)
    # Entries under the evidence folders that are not evidence: (path, why) (see discover).
    aside: list[tuple[str, str]] = field(default_factory=list)
    # How the evidence files were read this time (not part of the verdict, which is the
    # same either way): parsed from the file, or loaded from the parse cache.
    parsed: int = 0
    from_cache: int = 0

    def as_dict(self) -> dict:
        return {"files": self.files, "records": self.records, "quarantined": self.quarantined,
                "files_failed": self.files_failed, "duplicates": self.duplicates}


def ingest(store: Store, paths: list[Path], case: Case, *, host: str | None = None,
           progress: Callable[[Path], None] | None = None, workers: int | None = None,
           scheduler: str | None = None, cache: Path | None = None, exclude: Iterable[Path] = (),
           year: int | None = None) -> IngestSummary:
    """Read every evidence file under ``paths`` into ``store``; merge case files found into ``case``.

    Files are read in this process, by ``workers`` processes (default: every core
    when the input is large enough to pay for them) or on the Dask cluster at
    ``scheduler``, and loaded in the order they were found either way. ``cache`` is a
    folder of parsed files (:class:`~.reading.ParseCache`): unchanged files are
    loaded from it instead of being parsed again. ``year``: the year of the first line
    of every RFC 3164 syslog file, instead of one chosen from its modification time.
    """
    summary = IngestSummary()
    loader = _Loader(store)
    tasks: list[FileTask] = []
    aside: list[tuple[Path, str]] = []
    file_id = 0
    # Worker processes will be wanted once this much is to be read (default_workers): their
    # server is started then, to get ready while the rest is found (a --db rerun may
    # read none of it: not there).
    warm_at = (PARALLEL_MIN_BYTES if workers is None and not scheduler and cache is None and usable_cores() > 1
               else None)
    to_read_so_far = 0
    for file_id, (path, direct, real) in enumerate(discover(paths, exclude, aside), start=1):
        summary.files += 1
        hint = host if (host and direct) else host_hint(path, real)
        try:
            head = head_of(path)
        except UnusableFile as exc:
            _fail(loader, summary, file_id, path, None, hint, str(exc))
            continue
        except OSError as exc:
            _fail(loader, summary, file_id, path, None, hint, _unreadable(path, exc))
            continue
        if not head:
            _fail(loader, summary, file_id, path, None, hint, "empty file (0 bytes)")
            continue
        if sniff_case(head) or sniff_changes_csv(head):
            _read_case(loader, summary, case, file_id, path, head)
            continue
        fmt = sniff(head)
        if fmt is None:
            _fail(loader, summary, file_id, path, None, hint, "unrecognised format (not EVTX, event XML, "
                  "SIPStack trace, syslog, journald JSON, container log, JSON application log or OTLP spans, "
                  "KRB5_TRACE, w32tm stripchart, text lines starting with a time in a known shape, case file "
                  "or change log)")
            continue
        modified, size = _stat(path)
        tasks.append(FileTask(str(path), file_id, fmt, hint, case.timezone, modified, year,
                              bytes_to_read(fmt, head, size)))
        if warm_at is not None:
            to_read_so_far += tasks[-1].to_read or 0
            if to_read_so_far >= warm_at and len(tasks) > 1:
                warm_up()
                warm_at = None
    for path, why in aside:
        if why in (HIDDEN, LINKED):
            summary.aside.append((str(path), why))
        else:
            # A folder that cannot be listed hides whatever it holds: it fails like a file.
            file_id += 1
            summary.files += 1
            _fail(loader, summary, file_id, path, None, host_hint(path), why)
    summary.notes += _aside_notes(summary.aside)

    parse_cache = ParseCache(cache) if cache is not None else None
    keys = [parse_cache.key(t) if parse_cache else None for t in tasks]
    cached = [parse_cache.get(k) if parse_cache and k else None for k in keys]
    to_read = [t for t, c in zip(tasks, cached) if c is None]
    if workers is None:
        # What will be read, not the files' sizes: a host's 400 channel files are 400 MB
        # on disk and 30 MB to read, which one process reads before workers would start.
        workers = default_workers(len(to_read), sum(_to_read(t) for t in to_read))
    workers = min(workers, max(1, len(to_read)))     # never more processes than files
    inline = workers <= 1 and not scheduler
    writers: dict[int, CacheEntryWriter] = {}
    cache_keys = {t.file_id: k for t, k in zip(tasks, keys) if k}

    def writer_of(task: FileTask) -> CacheEntryWriter | None:
        if parse_cache is None or task.file_id not in cache_keys:
            return None
        if task.file_id not in writers:
            writers[task.file_id] = parse_cache.writer(cache_keys[task.file_id])
        return writers[task.file_id]

    def sink(task: FileTask, batch: pa.RecordBatch) -> None:
        # Batches go straight to the database (and the cache): a large file is never
        # held whole.
        loader.events(batch)
        writer = writer_of(task)
        if writer is not None:
            writer.write(batch)

    def read_here(run: list[FileTask]) -> Iterator[FileResult]:
        for result in read_files(run, sink):
            writer = writer_of(result.task)
            if writer is not None:
                writer.close(result)
                del writers[result.task.file_id]
            yield result

    if inline:
        results: Iterator[FileResult] = iter(())
    else:
        bundles = list(_bundles(to_read))
        results = _results_of_bundles(zip(bundles, ordered_map(read_bundle, bundles, workers=workers,
                                                               scheduler=scheduler)), workers)

    def done(result: FileResult, from_cache: bool = False) -> None:
        if progress:
            progress(Path(result.task.path))
        if from_cache:
            summary.from_cache += 1
        else:
            summary.parsed += 1
        _record(loader, summary, result)

    hits: list[tuple[FileTask, dict]] = []     # consecutive files in the cache, loaded together

    def load_hits() -> None:
        if not hits:
            return
        loader.flush()   # the files before them are in the database first
        for task, loaded in _load_cached(store, hits):
            # An entry that would not load: the file is read here.
            for result in [loaded] if loaded else read_here([task]):
                done(result, from_cache=loaded is not None)
        hits.clear()

    run: list[FileTask] = []      # files to read here, up to the next one read from the cache
    for i, (task, key, hit) in enumerate(zip(tasks, keys, cached)):
        if hit is not None:
            hits.append((task, hit))
            continue
        load_hits()
        if inline:
            run.append(task)
            if i + 1 == len(tasks) or cached[i + 1] is not None:
                for result in read_here(run):
                    done(result)
                run = []
        else:
            result = next(results)
            if result.events is not None and result.events.num_rows:
                loader.events(result.events)
            if parse_cache is not None and key and result.failed is None:
                parse_cache.put(key, result)
            done(result)
    load_hits()
    loader.flush()
    if parse_cache is not None:
        parse_cache.keep_only({k for k in keys if k})
    # In the order the files were found, whether they failed before or while being read.
    summary.failures = [(r["path"], r["error"]) for r in store.rows(
        "SELECT path, error FROM files WHERE status = 'failed' ORDER BY file_id")]
    summary.quarantine = quarantine_by_reason(store)
    return summary


def _unreadable(path: Path, exc: OSError) -> str:
    if path.is_symlink() and not path.exists():
        try:
            return f"a link to {os.readlink(path)}, which does not exist"
        except OSError:
            pass
    return f"cannot read: {exc.strerror or exc}"


ASIDE_SHOWN = 5


def _aside_notes(aside: list[tuple[str, str]]) -> list[str]:
    """What was set aside as not evidence, counted and named (the first few), by why."""
    notes = []
    for why, one, many, because in (
            (HIDDEN, "hidden file or folder", "hidden files or folders", "names starting with '.'"),
            (LINKED, "link to a folder", "links to folders",
             "links are not followed: name the folder itself to read it")):
        paths = [p + ("/" if os.path.isdir(p) else "") for p, w in aside if w == why]
        if paths:
            more = len(paths) - ASIDE_SHOWN
            named = ", ".join(paths[:ASIDE_SHOWN]) + (f" and {more:,} more" if more > 0 else "")
            noun = one if len(paths) == 1 else many
            notes.append(f"not read as evidence: {len(paths):,} {noun} ({because}): {named}")
    return notes


# Parts of quarantine reasons that change from record to record (a number, a position,
# a value read), as the readers write them (the ``ctx.quarantine`` calls of
# skewsleuth.sources and reading.files): written as "…", so that one kind of damage is
# counted once. A reason is otherwise kept as its reader wrote it. RE2 patterns.
REASON_VARIABLE_PARTS: list[tuple[str, str]] = [
    (r"^logged time \S+ is outside", "logged time … is outside"),
    # "record number 6335011", "chunk 3", "at offset 78404", "Offset 0x00008060",
    # "line 1 column 5 (char 4)", "holds 2", "last 3000 bytes", "(need 0 bytes, have 0)"
    (r"\b(number|chunk|chunks|offset|Offset|line|column|char|year|EventRecordID|last|lists|holds|need|have) "
     r"(0x[0-9A-Fa-f]+|\d+)\b", r"\1 …"),
    (r"\(\d+ (line|lines)\)", "(… lines)"),
    # the parser's "found `[ 0, 6E,  0, 64]`", "invalid byte `0x73`"
    (r"\b(found|byte) `[^`]*`", r"\1 `…`"),
    # a value read, quoted: "not RFC 3339: '2024-13-01'", "invalid time '13/45/2020-...'"
    (r"(: |time |offset )'[^']*'", r"\1'…'"),
    # "PRI out of range: <999>", "time out of range: 1e99", "__REALTIME_TIMESTAMP out of range: 9"
    (r"(out of range: ).+$", r"\1…"),
]


def _normalised_reason(column: str) -> tuple[str, list[str]]:
    sql, params = column, []
    for pattern, replacement in REASON_VARIABLE_PARTS:
        sql = f"regexp_replace({sql}, ?, ?, 'g')"
        params += [pattern, replacement]
    return sql, params


def quarantine_by_reason(store: Store) -> list[dict]:
    """The ``quarantine`` table counted by reason (:data:`REASON_VARIABLE_PARTS`
    written as "…"), most first, each with its first record as an example: the file,
    the record (its EventRecordID where the format has one and it was read, else its
    ``record_no``, as the case database and the timeline number it) and an escaped,
    bounded excerpt."""
    reason, params = _normalised_reason("reason")
    rows = store.rows(f"""
        WITH q AS (SELECT rowid AS k, file_id, record_no, record_id, excerpt, {reason} AS reason FROM quarantine),
        g AS (SELECT reason, count(*) AS n, min(k) AS k FROM q GROUP BY reason)
        SELECT g.reason, g.n, f.path, q.record_no, q.record_id, left(q.excerpt, {EXCERPT_CHARS * 2}) AS excerpt
        FROM g JOIN q USING (k) LEFT JOIN files f USING (file_id)
        ORDER BY g.n DESC, g.reason""", params)
    out = []
    for r in rows:
        if r["record_id"] is not None:
            record, kind = r["record_id"], "EventRecordID"
        elif r["record_no"] is not None:
            record, kind = r["record_no"], "record_no"
        else:
            record, kind = None, None
        out.append({"reason": r["reason"], "count": r["n"],
                    "example": {"path": r["path"], "record": record, "record_kind": kind,
                                "excerpt": excerpt(r["excerpt"] or "")}})
    return out


def unread_files(store: Store) -> list[tuple[str, str]]:
    """(path, why) of every evidence file no record was ingested from, in the order
    they were found: the failed ones with their reason, the others with what became of
    their records (the reason most of them were quarantined for)."""
    reason, params = _normalised_reason("reason")
    rows = store.rows(f"""
        WITH r AS (SELECT file_id, {reason} AS reason, count(*) AS n FROM quarantine GROUP BY ALL),
        top AS (SELECT file_id, arg_max(reason, (n, reason)) AS reason, count(*) AS reasons FROM r GROUP BY file_id)
        SELECT f.path, f.status, f.error, f.records, top.reason AS top, top.reasons
        FROM files f LEFT JOIN top USING (file_id)
        WHERE f.ingested = 0 AND f.status <> 'case' ORDER BY f.file_id""", params)
    out = []
    for r in rows:
        if r["status"] == "failed":
            out.append((r["path"], r["error"]))
        elif r["records"] and r["top"] is not None:
            what = "its one record" if r["records"] == 1 else f"all {r['records']:,} records"
            more = r["reasons"] - 1
            others = f", and {more:,} other reason{'s' if more > 1 else ''}" if more else ""
            out.append((r["path"], f"{what} quarantined: {r['top']}{others}"))
        else:
            out.append((r["path"], "no records in it"))
    return out


# A worker process is given several small files at once: one task per file cost more
# in hand-over than reading a small file does.
BUNDLE_BYTES = 8 * 1024 * 1024
BUNDLE_FILES = 128


def _bundles(tasks: list[FileTask]) -> Iterator[list[FileTask]]:
    bundle: list[FileTask] = []
    size = 0
    for task in tasks:
        # What is read, not the file's size: a host's 400 channel files preallocated to
        # 1 MB each and holding a few dozen records had made bundles of 7 files, each
        # paying the normalisation query's fixed 7 ms and a hand-over.
        n = _to_read(task)
        if bundle and (size + n > BUNDLE_BYTES or len(bundle) >= BUNDLE_FILES):
            yield bundle
            bundle, size = [], 0
        bundle.append(task)
        size += n
    if bundle:
        yield bundle


def _results_of_bundles(bundles: Iterator, workers: int) -> Iterator[FileResult]:
    """One file's result after another. A bundle whose process died is read again
    file by file, each in a process of its own, so that only the file that kills its
    reader fails."""
    for bundle, results in bundles:
        if not isinstance(results, WorkerDied):
            yield from results
        elif len(bundle) == 1:
            yield FileResult(bundle[0], failed=str(results))
        else:
            again = ordered_map(read_bundle, [[t] for t in bundle], workers=max(2, workers))
            yield from _results_of_bundles(zip([[t] for t in bundle], again), workers)


class _Loader:
    """Rows for the case database, written many files at a time: an INSERT per small
    file cost more than its rows (measured: 1-5 ms each)."""

    ROWS = 65_536

    def __init__(self, store: Store) -> None:
        self.store = store
        self._events: list[pa.RecordBatch | pa.Table] = []
        self._rows = 0
        self._files: list[tuple] = []
        self._quarantine: list[pa.Table] = []

    def events(self, rows: pa.RecordBatch | pa.Table) -> None:
        self._events.append(rows)
        self._rows += rows.num_rows
        if self._rows >= self.ROWS:
            self.flush()

    def file(self, *row) -> None:
        self._files.append(row)

    def quarantine(self, table: pa.Table) -> None:
        if table.num_rows:
            self._quarantine.append(table)

    def flush(self) -> None:
        if self._events:
            rows = pa.Table.from_batches(
                [b for x in self._events for b in (x.to_batches() if isinstance(x, pa.Table) else [x])],
                schema=EVENTS)
            self.store.append_events(rows)     # host names keyed as they were read (files._keyed)
            self._events, self._rows = [], 0
        if self._quarantine:
            self.store.append_quarantine(pa.concat_tables(self._quarantine))
            self._quarantine = []
        if self._files:
            self.store.add_files(self._files)
            self._files = []


def _to_read(task: FileTask) -> int:
    return task.to_read if task.to_read is not None else _size(task.path)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _load_cached(store: Store, hits: list[tuple[FileTask, dict]]) -> list[tuple[FileTask, FileResult | None]]:
    """Files parsed by an earlier run, unchanged since: their rows, renumbered, and
    each file's result (None for an entry that will not load: the file is then read
    again).

    All of them in one query and one transaction: a query and a commit per file had
    cost more than a small file's rows. If any entry will not load, one file at a time,
    so that only that file is read again."""
    if len(hits) > 1:
        try:
            return _load_cached_together(store, hits)
        except _UNLOADABLE:
            pass
    out: list[tuple[FileTask, FileResult | None]] = []
    for hit in hits:
        try:
            out += _load_cached_together(store, [hit])
        except _UNLOADABLE:
            out.append((hit[0], None))
    return out


# What a damaged or missing cache entry raises. Not an interrupted query (Ctrl-C):
# DuckDB raises RuntimeError for that, and it must stop the investigation, not send
# the file to be read again.
_UNLOADABLE = (duckdb.Error, OSError, ValueError, pa.ArrowException)


def _load_cached_together(store: Store, hits: list[tuple[FileTask, dict]]) -> list[tuple[FileTask, FileResult]]:
    """Consecutive files' cache entries in one transaction: all of them or none."""
    con = store.con
    paths = pa.table({"path": [h["events"] for _, h in hits], "qpath": [h["quarantine"] for _, h in hits],
                      "new_id": pa.array([t.file_id for t, _ in hits], pa.int32())})
    with_events = [h["events"] for _, h in hits if h["ingested"]]
    con.register("_cached", paths)
    try:
        # One thread (Store.one_thread), set outside the transaction: a SET after a
        # statement that failed in it would fail too, and hide why.
        with store.one_thread():
            con.execute("BEGIN")
            try:
                if with_events and all(h.get("file_id") == t.file_id for t, h in hits):
                    # Numbered as they are now (the evidence has not moved): the rows as
                    # written, in the order written (DuckDB keeps a scan's order).
                    con.execute("INSERT INTO events BY NAME SELECT * FROM read_parquet(?)", [with_events])
                elif with_events:
                    con.execute("""INSERT INTO events BY NAME
                        SELECT e.* EXCLUDE (file_id, filename, file_row_number), c.new_id AS file_id
                        FROM read_parquet(?, filename = true, file_row_number = true) e
                        JOIN _cached c ON e.filename = c.path
                        ORDER BY c.new_id, e.file_row_number""", [with_events])
                quarantine = con.sql("""
                    SELECT q.* EXCLUDE (file_id, filename, file_row_number), c.new_id AS file_id
                    FROM read_parquet(?, filename = true, file_row_number = true) q
                    JOIN _cached c ON q.filename = c.qpath
                    ORDER BY c.new_id, q.file_row_number""", params=[paths.column("qpath").to_pylist()]).to_arrow_table()
                quarantine = quarantine.select(QUARANTINE.names).cast(QUARANTINE)
                # Only files without events of their own (failed ones, case files) lie
                # between these: every row in the range is one of theirs.
                got = dict(con.execute("SELECT file_id, count(*) FROM events WHERE file_id BETWEEN ? AND ? "
                                       "GROUP BY ALL", [hits[0][0].file_id, hits[-1][0].file_id]).fetchall())
                for task, hit in hits:
                    if got.get(task.file_id, 0) != hit["ingested"]:
                        raise ValueError(f"cache holds {got.get(task.file_id, 0)} of {hit['ingested']} records")
                # Each file's quarantined records, cut from the one table.
                ends = np.cumsum(np.bincount(
                    np.searchsorted(paths.column("new_id").to_numpy(), quarantine.column("file_id").to_numpy()),
                    minlength=len(hits)))
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
    finally:
        con.unregister("_cached")
    starts = np.concatenate([[0], ends[:-1]])
    return [(task, FileResult(task, hit["ingested"], hit["failed"], hit["notes"], None,
                              quarantine.slice(int(a), int(b - a))))
            for (task, hit), a, b in zip(hits, starts, ends)]


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:        # the transaction was never begun
        pass


def _record(loader: _Loader, summary: IngestSummary, result: FileResult) -> None:
    task = result.task
    path = Path(task.path)
    if result.failed is not None:
        _fail(loader, summary, task.file_id, path, task.format, task.host_hint, result.failed)
        return
    summary.notes += result.notes
    q = result.quarantine.num_rows
    loader.quarantine(result.quarantine)
    loader.file(task.file_id, task.path, task.format, task.host_hint, result.ingested + q, result.ingested, q,
                "ok", None)
    summary.records += result.ingested + q
    summary.quarantined += q


def _stat(path: Path) -> tuple[datetime | None, int]:
    """When the file was last modified (None when unknown) and its size."""
    try:
        st = path.stat()
    except OSError:
        return None, 0
    try:
        return datetime.fromtimestamp(st.st_mtime, dt_timezone.utc), st.st_size
    except (OverflowError, ValueError):   # a time Python cannot hold
        return None, st.st_size


def _fail(loader: _Loader, summary: IngestSummary, file_id: int, path: Path, fmt: str | None,
          hint: str, reason: str) -> None:
    summary.files_failed += 1
    summary.failures.append((str(path), reason))
    loader.file(file_id, str(path), fmt, hint, 0, 0, 0, "failed", reason)


def _read_case(loader: _Loader, summary: IngestSummary, case: Case, file_id: int, path: Path, head: bytes) -> None:
    src = str(path)
    if not any(Path(s).resolve() == path.resolve() for s in case.sources):
        try:
            if sniff_case(head):
                found = load_case(path, default_zone=case.timezone_name)
            else:
                found = load_changes_csv(path, case.timezone, case.timezone_name)
        except CaseKeyError:
            raise               # a misspelt key: the run is refused, wherever the file was found
        except (CaseError, OSError) as exc:
            _fail(loader, summary, file_id, path, "case", "", str(exc))
            return
        src = found.sources[0]
        case.merge(found)
    else:
        # Named with --case or read before the evidence to learn the zone: its entries
        # are counted here, once, like those of any case file among the evidence.
        src = next(s for s in case.sources if Path(s).resolve() == path.resolve())
    fmt = "case" if sniff_case(head) else "changes"
    n_ok = sum(c.source == src for c in case.changes) + sum(o.source == src for o in case.observations)
    bad = [(e, r) for s, e, r in case.rejected if s == src]
    # Case entries count as records: every change and observation is used or quarantined.
    loader.file(file_id, str(path), fmt, None, n_ok + len(bad), n_ok, len(bad), "case", None)
    loader.quarantine(quarantine_table(file_id, [None] * len(bad), [r for _, r in bad], [e for e, _ in bad]))
    summary.records += n_ok + len(bad)
    summary.quarantined += len(bad)
