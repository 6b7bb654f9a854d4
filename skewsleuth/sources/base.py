"""What every source module shares: the per-file context and the batch builder.

A source module (one per input format) exposes::

    FORMAT: str                      # the value of the ``format`` column it writes
    def sniff(head: bytes) -> bool   # does this content look like my format?
    def read(ctx: FileContext) -> Iterator[pa.RecordBatch]   # EVENTS batches

``read`` yields every record it can parse and calls ``ctx.quarantine`` for every record
it cannot, with a reason, then carries on: a damaged record is never fatal, and the
number of records seen is always ingested + quarantined. It raises
:class:`UnusableFile` only when nothing in the file can be read at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..schema import EVENTS

BATCH_ROWS = 65_536
EXCERPT_CHARS = 200


def excerpt(raw: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short printable excerpt of hostile input: control characters are escaped."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    text = raw[:limit]
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return text + ("…" if len(raw) > limit else "")


@dataclass
class Quarantined:
    record_no: int | None
    reason: str
    excerpt: str
    record_id: int | None = None     # the log's own number for the record (EventRecordID), if read


@dataclass
class FileContext:
    """Everything a source needs to know about the file it reads, beyond its bytes."""

    path: Path
    file_id: int
    # The host a record belongs to when it does not name one: the --host override or
    # the name of the folder the file sits in (one folder per host, as collected).
    default_host: str
    # Zone for times written without an offset (RFC 3164 syslog, case-file times).
    timezone: tzinfo
    # When the file was last written to (an instant): RFC 3164 times carry no year, and
    # none of them can be later than this. None when unknown: the time of reading stands in.
    modified: datetime | None = None
    # The year of the file's first RFC 3164 line, when the user says it (--year): years
    # are then counted forward from it, whatever the modification time says.
    year: int | None = None
    quarantined: list[Quarantined] = field(default_factory=list)
    # What a reader assumed about the whole file (a year, a zone): for the verdict.
    notes: list[str] = field(default_factory=list)

    def quarantine(self, record_no: int | None, reason: str, raw: str | bytes = "",
                   record_id: int | None = None) -> None:
        self.quarantined.append(Quarantined(record_no, reason, excerpt(raw), record_id))


class EventBatchBuilder:
    """Accumulates events column by column and emits EVENTS record batches.

    Columns are plain lists so that adding a record costs a few appends, not an
    object; ``flush`` turns them into one Arrow batch.
    """

    __slots__ = ("file_id", "cols", "rows")

    def __init__(self, file_id: int) -> None:
        self.file_id = file_id
        self.cols: dict[str, list[Any]] = {name: [] for name in EVENTS.names if name != "file_id"}
        self.rows = 0

    def add(
        self,
        *,
        record_no: int,
        host: str,
        logged: datetime,
        format: str,
        record_id: int | None = None,
        channel: str | None = None,
        provider: str | None = None,
        event_id: int | None = None,
        message: str | None = None,
        data: dict[str, Any] | str | None = None,
    ) -> None:
        c = self.cols
        c["record_no"].append(record_no)
        c["record_id"].append(record_id)
        c["host"].append(host)
        c["logged"].append(logged)
        c["format"].append(format)
        c["channel"].append(channel)
        c["provider"].append(provider)
        c["event_id"].append(event_id)
        c["message"].append(message)
        c["data"].append(data if data is None or isinstance(data, str) else json.dumps(data, ensure_ascii=False))
        self.rows += 1

    def full(self) -> bool:
        return self.rows >= BATCH_ROWS

    def flush(self) -> pa.RecordBatch | None:
        if not self.rows:
            return None
        arrays = [pa.array([self.file_id] * self.rows, pa.int32())]
        arrays += [pa.array(self.cols[name], EVENTS.field(name).type) for name in EVENTS.names[1:]]
        batch = pa.RecordBatch.from_arrays(arrays, schema=EVENTS)
        for values in self.cols.values():
            values.clear()
        self.rows = 0
        return batch
