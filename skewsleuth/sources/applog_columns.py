"""JSON Lines application logs read column-wise: lines grouped by shape, each shape
parsed by Arrow's JSON reader and its rows built with Arrow compute.

A logger writes the same keys in the same order, with values of the same kinds, at
each of its call sites. A line's *shape* is its keys as written (escapes and all),
each with its depth in the line's objects and the kind of its value (text, integer,
float, true, false, null, object, list; found with numpy over the whole block: the
quotes no backslash escapes, the strings a colon follows, the brackets outside
strings). Lines of one shape have one key order, one nesting and one type per key,
which Arrow's JSON reader, typing a column by its values, needs, and which
``fields`` (in the line's own key order) needs. Each shape of ``_FEWEST`` lines or
more in a block is parsed alone (a column Arrow reads as a time is read again as
text), and where :func:`.applog.record_of` would take a field is decided once per
shape, from its keys: the first time key; the first non-empty message, host,
provider, request id and peer coalesced row by row over the shape's text columns in
applog's order (a dotted name looked up flat, then through its objects); the values
nested in objects listed as ``_flatten`` lists them.

What it does not build goes through :func:`.applog.read_line` one line at a time, in
order, with its quarantines and record numbers (an OTLP line counts a record a span):

* a line that does not open with ``{``, whose quotes do not pair, or that is longer
  than applog cuts a text at (64 KiB);
* a shape that holds a list, objects nested past ``_flatten``'s bounds, a float
  column with NaN, Infinity or a value past 2**53 (an integer past 64 bits reads as
  one), or a key applog reads in ways not built here (span kinds, trace / span ids,
  ``traceparent``, ``end``, an access log's duration, a ``message`` not text), or a
  time in neither ISO 8601 text nor an epoch number;
* a line Arrow's parser refuses (duplicate keys, trailing commas, raw control
  characters, lone surrogates, text after the object; see ``parse_lines``);
* a row whose time is not read here (not matched by applog's pattern, a date that
  does not exist, before 1970 or after 9999, NaN, a local time in an hour with a zone
  change), whose text holds a control character JSON writes as ``\\u00XX``, whose
  direction or phase word is not ASCII, or whose float Arrow writes with an exponent
  where Python writes a point within its digits (one in a few hundred).

``applog.read(ctx, columnar=False)`` is the reference this must equal.
"""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..errors import UnusableFile
from ..schema import EVENTS
from . import applog
from .applog import (_ACCESS_HINTS, _ISO, _DIRECTION_KEYS, _END_KEYS, _HOST_KEYS, _KIND_KEYS, _MAX_DEPTH,
                     _MAX_NESTED, _MAX_PATH, _MAX_TEXT, _MAX_US,
                     _MESSAGE_KEYS, _PARENT_KEYS, _PEER_KEYS, _PEER_LATE_KEYS, _PEER_OF_CLIENT, _PEER_OF_SERVER,
                     _PHASE_KEYS, _PHASES, _PROVIDER_KEYS, _REQUEST_KEYS, _SPAN_KEYS, _TIME_KEYS, _TRACE_KEYS,
                     _TRACEPARENT_KEYS, _WRITTEN_AT_END, CHANNEL, DIRECTION_WORDS, FORMAT, read_line)
from .base import EventBatchBuilder, FileContext
from .journald_columns import events_of, line_groups, parse_lines
from .textcols import Block, json_records, lut
from .timeparse import Localizer, days_from_civil, valid_dates

# A shape read column-wise costs about a millisecond (a parse, some fifty kernels):
# rarer shapes are read line by line.
_FEWEST = 64
# Spaces before a colon or a value, and digits of a number, followed this far; a
# longer run sends its line to read_line.
_MAX_RUN = 64
_INFER = pj.ParseOptions(newlines_in_values=False)
_TYPES = (pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null())
# Past this a float may be an integer too large for 64 bits that Arrow read as one
# (Python keeps its digits), or lose the digits of an epoch in nanoseconds.
_EXACT = float(1 << 53)
# Arrow's shortest text of a float, to be written as Python's repr writes it.
_SHORTEST = r"^(?P<m>-?)(?P<i>\d+)(?:\.(?P<f>\d+))?(?:e(?P<e>[+-]\d+))?$"
_NULL = pa.scalar(None, pa.string())

_SPACE = lut(b" \t\r")
# A value's kind by its first byte: a number's digits and sign are one kind, "0" for
# an integer, "." for one with a fraction or an exponent (Arrow types a column by its
# values: an integer column holding a float would be read as floats).
_DIGIT = lut(b"-0123456789")
_KIND = np.arange(256, dtype=np.uint8)
_KIND[_DIGIT] = ord("0")
_FRACTION = lut(b".eE")

