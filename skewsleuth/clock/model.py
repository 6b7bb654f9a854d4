"""The clock model: every host's boots, steps and segments, with offset intervals.

Built from the case database: read the clock facts (:mod:`.facts`) and match the
messages logged on both sides (:mod:`.pairs`); cut each host's log into segments
(:mod:`.segments`), also where the evidence proves a clock stepped without a record
saying so (a log's leap, the spot before a sync report, pairs that stop agreeing); find the rate of clocks that drift (:mod:`.drift`); and bound each
segment's offset from the constraints the evidence gives (:mod:`.solve`). The result
is written back as the ``segments`` table, so that every event's true time is one
join away (the ``timeline`` view: true = logged - offset, less rate x (t - mid) for a
drifting segment).

An offset holds only as far as its evidence reaches: each segment's interval is what
the evidence says at the instants it was read (a step's, a sync report's, the first
and last message pair's; the whole segment for a reference or a time service's
presumption), and further than ``REACH_S`` from them the offset is unknown: those
events keep their logged time, as on a clock nothing measures.

Offsets follow BRIEF: offset = logged - true, positive when the clock is ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePath
from typing import Sequence

import numpy as np
import pyarrow as pa

from ..case import Case, Observation
from ..schema import cite
from ..sources import platform_sql
from ..store import Store
from ..timefmt import UTC_FORMAT, Format, clockface
from .drift import Drift, estimate_drift, register as register_drift
from .facts import ClockFact, TimeService, file_paths, read_facts, set_by_user, time_services, user_sets
from .measured import AbsoluteBound, Shape, UnnamedBound, absolute_bounds, measured_bounds, prepare_measurements, unnamed_bounds, unplaced_notes
from .pairs import STEP_FROM_PAIRS_S, match_pairs, pair_bounds, prepare_messages, step_boundaries
from .segments import (SAME_STEP_S, STEP_MIN_S, Boundary, Segment, Segmenter, add_step, cited, keep_paired,
                       leap_boundaries, sync_boundaries, twice_read)
from .solve import (Constraint, ConstraintSet, Contradiction, Interval, Solution, components, evidence_spans,
                    solve)

STEP_EPS_S = 0.5        # a logged step's size is exact but for write latency
TIME_SERVICE_ACC_S = 2.0  # after a time service sets the clock it is this close to true
SYNC_ACC_S = 2.0        # a time service reporting sync holds the clock this close
SYNC_SETTLE_S = 60.0    # a step or a "wrong by" this soon after a sync report: not yet true
SETTLE_RECORDS = 3      # ... or this few records later in the report's log
ORDER_EPS_S = 1.0       # write-order bounds: records written in sequence
MAX_PAIR_PASSES = 8     # rounds of cutting segments where message pairs disagree
MAX_RECUT_TRIALS = 20   # dropped leaps tried again where dropping them settled something
SKEW_MIN_S = 60.0       # ... a segment this far off true time, for one
# How far a segment's offset holds beyond the instants its evidence was read at. The
# clock runs on meanwhile at its own rate error, which NTP bounds by PHI, "frequency
# tolerance PHI (s/s)" = 15e-6 (RFC 5905, 7.2, Figure 6), the rate a reading's
# dispersion grows at with its age (RFC 5905, 4). So an event's uncertainty widens by
# REACH_PHI x its distance from the evidence, and beyond REACH_S the offset is unknown:
# a day, where the widening (1.3 s) is as wide as the bounds themselves (SYNC_ACC_S),
# and a clock nothing watched for longer may as well have been set unseen (a snapshot
# revert, a person, a hypervisor: the reason a step's size says nothing of months
# before it).
REACH_PHI = 15e-6
REACH_S = 86400.0


@dataclass
class SegmentEstimate:
    segment: Segment
    interval: Interval
    suspect: bool = False       # opened by a step a person or script made
    notes: list[str] = field(default_factory=list)
    # The clock's rate over the segment where pairs span hours; when it is not zero
    # the offset is the one at drift.mid_us and changes at drift.rate.
    drift: Drift | None = None
    # The logged span (its own clock) of the instants the evidence bounding the offset
    # holds at (solve.evidence_spans); None: it holds for the whole segment (a
    # reference, a time service's presumption) or nothing bounds the offset.
    evidence_from: datetime | None = None
    evidence_to: datetime | None = None
    # Its events logged further than REACH_S before and after that span, of unknown
    # offset: how many, the first logged of those before and the last of those after.
    events_before: int = 0
    events_after: int = 0
    first_before: datetime | None = None
    last_after: datetime | None = None

    @property
    def offset_s(self) -> float | None:
        return self.interval.estimate

    def offset_at(self, logged: datetime) -> float:
        o = self.offset_s or 0.0
        if self.drift is not None and self.drift.significant:
            o += self.drift.rate * (logged.timestamp() * 1e6 - self.drift.mid_us) / 1e6
        return o

    def beyond(self, logged: datetime) -> bool:
        """Whether the offset is unknown at ``logged``: further than ``REACH_S`` from the
        instants its evidence was read at."""
        if self.evidence_from is None or self.evidence_to is None:
            return False
        return (self.evidence_from - logged).total_seconds() > REACH_S or \
            (logged - self.evidence_to).total_seconds() > REACH_S

    def true_time(self, logged: datetime) -> datetime:
        """As the ``timeline`` view gives it: beyond the evidence, as logged."""
        if self.beyond(logged):
            return logged
        return logged - timedelta(seconds=self.offset_at(logged))

    @property
    def true_from(self) -> datetime | None:
        lf = self.segment.logged_from
        return self.true_time(lf) if lf else None

    @property
    def true_to(self) -> datetime | None:
        lt = self.segment.logged_to
        return self.true_time(lt) if lt else None

    @property
    def known_from(self) -> datetime | None:
        """Where (logged) the part of the segment its offset holds for begins: its
        start, or ``REACH_S`` before the evidence."""
        lf = self.segment.logged_from
        if self.evidence_from is None:
            return lf
        edge = self.evidence_from - timedelta(seconds=REACH_S)
        return edge if lf is None or edge > lf else lf

    @property
    def known_to(self) -> datetime | None:
        lt = self.segment.logged_to
        if self.evidence_to is None:
            return lt
        edge = self.evidence_to + timedelta(seconds=REACH_S)
        return edge if lt is None or edge < lt else lt

    def parts(self) -> list[tuple[datetime | None, datetime | None, int, bool]]:
        """The segment's stretches with events, in order: (logged from, logged to,
        events, whether its offset holds there). The part within the reach of its
        evidence (where the offset was measured, kept even with no event of its own),
        and the parts beyond it, before and after, of unknown offset."""
        within = self.segment.events - self.events_before - self.events_after
        out = []
        if self.events_before:
            out.append((_earlier(self.first_before, self.segment.logged_from), self.known_from, self.events_before,
                        False))
        out.append((self.known_from, self.known_to, within, True))
        if self.events_after:
            out.append((self.known_to, _later(self.last_after, self.segment.logged_to), self.events_after, False))
        return out

    def beyond_basis(self, when: Format = UTC_FORMAT) -> str:
        """Why the offset is unknown beyond the reach of the evidence."""
        if self.evidence_from is None or self.evidence_to is None:
            return ""
        when_read = (f"at {when(self.evidence_from)}" if self.evidence_from == self.evidence_to
                     else f"from {when(self.evidence_from)} to {when(self.evidence_to)}")
        return f"beyond the evidence: the offset was measured only {when_read} (logged)"

    @property
    def known_true_from(self) -> datetime | None:
        """The true time the part its offset holds for begins at."""
        k = self.known_from
        return None if k is None else k - timedelta(seconds=self.offset_at(k))

    @property
    def known_true_to(self) -> datetime | None:
        k = self.known_to
        return None if k is None else k - timedelta(seconds=self.offset_at(k))


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class HostClock:
    host: str
    boots: list[Boundary]
    steps: list[Boundary]
    segments: list[SegmentEstimate]
    platform: str = "unknown"   # windows | linux | unknown
    resumes: list[Boundary] = field(default_factory=list)
    # The time daemon its logs show (None: no log shows one), for the runbook's commands.
    time_service: TimeService | None = None


@dataclass
class ClockModel:
    hosts: dict[str, HostClock]
    segments: list[SegmentEstimate]
    facts: list[ClockFact]
    contradictions: list[Contradiction]
    unmatched_observations: list[tuple[Observation, str]] = field(default_factory=list)
    chains: dict[str, list[Boundary]] = field(default_factory=dict)   # per host, boundaries in order
    notes: list[str] = field(default_factory=list)   # evidence read but not used, and why
    # Measurements against a clock no record names (a token's issuer), for the verdict.
    unnamed: list[UnnamedBound] = field(default_factory=list)
    # Differences printed without their sign (Ceph's clock skew), for the verdict.
    absolute: list[AbsoluteBound] = field(default_factory=list)


def _node(seg: Segment) -> int:
    return seg.segment_id + 1


def _base_constraints(chains: dict[str, list[Boundary]], segments: list[Segment], facts: list[ClockFact],
                      store: Store, case: Case, when: Format) -> ConstraintSet:
    by_host: dict[str, list[Segment]] = {}
    for s in segments:
        by_host.setdefault(s.host, []).append(s)
    cons: list[Constraint] = []
    for host, chain in chains.items():
        segs = by_host[host]
        for k, b in enumerate(chain):
            prev, nxt = _node(segs[k]), _node(segs[k + 1])
            ev = "; ".join(b.evidence) or b.source
            # A change across the boundary holds where it happened: the old clock's last
            # reading, the new one's first.
            at = {"at_i": _instant(b.before or b.after), "at_j": _instant(b.after)}
            if b.kind == "step" and b.delta_s is not None:
                if b.resume and b.delta_s > 0:
                    # The clock stood still during a pause and was caught up: it was
                    # behind by delta only at the end, by less before the pause.
                    cons.append(Constraint(prev, nxt, -math.inf, b.delta_s + STEP_EPS_S, "step",
                                           ev + "; catches up after a pause", **at))
                else:
                    # The size is exact for the change the record names. That nothing
                    # moved the clock unseen between the last record before it and the
                    # step (a snapshot revert or a pause leaves no record, and the clock
                    # stands still meanwhile) is a presumption, weaker than any
                    # measurement. Unseen, the clock could only have gone back, or
                    # ahead by less than the quiet time before the step.
                    quiet = _quiet_before(segs[k], b)
                    cons.append(Constraint(prev, nxt, -math.inf, b.delta_s + quiet + STEP_EPS_S, "step",
                                           ev if quiet < 1 else f"{ev}; the logs were quiet for {quiet:.0f} s "
                                                                f"before it", **at))
                    cons.append(Constraint(prev, nxt, b.delta_s - STEP_EPS_S, b.delta_s + STEP_EPS_S, "continuity",
                                           f"{b.source} on {host}{cited(b.ref)}: presumed the only change of its "
                                           f"clock since the last record before it", **at))
                if b.setter == "time_service":
                    # A presumption, the weakest kind but write order: a time service
                    # sets the time of its source, which may be wrong itself. Any
                    # measurement that disagrees wins (solve.STRENGTH). A hypervisor's
                    # agent or a person sets whatever they were given: no presumption.
                    # The service goes on running: the presumption holds for the whole
                    # segment it opened (no span).
                    who = next((f.process for f in b.facts if f.process), None) or "a time service"
                    cons.append(Constraint(0, nxt, -TIME_SERVICE_ACC_S, TIME_SERVICE_ACC_S, "time_service",
                                           f"{b.source} on {host}{cited(b.ref)} at {when(b.after)} (logged) was "
                                           f"made by {who}, presumed to set its source's time"))
            elif b.kind == "step" and b.inferred and b.delta_max_s is not None:
                cons.append(Constraint(prev, nxt, -math.inf, b.delta_max_s + ORDER_EPS_S, "inferred", ev, **at))
            elif b.kind in ("boot", "resume") and b.before is not None:
                gap = (b.after - b.before).total_seconds()
                across = "a reboot" if b.kind == "boot" else "a sleep"
                cons.append(Constraint(prev, nxt, -math.inf, gap + ORDER_EPS_S, "boot",
                                       f"{ev}; last logged before it {when(b.before)}, and true time "
                                       f"only moves forward across {across}", **at))
    locate = _locator(store, facts)
    settles = _settling(facts)
    for f in facts:
        routine = (f.kind == "step" and f.delta_s is not None and abs(f.delta_s) < STEP_MIN_S
                   and f.setter == "time_service")
        if f.kind == "sync" or routine:
            # A time service's routine sub-second correction says as much as a sync report.
            seg = located = locate(f.file_id, f.host, f.record_no)
            if seg is not None and f.kind == "sync" and id(f) in settles:
                seg = _after_settling(segments[seg], by_host, chains, settles[id(f)])
            if seg is not None:
                # (a report that holds once the step it came with is made: from the step on)
                at = f.logged if seg == located else (segments[seg].logged_from or f.logged)
                cons.append(Constraint(0, seg + 1, -SYNC_ACC_S, SYNC_ACC_S, "sync",
                                       f"{f.source} on {f.host}{cited(f.ref)} at {when(f.logged)} (logged): "
                                       + ("time service reports sync" if f.kind == "sync"
                                          else f"time service corrected the clock by {f.delta_s:+.3f} s"),
                                       at_j=_instant(at)))
        elif f.kind == "hint" and f.correction_s is not None and f.source == "chronyd":
            seg = locate(f.file_id, f.host, f.record_no)
            if seg is not None:
                o = -f.correction_s
                cons.append(Constraint(0, seg + 1, o - STEP_EPS_S, o + STEP_EPS_S, "hint",
                                       f"chronyd on {f.host}{cited(f.ref)} at {when(f.logged)} (logged): clock "
                                       f"wrong by {f.correction_s:+.3f} s", at_j=_instant(f.logged)))
    refs = set(case.references)
    for s in segments:
        if s.host in refs:
            acc = case.reference_accuracy_s
            cons.append(Constraint(0, _node(s), -acc, acc, "reference",
                                   f"{s.host} is a reference clock (case file), trusted to ±{acc:g} s"))
    out = ConstraintSet(cons)
    pairs = pair_bounds(store, when)
    out.add_columns(pairs.seg_send + 1, pairs.seg_recv + 1, np.full(len(pairs), -math.inf), pairs.bound_s,
                    "pairs", pairs.describe, pairs.spans)
    measured = measured_bounds(store, when)
    if len(measured):
        # lo <= o_self - o_other <= hi, the other true time (node 0) or a segment; read
        # when the record was logged, and the other clock when it read what it said
        mine = measured.table.column("l_us").to_numpy().astype(float) / 1e6
        theirs = measured.table.column("other_us").to_numpy().astype(float) / 1e6
        out.add_columns(np.where(measured.other < 0, 0, measured.other + 1), measured.seg + 1, measured.lo,
                        measured.hi, "measured", measured.describe, np.column_stack([theirs, theirs, mine, mine]))
    return out


def _instant(t: datetime) -> tuple[datetime, datetime]:
    return (t, t)


def _quiet_before(seg: Segment, b: Boundary) -> float:
    """Seconds the clock ran, as read at the step, since the last record of any log of
    the host placed before it."""
    if b.before is None or seg.last_logged is None:
        return 0.0
    return max((b.before - seg.last_logged).total_seconds(), 0.0)


def _settling(facts: list[ClockFact]) -> dict[int, ClockFact | None]:
    """Sync reports the clock was not true at yet: the time service stepped the clock
    (a step follows within ``SYNC_SETTLE_S``: the report holds after the step) or said
    it is wrong by more than a sync's accuracy (None: it holds once the slew is over,
    which no record says). chronyd logs "Selected source" milliseconds before it steps.
    Keyed by id() of the sync fact."""
    out: dict[int, ClockFact | None] = {}
    by_host: dict[str, list[ClockFact]] = {}
    for f in facts:
        by_host.setdefault(f.host, []).append(f)
    for host_facts in by_host.values():
        # A person's or an agent's change right after a report does not make the report
        # premature: the clock was right until they changed it.
        boots = [f for f in host_facts if f.kind in ("boot", "resume")]
        fixes = [f for f in host_facts if (f.kind == "step" and f.delta_s is not None and abs(f.delta_s) >= STEP_MIN_S
                                           and f.before is not None and f.setter not in ("user", "agent"))
                 or (f.kind == "hint" and f.correction_s is not None and abs(f.correction_s) > SYNC_ACC_S)]
        for f in host_facts:
            if f.kind != "sync":
                continue
            for fix in fixes:
                at = fix.before if fix.kind == "step" else fix.logged
                soon = 0 <= (at - f.logged).total_seconds() <= SYNC_SETTLE_S  # type: ignore[operator]
                if fix.file_id == f.file_id:
                    # in one log write order decides: a clock reset to a default date
                    # reads the same times at every boot, and a reboot in between
                    # separates them. The step's first record may come next (journald's
                    # monotonic clock reads it at the record after).
                    soon = fix.seq > f.seq and (soon or fix.seq - f.seq <= SETTLE_RECORDS) and not any(
                        x.file_id == f.file_id and f.seq < x.seq < fix.seq for x in boots)
                if soon:
                    out[id(f)] = fix if fix.kind == "step" else None
                    break
    return out


def _after_settling(seg: Segment, by_host: dict[str, list[Segment]], chains: dict[str, list[Boundary]],
                    fix: ClockFact | None) -> int | None:
    """The segment a settling sync report holds for: the one the step it came with
    opened; None while the clock is still being slewed."""
    if fix is None:
        return None
    segs, chain = by_host[seg.host], chains.get(seg.host, [])
    for k in range(seg.index, len(chain)):
        if any(x is fix for x in chain[k].facts):
            return segs[k + 1].segment_id
    return seg.segment_id   # the step opened an earlier segment: the report is already after it


def _locator(store: Store, facts: list[ClockFact]):
    """Segment of each fact's record, looked up in one query."""
    keys = pa.table({"file_id": pa.array([f.file_id for f in facts], pa.int32()),
                     "record_no": pa.array([f.record_no for f in facts], pa.int64())})
    store.con.register("_fact_keys", keys)
    try:
        rows = store.con.execute("""SELECT s.file_id, s.record_no, s.segment_id FROM event_segments s
                                    SEMI JOIN _fact_keys k USING (file_id, record_no)""").fetchall()
    finally:
        store.con.unregister("_fact_keys")
    index = {(f, r): seg for f, r, seg in rows}

    def locate(file_id: int, host: str, record_no: int) -> int | None:
        return index.get((file_id, record_no))
    return locate


