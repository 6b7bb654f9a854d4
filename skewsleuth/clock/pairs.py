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
CREATE OR REPLACE TEMP TABLE _obs AS
-- seen from the receiver: o_self - o_other <= d ; from the sender: o_self - o_other >= -d
SELECT r_seg AS seg, r_file AS file_id, r_rn AS record_no, r_seq AS seq, s_seg AS other, TRUE AS upper,
       d_us / 1e6 AS d FROM _sip_pairs
UNION ALL
SELECT s_seg, s_file, s_rn, s_seq, r_seg, FALSE, -d_us / 1e6 FROM _sip_pairs
"""

# Per (segment, partner segment), in the segment's write order: the first reading that
# contradicts the readings before it, and the last earlier reading it contradicts.
# The clock stepped between the two.
_DISAGREEMENTS = """
WITH o AS (
  SELECT *, max(CASE WHEN NOT upper THEN d END) OVER w AS lo_before,
            min(CASE WHEN upper THEN d END) OVER w AS hi_before
  FROM _obs
  WINDOW w AS (PARTITION BY seg, other ORDER BY seq, record_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), k AS (
  SELECT seg, other, arg_min(file_id, (seq, record_no)) AS file_id, min(seq) AS seq,
         arg_min(upper, (seq, record_no)) AS upper, arg_min(d, (seq, record_no)) AS d
  FROM o WHERE lo_before > hi_before + $tol GROUP BY seg, other
)
SELECT k.seg, k.other, k.file_id, max(o.seq) AS seq_from, k.seq AS seq_to
FROM k JOIN _obs o ON o.seg = k.seg AND o.other = k.other AND o.seq < k.seq AND o.file_id = k.file_id
     AND ((NOT k.upper AND o.upper AND o.d < k.d - $tol) OR (k.upper AND NOT o.upper AND o.d > k.d + $tol))
GROUP BY k.seg, k.other, k.file_id, k.seq
"""

# The biggest jump, forward or back, of each range's log: where the step left its mark.
_BIGGEST_JUMP = """
WITH r AS (SELECT * FROM _ranges),
e AS (
  SELECT r.seg, r.other, e.file_id, e.host, e.record_no, coalesce(e.record_id, e.record_no) AS seq, e.logged,
         lag(e.logged) OVER w AS prev_logged,
         epoch_us(e.logged) - epoch_us(lag(e.logged) OVER w) AS jump_us
  FROM r JOIN events e ON e.file_id = r.file_id
       AND coalesce(e.record_id, e.record_no) BETWEEN r.seq_from AND r.seq_to
  WINDOW w AS (PARTITION BY r.seg, r.other ORDER BY coalesce(e.record_id, e.record_no), e.record_no)
)
SELECT seg, other, arg_max(jump_us, abs(jump_us)), arg_max(file_id, abs(jump_us)), arg_max(host, abs(jump_us)),
       arg_max(record_no, abs(jump_us)), arg_max(seq, abs(jump_us)), arg_max(logged, abs(jump_us)),
       arg_max(prev_logged, abs(jump_us))
FROM e WHERE jump_us IS NOT NULL GROUP BY seg, other
"""


def step_boundaries(store: Store, when: Format = UTC_FORMAT):
    """Steps no record mentions, found where a host's pairs with one partner segment
    stop agreeing, placed at the biggest jump of the host's own log between them.

    Both hosts of a disagreeing pair see the disagreement; the one whose log jumps
    most is taken to have stepped. One cut per segment pair per call: the caller
    repeats until the pairs agree. Returns ``{host: [Boundary]}``.
    """
    from .segments import RUN_GAP_S, Boundary

    store.con.execute(_SIP_PAIRS)
    store.con.execute(_OBSERVATIONS)
    ranges = store.con.sql(_DISAGREEMENTS, params={"tol": STEP_FROM_PAIRS_S}).to_arrow_table()
    if not len(ranges):
        return {}
    store.con.register("_ranges", ranges)
    try:
        rows = store.con.execute(_BIGGEST_JUMP).fetchall()
    finally:
        store.con.unregister("_ranges")
    best: dict[frozenset, tuple] = {}
    for seg, other, jump, f, host, rn, sq, logged, prev in rows:
        if jump is None or abs(jump) < RUN_GAP_S * 1e6:
            continue
        key = frozenset((seg, other))
        if key not in best or abs(jump) > abs(best[key][0]):
            best[key] = (jump, f, host, rn, sq, logged, prev)
    out: dict[str, list[Boundary]] = {}
    seen: set[tuple[int, int]] = set()
    for jump, f, host, rn, sq, logged, prev in best.values():
        if (f, rn) in seen:
            continue
        seen.add((f, rn))
        b = Boundary(host, "step", f, rn, sq, prev, logged, None, inferred=True, delta_max_s=jump / 1e6,
                     source="message pairs")
        b.evidence.append(f"messages {host} exchanged disagree about its clock before and after "
                          f"{when(prev)} -> {when(logged)} (as logged), where its log jumps {jump / 1e6:+.0f} s")
        out.setdefault(host, []).append(b)
    return out
