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


def _number(values: pa.Array) -> pa.Array:
    """All-digit text as int() then str() write it: without leading zeros."""
    trimmed = pc.utf8_ltrim(values, "0")
    return pc.if_else(pc.equal(trimmed, ""), "0", trimmed)


def _keyword(values: pa.Array, names: tuple[str, ...]) -> pa.Array:
    """SEVERITIES / FACILITIES by number, null where the number names none."""
    n = pc.if_else(_digits(values, 20), _number(values), _NULL)
    small = pc.if_else(pc.less_equal(pc.utf8_length(n), 2), n, _NULL)
    index = pc.cast(small, pa.int32())
    index = pc.if_else(pc.less(index, len(names)), index, pa.scalar(None, pa.int32()))
    return pc.take(pa.array(names), index)


def _pair(key: str, value: pa.Array, quoted: bool) -> pa.Array:
    q = '"' if quoted else ""
    return pc.binary_join_element_wise(f'"{key}": {q}', value, q, "")


def _rows(t: pa.Table, default_host: str) -> tuple[pa.Table, np.ndarray]:
    """The EVENTS columns of the rows ``entry`` would build alike, and which those are."""
    t = t.combine_chunks()

    def col(name: str) -> pa.Array:
        return t.column(name).chunk(0) if t.column(name).num_chunks else pa.array([], pa.string())

    rt = col("__REALTIME_TIMESTAMP")
    ok = _digits(rt, 18)
    us = pc.cast(pc.if_else(ok, rt, _NULL), pa.int64())
    ok = pc.and_kleene(ok, pc.less_equal(us, _MAX_US))
    pid = col("_PID")
    # The text data holds, in one column: what json.dumps would escape sends the row to
    # entry(), and so does anything but printable ASCII (a few more, checked faster).
    # The last "" keeps a row whose texts are all null (binary_join_element_wise drops
    # it otherwise).
    texts = [col(field) for field, _ in TEXT_FIELDS] + [pc.if_else(_digits(pid, 20), "", pid), repeat("", len(t))]
    text = pc.binary_join_element_wise(*texts, "", null_handling="skip")
    plain = pc.and_(pc.ascii_is_printable(text), pc.invert(pc.or_(pc.match_substring(text, '"'),
                                                                  pc.match_substring(text, "\\"))))
    keep = pc.fill_null(pc.and_kleene(ok, plain), False)
    if not pc.all(keep).as_py():
        t = t.filter(keep).combine_chunks()
    pid = col("_PID")
    pid_digits = _digits(pid, 20)
    pairs = [pc.if_else(pid_digits, _pair("pid", _number(pid), False), _pair("pid", pid, True)),
             _pair("severity", _keyword(col("PRIORITY"), SEVERITIES), True),
             _pair("facility", _keyword(col("SYSLOG_FACILITY"), FACILITIES), True)]
    pairs += [_pair(key, col(field), True) for field, key in TEXT_FIELDS]
    pairs += [_pair(key, pc.if_else(_digits(col(field), 20), _number(col(field)), _NULL), False)
              for field, key in INT_FIELDS]
    # The last "" again; every piece ends in a digit or a quote, so only its separator
    # is trimmed.
    body = pc.utf8_rtrim(pc.binary_join_element_wise(*pairs, repeat("", len(t)), ", ", null_handling="skip"), ", ")
    data = pc.if_else(pc.equal(body, ""), _NULL, pc.binary_join_element_wise("{", body, "}", ""))
    hostname = col("_HOSTNAME")
    host = pc.if_else(pc.fill_null(pc.equal(hostname, ""), True), default_host, hostname)
    ident = col("SYSLOG_IDENTIFIER")
    provider = pc.if_else(pc.fill_null(pc.not_equal(ident, ""), False), ident, col("_COMM"))
    rows = pa.table({"logged": pc.cast(pc.cast(col("__REALTIME_TIMESTAMP"), pa.int64()), TIMESTAMP), "host": host,
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


def _suspects(block: Block) -> np.ndarray:
    """Lines RapidJSON may read where Python does not (see the module's doc), and
    those it would refuse that are easily told."""
    out = np.zeros(block.n, bool)
    raw = block.raw
    at = []
    for word in (b"Inf", b"NaN"):
        # Rare words but in "Info": found by find, then judged by what stands before.
        pos = raw.find(word)
        while pos >= 0:
            j = pos - 1
            while j >= 0 and raw[j] in _SPACE_OR_MINUS:
                j -= 1
            if j >= 0 and raw[j] in _VALUE_OPENS:
                at.append(pos)
            pos = raw.find(word, pos + 3)
    if at:
        out[np.searchsorted(block.starts, np.array(at), "right") - 1] = True
    # A value that opens an array or an object: journalctl's byte arrays and lists of
    # values, which the parser refuses in a field read and Python reads; sent to
    # entry() now rather than found by halving (one in ten lines made that 40x slower).
    # A bracket is found once a block; its value's key ends at most a space before it.
    buf = block.buf
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