def _observation_constraints(case: Case, segments: list[Segment], first: Solution, when: Format
                             ) -> tuple[list[Constraint], list[tuple[Observation, str]]]:
    """Attach each observation to the segment of its host that could have shown it.

    Logged windows overlap after a backward step, so among the segments whose window
    holds the shown time, the one whose offset interval admits the observed offset wins.
    """
    cons, unmatched = [], []
    for ob in case.observations:
        cands = [s for s in segments if s.host == ob.host and _holds(s, ob.shown)]
        if not cands:
            unmatched.append((ob, f"no log of {ob.host} covers the shown time {when(ob.shown)}"))
            continue
        o = ob.offset_s

        def distance(s: Segment) -> float:
            iv = first.intervals[s.segment_id]
            return max(iv.low - o, 0.0, o - iv.high)

        best = min(cands, key=lambda s: (distance(s), -s.index))
        cons.append(Constraint(0, _node(best), o - ob.uncertainty_s, o + ob.uncertainty_s, "observation",
                               f"observed on {ob.host}: showed {when(ob.shown)} when it was "
                               f"{when(ob.at)} (case file)", at_j=_instant(ob.shown)))
    return cons, unmatched


def _holds(s: Segment, t: datetime) -> bool:
    lo = s.window_from or s.first_logged
    hi = s.window_to or s.last_logged
    return (lo is None or t >= lo - timedelta(minutes=5)) and (hi is None or t <= hi + timedelta(minutes=5))


