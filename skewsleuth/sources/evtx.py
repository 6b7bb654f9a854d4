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

from .base import BATCH_ROWS, FileContext, UnusableFile
from .winevent import normalize

FORMAT = "evtx"
MAGIC = b"ElfFile\x00"


def sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    import evtx  # imported here so that the rest of the package loads without it

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
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - the parser signals damage with plain exceptions
            ctx.quarantine(ordinal, f"EVTX parser: {exc}".split("\n")[0][:300])
            ordinal += 1
            continue
        nos.append(ordinal)
        ids.append(record.get("event_record_id"))
        jsons.append(record["data"])
        ordinal += 1
        if len(nos) >= BATCH_ROWS:
            batch = normalize(nos, ids, jsons, ctx, FORMAT)
            nos, ids, jsons = [], [], []
            if batch is not None:
                yield batch
    batch = normalize(nos, ids, jsons, ctx, FORMAT)
    if batch is not None:
        yield batch
