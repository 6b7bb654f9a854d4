"""The case database: one DuckDB database per investigation.

Tables (created here; written by the stage that owns them):

``files``       every input file, its format, counts and status (ingest)
``events``      every ingested record (sources, as Arrow batches)
``quarantine``  every record that could not be ingested, with the reason (sources)
``host_names``  spelling -> canonical host (ingest)
``steps``, ``boots``, ``segments``                   (clock model)
``symptoms``, ``incidents``                          (rules, incident finder)

The investigation works on a database in memory. ``--db FILE`` keeps it for later
queries: :meth:`Store.save` writes it once the verdict is reached, whole, into
``FILE.partial`` and renames that over ``FILE``. A run stopped part-way (Ctrl-C, an
error, a kill) leaves ``FILE`` as the last complete run left it, never half-written
tables; and the investigation pays for no commit per insert to a file on disk (which
had made ``--db`` runs slower than in-memory ones, reruns included).

DuckDB holds at most ``memory_limit`` (``SKEWSLEUTH_MEMORY_LIMIT``, default 1 GB) and
spills the rest to a temporary folder, so the tables do not grow in RAM with the
evidence (the clock model's own arrays, a few bytes an event, still do).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa

from .errors import StoreError
from .schema import EVENTS, QUARANTINE

DEFAULT_MEMORY_LIMIT = "1GB"

_FILES_DDL = """
CREATE TABLE IF NOT EXISTS files (
  file_id INTEGER PRIMARY KEY, path VARCHAR NOT NULL, format VARCHAR, host_hint VARCHAR,
  records BIGINT DEFAULT 0, ingested BIGINT DEFAULT 0, quarantined BIGINT DEFAULT 0,
  status VARCHAR NOT NULL, error VARCHAR)