@dataclass
class Cut:
    """Every host's log cut into segments at the boundaries known so far."""
    segments: list[Segment]
    chains: dict[str, list[Boundary]]            # per host, its boundaries in order
    extra: dict[str, list[Boundary]]             # the boundaries no record names, proven
    # Candidates the evidence did not prove (host, boundary), and what the trial with
    # every candidate cut left open: boots and resumes whose change it did not force,
    # segments it did not put off true time (see _settled)
    dropped: list[tuple[str, Boundary]] = field(default_factory=list)
    unforced: set[tuple] = field(default_factory=set)


@dataclass
class Weighed:
    """The evidence weighed on a cut and solved: every segment's interval."""
    cut: Cut
    solution: Solution
    drifts: dict[int, Drift]
    unmatched: list[tuple[Observation, str]]
    # the constraints solved (None: not known, every offset holds for its whole segment)
    constraints: ConstraintSet | None = None


def build_clock_model(store: Store, case: Case, measures: Sequence[Shape] = ()) -> ClockModel:
    """The clock model in its phases: cut at the boundaries records name, prove the
    steps no record names, weigh the evidence and solve, assemble. ``measures``: the
    shapes of measurement the rules declare, beside the built-in ones (:mod:`.measured`)."""
    when = clockface(case.timezone)
    facts = read_facts(store, when)
    unused = prepare_measurements(store, measures, case.addresses, case.timezone_name)
    prepare_messages(store, case.correlation_keys)
    segmenter = Segmenter(store, facts, when)
    cut = prove_steps(store, case, facts, segmenter, cut_logs(segmenter), when)
    weighed = weigh(store, case, facts, segmenter, cut, when)
    model = assemble(store, facts, weighed, when)
    model.notes += unused + unplaced_notes(store)
    model.unnamed = unnamed_bounds(store)
    model.absolute = absolute_bounds(store)
    return model


