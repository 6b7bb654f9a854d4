"""Reading one evidence file, wherever that runs: in this process, in a worker process
of this machine, or on a Dask worker (:mod:`.workers`).

:func:`read_files` takes :class:`FileTask` s (everything a source needs, picklable) and
yields a :class:`FileResult` for each, in order: the file's events and quarantined
records as Arrow tables, its counts, its notes (:func:`read_file` for one,
:func:`read_bundle` for the several small files a worker process is given at once). It
never touches the case database, so that files can be read anywhere and loaded in the
order they were found: the same case database whatever read them. In this process it
can hand each batch to a ``sink`` instead, so that a large file is never held whole.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc  # noqa: F401 - pa.ipc

from ..errors import UnusableFile
from ..hosts import host_keys
from ..schema import EVENTS, QUARANTINE, quarantine_table
from ..sources import RAW_READERS, READERS
from ..sources.base import BATCH_ROWS, FileContext
from ..sources.winevent import Pending


@dataclass(frozen=True)
class FileTask:
    path: str
    file_id: int
    format: str
    host_hint: str
    timezone: tzinfo
    # What RFC 3164 syslog needs for its years (see FileContext): when the file was
    # last modified, and the year the user gave, if any.
    modified: datetime | None
    year: int | None = None
    # About how many bytes its reader reads (a preallocated EVTX file: not its zeros),
    # to bundle files for worker processes; None: the file's size.
    to_read: int | None = None


@functools.cache
def no_quarantine() -> pa.Table:
    """Most files quarantine nothing: one empty table for them all (tables are
    immutable), neither built nor sent per file. Built at first use, not on import: the
    reader processes' server imports this module before they leave pandas out, and
    pyarrow's first table would import pandas there."""
    return QUARANTINE.empty_table()


@dataclass
class FileResult:
    task: FileTask
    ingested: int = 0
    failed: str | None = None            # the reason nothing could be read
    notes: list[str] = field(default_factory=list)
    events: pa.Table | None = None       # None when the batches went to a sink
    quarantine: pa.Table = field(default_factory=no_quarantine)

    @property
    def quarantined(self) -> int:
        return self.quarantine.num_rows

    # Sent from a worker process as Arrow IPC: pickling a table pickles the whole buffers
    # under it, and a file's events are a slice of a batch normalised with other files'
    # (measured: 181 MB pickled for 9 MB of events, and 2 s of 4 spent sending them).
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["events"] = None if self.events is None else _ipc(self.events)
        state["quarantine"] = _ipc(self.quarantine) if self.quarantine.num_rows else None
        return state

    def __setstate__(self, state: dict) -> None:
        for name in ("events", "quarantine"):
            if state[name] is not None:
                state[name] = pa.ipc.open_stream(state[name]).read_all()
        if state["quarantine"] is None:
            state["quarantine"] = no_quarantine()
        self.__dict__.update(state)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_file(task: FileTask, sink: Callable[[pa.RecordBatch], None] | None = None) -> FileResult:
    """Read one file with the source for its format: every record ingested or
    quarantined with a reason; damage stops nothing but the damaged part."""
    return next(read_files([task], None if sink is None else lambda _task, batch: sink(batch)))


def read_bundle(tasks: list[FileTask]) -> list[FileResult]:
    """Several files read in one go (the unit a worker process is given)."""
    return list(read_files(tasks))


# Rendered Windows records wait until this many are pending before they are normalised:
# the query's fixed cost is then spread over thousands of records, not one small file.
PENDING_ROWS = 16_384


def read_files(tasks: Iterable[FileTask],
               sink: Callable[[FileTask, pa.RecordBatch], None] | None = None) -> Iterator[FileResult]:
    """Read files in order, yielding each one's result once all its records are in;
    with a ``sink``, batches go there (in file order) instead of into the results.

    Windows records of consecutive files are normalised together
    (:class:`.sources.winevent.Pending`); a file's batches, quarantined records and
    their order are the same as when it is read alone.
    """
    pending = Pending()
    waiting: dict[int, _Reading] = {}   # files read whose records may still be pending, in order
    for task in tasks:
        reading = _Reading(task, sink)
        raw = RAW_READERS.get(task.format)
        if raw is None:
            # Earlier files' records first: the case database is loaded in file order.
            yield from _drain(pending, waiting)
            reading.run(lambda: _each(READERS[task.format](reading.ctx), reading.deliver))
            yield reading.finish()
            continue
        waiting[id(reading.ctx)] = reading

        def handover(reading: _Reading = reading, raw=raw) -> None:
            for nos, ids, jsons in raw(reading.ctx):
                pending.add(reading.ctx, reading.task.format, nos, ids, jsons)
                reading.handed += len(nos)
                if len(nos) >= BATCH_ROWS:
                    # As when the file is read alone: a full chunk is normalised at once.
                    _deliver(pending, waiting)
        reading.run(handover)
        if reading.result.failed is not None:
            del waiting[id(reading.ctx)]
            yield from _drain(pending, waiting)
            yield reading.result
        elif pending.rows >= PENDING_ROWS:
            yield from _drain(pending, waiting)
    yield from _drain(pending, waiting)


def _each(batches: Iterable[pa.RecordBatch], deliver: Callable[[pa.RecordBatch], None]) -> None:
    for batch in batches:
        deliver(batch)


def _deliver(pending: Pending, waiting: dict[int, "_Reading"]) -> None:
    for ctx, batch in pending.flush():
        waiting[id(ctx)].deliver(batch)


