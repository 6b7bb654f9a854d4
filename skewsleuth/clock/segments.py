"""Cut each host's log into segments between clock discontinuities.

A *boundary* is a boot, a resume from sleep or a step of a host's one clock, whatever
number of logs it writes. Explicit ones come from clock facts (a record that names
them, or journald's monotonic clock); inferred ones from the records themselves: when
records a log wrote one after another go back in logged time by more than
``INFER_BACK_S``, the clock was set back in between (by at least that much), whether
or not any record says so. Jumps of several logs that are one step are one boundary.
*Candidates* (a leap of a log, the spot before a time service's first sync report)
are cut on trial and kept where the evidence proves them (clock.model).

A *segment* is the stretch of a host's clock between two boundaries. Each segment
covers a window of logged time, ``[after of the boundary that opens it, before of the
one that closes it]``. Because clocks go back, windows of different segments can
overlap, so an event is not placed by its logged time alone: each file is cut into
runs at its own jumps, at the record that opens a boundary in it (pinned there, or
for a log that started late after a reset clock, pinned to that boot or a later
segment of it), and where it passes a boundary it holds no record of; the runs are
placed by dynamic programming, in write order, on a non-decreasing sequence of
segments (a run that starts with a backward jump must move to a later segment, and
none goes on a segment whose opener its log writes later).
"""
from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum

import numpy as np
import pyarrow as pa

from ..store import Store
from ..timefmt import UTC_FORMAT, Format
from ..schema import cite
from .facts import SEQ, ClockFact, file_paths, set_by_user, user_sets

STEP_MIN_S = 1.0          # smaller explicit changes are slews / routine sync, not steps
INFER_BACK_S = 120.0      # Windows writes records out of order by seconds around boots
RUN_GAP_S = 600.0         # a forward leap this big may be a step: start a new run
SLACK_S = 300.0           # how far outside a window a run may start (writes lag)
BOOT_MERGE_S = 600.0      # boot records of one boot (6009, 6005, Kernel-General 12)
BOOT_RECORDS = 200        # ... and at most this many records apart in one log (5 if from
                          # the same source: a second kernel banner is a second boot)
OUTLIER_RECORDS = 3       # delayed writes: at most this many records out of order
LEAP_MIN_S = 60.0         # a leap of a log smaller than this is not worth testing
LEAP_SPACING = 8          # ... nor one less than this many times the log's usual pauses
# Loggers that write their own start lines before the kernel's at boot (rsyslog's
# "[origin software=...] start", syslog-ng's "syslog-ng starting up", journald's).
BOOT_LOGGERS = ("rsyslogd", "syslogd", "syslog-ng", "systemd-journald")
# ... their start lines, not the "exiting on signal 15" they end the old boot with.
LOGGER_START_RX = r"\] start$|starting up|Journal started|Runtime Journal|System Journal|restart$"
# A log may write a few records of a new boot before its own record of it (logons
# before the 4608): at most this many, when the boot's records in another log come
# this long after the old boot's last.
BOOT_EARLY_RECORDS = 20
BOOT_EARLY_GAP_S = 30.0
SYNC_RUN_S = 3600.0       # sync reports closer than this are one run (see sync_boundaries)
ORDER_SLACK_S = 1.0       # a pair's bound, and a drifting clock's reading, to within this
SAME_STEP_S = 900.0       # jumps in two logs of a host this close on both clocks: one step


class StepSize(str, Enum):
    """What the evidence says of the clock's change at a boundary."""
    EXACT = "exact"        # a record read both clocks (Kernel-General 1, 4616, chronyd, the journal)
    AT_MOST = "at most"    # write order bounds it: a jump back, a leap ahead, a boot, a resume
    UNKNOWN = "unknown"    # nothing bounds it until the solve measures it


@dataclass
class Boundary:
    host: str
    kind: str                     # boot | resume | step
    file_id: int
    record_no: int
    seq: int                      # place in the file's write order
    before: datetime | None       # last logged time on the old clock (None: unknown)
    after: datetime               # first logged time on the new clock
    delta_s: float | None         # explicit step size; None for boots and inferred
    inferred: bool = False
    # For inferred steps: the step is at most this (logged went back this much).
    delta_max_s: float | None = None
    # For steps no record measured: the offsets' difference across it, once solved.
    measured_s: float | None = None
    # For a step seen only between two records: the earliest the old clock can have
    # read when it happened (see ClockFact.earliest); None: at ``before``.
    earliest: datetime | None = None
    setter: str = "unknown"
    resume: bool = False
    # Found inside one segment (a leap of its log): goes in the chain right after the
    # boundary that opened that segment, known by (file_id, record_no); None: first.
    within: tuple[int, int] | None = None
    placed_within: bool = False
    source: str = ""
    facts: list[ClockFact] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    # The record that opens the new clock in each other log that shows the boundary
    # (file_id -> record_no): one boundary of the host's one clock, cut in every log.
    openers: dict[int, int] = field(default_factory=dict)
    # ... and where each opener is in its log's write order (file_id -> seq), where known
    seqs: dict[int, int] = field(default_factory=dict)
    # Logs whose opener may come after later boundaries of the same boot (a log that
    # starts after a clock reset was set right): their record opens this segment or a
    # later one before the next boot, whichever its logged time fits.
    loose: set[int] = field(default_factory=set)

    @property
    def size(self) -> StepSize:
        if self.kind == "step" and self.delta_s is not None:
            return StepSize.AT_MOST if self.resume and self.delta_s > 0 else StepSize.EXACT
        if self.delta_max_s is not None or (self.kind in ("boot", "resume") and self.before is not None):
            return StepSize.AT_MOST
        return StepSize.UNKNOWN

    @property
    def ref(self) -> str:
        """The record that shows the boundary, as reports cite it ('' when none does)."""
        return next((f.ref for f in self.facts if (f.file_id, f.record_no) == (self.file_id, self.record_no)),
                    self.facts[0].ref if self.facts else "")

    @property
    def candidate(self) -> bool:
        """A spot where the clock may have been stepped, cut on trial until proven."""
        return self.source in ("log leap", "sync report")

    def copy(self) -> "Boundary":
        """An independent copy: its containers too, the facts it holds shared."""
        # (not dataclasses.replace, which runs __init__ field by field: a build copies
        # every boundary of every host)
        out = object.__new__(Boundary)
        out.__dict__.update(self.__dict__)
        out.openers, out.seqs, out.loose = dict(self.openers), dict(self.seqs), set(self.loose)
        out.facts, out.evidence = list(self.facts), list(self.evidence)
        return out

    def opened_in(self) -> dict[int, int]:
        """file_id -> the record each log's part of the new segment starts with."""
        return {**self.openers, self.file_id: self.record_no}