def cut_logs(segmenter: Segmenter) -> Cut:
    """Phase 1: the boots, resumes and steps the records name, and the jumps back."""
    segments, chains = segmenter.build()
    return Cut(segments, chains, {})


def prove_steps(store: Store, case: Case, facts: list[ClockFact], segmenter: Segmenter, cut: Cut,
                when: Format) -> Cut:
    """Phase 2: steps no record names, first the candidates the whole evidence proves
    (leaps of the logs, the spot before a first sync report), then wherever one
    partner's pairs still stop agreeing."""
    segments, chains = cut.segments, cut.chains
    trial = _proven_leaps(store, case, facts, segments, when, segmenter)
    dropped: list[tuple[str, Boundary]] = []
    unforced: set[tuple] = set()
    if trial is not None:   # the trial left its own cuts in event_segments
        extra, dropped, unforced = trial
        segments, chains = segmenter.build(extra)
    else:
        extra = {}
    for _ in range(MAX_PAIR_PASSES):
        if not _add_new(step_boundaries(store, segments, when), chains, extra):
            break
        segments, chains = segmenter.build(extra)
    return Cut(segments, chains, extra, dropped, unforced)


def weigh(store: Store, case: Case, facts: list[ClockFact], segmenter: Segmenter, cut: Cut,
          when: Format) -> Weighed:
    """Phase 3: every piece of evidence as a constraint of its kind, solved with the
    clocks' rates; a segment that keeps turning up in contradicting pairs mixes two
    clocks and is cut where they stop agreeing (the last pass only solves); the
    case file's observations last, on the segments whose offsets admit them."""
    segments, chains, extra = cut.segments, cut.chains, cut.extra
    for pass_no in range(MAX_PAIR_PASSES):
        base, first, drifts = _solve_with_drift(store, case, facts, segments, chains, when)
        suspects = _suspects(first.contradictions)
        if not suspects or pass_no == MAX_PAIR_PASSES - 1:
            break
        low = np.array([iv.low for iv in first.intervals])
        high = np.array([iv.high for iv in first.intervals])
        if not _add_new(step_boundaries(store, segments, when, suspects=suspects, low=low, high=high), chains, extra):
            break
        segments, chains = segmenter.build(extra)
    if cut.dropped and cut.unforced:
        recut, tried, last = _recut_dropped(store, case, facts, segmenter,
                                            Cut(segments, chains, extra, cut.dropped, cut.unforced),
                                            first.intervals, when)
        if _add_new(recut, chains, extra) or tried:   # (a trial leaves its cuts in event_segments)
            if recut and last is not None and _same_cuts(last.extra, extra):
                # The last trial cut just these, and the store holds its placement:
                # its segments and solution are what building and solving again gives.
                segments, chains = last.segments, last.chains
                base, first, drifts = last.solved
            else:
                segments, chains = segmenter.build(extra)
                if recut:
                    base, first, drifts = _solve_with_drift(store, case, facts, segments, chains, when)
    obs, unmatched = _observation_constraints(case, segments, first, when)
    cons = base + obs if obs else base
    solution = solve(len(segments), cons) if obs else first.described()
    return Weighed(Cut(segments, chains, extra), solution, drifts, unmatched, cons)


