"""Offsets of every segment, as intervals, from difference constraints.

Every piece of evidence becomes a constraint ``lo <= o_j - o_i <= hi`` between two
segments' offsets, or between a segment and true time (node 0, offset 0):

* an explicit step of size d between consecutive segments: o_next - o_prev <= d plus
  the quiet time before it (the clock may have moved unseen, never ahead by more),
  and = d as a presumption ("continuity") the evidence may set aside;
* a step made by a time service: the segment after it holds its source's time, a
  presumption weaker than a sync report;
* a boot or an inferred backward jump: true time moved forward, so
  o_next - o_prev <= (logged after) - (logged before);
* a message pair: o_recv - o_send <= (logged received) - (logged sent);
* a time service reporting sync, a case-file observation, a reference host.

The tightest interval for each offset follows from shortest paths over the constraint
graph (edge i->j of weight hi for o_j <= o_i + hi): the upper bound of o_j is the
distance 0->j, the lower bound minus the distance j->0. A negative cycle means
contradictory evidence: the weakest constraint on each cycle is set aside, and the
contradiction is reported with the evidence involved.

Each constraint also says when it holds, on each of its segments' clocks (the logged
span of the records it rests on: a step's instant, the pairs' first and last; or the
whole segment, for a reference): :func:`evidence_spans` reads from them how far each
segment's interval reaches.

Constraints are held as columns (:class:`ConstraintSet`), so a million message pairs
cost arrays, not objects; their descriptions are written only for the few that end up
bounding an interval or in a contradiction. Shortest paths run as Bellman-Ford in
rounds over all edges at once (numpy): the rounds needed are the number of hops of the
longest shortest path, a handful here, where a textbook pass costs nodes x edges.
Negative cycles show up as cycles of the predecessor graph while the rounds go on
(Tarjan's observation), so every cycle present is found in one pass.

References: Cormen et al., "Introduction to Algorithms", 24.1 and 24.4 (Bellman-Ford,
difference constraints); R. E. Tarjan, "Data Structures and Network Algorithms"
(1983), ch. 7 (cycles in the predecessor graph); RFC 5905 (offset intervals from
timestamps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, TypedDict

import numpy as np

EPS = 1e-9
# Priority when contradictions force a constraint out: weakest first.
STRENGTH = {"inferred": 0, "boot": 1, "continuity": 1.2, "time_service": 1.5, "sync": 2, "pairs": 3, "hint": 3, "observation": 4,
            "step": 5, "reference": 6,
            # A difference a message states (S3's ServerTime beside the request's, etcd's
            # clock drift): measured by software like a message pair, and resting like one
            # on a presumption (the service's clock is true, a round trip is short), so
            # as strong as a pair; weaker than what a person saw or a logged step's size.
            "measured": 3}
KINDS = tuple(STRENGTH)
MAX_EVIDENCE = 12       # descriptions kept per interval (the bounding ones come first)
TIE_S = 1e-7           # tie-break per step of weakness (see solve)
MAX_CONTRADICTIONS = 200  # one by one up to this many; then by kind (see _set_aside_contradictions)
SEGMENT_CONTRADICTIONS = 5  # ... and up to this many on one segment


@dataclass(eq=False)
class Constraint:
    i: int                 # node (0 = true time, segment_id + 1 otherwise)
    j: int
    lo: float              # lo <= o_j - o_i <= hi
    hi: float
    kind: str              # one of KINDS
    evidence: str
    # When it holds, as (first, last) logged time on node i's and on node j's own clock:
    # the records it rests on (a step's instant, a sync report's). None: for the whole
    # segment (a reference, a presumption of a running service), or the node is true time.
    at_i: tuple[datetime, datetime] | None = None
    at_j: tuple[datetime, datetime] | None = None


# The span of a constraint that holds for the whole of its segments (epoch seconds).
WHOLE = (-math.inf, math.inf)


def _span(at: tuple[datetime, datetime] | None) -> tuple[float, float]:
    return WHOLE if at is None else (at[0].timestamp(), at[1].timestamp())


class ConstraintSet:
    """Constraints as columns: node arrays, bounds, kind codes, and descriptions that
    are written on demand (``describe(row)`` of the block a constraint came in); and
    when each holds (:meth:`spans`)."""

    def __init__(self, constraints: Iterable[Constraint] = ()) -> None:
        self._blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                 Callable[[int], str], np.ndarray]] = []
        self._cache: tuple | None = None
        self.extend(constraints)

    def extend(self, constraints: Iterable[Constraint]) -> None:
        cs = list(constraints)
        if cs:
            self.add_columns(np.array([c.i for c in cs]), np.array([c.j for c in cs]),
                             np.array([c.lo for c in cs], float), np.array([c.hi for c in cs], float),
                             np.array([KINDS.index(c.kind) for c in cs], np.int8),
                             [c.evidence for c in cs].__getitem__,
                             np.array([_span(c.at_i) + _span(c.at_j) for c in cs], float))

    def add_columns(self, i, j, lo, hi, kind: str | np.ndarray, describe: Callable[[int], str],
                    spans: np.ndarray | None = None) -> None:
        """``spans``: per constraint (i first, i last, j first, j last), epoch seconds
        logged on each node's clock, -inf/inf for the whole segment (the default)."""
        n = len(i)
        codes = np.full(n, KINDS.index(kind), np.int8) if isinstance(kind, str) else np.asarray(kind, np.int8)
        at = np.tile(np.array(WHOLE + WHOLE), (n, 1)) if spans is None else np.asarray(spans, float).reshape(n, 4)
        self._blocks.append((np.asarray(i, np.int64), np.asarray(j, np.int64), np.asarray(lo, float),
                             np.asarray(hi, float), codes, describe, at))
        self._cache = None

    def spans(self) -> np.ndarray:
        """When each constraint holds: rows (i first, i last, j first, j last), epoch
        seconds on each node's own clock (see :meth:`add_columns`)."""
        if not self._blocks:
            return np.zeros((0, 4))
        return np.concatenate([b[6] for b in self._blocks])

    def __add__(self, other: "ConstraintSet | list[Constraint]") -> "ConstraintSet":
        out = ConstraintSet()
        out._blocks = list(self._blocks)
        if isinstance(other, ConstraintSet):
            out._blocks += other._blocks
        else:
            out.extend(other)
        return out

    def __len__(self) -> int:
        return sum(len(b[0]) for b in self._blocks)

    def columns(self):
        if self._cache is None:
            if self._blocks:
                cols = [np.concatenate([b[k] for b in self._blocks]) for k in range(5)]
            else:
                cols = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int8)]
            starts = np.cumsum([0] + [len(b[0]) for b in self._blocks])
            self._cache = (*cols, starts)
        return self._cache

    def evidence(self, k: int) -> str:
        starts = self.columns()[5]
        block = int(np.searchsorted(starts, k, side="right")) - 1
        return self._blocks[block][5](k - int(starts[block]))