@dataclass
class Segment:
    segment_id: int
    host: str
    index: int
    opened_by: Boundary | None
    closed_by: Boundary | None
    window_from: datetime | None  # logged-time window (None: unbounded)
    window_to: datetime | None
    first_logged: datetime | None = None  # logged range of the events placed in it
    last_logged: datetime | None = None
    events: int = 0

    @property
    def logged_from(self) -> datetime | None:
        if self.opened_by is not None:
            return self.opened_by.after
        return self.first_logged

    @property
    def logged_to(self) -> datetime | None:
        if self.closed_by is not None and self.closed_by.before is not None:
            return self.closed_by.before
        return self.last_logged


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def explicit_boundaries(facts: list[ClockFact], when: Format = UTC_FORMAT) -> dict[str, list[Boundary]]:
    """Boots and steps per host from the facts, duplicates across logs merged."""
    out: dict[str, list[Boundary]] = {}
    by_host: dict[str, list[ClockFact]] = {}
    for f in facts:
        by_host.setdefault(f.host, []).append(f)
    for host, hfacts in by_host.items():
        bounds: list[Boundary] = []
        last_down: dict[int, datetime] = {}
        # per log with boot ids (keyed by file): the boot of the latest id seen, which
        # its later boot records belong to (a clock reset to a default date gives every boot the same
        # logged time, and a sparse log writes only a few records per boot)
        by_id: dict[int, Boundary] = {}
        for f in hfacts:  # in (file, record) order
            if f.kind in ("shutdown", "crash", "restart_requested", "sleep"):
                last_down[f.file_id] = max(f.logged, last_down.get(f.file_id, f.logged))
            elif f.kind in ("boot", "resume"):
                # A resume from sleep or hibernation opens a segment like a boot: the
                # clock stood still or was re-read from the hardware clock meanwhile.
                if f.kind == "boot" and f.boot_id is not None:
                    # the same id in another export of the journal is the same boot; a
                    # boot of another id, or already in this log, is not
                    pool = ([b for b in bounds if any(x.boot_id == f.boot_id for x in b.facts)]
                            or [b for b in bounds if all(x.file_id != f.file_id and x.boot_id in (None, f.boot_id)
                                                         for x in b.facts)])
                elif f.kind == "boot" and f.file_id in by_id:
                    pool = [by_id[f.file_id]]
                else:
                    pool = bounds
                # ... within a few records of each other in one log: a clock reset to a
                # default date gives every boot the same logged time
                same = next((b for b in pool if b.kind == f.kind
                             and abs((b.after - f.logged).total_seconds()) <= BOOT_MERGE_S
                             and all(abs(x.seq - f.seq) <= (BOOT_RECORDS if x.source != f.source else 5)
                                     for x in b.facts if x.file_id == f.file_id)),
                            None)
                if same:
                    if f.boot_id is not None:
                        by_id[f.file_id] = same
                    same.facts.append(f)
                    if f.logged < same.after:
                        # the earliest record of the boot is its first: its log's record
                        # before it is the old boot's last (other logs may write a few
                        # of the new boot's records before theirs, logons before a 4608)
                        same.after = f.logged
                        if f.file_id != same.file_id:
                            same.openers[same.file_id] = same.record_no
                            same.seqs[same.file_id] = same.seq
                            same.openers.pop(f.file_id, None)
                            same.file_id, same.record_no, same.seq = f.file_id, f.record_no, f.seq
                            same.before = last_down.pop(f.file_id, same.before)
                    _also_opens(same, f)
                    continue
                b = Boundary(host, f.kind, f.file_id, f.record_no, f.seq, last_down.pop(f.file_id, None), f.logged,
                             None, source=f.source, facts=[f])
                b.evidence.append(f"{f.source} on {host}{cited(f.ref)}: {f.kind} logged at {when(f.logged)}")
                bounds.append(b)
                if f.boot_id is not None:
                    by_id[f.file_id] = b
            elif f.kind == "step" and f.delta_s is not None and abs(f.delta_s) >= STEP_MIN_S:
                same = next((b for b in bounds if b.kind == "step" and b.delta_s is not None
                             and abs((b.after - f.after).total_seconds()) < 2
                             and abs(b.delta_s - f.delta_s) < 2), None)
                if same:
                    same.facts.append(f)
                    same.evidence += f.evidence
                    if same.setter == "unknown":
                        same.setter = f.setter
                    if f.earliest is None:   # a record that read both clocks at the step
                        same.earliest = None
                    _also_opens(same, f)
                    continue
                bounds.append(Boundary(host, "step", f.file_id, f.record_no, f.seq, f.before, f.after, f.delta_s,
                                       setter=f.setter, resume=f.resume, source=f.source, facts=[f],
                                       evidence=list(f.evidence), earliest=f.earliest))
        out[host] = bounds
    return out


def cited(ref: str) -> str:
    """`` (FILE#N)`` after a record's source and host, where it is known."""
    return f" ({ref})" if ref else ""


def _first_fact(b: Boundary, file_id: int) -> ClockFact:
    """The first of ``b``'s records in one log, in its write order."""
    return min((x for x in b.facts if x.file_id == file_id), key=lambda x: (x.seq, x.record_no))


def _also_opens(b: Boundary, f: ClockFact) -> None:
    """``f``, a record of the same boundary, opens the new clock in its own log (its
    first such record there)."""
    if f.file_id != b.file_id:
        first = _first_fact(b, f.file_id)
        b.openers[f.file_id], b.seqs[f.file_id] = first.record_no, first.seq


def _boot_befores(store: Store, explicit: dict[str, list[Boundary]]) -> None:
    """A boot's ``before``: the last record its log wrote before it, when no shutdown
    record says more (syslog has none). True time only moves forward across a reboot.

    The logging daemon's start lines are no record before a boot: it starts before it
    reads the kernel's ring buffer, so on Debian and Ubuntu the new boot's
    ``rsyslogd: [origin ...] start`` comes before the ``Linux version`` line, stamped
    on the new boot's clock. The boot's segment opens at them. Passing over such a
    line elsewhere (a restart of the daemon) only loosens a bound.

    Asked for every boot in one query (a query per boot cost more than the rest of a
    small investigation): each record's predecessor in its log's write order, read at
    the boot's first record in each log that shows it (where its segment opens there;
    its ``before`` comes from the log of its first record)."""
    boots = [b for bounds in explicit.values() for b in bounds if b.kind in ("boot", "resume")]
    if not boots:
        return
    # Each log's first record of the boot: (boot, fact) per log that shows it.
    firsts = [(b, _first_fact(b, file_id)) for b in boots for file_id in dict.fromkeys(f.file_id for f in b.facts)]
    store.con.register("_boots", pa.table({
        "i": pa.array(range(len(firsts)), pa.int64()),
        "file_id": pa.array([f.file_id for _, f in firsts], pa.int32()),
        "host": pa.array([b.host for b, _ in firsts], pa.string()),
        "record_no": pa.array([f.record_no for _, f in firsts], pa.int64())}))
    loggers = ", ".join(f"'{p}'" for p in BOOT_LOGGERS)
    prelude = f"(provider IN ({loggers}) AND regexp_matches(coalesce(message, ''), '{LOGGER_START_RX}'))"
    try:
        rows = store.con.execute(f"""
            WITH e AS (
              SELECT file_id, host, record_no, {SEQ} AS seq, logged,
                     lag(CASE WHEN {prelude} THEN NULL ELSE logged END IGNORE NULLS) OVER w AS prev,
                     lag(CASE WHEN {prelude} THEN NULL ELSE record_no END IGNORE NULLS) OVER w AS prev_rn,
                     lead(record_no) OVER w AS next_rn, lead({SEQ}) OVER w AS next_seq,
                     lead(logged) OVER w AS next_logged,
                     first_value(record_no) OVER w AS first_rn, first_value({SEQ}) OVER w AS first_seq,
                     first_value(logged) OVER w AS first_logged
              FROM events SEMI JOIN _boots USING (file_id, host)
              WINDOW w AS (PARTITION BY file_id, host ORDER BY {SEQ}, record_no))
            SELECT q.i, e.prev, coalesce(p.next_rn, e.first_rn), coalesce(p.next_seq, e.first_seq),
                   coalesce(p.next_logged, e.first_logged)
            FROM _boots q JOIN e USING (file_id, host, record_no)
            LEFT JOIN e p ON p.file_id = e.file_id AND p.host = e.host AND p.record_no = e.prev_rn""").fetchall()
    finally:
        store.con.unregister("_boots")
    for i, prev, opener_rn, opener_seq, opener_logged in rows:
        b, first = firsts[i]
        # Only the log of the boot's first record: another log's record just before its
        # boot record may already be of the new boot (a Security log writes logons
        # before its 4608), which would bound the boot by nonsense.
        if prev is not None and first.file_id == b.file_id and (b.before is None or prev > b.before):
            b.before = prev
        if opener_rn is not None and opener_seq < first.seq:
            # The logger's start lines belong to the new boot: its segment opens there.
            if b.file_id == first.file_id:
                b.record_no, b.seq = int(opener_rn), int(opener_seq)
            else:
                b.openers[first.file_id], b.seqs[first.file_id] = int(opener_rn), int(opener_seq)
            b.after = min(b.after, opener_logged)