def assemble(store: Store, facts: list[ClockFact], weighed: Weighed, when: Format = UTC_FORMAT) -> ClockModel:
    """Phase 4: estimates per segment and host, the measured size of the steps no
    record sized, the ``segments`` table and the ``timeline`` view."""
    segments, chains, solution = weighed.cut.segments, weighed.cut.chains, weighed.solution
    if weighed.constraints is not None:
        first, last = evidence_spans(len(segments), weighed.constraints, solution)
    else:
        first, last = np.full(len(segments), -np.inf), np.full(len(segments), np.inf)
    estimates = []
    for seg, iv, a, b in zip(segments, solution.intervals, first.tolist(), last.tolist()):
        est = SegmentEstimate(seg, iv, drift=weighed.drifts.get(seg.segment_id))
        if iv.known and math.isfinite(a) and math.isfinite(b):
            est.evidence_from, est.evidence_to = _utc(a), _utc(b)
        if seg.opened_by is not None and seg.opened_by.setter == "user":
            est.suspect = True
            who = next((f.process for f in seg.opened_by.facts if f.process), "a user process")
            est.notes.append(f"opened by a clock change made by {who}: set to whatever it was given")
        estimates.append(est)
    platforms = dict(store.con.execute(
        f"SELECT host, {platform_sql()} FROM events GROUP BY host").fetchall())
    by_host: dict[str, list[SegmentEstimate]] = {}
    for est in estimates:
        by_host.setdefault(est.segment.host, []).append(est)
    for h, chain in chains.items():
        for k, b in enumerate(chain):
            _narrow_to_records(b, by_host[h][k].segment, by_host[h][k + 1].segment)
            # a one-sided interval's estimate is only the least skew it admits: no size
            prev_iv, next_iv = by_host[h][k].interval, by_host[h][k + 1].interval
            bounded = all(math.isfinite(x) for x in (prev_iv.low, prev_iv.high, next_iv.low, next_iv.high))
            if b.kind == "step" and b.delta_s is None and bounded:
                b.measured_s = by_host[h][k + 1].offset_s - by_host[h][k].offset_s
    twice = _twice_read(store, by_host, when)
    services = time_services(store, facts)
    hosts: dict[str, HostClock] = {}
    for est in estimates:
        h = est.segment.host
        if h not in hosts:
            chain = chains.get(h, [])
            hosts[h] = HostClock(h, [b for b in chain if b.kind == "boot"], [b for b in chain if b.kind == "step"],
                                 [], platforms.get(h, "unknown"), [b for b in chain if b.kind == "resume"],
                                 services.get(h))
        hosts[h].segments.append(est)
    _write_segments(store, estimates, twice)
    _count_beyond(store, estimates)
    return ClockModel(hosts, estimates, facts, solution.contradictions, weighed.unmatched, chains)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 6), timezone.utc)


def _count_beyond(store: Store, estimates: list[SegmentEstimate]) -> None:
    """Each segment's events logged beyond its evidence's reach, before and after it
    (see ``REACH_S``): counted only where its events' logged span passes the reach."""
    cut = [e for e in estimates if e.segment.events and e.evidence_from is not None and e.evidence_to is not None
           and ((e.segment.first_logged is not None and e.beyond(e.segment.first_logged))
                or (e.segment.last_logged is not None and e.beyond(e.segment.last_logged)))]
    if not cut:
        return
    ids = ", ".join(str(e.segment.segment_id) for e in cut)
    reach = int(REACH_S * 1e6)
    rows = store.con.execute(f"""
        SELECT r.segment_id,
               count(*) FILTER (WHERE epoch_us(e.logged) < s.evidence_from_us - {reach}),
               count(*) FILTER (WHERE epoch_us(e.logged) > s.evidence_to_us + {reach}),
               min(e.logged) FILTER (WHERE epoch_us(e.logged) < s.evidence_from_us - {reach}),
               max(e.logged) FILTER (WHERE epoch_us(e.logged) > s.evidence_to_us + {reach})
        FROM event_segments r JOIN events e USING (file_id, record_no) JOIN segments s USING (segment_id)
        WHERE r.segment_id IN ({ids}) GROUP BY 1""").fetchall()
    by_id = {e.segment.segment_id: e for e in cut}
    for seg, before, after, first, last in rows:
        e = by_id[seg]
        e.events_before, e.events_after, e.first_before, e.last_after = int(before), int(after), first, last


def beyond_sql(seg: str = "s", logged: str = "e.logged") -> str:
    """SQL: whether an event logged at ``logged`` on segment ``seg`` (a row of the
    ``segments`` table) is beyond its evidence's reach, of unknown offset."""
    return f"coalesce({_distance_sql(seg, logged)} > {int(REACH_S * 1e6)}, false)"


def _distance_sql(seg: str, logged: str) -> str:
    """SQL: microseconds from the span of a segment's evidence to ``logged`` (0 inside
    it, or where the evidence holds for the whole segment)."""
    return (f"coalesce(greatest({seg}.evidence_from_us - epoch_us({logged}), "
            f"epoch_us({logged}) - {seg}.evidence_to_us, 0), 0)")


