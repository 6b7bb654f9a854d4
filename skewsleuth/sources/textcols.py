"""Column-wise helpers for line-oriented text sources.

A decoded block of lines (``textinput.text_blocks``) becomes a :class:`Block`: its UTF-8
bytes in a numpy array, padded with newlines so that fixed-width windows read past
the last line stay in bounds, and the start and end offset of every line. Parsers
then work on whole columns: windows of bytes at per-line offsets (``window``,
``at``), and strings cut out of the block or assembled from pieces as Arrow arrays
(``strings``, ``assemble``), with no Python object per line.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

PAD = 256      # newlines after the block: windows of up to PAD bytes never leave the buffer


class Block:
    """One decoded block of lines (joined by ``\\n``) as bytes and line offsets."""

    __slots__ = ("raw", "size", "buf", "starts", "ends", "n", "_windows")

    def __init__(self, text: str) -> None:
        raw = text.encode("utf-8")
        self.raw = raw
        self.size = len(raw)
        self.buf = np.frombuffer(raw + b"\n" * PAD, np.uint8)
        nl = np.flatnonzero(self.buf[:self.size] == 10)
        self.starts = np.concatenate((np.zeros(1, np.int64), nl + 1))
        self.ends = np.concatenate((nl, np.array([self.size], np.int64)))
        self.n = len(self.starts)
        self._windows: dict[int, np.ndarray] = {}

    def line(self, i: int) -> str:
        return self.raw[self.starts[i]:self.ends[i]].decode("utf-8")

    def window(self, pos: np.ndarray, width: int) -> np.ndarray:
        """``width`` bytes (at most ``PAD``) from each offset in ``pos``, as an
        n x width array; past the block's end, newlines."""
        view = self._windows.get(width)
        if view is None:
            view = self._windows[width] = sliding_window_view(self.buf, width)
        return view[np.minimum(pos, len(view) - 1)]

    def at(self, pos: np.ndarray) -> np.ndarray:
        return self.buf[np.minimum(pos, len(self.buf) - 1)]

    def strings(self, starts: np.ndarray, ends: np.ndarray, buf: np.ndarray | None = None) -> pa.Array:
        """The byte ranges ``[starts[i], ends[i])`` of the block (or of ``buf``, a
        copy of its bytes changed in place) as a string array. The ranges must come in
        the order of the block and not overlap (fields of lines in line order): they
        and the gaps between them are then the strings of one array over the block's
        bytes, of which every other one is taken."""
        m = len(starts)
        if not m:
            return pa.array([], pa.string())
        offsets = np.empty(2 * m, np.int32)
        offsets[0::2] = starts
        offsets[1::2] = ends
        both = pa.Array.from_buffers(pa.string(), 2 * m - 1, [None, pa.py_buffer(offsets),
                                                              pa.py_buffer(self.buf if buf is None else buf)])
        return both.take(pa.array(np.arange(0, 2 * m, 2, dtype=np.int32)))


def json_records(block: Block) -> tuple[np.ndarray, np.ndarray]:
    """Which lines of a block of JSON Lines open an object, and which are records
    (not blank: a line that opens an object is not)."""
    opens = block.at(block.starts) == ord("{")
    counted = opens.copy()
    for i in np.flatnonzero(~opens):
        line = block.line(i)
        counted[i] = bool(line) and not line.isspace()
    return opens, counted


def lut(chars: bytes = b"", ranges: tuple[tuple[int, int], ...] = ()) -> np.ndarray:
    """A 256-entry byte class: the bytes in ``chars`` and the inclusive ``ranges``."""
    t = np.zeros(256, bool)
    for c in chars:
        t[c] = True
    for lo, hi in ranges:
        t[lo:hi + 1] = True
    return t


def assemble(src: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> pa.Array:
    """Row ``i`` = the concatenation of ``src[starts[i, j]:starts[i, j] + lens[i, j]]``
    over ``j``, as a string array. The byte offsets into ``src`` are one running sum:
    +1 within a piece, a jump at the start of each."""
    s = starts.ravel().astype(np.int32)
    n = lens.ravel().astype(np.int32)
    use = n > 0
    s, n = s[use], n[use]
    offsets = np.zeros(len(starts) + 1, np.int32)
    np.cumsum(lens.sum(axis=1), out=offsets[1:])
    total = int(offsets[-1])
    if not total:
        return pa.array([""] * len(starts), pa.string())
    out_start = np.cumsum(n) - n
    step = np.ones(total, np.int32)
    step[out_start[1:]] = s[1:] - (s[:-1] + n[:-1] - 1)
    step[0] = s[0]
    data = src[np.cumsum(step, dtype=np.int32)]
    return pa.Array.from_buffers(pa.string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)``, by a table instead of a sort when the
    keys span a short range (hours of a block, combinations of a few fields)."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo >= 1 << 16:
        return np.unique(keys, return_inverse=True)
    present = np.zeros(hi - lo + 1, bool)
    present[keys - lo] = True
    uniq = np.flatnonzero(present) + lo
    rank = np.cumsum(present) - 1
    return uniq, rank[keys - lo]


def repeat(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as a string array."""
    b = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * len(b)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b * n)])