def _merge_reset_boots(explicit: dict[str, list[Boundary]], when: Format = UTC_FORMAT) -> None:
    """One boot shown by two logs whose first records of it are far apart in logged
    time: the clock came up at a default date (a dead CMOS battery) in one log, and
    the other only wrote after a time service had set it right. Their last records
    before the boot agree (the old clock was still whole), and the boot that went
    back is the one whose first record is also earlier than its log's last before it.
    The log that starts late opens this boot's segment or a later one of the same
    boot (``Boundary.loose``)."""
    for host, bounds in explicit.items():
        boots = [b for b in bounds if b.kind == "boot" and b.before is not None]
        for reset in [b for b in boots if (b.before - b.after).total_seconds() > BOOT_MERGE_S]:
            if not any(x is reset for x in bounds):
                continue
            for other in boots:
                if (other is reset or not any(x is other for x in bounds) or other.file_id in reset.opened_in()
                        or reset.file_id in other.opened_in()
                        or abs((other.before - reset.before).total_seconds()) > BOOT_MERGE_S
                        or abs((other.after - reset.after).total_seconds()) <= BOOT_MERGE_S):
                    continue
                bounds[:] = [x for x in bounds if x is not other]
                for file_id, record_no in other.opened_in().items():
                    if file_id not in reset.opened_in():
                        reset.openers[file_id] = record_no
                        reset.loose.add(file_id)
                reset.seqs = {other.file_id: other.seq, **other.seqs, **reset.seqs}
                reset.facts += other.facts
                reset.before = max(reset.before, other.before)
                reset.evidence += other.evidence + [
                    f"the same boot on {host} as the one logged at {when(other.after)}: the logs' last records "
                    f"before it agree ({when(reset.before)}), and the clock came up {when(reset.after)}"]


def inferred_boundaries(store: Store, explicit: dict[str, list[Boundary]],
                        when: Format = UTC_FORMAT, jumps: list[tuple] | None = None) -> dict[str, list[Boundary]]:
    """Backward jumps in write order that no explicit boundary explains; ``jumps``:
    those :func:`backward_jumps` read already."""
    out: dict[str, list[Boundary]] = {}
    paths = file_paths(store) if store is not None else {}   # (tests give the jumps and no store)
    for host, file_id, record_no, seq, prev, logged in backward_jumps(store) if jumps is None else jumps:
        # Only a record that says so explains a jump. A step the records say went
        # forward explains no jump back, nor does a boundary the jump's own log wrote
        # elsewhere: two jumps of one log are two steps (around a boot, Windows writes
        # records out of order by a few).
        known = [b for b in explicit.get(host, []) if not (
            (b.kind == "step" and (b.delta_s or 0) > 0)
            or abs(b.opened_in().get(file_id, record_no) - record_no)
            > (OUTLIER_RECORDS if b.kind == "step" else BOOT_EARLY_RECORDS))]
        back = (logged - prev).total_seconds()
        explained = next((b for b in known if abs((b.after - logged).total_seconds()) <= SLACK_S
                          or (b.before is not None and abs((b.before - prev).total_seconds()) <= SLACK_S
                              and (b.delta_s is None or b.delta_s < 0))
                          # a record or two of a boot's own, just before its log's boot record
                          or (b.kind in ("boot", "resume")
                              and 0 < b.opened_in().get(file_id, -1) - record_no <= OUTLIER_RECORDS)), None) \
            or next((b for b in known if file_id not in b.opened_in() and _explains(b, prev, logged, back)), None)
        if explained is not None:
            if explained.kind == "step":
                _narrow(explained, file_id, record_no, seq, prev, logged)
            continue
        b = Boundary(host, "step", file_id, record_no, seq, prev, logged, None, inferred=True, delta_max_s=back,
                     source="record order")
        b.evidence.append(f"records written in sequence on {host} go back in logged time by {-back:.0f} s "
                          f"({when(prev)} -> {when(logged)}, at {cite(paths.get(file_id, '?'), seq)})")
        add_step(out.setdefault(host, []), b, jumps=True)
    return out


def _explains(b: Boundary, prev: datetime, logged: datetime, back: float) -> bool:
    """A logged step back explains a jump back around it in a sparse log that does
    not show the step itself (one that does wrote it elsewhere): it can lie between
    the two records on both clocks (the old clock read at least
    ``prev`` when it happened, the new one at most ``logged``), and the jump is no
    bigger than the step (the true time between the records only makes it smaller)."""
    if not (b.kind == "step" and b.delta_s is not None and b.delta_s < 0 and b.before is not None
            and back >= b.delta_s - SLACK_S):
        return False
    # the old clock's reading at the step, as the records around both allow it
    lo = max(b.earliest or b.before, prev - _td(SLACK_S))
    hi = min(b.before, logged + _td(SLACK_S) - _td(b.delta_s))
    return lo <= hi


def _narrow(b: Boundary, file_id: int, record_no: int, seq: int, prev: datetime, logged: datetime) -> None:
    """Another log's jump around a step seen only between two records says more about
    when it happened: after that log's last record before, before its first after. The
    jump's first record opens the new clock in its log."""
    if file_id != b.file_id and file_id not in b.openers:
        b.openers[file_id], b.seqs[file_id] = record_no, seq
    if b.earliest is None or b.before is None or b.delta_s is None:
        return
    earliest = max(b.earliest, prev)
    # the record after may be stamped to the second (RFC 3164): up to 1 s later
    latest = min(b.before, logged + _td(1.0) - _td(b.delta_s))
    if latest >= earliest:
        b.earliest, b.before, b.after = earliest, latest, latest + _td(b.delta_s)


def add_step(bounds: list[Boundary], b: Boundary, jumps: bool = False) -> None:
    """Add ``b`` to one host's inferred steps, or merge it into the one it is: a step
    of the host's one clock shows in every log that wrote around it. ``jumps``: the
    steps are a log's jumps back, and two jumps of one log are two steps (a leap and a
    sync report right after it in one log are one candidate)."""
    same = next((x for x in bounds if _same_step(x, b) and not (jumps and b.file_id in x.opened_in())), None)
    if same is None:
        bounds.append(b)
    else:
        _merge_jump(same, b)


def _same_step(a: Boundary, b: Boundary) -> bool:
    """Jumps (back or ahead, both the same way) in two logs of one host that are one
    step of its one clock: each log's last record before and first record after are
    within ``SAME_STEP_S`` of the other's, or one log's jump lies within the other's
    quiet spell on both clocks (a SIP trace quiet for half an hour around a step the
    Security log shows). A step of the clock shows in every log that wrote around it,
    one record earlier or later in each."""
    if not (a.file_id != b.file_id and a.before is not None and b.before is not None and a.within == b.within
            and (a.after > a.before) == (b.after > b.before)
            # ahead: every log's first record after comes after every log's last before
            and (a.after < a.before or min(a.after, b.after) > max(a.before, b.before))):
        return False
    close = (abs((a.before - b.before).total_seconds()) <= SAME_STEP_S
             and abs((a.after - b.after).total_seconds()) <= SAME_STEP_S)
    return close or _nested(a, b) or _nested(b, a)


def _nested(inner: Boundary, outer: Boundary) -> bool:
    """``inner``'s jump lies within ``outer``'s on both clocks: its last record before
    is later on the old clock, its first after earlier on the new one."""
    assert inner.before is not None and outer.before is not None
    return inner.before >= outer.before and inner.after <= outer.after


def _merge_jump(into: Boundary, b: Boundary) -> None:
    """One step seen in another log: it happened after the latest record any log wrote
    before it and before the earliest any wrote after, which bounds it tighter."""
    assert into.before is not None and b.before is not None
    if b.after < into.after:   # the boundary is the record that shows the new clock first
        into.openers[into.file_id], into.seqs[into.file_id] = into.record_no, into.seq
        into.file_id, into.record_no, into.seq, into.after = b.file_id, b.record_no, b.seq, b.after
        into.openers.pop(b.file_id, None)
    elif b.file_id not in into.openers:
        into.openers[b.file_id], into.seqs[b.file_id] = b.record_no, b.seq
    into.before = max(into.before, b.before)
    # A bound only where both logs give one: a jump back that may be delayed writes
    # gives none (leap_boundaries), and lends none to the merged step.
    bounded = into.delta_max_s is not None and b.delta_max_s is not None
    into.delta_max_s = (into.after - into.before).total_seconds() if bounded else None
    into.evidence += b.evidence


def backward_jumps(store: Store) -> list[tuple]:
    """(host, file_id, record_no, seq, prev_logged, logged) of every record written
    after one stamped later, delayed writes aside."""
    return store.con.execute(
        f"""SELECT host, file_id, record_no, seq, prev_logged, logged FROM (
              SELECT host, file_id, record_no, {SEQ} AS seq, logged,
                     lag(logged) OVER w AS prev_logged,
                     greatest(lead(logged, 1) OVER w, lead(logged, 2) OVER w,
                              lead(logged, 3) OVER w) AS soon_after
              FROM events
              WINDOW w AS (PARTITION BY file_id, host ORDER BY {SEQ}, record_no))
            WHERE epoch_us(logged) - epoch_us(prev_logged) < {-INFER_BACK_S * 1e6}
              -- a record or two stamped earlier and then the log carries on where it was:
              -- writes delayed with their own timestamps, not a clock set back
              AND NOT coalesce(epoch_us(soon_after) >= epoch_us(prev_logged) - {INFER_BACK_S * 1e6}, FALSE)
            ORDER BY host, file_id, seq, record_no""").fetchall()


