"""Windows EVTX event logs (binary) as events.

Yields one event per record that the ``evtx`` package (pyevtx-rs, a Rust parser) can
render. EVTX files from broken machines and shadow copies are often damaged: a chunk
with bad magic, a record with a zero data size, a corrupt string cache. The parser
raises for the damaged unit and carries on with the next; each raise is quarantined
here with the parser's message. A damaged chunk is counted as one quarantined unit,
since its record count cannot be read.

References: Microsoft, "[MS-EVEN6] BinXml"; Joachim Metz, "Windows XML Event Log
(EVTX) format" (libevtx documentation); https://github.com/omerbenamram/evtx.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import BATCH_ROWS, FileContext
from .contract import Source
from .winevent import FIELDS_MESSAGE_SQL, normalize

FORMAT = "evtx"
MAGIC = b"ElfFile\x00"


def sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


HEADER_BLOCK = 4096
CHUNK = 65536


def _check_size(ctx: FileContext) -> None:
    """Quarantine what the parser would drop without a word: a truncated tail.

    A file is a 4096-byte header block and whole 64 KiB chunks; the header says how
    many chunks there are. A copy cut short ends inside a chunk or holds fewer chunks.
    """
    try:
        size = ctx.path.stat().st_size
        with open(ctx.path, "rb") as fh:
            header = fh.read(HEADER_BLOCK)
    except OSError:
        return
    if len(header) < 0x2C:
        return
    listed = int.from_bytes(header[0x2A:0x2C], "little")  # "number of chunks"
    whole, partial = divmod(max(size - HEADER_BLOCK, 0), CHUNK)
    if partial:
        ctx.quarantine(None, f"file ends inside chunk {whole}: its last {partial} bytes cannot be read "
                             "(the file was cut short)")
    if listed > whole + (1 if partial else 0):
        ctx.quarantine(None, f"the header lists {listed} chunks but the file holds {whole}"
                             + (" and a partial one" if partial else "") + " (the file was cut short)")


def read_raw(ctx: FileContext) -> Iterator[tuple[list[int], list[int | None], list[str]]]:
    """The file's records as the parser renders them (record numbers, record ids, JSON),
    in chunks of at most ``BATCH_ROWS``, for :class:`.winevent.Pending`; damage is
    quarantined here."""
    import evtx  # imported here so that the rest of the package loads without it

    _check_size(ctx)

    try:
        parser = evtx.PyEvtxParser(str(ctx.path))
    except Exception as exc:  # the header itself is unreadable
        raise UnusableFile(f"not a readable EVTX file: {exc}") from None
    records = parser.records_json()
    nos: list[int] = []
    ids: list[int | None] = []
    jsons: list[str] = []
    ordinal = 0
    while True:
        # A for loop, entered again after each damaged record: next() in a try block per
        # record cost a third as much as the parser itself.
        try:
            for record in records:
                rid, data = record.get("event_record_id"), record["data"]
                nos.append(ordinal)
                ids.append(rid)
                jsons.append(data)
                ordinal += 1
                if len(nos) >= BATCH_ROWS:
                    yield nos, _record_ids(ids), jsons
                    nos, ids, jsons = [], [], []
            break
        except MemoryError:
            raise   # not damage: the reader stops here, with what it read kept
        except Exception as exc:  # noqa: BLE001 - the parser signals damage with plain exceptions
            ctx.quarantine(ordinal, f"EVTX parser: {exc}".split("\n")[0][:300])
            ordinal += 1
    if nos:
        yield nos, _record_ids(ids), jsons


def _record_ids(ids: list) -> list[int | None]:
    # A damaged header can carry any 64-bit number; past int64 it is no record id.
    if all(type(i) is int and 0 <= i < 2**63 for i in ids):
        return ids
    return [i if isinstance(i, int) and 0 <= i < 2**63 else None for i in ids]


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    for nos, ids, jsons in read_raw(ctx):
        batch = normalize(nos, ids, jsons, ctx, FORMAT)
        if batch is not None:
            yield batch


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="windows", windows_events=True, message_sql=FIELDS_MESSAGE_SQL)