# Keys whose reading is left to read_line: their shapes are read line by line.
_LINE_KEYS = frozenset(_KIND_KEYS[1] | _TRACE_KEYS[1] | _SPAN_KEYS[1] | _PARENT_KEYS[1] | frozenset(_END_KEYS)
                       | frozenset(_TRACEPARENT_KEYS))
# applog's _ISO in RE2, whose \d is ASCII only (Python's reads other digits too: those
# rows, unmatched here, go to read_line).
_ISO_RE2 = (r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[Tt ](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
            r"(?:[.,](?P<f>\d+))? ?(?P<z>Z|z|[+-]\d\d(?::?\d\d)?)?$")
# What str.strip() takes off ASCII text.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
# JSON escapes json.dumps writes by name; any other control character is \u00XX and
# sends its row to read_line.
_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f"))


# --- shapes ----------------------------------------------------------------------------------


def _shapes(block: Block) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Each line's shape, its keys as written each with its depth and the kind of its
    value, as a dictionary-encoded array; which lines cannot be read column-wise
    whatever their shape (quotes that do not pair, runs of spaces too long to follow,
    or longer than applog cuts a text at); and which hold a backslash."""
    buf, starts = block.buf, block.starts
    bad = block.ends - starts > _MAX_TEXT
    escapes = np.zeros(block.n, bool)
    quotes = np.flatnonzero(buf[:block.size] == 34)
    # most blocks hold none: told by one search, not a pass of numpy
    backslashes = np.flatnonzero(buf[:block.size] == 92) if b"\\" in block.raw else ()
    if len(backslashes):
        escapes[_line_of(block, backslashes)] = True
        # A quote is escaped by an odd run of backslashes before it: the run's length
        # from where the backslash before the quote stands in the run it ends.
        run_start = np.ones(len(backslashes), bool)
        run_start[1:] = backslashes[1:] != backslashes[:-1] + 1
        first_of_run = np.maximum.accumulate(np.where(run_start, np.arange(len(backslashes)), 0))
        after_bs = quotes[(quotes > 0) & (buf[np.maximum(quotes - 1, 0)] == 92)]
        last = np.searchsorted(backslashes, after_bs - 1)
        escaped = np.zeros(block.size, bool)
        escaped[after_bs[(last - first_of_run[last]) % 2 == 0]] = True
        quotes = quotes[~escaped[quotes]]
    # Quotes pair within a line; a line of an odd number is no JSON, and its last
    # quote is dropped so that the pairs of the lines after it hold.
    first = np.searchsorted(quotes, starts)
    counts = np.diff(np.append(first, len(quotes)))
    odd_lines = counts % 2 == 1
    if odd_lines.any():
        bad |= odd_lines
        keep = np.ones(len(quotes), bool)
        keep[first[odd_lines] + counts[odd_lines] - 1] = False
        quotes = quotes[keep]
    opens, closes = quotes[0::2], quotes[1::2]
    # A key is a string a colon follows (white space between, within the line); its
    # value starts at the next byte not white space.
    colon = _skip_space(block, closes + 1, bad)
    key = buf[colon] == ord(":")
    opens, closes, colon = opens[key], closes[key], colon[key]
    value = _skip_space(block, colon + 1, bad)
    # Per key, the quoted key up to its value's first byte, written over by the
    # value's kind; a line's keys are adjacent in the pieces Arrow's take copies out.
    kinds = buf.copy()
    kinds[value] = _kinds(block, value)
    # and the colon by the key's depth: one object's keys from another's
    if np.isin(kinds[value], (123, 91)).any():
        # (a line closing more than it opens is no JSON: its depths need only stay bytes)
        kinds[colon] = 48 + np.clip(_depths(block, quotes, opens), 0, 64)
    else:
        kinds[colon] = 49
    pieces = block.strings(opens, value + 1, kinds)
    at = np.frombuffer(pieces.buffers()[1], np.int32)[pieces.offset:pieces.offset + len(pieces) + 1]
    if len(opens):
        offsets = at[np.append(np.searchsorted(opens, starts), len(opens))]
    else:
        offsets = np.zeros(block.n + 1, np.int32)
    data = pieces.buffers()[2] if len(opens) else pa.py_buffer(b"")
    shapes = pa.Array.from_buffers(pa.binary(), block.n, [None, pa.py_buffer(offsets), data])
    return pc.dictionary_encode(shapes), bad, escapes


def _kinds(block: Block, value: np.ndarray) -> np.ndarray:
    """The kind byte of each value starting at ``value`` (see _KIND)."""
    kinds = _KIND[block.at(value)]
    number = np.flatnonzero(kinds == ord("0"))
    pos = value[number]
    for _ in range(_MAX_RUN):
        digit = _DIGIT[block.at(pos)]
        if not digit.any():
            break
        pos = pos + digit
    # a number past _MAX_RUN digits, too, is no integer Arrow reads
    kinds[number[_FRACTION[block.at(pos)] | _DIGIT[block.at(pos)]]] = ord(".")
    return kinds


def _line_of(block: Block, pos: np.ndarray) -> np.ndarray:
    return np.searchsorted(block.starts, pos, "right") - 1


def _skip_space(block: Block, pos: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """The first position from each of ``pos`` that is not a space, tab or CR."""
    for _ in range(_MAX_RUN):
        space = _SPACE[block.at(pos)]
        if not space.any():
            return pos
        pos = pos + space
    bad[_line_of(block, pos[space])] = True
    return pos


def _depths(block: Block, quotes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """How many objects and lists each key at ``keys`` lies in, within its line: the
    brackets before it outside strings (between no pair of ``quotes``)."""
    buf = block.buf[:block.size]
    brackets = np.flatnonzero((buf == 123) | (buf == 125) | (buf == 91) | (buf == 93))
    brackets = brackets[np.searchsorted(quotes, brackets, "right") % 2 == 0]
    level = np.concatenate(([0], np.cumsum(np.where((buf[brackets] == 123) | (buf[brackets] == 91), 1, -1))))
    before = level[np.searchsorted(brackets, keys)]
    line_start = level[np.searchsorted(brackets, block.starts[_line_of(block, keys)])]
    return before - line_start


# --- values as json.dumps writes them ----------------------------------------------------------


def _nonempty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), _NULL, values)


def _escaped(values: pa.Array, escapes: bool) -> pa.Array:
    """Text as json.dumps writes it between its quotes. Without a backslash in its
    line a value holds nothing to escape: a raw quote or control character is not JSON."""
    if escapes and values.type == pa.string():
        for char, escape in _ESCAPES:
            values = pc.replace_substring(values, char, escape)
    return values


Member = tuple[str, pa.Array, bool]   # key, value (null: left out), whether a text to quote


def _object(members: list[Member], n: int) -> pa.Array:
    """``{...}`` of the non-null members, as json.dumps writes it."""
    members = [m for m in members if m[1].null_count < n]
    if not members:
        return pa.array(["{}"] * n, pa.string())
    if not any(m[1].null_count for m in members):
        # every member in every row: one join, the keys and quotes between the values
        pieces: list = []
        text = "{"
        for key, value, quoted in members:
            pieces += [text + json.dumps(key, ensure_ascii=False) + (': "' if quoted else ": "), value]
            text = ('"' if quoted else "") + ", "
        pieces.append(text[:-2] + "}")
        return pc.binary_join_element_wise(*pieces, "")
    parts = [pc.binary_join_element_wise(json.dumps(key, ensure_ascii=False) + (': "' if quoted else ": "), value,
                                         '"' if quoted else "", "") for key, value, quoted in members]
    body = pc.binary_join_element_wise(*parts, pa.array([""] * n, pa.string()), ", ", null_handling="skip")
    # Every member ends in a quote, a digit, a letter or a brace: only the last separator is trimmed.
    return pc.binary_join_element_wise("{", pc.utf8_rtrim(body, ", "), "}", "")


def _word(values: pa.Array, table: dict[str, str], slow: list[pa.Array]) -> pa.Array:
    """applog's ``_word`` on one column: ``table[v.strip().lower()]``; text that is not
    ASCII is left to read_line (str.strip() and lower() reach past ASCII)."""
    slow.append(pc.invert(pc.fill_null(pc.string_is_ascii(values), True)))
    words = pc.ascii_lower(pc.utf8_trim(values, _ASCII_SPACE))
    keys = pa.array(list(table), pa.string())
    return pc.take(pa.array(list(table.values()), pa.string()), pc.index_in(words, keys))


def _first(candidates: list[tuple[str, pa.Array]], n: int) -> tuple[pa.Array, pa.Array]:
    """The first non-null of the candidates, row by row, and the index of the one taken."""
    if not candidates:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.int8())
    value = pc.coalesce(*[c for _, c in candidates]) if len(candidates) > 1 else candidates[0][1]
    which = pc.coalesce(*[pc.if_else(pc.is_valid(c), pa.scalar(i, pa.int8()), pa.scalar(None, pa.int8()))
                          for i, (_, c) in enumerate(candidates)])
    return value, which


def _float_repr(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Floats as Python's repr writes them, and which rows are so written (the rest to
    read_line): Arrow's shortest digits, which are Python's, placed by Python's rule
    (an exponent of at least two digits below 1e-4 and from 1e16, else fixed with a
    ".0" on a whole number); a number Arrow wrote with an exponent that Python writes
    with a point within its digits is not rewritten."""
    s = pc.cast(values, pa.string())
    m = pc.extract_regex(s, _SHORTEST)
    written = pc.fill_null(pc.is_valid(m), False)
    whole_part = pc.struct_field(m, "i")
    digits = pc.binary_join_element_wise(whole_part, pc.fill_null(pc.struct_field(m, "f"), ""), "")
    exponent = pc.fill_null(pc.struct_field(m, "e"), "")
    exponent = pc.cast(pc.if_else(pc.equal(exponent, ""), "0", pc.utf8_ltrim(exponent, "+")), pa.int64())
    significant = pc.utf8_ltrim(digits, "0")
    d = pc.utf8_rtrim(significant, "0")
    k = pc.utf8_length(d)
    # value = 0.d x 10**point
    point = pc.subtract(pc.add(pc.utf8_length(whole_part), exponent),
                        pc.subtract(pc.utf8_length(digits), pc.utf8_length(significant)))
    x = pc.subtract(point, 1)
    scientific = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(d, 0, 1),
        pc.if_else(pc.greater(k, 1), pc.binary_join_element_wise(".", pc.utf8_slice_codeunits(d, 1, 64), ""), ""),
        "e", pc.if_else(pc.less(x, 0), "-", "+"), pc.utf8_lpad(pc.cast(pc.abs(x), pa.string()), 2, "0"), "")
    below_one = pc.binary_join_element_wise("0.", pc.binary_repeat("0", pc.max_element_wise(pc.negate(point), 0)),
                                            d, "")
    whole = pc.binary_join_element_wise(d, pc.binary_repeat("0", pc.max_element_wise(pc.subtract(point, k), 0)),
                                        ".0", "")
    exp_form = pc.or_(pc.less_equal(point, -4), pc.greater(point, 16))
    text = pc.if_else(exp_form, scientific, pc.if_else(pc.less_equal(point, 0), below_one,
                      pc.if_else(pc.greater_equal(point, k), whole, pc.utf8_ltrim(s, "-"))))
    within = pc.and_(pc.invert(exp_form), pc.and_(pc.greater(point, 0), pc.less(point, k)))
    written = pc.and_(written, pc.invert(pc.and_(within, pc.match_substring(s, "e"))))
    text = pc.if_else(pc.equal(k, 0), "0.0", text)
    return pc.if_else(pc.equal(pc.struct_field(m, "m"), "-"), pc.binary_join_element_wise("-", text, ""), text), \
        pc.fill_null(written, False)


