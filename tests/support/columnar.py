"""A column-wise reader against its per-line reference (``read(ctx, columnar=False)``):
what each gives for one file, compared whole."""

from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa

from skewsleuth.errors import UnusableFile
from skewsleuth.schema import EVENTS
from skewsleuth.sources.base import FileContext

Read = Callable[..., Iterator[pa.RecordBatch]]


def reader_outcome(read: Read, ctx: FileContext, columnar: bool) -> tuple:
    """The file's rows (every batch in the EVENTS schema), or ("unusable", why); and
    what the reader quarantined."""
    try:
        batches = list(read(ctx, columnar=columnar))
    except UnusableFile as exc:
        return ("unusable", str(exc)), ctx.quarantined
    for b in batches:
        assert b.schema.equals(EVENTS)
    return pa.Table.from_batches(batches, EVENTS).to_pylist(), ctx.quarantined


def assert_same_outcome(read: Read, new_ctx: Callable[[], FileContext]) -> list:
    """Both readers give the same rows and quarantine (each on a context of its own);
    the rows."""
    fast, reference = reader_outcome(read, new_ctx(), True), reader_outcome(read, new_ctx(), False)
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    return fast[0]
