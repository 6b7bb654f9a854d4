"""journalctl -o json exports read column-wise: Arrow's JSON reader on blocks of lines.

``pyarrow.json`` parses a block of lines in C++ into a column per field of interest,
all typed as text; the row :func:`.journald.entry` builds in Python (host, provider,
message, the ``data`` JSON) is then built with Arrow compute over whole columns. Its
parser is as strict as Python's where it matters here: it refuses a trailing comma,
a raw control character in a string, a lone surrogate escape, a field of interest
given twice or holding anything but text or null (journalctl's byte arrays and lists
of values), and a line that is not one object. The lines it refuses (see ``parse_lines``),
and those below, go through ``entry`` one by one, in order, with its quarantines:

* ``Inf``, ``-Inf``, ``-NaN`` (Python reads only ``NaN``, ``Infinity``, ``-Infinity``),
  and nesting deep enough for Python's RecursionError: what it reads and Python not;
* a value that opens an array or an object: told before the parse, which would
  refuse it in a field of interest (the byte arrays are common);
* a ``__REALTIME_TIMESTAMP`` that is not 1 to 18 digits or lies past what a datetime
  holds (``entry`` quarantines it, or reads the leading zeros of a longer one);
* text in ``data`` that is not printable ASCII or that JSON would escape;
* a line that does not start with ``{`` (blank, indented, not JSON).

``journald.read(ctx, columnar=False)`` is the reference this must equal.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..errors import UnusableFile
from ..schema import EVENTS, TIMESTAMP
from .base import FileContext
from .journald import CHANNEL, FORMAT, INT_FIELDS, TEXT_FIELDS, entry
from .syslog_lines import FACILITIES, SEVERITIES
from .textcols import Block, assemble, json_records, repeat
from .textinput import MAX_LINE, text_blocks
from .timeparse import EPOCH, US

_FIELDS = ("__REALTIME_TIMESTAMP", "_PID", "PRIORITY", "SYSLOG_FACILITY", "_BOOT_ID", "MESSAGE_ID",
           "_SYSTEMD_UNIT", "_TRANSPORT", "__MONOTONIC_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP",
           "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "MESSAGE")
_PARSE = pj.ParseOptions(explicit_schema=pa.schema([(f, pa.string()) for f in _FIELDS]),
                         unexpected_field_behavior="ignore")
# The latest instant a datetime holds: a later __REALTIME_TIMESTAMP is quarantined.
_MAX_US = (datetime.max.replace(tzinfo=timezone.utc) - EPOCH) // US
# Nesting Python reads whatever the caller's depth (its limit is about 1,000 frames).
_MAX_BRACKETS = 500
# What may stand before a value, and between it and the "Inf" or "NaN" RapidJSON reads
# there (Python refuses Inf, -Inf and -NaN).
_VALUE_OPENS = frozenset(b":,[")
_SPACE_OR_MINUS = frozenset(b" \t\r-")
_NULL = pa.scalar(None, pa.string())
# Each parse costs some 50 us however few lines it reads: a part read as other than
# its lines is halved down to this many, and a part stops being read after as many
# refused lines (see parse_lines).
_FEWEST = 16
_REFUSALS = 32
_ROW = re.compile(r"in row (\d+)")


def _read(feed: pa.Buffer, offsets: np.ndarray, lo: int, hi: int, options: pj.ParseOptions) -> pa.Table:
    size = int(offsets[hi] - offsets[lo])
    return pj.read_json(pa.BufferReader(feed.slice(int(offsets[lo]), size)),
                        # one block: the whole part, whatever the length of its lines
                        read_options=pj.ReadOptions(use_threads=False, block_size=max(1 << 16, 2 * size)),
                        parse_options=options)


def parse_lines(feed: pa.Buffer, offsets: np.ndarray, lo: int, hi: int, out: list[tuple[int, pa.Table]],
                options: pj.ParseOptions = _PARSE) -> None:
    """Lines ``lo:hi`` of ``feed`` (one "\\n"-ended line each, ``offsets`` their starts)
    into ``out`` as (first line, table), where the parser reads each as one object.

    The parser stops at the first line it refuses and names its row (or the next, for
    text after an object): the lines before it are read again and the rest after it,
    the line itself left out. After
    ``_REFUSALS`` refusals the rest of the part is left out whole (a file of damaged
    lines is read line by line at the per-line reader's speed, not slower). A part
    whose rows are not its lines (two objects on a line) is halved down to
    ``_FEWEST`` lines. What is left out goes to the per-line reader (entry() here)."""
    refusals = 0
    while lo < hi:
        try:
            table = _read(feed, offsets, lo, hi, options)
        except pa.ArrowInvalid as exc:
            refusals += 1
            m = _ROW.search(str(exc))
            if m is None or refusals > _REFUSALS:
                return
            # Text after a line's object is refused as the next row: past the part's
            # end, it is the last line.
            row = min(int(m.group(1)), hi - lo - 1)
            if row:
                parse_lines(feed, offsets, lo, lo + row, out, options)
            lo += row + 1
            continue
        if table.num_rows == hi - lo:
            out.append((lo, table))
        elif hi - lo > _FEWEST:
            mid = (lo + hi) // 2
            parse_lines(feed, offsets, lo, mid, out, options)
            parse_lines(feed, offsets, mid, hi, out, options)
        return


def _digits(values: pa.Array, most: int) -> pa.Array:
    """journald._int on text: 1 to ``most`` ASCII digits (null stays null)."""
    return pc.and_kleene(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), most))


def _every(mask: pa.Array) -> bool:
    """Whether ``mask`` holds no False (nulls aside): the common case, where the
    kernels that mend the rest of a column can be skipped."""
    return pc.all(mask, min_count=0).as_py() is True


def _number(values: pa.Array) -> pa.Array:
    """All-digit text as int() then str() write it: without leading zeros."""
    if not pc.any(pc.and_kleene(pc.starts_with(values, "0"), pc.greater(pc.binary_length(values), 1))).as_py():
        return values  # no leading zero to trim: journald writes none
    trimmed = pc.utf8_ltrim(values, "0")
    return pc.if_else(pc.equal(trimmed, ""), "0", trimmed)


def _integer(values: pa.Array) -> pa.Array:
    """journald._int as text: the number without leading zeros, null where not one."""
    digits = _digits(values, 20)
    return _number(values) if _every(digits) else pc.if_else(digits, _number(values), _NULL)


_NUMBERS = {names: pa.array([str(i) for i in range(len(names))]) for names in (SEVERITIES, FACILITIES)}


def _keyword(values: pa.Array, names: tuple[str, ...]) -> pa.Array:
    """SEVERITIES / FACILITIES by number, null where the number names none."""
    return pc.take(pa.array(names), pc.index_in(_integer(values), value_set=_NUMBERS[names]))


def _data(fields: list[tuple[str, pa.Array, bool | np.ndarray]], n: int) -> pa.Array:
    """The data JSON of ``n`` rows from (key, text, quoted) per field in entry()'s
    order, null where a row has none of them: one join of every piece, a key written
    with what stands before it ("{" or ", ", by the fields the row holds before it),
    a field absent from the row skipped. Pairs joined first, then joined again, cost
    twice as much."""
    seen = np.zeros(n, bool)
    pieces: list[pa.Array | str] = []
    for key, value, quoted in fields:
        present = np.ones(n, bool) if value.null_count == 0 else np.asarray(value.is_valid())
        if not present.any():
            continue
        uniform = present.all() and not isinstance(quoted, np.ndarray) and (seen.all() or not seen.any())
        if uniform:
            pieces.append((", " if seen.any() else "{") + f'"{key}": ' + ('"' if quoted else ""))
        else:
            heads = pa.array([f'{{"{key}": ', f', "{key}": ', f'{{"{key}": "', f', "{key}": "'])
            which = seen.astype(np.int8) + 2 * np.asarray(quoted, np.int8)
            pieces.append(pc.take(heads, pa.array(which, mask=~present)))
        pieces.append(value)
        if isinstance(quoted, np.ndarray):
            pieces.append(pc.if_else(pa.array(present & quoted), '"', _NULL))
        elif quoted:
            pieces.append('"' if present.all() else pc.if_else(pa.array(present), '"', _NULL))
        seen |= present
    if not seen.any():
        return pa.nulls(n, pa.string())
    # Every row keeps an argument that is not null: binary_join_element_wise drops a
    # row whose arguments are all null when it skips nulls.
    pieces.append("}" if seen.all() else pc.if_else(pa.array(seen), "}", ""))
    data = pc.binary_join_element_wise(*pieces, "", null_handling="skip")
    return data if seen.all() else pc.if_else(pa.array(seen), data, _NULL)


# Bytes JSON would escape or that are not printable ASCII (json.dumps keeps those as
# they are, but what stands beyond ASCII is left to entry(): lone surrogates and all).
_UNPLAIN = np.ones(256, bool)
_UNPLAIN[0x20:0x7F] = False
_UNPLAIN[[ord('"'), ord("\\")]] = True


def _unplain(values: pa.Array, out: np.ndarray) -> None:
    """Marks in ``out`` the rows whose text in ``values`` holds a byte of _UNPLAIN
    (a null's bytes too, should a writer leave any: that only sends a row to entry())."""
    _, offsets, data = values.buffers()
    if data is None or not len(values):
        return
    offsets = np.frombuffer(offsets, np.int32)[values.offset:values.offset + len(values) + 1]
    text = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]]
    at = np.flatnonzero(_UNPLAIN[text])
    if len(at):
        out[np.searchsorted(offsets, at + offsets[0], "right") - 1] = True


