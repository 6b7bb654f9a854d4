"""Message pairs: the same message logged by its sender and by its receiver.

A message cannot arrive before it was sent. If host A logged sending it at ``t_s``
(on A's clock) and host B logged receiving it at ``t_r`` (on B's clock), then in true
time ``t_r - o_B >= t_s - o_A``, i.e. ``o_B - o_A <= t_r - t_s``: every pair bounds
the difference of two segments' offsets from one side, and a request with its
response bounds it from both, as NTP's four timestamps do (RFC 5905, 8).

Pairs are matched and reduced in one DuckDB query: per ordered pair of segments only
the tightest bound survives, so a million messages become a few constraints.

Matched today: Lync/Skype for Business SIPStack protocol records (CLS, OCSLogger), by
Call-ID, CSeq and start line, an ``outgoing`` record on one host with an ``incoming``
one on another. A retransmitted message is paired with its first send, and a message
that more than one host sent is not paired at all: a bound must hold whatever copy
arrived.

References: RFC 3261 (SIP transaction identity: Call-ID, CSeq); RFC 5905 (on-wire
offset bounds); Microsoft, "Centralized Logging Service in Lync Server 2013".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store
from ..timefmt import UTC_FORMAT, Format

# SIPStack times have millisecond resolution: each side may read up to 1 ms early.
RESOLUTION_S = {"sipstack": 0.001}


@dataclass
class PairBound:
    """o_B - o_A <= bound_s, for segment A (sender) and segment B (receiver)."""

    seg_send: int
    seg_recv: int
    host_send: str
    host_recv: str
    bound_s: float
    messages: int
    example: str


_SIP_PAIRS = r"""
CREATE OR REPLACE TEMP TABLE _sip_pairs AS
WITH sip AS (
  SELECT s.segment_id, e.host, e.file_id, e.record_no, e.seq, epoch_us(e.logged) AS us, f[1] AS direction,
         f[2] || chr(31) || f[3] || chr(31) || f[4] AS key, f[4] AS start_line,
         lower(regexp_replace(coalesce(f[5], ''), '^\[?([^\]]*?)\]?(:\d+)?$', '\1')) AS peer
  FROM (SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, logged,
               json_extract_string(data, ['$.direction', '$.call_id', '$.cseq', '$.start_line', '$.peer']) AS f
        FROM events WHERE format = 'sipstack') e
  JOIN event_segments s USING (file_id, record_no)
  WHERE f[1] IN ('incoming', 'outgoing') AND f[2] IS NOT NULL AND f[3] IS NOT NULL AND f[4] IS NOT NULL
), sent AS (
  -- per message and sending host, its first send: a retransmission's copy may be the
  -- one that arrived, and it cannot have arrived before the first was sent
  SELECT key, host, arg_min(file_id, us) AS file_id, arg_min(record_no, us) AS record_no,
         arg_min(seq, us) AS seq, arg_min(segment_id, us) AS segment_id, min(us) AS us,
         arg_min(peer, us) AS peer, any_value(start_line) AS start_line,
         count(*) OVER (PARTITION BY key) AS senders
  FROM sip WHERE direction = 'outgoing' GROUP BY key, host
)
SELECT s.file_id AS s_file, s.record_no AS s_rn, s.seq AS s_seq, s.segment_id AS s_seg, s.host AS s_host,
       r.file_id AS r_file, r.record_no AS r_rn, r.seq AS r_seq, r.segment_id AS r_seg, r.host AS r_host,
       r.us - s.us AS d_us, s.start_line
FROM sent s JOIN sip r ON r.key = s.key AND r.direction = 'incoming' AND r.host <> s.host
-- a message more than one host sent (a proxy forwarding it) pairs only with the host
-- the receiver names as its peer, or that names the receiver as its own
WHERE s.senders = 1
   OR r.peer = s.host OR split_part(r.peer, '.', 1) = split_part(s.host, '.', 1)
   OR s.peer = r.host OR split_part(s.peer, '.', 1) = split_part(r.host, '.', 1)
