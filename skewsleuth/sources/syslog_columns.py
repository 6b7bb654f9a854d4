"""The syslog reader: lines of the common shapes read column-wise, with numpy.

Each block of lines (``text_blocks``) is read column-wise (numpy over the
block's UTF-8 bytes, Arrow strings cut from it; :mod:`.textcols`) for the lines of
the common shapes: RFC 3164 / krb5kdc lines with two-digit time fields, a host and
tag of printable ASCII and a numeric pid, in a local hour without a zone change;
RFC 5424 lines with printable ASCII header fields, an RFC 3339 time and
STRUCTURED-DATA that is ``-`` or one element without escapes, control characters or
repeated names. Every other line (continuations, damaged lines, DST hours, ISO
lines, escapes, non-ASCII headers, ...) is read by the per-line grammar, in file
order with the column-wise ones, so that record numbers, quarantine, year and fold
state and continuations come out as a line-by-line reading gives them: the output
is the same either way (``tests/test_syslog_columnar.py`` holds both to it). Zone
offsets are looked up per local hour, from its first and last minute: an hour whose
two agree is taken to have no change inside (tz data has no zone that changes twice
within an hour).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import EVENTS, TIMESTAMP
from . import base
from .base import FileContext
from .syslog_lines import (CHANNEL, CONT, CUM, EVENT, FORMAT, HALF_YEAR, QUAR, SKIP, STRAGGLE, LineGrammar,
                           YearTracker, add_pri, as_pid, bsd_match, bsd_wall, continued, end_of_file, to_json,
                           wall_key)
from .textcols import Block, assemble, lut, repeat, unique
from .textinput import text_blocks
from .timeparse import (MONTHS, US_DAY, US_HOUR, US_MIN, days_from_civil, leap_columns, micros_columns,
                        valid_dates)


def _step_years(tracker: YearTracker, p: np.ndarray) -> np.ndarray:
    """``tracker.step`` over the day numbers ``p`` (in file order): the year of each.

    Between New Year crossings and stragglers the anchor is the running maximum and
    the year does not change, which numpy checks for the whole array at once; an
    array that holds a crossing or a straggler is stepped one by one.
    """
    out = np.empty(len(p), np.int64)
    if not len(p):
        return out
    first = 0
    if tracker.anchor < 0:
        out[0] = tracker.step_day(int(p[0]))
        first = 1
    rest = p[first:]
    if len(rest):
        before = np.maximum.accumulate(np.concatenate(([tracker.anchor], rest)))[:-1]
        raw = rest - before
        if ((raw > 365 - STRAGGLE) | (raw < -HALF_YEAR)).any():
            step = tracker.step_day
            out[first:] = [step(x) for x in rest.tolist()]
        else:
            out[first:] = tracker.year
            tracker.anchor = max(tracker.anchor, int(rest.max()))
    return out


# Byte classes for the column-wise parsers. Header fields are taken column-wise only
# when they are printable ASCII: a token ends at the first byte that is not (ASCII
# whitespace or control, DEL, or any non-ASCII byte, whose character may or may not
# be whitespace to Python's \s: lines where that matters take the per-line path).
_PYWS = lut(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")       # ASCII characters Python's \s matches
_MONTH_KEYS = np.array(sorted((ord(m[0].lower()) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in MONTHS))
_MONTH_OF_KEY = np.array([MONTHS[m] for m in sorted(MONTHS, key=lambda m: (ord(m[0].lower()) << 16)
                                                     | (ord(m[1]) << 8) | ord(m[2]))])
_CUM_A = np.array(CUM, np.int64)


class _BsdHead:
    """RFC 3164 heads of a block's lines, column-wise.

    ``sure``: the line has the common shape (``[<PRI>]Mmm dd hh:mm:ss host``, two-digit
    time fields, one space before the host, whose first byte is printable ASCII), which
    ``bsd_match`` accepts with the same fields. ``unsure``: it may be an RFC 3164 line
    but only ``bsd_match`` can tell. Any other line is not one.
    """

    __slots__ = ("sure", "unsure", "p", "month", "day", "hh", "mm", "ss", "pri", "host")

    def __init__(self, blk: Block, strip_bom: bool) -> None:
        w = blk.window(blk.starts, 6)
        lt = w[:, 0] == 60
        dig = (w >= 48) & (w <= 57)
        p1 = lt & dig[:, 1] & (w[:, 2] == 62)
        p2 = lt & dig[:, 1] & dig[:, 2] & (w[:, 3] == 62)
        p3 = lt & dig[:, 1] & dig[:, 2] & dig[:, 3] & (w[:, 4] == 62)
        has_pri = p1 | p2 | p3
        off = np.where(p1, 3, np.where(p2, 4, np.where(p3, 5, 0)))
        n = blk.n
        # Only lines with a letter where the month would start are looked at further.
        first = blk.at(blk.starts + off) | 0x20
        sub = np.flatnonzero((first >= 97) & (first <= 122) & (~lt | has_pri))
        h = blk.window(blk.starts[sub] + off[sub], 17)
        low = h[:, :3] | 0x20
        alpha = (low >= 97) & (low <= 122)
        alpha = alpha[:, 0] & alpha[:, 1] & alpha[:, 2]
        low = low.astype(np.int64)
        key = (low[:, 0] << 16) | (low[:, 1] << 8) | low[:, 2]
        k = np.minimum(np.searchsorted(_MONTH_KEYS, key), 11)
        cand = alpha & (_MONTH_KEYS[k] == key) & (h[:, 3] == 32)
        d = (h >= 48) & (h <= 57)
        day2 = d[:, 4]
        shape = (cand & (day2 | (h[:, 4] == 32)) & d[:, 5] & (h[:, 6] == 32) & d[:, 7] & d[:, 8] & (h[:, 9] == 58)
                 & d[:, 10] & d[:, 11] & (h[:, 12] == 58) & d[:, 13] & d[:, 14] & (h[:, 15] == 32)
                 & (h[:, 16] > 0x20) & (h[:, 16] < 0x7F))
        self.sure = np.zeros(n, bool)
        self.sure[sub] = shape
        unsure = lt & ~has_pri
        unsure[sub] |= cand & ~shape
        if strip_bom:
            unsure |= (w[:, 0] == 0xEF) & (w[:, 1] == 0xBB) & (w[:, 2] == 0xBF)
        self.unsure = unsure
        hi = h.astype(np.int64) - 48
        self.month, self.day, self.hh, self.mm, self.ss, self.p = (np.zeros(n, np.int64) for _ in range(6))
        self.month[sub] = _MONTH_OF_KEY[k]
        self.day[sub] = np.where(day2, hi[:, 4] * 10, 0) + hi[:, 5]
        self.hh[sub] = hi[:, 7] * 10 + hi[:, 8]
        self.mm[sub] = hi[:, 10] * 10 + hi[:, 11]
        self.ss[sub] = hi[:, 13] * 10 + hi[:, 14]
        self.p[:] = -1
        self.p[sub] = np.where(shape, _CUM_A[self.month[sub]] + self.day[sub], -1)
        wi = w.astype(np.int64) - 48
        self.pri = np.where(p1, wi[:, 1], np.where(p2, wi[:, 1] * 10 + wi[:, 2],
                                                   np.where(p3, wi[:, 1] * 100 + wi[:, 2] * 10 + wi[:, 3], -1)))
        self.host = blk.starts + off + 16

    def days(self, blk: Block, strip_bom: bool) -> np.ndarray:
        """Day number (``CUM[month] + day``) of every line ``bsd_match`` accepts, -1
        for the others; the unsure lines are asked one by one."""
        return self._ask(blk, strip_bom, None)

    def walls(self, blk: Block) -> tuple[np.ndarray, np.ndarray]:
        """``days`` of the lines as they stand (the first pass's), and the wall time
        (``wall_key``) of each line that has one."""
        wall = wall_key(self.month, self.day, self.hh, self.mm, self.ss, 0)   # the common shape has no fraction
        return self._ask(blk, False, wall), wall

    def _ask(self, blk: Block, strip_bom: bool, wall: np.ndarray | None) -> np.ndarray:
        p = self.p
        unsure = np.flatnonzero(self.unsure)
        if len(unsure):
            p = p.copy()
            for i in unsure.tolist():
                line = blk.line(i)
                if strip_bom and line.startswith("\ufeff"):
                    line = line[1:]
                m = bsd_match(line)
                if m is not None:
                    p[i] = CUM[MONTHS[m.group(2).title()]] + int(m.group(3))
                    if wall is not None:
                        wall[i] = bsd_wall(m)
        return p


def _step_blocks(tracker: YearTracker, texts: Iterator[str]) -> None:
    """``first_pass``' steps: the lines of the common shape column-wise, the others
    one by one; the tracker sees the newest line of each block."""
    for text in texts:
        blk = Block(text)
        p, wall = _BsdHead(blk, False).walls(blk)
        lines = p >= 0
        if lines.any():
            years = _step_years(tracker, p[lines])
            top = years.max()
            tracker.see(int(top), int(wall[lines][years == top].max()))


class _Reader:
    """Reads a syslog file block by block: the lines of the common shapes column-wise,
    the others (continuations, damaged lines, DST hours, rare spellings) one by one as
    the per-line grammar says, with the state they share (record numbers, the year
    tracker, the localizer's fold, the event a continuation extends) kept in file
    order."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.default_host = ctx.default_host
        self.grammar = LineGrammar(ctx)
        self.localizer = self.grammar.localizer
        self.json_cache = self.grammar.json_cache
        self.no = 0
        self.last_event = False  # may a continuation line extend the last event read?

    def batches(self) -> Iterator[pa.RecordBatch]:
        # Blocks give a few thousand rows each: they are gathered into batches of
        # base.BATCH_ROWS (a database takes large batches much faster). The last
        # block's rows wait apart: a continuation line may still extend its last row.
        done: list[pa.RecordBatch] = []
        rows = 0
        held: pa.RecordBatch | None = None
        for text in text_blocks(self.ctx):
            batch, conts = self._block(Block(text))
            if conts:
                assert held is not None
                held = _extend(held, {held.num_rows - 1: conts})
            if batch is not None:
                if held is not None:
                    done.append(held)
                    rows += held.num_rows
                    if rows >= base.BATCH_ROWS:
                        done = list(_rebatch(done, final=False))
                        yield from done[:-1]
                        done = done[-1:]
                        rows = done[0].num_rows
                held = batch
        end_of_file(self.ctx, self.no, self.grammar.year_note)
        if held is not None:
            done.append(held)
        if done:
            yield from _rebatch(done, final=True)

    # -- one block ------------------------------------------------------------------

    def _block(self, blk: Block) -> tuple[pa.RecordBatch | None, list[str]]:
        n = blk.n
        head = _BsdHead(blk, True)
        p = head.days(blk, True)
        year = np.full(n, -1, np.int64)
        stepping = np.flatnonzero(p >= 0)
        if len(stepping):
            year[stepping] = _step_years(self.grammar.start_years(_step_blocks), p[stepping])

        fast3 = self._bsd_fast(blk, head, year)
        fast5 = _Rfc5424Cols(blk, (blk.at(blk.starts) == 60) & ~fast3.mask, self.default_host)
        fast = fast3.mask.copy()
        fast[fast5.idx] = True
        slow = (blk.starts < blk.ends) & ~fast
        no0 = self.no
        consumed = fast.copy()
        rows: list[tuple[Any, ...]] = []      # events read line by line: (line, record_no, host, logged, ...)
        conts: dict[Any, list[str]] = {}      # continuation text per event line (or "prev")
        slow_idx = np.flatnonzero(slow)
        fast_idx = np.flatnonzero(fast)
        last_rec, last_target = -1, None     # last record line read one by one, and its event line
        if len(slow_idx):
            fast_before = np.searchsorted(fast_idx, slow_idx).tolist()
            carry = "prev" if self.last_event else None
            taken = 0
            for i, nf in zip(slow_idx.tolist(), fast_before):
                lf = int(fast_idx[nf - 1]) if nf else -1
                target = lf if lf > last_rec else (last_target if last_rec >= 0 else carry)
                no = no0 + nf + taken
                kind, value = self.grammar.parse(blk.line(i), no, target is not None, int(year[i]))
                if kind == SKIP:
                    continue
                if kind == CONT:
                    conts.setdefault(target, []).append(value)
                    continue
                consumed[i] = True
                taken += 1
                if kind == EVENT:
                    rows.append((i, no) + value)
                    last_rec, last_target = i, i
                elif kind == QUAR:
                    last_rec, last_target = i, None
        last_fast = int(fast_idx[-1]) if len(fast_idx) else -1
        if last_fast > last_rec:
            self.last_event = True
        elif last_rec >= 0:
            self.last_event = last_target is not None
        self.no = no0 + int(consumed.sum())
        prev = conts.pop("prev", [])
        if not len(fast_idx) and not rows:
            return None, prev

        record_no = (no0 + np.cumsum(consumed) - 1)
        parts = []
        lines = []
        if len(fast3.idx):
            parts.append(fast3.batch(blk, record_no[fast3.idx], self.ctx.file_id))
            lines.append(fast3.idx)
        if len(fast5.idx):
            parts.append(fast5.batch(blk, record_no[fast5.idx], self.ctx.file_id))
            lines.append(fast5.idx)
        if rows:
            parts.append(self._rows_batch(rows))
            lines.append(np.array([r[0] for r in rows], np.int64))
        if len(parts) == 1:
            batch = parts[0]
            order = lines[0]
        else:
            order = np.concatenate(lines)
            sort = np.argsort(order, kind="stable")
            batch = pa.Table.from_batches(parts).take(sort).combine_chunks().to_batches()[0]
            order = order[sort]
        if conts:
            batch = _extend(batch, {int(np.searchsorted(order, i)): texts for i, texts in conts.items()})
        return batch, prev

    def _rows_batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        m = len(rows)
        cols = list(zip(*rows))
        arrays = [pa.array([self.ctx.file_id] * m, pa.int32()), pa.array(cols[1], pa.int64()), pa.nulls(m, pa.int64()),
                  pa.array(cols[2], pa.string()), pa.array(cols[3], TIMESTAMP), repeat(FORMAT, m),
                  repeat(CHANNEL, m), pa.array(cols[4], pa.string()), pa.nulls(m, pa.int32()),
                  pa.array(cols[5], pa.string()), pa.array(cols[6], pa.string())]
        return pa.RecordBatch.from_arrays(arrays, schema=EVENTS)

    # -- RFC 3164, column-wise ------------------------------------------------------

    def _bsd_fast(self, blk: Block, head: _BsdHead, year: np.ndarray) -> "_BsdCols":
        """The RFC 3164 lines of the block that the column-wise path reads exactly as
        the per-line grammar would: common head, host without ``[`` or a final ``:``,
        a tag of printable ASCII with a numeric pid and a level or none, a valid
        date in a known year and a local hour without a DST change."""
        cols = _BsdCols()
        idx = np.flatnonzero(head.sure & (head.pri <= 191))
        m = len(idx)
        if not m:
            cols.idx = idx
            cols.mask = np.zeros(blk.n, bool)
            return cols
        ends = blk.ends[idx]
        hs = head.host[idx]
        # Host within _HEAD_WIDTH bytes of its start, tag within _HEAD_WIDTH of its own
        # (longer ones: per line).
        w = blk.window(hs, _HEAD_WIDTH)
        r = np.arange(m)
        he_rel = np.argmax((w <= 32) | (w >= 127), axis=1)
        hc = w[r, he_rel]
        ok = (hc <= 32) | (hc >= 127)
        ok &= (hc == 32) | (hs + he_rel == ends)
        lb = np.argmax(w == 91, axis=1)
        ok &= ((w[r, lb] != 91) | (lb > he_rel)) & (w[r, he_rel - 1] != 58)
        he = hs + he_rel
        rs = np.where(hc == 32, he + 1, he)
        w = blk.window(rs, _HEAD_WIDTH)
        te_rel = np.argmax((w <= 32) | (w >= 127) | (w == 91) | (w == 93) | (w == 40) | (w == 41) | (w == 58), axis=1)
        tc = w[r, te_rel]
        ok &= (tc <= 32) | (tc >= 127) | (tc == 91) | (tc == 93) | (tc == 40) | (tc == 41) | (tc == 58)
        te = rs + te_rel
        buf_at = blk.at
        tagged = te > rs
        # Without a tag: the rest is the message (Python's TAG cannot match).
        untagged = np.where(tagged, _PYWS[tc] | (tc == 93) | (tc == 41),
                            _PYWS[tc] | (tc == 91) | (tc == 93) | (tc == 40) | (tc == 41) | (tc == 58))
        ms = np.where(untagged, rs, -1)
        colon = tagged & (tc == 58)
        ms = np.where(colon, te + 1, ms)
        # app[pid] then ':' or '(level):'
        pw = blk.window(te + 1, 12)
        plen = np.argmax((pw < 48) | (pw > 57), axis=1)   # all 12 digits: 0, and no "]" after
        bracket = tagged & (tc == 91) & (plen <= 9) & (pw[np.arange(len(pw)), np.minimum(plen, 11)] == 93)
        after = buf_at(te + plen + 2)
        ms = np.where(bracket & (after == 58), te + plen + 3, ms)
        lp = np.where(bracket & (after == 40), te + plen + 3, np.where(tagged & (tc == 40), te + 1, -1))
        lw = blk.window(np.maximum(lp, 0), 18)
        low = lw | 0x20
        llen = np.argmax((low < 97) | (low > 122), axis=1)
        r = np.arange(len(lw))
        level = (lp >= 0) & (llen >= 1) & (llen <= 16) & (lw[r, np.minimum(llen, 17)] == 41) \
            & (lw[r, np.minimum(llen + 1, 17)] == 58)
        ms = np.where(level, lp + llen + 2, ms)
        ok &= ms >= 0
        ms = np.where(~untagged & (buf_at(ms) == 32), ms + 1, ms)
        # time
        y = year[idx]
        mo, d = head.month[idx], head.day[idx]
        ok &= (y >= 2) & (y <= 9998) & valid_dates(y, mo, d) & (head.hh[idx] < 24) & (head.mm[idx] < 60) \
            & (head.ss[idx] < 60)
        wall = (days_from_civil(y, mo, d) * US_DAY + head.hh[idx] * US_HOUR + head.mm[idx] * US_MIN
                + head.ss[idx] * 1_000_000)
        sel = np.flatnonzero(ok)
        off = np.zeros(m, np.int64)
        off[sel], known = self.localizer.hour_offsets(wall[sel])
        ok[sel] &= known
        keep = np.flatnonzero(ok)
        cols.idx = idx[keep]
        cols.mask = np.zeros(blk.n, bool)
        cols.mask[cols.idx] = True
        cols.logged = (wall - off)[keep]
        cols.hs, cols.he = hs[keep], he[keep]
        cols.tagged = (~untagged)[keep]
        cols.rs, cols.te = rs[keep], te[keep]
        cols.ms, cols.ends = ms[keep], ends[keep]
        cols.pid = np.where(bracket & (plen > 0), _num_window(pw, plen), -1)[keep]
        cols.pri = head.pri[idx][keep]
        cols.lp, cols.llen = np.where(level, lp, -1)[keep], llen[keep]
        cols.reader = self
        return cols


_HEAD_WIDTH = 64


def _num_window(w: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The number written by the first ``lens[i]`` digit bytes of each row of ``w``."""
    v = np.zeros(len(w), np.int64)
    for j in range(int(lens.max(initial=0))):
        use = lens > j
        v = np.where(use, v * 10 + (w[:, j].astype(np.int64) - 48), v)
    return v


class _BsdCols:
    """The fast RFC 3164 lines of a block and their fields (offsets into the block)."""

    mask: np.ndarray
    idx: np.ndarray

    def batch(self, blk: Block, record_no: np.ndarray, file_id: int) -> pa.RecordBatch:
        m = len(self.idx)
        host = blk.strings(self.hs, self.he)
        nil = (self.he - self.hs == 1) & (blk.at(self.hs) == 45)
        if nil.any():  # HOSTNAME "-": the file's default host
            host = pc.if_else(pa.array(nil), pa.scalar(self.reader.default_host, pa.string()), host)
        app = blk.strings(self.rs, self.te)
        if not self.tagged.all():
            app = pc.if_else(pa.array(self.tagged), app, pa.scalar(None, pa.string()))
        message = blk.strings(self.ms, self.ends)
        arrays = [pa.array(np.full(m, file_id, np.int32)), pa.array(record_no.astype(np.int64)),
                  pa.nulls(m, pa.int64()), host, pa.array(self.logged.astype(np.int64)).cast(TIMESTAMP),
                  repeat(FORMAT, m), repeat(CHANNEL, m), app, pa.nulls(m, pa.int32()), message,
                  self._data(blk)]
        return pa.RecordBatch.from_arrays(arrays, schema=EVENTS)

    def _data(self, blk: Block) -> pa.Array:
        """``data`` JSON per line: the few distinct (pid, PRI, level) of a block are
        encoded once each, with the per-line code's dict and ``json.dumps``."""
        m = len(self.idx)
        has_level = self.lp >= 0
        if has_level.any():
            start = np.where(has_level, self.lp, self.ms)
            levels = blk.strings(start, np.where(has_level, self.lp + self.llen, self.ms))
            enc = pc.dictionary_encode(levels)
            level_id = np.asarray(enc.indices) + 1
            level_id[~has_level] = 0
            level_names = [None] + enc.dictionary.to_pylist()
        else:
            level_id = np.zeros(m, np.int64)
            level_names = [None]
        nl = len(level_names)
        key = ((self.pid + 1) * 193 + (self.pri + 1)) * nl + level_id
        uniq, inv = np.unique(key, return_inverse=True)
        cache = self.reader.json_cache
        texts = []
        for k in uniq.tolist():
            rest, lid = divmod(k, nl)
            pid, pri = divmod(rest, 193)
            pid, pri = pid - 1, pri - 1
            data: dict[str, Any] = {}
            if pid >= 0:
                data["pid"] = pid
            if pri >= 0:
                add_pri(data, str(pri))
            level = level_names[lid]
            if level and "severity" not in data:
                data["severity"] = level.lower()
            texts.append(to_json(data, cache))
        return pa.array(texts, pa.string()).take(pa.array(inv.astype(np.int64)))


# -- RFC 5424, column-wise ----------------------------------------------------------

# Longer header fields, SD-NAMEs and PARAM-VALUEs than these are read per line.
_FIELDS_WIDTH = 112   # HOSTNAME, APP-NAME, PROCID, MSGID and the byte after them
_NAME_WIDTH = 40
_VALUE_WIDTH = 200
_MAX_PARAMS = 16

# Literal pieces of the "structured_data" item, after the block's bytes in _assemble's source.
_SD_LITS = ('"structured_data": {"', '": {', '"', ', "', '": ', '}}, ')


class _Rfc5424Cols:
    """The RFC 5424 lines of a block the column-wise path reads exactly as the
    per-line grammar would: header fields of printable ASCII separated by single
    spaces, an RFC 3339 time, PRI up to 191, and STRUCTURED-DATA that is ``-`` or
    one element, without escapes, control characters or repeated parameter names,
    followed by a space or the line's end."""

    def __init__(self, blk: Block, cand: np.ndarray, default_host: str) -> None:
        self.default_host = default_host
        idx = np.flatnonzero(cand)
        self.idx = self.keep = idx
        if not len(idx):
            return
        starts, ends = blk.starts[idx], blk.ends[idx]
        m = len(idx)
        r = np.arange(m)
        w = blk.window(starts, 8)
        dig = (w >= 48) & (w <= 57)
        # <PRI>VERSION SP
        pl = np.where(dig[:, 1] & (w[:, 2] == 62), 3,
                      np.where(dig[:, 1] & dig[:, 2] & (w[:, 3] == 62), 4,
                               np.where(dig[:, 1] & dig[:, 2] & dig[:, 3] & (w[:, 4] == 62), 5, 0)))
        ok = pl > 0
        wi = w.astype(np.int64) - 48
        pri = np.where(pl == 3, wi[:, 1], np.where(pl == 4, wi[:, 1] * 10 + wi[:, 2],
                                                   wi[:, 1] * 100 + wi[:, 2] * 10 + wi[:, 3]))
        ok &= pri <= 191
        v1 = dig[r, pl] & (w[r, np.minimum(pl + 1, 7)] == 32)
        v2 = dig[r, pl] & dig[r, np.minimum(pl + 1, 7)] & (w[r, np.minimum(pl + 2, 7)] == 32)
        ok &= v1 | v2
        ts = starts + pl + np.where(v1, 2, 3)
        # TIMESTAMP: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm), then a space
        t = blk.window(ts, 40)
        td = (t >= 48) & (t <= 57)
        ok &= td[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]].all(axis=1)
        ok &= (t[:, 4] == 45) & (t[:, 7] == 45) & ((t[:, 10] | 0x20) == 116) & (t[:, 13] == 58) & (t[:, 16] == 58)
        fl = np.argmin(np.concatenate((td[:, 20:30], np.zeros((m, 1), bool)), axis=1), axis=1)
        dot = t[:, 19] == 46
        ok &= ~dot | ((fl >= 1) & (fl <= 9))
        z = np.where(dot, 20 + fl, 19)
        zc = t[r, z]
        zulu = (zc | 0x20) == 122
        sign = np.where(zc == 43, 1, np.where(zc == 45, -1, 0))
        zoff = (sign != 0) & td[r, z + 1] & td[r, z + 2] & (t[r, z + 3] == 58) & td[r, z + 4] & td[r, z + 5]
        ok &= zulu | zoff
        ze = z + np.where(zulu, 1, 6)
        ok &= t[r, np.minimum(ze, 39)] == 32
        ti = t.astype(np.int64) - 48
        y = ((ti[:, 0] * 10 + ti[:, 1]) * 10 + ti[:, 2]) * 10 + ti[:, 3]
        mo, d = ti[:, 5] * 10 + ti[:, 6], ti[:, 8] * 10 + ti[:, 9]
        hh, mi, ss = ti[:, 11] * 10 + ti[:, 12], ti[:, 14] * 10 + ti[:, 15], ti[:, 17] * 10 + ti[:, 18]
        ok &= (y >= 2) & (y <= 9998) & (mo >= 1) & (mo <= 12)
        mo = np.where(ok, mo, 1)
        ok &= valid_dates(y, mo, d) & (hh < 24) & (mi < 60) & (ss <= 60)
        ss, us = leap_columns(ss, micros_columns(ti[:, 20:26], np.where(dot, fl, 0)))
        zh = ti[r, np.minimum(z + 1, 39)] * 10 + ti[r, np.minimum(z + 2, 39)]
        zm = ti[r, np.minimum(z + 4, 39)] * 10 + ti[r, np.minimum(z + 5, 39)]
        off = np.where(zoff, sign * (zh * 60 + zm), 0) * US_MIN
        self.logged = (days_from_civil(y, mo, d) * US_DAY + hh * US_HOUR + mi * US_MIN + ss * 1_000_000 + us
                       - off)
        # HOSTNAME APP-NAME PROCID MSGID: within _FIELDS_WIDTH bytes, separated by single
        # spaces, the last one ended by a space or the line's end
        f0 = ts + ze + 1
        h = blk.window(f0, _FIELDS_WIDTH)
        bad = (h <= 32) | (h >= 127)
        b = []
        for k in range(4):
            e = np.argmax(bad, axis=1)
            ok &= bad[r, e] & (e > (b[-1] + 1 if b else 0))
            bad[r, e] = False
            b.append(e)
        for k in range(3):
            ok &= h[r, b[k]] == 32
        last = h[r, b[3]]
        ok &= (last == 32) | (f0 + b[3] == ends)
        self.host = (f0, f0 + b[0])
        self.app = (f0 + b[0] + 1, f0 + b[1])
        self.ids = (f0 + b[1] + 1, f0 + b[3])      # "PROCID MSGID"
        # STRUCTURED-DATA and MSG
        t0 = np.where(last == 32, f0 + b[3] + 1, ends)
        c0 = blk.at(t0)
        empty = t0 >= ends
        nil = ~empty & (c0 == 45)
        elem = ~empty & (c0 == 91)
        ok &= empty | nil | elem
        ms = np.where(nil, t0 + 1, ends)
        ms = np.where(nil & (blk.at(ms) == 32), ms + 1, ms)
        sd_ok, sd_end = self._sd(blk, t0, ends, elem & ok)
        ok &= ~elem | sd_ok
        ms = np.where(elem, sd_end, ms)
        bom = (blk.at(ms) == 0xEF) & (blk.at(ms + 1) == 0xBB) & (blk.at(ms + 2) == 0xBF)
        self.ms = np.where(bom, ms + 3, ms)
        self.ends = ends
        self.pri = pri
        self.has_sd = elem
        keep = np.flatnonzero(ok)
        self.idx = idx[keep]
        self.keep = keep

    def _sd(self, blk: Block, t0: np.ndarray, ends: np.ndarray, rows_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One SD-ELEMENT at ``t0`` in the rows ``rows_in``: whether it reads
        column-wise, where the message after it starts; its pieces (offsets of the
        SD-ID, of each parameter's name and value) are kept for ``_data``."""
        m = len(t0)
        ok_out = np.zeros(m, bool)
        end_out = np.zeros(m, np.int64)
        sel = np.flatnonzero(rows_in)
        self.sd_sel = sel
        self.sd_pieces: list[tuple[np.ndarray, np.ndarray]] = []
        if not len(sel):
            return ok_out, end_out
        base = t0[sel]
        k = len(sel)
        r = np.arange(k)

        def name_end(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """End of an SD-NAME at ``at`` (within _NAME_WIDTH) and the byte there."""
            w = blk.window(at, _NAME_WIDTH)
            e = np.argmax((w <= 32) | (w >= 127) | (w == 93) | (w == 61) | (w == 34) | (w == 92), axis=1)
            return at + e, w[r, e]

        e, c = name_end(base + 1)
        ok = (e > base + 1) & ((c == 32) | (c == 93))
        pieces = [(base + 1, e)]
        pos = e
        names: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for j in range(_MAX_PARAMS + 1):
            more = ok & (blk.at(pos) == 32)
            if not more.any():
                break
            if j == _MAX_PARAMS:
                ok &= ~more
                break
            k0 = pos + 1
            ke, c = name_end(k0)
            good = (ke > k0) & (c == 61) & (blk.at(ke + 1) == 34)
            ve = _value_end(blk, ke + 2)
            good &= blk.at(ve) == 34
            ok &= ~more | good
            here = more & good
            names.append((here, k0, ke))
            # name, and value with its quotes
            pieces.append((np.where(here, k0, 0), np.where(here, ke, 0)))
            pieces.append((np.where(here, ke + 1, 0), np.where(here, ve + 1, 0)))
            pos = np.where(here, ve + 1, pos)
        ok &= blk.at(pos) == 93
        after = pos + 1
        ok &= (blk.at(after) == 32) | (after == ends[sel])
        if len(names) > 1:
            ok &= ~_repeated_names(blk, names, ok)
        self.sd_pieces = pieces
        ok_out[sel] = ok
        end_out[sel] = np.where(blk.at(after) == 32, after + 1, after)
        return ok_out, end_out

    def batch(self, blk: Block, record_no: np.ndarray, file_id: int) -> pa.RecordBatch:
        keep = self.keep
        m = len(keep)
        hs, he = self.host[0][keep], self.host[1][keep]
        host = blk.strings(hs, he)
        nil = (he - hs == 1) & (blk.at(hs) == 45)
        if nil.any():   # HOSTNAME "-": the file's default host
            host = pc.if_else(pa.array(nil), pa.scalar(self.default_host, pa.string()), host)
        a0, a1 = self.app[0][keep], self.app[1][keep]
        app = blk.strings(a0, a1)
        nil = (a1 - a0 == 1) & (blk.at(a0) == 45)
        if nil.any():
            app = pc.if_else(pa.array(nil), pa.scalar(None, pa.string()), app)
        message = blk.strings(self.ms[keep], self.ends[keep])
        arrays = [pa.array(np.full(m, file_id, np.int32)), pa.array(record_no.astype(np.int64)),
                  pa.nulls(m, pa.int64()), host, pa.array(self.logged[keep]).cast(TIMESTAMP),
                  repeat(FORMAT, m), repeat(CHANNEL, m), app, pa.nulls(m, pa.int32()), message, self._data(blk)]
        return pa.RecordBatch.from_arrays(arrays, schema=EVENTS)

    def _data(self, blk: Block) -> pa.Array:
        """The data JSON of the kept lines: json.dumps of the per-line code's dict.
        Without structured data it depends on PROCID, MSGID and PRI only, of which a
        block holds a few combinations: each is encoded once by json.dumps. With it,
        the "structured_data" item is assembled from pieces of the line between
        literals, after the head of its combination's JSON and before the tail."""
        keep = self.keep
        m = len(keep)
        ids = pc.dictionary_encode(blk.strings(self.ids[0][keep], self.ids[1][keep]))
        combo = np.asarray(ids.indices, dtype=np.int64) * 192 + self.pri[keep]
        uniq, inv = unique(combo)
        names = ids.dictionary.to_pylist()
        heads, tails, texts = [], [], []
        for c in uniq.tolist():
            procid, msgid = names[c // 192].split(" ")
            data: dict[str, Any] = {}
            if procid != "-":
                data["pid"] = as_pid(procid)
            if msgid != "-":
                data["msgid"] = msgid
            head = json.dumps(data, ensure_ascii=False)[:-1] + (", " if data else "")
            add_pri(data, str(c % 192))
            text = json.dumps(data, ensure_ascii=False)
            heads.append(head)
            tails.append(text[len(head):])   # '"facility": ...}'
            texts.append(text)
        whole = pa.array(texts, pa.string())
        sd_rows = self.has_sd[keep]
        if not sd_rows.any():
            return whole.take(pa.array(inv))
        # rows of self.sd_sel that are kept, in kept order
        where = np.searchsorted(self.sd_sel, keep[sd_rows])
        k = len(where)
        base = len(blk.buf)
        lits = [t.encode() for t in _SD_LITS]
        combo_lits = [h.encode() for h in heads] + [t.encode() for t in tails]
        at = np.cumsum([0] + [len(t) for t in lits + combo_lits]) + base
        src = np.concatenate((blk.buf, np.frombuffer(b"".join(lits + combo_lits), np.uint8)))
        lit_at = {t: (at[i], len(lits[i])) for i, t in enumerate(_SD_LITS)}
        nu = len(uniq)
        combo_at = at[len(lits):len(lits) + 2 * nu]
        combo_len = np.array([len(t) for t in combo_lits], np.int64)
        sd_combo = inv[sd_rows]
        slots: list[tuple[np.ndarray, np.ndarray]] = []

        def lit(text: str, present: np.ndarray | None = None) -> None:
            start, n = lit_at[text]
            slots.append((np.full(k, start, np.int64),
                          np.full(k, n, np.int64) if present is None else np.where(present, n, 0)))

        slots.append((combo_at[sd_combo], combo_len[sd_combo]))
        pieces = [(a[where], b[where]) for a, b in self.sd_pieces]
        lit('"structured_data": {"')
        slots.append((pieces[0][0], pieces[0][1] - pieces[0][0]))
        lit('": {')
        for j in range(1, len(pieces), 2):
            (k0, ke), (v0, v1) = pieces[j], pieces[j + 1]
            present = ke > k0
            lit('"' if j == 1 else ', "', present)
            slots.append((k0, ke - k0))
            lit('": ', present)
            slots.append((v0, v1 - v0))
        lit("}}, ")
        slots.append((combo_at[nu + sd_combo], combo_len[nu + sd_combo]))
        starts = np.stack([a for a, _ in slots], axis=1)
        lens = np.stack([n for _, n in slots], axis=1)
        pick = inv.copy()
        pick[sd_rows] = nu + np.arange(k)
        return pa.concat_arrays([whole, assemble(src, starts, lens)]).take(pa.array(pick))


def _value_end(blk: Block, at: np.ndarray) -> np.ndarray:
    """Where each PARAM-VALUE starting at ``at`` ends: its first quote, backslash or
    control byte, looked for within 48 bytes and then, for the rows without one
    there, within _VALUE_WIDTH (``at`` where there is none)."""
    r = np.arange(len(at))
    w = blk.window(at, 48)
    v = np.argmax((w == 34) | (w == 92) | (w < 32), axis=1)
    c = w[r, v]
    end = at + v
    far = np.flatnonzero((c != 34) & (c != 92) & (c >= 32))
    if len(far):
        w = blk.window(at[far], _VALUE_WIDTH)
        end[far] = at[far] + np.argmax((w == 34) | (w == 92) | (w < 32), axis=1)
    return end


def _repeated_names(blk: Block, names: list[tuple[np.ndarray, np.ndarray, np.ndarray]], ok: np.ndarray) -> np.ndarray:
    """Rows whose element may repeat a parameter name (a dict keeps the last value at
    the first place: the per-line code decides those). Names are compared by length
    and first and last eight bytes: equal names always match, and distinct names
    that match too (long names alike at both ends) only cost a per-line read."""
    prints = []
    for here, k0, ke in names:
        n = ke - k0
        head = blk.window(k0, 8) * (np.arange(8) < n[:, None])
        tail = blk.window(np.maximum(ke - 8, 0), 8) * (np.arange(8) >= 8 - n[:, None])
        prints.append((here & ok, n, head.copy().view(np.uint64)[:, 0], tail.copy().view(np.uint64)[:, 0]))
    rep = np.zeros(len(ok), bool)
    for i in range(len(prints)):
        hi, ni, ai, bi = prints[i]
        for j in range(i + 1, len(prints)):
            hj, nj, aj, bj = prints[j]
            rep |= hi & hj & (ni == nj) & (ai == aj) & (bi == bj)
    return rep


def _extend(batch: pa.RecordBatch, conts: dict[int, list[str]]) -> pa.RecordBatch:
    """Continuation lines appended to the messages of rows of ``batch``, as the
    per-line reader appends them."""
    col = batch.schema.get_field_index("message")
    messages = batch.column(col)
    mask = np.zeros(batch.num_rows, bool)
    values = []
    for row in sorted(conts):
        msg = messages[row].as_py() or ""
        for text in conts[row]:
            msg = continued(msg, text)
        mask[row] = True
        values.append(msg)
    new = pc.replace_with_mask(messages, pa.array(mask), pa.array(values, pa.string()))
    return batch.set_column(col, "message", new)


def _rebatch(batches: list[pa.RecordBatch], final: bool) -> list[pa.RecordBatch]:
    """``batches`` as batches of ``base.BATCH_ROWS`` rows; unless ``final``, the last
    one (maybe shorter) is for more rows to join."""
    size = base.BATCH_ROWS
    table = pa.Table.from_batches(batches).combine_chunks()
    out = [b for b in table.to_batches(max_chunksize=size) if b.num_rows]
    if not final and out[-1].num_rows == size:
        out.append(out[-1].slice(size))
    return out


def read_columns(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    """The file's events, the common shapes read column-wise (see the module docstring)."""
    return _Reader(ctx).batches()


