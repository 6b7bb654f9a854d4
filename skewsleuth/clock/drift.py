"""Clock drift within a segment, from the message pairs that span it.

A clock left to itself runs fast or slow at a rate (a quartz oscillator: tens of
ppm), so over a long segment its offset is ``a + r (t - mid)`` rather than a constant.
Two segments that exchange messages both ways for hours read their offset
difference over time: a message a -> b bounds it from above, b -> a from below. A
rate of the difference is possible exactly when every lower reading (x_j, l_j) and
upper reading (x_i, u_i) satisfy ``l_j - u_i <= r (x_j - x_i)``: the feasible rates
are an interval, read off all pairs of readings at once (readings thinned to the
tightest per time bucket first, which only widens it, so it stays sound). Rate
differences are difference constraints like offsets: with the references' rates
held at zero, the same solver gives every segment's rate interval.

A segment whose rate interval excludes zero drifts. Its pairs are then corrected for
the rate (each widened by the rate's uncertainty times its distance from the
segment's middle) and the offsets solved again: the offset reported is the one at
the segment's middle, and every event's true time uses ``offset + r (t - mid)``.

References: RFC 5905, 11.3 (frequency error and its bound, 15 ppm tolerance);
D. L. Mills, "Computer Network Time Synchronization", 2nd ed., ch. 4 (clock
discipline, oscillator frequency); Cormen et al. 29 (two-variable feasibility).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..store import Store

DRIFT_MIN_SPAN_S = 3600.0   # pairs must span this much of a segment to say anything
BUCKETS = 48                # readings kept per segment: the tightest of each bucket
MAX_RATE = 500e-6           # faster than this is not drift but a step no pair placed
REFERENCE_RATE = 1e-7       # a reference clock's rate is held this near zero (0.1 ppm)


@dataclass
class Drift:
    """A segment's rate (s/s, positive: the clock gains) within [low, high]."""

    segment_id: int
    rate: float
    low: float
    high: float
    mid_us: int                # the time (the segment's logged clock) the offset is given at
    span_s: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


# Per unordered pair of segments (a < b), readings of o_b - o_a over time: a message
# a -> b bounds it from above, b -> a from below. Times are the receivers' logged times
# less their offsets (near enough to true for a rate), thinned to the tightest per
# bucket; only pairs of segments that talk both ways over DRIFT_MIN_SPAN_S.
_READINGS = """
WITH o AS (
  SELECT least(s_seg, r_seg) AS a, greatest(s_seg, r_seg) AS b,
         r_us - coalesce(e.offset_s, 0) * 1e6 AS x,
         CASE WHEN s_seg < r_seg THEN d_us / 1e6 END AS u,
         CASE WHEN s_seg > r_seg THEN -d_us / 1e6 END AS l
  FROM _pairs JOIN _drift_offsets e ON e.seg = r_seg WHERE s_seg <> r_seg
), span AS (
  SELECT a, b, min(x) AS t0, max(x) AS t1 FROM o GROUP BY a, b
  HAVING max(x) - min(x) >= $min_span AND count(u) > 0 AND count(l) > 0
)
SELECT a, b, floor((x - t0) * $buckets / (t1 - t0 + 1)) AS k,
       arg_min(x, u) AS ux, min(u) AS u, arg_max(x, l) AS lx, max(l) AS l
FROM o JOIN span USING (a, b) GROUP BY ALL ORDER BY a, b, k
"""

# The middle of each segment's messages: where its offset is given when it drifts.
_MIDDLES = """
SELECT seg, (min(us) + max(us)) // 2 AS mid_us, (max(us) - min(us)) / 1e6 AS span_s FROM (
  SELECT s_seg AS seg, s_us AS us FROM _pairs UNION ALL SELECT r_seg, r_us FROM _pairs) GROUP BY seg
"""