def leap_boundaries(store: Store, hosts: list[str], segments: list[Segment],
                    unbounded: frozenset[str] = frozenset()) -> dict[str, list[Boundary]]:
    """Leaps in the logs of ``hosts``, within each segment, as candidate steps for the
    message pairs to prove or dismiss: forward ones, where a clock set ahead leaves
    its mark, and the backward ones taken for delayed writes (a clock set back and
    soon forward again looks the same).

    A leap counts when it is at least ``LEAP_MIN_S`` and ``LEAP_SPACING`` times the
    log's usual long pause (the 90th percentile of its gaps): a quiet hour in a busy
    log, not the pauses of a sparse one. Cutting at every pause would leave pieces too
    small for their messages to bound.
    A backward candidate carries no bound of its own (``delta_max_s`` is None): were
    it delayed writes, write order would say nothing about true time. A forward one
    does: the record after it was written later in true time, so the clock moved
    ahead by at most the leap; but not on the hosts in ``unbounded`` (those that
    exchanged messages: the pairs bound them far more tightly, and a leap's bound holds
    the segments on both sides to one clock each, so a step the pairs have not found
    yet inside one of them would turn into a wrong interval instead of a
    contradiction; the 1M-pair benchmark lost one interval so).
    """
    if not hosts:
        return {}
    store.con.register("_leap_hosts", pa.table({"host": pa.array(hosts, pa.string())}))
    try:
        rows = store.con.execute(
            f"""WITH e AS (
                  SELECT host, file_id, record_no, {SEQ} AS seq, logged, s.segment_id,
                         lag(logged) OVER w AS prev_logged,
                         epoch_us(logged) - epoch_us(lag(logged) OVER w) AS gap_us
                  FROM events JOIN event_segments s USING (file_id, record_no) SEMI JOIN _leap_hosts USING (host)
                  WINDOW w AS (PARTITION BY file_id, host, s.segment_id ORDER BY {SEQ}, record_no)),
                spacing AS (SELECT file_id, host, quantile_cont(gap_us, 0.9) FILTER (WHERE gap_us >= 0) AS usual
                            FROM e GROUP BY ALL)
                SELECT e.host, e.segment_id, e.file_id, e.record_no, e.seq, e.prev_logged, e.logged, e.gap_us
                FROM e JOIN spacing USING (file_id, host)
                WHERE abs(e.gap_us) >= greatest({LEAP_MIN_S * 1e6}, {LEAP_SPACING} * coalesce(spacing.usual, 0))
                ORDER BY e.host, e.segment_id, e.logged, e.file_id, e.seq""").fetchall()
    finally:
        store.con.unregister("_leap_hosts")
    out: dict[str, list[Boundary]] = {}
    for host, seg_id, file_id, record_no, seq, prev, logged, _ in rows:
        opener = segments[seg_id].opened_by
        leap = (logged - prev).total_seconds()
        b = Boundary(host, "step", file_id, record_no, seq, prev, logged, None, inferred=True, source="log leap",
                     delta_max_s=leap if leap > 0 and host not in unbounded else None,
                     within=None if opener is None else (opener.file_id, opener.record_no), placed_within=True)
        add_step(out.setdefault(host, []), b)
    return out


def sync_boundaries(store: Store, facts: list[ClockFact], segments: list[Segment],
                    unbounded: frozenset[str] = frozenset()) -> dict[str, list[Boundary]]:
    """Candidate steps right before a time service's first sync report after a quiet
    spell (none of the host's reports in the ``SYNC_RUN_S`` before): a service that
    has just set the clock reports sync at once, often without logging the step
    (a clock 400 s behind set right leaves no jump back in any log, and a forward
    step may leave no leap worth the name). Like the leaps, a candidate is kept only
    where the evidence on its two sides proves the clock moved, and one of a host in
    ``unbounded`` carries no bound of its own (see ``leap_boundaries``).
    """
    by_host: dict[str, list[ClockFact]] = {}
    for f in facts:
        if f.kind == "sync":
            by_host.setdefault(f.host, []).append(f)
    firsts = []
    for host_facts in by_host.values():
        last = None
        for f in sorted(host_facts, key=lambda f: f.logged):
            if last is None or (f.logged - last).total_seconds() > SYNC_RUN_S:
                firsts.append(f)
            last = f.logged
    if not firsts:
        return {}
    store.con.register("_sync_firsts", pa.table({
        "i": pa.array(range(len(firsts)), pa.int64()),
        "file_id": pa.array([f.file_id for f in firsts], pa.int32()),
        "host": pa.array([f.host for f in firsts], pa.string()),
        "record_no": pa.array([f.record_no for f in firsts], pa.int64())}))
    try:
        rows = store.con.execute(f"""
            WITH e AS (
              SELECT file_id, host, record_no,
                     lag(logged) OVER (PARTITION BY file_id, host ORDER BY {SEQ}, record_no) AS prev
              FROM events SEMI JOIN _sync_firsts USING (file_id, host))
            SELECT q.i, e.prev, s.segment_id FROM _sync_firsts q JOIN e USING (file_id, host, record_no)
            JOIN event_segments s USING (file_id, record_no)
            ORDER BY q.i""").fetchall()
    finally:
        store.con.unregister("_sync_firsts")
    out: dict[str, list[Boundary]] = {}
    for i, prev, seg_id in rows:
        f = firsts[i]
        if prev is None or prev > f.logged:
            continue   # the first record of its log, or after a jump back: nothing to cut
        opener = segments[seg_id].opened_by
        b = Boundary(f.host, "step", f.file_id, f.record_no, f.seq, prev, f.logged, None, inferred=True,
                     delta_max_s=None if f.host in unbounded else (f.logged - prev).total_seconds(),
                     source="sync report", placed_within=True,
                     within=None if opener is None else (opener.file_id, opener.record_no))
        out.setdefault(f.host, []).append(b)
    return out


def order_chain(bounds: list[Boundary]) -> list[Boundary]:
    """Order one host's boundaries as they happened.

    The log holding most boundaries is the spine: its write order is trusted. The
    others are placed where their ``before`` falls in a spine segment's window.
    Boundaries found inside a segment go right after the one that opened it, in
    logged order: a window of logged time is ambiguous where clocks went back, the
    segment is not.
    """
    inside = [b for b in bounds if b.placed_within]
    bounds = [b for b in bounds if not b.placed_within]
    chain = _spine_order(bounds)
    for b in _write_ordered(inside):
        # after the segment's opener and any leap of the same segment logged earlier
        pos = 0 if b.within is None else next(
            (k + 1 for k, x in enumerate(chain) if (x.file_id, x.record_no) == b.within), None)
        if pos is None:
            continue   # its segment's opener is gone: the leap is moot
        while pos < len(chain) and chain[pos].placed_within and chain[pos].within == b.within:
            pos += 1
        chain.insert(pos, b)
    return chain


def _write_ordered(bounds: list[Boundary]) -> list[Boundary]:
    """Boundaries in logged order across files, but each file's in its write order:
    within a file write order is the truth, and a leap back makes logged time lie."""
    by_time = sorted(bounds, key=lambda b: (b.after, b.file_id, b.seq, b.record_no))
    per_file: dict[int, list[Boundary]] = {}
    for b in sorted(bounds, key=lambda b: (b.seq, b.record_no)):
        per_file.setdefault(b.file_id, []).append(b)
    taken: dict[int, int] = {}
    out = []
    for b in by_time:
        k = taken.get(b.file_id, 0)
        out.append(per_file[b.file_id][k])
        taken[b.file_id] = k + 1
    return out


def _written_at(b: Boundary, file_id: int) -> tuple[int, int] | None:
    """Where ``b`` is written in one log ((seq, record_no) of its first record there),
    if that log names it."""
    if b.file_id == file_id:
        return b.seq, b.record_no
    if file_id in b.openers and file_id in b.seqs:
        return b.seqs[file_id], b.openers[file_id]
    here = [x for x in b.facts if x.file_id == file_id]
    if not here:
        return None
    first = min(here, key=lambda x: (x.seq, x.record_no))
    return first.seq, first.record_no