"""

_REDUCE = """
SELECT s_seg, r_seg, any_value(s_host), any_value(r_host), min(d_us), count(*), arg_min(start_line, d_us)
FROM _sip_pairs GROUP BY s_seg, r_seg ORDER BY s_seg, r_seg
"""


def sip_pair_bounds(store: Store) -> list[PairBound]:
    store.con.execute(_SIP_PAIRS)
    rows = store.con.execute(_REDUCE).fetchall()
    eps = 2 * RESOLUTION_S["sipstack"]
    return [PairBound(a, b, ha, hb, d / 1e6 + eps, n, ex) for a, b, ha, hb, d, n, ex in rows]


def pair_bounds(store: Store) -> list[PairBound]:
    """Every kind of message pair the evidence holds, reduced per segment pair."""
    return sip_pair_bounds(store)


def describe(p: PairBound, when: Format = UTC_FORMAT) -> str:
    return (f"{p.messages} SIP message{'s' if p.messages != 1 else ''} sent by {p.host_send} and logged by "
            f"{p.host_recv}: the quickest was logged as received {p.bound_s:+.3f} s after it was sent "
            f"(e.g. {p.example[:60]})")


# Two readings of one offset difference further apart than this mean a clock stepped
# between them (pair delays are milliseconds to seconds; steps worth finding are not).
STEP_FROM_PAIRS_S = 1.0

_OBSERVATIONS = """
-- seen from the receiver: o_self - o_other <= d ; from the sender: o_self - o_other >= -d
SELECT r_seg AS seg, r_file AS file_id, r_rn AS record_no, r_seq AS seq, s_seg AS other, TRUE AS upper, d_us
FROM _sip_pairs
UNION ALL
SELECT s_seg, s_file, s_rn, s_seq, r_seg, FALSE, -d_us FROM _sip_pairs
ORDER BY seg, other, seq, record_no
"""


def step_boundaries(store: Store, when: Format = UTC_FORMAT):
    """Steps no record mentions, found where a host's pairs with one partner segment
    stop agreeing, placed at the discontinuity of the host's own log between them.

    Returns ``{host: [Boundary]}`` for :func:`segments.build_segments`.
    """
    import numpy as np

    from .segments import RUN_GAP_S, Boundary

    store.con.execute(_SIP_PAIRS)
    t = store.con.execute(_OBSERVATIONS).fetchnumpy()
    if len(t["seg"]) == 0:
        return {}
    seg, other, upper, d = t["seg"], t["other"], t["upper"].astype(bool), t["d_us"].astype(np.float64) / 1e6
    file_id, seq = t["file_id"], t["seq"]
    tol = STEP_FROM_PAIRS_S
    splits: list[tuple[int, int, int, int]] = []   # (file, seq from, seq to, seg)
    starts = np.flatnonzero(np.r_[True, (seg[1:] != seg[:-1]) | (other[1:] != other[:-1])])
    stops = np.r_[starts[1:], len(seg)]
    for a, b in zip(starts, stops):
        i = a
        while i < b:
            lo = np.where(upper[i:b], -np.inf, d[i:b])
            hi = np.where(upper[i:b], d[i:b], np.inf)
            bad = np.flatnonzero(np.maximum.accumulate(lo) > np.minimum.accumulate(hi) + tol)
            if len(bad) == 0:
                break
            k = i + int(bad[0])          # the first reading that disagrees with those before it
            # The new regime: the readings from k on that agree with each other.
            lo_k = np.maximum.accumulate(np.where(upper[k:b], -np.inf, d[k:b]))
            hi_k = np.minimum.accumulate(np.where(upper[k:b], d[k:b], np.inf))
            e = k + int(np.argmax(lo_k > hi_k + tol)) if (lo_k > hi_k + tol).any() else b
            lo_new, hi_new = lo_k[e - k - 1], hi_k[e - k - 1]
            # The last earlier reading the new regime contradicts: the step is after it.
            j = k - 1
            while j > i and not ((not upper[j] and d[j] > hi_new + tol) or (upper[j] and d[j] < lo_new - tol)):
                j -= 1
            if file_id[j] == file_id[k]:
                splits.append((int(file_id[k]), int(seq[j]), int(seq[k]), int(seg[k]), int(other[k])))
            i = k
    # The step left a mark in the log of the host that made it: the biggest jump,
    # forward or back, between the readings. Both hosts of a disagreeing pair see it;
    # the one whose log jumps most is taken to have stepped.
    best: dict[frozenset, tuple] = {}
    for f, s_from, s_to, sg, ot in splits:
        rows = store.con.execute(
            """SELECT host, record_no, coalesce(record_id, record_no) AS seq, logged, epoch_us(logged) AS us
               FROM events WHERE file_id = ? AND coalesce(record_id, record_no) BETWEEN ? AND ?
               ORDER BY seq, record_no""", [f, s_from, s_to]).fetchall()
        if len(rows) < 2:
            continue
        gap, j = max(((rows[j][4] - rows[j - 1][4], j) for j in range(1, len(rows))), key=lambda g: abs(g[0]))
        if abs(gap) < RUN_GAP_S * 1e6:
            continue
        key = frozenset((sg, ot))
        if key not in best or abs(gap) > abs(best[key][0]):
            best[key] = (gap, f, rows[j - 1], rows[j])
    out: dict[str, list[Boundary]] = {}
    seen: set[tuple[int, int]] = set()
    for gap, f, before_row, row in best.values():
        if (f, row[2]) in seen:
            continue
        seen.add((f, row[2]))
        host, rn, sq, logged = row[0], row[1], row[2], row[3]
        prev = before_row[3]
        b = Boundary(host, "step", f, rn, sq, prev, logged, None, inferred=True, delta_max_s=gap / 1e6,
                     source="message pairs")
        b.evidence.append(f"messages {host} exchanged disagree about its clock before and after "
                          f"{when(prev)} -> {when(logged)} (as logged), where its log jumps {gap / 1e6:+.0f} s")
        out.setdefault(host, []).append(b)
    return out