"""


# name -> CREATE TABLE in the types DuckDB reads the Arrow schema as, once per process.
_TABLE_DDL: dict[str, str] = {}


def _ddl(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> str:
    # Asked of the store's own connection: a connection of its own is a database of
    # its own, with its own threads (10-50 ms to open, a small investigation's
    # largest cost after the imports).
    if name not in _TABLE_DDL:
        empty = schema.empty_table()  # noqa: F841 - referenced by the query below
        cols = con.sql("DESCRIBE SELECT * FROM empty").fetchall()
        body = ", ".join(f'"{c[0]}" {c[1]}' for c in cols)
        _TABLE_DDL[name] = f"CREATE TABLE IF NOT EXISTS {name} ({body})"
    return _TABLE_DDL[name]


class Store:
    """A DuckDB connection with the case tables."""

    def __init__(self, path: str | Path | None = None, memory_limit: str | None = None) -> None:
        # Where save() keeps the database; the work is done in memory either way.
        self.path = Path(path) if path else None
        if self.path is not None and not os.access(self.path.resolve().parent, os.W_OK | os.X_OK):
            # Said now, not once the verdict is reached.
            raise StoreError(f"cannot write the case database {self.path}: its folder is missing or not writable")
        self.con = duckdb.connect(":memory:")
        # Without a limit DuckDB takes up to 80% of the machine, and an in-memory
        # database spills to ".tmp" in the working directory: neither is ours to take.
        self._spill = tempfile.TemporaryDirectory(prefix="skewsleuth-spill-")
        self.con.execute("SET temp_directory = ?", [self._spill.name])
        limit = memory_limit or os.environ.get("SKEWSLEUTH_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        try:
            self.con.execute("SET memory_limit = ?", [limit])
        except duckdb.Error:
            raise StoreError(f"memory limit {limit!r} is not a size DuckDB understands (e.g. 1GB, 512MB)") from None
        self.memory_limit = limit
        # How many times each derived table was written: what is built from one can
        # tell whether it is still current.
        self.versions: dict[str, int] = {}
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(_FILES_DDL)
        self.con.execute(_ddl(self.con, "events", EVENTS))
        self.con.execute(_ddl(self.con, "quarantine", QUARANTINE))

    def add_files(self, rows: list[tuple]) -> None:
        """Rows of ``files`` in one statement, each (file_id, path, format, host_hint,
        records, ingested, quarantined, status, error)."""
        cols = list(zip(*rows))
        names = ["file_id", "path", "format", "host_hint", "records", "ingested", "quarantined", "status", "error"]
        types = [pa.int32(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(),
                 pa.string(), pa.string()]
        self._append("files", pa.table([pa.array(c, t) for c, t in zip(cols, types)], names=names))

    def append_events(self, batch: pa.RecordBatch | pa.Table) -> None:
        with self.one_thread():
            self._append("events", batch)

    @contextlib.contextmanager
    def one_thread(self) -> Iterator[None]:
        """DuckDB on one thread meanwhile: appending rows in order is quicker alone
        (Arrow rows: 0.7 us a row against 1.1 us with two threads, more while worker
        processes read files; the parse cache's Parquet: half the time)."""
        threads = self.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        self.con.execute("SET threads = 1")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def append_quarantine(self, table: pa.Table) -> None:
        if len(table):
            self._append("quarantine", table)

    def _append(self, name: str, rows: pa.RecordBatch | pa.Table) -> None:
        self.con.register("_rows", rows)
        try:
            self.con.execute(f"INSERT INTO {name} SELECT * FROM _rows")
        finally:
            self.con.unregister("_rows")

    def put_table(self, name: str, table: pa.Table) -> None:
        """Replace a derived table (steps, segments, ...) with ``table``."""
        self.con.register("_t", table)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _t")
        finally:
            self.con.unregister("_t")
        self.versions[name] = self.versions.get(name, 0) + 1

    def query(self, sql: str, params: list | dict | None = None) -> pa.Table:
        return self.con.sql(sql, params=params).to_arrow_table()

    def rows(self, sql: str, params: list | dict | None = None) -> list[dict]:
        return self.query(sql, params).to_pylist()

    def has_rows(self, relation: str) -> bool:
        """Whether ``relation`` (a table, or ``events WHERE ...``) holds a row: asked
        before a statement whose planning alone (2-15 ms) would cost more than knowing
        it has nothing to read."""
        return bool(self.con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {relation} LIMIT 1)").fetchall()[0][0])

    def save(self) -> None:
        """Write the database to :attr:`path` (nothing without one), whole or not at all.

        The tables and views (not the temporary tables of the stages) are copied into
        ``FILE.partial`` beside it, checkpointed and closed, then renamed over ``FILE``:
        interrupted before the rename, the file is as the last run left it."""
        if self.path is None:
            return
        partial = partial_path(self.path)
        leftovers = (partial, Path(f"{partial}.wal"))
        try:
            for p in leftovers:       # a run killed while saving
                p.unlink(missing_ok=True)
            (here,) = self.con.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
            # ATTACH takes no parameters (DuckDB 1.4): the path is quoted as a literal.
            self.con.execute("ATTACH '" + str(partial).replace("'", "''") + "' AS _kept")
            try:
                self.con.execute(f'COPY FROM DATABASE "{here}" TO _kept')
                self.con.execute("CHECKPOINT _kept")    # on disk, no log left to replay
            finally:
                _detach(self.con)
            # An older database's log would be replayed onto the new file.
            Path(f"{self.path}.wal").unlink(missing_ok=True)
            os.replace(partial, self.path)
            _sync_folder(self.path.parent)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"cannot write the case database {self.path}: {exc}") from None
        finally:
            for p in leftovers:
                try:
                    p.unlink(missing_ok=True)
                except OSError:     # what stopped the save stops this too: said above
                    pass

    def close(self) -> None:
        self.con.close()
        self._spill.cleanup()


def partial_path(path: str | Path) -> Path:
    """Where :meth:`Store.save` writes the database before renaming it into place."""
    return Path(f"{path}.partial")


def _detach(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("DETACH _kept")
    except duckdb.Error:        # after a copy that failed: the file is deleted anyway
        pass


def _sync_folder(folder: Path) -> None:
    """The rename on disk, not only in the page cache (where a folder can be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