def _spine_order(bounds: list[Boundary]) -> list[Boundary]:
    """Every log's write order of the boundaries it names, merged (a step and a boot
    both in System.xml, whichever other log each was first seen in: the step's old
    clock may read later than the boot's new one); where the logs leave the order
    open, or disagree, the order :func:`_fit_order` gives."""
    if not bounds:
        return []
    fitted = _fit_order(bounds)
    rank = {id(b): k for k, b in enumerate(fitted)}
    after: dict[int, set[int]] = {id(b): set() for b in bounds}
    for file_id in {f for b in bounds for f in _files_of(b)}:
        named = sorted((b for b in bounds if _written_at(b, file_id) is not None),
                       key=lambda b: _written_at(b, file_id))  # type: ignore[arg-type,return-value]
        for a, c in zip(named, named[1:]):
            after[id(a)].add(id(c))
    waiting = {i: 0 for i in after}
    for nxt in after.values():
        for i in nxt:
            waiting[i] += 1
    by_id = {id(b): b for b in bounds}
    ready = [(rank[i], i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[Boundary] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(by_id[i])
        for j in after[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (rank[j], j))
    return out if len(out) == len(bounds) else fitted


def _files_of(b: Boundary) -> set[int]:
    return {b.file_id} | set(b.seqs) | {x.file_id for x in b.facts}


def _fit_order(bounds: list[Boundary]) -> list[Boundary]:
    """The log that names most boundaries is the spine, in its write order; the
    others go where their old clock's reading fits."""
    counts: dict[int, int] = {}
    for b in bounds:
        for file_id in _files_of(b):
            counts[file_id] = counts.get(file_id, 0) + 1
    spine_file = max(counts, key=lambda f: (counts[f], -f))
    chain = sorted((b for b in bounds if _written_at(b, spine_file) is not None),
                   key=lambda b: _written_at(b, spine_file))  # type: ignore[arg-type,return-value]
    for b in sorted((b for b in bounds if _written_at(b, spine_file) is None),
                    key=lambda b: (b.file_id, b.seq, b.record_no)):
        ref = b.before or b.after
        # where it fits best: the first position whose window holds it, else the one
        # it misses by least, within SLACK_S (writes lag); else at the end
        pos, least = len(chain), SLACK_S
        for k in range(len(chain) + 1):
            lo = chain[k - 1].after if k > 0 else None
            hi = chain[k].before if k < len(chain) else None
            miss = max((lo - ref).total_seconds() if lo is not None else 0.0,
                       (ref - hi).total_seconds() if hi is not None else 0.0, 0.0)
            if miss < least:
                pos, least = k, miss
                if miss == 0.0:
                    break
        chain.insert(pos, b)
    return chain


class Segmenter:
    """Cuts every host's log into segments, as often as new boundaries are found
    (``build``): what stays the same from one cut to the next (the records in write
    order, the jumps back) is read from the store once."""

    def __init__(self, store: Store, facts: list[ClockFact], when: Format = UTC_FORMAT) -> None:
        self.store, self.facts, self.when = store, facts, when
        self._order: WriteOrder | None = None
        self._placed = Placements()
        # The boundaries the records name and the jumps back, as read: the same for
        # every build. Each build gets copies, which later phases may change.
        self._named: tuple[dict[str, list[Boundary]], dict[str, list[Boundary]]] | None = None

    def _boundaries(self) -> tuple[dict[str, list[Boundary]], dict[str, list[Boundary]]]:
        """Fresh copies of the explicit and the inferred boundaries of every host."""
        if self._named is None:
            store, when = self.store, self.when
            explicit = explicit_boundaries(self.facts, when)
            _boot_befores(store, explicit)
            _merge_reset_boots(explicit, when)
            inferred = inferred_boundaries(store, explicit, when, backward_jumps(store))
            _attribute_user_sets(inferred, self.facts)
            self._named = explicit, inferred
            self._order = WriteOrder.read(store)
        return tuple({h: [b.copy() for b in bs] for h, bs in named.items()}  # type: ignore[return-value]
                     for named in self._named)

    def build(self, extra: dict[str, list[Boundary]] | None = None
              ) -> tuple[list[Segment], dict[str, list[Boundary]]]:
        """Segments of every host, and the ``event_segments`` table placing every
        event. ``extra`` are boundaries found by other means (message pairs)."""
        explicit, inferred = self._boundaries()
        segments: list[Segment] = []
        chains: dict[str, list[Boundary]] = {}
        for host in self._order.host_names:  # type: ignore[union-attr]
            chain = order_chain(explicit.get(host, []) + inferred.get(host, []) + (extra or {}).get(host, []))
            chains[host] = chain
            for k in range(len(chain) + 1):
                opened = chain[k - 1] if k > 0 else None
                closed = chain[k] if k < len(chain) else None
                segments.append(Segment(len(segments), host, k, opened, closed,
                                        opened.after if opened else None,
                                        closed.before if closed else None))
        _place_events(self.store, segments, self._order, self._placed)  # type: ignore[arg-type]
        return segments, chains


def _attribute_user_sets(inferred: dict[str, list[Boundary]], facts: list[ClockFact]) -> None:
    """A jump no record sized, next to a record of a person or script setting the
    clock (see :func:`.facts.set_by_user`), was set by them."""
    users = user_sets(facts)
    for host, bounds in inferred.items():
        for b in bounds:
            if b.kind == "step" and b.setter == "unknown" and host in users:
                u = set_by_user(users[host], b.before, b.after, b.file_id, b.seq)
                if u is not None:
                    b.setter = "user"
                    b.evidence += [e for e in u.evidence if e not in b.evidence]


@dataclass
class WriteOrder:
    """Every event in its log's write order, as arrays: per (file, host) a slice
    ``starts[k]:stops[k]``."""

    file_id: np.ndarray
    record_no: np.ndarray
    us: np.ndarray
    host: np.ndarray            # codes into host_names
    host_names: list[str]       # sorted
    starts: np.ndarray
    stops: np.ndarray

    @classmethod
    def read(cls, store: Store) -> "WriteOrder":
        # Hosts come as codes from the database: ten million host names as Python-side
        # strings cost more memory than the rest of the clock model.
        names = [h for (h,) in store.con.execute(
            "SELECT DISTINCT host FROM events WHERE host IS NOT NULL ORDER BY host").fetchall()]
        store.con.register("_host_codes", pa.table({"host": pa.array(names, pa.string()),
                                                   "code": pa.array(range(len(names)), pa.int32())}))
        try:
            t = store.con.sql(
                f"""SELECT e.file_id, c.code, e.record_no, epoch_us(e.logged) AS us
                    FROM events e JOIN _host_codes c USING (host)
                    ORDER BY e.file_id, e.host, {SEQ}, e.record_no""").to_arrow_table()
        finally:
            store.con.unregister("_host_codes")
        file_id = t.column("file_id").to_numpy()
        host = t.column("code").to_numpy()
        starts = np.flatnonzero(np.r_[True, (file_id[1:] != file_id[:-1]) | (host[1:] != host[:-1])])
        starts = starts[starts < len(file_id)]
        return cls(file_id, t.column("record_no").to_numpy().astype(np.int64, copy=False),
                   t.column("us").to_numpy().astype(np.int64, copy=False), host, names, starts,
                   np.r_[starts[1:], len(file_id)].astype(np.int64))


def _place_events(store: Store, segments: list[Segment], order: WriteOrder,
                  placed: Placements | None = None) -> None:
    """Write ``event_segments`` (file, record -> segment), ``ambiguous_records`` (those
    a log wrote in a stretch its clock read twice: see :func:`twice_read`) and each
    segment's event range.

    One row per event, built from arrays: the placement itself works on runs.
    ``placed`` keeps each log's placement (segment index per record) from one build
    to the next, keyed by what it was computed from.
    """
    by_host: dict[str, list[Segment]] = {}
    for s in segments:
        by_host.setdefault(s.host, []).append(s)
    out_file, out_rn, out_seg = [], [], []
    tw_file, tw_rn, tw_alt = [], [], []
    hosts: dict[str, tuple[_HostSegments, list[dict]]] = {}
    used: dict = {}
    for a, z in zip(order.starts.tolist(), order.stops.tolist()):
        file_id, host = int(order.file_id[a]), order.host_names[order.host[a]]
        segs = by_host[host]
        rn, us = order.record_no[a:z], order.us[a:z]
        if len(segs) == 1:       # most logs: nothing to place
            out_file.append(np.full(len(rn), file_id, dtype=np.int32))
            out_rn.append(rn)
            out_seg.append(np.full(len(rn), segs[0].segment_id, dtype=np.int32))
            continue
        if host not in hosts:
            hs = _HostSegments(segs)
            # (the windows key the placements of all the host's logs: looked up once)
            hosts[host] = hs, placed.of_host(hs.windows) if placed is not None else []
        hs, earlier = hosts[host]
        # The records that are themselves boundaries (a boot, a step) open their
        # segment: cut the file there and pin the run that starts there.
        opens = {}
        upto: dict[int, int] = {}    # loose openers: the last segment they may open
        if file_id in hs.opening_files:
            for seg, opened_in in zip(segs, hs.opened_in):
                rn_open = None if opened_in is None else opened_in.get(file_id)
                if rn_open is not None:
                    opens[rn_open] = seg.index
                    if file_id in seg.opened_by.loose:   # type: ignore[union-attr]
                        upto[rn_open] = hs.before_next_boot[seg.index]
        # The placement depends on nothing else: a log whose host was not cut anew
        # since an earlier build keeps it.
        key = (a, tuple(sorted(opens.items())), tuple(sorted(upto.items())))
        cached = next((c for c in (p.get(key) for p in earlier) if c is not None), None)
        if cached is None:
            cached = _place_log(us, rn, segs, hs, file_id, opens, upto)
        if placed is not None:
            used.setdefault(hs.windows, {})[key] = cached
        index, twice_pos, twice_alt = cached
        out_file.append(np.full(len(rn), file_id, dtype=np.int32))
        out_rn.append(rn)
        out_seg.append(index + np.int32(segs[0].segment_id))
        if len(twice_pos):
            tw_file.append(np.full(len(twice_pos), file_id, dtype=np.int32))
            tw_rn.append(rn[twice_pos])
            tw_alt.append(twice_alt + np.int32(segs[0].segment_id))
    if placed is not None:
        placed.built(used)
    empty32, empty64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    store.put_table("event_segments", pa.table({
        "file_id": pa.array(np.concatenate(out_file) if out_file else empty32),
        "record_no": pa.array(np.concatenate(out_rn) if out_rn else empty64),
        "segment_id": pa.array(np.concatenate(out_seg) if out_seg else empty32)}))
    store.put_table("ambiguous_records", pa.table({
        "file_id": pa.array(np.concatenate(tw_file) if tw_file else empty32),
        "record_no": pa.array(np.concatenate(tw_rn) if tw_rn else empty64),
        "alt_segment_id": pa.array(np.concatenate(tw_alt) if tw_alt else empty32)}))
    # Each segment's events and logged range, from the same arrays (in write order,
    # so a segment's events come in a few stretches of its files).
    seg_of = np.concatenate(out_seg) if out_seg else empty32
    if len(seg_of):
        at = np.flatnonzero(np.r_[True, seg_of[1:] != seg_of[:-1]])
        ids = seg_of[at]
        lo = np.full(len(segments), np.iinfo(np.int64).max)
        hi = np.full(len(segments), np.iinfo(np.int64).min)
        np.minimum.at(lo, ids, np.minimum.reduceat(order.us, at))
        np.maximum.at(hi, ids, np.maximum.reduceat(order.us, at))
        counts = np.bincount(ids, weights=np.diff(np.r_[at, len(seg_of)]), minlength=len(segments))
        for s in segments:
            n = int(counts[s.segment_id])
            if n:
                s.events = n
                s.first_logged = _EPOCH + timedelta(microseconds=int(lo[s.segment_id]))
                s.last_logged = _EPOCH + timedelta(microseconds=int(hi[s.segment_id]))


def _place_log(us: np.ndarray, rn: np.ndarray, segs: list[Segment], hs: _HostSegments, file_id: int,
               opens: dict[int, int], upto: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One log's placement on its host's segments: the segment index of each of its
    records (in write order), and the positions of those it may have written on
    another segment, with that one's index (see :func:`_read_twice`)."""
    pinned: dict[int, int] = {}
    ranges: dict[int, int] = {}
    if opens:
        keys = np.fromiter(opens, dtype=np.int64)
        for pos in np.flatnonzero(np.isin(rn, keys)):
            pinned[int(pos)] = opens[int(rn[pos])]
            if int(rn[pos]) in upto:
                ranges[int(pos)] = upto[int(rn[pos])]
        floors = sorted(pinned)
        for pos, k in list(pinned.items()):
            floor = bisect.bisect_left(floors, pos)
            early = _written_early(us, pos, segs[k].opened_by, file_id,  # type: ignore[arg-type]
                                   floors[floor - 1] if floor else -1)
            if early < pos:
                if early not in pinned:
                    bisect.insort(floors, early)
                pinned[early] = k
    # Also cut where the log passes the time a boundary's old clock read: a log that
    # does not show the boundary (no record of it, no jump worth the name) changes
    # clocks there all the same. Every time it passes: a clock that was ahead before
    # an earlier step may have read that time already. Across a reboot or a sleep
    # the clock kept, other logs write the old boot's last records until it went
    # down, after the last the boundary's log wrote: they change at the new boot's
    # first record.
    runs = _runs(us, sorted(set(pinned) | set(hs.passes(us, file_id).tolist())))
    assignment = _assign_runs(us, runs, segs, pinned, ranges, hs)
    lengths = np.array([stop - start for start, stop, _ in runs], dtype=np.int64)
    index = np.repeat(np.array([seg.index for seg in assignment], dtype=np.int32), lengths)
    return (index, *_read_twice(us, index, segs, file_id, hs))


class Placements:
    """Each log's placement from the builds before, by the host's segment windows and
    what else it was computed from (see :func:`_place_events`). Those the last
    ``KEEP`` builds used are kept: a trial cuts many hosts and is then mostly
    dropped, and the build after it cuts them as the one before did."""

    KEEP = 2

    def __init__(self) -> None:
        self._builds: list[dict] = []    # newest first: windows -> key -> placement

    def of_host(self, windows: tuple) -> list[dict]:
        """The placements kept for a host cut into these windows, newest first."""
        return [p for p in (b.get(windows) for b in self._builds) if p is not None]

    def built(self, used: dict) -> None:
        """What a build used: kept, and the oldest dropped (memory stays a few
        builds' worth)."""
        self._builds = [used] + self._builds[:self.KEEP - 1]


class _HostSegments:
    """What placing a host's logs on its segments needs of them that no log changes,
    worked out once a build, not once a log (a host's 400 channel files had each
    rebuilt every boundary's openers and every window's times)."""

    def __init__(self, segs: list[Segment]) -> None:
        self.opened_in = [None if s.opened_by is None else s.opened_by.opened_in() for s in segs]
        self.opening_files = {f for o in self.opened_in if o is not None for f in o}
        # the closing boundary's logs (None: no boundary with a time before it)
        self.closed_in = [s.closed_by.opened_in() if s.closed_by is not None and s.closed_by.before is not None
                          else None for s in segs]
        self.passed_at = [_passed_at(s.closed_by) for s in segs]
        self.windows = tuple((s.window_from, s.window_to) for s in segs)
        # for a loose opener of each segment: the last segment before the next boot
        self.before_next_boot = [0] * len(segs)
        last = len(segs) - 1
        for s in reversed(segs):
            self.before_next_boot[s.index] = last
            if s.opened_by is not None and s.opened_by.kind in ("boot", "resume"):
                last = s.index - 1
        self.starts = np.array([_us(s.window_from, -np.inf) for s in segs])
        self.lo = self.starts - SLACK_S * 1e6
        self.hi = np.array([_us(s.window_to, np.inf) for s in segs]) + SLACK_S * 1e6
        stretches = [twice_read(s.closed_by, segs[s.index + 1]) if s.closed_by is not None else None
                     for s in segs[:-1]]
        self.twice = [None if t is None else (_us(t[0], 0), _us(t[1], 0)) for t in stretches]
        # The times logs that do not show a boundary pass it at (see _passed_at), sorted,
        # for each way of passing: at or past the time (>=), past it (>).
        self._pass_files = {f for c in self.closed_in if c is not None for f in c}
        self._passes: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}

    def _pass_times(self, file_id: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The sorted times a log passes the boundaries it does not show at: those it
        passes at or after (>=), those it passes after (>)."""
        if file_id not in self._pass_files:
            file_id = None       # (most logs show no boundary: one answer for all of them)
        if file_id not in self._passes:
            at_or_after, after = [], []
            for closed_in, (came_up_later, at) in zip(self.closed_in, self.passed_at):
                if closed_in is not None and file_id not in closed_in:
                    (at_or_after if came_up_later else after).append(at)
            self._passes[file_id] = (np.sort(np.array(at_or_after, dtype=np.float64)),
                                     np.sort(np.array(after, dtype=np.float64)))
        return self._passes[file_id]

    def passes(self, us: np.ndarray, file_id: int) -> np.ndarray:
        """Positions in a log's write-ordered times where it passes the time of a
        boundary it does not show, going forward: the record before reads earlier
        than that time, this one at or past it. With times sorted, a time lies
        between two records' exactly where the count of times below them differs,
        so every boundary's crossings come from two binary searches."""
        at_or_after, after = self._pass_times(file_id)
        # (the times are floats: records' times compared with them in float64, as
        # exact below 2**53 us)
        t = us.astype(np.float64)
        out = []
        for times, side in ((at_or_after, "right"), (after, "left")):
            if len(times):
                below = np.searchsorted(times, t, side=side)
                out.append(np.flatnonzero(below[1:] > below[:-1]) + 1)
        return np.concatenate(out) if out else np.zeros(0, np.int64)


def _passed_at(b: Boundary | None) -> tuple[bool, float]:
    """Where a log that does not show ``b`` passes it: (whether at or past the new
    clock's first time, that time in microseconds); else past the old clock's last."""
    if b is None or b.before is None:
        return False, 0.0
    came_up_later = b.kind in ("boot", "resume") and b.after > b.before
    return came_up_later, _us(b.after, 0) if came_up_later else _us(b.before, 0)


def _written_early(us: np.ndarray, pos: int, b: Boundary, file_id: int, floor: int = -1) -> int:
    """Where a log's records of a new boot begin when it writes a few before its own
    record of the boot (logons before a 4608): those just before ``pos`` stamped at or
    after the boot's first record in the log that shows it first, when that log's
    last record of the old boot is well before (a clock kept across the reboot;
    where the clock came up earlier than it went down, times say nothing). Not past
    ``floor`` (the log's previous pinned record), and none if more than
    ``BOOT_EARLY_RECORDS`` would be."""
    if (b.kind not in ("boot", "resume") or b.file_id == file_id or b.before is None
            or (b.after - b.before).total_seconds() < BOOT_EARLY_GAP_S):
        return pos
    after = _us(b.after, 0)
    q = pos
    while q > floor + 1 and us[q - 1] >= after:
        q -= 1
        if pos - q > BOOT_EARLY_RECORDS:
            return pos
    return q


def _runs(us: np.ndarray, also_at: list[int] | None = None) -> list[tuple[int, int, bool]]:
    """Split a file's write-ordered times into runs at backward jumps, long leaps and
    the positions in ``also_at``.

    Returns (start, stop, starts_with_backward_jump) triples.
    """
    if len(us) == 0:
        return []
    d = np.diff(us)
    back = d < -INFER_BACK_S * 1e6
    leap = d > RUN_GAP_S * 1e6
    # Delayed writes: a few records stamped earlier, after which the log carries on
    # where it was. They stay in the run around them (see inferred_boundaries).
    for i in np.flatnonzero(back):
        before = us[i]
        for k in range(1, OUTLIER_RECORDS + 1):
            j = i + 1 + k
            if j < len(us) and us[j] >= before - INFER_BACK_S * 1e6:
                back[i] = False
                leap[i + 1:j] = False
                break
    cut = back | leap
    for pos in also_at or []:
        if pos > 0:
            cut[pos - 1] = True
    cuts = np.nonzero(cut)[0] + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(us)]))
    return [(int(a), int(b), bool(a > 0 and back[a - 1])) for a, b in zip(starts, stops)]