def _twice_read(store: Store, by_host: dict[str, list[SegmentEstimate]], when: Format) -> bool:
    """What is known of the records logs wrote while their host's clock read a stretch
    a second time, after a change back they do not show (``ambiguous_records``, set
    aside from the pairs while the offsets were solved): those whose own messages
    rule one side out are settled on the other; for the rest, a note on the segment
    before says which logs and when, and the ``timeline`` view gives them the true
    times of both sides. Returns whether any are left."""
    estimates = [e for ests in by_host.values() for e in ests]
    counts = keep_paired(store, {e.segment.segment_id: e.segment for e in estimates},
                         {e.segment.segment_id: (e.interval.low, e.interval.high) for e in estimates})
    for ests in by_host.values():
        for prev, nxt in zip(ests, ests[1:]):
            logs = counts.get(prev.segment.segment_id)
            b = prev.segment.closed_by
            stretch = None if b is None else twice_read(b, nxt.segment)
            if logs and stretch is not None:
                which = ", ".join(f"{n} of {PurePath(path).name}" for path, n in logs.items())
                prev.notes.append(f"records logged {when(stretch[0])} .. {when(stretch[1])}, a stretch the clock "
                                  f"read again after the {b.kind} at {when(b.before)} (as logged), in logs that "
                                  f"do not show it ({which}): written before or after it, their true times span "
                                  f"both segments")
    return bool(counts)


def _narrow_to_records(b: Boundary, before: Segment, after: Segment) -> None:
    """A step happened after the last record any log of the host wrote on the old
    clock and before the first any wrote on the new one. A step ahead found from one
    log (a leap, pairs) says when by that log alone; a step seen only between two
    records of one log (journald's monotonic clock) is sized, and a log that started
    on the new clock (a syslog after a reset clock was set right) or wrote in between
    says when."""
    if b.kind != "step" or b.before is None:
        return
    if b.delta_s is None:
        # only ahead: a jump back's own log bounds it, and where clocks went back the
        # other logs' records need not be in order
        if b.after > b.before:
            if before.last_logged is not None and b.before < before.last_logged < b.after:
                b.before = before.last_logged
            if after.first_logged is not None and b.before < after.first_logged < b.after:
                b.after = after.first_logged
        return
    if b.earliest is None:
        return
    # (ahead only: after a step back, other logs' records on the new clock can read
    # inside the old clock's last stretch)
    if b.delta_s > 0 and before.last_logged is not None and b.earliest < before.last_logged <= b.before:
        b.earliest = before.last_logged
    if after.first_logged is not None:
        # ... stamped to the second, maybe (RFC 3164): up to 1 s later
        latest = after.first_logged + timedelta(seconds=1.0 - b.delta_s)
        if b.earliest <= latest < b.before:
            b.before, b.after = latest, latest + timedelta(seconds=b.delta_s)


def _solve_with_drift(store: Store, case: Case, facts: list[ClockFact], segments: list[Segment],
                      chains: dict[str, list[Boundary]], when: Format
                      ) -> tuple[ConstraintSet, Solution, dict[int, Drift]]:
    """Solve the segments as they are; where pairs spanning hours show a clock running
    fast or slow, solve again with its rate (the pairs corrected for it)."""
    register_drift(store, {})
    base = _base_constraints(chains, segments, facts, store, case, when)
    first = solve(len(segments), base, describe=False)
    refs = [seg.segment_id for seg in segments if seg.host in set(case.references)]
    drifts = estimate_drift(store, np.array([iv.estimate if iv.estimate is not None else np.nan
                                             for iv in first.intervals]), refs)
    if any(d.significant for d in drifts.values()):
        register_drift(store, drifts)
        base = _base_constraints(chains, segments, facts, store, case, when)
        first = solve(len(segments), base, describe=False)
    return base, first, drifts


def _suspects(contradictions: list[Contradiction]) -> list[int]:
    """Segments that keep turning up in contradicting message pairs: those in three
    or more, else those in most."""
    counts: dict[int, int] = {}
    for c in contradictions:
        if c["kind"] == "pairs":
            for s in c["_segments"]:
                counts[s] = counts.get(s, 0) + 1
    if not counts:
        return []
    bar = min(3, max(counts.values()))
    return sorted(s for s, n in counts.items() if n >= bar)


def _add_new(found: dict[str, list[Boundary]], chains: dict[str, list[Boundary]],
             extra: dict[str, list[Boundary]]) -> bool:
    """Add to ``extra`` the boundaries found that the chains do not hold yet."""
    added = False
    for h, bs in found.items():
        have = {(x.file_id, x.record_no) for x in chains.get(h, [])}
        new = [b for b in bs if (b.file_id, b.record_no) not in have]
        extra.setdefault(h, []).extend(new)
        added |= bool(new)
    return added