def _rows(t: pa.Table, default_host: str) -> tuple[pa.Table, np.ndarray]:
    """The EVENTS columns of the rows ``entry`` would build alike, and which those are.

    Columns are mended (trimmed, nulled, defaulted) only where a block needs it:
    journald's own fields seldom do, and each mending kernel copies a column."""
    t = t.combine_chunks()

    def col(name: str) -> pa.Array:
        return t.column(name).chunk(0) if t.column(name).num_chunks else pa.array([], pa.string())

    rt = col("__REALTIME_TIMESTAMP")
    ok = _digits(rt, 18)
    us = pc.cast(rt if _every(ok) else pc.if_else(ok, rt, _NULL), pa.int64())
    ok = pc.and_kleene(ok, pc.less_equal(us, _MAX_US))
    # The text data holds: what json.dumps would escape sends the row to entry(), and
    # so does anything but printable ASCII (a few more, checked faster). A pid of
    # digits is written as a number, and holds no such byte.
    unplain = np.zeros(len(t), bool)
    for field in [f for f, _ in TEXT_FIELDS] + ["_PID"]:
        _unplain(col(field), unplain)
    keep = pc.and_(pc.fill_null(ok, False), pa.array(~unplain))
    if not _every(keep):
        t = t.filter(keep).combine_chunks()
        us = us.filter(keep)
    pid = col("_PID")
    pid_digits = _digits(pid, 20)
    if _every(pid_digits):
        pid_field = ("pid", _number(pid), False)
    else:
        digits = np.asarray(pc.fill_null(pid_digits, False))
        pid_field = ("pid", pc.if_else(pid_digits, _number(pid), pid), ~digits)
    fields = [pid_field, ("severity", _keyword(col("PRIORITY"), SEVERITIES), True),
              ("facility", _keyword(col("SYSLOG_FACILITY"), FACILITIES), True)]
    fields += [(key, col(field), True) for field, key in TEXT_FIELDS]
    fields += [(key, _integer(col(field)), False) for field, key in INT_FIELDS]
    data = _data(fields, len(t))
    hostname = col("_HOSTNAME")
    missing = pc.fill_null(pc.equal(hostname, ""), True)
    host = pc.if_else(missing, default_host, hostname) if pc.any(missing).as_py() else hostname
    ident = col("SYSLOG_IDENTIFIER")
    named = pc.fill_null(pc.not_equal(ident, ""), False)
    provider = ident if _every(named) else pc.if_else(named, ident, col("_COMM"))
    rows = pa.table({"logged": pc.cast(us, TIMESTAMP), "host": host,
                     "provider": provider, "message": col("MESSAGE"), "data": data})
    return rows, np.asarray(keep.to_numpy(zero_copy_only=False), bool)