class Contradiction(TypedDict):
    """Evidence that cannot all hold: the constraint set aside and the cycle it was in."""
    dropped: str           # what was set aside, described
    kind: str              # its kind (KINDS)
    cycle: list[str]       # every constraint of the cycle, described
    _segments: list[int]   # the segments in it (for the model's own use, not reported)


@dataclass
class Interval:
    low: float
    high: float
    estimate: float | None
    basis: list[str] = field(default_factory=list)     # kinds of evidence bearing on the segment
    evidence: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return math.isfinite(self.low) or math.isfinite(self.high)


@dataclass
class Solution:
    intervals: list[Interval]                 # indexed by segment_id
    contradictions: list[Contradiction] = field(default_factory=list)
    set_aside: list[int] = field(default_factory=list)   # constraints (by position) left out
    # For a solution solved with describe=False: writes the evidence texts when asked.
    _explain: Callable[[], list[Interval]] | None = field(default=None, repr=False)

    def described(self) -> "Solution":
        """This solution with every interval's basis and evidence written out."""
        if self._explain is None:
            return self
        return Solution(self._explain(), self.contradictions, self.set_aside)


def solve(n_segments: int, constraints: ConstraintSet | list[Constraint], describe: bool = True) -> Solution:
    """Every segment's offset interval; ``describe=False`` leaves out the evidence
    texts of the intervals until :meth:`Solution.described` asks for them (trial
    solves, most of which nobody reads)."""
    cs = constraints if isinstance(constraints, ConstraintSet) else ConstraintSet(constraints)
    n = n_segments + 1
    ci, cj, lo, hi, kind, _ = cs.columns()
    # Each constraint gives up to two edges: i->j of weight hi, j->i of weight -lo.
    up_ok, down_ok = np.isfinite(hi), np.isfinite(lo)
    src = np.concatenate([ci[up_ok], cj[down_ok]])
    dst = np.concatenate([cj[up_ok], ci[down_ok]])
    w = np.concatenate([hi[up_ok], -lo[down_ok]])
    row = np.concatenate([np.flatnonzero(up_ok), np.flatnonzero(down_ok)])
    dropped = np.zeros(len(ci), bool)
    contradictions = _set_aside_contradictions(n, cs, src, dst, w, row, dropped)
    active = ~dropped[row]
    a, b, wa, ra = src[active], dst[active], w[active], row[active]
    # Among equally tight paths, the one through the strongest evidence names the
    # basis: weaker edges cost a hair more (far below any bound's precision).
    tie = (STRENGTH["reference"] - np.array([STRENGTH[k] for k in KINDS]))[kind[ra]] * TIE_S
    up, up_pred = _shortest(n, a, b, wa, tie, source=0)
    down, down_pred = _shortest(n, b, a, wa, tie, source=0)   # distances to node 0
    explain = lambda: _intervals(n, cs, ci, cj, kind, dropped, up, up_pred, down, down_pred, a, b, ra)  # noqa: E731
    if describe:
        return Solution(explain(), contradictions, np.flatnonzero(dropped).tolist())
    plain = [Interval(float(-down[k]), float(up[k]), _estimate(float(-down[k]), float(up[k]))) for k in range(1, n)]
    return Solution(plain, contradictions, np.flatnonzero(dropped).tolist(), explain)


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected component of each of ``n`` nodes joined by the undirected edges
    ``(a[k], b[k])``, named by its smallest node. In rounds over all edges at once
    (numpy): each edge whose ends have different roots hooks the larger root under the
    smaller, then every node jumps to its root (Shiloach and Vishkin, 1982). SciPy's
    csgraph, which found them before, took ~0.15 s to import: more than a small case's
    whole clock model."""
    parent = np.arange(n, dtype=np.int64)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            return parent
        ra, rb = ra[apart], rb[apart]
        # A node's parent is never above it: no cycle, and each round hooks a root.
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def evidence_spans(n_segments: int, cs: ConstraintSet, solution: Solution) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, the first and last logged time (epoch seconds, on its own clock)
    at which the evidence bounding its offset holds: the spans of every constraint on
    it that was not set aside and that bounds it, that is whose other end is bounded
    on the side it passes (a boot's "at most" after a clock nothing bounds says
    nothing of the next). -inf and inf: one holds for the whole segment; inf and -inf:
    none bounds it."""
    ci, cj, lo, hi, _, _ = cs.columns()
    at = cs.spans()
    keep = np.ones(len(ci), bool)
    keep[np.asarray(solution.set_aside, np.int64)] = False
    low = np.array([0.0] + [iv.low for iv in solution.intervals])
    high = np.array([0.0] + [iv.high for iv in solution.intervals])
    fin = np.isfinite
    # lo <= o_j - o_i <= hi: o_j <= o_i + hi and o_j >= o_i + lo; o_i <= o_j - lo and o_i >= o_j - hi
    on_j = keep & ((fin(hi) & fin(high[ci])) | (fin(lo) & fin(low[ci])))
    on_i = keep & ((fin(lo) & fin(high[cj])) | (fin(hi) & fin(low[cj])))
    first = np.full(n_segments + 1, np.inf)
    last = np.full(n_segments + 1, -np.inf)
    np.minimum.at(first, ci[on_i], at[on_i, 0])
    np.maximum.at(last, ci[on_i], at[on_i, 1])
    np.minimum.at(first, cj[on_j], at[on_j, 2])
    np.maximum.at(last, cj[on_j], at[on_j, 3])
    return first[1:], last[1:]