def _proven_leaps(store: Store, case: Case, facts: list[ClockFact], segments: list[Segment],
                  when: Format, segmenter: Segmenter
                  ) -> tuple[dict[str, list[Boundary]], list[tuple[str, Boundary]], set[tuple]] | None:
    """The forward steps no record names that the evidence proves: at the leaps of
    logs (see ``leap_boundaries``) and before a time service's first sync report
    after a quiet spell (``sync_boundaries``).

    Every candidate is cut tentatively and the whole system solved once: a cut is
    kept where the offsets on its two sides cannot be equal (their intervals are
    apart by more than ``STEP_FROM_PAIRS_S``). Cutting more than needed only widens
    intervals, never makes them wrong, so the test is sound; and it weighs all the
    evidence at once (message pairs with every partner, sync reports, boots, hints,
    observations' neighbours), where each alone says little. Components with no tie
    to true time are pinned at one of their segments for the test, which compares
    offsets only within a component.

    Returns the proven candidates, the others, and the boots and resumes whose change
    the trial leaves open (for :func:`_recut_dropped`).
    """
    paired = frozenset(h for (h,) in store.con.execute(
        "SELECT s_host FROM _message_pairs UNION SELECT r_host FROM _message_pairs").fetchall())
    hosts = sorted({s.host for s in segments})   # every host with a record has a segment
    candidates = leap_boundaries(store, hosts, segments, unbounded=paired)
    for host, bs in sync_boundaries(store, facts, segments, unbounded=paired).items():
        have = {(x.file_id, x.record_no) for x in candidates.get(host, [])}
        for b in bs:
            if (b.file_id, b.record_no) not in have:
                add_step(candidates.setdefault(host, []), b)
    if not candidates:
        return None
    segs, trial_chains = segmenter.build(candidates)
    cons = _base_constraints(trial_chains, segs, facts, store, case, when)
    if case.observations:   # a person's reading is evidence like any other
        cons = cons + _observation_constraints(case, segs, solve(len(segs), cons, describe=False), when)[0]
    ci, cj = cons.columns()[:2]
    n = len(segs) + 1
    comp = components(n, ci, cj)
    roots = {}
    for node in range(1, n):
        if comp[node] != comp[0]:
            roots.setdefault(int(comp[node]), node)
    pins = [Constraint(0, node, 0.0, 0.0, "reference", "pinned for the test") for node in roots.values()]
    sol = solve(len(segs), cons + pins, describe=False)
    by_host: dict[str, list[Segment]] = {}
    for seg in segs:
        by_host.setdefault(seg.host, []).append(seg)
    users = user_sets(facts)
    paths = file_paths(store)
    proven: dict[str, list[Boundary]] = {}
    dropped: list[tuple[str, Boundary]] = []
    unforced: set[tuple] = {_skew_key(seg) for seg in segs if not _off_true(sol.intervals[seg.segment_id])}
    for host, chain in trial_chains.items():
        for k, b in enumerate(chain):
            if not b.candidate:
                if b.kind in ("boot", "resume") and not _forced(sol.intervals[by_host[host][k].segment_id],
                                                                 sol.intervals[by_host[host][k + 1].segment_id]):
                    unforced.add(_key(b))
                continue
            prev, nxt = by_host[host][k].segment_id, by_host[host][k + 1].segment_id
            user = set_by_user(users.get(host, []), b.before, b.after, b.file_id, b.seq)
            if user is not None and b.source == "log leap":
                # a record says the clock was set here: a step, whatever else shows it
                b.source, b.setter = "set by a person", "user"
                b.evidence += [f"its log leaps {(b.after - b.before).total_seconds():+.0f} s from {when(b.before)} "
                               f"to {when(b.after)} (as logged, at {cite(paths.get(b.file_id, '?'), b.seq)}), next "
                               f"to a record of the clock being set"]
                b.evidence += user.evidence
                proven.setdefault(host, []).append(b)
                continue
            if comp[prev + 1] != comp[nxt + 1]:
                dropped.append((host, b))
                continue
            before, after = sol.intervals[prev], sol.intervals[nxt]
            least, most = after.low - before.high, after.high - before.low
            if not _forced(before, after):
                dropped.append((host, b))
                continue
            leap = (b.after - b.before).total_seconds()
            at = cite(paths.get(b.file_id, "?"), b.seq)
            where = (f"where its log leaps {leap:+.0f} s ({at})" if b.source == "log leap"
                     else f"where a time service reports sync ({at}) after {leap:.0f} s without records")
            b.source = "message pairs" if host in paired else "clock evidence"
            b.evidence.append(f"the evidence on {host}'s clock ({'messages it exchanged, ' if host in paired else ''}"
                              f"sync reports, steps, boots) puts it {least:+.3f} s to {most:+.3f} s further ahead "
                              f"after {when(b.before)} -> {when(b.after)} (as logged), {where}")
            proven.setdefault(host, []).append(b)
    return proven, dropped, unforced


def _forced(before: Interval, after: Interval) -> bool:
    """Whether the offsets on the two sides of a boundary cannot be equal."""
    return after.low - before.high > STEP_FROM_PAIRS_S or after.high - before.low < -STEP_FROM_PAIRS_S


def _key(b: Boundary) -> tuple:
    return (b.host, b.kind, b.file_id, b.record_no)


def _off_true(iv: Interval) -> bool:
    """Whether an interval puts its clock off true time by a skew worth naming."""
    return iv.low > SKEW_MIN_S or iv.high < -SKEW_MIN_S


def _skew_key(seg: Segment) -> tuple:
    return ("skew", seg.host, None if seg.opened_by is None else _key(seg.opened_by))


def _settled(store: Store, cut: Cut, intervals: list[Interval]
             ) -> list[tuple[tuple, str, tuple[datetime | None, ...]]]:
    """What the solution settles that the trial with every candidate cut left open: a
    change at a boot or a resume; a segment off true time (the part of it the trial's
    segment with the same opener held) that no message pair measures (pairs with its
    partners bound it whatever its host's leaps). Each with its host and when (as
    logged)."""
    by_host: dict[str, list[Segment]] = {}
    for seg in cut.segments:
        by_host.setdefault(seg.host, []).append(seg)
    match_pairs(store)      # (on the segments at hand)
    measured = {s for (s,) in store.con.execute("SELECT s_seg FROM _pairs UNION SELECT r_seg FROM _pairs").fetchall()}
    out = []
    for host, chain in cut.chains.items():
        for seg in by_host[host]:
            if _skew_key(seg) in cut.unforced and seg.segment_id not in measured and \
                    _off_true(intervals[seg.segment_id]):
                out.append((_skew_key(seg), host, (seg.logged_from, seg.logged_to)))
        for k, b in enumerate(chain):
            prev, nxt = by_host[host][k], by_host[host][k + 1]
            if _key(b) in cut.unforced and _forced(intervals[prev.segment_id], intervals[nxt.segment_id]):
                out.append((_key(b), host, (b.before, b.after)))
    return out


@dataclass
class _Trial:
    """A trial cut and solved: what it cut beyond the chains, its segments, its solve."""
    extra: dict[str, list[Boundary]]
    segments: list[Segment]
    chains: dict[str, list[Boundary]]
    solved: tuple[ConstraintSet, Solution, dict[int, Drift]]


def _same_cuts(a: dict[str, list[Boundary]], b: dict[str, list[Boundary]]) -> bool:
    """Whether two sets of extra boundaries are the same boundaries, in the same order."""
    ids = lambda cuts: {h: [id(x) for x in bs] for h, bs in cuts.items() if bs}  # noqa: E731
    return ids(a) == ids(b)