# --- time ------------------------------------------------------------------------------------


Fields = tuple[np.ndarray, ...]   # ok, year, month, day, hour, minute, second, micros, zoned, sign, zone h, zone m


def _iso_us(values: pa.Array, localizer: Localizer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """applog's ``_when`` on ISO 8601 text: epoch microseconds, which rows it reads (the
    rest to read_line), and whether the times were local (``tz_assumed``)."""
    fields = _iso_fixed(values)
    if fields is None:
        fields = _iso_matched(values)
    ok, y, mo, d, hh, mi, ss, us, zoned, sign, zh, zm = fields
    if not ok.any():
        return np.zeros(len(values), np.int64), ok, ok
    mo = np.clip(mo, 1, 12) if (bad_month := (mo < 1) | (mo > 12)).any() else mo
    ok &= ~bad_month & (hh <= 23) & (mi <= 59) & (ss <= 60) & valid_dates(y, mo, d) & ((zh <= 23) & (zm <= 59))
    leap = ss == 60
    ss, us = np.where(leap, 59, ss), np.where(leap, 999_999, us)
    wall = (days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss) * 1_000_000 + us
    wall -= np.where(zoned, sign * (zh * 3600 + zm * 60) * 1_000_000, 0)
    local = ok & ~zoned
    if local.any():
        off, known = localizer.hour_offsets(wall[local])
        wall[local] -= off
        ok[local] &= known
    ok &= (wall >= 0) & (wall < _MAX_US)
    return wall, ok, local


def _iso_matched(values: pa.Array) -> Fields:
    """The fields of applog's _ISO, matched by RE2 row by row."""
    m = pc.extract_regex(values, _ISO_RE2)
    ok = np.asarray(pc.is_valid(m).to_numpy(zero_copy_only=False), bool)

    def num(text: pa.Array) -> np.ndarray:
        return np.asarray(pc.cast(pc.fill_null(text, "0"), pa.int64()).to_numpy(zero_copy_only=False), np.int64)

    y, mo, d, hh, mi, ss = (num(pc.struct_field(m, name)) for name in ("y", "mo", "d", "h", "mi", "s"))
    frac = pc.fill_null(pc.struct_field(m, "f"), "")
    us = num(pc.utf8_rpad(pc.utf8_slice_codeunits(pc.if_else(pc.equal(frac, ""), "0", frac), 0, 6), 6, "0"))
    zone = pc.fill_null(pc.struct_field(m, "z"), "")
    zoned = np.asarray(pc.not_equal(zone, "").to_numpy(zero_copy_only=False), bool)
    # ±hh, ±hhmm, ±hh:mm and Z as ±hhmm
    z = pc.utf8_rpad(pc.replace_substring(pc.if_else(pc.is_in(zone, pa.array(["", "Z", "z"])), "+0000", zone),
                                          ":", ""), 5, "0")
    sign = np.where(np.asarray(pc.starts_with(z, "-").to_numpy(zero_copy_only=False), bool), -1, 1)
    return ok, y, mo, d, hh, mi, ss, us, zoned, sign, num(pc.utf8_slice_codeunits(z, 1, 3)), \
        num(pc.utf8_slice_codeunits(z, 3, 5))


def _iso_fixed(values: pa.Array) -> Fields | None:
    """The fields of applog's _ISO when every row is ASCII text of one layout (a
    logger writes one): digits in the same places, the same bytes between them. The
    first row, matched by _ISO itself, says where each field lies in all of them, read
    from the strings' bytes as one matrix. None when the rows differ."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset:values.offset + n + 1]
    width = int(offsets[1] - offsets[0]) if n else 0
    if values.null_count or not 19 <= width <= 64 or (np.diff(offsets) != width).any():
        return None
    data = np.frombuffer(values.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    first = data[0]
    digit = (first >= 48) & (first <= 57)
    if (first >= 128).any():
        return None
    # Unstripped, as every row: white space _ISO does not take leaves it unmatched.
    m = _ISO.match(first.tobytes().decode("ascii"))
    if m is None or not (data[:, ~digit] == first[~digit]).all():
        return None
    cols = data[:, digit]
    if ((cols < 48) | (cols > 57)).any():
        return None
    number = np.cumsum(digit) - 1   # the column of each position's digit in cols

    def num(a: int, b: int) -> np.ndarray:
        out = np.zeros(n, np.int64)
        for j in range(a, b):
            out = out * 10 + (cols[:, number[j]] - 48)
        return out

    y, mo, d, hh, mi, ss = (num(*m.span(g)) for g in range(1, 7))
    us = np.zeros(n, np.int64)
    if m.group(7):
        a, b = m.span(7)
        us = num(a, min(b, a + 6)) * 10 ** (6 - min(b - a, 6))
    zone = m.group(8)
    zh = zm = np.zeros(n, np.int64)
    if zone and zone not in "Zz":
        a, b = m.span(8)
        zh = num(a + 1, a + 3)
        if b - a > 3:
            zm = num(b - 2, b)
    ones = np.ones(n, bool)
    return ones, y, mo, d, hh, mi, ss, us, ones if zone else ~ones, \
        np.full(n, -1 if zone and zone[0] == "-" else 1), zh, zm


def _epoch_us(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """applog's ``_epoch_us`` on integers or floats (the unit by magnitude, a float's
    product rounded half to even as round() does); negative ones, those past 9999 and
    NaN (which Python reads as null) to read_line."""
    if values.type == pa.float64():
        f = np.asarray(pc.fill_null(values, -1.0).to_numpy(zero_copy_only=False), np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            product = np.where(f < 1e11, f * 1_000_000, np.where(f < 1e14, f * 1000, np.where(f < 1e17, f, f / 1000)))
            ok = np.isfinite(product) & (f >= 0) & (np.round(product) < _MAX_US)
            return np.where(ok, np.round(product), 0).astype(np.int64), ok
    v = np.asarray(pc.fill_null(values, -1).to_numpy(zero_copy_only=False), np.int64)
    us = np.where(v < 100_000_000_000, v * 1_000_000,
                  np.where(v < 100_000_000_000_000, v * 1000, np.where(v < 10**17, v, v // 1000)))
    ok = (v >= 0) & (us < _MAX_US)
    return np.where(ok, us, 0), ok


# --- rows of one shape -----------------------------------------------------------------------


def _scalars(t: pa.DataType) -> bool:
    """Text, numbers, booleans and nulls, or objects of them (no list)."""
    return t in _TYPES or (pa.types.is_struct(t) and all(_scalars(f.type) for f in t))


def _leaves(arrays: list[pa.Array], of: pa.DataType) -> Iterator[pa.Array]:
    """Every column of type ``of``, nested ones too."""
    for a in arrays:
        if a.type == of:
            yield a
        elif pa.types.is_struct(a.type):
            yield from _leaves([a.field(i) for i in range(a.type.num_fields)], of)


def _exact(values: pa.Array) -> bool:
    """A float column every row of which is a float Python reads alike: finite (NaN
    and Infinity are null to Python, and an integer column holding -NaN or -Infinity
    is one kind with them) and within 2**53."""
    return not pc.any(pc.invert(pc.less(pc.abs(values), _EXACT))).as_py()


def _nested(col: dict[str, pa.Array], names: list[str]) -> list[tuple[str, pa.Array]] | None:
    """The scalars nested in the shape's objects as applog's _flatten lists them: by
    dotted path, shallower first, each object's keys in order; a path a top-level
    scalar or a shallower value holds already left out. None past _flatten's bounds
    (its lines then go to read_line, which notes ``fields_cut``)."""
    taken = {k for k in names if col[k].type != pa.null() and not pa.types.is_struct(col[k].type)}
    level = [(k, col[k]) for k in names if pa.types.is_struct(col[k].type)]
    out: list[tuple[str, pa.Array]] = []
    depth = 1
    while level:
        depth += 1
        if depth >= _MAX_DEPTH:
            return None
        deeper = []
        for prefix, values in level:
            for i, f in enumerate(values.type):
                path = prefix + "." + f.name
                if len(path) > _MAX_PATH or len(out) + len(deeper) >= _MAX_NESTED:
                    return None
                if pa.types.is_struct(f.type):
                    if f.type.num_fields:
                        deeper.append((path, values.field(i)))
                elif f.type != pa.null() and path not in taken:
                    taken.add(path)
                    out.append((path, values.field(i)))
        level = deeper
    return out


def _plan(names: list[str], types: dict[str, pa.DataType]) -> str | None:
    """The time key of a shape read column-wise, or None when its lines go to read_line."""
    present = [k for k in names if types[k] != pa.null()]
    keys = set(present)
    time_key = next((k for k in _TIME_KEYS if k in keys), None)
    if not all(_scalars(t) for t in types.values()):
        return None
    if keys & _LINE_KEYS or any(k.startswith("dd.") for k in keys):
        return None
    if any(types.get(k) not in (None, pa.null(), pa.string()) for k in ("message", "msg")):
        return None
    if time_key is None or types[time_key] not in (pa.string(), pa.int64(), pa.float64()):
        return None
    if (time_key in _WRITTEN_AT_END and "request_time" in keys) or (time_key == "start_time" and "duration" in keys):
        return None
    return time_key


def _rows(t: pa.Table, default_host: str, localizer: Localizer, escapes: bool) -> tuple[pa.Table, np.ndarray] | None:
    """The rows record_of would build from the lines of one shape (``escapes``: some
    with a backslash), and which of them those are; None when the shape is left to
    read_line."""
    names = t.column_names
    t = t.combine_chunks()
    col = {k: t.column(k).chunk(0) if t.column(k).num_chunks else pa.nulls(len(t), t.schema.field(k).type)
           for k in names}
    types = {k: col[k].type for k in names}
    time_key = _plan(names, types)
    if time_key is None or not all(_exact(v) for v in _leaves(list(col.values()), pa.float64())):
        return None
    n = len(t)
    text = {k: c for k, c in col.items() if c.type == pa.string()}
    slow: list[pa.Array] = []
    if escapes:
        # what json.dumps writes as \u00XX: left to read_line
        slow += [pc.match_substring_regex(c, r"[\x00-\x07\x0b\x0e-\x1f]")
                 for c in _leaves(list(col.values()), pa.string())]

    if types[time_key] == pa.string():
        us, ok, local = _iso_us(col[time_key], localizer)
    else:
        us, ok = _epoch_us(col[time_key])
        local = np.zeros(n, bool)

    def lookup(key: str) -> pa.Array | None:
        """applog's _lookup: the flat key, else (a dotted one) through nested objects."""
        v = col.get(key)
        if (v is None or v.type == pa.null()) and "." in key:
            parts = key.split(".")
            v = col.get(parts[0])
            for part in parts[1:]:
                i = v.type.get_field_index(part) if v is not None and pa.types.is_struct(v.type) else -1
                v = v.field(i) if i >= 0 else None
        return None if v is None or v.type == pa.null() else v

    def strings(group: tuple[tuple[str, ...], frozenset[str]]) -> list[tuple[str, pa.Array]]:
        return [(k, _nonempty(v)) for k in group[0] if (v := lookup(k)) is not None and v.type == pa.string()]

    messages = strings(_MESSAGE_KEYS)
    message, message_at = _first(messages, n)
    hosts = []
    for k in _HOST_KEYS[0]:
        v = lookup(k)
        if v is not None and v.type == pa.string() and not (k == "host" and any(h in names for h in _ACCESS_HINTS)):
            hosts.append((k, _nonempty(v)))
        elif k == "host" and v is not None and pa.types.is_struct(v.type):
            # its name, else its hostname (not a flat "host.name" key)
            for field, path in (("name", "host.name"), ("hostname", "host.hostname")):
                i = v.type.get_field_index(field)
                if i >= 0 and v.type.field(i).type == pa.string():
                    hosts.append((path, _nonempty(v.field(i))))
    host, host_at = _first(hosts, n)
    providers = strings(_PROVIDER_KEYS)
    if "name" in text and ("levelname" in names or ("hostname" in names and "pid" in names)):
        providers.append(("name", _nonempty(text["name"])))
    provider, provider_at = _first(providers, n)

    corr: list[Member] = []
    requests = []
    for k in _REQUEST_KEYS[0]:
        v = lookup(k)
        if v is not None and v.type == pa.string():
            requests.append((k, _nonempty(v)))
        elif v is not None and v.type == pa.int64():
            requests.append((k, pc.cast(v, pa.string())))
    request_id, _ = _first(requests, n)
    corr.append(("request_id", _escaped(request_id, escapes), True))
    direction = None
    if "direction" in text:
        direction = _word(text["direction"], DIRECTION_WORDS, slow)
        corr.append(("direction", direction, True))
    phases = [(k, _word(text[k], _PHASES, slow)) for k in _PHASE_KEYS[0] if k in text]
    if phases:
        corr.append(("phase", _first(phases, n)[0], True))
    peers = strings(_PEER_KEYS)
    if direction is not None:
        for group, side in ((_PEER_OF_CLIENT, "outgoing"), (_PEER_OF_SERVER, "incoming")):
            peers += [(k, pc.if_else(pc.fill_null(pc.equal(direction, side), False), c, _NULL))
                      for k, c in strings(group)]
    peers += strings(_PEER_LATE_KEYS)
    corr.append(("peer", _escaped(_first(peers, n)[0], escapes), True))

    # fields: every scalar but the ones taken, in the line's key order
    taken: dict[str, pa.Array] = {}
    for candidates, at in ((providers, provider_at), (hosts, host_at), (messages, message_at)):
        for i, (k, _) in enumerate(candidates):
            hit = pc.fill_null(pc.equal(at, i), False)
            taken[k] = pc.or_(taken[k], hit) if k in taken else hit
    nested = _nested(col, names)
    if nested is None:
        return None
    members: list[Member] = []
    for k, value in [(k, col[k]) for k in names] + nested:
        if value.type == pa.null() or k == time_key or pa.types.is_struct(value.type):
            continue
        quoted = value.type == pa.string()
        if value.type == pa.bool_():
            value = pc.if_else(value, "true", "false")
        elif value.type == pa.int64():
            value = pc.cast(value, pa.string())
        elif value.type == pa.float64():
            value, written = _float_repr(value)
            slow.append(pc.invert(written))
        else:
            value = _escaped(value, escapes)
        if k in taken:
            value = pc.if_else(taken[k], _NULL, value)
        members.append((k, value, quoted))
    data: list[Member] = [("corr", _object(corr, n), False), ("fields", _object(members, n), False)]
    if local.any():
        data.insert(0, ("tz_assumed", pc.if_else(pa.array(local), "true", _NULL), False))
    keep = ok.copy()
    for s in slow:
        keep &= ~np.asarray(pc.fill_null(s, True).to_numpy(zero_copy_only=False), bool)
    rows = pa.table({"logged": pa.array(us, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                     "host": pc.coalesce(host, default_host), "provider": provider, "message": message,
                     "data": _object(data, n)})
    return rows.filter(pa.array(keep)), keep


# --- reader ----------------------------------------------------------------------------------


def read_columns(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    localizer = Localizer(ctx.timezone)
    no = 0
    for text in line_groups(ctx, applog.MAX_LINE):
        block = Block(text)
        opens, counted = json_records(block)
        tables, lines_of = _by_shape(block, opens, ctx.default_host, localizer)
        fast = np.zeros(block.n, bool)
        for which in lines_of:
            fast[which] = True
        # The rest through the reference, one line at a time, in file order; a line
        # may hold several records (OTLP spans), which moves the numbers of those after it.
        builder = EventBatchBuilder(ctx.file_id)
        batches = []
        slow_lines = np.flatnonzero(counted & ~fast)
        shift = np.zeros(len(slow_lines), np.int64)   # records more than lines, up to each slow line
        index = np.cumsum(counted) - 1
        extra = 0
        for j, i in enumerate(slow_lines.tolist()):
            start = no + int(index[i]) + extra
            gen = read_line(block.line(i), start, builder, ctx.quarantine, localizer, ctx.default_host)
            while True:
                try:
                    batches.append(next(gen))
                except StopIteration as stop:
                    end = stop.value
                    break
            extra += end - start - 1
            shift[j] = extra
        if tables:
            fast_lines = np.concatenate(lines_of)
            before = np.searchsorted(slow_lines, fast_lines, "right") - 1
            record_no = no + index[fast_lines] + np.concatenate(([0], shift))[before + 1]
            batches.append(events_of(pa.concat_tables(tables), record_no, ctx.file_id, FORMAT, CHANNEL))
        last = builder.flush()
        if last is not None:
            batches.append(last)
        no += int(counted.sum()) + extra
        if not batches:
            continue
        table = pa.Table.from_batches(batches, EVENTS)
        if tables:   # the shapes' rows come shape by shape
            table = table.take(pc.sort_indices(table, [("record_no", "ascending")]))
        yield from table.combine_chunks().to_batches()
    if no == 0:
        raise UnusableFile("no log lines (blank file)")


def _by_shape(block: Block, opens: np.ndarray, default_host: str, localizer: Localizer
              ) -> tuple[list[pa.Table], list[np.ndarray]]:
    """The rows of the lines read column-wise, a table a part of a shape, and the
    lines each holds."""
    shapes, bad, escapes = _shapes(block)
    indices = np.asarray(shapes.indices.to_numpy(zero_copy_only=False))
    eligible = opens & ~bad
    sizes = np.bincount(indices[eligible], minlength=len(shapes.dictionary))
    wanted = sizes >= _FEWEST
    lines = np.flatnonzero(eligible & wanted[indices])
    if not len(lines):
        return [], []
    # The lines of each shape one after the other in one buffer (Arrow's take copies
    # each line whole), each shape's run parsed alone.
    lines = lines[np.argsort(indices[lines], kind="stable")]
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(indices[lines])) + 1, [len(lines)]))
    every = pa.Array.from_buffers(pa.binary(), block.n, [None, pa.py_buffer(
        np.append(block.starts, block.size + 1).astype(np.int32)), pa.py_buffer(block.buf)])
    taken = every.take(pa.array(lines))
    feed = taken.buffers()[2]
    offsets = np.frombuffer(taken.buffers()[1], np.int32)[taken.offset:]
    tables, lines_of = [], []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        for first, table in _parsed(feed, offsets, lo, hi):
            which = lines[first:first + table.num_rows]
            got = _rows(table, default_host, localizer, bool(escapes[which].any()))
            if got is not None:
                rows, keep = got
                tables.append(rows)
                lines_of.append(which[keep])
    return tables, lines_of


def _parsed(feed: pa.Buffer, offsets: np.ndarray, lo: int, hi: int) -> Iterator[tuple[int, pa.Table]]:
    """Arrow's reading of lines ``lo:hi`` of ``feed``, one shape's: (first line,
    table) for each part read, a column Arrow read as a time read again as text."""
    parts: list[tuple[int, pa.Table]] = []
    parse_lines(feed, offsets, lo, hi, parts, _INFER)
    for first, table in parts:
        if any(pa.types.is_temporal(f.type) for f in table.schema):
            schema = pa.schema([(f.name, pa.string() if pa.types.is_temporal(f.type) else f.type)
                                for f in table.schema])
            again: list[tuple[int, pa.Table]] = []
            parse_lines(feed, offsets, first, first + table.num_rows, again,
                        pj.ParseOptions(explicit_schema=schema, newlines_in_values=False))
            yield from again
        else:
            yield first, table