def _shortest(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, tie: np.ndarray, source: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Bellman-Ford in rounds from ``source`` (the graph has no negative cycle): the
    distance and predecessor edge of every node.

    Paths are chosen on ``w + tie``; the distances returned are the exact lengths of
    the chosen paths, so a bound is never tighter than the evidence allows.
    """
    wt = w + tie
    dist = np.full(n, np.inf)
    dist[source] = 0.0
    pred = np.full(n, -1, np.int64)
    for _ in range(n):
        cand = dist[a] + wt
        better = cand < dist[b] - EPS
        if not better.any():
            break
        idx = np.flatnonzero(better)
        new = dist.copy()
        np.minimum.at(new, b[idx], cand[idx])
        win = idx[cand[idx] <= new[b[idx]]]
        pred[b[win]] = win
        dist = new
    exact = np.full(n, np.inf)
    exact[source] = 0.0
    reached = np.flatnonzero(pred >= 0)
    edges = pred[reached]
    for _ in range(n):   # as many rounds as the tree is deep
        new = exact.copy()
        new[reached] = exact[a[edges]] + w[edges]
        if np.array_equal(new, exact):
            break
        exact = new
    return exact, pred


def _set_aside_contradictions(n: int, cs: ConstraintSet, src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                              row: np.ndarray, dropped: np.ndarray) -> list[Contradiction]:
    """Find every negative cycle and set the weakest constraint of each aside
    (marking it in ``dropped``); returns the contradictions, described.

    Bellman-Ford from a virtual source joined to every node (all labels start at 0),
    in rounds. A cycle in the predecessor graph is a negative cycle; its weakest
    constraint is set aside and the rounds carry on from the labels they reached:
    relaxation from any finite labels settles exactly when no negative cycle is left,
    so nothing is started over. Among equally strong constraints, the one on the
    segment that turned up in most cycles goes first. Past ``MAX_CONTRADICTIONS`` in
    all or ``SEGMENT_CONTRADICTIONS`` on one segment, the weakest kind of evidence on
    that segment is set aside wholesale, and that is said too.
    """
    ci, cj, lo, hi, kind, _ = cs.columns()
    strength = np.array([STRENGTH[k] for k in KINDS])[kind]
    blame = np.zeros(n, np.int64)
    dist = np.zeros(n)
    pred = np.full(n, -1, np.int64)
    live = np.flatnonzero(~dropped[row])
    l_src, l_dst, l_w = src[live], dst[live], w[live]
    contradictions: list[Contradiction] = []
    for _ in range(4 * (n + 1) + 2 * len(row)):   # a drop may cost up to n rounds; in practice a few
        cand = dist[l_src] + l_w
        better = cand < dist[l_dst] - EPS
        if not better.any():
            break
        idx = np.flatnonzero(better)
        new = dist.copy()
        np.minimum.at(new, l_dst[idx], cand[idx])
        win = idx[cand[idx] <= new[l_dst[idx]]]
        pred[l_dst[win]] = live[win]
        dist = new
        cycles = [c for c in _pred_cycles(pred, src) if w[c].sum() < -EPS]
        if not cycles:
            continue
        for cycle in cycles:
            rows = list(dict.fromkeys(int(row[e]) for e in cycle))
            if dropped[rows].any():
                continue   # broken already by what another cycle of this round set aside
            nodes = np.unique(np.concatenate([ci[rows], cj[rows]]))
            blame[nodes] += 1
            blame[0] = 0   # true time is in every cycle through a reference: no blame
            segs = [int(x) - 1 for x in nodes if x > 0]
            most = int(nodes[np.argmax(blame[nodes])])
            if len(contradictions) < MAX_CONTRADICTIONS and blame[most] < SEGMENT_CONTRADICTIONS:
                # Equally strong evidence: blame the constraint whose segment keeps
                # turning up in contradictions (a segment that mixes two clocks).
                weakest = min(rows, key=lambda k: (strength[k], -max(blame[ci[k]], blame[cj[k]]),
                                                   -(hi[k] - lo[k]), k))
                dropped[weakest] = True
                contradictions.append({"dropped": cs.evidence(weakest), "kind": KINDS[kind[weakest]],
                                       "cycle": [cs.evidence(k) for k in rows], "_segments": segs})
            else:
                # Too many to take one by one: set aside the weakest kind of evidence
                # on the most blamed segment of the cycle, all of it, and say so.
                weakest_kind = min((kind[k] for k in rows), key=lambda c: STRENGTH[KINDS[c]])
                hit = (kind == weakest_kind) & ((ci == most) | (cj == most)) & ~dropped
                where = "one segment"
                if not hit.any():
                    where = "the contradicting cycle"
                    # The blamed segment holds none of that kind: what contradicts is
                    # in this cycle, so only the cycle's own constraints of that kind
                    # go (another host's sync reports are no part of it).
                    hit = np.zeros(len(kind), bool)
                    hit[[k for k in rows if kind[k] == weakest_kind]] = True
                dropped |= hit
                contradictions.append({"dropped": f"all {int(hit.sum())} '{KINDS[weakest_kind]}' constraints on "
                                                  f"{where}, e.g. {cs.evidence(int(np.flatnonzero(hit)[0]))}: "
                                                  f"too many contradictions", "kind": KINDS[weakest_kind],
                                       "cycle": [cs.evidence(k) for k in rows], "_segments": segs})
        live = np.flatnonzero(~dropped[row])
        l_src, l_dst, l_w = src[live], dst[live], w[live]
        pred[(pred >= 0) & dropped[row[np.maximum(pred, 0)]]] = -1
    else:
        # Not settled within the budget: keep only what is strongest (logged steps'
        # sound bounds, references) rather than bound anything on contradictions.
        weak = (strength < STRENGTH["step"]) & ~dropped
        dropped |= weak
        contradictions.append({"dropped": f"all {int(weak.sum())} constraints weaker than a logged step: the "
                                          f"contradictions did not settle", "kind": "inferred", "cycle": [],
                               "_segments": []})
    return contradictions


def _pred_cycles(pred: np.ndarray, a: np.ndarray) -> list[list[int]]:
    """Cycles of the functional graph node -> tail of its predecessor edge, each as
    its edges from the first node a walk from the lowest node reaching it meets, in
    the order of those lowest nodes.

    Runs every Bellman-Ford round, so the search is in arrays: after n steps every
    walk that has not ended sits on a cycle (pointer doubling finds where); only the
    cycles themselves, few and short, are walked one node at a time.
    """
    n = len(pred)
    parent = np.where(pred >= 0, a[np.maximum(pred, 0)], -1)
    far, hops = parent.copy(), 1
    while hops < n:
        far = np.where(far >= 0, far[np.maximum(far, 0)], -1)
        hops *= 2
    ends = np.flatnonzero(far >= 0)
    if not len(ends):
        return []
    parent_l = parent.tolist()
    cycle_of: dict[int, int] = {}      # node on a cycle -> the cycle's lowest node
    for start in np.unique(far[ends]).tolist():
        if start in cycle_of:
            continue
        nodes, u = [start], parent_l[start]
        while u != start:
            nodes.append(u)
            u = parent_l[u]
        low = min(nodes)
        for v in nodes:
            cycle_of[v] = low
    # The lowest node whose walk ends on each cycle, and where it enters the cycle.
    first_start: dict[int, int] = {}
    for v in ends.tolist():
        first_start.setdefault(cycle_of[int(far[v])], v)
    edge = pred.tolist()
    cycles = []
    for v in sorted(first_start.values()):
        u = v
        while u not in cycle_of:
            u = parent_l[u]
        nodes, w = [u], parent_l[u]
        while w != u:
            nodes.append(w)
            w = parent_l[w]
        cycles.append([edge[x] for x in nodes])
    return cycles


def _intervals(n, cs: ConstraintSet, ci, cj, kind, dropped, up, up_pred, down, down_pred, a, b, rows
               ) -> list[Interval]:
    # Kinds of the evidence bearing on each node directly (both ends of a constraint).
    keep = ~dropped
    nodes = np.concatenate([ci[keep], cj[keep]])
    ks = np.concatenate([kind[keep], kind[keep]])
    which = np.concatenate([np.flatnonzero(keep)] * 2)
    order = np.lexsort((which, ks, nodes))
    nodes, ks, which = nodes[order], ks[order], which[order]
    first = np.r_[True, (nodes[1:] != nodes[:-1]) | (ks[1:] != ks[:-1])]
    attached: dict[int, list[tuple[int, int]]] = {}
    # per node and kind: the first few constraints, enough to describe it
    run_start = np.maximum.accumulate(np.where(first, np.arange(len(nodes)), 0))
    counts = np.arange(len(nodes)) - run_start
    for node, k, row in zip(nodes[counts < 3].tolist(), ks[counts < 3].tolist(), which[counts < 3].tolist()):
        attached.setdefault(node, []).append((k, row))
    pred_up, pred_down = up_pred.tolist(), down_pred.tolist()
    a_l, b_l, rows_l = a.tolist(), b.tolist(), rows.tolist()
    intervals = []
    for node in range(1, n):
        high, low = float(up[node]), -float(down[node])
        used = _path(pred_up, a_l, rows_l, node) + _path(pred_down, b_l, rows_l, node)
        # The basis is what binds the interval plus what bears on the segment directly
        # and agrees with it (an observation looser than a step still corroborates it).
        near = attached.get(node, [])
        basis = sorted({KINDS[kind[r]] for r in used} | {KINDS[k] for k, _ in near})
        described = list(dict.fromkeys(used + [r for k, r in near if KINDS[k] != "pairs"]
                                       + [r for k, r in near if KINDS[k] == "pairs"]))[:MAX_EVIDENCE]
        evidence = list(dict.fromkeys(cs.evidence(r) for r in described))
        intervals.append(Interval(low, high, _estimate(low, high), basis, evidence))
    return intervals


def _path(pred: list[int], tail: list[int], rows: list[int], node: int) -> list[int]:
    """Constraint rows on the shortest path from node 0 to ``node`` (or back)."""
    out, cur = [], node
    for _ in range(len(pred)):
        e = pred[cur]
        if cur == 0 or e < 0:
            break
        out.append(rows[e])
        cur = tail[e]
    return out


def _estimate(lo: float, hi: float) -> float | None:
    """A point in the interval: none when nothing bounds it.

    A clock is presumed right unless the evidence says otherwise, so an interval that
    admits 0 gives 0; one that does not gives its middle when bounded on both sides (a
    measured step), else its bound nearest 0 (the least skew the evidence allows).
    """
    if not (math.isfinite(lo) or math.isfinite(hi)):
        return None
    if lo <= 0.0 <= hi:
        return 0.0
    if math.isfinite(lo) and math.isfinite(hi):
        return (lo + hi) / 2
    return lo if lo > 0 else hi
