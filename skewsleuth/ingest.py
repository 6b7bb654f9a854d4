"""From paths on disk to the case database: find files, sniff formats, read, count.

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


import pyarrow as pa

from .case import Case, CaseError, load_case, load_changes_csv, sniff_case, sniff_changes_csv
from .schema import QUARANTINE
from .sources import READERS, sniff
from .sources.base import FileContext, UnusableFile
from .store import Store

SNIFF_BYTES = 8192


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

    def as_dict(self) -> dict:
        return {"files": self.files, "records": self.records, "quarantined": self.quarantined,
                "files_failed": self.files_failed, "duplicates": self.duplicates}


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Yield (file, named_directly) for every file under ``paths``, in a stable order,
    each file once: a folder named with its parent (``ev/ ev/host1``) is not read twice."""
    seen: set[Path] = set()

    def first(p: Path) -> bool:
        key = p.resolve()
        if key in seen:
            return False
        seen.add(key)
        return True

    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and first(Path(root) / name):
                        yield Path(root) / name, False
        elif first(path):
            yield path, True


def _host_hint(path: Path) -> str:
    # Collection tools lay evidence out one folder per host.
    parent = path.resolve().parent.name
    return parent or "unknown"


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def find_case_files(paths: Iterable[Path]) -> list[Path]:
    found = []
    for path, _ in discover(paths):
        try:
            head = _head(path)
        except OSError:
            continue
        if sniff_case(head):
            found.append(path)
    return found


def ingest(store: Store, paths: list[Path], case: Case, *, host: str | None = None,
           progress: Callable[[Path], None] | None = None) -> IngestSummary:
    """Read every evidence file under ``paths`` into ``store``; merge case files found into ``case``."""
    summary = IngestSummary()
    file_id = 0
    for path, direct in discover(paths):
        file_id += 1
        summary.files += 1
        if progress:
            progress(path)
        hint = host if (host and direct) else _host_hint(path)
        try:
            head = _head(path)
        except OSError as exc:
            _fail(store, summary, file_id, path, None, hint, f"cannot read: {exc.strerror}")
            continue
        if not head:
            _fail(store, summary, file_id, path, None, hint, "empty file (0 bytes)")
            continue
        if sniff_case(head) or sniff_changes_csv(head):
            _read_case(store, summary, case, file_id, path, head)
            continue
        fmt = sniff(head)
        if fmt is None:
            _fail(store, summary, file_id, path, None, hint, "unrecognised format (not EVTX, event XML, "
                  "SIPStack trace, syslog, journald JSON, JSON application log or OTLP spans, case file "
                  "or change log)")
            continue
        ctx = FileContext(path=path, file_id=file_id, default_host=hint, timezone=case.timezone,
                          reference_year=_year(path))
        ingested = 0
        try:
            for batch in READERS[fmt](ctx):
                store.append_events(batch)
                ingested += batch.num_rows
        except UnusableFile as exc:
            if not ingested and not ctx.quarantined:
                _fail(store, summary, file_id, path, fmt, hint, str(exc))
                continue
            ctx.quarantine(None, f"reading stopped: {exc}")
        except (OSError, MemoryError) as exc:
            # The rest of the file cannot be read; what was read stays, and the
            # stop itself is quarantined so that the loss is visible.
            ctx.quarantine(None, f"reading stopped: {exc}")
        summary.notes += ctx.notes
        q = len(ctx.quarantined)
        store.append_quarantine(pa.table({
            "file_id": pa.array([file_id] * q, pa.int32()),
            "record_no": pa.array([x.record_no for x in ctx.quarantined], pa.int64()),
            "reason": pa.array([x.reason for x in ctx.quarantined], pa.string()),
            "excerpt": pa.array([x.excerpt for x in ctx.quarantined], pa.string()),
        }, schema=QUARANTINE))
        store.add_file(file_id, str(path), fmt, hint, ingested + q, ingested, q, "ok", None)
        summary.records += ingested + q
        summary.quarantined += q
    return summary


def _year(path: Path) -> int:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, dt_timezone.utc).year
    except OSError:
        return datetime.now(dt_timezone.utc).year


def _fail(store: Store, summary: IngestSummary, file_id: int, path: Path, fmt: str | None,
          hint: str, reason: str) -> None:
    summary.files_failed += 1
    summary.failures.append((str(path), reason))
    store.add_file(file_id, str(path), fmt, hint, 0, 0, 0, "failed", reason)


def _read_case(store: Store, summary: IngestSummary, case: Case, file_id: int, path: Path, head: bytes) -> None:
    src = str(path)
    if not any(Path(s).resolve() == path.resolve() for s in case.sources):
        try:
            if sniff_case(head):
                found = load_case(path, default_zone=case.timezone_name)
            else:
                found = load_changes_csv(path, case.timezone, case.timezone_name)
        except (CaseError, OSError) as exc:
            _fail(store, summary, file_id, path, "case", "", str(exc))
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
    store.add_file(file_id, str(path), fmt, None, n_ok + len(bad), n_ok, len(bad), "case", None)
    store.append_quarantine(pa.table({
        "file_id": pa.array([file_id] * len(bad), pa.int32()),
        "record_no": pa.array([None] * len(bad), pa.int64()),
        "reason": pa.array([r for _, r in bad], pa.string()),
        "excerpt": pa.array([e for e, _ in bad], pa.string()),
    }, schema=QUARANTINE))
    summary.records += n_ok + len(bad)
    summary.quarantined += len(bad)