def _drain(pending: Pending, waiting: dict[int, "_Reading"]) -> Iterator[FileResult]:
    _deliver(pending, waiting)
    for reading in waiting.values():
        yield reading.finish()
    waiting.clear()


class _Reading:
    """One file being read: its context, its result so far, where its batches go."""

    def __init__(self, task: FileTask, sink: Callable[[FileTask, pa.RecordBatch], None] | None) -> None:
        self.task = task
        self.ctx = FileContext(path=Path(task.path), file_id=task.file_id, default_host=task.host_hint,
                               timezone=task.timezone, modified=task.modified, year=task.year)
        self.result = FileResult(task)
        self.sink = sink
        self.batches: list[pa.RecordBatch] = []
        self.handed = 0      # records handed to be normalised later, not yet counted as ingested

    def deliver(self, batch: pa.RecordBatch) -> None:
        batch = _keyed(_placeable(batch, self.ctx))
        if self.sink is not None:
            self.sink(self.task, batch)
        else:
            self.batches.append(batch)
        self.result.ingested += batch.num_rows

    def run(self, read: Callable[[], None]) -> None:
        """``read`` the file; damage stops nothing but the damaged part, and a file
        nothing could be read from is failed with the reason."""
        ctx, result = self.ctx, self.result
        try:
            read()
        except UnusableFile as exc:
            if not self._read_any():
                result.failed = self._nothing_read(str(exc))
                return
            ctx.quarantine(None, f"reading stopped: {exc}")
        except (OSError, MemoryError) as exc:
            if not self._read_any():
                # Nothing read at all (gone, unreadable, or not where a worker looks).
                result.failed = self._nothing_read(f"cannot read: {exc}")
                return
            # The rest of the file cannot be read; what was read stays, and the stop
            # itself is quarantined so that the loss is visible.
            ctx.quarantine(None, f"reading stopped: {exc}")

    def _read_any(self) -> bool:
        """Whether any record was read: ingested, waiting to be, or quarantined as a
        record (a loss the reader noted for the whole file, such as a cut tail, is
        no record read)."""
        return bool(self.result.ingested or self.handed
                    or any(q.record_no is not None for q in self.ctx.quarantined))

    def _nothing_read(self, reason: str) -> str:
        """The reason a file failed, with what its reader noted about the whole file
        before it gave up (those notes are not kept as quarantined records then)."""
        noted = [q.reason for q in self.ctx.quarantined if q.reason != reason]
        self.ctx.quarantined = []
        return "; ".join([reason, *noted]).replace("\n", " ")

    def finish(self) -> FileResult:
        result, ctx = self.result, self.ctx
        if result.failed is not None:
            return result
        if ctx.quarantined and not self._read_any():
            # Only losses of the whole file were noted, and no record read: the file
            # failed, with those for its reason (not quarantined "records" of a file
            # none of whose records could be read).
            result.failed = self._nothing_read(ctx.quarantined[0].reason)
            return result
        result.notes = ctx.notes
        if self.sink is None:
            result.events = pa.Table.from_batches(self.batches, schema=EVENTS)
        q = ctx.quarantined
        if q:
            result.quarantine = quarantine_table(self.task.file_id, [x.record_no for x in q], [x.reason for x in q],
                                                 [x.excerpt for x in q], [x.record_id for x in q])
        return result


# What a timeline can hold: Python's datetimes end with 9999, and a true time is a
# logged time less an offset of up to days. A clock that wrote a time outside these
# years (a FILETIME near its maximum, 30828) is flagged and quarantined, not shifted.
PLACEABLE_FROM = datetime(1900, 1, 1, tzinfo=timezone.utc)
PLACEABLE_UNTIL = datetime(9000, 1, 1, tzinfo=timezone.utc)


def _placeable(batch: pa.RecordBatch, ctx: FileContext) -> pa.RecordBatch:
    logged = batch.column("logged")
    lo = pa.scalar(PLACEABLE_FROM, logged.type)
    hi = pa.scalar(PLACEABLE_UNTIL, logged.type)
    # The usual answer, none, from one pass over the column rather than three.
    # (compared as Arrow scalars: a time past Python's year 9999 is what this finds)
    least, most = pc.min_max(logged).values()
    if not least.is_valid or not (pc.less(least, lo).as_py() or pc.greater_equal(most, hi).as_py()):
        return batch
    outside = pc.or_kleene(pc.less(logged, lo), pc.greater_equal(logged, hi))
    bad = batch.filter(outside)
    for no, rid, us, message in zip(bad.column("record_no").to_pylist(), bad.column("record_id").to_pylist(),
                                    pc.cast(bad.column("logged"), pa.int64()).to_pylist(),
                                    bad.column("message").to_pylist()):
        ctx.quarantine(no, f"logged time {_iso_us(us)} is outside the years {PLACEABLE_FROM.year}-"
                           f"{PLACEABLE_UNTIL.year - 1} a timeline can hold", message or "", rid)
    return batch.filter(pc.invert(outside))


HOST = EVENTS.get_field_index("host")


def _keyed(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Host names keyed as records are read (:func:`.hosts.host_keys`), so that naming
    each host later rewrites only the records of names that change again, and the parse
    cache holds the rows as the case database does."""
    keyed = host_keys(pa.chunked_array([batch.column(HOST)])).combine_chunks()
    return batch.set_column(HOST, EVENTS.field(HOST), keyed)


def _iso_us(us: int) -> str:
    """A microsecond count since 1970 as an ISO time, whatever its year (numpy's
    datetime64 reaches far past Python's year 9999)."""
    return str(np.datetime64(us, "us")).rstrip("0").rstrip(".") + "Z"