def _assign_runs(us: np.ndarray, runs: list[tuple[int, int, bool]], segs: list[Segment],
                 pinned: dict[int, int] | None = None, ranges: dict[int, int] | None = None,
                 hs: _HostSegments | None = None) -> list[Segment]:
    """Place runs on a non-decreasing sequence of segments, fitting the windows best.

    ``pinned`` maps a run's first position to the segment it must go to; ``ranges``
    to the last it may go to instead, for a loose opener (it goes to the one of
    ``pinned[pos]..ranges[pos]`` its times fit best). ``hs``: the segments' windows,
    worked out already.
    """
    S = len(segs)
    if S == 1:
        return [segs[0]] * len(runs)
    hs = hs or _HostSegments(segs)
    R = len(runs)
    cost = _run_costs(us, runs, hs, pinned, ranges)
    starts = hs.starts
    dp = np.full((R, S), np.inf)
    back = np.zeros((R, S), dtype=np.int64)
    dp[0] = cost[0]
    for r in range(1, R):
        prev = dp[r - 1]
        if runs[r][2]:
            # Must move strictly forward: best over j' < j.
            shifted = np.concatenate(([np.inf], prev[:-1]))
            best = np.minimum.accumulate(shifted)
            arg = np.maximum(_argmin_accumulate(shifted) - 1, 0)  # shifted[j] is prev[j - 1]
        else:
            best = np.minimum.accumulate(prev)
            arg = _argmin_accumulate(prev)
        dp[r] = best + cost[r]
        back[r] = arg
    last_row = dp[R - 1]
    # Prefer, among equal costs, the latest segment that still opens before the run.
    j = int(np.flatnonzero(last_row <= last_row.min() + 1e-9)[-1]) if np.isfinite(last_row.min()) else 0
    run_first = us[runs[R - 1][0]]
    candidates = np.flatnonzero(last_row <= last_row.min() + 1e-9)
    fitting = [c for c in candidates if starts[c] <= run_first + SLACK_S * 1e6]
    if fitting:
        j = int(fitting[-1])
    out = [0] * R
    for r in range(R - 1, -1, -1):
        out[r] = j
        j = int(back[r, j]) if r > 0 else j
    return [segs[j] for j in out]


