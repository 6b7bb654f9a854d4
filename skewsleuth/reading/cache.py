"""The parse cache: each file's parsed result kept as Parquet beside a kept case
database (``--db``). A file whose path, size, modification time and reading settings
(host, zone, ``--year``) are unchanged, read by the same source code, is loaded from
there instead of being parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..schema import EVENTS
from .files import FileResult, FileTask


def _sources_digest() -> str:
    """The source code that parses: a cached result is only as good as the code that
    made it."""
    h = hashlib.sha256()
    for package in ("evtx", "pyarrow", "defusedxml"):      # parsers we do not write ourselves
        try:
            h.update(f"{package}=={metadata.version(package)}\0".encode())
        except metadata.PackageNotFoundError:
            pass
    here = Path(__file__).parent
    package = here.parent
    # hosts.py: records' host names are keyed as they are read (files._keyed).
    for p in sorted([*here.glob("*.py"), package / "schema.py", package / "timefmt.py", package / "hosts.py",
                     *(package / "sources").glob("*.py")]):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


class ParseCache:
    """Each file's parsed result as Parquet in ``folder``, keyed by what it depends on.

    An entry is written events first and its metadata last (renamed into place), so a
    run stopped half-way leaves no entry that would be trusted."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._code = _sources_digest()

    def key(self, task: FileTask) -> str | None:
        try:
            st = os.stat(task.path)
        except OSError:
            return None
        parts = [self._code, str(Path(task.path).resolve()), str(st.st_size), str(st.st_mtime_ns), task.format,
                 task.host_hint, str(task.timezone), str(task.modified), str(task.year)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        return (self.folder / f"{key}.events.parquet", self.folder / f"{key}.quarantine.parquet",
                self.folder / f"{key}.json")

    def get(self, key: str) -> dict | None:
        events, quarantine, meta = self._paths(key)
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not (events.exists() and quarantine.exists()):
            return None
        return {**info, "events": str(events), "quarantine": str(quarantine)}

    def keep_only(self, keys: set[str]) -> None:
        """Forget every entry but ``keys`` (those of the last investigation): files
        that changed or left the evidence do not pile up."""
        for p in self.folder.iterdir():
            if p.name.split(".", 1)[0] not in keys and p.suffix in (".parquet", ".json", ".tmp"):
                p.unlink(missing_ok=True)

    def put(self, key: str, result: FileResult) -> None:
        """Keep a result read elsewhere (a worker process) whole."""
        writer = self.writer(key)
        if result.events is not None:
            writer.write_table(result.events)
        writer.close(result)

    def writer(self, key: str) -> "CacheEntryWriter":
        """Write an entry batch by batch, as a file is read in this process."""
        return CacheEntryWriter(self, key)


def _parquet():
    import pyarrow.parquet  # imported when first needed: only a kept case database has a cache (20 ms)

    return pyarrow.parquet


class CacheEntryWriter:
    """One cache entry being written; a full disk or any other failure leaves no entry,
    only an uncached file (never a failed investigation)."""

    def __init__(self, cache: ParseCache, key: str) -> None:
        self.paths = cache._paths(key)
        self._writer: Any = None
        self._ok = True
        try:
            # An entry written again (its last one would not load) is not one until done.
            self.paths[2].unlink(missing_ok=True)
            self._writer = _parquet().ParquetWriter(self.paths[0], EVENTS)
        except OSError:
            self._ok = False

    def write(self, batch: pa.RecordBatch) -> None:
        self._guard(lambda: self._writer.write_batch(batch))  # type: ignore[union-attr]

    def write_table(self, table: pa.Table) -> None:
        self._guard(lambda: self._writer.write_table(table))  # type: ignore[union-attr]

    def _guard(self, do) -> None:
        if self._ok:
            try:
                do()
            except OSError:
                self._ok = False

    def close(self, result: FileResult) -> None:
        if self._writer is not None:
            self._guard(self._writer.close)
        if self._ok and result.failed is None:
            def finish() -> None:
                _parquet().write_table(result.quarantine, self.paths[1])
                tmp = self.paths[2].with_suffix(".tmp")
                tmp.write_text(json.dumps({"ingested": result.ingested, "notes": result.notes,
                                           "failed": result.failed, "file_id": result.task.file_id}),
                               encoding="utf-8")
                tmp.replace(self.paths[2])
            self._guard(finish)
        if not self._ok or result.failed is not None:
            for p in self.paths:
                p.unlink(missing_ok=True)