def _recut_dropped(store: Store, case: Case, facts: list[ClockFact], segmenter: Segmenter, cut: Cut,
                   intervals: list[Interval], when: Format
                   ) -> tuple[dict[str, list[Boundary]], bool, _Trial | None]:
    """The dropped leaps to cut after all: one whose cut leaves open again what the
    solution settled only because it was dropped (see :func:`_settled`), on its host
    or one it exchanged messages with, near in time. Dropping a leap says the clock
    did not change there: the solve may then put the change at a partner's boot or
    sleep (the evidence does not say whose clock changed), or read a jump back before
    a sync report as the fix of a clock that was ahead (where it may have been set
    back and then right again). Cut, each stays open. Returns them, whether any was
    tried (each trial is a build and a solve), and the last trial."""
    moved = _settled(store, cut, intervals)
    if not moved:
        return {}, False, None
    paired = {(a, b) for a, b in store.con.execute("SELECT DISTINCT s_host, r_host FROM _message_pairs").fetchall()}
    near = timedelta(seconds=SAME_STEP_S)
    out: dict[str, list[Boundary]] = {}
    tried, trials, last = False, 0, None
    for host, c in cut.dropped:
        if c.before is None or c.source != "log leap":
            continue         # (a pause of the logs hides a change; the spot before a sync report is no pause)
        # (a segment off true time: by a leap of its own host's logs; a boot or resume's
        # change: of a partner's too)
        mine = [key for key, other, times in moved
                if (other == host or (key[0] != "skew" and ((host, other) in paired or (other, host) in paired)))
                and any(t is not None and abs(c.before - t) <= near for t in times)]
        if not mine or trials >= MAX_RECUT_TRIALS:
            continue
        tried, trials = True, trials + 1
        trial = {h: list(bs) for h, bs in cut.extra.items()}
        trial.setdefault(host, []).append(c)
        segs, chains = segmenter.build(trial)
        solved = _solve_with_drift(store, case, facts, segs, chains, when)
        last = _Trial(trial, segs, chains, solved)
        still = {key for key, _, _ in _settled(store, Cut(segs, chains, trial, [], cut.unforced),
                                                solved[1].intervals)}
        if any(key not in still for key in mine):
            out.setdefault(host, []).append(c)
    return out, tried, last


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _write_segments(store: Store, estimates: list[SegmentEstimate], twice: bool = False) -> None:
    store.put_table("segments", pa.table({
        "segment_id": pa.array([e.segment.segment_id for e in estimates], pa.int32()),
        "host": pa.array([e.segment.host for e in estimates], pa.string()),
        "idx": pa.array([e.segment.index for e in estimates], pa.int32()),
        "offset_s": pa.array([e.offset_s for e in estimates], pa.float64()),
        "offset_low_s": pa.array([_finite(e.interval.low) for e in estimates], pa.float64()),
        "offset_high_s": pa.array([_finite(e.interval.high) for e in estimates], pa.float64()),
        # offset at logged time t: offset_s + drift_rate * (t - drift_mid), when it drifts
        "drift_rate": pa.array([e.drift.rate if e.drift and e.drift.significant else None for e in estimates],
                               pa.float64()),
        "drift_mid_us": pa.array([e.drift.mid_us if e.drift and e.drift.significant else None for e in estimates],
                                 pa.int64()),
        # the kinds of evidence bearing on the offset (solve.KINDS), as the verdict names them
        "basis": pa.array([list(e.interval.basis) for e in estimates], pa.list_(pa.string())),
        # the logged span of the instants its evidence holds at (NULL: the whole segment)
        "evidence_from_us": pa.array([_us(e.evidence_from) for e in estimates], pa.int64()),
        "evidence_to_us": pa.array([_us(e.evidence_to) for e in estimates], pa.int64()),
    }))
    offset = "coalesce(s.offset_s, 0) * 1e6 + coalesce(s.drift_rate * (epoch_us(e.logged) - s.drift_mid_us), 0)"
    # away from the evidence the interval widens at REACH_PHI (see REACH_S)
    half = ("CASE WHEN s.offset_low_s IS NULL OR s.offset_high_s IS NULL THEN NULL "
            f"ELSE (s.offset_high_s - s.offset_low_s) / 2 + {REACH_PHI} * {_distance_sql('s', 'e.logged')} / 1e6 END")
    beyond = beyond_sql("s", "e.logged")
    joins = ""
    if twice:
        # A record logged while the clock read a stretch twice: the middle of both
        # segments' intervals, give or take half their hull (unknown if either is).
        joins = """LEFT JOIN ambiguous_records x USING (file_id, record_no)
                   LEFT JOIN segments a ON a.segment_id = x.alt_segment_id"""
        unbounded = ("s.offset_low_s IS NULL OR s.offset_high_s IS NULL "
                     "OR a.offset_low_s IS NULL OR a.offset_high_s IS NULL")
        lo, hi = "least(s.offset_low_s, a.offset_low_s)", "greatest(s.offset_high_s, a.offset_high_s)"
        offset = f"CASE WHEN a.segment_id IS NULL OR {unbounded} THEN {offset} ELSE ({lo} + {hi}) / 2 * 1e6 END"
        half = f"CASE WHEN a.segment_id IS NULL THEN {half} WHEN {unbounded} THEN NULL ELSE ({hi} - {lo}) / 2 END"
        beyond = f"({beyond} OR (a.segment_id IS NOT NULL AND {beyond_sql('a', 'e.logged')}))"
    # Beyond the evidence's reach an event keeps its logged time, of unknown
    # uncertainty, as on a clock nothing measures.
    store.con.execute(f"""
        CREATE OR REPLACE VIEW timeline AS
        SELECT e.*, s.segment_id, CASE WHEN {beyond} THEN NULL ELSE s.offset_s END AS offset_s,
               CASE WHEN {beyond} THEN e.logged
                    ELSE e.logged - to_microseconds(CAST(round({offset}) AS BIGINT)) END AS true_time,
               CASE WHEN {beyond} THEN NULL ELSE {half} END AS uncertainty_s
        FROM events e
        JOIN event_segments r USING (file_id, record_no)
        JOIN segments s ON s.segment_id = r.segment_id
        {joins}""")


def _us(t: datetime | None) -> int | None:
    return None if t is None else int(round(t.timestamp() * 1e6))
