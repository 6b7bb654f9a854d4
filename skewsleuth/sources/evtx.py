"""Windows EVTX event logs (binary) as events.

Yields one event per record that the ``evtx`` package (pyevtx-rs, a Rust parser) can
render. EVTX files from broken machines and shadow copies are often damaged: a chunk
with bad magic, a record with a zero data size, a corrupt string cache. The parser
raises for the damaged unit and carries on with the next; each raise is quarantined
here with the parser's message (and the record's EventRecordID when the message
names it). A damaged chunk is counted as one quarantined unit, since its record count
cannot be read. A copy cut short is read up to the cut: the parser reads whole chunks
only, so it is given the whole records of the partial last chunk followed by zeros, and
the records lost after them are quarantined as one unit (see :func:`_check_size`).
A file the event log service preallocated (most channels of a real host: a few dozen
records in 1 MB or more) is given to the parser without its trailing chunks of zeros,
which the parser skips anyway but slowly (see :func:`_unused_tail`).

References: Microsoft, "[MS-EVEN6] BinXml"; Joachim Metz, "Windows XML Event Log
(EVTX) format" (libevtx documentation); https://github.com/omerbenamram/evtx.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import BATCH_ROWS, FileContext
from .contract import Source
from .winevent import FIELDS_MESSAGE_SQL, normalize

FORMAT = "evtx"
MAGIC = b"ElfFile\x00"
HEADER_BLOCK = 4096
CHUNK = 65536


def sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


def bytes_to_read(head: bytes, size: int) -> int:
    """About how much of a file of ``size`` bytes :func:`read_raw` reads, from its
    head: the chunks its header lists (a dirty file may hold more), not the zeros most
    channel files are preallocated with (see :func:`_unused_tail`)."""
    if len(head) < 0x2C:
        return size
    return min(size, HEADER_BLOCK + int.from_bytes(head[0x2A:0x2C], "little") * CHUNK)


CHUNK_HEADER = 512
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
RECORD_HEADER = 24        # magic, size, EventRecordID, time; a record ends with a copy of its size


@dataclass
class _Cut:
    """What the parser is given of a file: for one cut short, up to the end of the last
    whole record of its partial last chunk, then zeros to the chunk's end (which it
    takes for the end of the records); for one preallocated, up to its unused chunks."""
    keep: int          # bytes of the file read as they are
    size: int          # the file as the parser sees it: ``keep`` then zeros to a whole chunk


def _last_whole_record(data: bytes) -> tuple[int, int] | None:
    """(where it ends, its EventRecordID) of the last record wholly inside ``data``, the
    start of a chunk cut short; None when not even one record is whole."""
    if len(data) < CHUNK_HEADER or not data.startswith(CHUNK_MAGIC):
        return None
    pos, last = CHUNK_HEADER, None
    while pos + RECORD_HEADER <= len(data) and data[pos:pos + 4] == RECORD_MAGIC:
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        end = pos + size
        if size < RECORD_HEADER + 4 or end > len(data) or int.from_bytes(data[end - 4:end], "little") != size:
            break
        last = (end, int.from_bytes(data[pos + 8:pos + 16], "little"))
        pos = end
    return last


def _check_size(ctx: FileContext) -> _Cut | None:
    """Quarantine what the parser would drop without a word: a truncated tail; and
    what of the file the parser needs to be given (None: all of it, as it is).

    A file is a 4096-byte header block and whole 64 KiB chunks; the header says how
    many chunks there are. A copy cut short ends inside a chunk or holds fewer chunks.
    The parser reads whole chunks only: the records of the partial last chunk that are
    whole are read all the same (see :class:`_Cut`), the rest are lost. Raises
    :class:`UnusableFile` when not even one record is left.
    """
    try:
        with open(ctx.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            header = fh.read(HEADER_BLOCK)
            whole, partial = divmod(max(size - HEADER_BLOCK, 0), CHUNK)
            fh.seek(HEADER_BLOCK + whole * CHUNK)
            tail = fh.read(partial) if partial else b""
            listed = int.from_bytes(header[0x2A:0x2C], "little") if len(header) >= 0x2C else 0
            unused = _unused_tail(fh, listed, whole) if not partial and len(header) >= 0x2C else 0
    except OSError:
        return None
    if len(header) < 0x2C:
        return None
    if unused:
        # The file as it is, less its trailing zeros: kept whole, nothing to quarantine.
        used = HEADER_BLOCK + (whole - unused) * CHUNK
        return _Cut(used, used)
    if size < HEADER_BLOCK:
        raise UnusableFile(f"the file was cut short inside its header block ({size:,} of {HEADER_BLOCK:,} bytes): "
                           "it holds no record")
    salvaged = _last_whole_record(tail) if partial else None
    if not whole and salvaged is None:
        if partial:
            raise UnusableFile(f"the file was cut short inside its first chunk ({partial:,} of {CHUNK:,} bytes): "
                               "not one record in it is whole")
        raise UnusableFile("the file holds its header and no chunk of records"
                           + (f" (the header lists {listed}: the file was cut short)" if listed else ""))
    cut = None
    if salvaged is not None:
        end, last_id = salvaged
        cut = _Cut(HEADER_BLOCK + whole * CHUNK + end, HEADER_BLOCK + (whole + 1) * CHUNK)
        # The chunk's header names its last record: those after the last whole one are lost.
        if int.from_bytes(tail[32:40], "little") > last_id:
            ctx.quarantine(None, f"file ends inside chunk {whole}: its records after EventRecordID {last_id} "
                                 "are lost (the file was cut short)")
    elif partial:
        ctx.quarantine(None, f"file ends inside chunk {whole}: its last {partial} bytes cannot be read "
                             "(the file was cut short)")
    if listed > whole + (1 if partial else 0):
        ctx.quarantine(None, f"the header lists {listed} chunks but the file holds {whole}"
                             + (" and a partial one" if partial else "") + " (the file was cut short)")
    return cut


ZERO_CHUNK = bytes(CHUNK)


def _unused_tail(fh, listed: int, whole: int) -> int:
    """How many of the file's last chunks are zeros, none of them one the header lists
    (its "number of chunks"): the space the event log service preallocates.

    The parser skips a chunk of zeros, and stops at the end of the file once past the
    chunks the header lists, so the file without them reads the same. But it tests
    each of their bytes in turn: a 1 MB channel file of a few records cost it 0.5 ms,
    against 0.13 ms without its zeros (measured, evtx 0.14). A chunk is compared here
    whole, from the end, and the first one that is not all zeros stops the count.
    """
    fd = fh.fileno()
    n = 0
    for k in range(whole - 1, listed - 1, -1):
        if os.pread(fd, CHUNK, HEADER_BLOCK + k * CHUNK) != ZERO_CHUNK:
            break
        n += 1
    return n


# A file the parser needs no more than this of is read into memory for it, in one read.
IN_MEMORY = 1024 * 1024


def _source(path: Path, cut: _Cut) -> io.RawIOBase | io.BytesIO:
    """What the parser is given of a file that is not read as it is (see :class:`_Cut`)."""
    if cut.keep == cut.size and cut.size <= IN_MEMORY:
        with open(path, "rb") as fh:
            data = fh.read(cut.keep)
        if len(data) == cut.keep:
            return io.BytesIO(data)
    return _CutFile(path, cut)


class _CutFile(io.RawIOBase):
    """A file cut short as the parser is given it: its first ``cut.keep`` bytes, then
    zeros up to ``cut.size``."""

    def __init__(self, path: Path, cut: _Cut) -> None:
        super().__init__()
        self._fh = open(path, "rb")     # noqa: SIM115 - closed with this object
        self._cut = cut
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._cut.size - self._pos))
        real = max(0, min(n, self._cut.keep - self._pos))
        if real:
            self._fh.seek(self._pos)
            got = self._fh.readinto(view[:real]) or 0
            real = got
        view[real:n] = bytes(n - real)
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._cut.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._fh.close()
        super().close()


_RECORD_NUMBER = re.compile(r"Failed to parse record number (\d{1,18})\b")


def read_raw(ctx: FileContext) -> Iterator[tuple[list[int], list[int | None], list[str]]]:
    """The file's records as the parser renders them (record numbers, record ids, JSON),
    in chunks of at most ``BATCH_ROWS``, for :class:`.winevent.Pending`; damage is
    quarantined here."""
    import evtx  # imported here so that the rest of the package loads without it

    cut = _check_size(ctx)
    source = _source(ctx.path, cut) if cut is not None else None
    try:
        try:
            parser = evtx.PyEvtxParser(source if source is not None else str(ctx.path))
        except Exception as exc:  # the header itself is unreadable
            raise UnusableFile(f"not a readable EVTX file: {exc}".split("\n")[0]) from None
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
                message = f"EVTX parser: {exc}".split("\n")[0][:300]
                # The parser names the record it failed on by its EventRecordID, when it read that far.
                m = _RECORD_NUMBER.search(message)
                ctx.quarantine(ordinal, message, "", int(m.group(1)) if m else None)
                ordinal += 1
        if nos:
            yield nos, _record_ids(ids), jsons
    finally:
        if source is not None:
            source.close()


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
