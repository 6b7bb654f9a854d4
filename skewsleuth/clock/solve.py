"""Offsets of every segment, as intervals, from difference constraints.

Every piece of evidence becomes a constraint ``lo <= o_j - o_i <= hi`` between two
segments' offsets, or between a segment and true time (node 0, offset 0):

* an explicit step of size d between consecutive segments: o_next - o_prev = d;
* a step made by a time service: the segment after it holds true time;
* a boot or an inferred backward jump: true time moved forward, so
  o_next - o_prev <= (logged after) - (logged before);
* a time service reporting sync, a case-file observation, a reference host.

The tightest interval for each offset follows from shortest paths over the constraint
graph (edge i->j of weight hi for o_j <= o_i + hi): the upper bound of o_j is the
distance 0->j, the lower bound minus the distance j->0. A negative cycle means
contradictory evidence: the weakest constraint on the cycle is dropped, and the
contradiction is reported with the evidence involved.

References: Cormen et al., "Introduction to Algorithms", 24.4 (difference
constraints); RFC 5905 (offset intervals from timestamps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import NegativeCycleError, shortest_path

INF = math.inf
MAX_CONTRADICTIONS = 25
# Priority when contradictions force a constraint out: weakest first.
STRENGTH = {"inferred": 0, "boot": 1, "sync": 2, "pairs": 3, "hint": 3, "observation": 4, "step": 5,
            "time_service": 5, "reference": 6}


@dataclass(eq=False)
class Constraint:
    i: int                 # node (0 = true time, segment_id + 1 otherwise)
    j: int
    lo: float              # lo <= o_j - o_i <= hi
    hi: float
    kind: str              # step | time_service | boot | inferred | sync | hint | observation | reference
    evidence: str


@dataclass
class Interval:
    low: float
    high: float
    estimate: float | None
    basis: list[str] = field(default_factory=list)     # kinds of evidence on the bounding paths
    evidence: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return math.isfinite(self.low) or math.isfinite(self.high)


@dataclass
class Solution:
    intervals: list[Interval]                 # indexed by segment_id
    contradictions: list[dict] = field(default_factory=list)


def solve(n_segments: int, constraints: list[Constraint]) -> Solution:
    active = list(constraints)
    contradictions: list[dict] = []
    while True:
        try:
            up, up_pred, down, down_pred, edge_of = _paths(n_segments + 1, active)
            break
        except NegativeCycleError:
            if len(contradictions) >= MAX_CONTRADICTIONS:
                # Finding cycles one by one costs a Bellman-Ford pass each: past this
                # many, set the weakest kind still in conflict aside wholesale, and say so.
                kinds = sorted({c.kind for c in active if c.kind not in ("reference", "time_service", "step")},
                               key=lambda k: STRENGTH.get(k, 0))
                if not kinds:
                    raise
                weakest_kind = kinds[0]
                n = sum(c.kind == weakest_kind for c in active)
                contradictions.append({"dropped": f"all {n} '{weakest_kind}' constraints: too many contradictions",
                                       "kind": weakest_kind, "cycle": []})
                active = [c for c in active if c.kind != weakest_kind]
                continue
            cycle = _negative_cycle(n_segments + 1, active)
            weakest = min(cycle, key=lambda c: (STRENGTH.get(c.kind, 0), -abs(c.hi - c.lo) if math.isfinite(c.hi - c.lo) else 0))
            contradictions.append({"dropped": weakest.evidence, "kind": weakest.kind,
                                   "cycle": [c.evidence for c in cycle]})
            active = [c for c in active if c is not weakest]
    attached: dict[int, list[Constraint]] = {}
    for c in active:
        for node in (c.i, c.j):
            if node:
                attached.setdefault(node, []).append(c)
    intervals = []
    for node in range(1, n_segments + 1):
        hi = float(up[node])
        lo = -float(down[node])
        used = _path_constraints(up_pred, node, edge_of, reverse=False) + \
            _path_constraints(down_pred, node, edge_of, reverse=True)
        # The basis is what binds the interval plus what bears on the segment directly
        # and agrees with it (an observation looser than a step still corroborates it).
        used += [c for c in attached.get(node, []) if c not in used]
        basis = sorted({c.kind for c in used})
        evidence = list(dict.fromkeys(c.evidence for c in used))
        intervals.append(Interval(lo, hi, _estimate(lo, hi), basis, evidence))
    return Solution(intervals, contradictions)


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


def _edges(constraints: list[Constraint]) -> dict[tuple[int, int], tuple[float, Constraint]]:
    best: dict[tuple[int, int], tuple[float, Constraint]] = {}
    for c in constraints:
        for (a, b, w) in ((c.i, c.j, c.hi), (c.j, c.i, -c.lo)):
            if math.isfinite(w) and ((a, b) not in best or w < best[(a, b)][0]):
                best[(a, b)] = (w, c)
    return best


def _matrix(n: int, edges: dict, reverse: bool):
    if not edges:
        return coo_matrix((n, n)).tocsr()
    rows, cols, weights = [], [], []
    for (a, b), (w, _) in edges.items():
        rows.append(b if reverse else a)
        cols.append(a if reverse else b)
        # csgraph reads a stored zero as "no edge"; a vanishing weight keeps it.
        weights.append(w if w != 0 else 1e-12)
    return coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr()


def _paths(n: int, constraints: list[Constraint]):
    edges = _edges(constraints)
    method = "BF" if n < 2000 else "J"
    up, up_pred = shortest_path(_matrix(n, edges, False), method=method, directed=True, indices=0,
                                return_predecessors=True)
    down, down_pred = shortest_path(_matrix(n, edges, True), method=method, directed=True, indices=0,
                                    return_predecessors=True)
    return up, up_pred, down, down_pred, edges


def _path_constraints(pred: np.ndarray, node: int, edges: dict, reverse: bool) -> list[Constraint]:
    out = []
    cur = node
    seen = 0
    while cur != 0 and pred[cur] >= 0 and seen < len(pred):
        p = int(pred[cur])
        key = (cur, p) if reverse else (p, cur)
        if key in edges:
            out.append(edges[key][1])
        cur = p
        seen += 1
    return out


def _negative_cycle(n: int, constraints: list[Constraint]) -> list[Constraint]:
    """Find one negative cycle (Bellman-Ford from a virtual source) and its constraints."""
    edges = _edges(constraints)
    dist = [0.0] * n
    pred: list[tuple[int, Constraint] | None] = [None] * n
    last = -1
    for _ in range(n):
        last = -1
        for (a, b), (w, c) in edges.items():
            if dist[a] + w < dist[b] - 1e-9:
                dist[b] = dist[a] + w
                pred[b] = (a, c)
                last = b
        if last < 0:
            return []
    for _ in range(n):  # walk back into the cycle
        last = pred[last][0]  # type: ignore[index]
    cycle, cur = [], last
    while True:
        a, c = pred[cur]  # type: ignore[misc]
        cycle.append(c)
        cur = a
        if cur == last:
            break
    return list(dict.fromkeys(cycle))