def _run_costs(us: np.ndarray, runs: list[tuple[int, int, bool]], hs: _HostSegments,
               pinned: dict[int, int] | None = None, ranges: dict[int, int] | None = None) -> np.ndarray:
    """The cost of each run (row) on each segment (column), as :func:`_assign_runs`
    weighs them: seconds outside the window, a tie-break, pinned runs forced."""
    S = len(hs.starts)
    lo, hi = hs.lo, hs.hi
    # (every run against every segment at once: a host's logs are many, their runs few)
    at = np.array([a for a, _, _ in runs], dtype=np.int64)
    first = us[at][:, None]
    last = us[np.array([b for _, b, _ in runs], dtype=np.int64) - 1][:, None]
    # Seconds outside the window, for the run's first and last records.
    cost = (np.maximum(lo - first, 0) + np.maximum(first - hi, 0)
            + np.maximum(lo - last, 0) + np.maximum(last - hi, 0)) / 1e6
    # Break ties toward the segment whose opening is nearest below the run: a window
    # left open (no boundary, or a boot nothing was logged before) fits every run, and
    # would otherwise swallow them all. Last, a segment that opens after the run
    # starts (within the slack): the run more likely ends the one before. The weight
    # keeps this below a millisecond.
    starts = hs.starts
    # (ages saturate at ~9.5 years: a clock reset to 1970 is as old as one to 2018)
    since_open = np.where(~np.isfinite(starts), 4e8,
                          np.where(starts <= first, np.minimum((first - starts) / 1e6, 3e8),
                                   5e8 + np.minimum((starts - first) / 1e6, 3e8)))
    cost += 1e-12 * since_open
    if pinned:
        # Written before the record that opens a later segment: on an older clock.
        keys = np.array(sorted(pinned), dtype=np.int64)
        least_later = np.r_[np.minimum.accumulate(np.array([pinned[q] for q in keys.tolist()])[::-1])[::-1], S]
        from_seg = least_later[np.searchsorted(keys, at, side="right")]
        free = ~np.isin(at, keys)
        cost[free] = np.where(np.arange(S) >= from_seg[free][:, None], np.inf, cost[free])
        for r in np.flatnonzero(~free).tolist():
            a = runs[r][0]
            forced = np.full(S, np.inf)
            last_seg = (ranges or {}).get(a, pinned[a])
            forced[pinned[a]:last_seg + 1] = 0.0 if last_seg == pinned[a] else cost[r, pinned[a]:last_seg + 1]
            cost[r] = forced
    return cost