def estimate_drift(store: Store, offsets: np.ndarray, references: list[int]) -> dict[int, Drift]:
    """The rate of every segment that the pairs tie to a reference by pairs of
    segments talking both ways for hours. Needs ``_pairs``.

    Rates are differences like offsets: each such pair of segments bounds
    ``r_b - r_a`` (the rate of its offset difference), the references' rates are
    held at zero within ``REFERENCE_RATE``, and the same shortest paths give every
    segment's rate interval (``offsets``: the current estimates, for the times).
    """
    from .solve import Constraint, ConstraintSet, solve

    store.con.register("_drift_offsets", pa.table({
        "seg": pa.array(np.arange(len(offsets)), pa.int32()),
        "offset_s": pa.array(np.where(np.isfinite(offsets), offsets, np.nan), from_pandas=True)}))
    try:
        t = store.con.sql(_READINGS, params={"min_span": DRIFT_MIN_SPAN_S * 1e6, "buckets": BUCKETS}).fetchnumpy()
    finally:
        store.con.unregister("_drift_offsets")
    a, b = t["a"].astype(np.int64), t["b"].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]) if len(a) else np.zeros(0, int)
    stops = np.r_[starts[1:], len(a)]
    rows_i, rows_j, lows, highs = [], [], [], []
    # a bucket with readings from one side only has nulls (masked) on the other
    cols = [np.ma.filled(np.ma.asarray(t[c]).astype(float), np.nan) for c in ("ux", "u", "lx", "l")]
    for s0, s1 in zip(starts.tolist(), stops.tolist()):
        r = _rate(*(c[s0:s1] for c in cols))
        if r is not None:
            rows_i.append(int(a[s0]) + 1)
            rows_j.append(int(b[s0]) + 1)
            lows.append(r[0])
            highs.append(r[1])
    if not rows_i:
        return {}
    cons = ConstraintSet([Constraint(0, seg + 1, -REFERENCE_RATE, REFERENCE_RATE, "reference", "reference rate")
                          for seg in references])
    cons.add_columns(np.array(rows_i), np.array(rows_j), np.array(lows), np.array(highs), "pairs",
                     lambda k: "rate of two segments' offset difference")
    rates = solve(len(offsets), cons, describe=False)
    middles = {seg: (mid, span) for seg, mid, span in store.con.execute(_MIDDLES).fetchall()}
    out: dict[int, Drift] = {}
    talking = set(rows_i) | set(rows_j)
    for seg, iv in enumerate(rates.intervals):
        if seg + 1 in talking and np.isfinite(iv.low) and np.isfinite(iv.high) and seg in middles \
                and max(abs(iv.low), abs(iv.high)) <= MAX_RATE:
            mid, span = middles[seg]
            out[seg] = Drift(seg, (iv.low + iv.high) / 2, iv.low, iv.high, int(mid), float(span))
    return out


def _rate(ux: np.ndarray, u: np.ndarray, lx: np.ndarray, l: np.ndarray) -> tuple[float, float] | None:
    """The feasible rates (s/s) for upper readings (ux µs, u s) and lower (lx, l)."""
    up, down = ~np.isnan(u), ~np.isnan(l)
    ux, u, lx, l = ux[up] / 1e6, u[up], lx[down] / 1e6, l[down]
    if not len(u) or not len(l):
        return None
    dx = lx[None, :] - ux[:, None]           # later lower reading minus upper reading
    gap = l[None, :] - u[:, None]
    if np.any((dx == 0) & (gap > 0)):
        return None                          # contradicting readings: not a drift question
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = gap / dx
    lo = ratio[dx > 0].max(initial=-np.inf)
    hi = ratio[dx < 0].min(initial=np.inf)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi or max(abs(lo), abs(hi)) > MAX_RATE:
        return None
    return float(lo), float(hi)


def register(store: Store, drifts: dict[int, Drift]) -> None:
    """Make the pair reduction correct for these rates (the ``_drift`` table)."""
    sig = [d for d in drifts.values() if d.significant]
    store.con.execute("CREATE OR REPLACE TEMP TABLE _drift (seg INTEGER, mid_us BIGINT, rate DOUBLE, err DOUBLE)")
    if sig:
        store.con.register("_drift_rows", pa.table({
            "seg": pa.array([d.segment_id for d in sig], pa.int32()),
            "mid_us": pa.array([d.mid_us for d in sig], pa.int64()),
            "rate": pa.array([d.rate for d in sig]),
            "err": pa.array([(d.high - d.low) / 2 for d in sig])}))
        try:
            store.con.execute("INSERT INTO _drift SELECT * FROM _drift_rows")
        finally:
            store.con.unregister("_drift_rows")
