"""Symptoms grouped into incidents in true time.

An incident is a burst of symptoms (and their downstream consequences) with no gap
longer than ``gap_s`` between two of them, in *true* time: symptoms logged by a host
with a wrong clock are first moved to when they really happened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock.model import beyond_sql
from .hosts import canonical, canonical_map
from .store import Store
from .timefmt import UTC_FORMAT, Format

DEFAULT_GAP_S = 1800.0
DEFAULT_TOLERANCE_S = 300.0
EXCERPT_CHARS = 240
# A judge that accepted a peer's time this close to its failures (on its own clock)
# had a clock that worked for that peer then.
ACCEPT_WINDOW = timedelta(minutes=5)
# A symptom's record as reports cite it (schema.cite): its file and EventRecordID, else
# its position in the file.
_CITING = ("JOIN files cf ON cf.file_id = s.file_id "
           "JOIN events ce ON ce.file_id = s.file_id AND ce.record_no = s.record_no")
_CITED = "cf.path || '#' || coalesce(ce.record_id, s.record_no)"


@dataclass
class Incident:
    incident_id: int
    onset: datetime
    last: datetime
    end: datetime | None           # None: still failing when the evidence ends
    symptoms: int
    signatures: list[str]          # most frequent first
    signature_counts: dict[str, int]
    skew_signatures: list[str]     # signatures whose failure says a time was out of bounds
    protocols: list[str]
    tolerance_s: float             # the tightest tolerance among the failing protocols
    reporters: Counter = field(default_factory=Counter)   # host -> symptoms it logged
    named: Counter = field(default_factory=Counter)       # host -> symptoms naming it as the other clock
    first_records: list[str] = field(default_factory=list)
    # The two clocks of each skew symptom, (writer, judge): host names, or "(token
    # issuer)" for one no record names (one party per role: who it is is unknown).
    clock_pairs: Counter = field(default_factory=Counter)
    trusted: set[str] = field(default_factory=set)        # parties presumed to keep true time (AWS)
    writer_roles: dict[str, str] = field(default_factory=dict)   # writer -> what it was ("certificate's issuer")
    # judge host -> the other hosts whose times it accepted while it failed these ones
    # (records of the same kind, in its own clock's span of the failures)
    accepted: dict[str, set[str]] = field(default_factory=dict)
    # The first failure happened within [onset_low, onset_high] in true time (None: not
    # bounded on that side, a symptom of unknown time may have come first).
    onset_low: datetime | None = None
    onset_high: datetime | None = None

    @property
    def involved(self) -> set[str]:
        """Hosts whose clock a symptom involves: those that logged one, those named."""
        return set(self.reporters) | set(self.named)


def find_incidents(store: Store, gap_s: float = DEFAULT_GAP_S, when: Format = UTC_FORMAT) -> list[Incident]:
    hosts = [h for (h,) in store.con.execute("SELECT DISTINCT host FROM events").fetchall()]
    raw_others = [s for (s,) in store.con.execute(
        "SELECT DISTINCT other_raw FROM symptoms WHERE other_raw IS NOT NULL").fetchall()]
    mapping = canonical_map(hosts + raw_others)
    # A symptom on a clock whose offset is not bounded on both sides (no uncertainty in
    # the timeline) happened at an unknown true time (the estimate of a one-sided
    # interval is only the least skew it admits): it opens no incident of its own, but
    # joins one its host is part of, when there is one.
    rows = store.con.execute(f"""
        WITH sym AS (
          -- (rowid: symptoms of one record in the order the rules were matched, as written)
          SELECT s.*, s.uncertainty_s IS NULL AS unknown_time, {_CITED} AS cited, s.rowid AS written
          FROM symptoms s {_CITING} WHERE s.role IN ('symptom', 'consequence')),
        s AS (
          SELECT *, CASE WHEN epoch_us(true_time) - epoch_us(lag(true_time) OVER w) > {gap_s * 1e6}
                         THEN 1 ELSE 0 END AS starts
          FROM sym WHERE NOT unknown_time
          WINDOW w AS (ORDER BY true_time, host, file_id, record_no, written))
        SELECT sum(starts) OVER (ORDER BY true_time, host, file_id, record_no, written) AS incident,
               true_time, host, other_raw, signature, protocol, tolerance_s, role, skew_signature,
               logged, excerpt, logged_by, writer_role, judge_role, trusted, uncertainty_s, cited
        FROM s ORDER BY true_time, host, file_id, record_no, written""").fetchall()
    # ... though a one-sided interval bounds it on one side: true = logged - offset (none
    # for a record that may be on either of two segments, nor one logged beyond the
    # reach of its segment's evidence: of unknown offset, as on a clock nothing measures)
    placed = f"x.file_id IS NULL AND NOT {beyond_sql('g', 's.logged')}"
    unplaced = store.con.execute(f"""
        SELECT NULL, s.true_time, s.host, s.other_raw, s.signature, s.protocol, s.tolerance_s, s.role,
               s.skew_signature, s.logged, s.excerpt, s.logged_by, s.writer_role, s.judge_role, s.trusted,
               NULL, {_CITED},
               CASE WHEN {placed} THEN s.logged - to_microseconds(CAST(g.offset_high_s * 1e6 AS BIGINT))
               END AS true_low,
               CASE WHEN {placed} THEN s.logged - to_microseconds(CAST(g.offset_low_s * 1e6 AS BIGINT))
               END AS true_high
        FROM symptoms s LEFT JOIN segments g USING (segment_id)
             LEFT JOIN ambiguous_records x USING (file_id, record_no) {_CITING}
        WHERE s.role IN ('symptom', 'consequence') AND s.uncertainty_s IS NULL
        ORDER BY s.true_time, s.host, s.file_id, s.record_no, s.rowid""").fetchall()
    evidence_end = store.con.execute("SELECT max(true_time) FROM timeline").fetchall()[0][0]
    groups: dict[int, list[tuple]] = {}
    for row in rows:
        groups.setdefault(int(row[0]), []).append(row)
    _attach_unplaced(groups, unplaced, mapping, gap_s)
    incidents = []
    for k in sorted(groups):
        g = groups[k]
        sig = Counter(r[4] for r in g)
        skew = sorted({r[4] for r in g if r[8]})
        tols = [r[6] for r in g if r[6] is not None and (r[8] or not skew)]
        timed = [r for r in g if r[0] is not None] or g
        last = timed[-1][1]
        end = last if evidence_end is None or (evidence_end - last) > timedelta(seconds=gap_s) else None
        reporters = Counter(canonical(r[2], mapping) for r in g)
        named = Counter(canonical(_strip_port(r[3]), mapping) for r in g if r[3] and r[7] == "symptom")
        pairs, trusted, writer_roles = _clock_pairs(g, mapping)
        low, high = _onset_bounds(g)
        firsts = []
        for r in g[:3]:
            text = " ".join((r[10] or "").split())
            text = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"
            true = f"true {when(r[1])}" if r[0] is not None else "true time unknown"
            firsts.append(f"{r[4]} logged by {r[2]} at {when(r[9])} ({true}) in {r[16]}: {text}")
        incidents.append(Incident(
            incident_id=len(incidents) + 1, onset=timed[0][1], last=last, end=end, symptoms=len(g),
            signatures=[s for s, _ in sig.most_common()], signature_counts=dict(sig), skew_signatures=skew,
            protocols=sorted({r[5] for r in g}), tolerance_s=min(tols) if tols else DEFAULT_TOLERANCE_S,
            reporters=reporters, named=named, first_records=firsts, clock_pairs=pairs, trusted=trusted,
            writer_roles=writer_roles,
            accepted=_accepted(store, g, mapping), onset_low=low, onset_high=high))
    return incidents


def _clock_pairs(g: list[tuple], mapping: dict) -> tuple[Counter, set[str], dict[str, str]]:
    """(writer, judge) of each skew symptom of an incident, the parties presumed true,
    and what each writer was (the rule's words: "certificate's issuer")."""
    pairs: Counter = Counter()
    trusted: set[str] = set()
    roles: dict[str, str] = {}
    for r in g:
        if r[7] != "symptom" or not r[8]:
            continue
        logger = canonical(r[2], mapping)
        logged_by, writer_role, judge_role, trust = r[11], r[12], r[13], r[14]
        theirs = writer_role if logged_by == "judge" else judge_role
        other = canonical(_strip_port(r[3]), mapping) if r[3] else f"({theirs})"
        if other == logger:
            continue     # a record naming its own host: no second clock to weigh
        pair = (other, logger) if logged_by == "judge" else (logger, other)
        pairs[pair] += 1
        roles.setdefault(pair[0], writer_role)
        if trust and not r[3]:
            trusted.add(f"({writer_role if trust == 'writer' else judge_role})")
    return pairs, trusted, roles


def _onset_bounds(g: list[tuple]) -> tuple[datetime | None, datetime | None]:
    """When the first failure happened at the earliest and at the latest, in true time:
    each placed symptom's true time give or take its uncertainty; one of unknown time
    bounds it only where its segment's one-sided interval does (None otherwise)."""
    low: datetime | None = None
    high: datetime | None = None
    unbounded_low = False
    for r in g:
        if r[0] is not None and r[15] is not None:
            u = timedelta(seconds=float(r[15]))
            lo, hi = r[1] - u, r[1] + u
        else:
            lo, hi = (r[-2], r[-1]) if len(r) > 18 else (None, None)
        if lo is None:
            unbounded_low = True
        elif low is None or lo < low:
            low = lo
        if hi is not None and (high is None or hi < high):
            high = hi
    return (None if unbounded_low else low), high


def _accepted(store: Store, g: list[tuple], mapping: dict) -> dict[str, set[str]]:
    """Per judge of this incident's symptoms, the hosts whose times it accepted in
    records of the kind it failed (``judged_peers``) while it failed: its own logged
    span of the failures give or take ``ACCEPT_WINDOW``, one clock throughout, whatever
    its offset."""
    spans: dict[str, list] = {}
    for r in g:
        if r[7] == "symptom" and r[11] == "judge" and r[3]:
            s = spans.setdefault(r[2], [r[9], r[9]])
            s[0], s[1] = min(s[0], r[9]), max(s[1], r[9])
    out: dict[str, set[str]] = {}
    for host, (first, last) in spans.items():
        rows = store.con.execute(
            """SELECT other_raw, bool_or(failed) FROM judged_peers
               WHERE host = ? AND logged BETWEEN ? AND ? GROUP BY other_raw""",
            [host, first - ACCEPT_WINDOW, last + ACCEPT_WINDOW]).fetchall()
        ok = {canonical(_strip_port(o), mapping) for o, failed in rows if not failed}
        if ok:
            out[canonical(host, mapping)] = ok
    return out


def _attach_unplaced(groups: dict[int, list[tuple]], unplaced: list[tuple], mapping: dict, gap_s: float) -> None:
    """Symptoms of unknown true time into the incident their host is most part of (as
    reporter or named), among those its true time can be in (the last two fields of
    a row bound it, where a one-sided interval does, and stay for the onset's bounds); a symptom fitting none gets
    incidents of its own, in logged order (nothing better is known)."""
    if not unplaced:
        return
    involved: dict[str, Counter] = {}
    span: dict[int, tuple] = {}
    gap = timedelta(seconds=gap_s)
    for k, g in groups.items():
        span[k] = (min(r[1] for r in g) - gap, max(r[1] for r in g) + gap)
        for r in g:
            involved.setdefault(canonical(r[2], mapping), Counter())[k] += 1
            if r[3] and r[7] == "symptom":
                involved.setdefault(canonical(_strip_port(r[3]), mapping), Counter())[k] += 1
    alone: list[tuple] = []
    for r in unplaced:
        low, high = r[-2], r[-1]
        fits = [(n, k) for k, n in (involved.get(canonical(r[2], mapping)) or {}).items()
                if (low is None or span[k][1] >= low) and (high is None or span[k][0] <= high)]
        if fits:
            groups[max(fits, key=lambda f: (f[0], -f[1]))[1]].append(r)
        else:
            alone.append(r)
    k = max(groups, default=0) + 1
    for i, r in enumerate(alone):
        if i and (r[1] - alone[i - 1][1]).total_seconds() > gap_s:
            k += 1
        groups.setdefault(k, []).append(r)
    for g in groups.values():   # onset and end from the symptoms whose time is known
        g.sort(key=lambda r: (r[0] is None, r[1]))


def _strip_port(name: str) -> str:
    name = name.strip().strip('"')
    if name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name