def _argmin_accumulate(values: np.ndarray) -> np.ndarray:
    idx = np.arange(len(values))
    best = np.where(values == np.minimum.accumulate(values), idx, 0)
    return np.maximum.accumulate(best)


def _us(dt: datetime | None, default: float) -> float:
    return default if dt is None else dt.timestamp() * 1e6


def keep_paired(store: Store, segments: dict[int, Segment], intervals: dict[int, tuple[float, float]]
                ) -> dict[int, dict[str, int]]:
    """Settle the records of ``ambiguous_records`` whose messages say which side of the
    change they were written on, now that the segments' offsets are bounded without
    them (``intervals``, by segment id): a message is received after it was sent, so
    a receiver's offset is at most the sender's plus the logged delay (``d_us``, the
    pair's bound) and a sender's at least the receiver's less it. A record whose
    bounds rule out the clock it may be on instead stays where it is; one whose bounds
    rule out the clock it was placed on moves (``event_segments``, and the segments'
    counts and logged ranges in ``segments``, by id). Partners that are
    themselves ambiguous bound nothing. Returns how many stay ambiguous, per segment
    and log."""
    finite = [(k, lo, hi) for k, (lo, hi) in intervals.items() if math.isfinite(lo) and math.isfinite(hi)]
    store.con.register("_iv", pa.table({"seg": pa.array([k for k, _, _ in finite], pa.int32()),
                                        "low": pa.array([lo for _, lo, _ in finite], pa.float64()),
                                        "high": pa.array([hi for _, _, hi in finite], pa.float64())}))
    try:
        store.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _twice_settled AS
            WITH mp AS (
              -- not keys paired by nesting: a span read twice may hold a step, and its
              -- length chose which side called
              SELECT * FROM _message_pairs WHERE via <> 'nested'
            ), partner AS (
              SELECT r_file AS file_id, r_rn AS record_no, s_file AS o_file, s_rn AS o_rn, d_us, TRUE AS received
              FROM mp SEMI JOIN ambiguous_records a ON a.file_id = r_file AND a.record_no = r_rn
              UNION ALL
              SELECT s_file, s_rn, r_file, r_rn, d_us, FALSE
              FROM mp SEMI JOIN ambiguous_records a ON a.file_id = s_file AND a.record_no = s_rn),
            bound AS (
              SELECT p.file_id, p.record_no,
                     coalesce(min(CASE WHEN received THEN d_us / 1e6 + iv.high END), 'inf'::DOUBLE) AS upper,
                     coalesce(max(CASE WHEN NOT received THEN iv.low - d_us / 1e6 END), '-inf'::DOUBLE) AS lower
              FROM partner p
              JOIN event_segments es ON es.file_id = p.o_file AND es.record_no = p.o_rn
              JOIN _iv iv ON iv.seg = es.segment_id
              ANTI JOIN ambiguous_records x ON x.file_id = p.o_file AND x.record_no = p.o_rn
              GROUP BY p.file_id, p.record_no),
            sides AS (
              SELECT b.file_id, b.record_no, a.alt_segment_id AS alt,
                     b.upper < here.low - {ORDER_SLACK_S} OR b.lower > here.high + {ORDER_SLACK_S} AS not_here,
                     b.upper < alt.low - {ORDER_SLACK_S} OR b.lower > alt.high + {ORDER_SLACK_S} AS not_alt
              FROM bound b JOIN ambiguous_records a USING (file_id, record_no)
              JOIN event_segments es USING (file_id, record_no)
              JOIN _iv here ON here.seg = es.segment_id JOIN _iv alt ON alt.seg = a.alt_segment_id)
            SELECT file_id, record_no, alt, not_here FROM sides WHERE not_here <> not_alt""")
    finally:
        store.con.unregister("_iv")
    moved = store.con.execute("""
        SELECT es.segment_id, s.alt, count(*), min(epoch_us(e.logged)), max(epoch_us(e.logged))
        FROM _twice_settled s JOIN event_segments es USING (file_id, record_no) JOIN events e USING (file_id, record_no)
        WHERE s.not_here GROUP BY ALL""").fetchall()
    store.con.execute("""UPDATE event_segments SET segment_id = s.alt FROM _twice_settled s
                         WHERE s.not_here AND event_segments.file_id = s.file_id
                           AND event_segments.record_no = s.record_no""")
    store.con.execute("DELETE FROM ambiguous_records WHERE (file_id, record_no) IN "
                      "(SELECT file_id, record_no FROM _twice_settled)")
    for name in ("event_segments", "ambiguous_records"):
        store.versions[name] = store.versions.get(name, 0) + 1
    for old, new, n, lo, hi in moved:
        _move(segments[old], segments[new], n, lo, hi)
    out: dict[int, dict[str, int]] = {}
    for seg, path, n in store.con.execute("""
            SELECT r.segment_id, f.path, count(*) FROM ambiguous_records a
            JOIN event_segments r USING (file_id, record_no) JOIN files f USING (file_id)
            GROUP BY ALL ORDER BY ALL""").fetchall():
        out.setdefault(int(seg), {})[path] = int(n)
    return out


def _move(src: Segment, dst: Segment, n: int, lo_us: int, hi_us: int) -> None:
    src.events -= n
    dst.events += n
    lo, hi = _EPOCH + timedelta(microseconds=lo_us), _EPOCH + timedelta(microseconds=hi_us)
    dst.first_logged = lo if dst.first_logged is None else min(dst.first_logged, lo)
    dst.last_logged = hi if dst.last_logged is None else max(dst.last_logged, hi)


def twice_read(b: Boundary, after: Segment) -> tuple[datetime, datetime] | None:
    """The stretch of logged time a host's clock read twice across ``b``, when it came
    back (or up) behind where it was: from the earliest the new clock can have read
    at ``b`` to the latest the old one read before it (or the end of ``after``'s
    window, if sooner: no record of the new segment reads later). A log that does not
    show ``b`` holds no clue which side of it its records in the stretch were written
    on. None: the clock read no time twice."""
    if b.before is None:
        return None
    if b.kind == "step" and b.delta_s is not None and b.size is StepSize.EXACT:
        low = (b.earliest or b.before) + timedelta(seconds=b.delta_s)
    else:
        # a jump back is at most what the records show, a boot or a resume shows where
        # the new clock was at its first record: from there on
        low = b.after
    high = min(b.before, after.window_to or b.before)
    return (low, high) if low < high else None


def _read_twice(us: np.ndarray, index: np.ndarray, segs: list[Segment], file_id: int,
                hs: _HostSegments | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The positions of a log's records in a stretch its clock read twice across a
    boundary the log does not show (no record of it, no jump back from the records
    placed before it to those after), and the segment (index) each may be on instead
    of the one it was placed on: those logged in the stretch and placed before the
    boundary, but those written before the log's last record there that can only be
    on the old clock (one logged before the stretch); and those placed after it, but
    those written after its first record there that can only be on the new clock
    (one logged after the stretch)."""
    hs = hs or _HostSegments(segs)
    pos, alt = [], []
    for seg, stretch, closed_in in zip(segs[:-1], hs.twice, hs.closed_in):
        if stretch is None or file_id in closed_in:    # type: ignore[operator] - a stretch has a boundary
            continue
        low, high = stretch
        # (placement never goes back a segment: each one's records are one slice)
        start, cut, stop = np.searchsorted(index, [seg.index, seg.index + 1, seg.index + 2])
        old, new = np.arange(start, cut), np.arange(cut, stop)
        if len(old) and len(new) and us[new[0]] < us[old[-1]] - INFER_BACK_S * 1e6:
            continue         # the log jumps back from one to the other: it shows the change
        sure = old[us[old] < low]
        old = old[(old > (sure[-1] if len(sure) else -1)) & (us[old] >= low) & (us[old] <= high)]
        sure = new[us[new] > high]
        new = new[(new < (sure[0] if len(sure) else len(us))) & (us[new] >= low) & (us[new] <= high)]
        pos += [old, new]
        alt += [np.full(len(old), seg.index + 1, dtype=np.int32), np.full(len(new), seg.index, dtype=np.int32)]
    if not pos:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    return np.concatenate(pos).astype(np.int64), np.concatenate(alt)