_GROUP = 8   # blocks of text_blocks (1 MB each) per parse; Block's offsets are 32-bit


def line_groups(ctx: FileContext, max_line: int = MAX_LINE) -> Iterator[str]:
    """The file's blocks of lines, ``_GROUP`` at a time: fewer, larger parses."""
    group: list[str] = []
    for text in text_blocks(ctx, max_line):
        group.append(text)
        if len(group) == _GROUP:
            yield "\n".join(group)
            group = []
    if group:
        yield "\n".join(group)


def feed_of(block: Block, lines: np.ndarray) -> tuple[pa.Buffer, np.ndarray]:
    """The given lines, each ended by its "\n", as one buffer, and where each starts."""
    lens = block.ends[lines] - block.starts[lines] + 1
    offsets = np.zeros(len(lines) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    if len(lines) == block.n:
        return pa.py_buffer(block.buf), offsets  # every line: the block's own bytes
    return assemble(block.buf, block.starts[lines][:, None], lens[:, None]).buffers()[2], offsets


_IN, _NA = (int.from_bytes(w, "little") for w in (b"In", b"Na"))


def _words(buf: np.ndarray, size: int) -> np.ndarray:
    """Where "Inf" and "NaN" start in the first ``size`` bytes of ``buf`` (which runs
    on past them in newlines): their first two bytes compared two at a time, at even
    offsets then at odd ones, a quarter of what bytes.find costs for each word."""
    found = []
    for start in (0, 1):
        two = np.frombuffer(buf, "<u2", count=size // 2 + 1, offset=start)
        found.append(np.flatnonzero((two == _IN) | (two == _NA)) * 2 + start)
    at = np.concatenate(found)
    third = buf[at + 2]
    return at[np.where(buf[at] == ord("I"), third == ord("f"), third == ord("N"))]


def _suspects(block: Block) -> np.ndarray:
    """Lines RapidJSON may read where Python does not (see the module's doc), and
    those it would refuse that are easily told."""
    out = np.zeros(block.n, bool)
    raw, buf = block.raw, block.buf
    at = []
    for pos in _words(buf, block.size).tolist():
        # Rare as values but in "Info": judged by what stands before.
        j = pos - 1
        while j >= 0 and raw[j] in _SPACE_OR_MINUS:
            j -= 1
        if j >= 0 and raw[j] in _VALUE_OPENS:
            at.append(pos)
    if at:
        out[np.searchsorted(block.starts, np.array(at), "right") - 1] = True
    # A value that opens an array or an object: journalctl's byte arrays and lists of
    # values, which the parser refuses in a field read and Python reads; sent to
    # entry() now rather than found by halving (one in ten lines made that 40x slower).
    # A bracket is found once a block; its value's key ends at most a space before it.
    at = np.flatnonzero((buf[:block.size] == ord("[")) | (buf[:block.size] == ord("{")))
    before = buf[np.maximum(at - 1, 0)]
    value = (before == ord(":")) | ((before == ord(" ")) & (buf[np.maximum(at - 2, 0)] == ord(":")))
    line_of = np.searchsorted(block.starts, at, "right") - 1
    out[line_of[value]] = True
    # Only a line that long can hold brackets enough for Python's RecursionError.
    if (block.ends - block.starts >= _MAX_BRACKETS).any():
        out |= np.bincount(line_of, minlength=block.n) >= _MAX_BRACKETS
    return out


def read_columns(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    no = 0
    for text in line_groups(ctx):
        block = Block(text)
        opens, counted = json_records(block)
        record_nos = no + np.cumsum(counted) - 1
        no += int(counted.sum())

        lines = np.flatnonzero(opens & ~_suspects(block))
        feed, offsets = feed_of(block, lines)
        parts: list[tuple[int, pa.Table]] = []
        if len(lines):
            parse_lines(feed, offsets, 0, len(lines), parts)
        fast = np.zeros(block.n, bool)
        tables, numbers = [], []
        for first, table in parts:
            rows, keep = _rows(table, ctx.default_host)
            which = lines[first:first + table.num_rows][keep]
            fast[which] = True
            tables.append(rows)
            numbers.append(record_nos[which])
        # What the parser left, through the reference one line at a time, in file order.
        slow = [row for i in np.flatnonzero(counted & ~fast)
                if (row := entry(block.line(i), int(record_nos[i]), ctx)) is not None]
        if slow:
            cols = list(zip(*slow))
            tables.append(pa.table({"logged": pa.array(cols[2], TIMESTAMP), "host": pa.array(cols[1], pa.string()),
                                    "provider": pa.array(cols[3], pa.string()), "message": pa.array(cols[4], pa.string()),
                                    "data": pa.array(cols[5], pa.string())}))
            numbers.append(np.array(cols[0], np.int64))
        if not tables:
            continue
        table = pa.concat_tables(tables)
        record_no = np.concatenate(numbers)
        order = np.argsort(record_no, kind="stable")
        if slow or len(tables) > 1:
            table, record_no = table.take(order), record_no[order]
        if table.num_rows:
            yield events_of(table, record_no, ctx.file_id, FORMAT, CHANNEL)
    if no == 0:
        raise UnusableFile("no journal entries (blank file)")


def events_of(table: pa.Table, record_no: np.ndarray, file_id: int, format: str, channel: str) -> pa.RecordBatch:
    """EVENTS rows from a table of logged, host, provider, message and data."""
    n = table.num_rows
    cols = {
        "file_id": pa.array(np.full(n, file_id, np.int32)),
        "record_no": pa.array(record_no, pa.int64()),
        "record_id": pa.nulls(n, pa.int64()),
        "format": repeat(format, n),
        "channel": repeat(channel, n),
        "event_id": pa.nulls(n, pa.int32()),
    }
    for name in ("host", "logged", "provider", "message", "data"):
        cols[name] = table.column(name).combine_chunks()
    return pa.RecordBatch.from_arrays([cols[name].cast(EVENTS.field(name).type) for name in EVENTS.names],
                                      schema=EVENTS)
