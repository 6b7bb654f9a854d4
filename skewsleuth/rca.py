"""Root causes: every candidate for an incident, ranked, and the others ruled out.

Candidates are the clock segments whose offset exceeds the failing protocol's
tolerance, the reboots and the case-file changes around the incident. Each is scored on
five grounds, all in true time:

* precedence: it was in place at the onset (a cause comes first);
* mechanism: a skew signature ("date skewed", KRB_AP_ERR_SKEW) needs a wrong clock;
* size: how far the offset is beyond the tolerance;
* implication: which of the two clocks of each failure (the writer's and the judge's,
  see rules) the evidence points at (:func:`weigh_clock_pairs`);
* recovery: the symptoms stopped when the clock was fixed.

Which of the two clocks of a failure is wrong is decided here, never by a rule: first by
measurement (a clock the model bounds within the tolerance is not it, one it puts beyond
is), then by the pattern of the failures: a clock common to failures with several
others is the wrong one, and they are not; a judge that accepted other peers' times
while failing one points at that one; a single pair with nothing else stays undecided
and says so.

Anything that cannot be the cause goes to ``ruled_out`` with a reason that holds in
true time: a reason the evidence does not establish (a time whose offset is unknown,
a host whose clock no log measures) is not printed, and the thing stays a candidate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable
from collections import Counter
from datetime import datetime, timedelta

from .case import Case, Change
from .clock.model import ClockModel, SegmentEstimate
from .clock.segments import Boundary
from .hosts import same_host
from .incident import Incident
from .remediation import Basis, choose_peer, for_evidence
from .timefmt import UTC_FORMAT, Format

LOOKBACK = timedelta(hours=24)
RECOVERY_WINDOW = timedelta(minutes=30)
# Changes that can move a clock: time services and their configuration, a hypervisor
# setting the guest's time (a snapshot revert or restore, a live migration, its time
# sync), a pause (suspend, hibernate), power lost (the RTC and its battery), a zone.
_TIME_WORDS = re.compile(
    r"\b(ntp\w*|w32tm|w32time|time ?zones?|tz|dst|daylight|clocks?|chrony\w*|timesync\w*|time service|"
    r"time ?sync\w*|hwclock|rtc|cmos|bios|battery|snapshots?|revert\w*|restor\w*|roll(?:ed)? ?back|"
    r"vmotion|live ?migrat\w*|migrat\w*|hypervisor|vmware tools|integration services|"
    r"suspend\w*|hibernat\w*|resum\w*|sleep|power ?(?:cut|loss|outage|failure|lost)|outage)\b", re.I)


@dataclass
class Candidate:
    kind: str                      # clock_skew | reboot | change
    host: str | None
    at: datetime | None            # when it began (true time)
    until: datetime | None = None
    offset_s: float | None = None
    offset_low_s: float | None = None
    offset_high_s: float | None = None
    score: float = 0.0
    evidence: list[str] = field(default_factory=list)
    what: str = ""
    segment: SegmentEstimate | None = None
    beyond_s: float | None = None  # |offset| is known only to exceed this (no clock evidence)


@dataclass
class RuledOut:
    what: str
    at: datetime | None
    reason: str
    kind: str
    host: str | None = None


@dataclass
class Remediation:
    host: str
    steps: list[str]
    verify: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Diagnosis:
    root_causes: list[Candidate]
    ruled_out: list[RuledOut]
    remediation: list[Remediation]


def _fmt_s(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    s = abs(seconds)
    if math.isinf(s):
        return f"{sign}∞"
    if s >= 3600:
        return f"{sign}{s:.0f} s ({sign}{s / 3600:.2f} h)"
    return f"{sign}{s:.1f} s"


def _magnitude(e: SegmentEstimate) -> float:
    """The least skew the interval allows (0 if it admits a right clock)."""
    lo, hi = e.interval.low, e.interval.high
    if lo > 0:
        return lo
    if hi < 0:
        return -hi
    return 0.0


def _skew_run(e: SegmentEstimate, model: ClockModel, tol: float, step: int) -> SegmentEstimate:
    """The last segment, going from ``e`` one way (``step`` +1: later, -1: earlier),
    of the stretch the skew of ``e`` lasted: over boots and resumes (a step changed the
    clock, whether or not records follow it), as long as the evidence puts each next
    segment with records as far off, beyond the tolerance and within the same interval
    (a reboot that left the clock as wrong as it was), and the evidence of both reaches
    the boundary between them."""
    segs = model.hosts[e.segment.host].segments
    low, high = e.interval.low, e.interval.high
    end, k = e, e.segment.index
    while 0 <= k + step < len(segs):
        b = segs[max(k, k + step)].segment.opened_by      # between k and k + step
        if b is None or b.kind == "step" or not _reaches_end(end, step):
            break
        k += step
        seg = segs[k]
        if not seg.segment.events:
            continue
        if not _reaches_end(seg, -step):
            break
        lo, hi = max(low, seg.interval.low), min(high, seg.interval.high)
        bounded = math.isfinite(seg.interval.low) and math.isfinite(seg.interval.high)
        if lo > hi or not bounded or _magnitude(seg) <= tol:
            break
        low, high, end = lo, hi, seg
    return end


def _reaches_end(e: SegmentEstimate, step: int) -> bool:
    """Whether the reach of the segment's evidence takes in its end (``step`` +1) or its
    start (-1)."""
    return e.known_to == e.segment.logged_to if step > 0 else e.known_from == e.segment.logged_from


def _skew_until(e: SegmentEstimate, model: ClockModel, tol: float) -> datetime | None:
    """When the skew of ``e`` ended (see :func:`_skew_run`); None while it lasts to the
    end of the evidence, or past the reach of the evidence (when it ended is unknown)."""
    last = _skew_run(e, model, tol, +1)
    closed = last.segment.closed_by is not None and last.known_to == last.segment.logged_to
    return last.known_true_to if closed else None


def _skew_since(e: SegmentEstimate, model: ClockModel, tol: float) -> SegmentEstimate:
    """The segment the skew of ``e`` began in (see :func:`_skew_run`): a clock a reboot
    left as wrong as it was had been wrong since before the reboot."""
    return _skew_run(e, model, tol, -1)


def _in_window(e: SegmentEstimate, start: datetime, stop: datetime) -> bool:
    """Whether the part of the segment its offset holds for (the reach of its evidence)
    meets ``start`` .. ``stop`` in true time: beyond it the clock is not measured."""
    a, b = e.known_true_from, e.known_true_to
    return (a is None or a <= stop) and (b is None or b >= start)


@dataclass
class ClockWeights:
    """Which clock of each failure the evidence points at (:func:`weigh_clock_pairs`):
    per party (a host, or "(token issuer)" for one no record names), how strongly
    (1: measured off, or the pattern's odd one out; 0.5: one of an undecided pair; 0:
    cleared), and why, in sentences that say what was measured or seen."""

    implicated: dict[str, float] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)
    symptoms: Counter = field(default_factory=Counter)         # party -> symptoms pointing at it
    cleared: dict[str, str] = field(default_factory=dict)      # party -> why its clock is not it

    def strength(self, party: str) -> float:
        return self.implicated.get(party, 0.0)

    def _say(self, party: str, strength: float, why: str, symptoms: int) -> None:
        self.symptoms[party] += symptoms
        if strength >= self.implicated.get(party, -1.0):
            self.implicated[party] = strength
        if why not in self.why.setdefault(party, []):
            self.why[party].append(why)


def measured_clocks(incident: Incident, model: ClockModel) -> dict[str, str]:
    """Per host, what the clock model measured of its clock while the incident lasted:
    "off" (some segment surely beyond the tolerance), "ok" (every segment surely within
    it); hosts with no such segment or with an interval straddling the tolerance are
    left out: unknown."""
    tol = incident.tolerance_s
    start, stop = incident.onset_low or incident.onset, incident.end or incident.last
    if incident.onset_low is None or incident.onset_high is None:
        # the failures' true times are not bounded: any time of the evidence may be theirs
        start, stop = datetime.min.replace(tzinfo=incident.onset.tzinfo), datetime.max.replace(tzinfo=incident.onset.tzinfo)
    out: dict[str, str] = {}
    for host, hc in model.hosts.items():
        segs = [e for e in hc.segments if e.segment.events and e.interval.known and _in_window(e, start, stop)]
        if any(_magnitude(e) > tol for e in segs):
            out[host] = "off"
        elif segs and all(_within(e, tol) for e in segs):
            out[host] = "ok"
    return out


def weigh_clock_pairs(incident: Incident, measured: dict[str, str], hosts: Iterable[str] = ()) -> ClockWeights:
    """Decide, for each failure's two clocks, which the evidence points at.

    1. Measurement: of a pair, a clock measured beyond the tolerance explains the
       failures; one measured within it (or a service presumed true) leaves the other.
    2. Acceptance: a judge that accepted other peers' times while it failed one peer's
       points at that peer (its own clock worked for the rest).
    3. Commonness: a clock common to the failures of several others is the wrong one,
       and theirs are cleared (a DC behind fails every client; one client ahead fails
       alone).
    4. Anything left is a pair nothing decides: both clocks stay, at half weight.

    A party that is one of ``hosts`` (the clock model's, however the records spelled
    it: a short name, its FQDN) goes by that host's name.
    """
    w = ClockWeights()
    known = list(hosts)

    def name(p: str) -> str:
        return p if p.startswith("(") or p in known else next((h for h in known if same_host(p, h)), p)

    pairs: Counter = Counter()
    for (writer, judge), n in incident.clock_pairs.items():
        pairs[(name(writer), name(judge))] += n
    accepted = {name(j): {name(p) for p in ps} for j, ps in incident.accepted.items()}
    roles = {name(p): r for p, r in incident.writer_roles.items()}
    status = dict(measured)
    for p in incident.trusted:
        status.setdefault(p, "ok")
    undecided: list[tuple[str, str, int]] = []
    against: dict[str, Counter] = {}      # a clock measured off -> the clocks it failed with
    made: dict[str, tuple[str, Counter]] = {}   # the maker of a time both clocks refused -> (writer, judges)
    for (writer, judge), n in pairs.items():
        sw, sj = status.get(writer), status.get(judge)
        if "off" in (sw, sj):
            for off, other in ((writer, judge), (judge, writer)):
                if status.get(off) == "off":
                    against.setdefault(off, Counter())[other] += n
                elif status.get(other) == "off":
                    w.cleared.setdefault(off, f"its failures with {_party(other)} are explained by "
                                              f"the clock of {_party(other)}, measured beyond the tolerance")
        elif "ok" in (sw, sj) and sw != sj:
            ok, other = (writer, judge) if sw == "ok" else (judge, writer)
            how = "is presumed to keep true time" if ok in incident.trusted else "was measured within the tolerance"
            w._say(other, 1.0, f"{n} symptoms pair its clock with the clock of {_party(ok)}, which {how}", n)
        elif sw == sj == "ok":
            # Both clocks right, yet the time was refused: the time the record carried
            # was wrong when it was made, by a clock that is neither (the CA that issued
            # a certificate, the service that minted a token for the writer).
            role = roles.get(writer)
            if role and not writer.startswith("("):
                made.setdefault(f"({role} of {writer})", (writer, Counter()))[1][judge] += n
        elif sw is None and sj is None:
            undecided.append((writer, judge, n))
    for off, others in against.items():
        w._say(off, 1.0, f"the clock of {_party(off)} was measured beyond the tolerance, and {sum(others.values())} "
                         f"symptoms pair it with {_few(others)}", sum(others.values()))
    for maker, (writer, judges) in made.items():
        w._say(maker, 1.0, f"the clocks of {_party(writer)} and of {_few(judges)}, which refused the time it sent "
                           f"({sum(judges.values())} symptoms), were all measured within the tolerance: the time was "
                           f"wrong when it was made, by the clock of {_party(maker)}", sum(judges.values()))
    rest: list[tuple[str, str, int]] = []
    for writer, judge, n in undecided:
        others = accepted.get(judge, set()) - {writer}
        if others:
            names = _few(others)
            w._say(writer, 1.0, f"{judge} accepted the times of {len(others)} other "
                                f"host{'s' if len(others) != 1 else ''} ({names}) while it failed those of "
                                f"{_party(writer)}", n)
            w.cleared.setdefault(judge, f"it accepted the times of {len(others)} other "
                                        f"host{'s' if len(others) != 1 else ''} ({names}) while it failed those of "
                                        f"{_party(writer)}: its clock worked for them")
        else:
            rest.append((writer, judge, n))
    peers: dict[str, set[str]] = {}
    for writer, judge, _ in rest:
        peers.setdefault(writer, set()).add(judge)
        peers.setdefault(judge, set()).add(writer)
    common = {p for p, ps in peers.items() if len(ps) >= 2}
    lone: list[tuple[str, str, int]] = []
    for writer, judge, n in rest:
        ends = [p for p in (writer, judge) if p in common]
        if len(ends) != 1:
            lone.append((writer, judge, n))
            continue
        c = ends[0]
        other = judge if c == writer else writer
        names = _few(peers[c])
        w._say(c, 1.0, f"{_party(c)} is common to the failures with {len(peers[c])} others ({names})", n)
        if not any(other in pair and not (set(pair) & common) for pair in ((a, b) for a, b, _ in rest)):
            w.cleared.setdefault(other, f"its failures were all with {_party(c)}, which failed with "
                                        f"{len(peers[c]) - 1} other{'s' if len(peers[c]) != 2 else ''} too: "
                                        f"the common clock is that of {_party(c)}")
    for writer, judge, n in lone:
        # One clock the rest of the evidence already points at (measured off, the
        # partner of a clock measured right, the odd one out) explains these failures
        # too: the other one, that nothing else points at, is not needed for them.
        sure = [p for p in (writer, judge) if w.strength(p) >= 1.0]
        if len(sure) == 1:
            p = sure[0]
            q = judge if p == writer else writer
            w._say(p, 1.0, f"{n} more symptoms pair it with {_party(q)}, whose clock nothing else points at", n)
            w.cleared.setdefault(q, f"its failures with {_party(p)} are explained by the clock of {_party(p)}, "
                                    "which the other failures point at")
            continue
        for p, q in ((writer, judge), (judge, writer)):
            w._say(p, 0.5, f"{n} symptoms pair {_party(p)} with {_party(q)}: nothing measured says which of "
                           f"the two clocks is wrong", n)
    for p in list(w.cleared):
        if w.strength(p) >= 1.0:
            del w.cleared[p]
    return w


def _few(parties: Counter | set, most: int = 3) -> str:
    names = [_party(p) for p, _ in parties.most_common()] if isinstance(parties, Counter) \
        else sorted(_party(p) for p in parties)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _party(p: str) -> str:
    return f"the {p[1:-1]}" if p.startswith("(") else p


def diagnose(incident: Incident, model: ClockModel, case: Case, host_roles: dict[str, set[str]],
             when: Format = UTC_FORMAT) -> Diagnosis:
    tol = incident.tolerance_s
    start = incident.onset - LOOKBACK
    stop = incident.end or incident.last
    slack = timedelta(seconds=60)
    mechanism = 1.0 if incident.skew_signatures else 0.5
    weights = weigh_clock_pairs(incident, measured_clocks(incident, model), model.hosts)
    candidates: list[Candidate] = []
    ruled: list[RuledOut] = []
    sig = ", ".join(incident.skew_signatures or incident.signatures[:2])

    def skewed_here(e: SegmentEstimate) -> bool:
        return e.interval.known and e.offset_s is not None and _in_window(e, start, stop) and _magnitude(e) > tol

    for e in model.segments:
        if not e.interval.known or e.offset_s is None or not _in_window(e, start, stop):
            continue
        host = e.segment.host
        mag = _magnitude(e)
        involved = any(same_host(host, h) for h in incident.involved)
        at = e.known_true_from
        if mag > tol:
            first = _skew_since(e, model, tol)
            if first is not e and skewed_here(first):
                continue      # one skew across a reboot: the candidate of its first segment holds it
            at = first.known_true_from
        if mag <= tol:
            if involved and (e.known_true_from is None or e.known_true_from <= incident.onset + slack) and \
                    (e.known_true_to is None or e.known_true_to >= incident.onset):
                ruled.append(RuledOut(f"clock of {host}", at,
                                      f"offset {_fmt_s(e.offset_s)} (interval {_fmt_s(e.interval.low)} .. "
                                      f"{_fmt_s(e.interval.high)}) is within the {tol:g} s tolerance of "
                                      f"{', '.join(incident.protocols)}", "clock", host))
            continue
        c = Candidate("clock_skew", host, at, _skew_until(e, model, tol), e.offset_s,
                      _finite(e.interval.low), _finite(e.interval.high), segment=e)
        c.evidence.append(f"{host} logged {_fmt_s(e.offset_s)} off true time "
                          f"(interval {_fmt_s(e.interval.low)} .. {_fmt_s(e.interval.high)}), "
                          f"{mag / tol:.0f}x the {tol:g} s tolerance")
        c.evidence += e.interval.evidence[:6]
        c.evidence += e.notes
        # After the onset only where it surely began after the first failure surely
        # happened: the error's start and the onset both in true time, with their
        # uncertainty.
        began = None if at is None else at - timedelta(seconds=_half(e))
        precedence = 0.0 if began is not None and incident.onset_high is not None and \
            began > incident.onset_high + slack else 1.0
        if not precedence:
            ruled.append(RuledOut(f"clock of {host} ({_fmt_s(e.offset_s)})", at,
                                  f"this clock error began at {when(at)} at the earliest, after the first "
                                  f"failure, at {when(incident.onset_high)} at the latest", "clock", host))
            continue
        named = weights.strength(host)
        c.evidence += weights.why.get(host, [])
        recovery = 0.0
        if c.until is not None and incident.end is not None and \
                c.until - timedelta(minutes=5) <= incident.end <= c.until + RECOVERY_WINDOW:
            recovery = 1.0
            c.evidence.append(f"the symptoms stopped at {when(incident.end)}, after the clock was fixed "
                              f"at {when(c.until)}")
        elif c.until is None and incident.end is None:
            recovery = 0.5
        size = min(1.0, mag / (2 * tol))
        c.score = round(0.25 * mechanism + 0.2 * precedence + 0.2 * size + 0.25 * min(1.0, named) + 0.1 * recovery, 3)
        candidates.append(c)

    candidates += _unmeasured_clocks(incident, model, case, weights, candidates, ruled, when)
    candidates = _name_the_unnamed(incident, candidates)
    skewed = {c.host: c for c in candidates if c.host}
    # "Not among the hosts the failures involve" holds only where every failure names
    # both its clocks, or its other clock measured beyond the tolerance explains it: a
    # token issuer no record names may be any host.
    involved = incident.involved | set(skewed)
    knows_all = all(p in weights.cleared for pair in incident.clock_pairs for p in pair if p.startswith("("))
    for host, hc in model.hosts.items():
        for b in hc.boots:
            at = _boot_true(b, model)
            if at is None or not (start <= at <= stop):
                continue
            opened = next((e for e in hc.segments if e.segment.opened_by is b), None)
            culprit = skewed.get(host)
            cseg = culprit.segment if culprit is not None else None
            first = _skew_since(cseg, model, tol) if cseg is not None else None
            if culprit is not None and cseg is not None and first is not None and opened is not None and \
                    first.segment.index < opened.segment.index and \
                    (opened.segment.index <= cseg.segment.index or culprit.until is None or at <= culprit.until):
                since = when(culprit.at) if culprit.at else "the start of the evidence"
                ruled.append(RuledOut(f"reboot of {host}", at,
                                      f"the clock was already {_fmt_s(culprit.offset_s or 0)} off before it "
                                      f"(since {since}) and came back as far off", "reboot", host))
                continue
            if culprit is not None and first is not None and first is opened:
                r = Candidate("reboot", host, at, score=round(culprit.score * 0.8, 3),
                              what=f"reboot of {host}")
                r.evidence.append(f"{host} rebooted at {when(at)} and came back {_fmt_s(culprit.offset_s or 0)} "
                                  f"off: the reboot is how the wrong clock arrived")
                r.evidence += b.evidence[:2]
                candidates.append(r)
                continue
            reasons = []
            # (beyond the reach of the evidence after it, the reboot's true time is unknown)
            known = opened is not None and not opened.beyond(b.after)
            at_low = _earliest(opened, at) if known else None
            if at_low is not None and incident.onset_high is not None and at_low > incident.onset_high + slack:
                reasons.append(f"it came after the first failure: at {when(at)} (true time, "
                               f"{when(at_low)} at the earliest), the first failure at "
                               f"{when(incident.onset_high)} at the latest")
            if knows_all and host not in involved:
                reasons.append(f"{host} is not among the hosts the failures involve ({', '.join(sorted(involved))})")
            if known and opened is not None and _within(opened, tol):
                reasons.append(f"the clock came back within the tolerance after it (offset "
                               f"{_fmt_s(opened.interval.low)} .. {_fmt_s(opened.interval.high)}), so it cannot "
                               f"explain a {sig} failure")
            if reasons:
                ruled.append(RuledOut(f"reboot of {host}", at, "; ".join(reasons), "reboot", host))
            else:
                r = Candidate("reboot", host, at, score=0.1, what=f"reboot of {host}")
                r.evidence.append(f"{host} rebooted at {when(at)}{'' if at_low else ' (as logged: its offset is unknown)'}"
                                  f"; nothing measured rules it out: its clock after the reboot is not bounded "
                                  f"within the tolerance" + ("" if knows_all else ", and a clock the failures do "
                                                             "not name may be any host's"))
                r.evidence += b.evidence[:2]
                candidates.append(r)

    for ch in case.changes:
        if not (start <= ch.at <= stop + LOOKBACK):
            continue
        has_mechanism = bool(_TIME_WORDS.search(ch.what))
        reasons = _change_reasons(ch, incident, has_mechanism, sig, when, involved if knows_all else None)
        after = incident.onset_high is not None and ch.at > incident.onset_high + slack
        if has_mechanism and not after:
            c = Candidate("change", ch.host, ch.at, what=ch.what, score=round(0.25 + 0.2 + 0.1, 3))
            c.evidence.append(f"change '{ch.what}' can move a clock and was made "
                              + (f"before the first failure ({when(incident.onset_high)} at the latest)"
                                 if incident.onset_high is not None else
                                 "when the failures may already have begun (their onset is not bounded)"))
            candidates.append(c)
        elif not reasons:
            c = Candidate("change", ch.host, ch.at, what=ch.what, score=0.1)
            c.evidence.append(f"change '{ch.what}': nothing measured rules it out")
            candidates.append(c)
        else:
            ruled.append(RuledOut(f"change: {ch.what}" + (f" on {ch.host}" if ch.host else ""), ch.at,
                                  "; ".join(reasons), "change", ch.host))

    candidates.sort(key=lambda c: (-c.score, c.kind != "clock_skew", c.at or datetime.max.replace(tzinfo=incident.onset.tzinfo)))
    # One block per host: a host can be a candidate more than once (two skews), and its
    # clock is fixed once; a suspect's clock is never proposed as another's NTP peer. A
    # clock no record names has no host to fix.
    skews: dict[str, Candidate] = {}
    for c in candidates:
        if c.kind == "clock_skew" and c.host:
            skews.setdefault(c.host, c)
    remediation = [remedy(c, model, case, host_roles.get(c.host or "", set()), incident,
                          suspects=set(skews)) for c in skews.values()][:3]
    for party, why in weights.cleared.items():
        if party.startswith("(") or party in skewed or any(r.host == party and r.kind == "clock" for r in ruled):
            continue
        ruled.append(RuledOut(f"clock of {party}", None, why, "clock", party))
    return Diagnosis(candidates, ruled, remediation)


def _name_the_unnamed(incident: Incident, candidates: list[Candidate]) -> list[Candidate]:
    """A clock the failures point at that no record names (the token issuer), where the
    model measured exactly one host beyond the tolerance that no failure names either:
    that host is the likeliest owner. Its candidate takes the unnamed one's weight and
    says why; with several such hosts, the unnamed candidate lists them instead."""
    named = {p for pair in incident.clock_pairs for p in pair}
    unnamed = [c for c in candidates if c.kind == "clock_skew" and c.host is None]
    measured = [c for c in candidates if c.kind == "clock_skew" and c.host and c.segment is not None
                and not any(same_host(c.host, p) for p in named)]
    if not unnamed:
        return candidates
    if len(measured) == 1 and len(unnamed) == 1:
        (host,), (anon,) = measured, unnamed
        if anon.offset_low_s is not None and host.offset_high_s is not None and \
                host.offset_high_s < anon.offset_low_s - 1.0:
            # what the validators printed rules it out: it is not ahead enough
            anon.evidence.append(f"{host.host}'s clock, the only one measured beyond the tolerance that no failure "
                                 f"names, was at most {host.offset_high_s:+.0f} s off, short of the at least "
                                 f"{anon.offset_low_s:+.0f} s of {anon.what}'s: it is not {anon.what}'s")
            return candidates
        host.evidence.insert(1, f"the failures point at the clock of {anon.what}, which no record names; "
                                f"{host.host}'s is the only clock measured beyond the tolerance that no failure "
                                f"names: it is the likeliest to be {anon.what}'s")
        # no failure names it, so its score had nothing for implication (weights.strength
        # is 0): it takes the unnamed clock's
        host.score = round(host.score + 0.25, 3)
        return [c for c in candidates if c is not anon]
    for anon in unnamed:
        if measured:
            anon.evidence.append(f"clocks measured beyond the tolerance that no failure names, any of which may be "
                                 f"{anon.what}'s: {', '.join(sorted(c.host for c in measured if c.host))}")
    return candidates


def _unmeasured_clocks(incident: Incident, model: ClockModel, case: Case, weights: ClockWeights,
                       candidates: list[Candidate], ruled: list[RuledOut], when: Format = UTC_FORMAT
                       ) -> list[Candidate]:
    """Clocks the failures point at (:func:`weigh_clock_pairs`) that no evidence bounds:
    a client a KDC names by address whose own logs are not at hand, the DC every client
    failed with, a token issuer no record names. A skew signature says the two clocks
    of each failure were more than the tolerance apart; by how much, and which way, the
    evidence does not say."""
    if not incident.skew_signatures:
        return []
    tol, total = incident.tolerance_s, max(incident.symptoms, 1)
    sig = ", ".join(incident.skew_signatures)
    seen = {c.host for c in candidates} | {r.host for r in ruled if r.kind == "clock"}
    trusted = set(case.references)
    out = []
    for party, strength in sorted(weights.implicated.items(), key=lambda kv: (-kv[1], kv[0])):
        if party in seen or party in incident.trusted or any(same_host(party, r) for r in trusted):
            continue
        hc = model.hosts.get(party)
        if hc is not None and any(e.interval.known and _in_window(e, incident.onset - LOOKBACK,
                                                                  incident.end or incident.last)
                                  and _magnitude(e) <= tol and math.isfinite(e.interval.low)
                                  and math.isfinite(e.interval.high) for e in hc.segments):
            continue
        n = weights.symptoms[party]
        anonymous = party.startswith("(")
        # Since when is unknown: the first failure says only that the clock was already
        # beyond the tolerance then.
        c = Candidate("clock_skew", None if anonymous else party, None, beyond_s=tol,
                      what=_party(party) if anonymous else "")
        by = (f", by {when(incident.onset_high)} at the latest (true time)" if incident.onset_high is not None
              else "; when the first failure happened in true time is unknown (the clock that logged it is not "
                   "measured)")
        c.evidence.append(f"{n} of {incident.symptoms} symptoms ({sig}) involve the clock of {_party(party)}: each "
                          f"says it was more than {tol:g} s from the other clock of the failure{by}")
        c.evidence += weights.why.get(party, [])
        c.score = round(0.25 + 0.2 * 0.5 + 0.2 * 0.5 + 0.25 * strength * min(1.0, 2 * n / total), 3)
        if (_bound_unnamed(c, party, incident, model, when) if anonymous
                else _bound_either_way(c, party, incident, model, when)):
            out.append(c)
            continue
        c.evidence.append(f"no log of {_party(party)} bounds by how much or which way: "
                          + (f"no record names the host of {_party(party)}: find it and" if anonymous else
                             "collect its logs (its time service's records, its system log"
                             + (", a Kerberos client's KRB5_TRACE" if "kerberos" in incident.protocols else "")
                             + ") or")
                          + " probe it to measure the offset")
        out.append(c)
    return out


def _around(incident: Incident) -> tuple[datetime, datetime]:
    """The records read as measuring an incident's clocks: logged within an hour of it."""
    return incident.onset - timedelta(hours=1), (incident.end or incident.last) + timedelta(hours=1)


def _bound_unnamed(c: Candidate, party: str, incident: Incident, model: ClockModel, when: Format) -> bool:
    """What the messages that measure a clock no record names (a token's nbf beside the
    validator's time) state of ``party``, the clock the failures with those validators
    point at: the evidence, and the bounds on its offset in true time where the
    validator's own clock is measured. False when none bounds it."""
    partners = {j for (w, j) in incident.clock_pairs if w == party} | \
               {w for (w, j) in incident.clock_pairs if j == party}
    start, stop = _around(incident)
    bounds = [b for b in model.unnamed if start <= b.logged <= stop and any(same_host(b.host, p) for p in partners)]
    if not bounds:
        return False
    what = _party(party)
    lows, highs = [], []
    by_host: dict[str, list] = {}
    for b in bounds:
        by_host.setdefault(b.host, []).append(b)
    for host, bs in sorted(by_host.items()):
        # o[host] - o[party] <= hi: the party is ahead of host's clock by at least -hi
        best = min(bs, key=lambda b: b.hi)
        n = len(bs)
        c.evidence.append(f"{best.shape} logged on {host} at {when(best.logged)} (logged): {best.said}: {what}'s "
                          f"clock was at least {-best.hi:.0f} s ahead of {host}'s"
                          + (f" ({n} such records)" if n > 1 else ""))
        est = model.segments[best.segment_id].interval
        if est.known and math.isfinite(est.low):
            lows.append(est.low - best.hi)
            c.evidence.append(f"{host}'s clock was measured {est.low:+.1f} .. {est.high:+.1f} s off true time "
                              f"then: {what}'s was at least {est.low - best.hi:+.0f} s off")
        lo_finite = [b for b in bs if math.isfinite(b.lo)]
        if lo_finite and est.known and math.isfinite(est.high):
            highs.append(est.high - max(b.lo for b in lo_finite))
    if lows:
        c.offset_low_s = round(max(lows), 3)
        c.beyond_s = None
        if highs:
            c.offset_high_s = round(min(highs), 3)
    else:
        c.evidence.append(f"no clock of its validators is measured: how far {what}'s is from true time, the "
                          "evidence does not say, only that it is ahead of theirs")
    return True


def _bound_either_way(c: Candidate, party: str, incident: Incident, model: ClockModel, when: Format) -> bool:
    """What the records that print a difference without its sign (Ceph's leader on a
    monitor) state of ``party``'s clock against another: the largest size, either way.
    False when none names it."""
    start, stop = _around(incident)
    bounds = [b for b in model.absolute if start <= b.logged <= stop
              and (same_host(b.other, party) or same_host(b.host, party))]
    if not bounds:
        return False
    best = max(bounds, key=lambda b: b.lo)
    against = best.host if same_host(best.other, party) else best.other
    c.beyond_s = max(c.beyond_s or 0.0, round(best.lo, 6))
    c.evidence.append(f"{best.shape} logged on {best.host} at {when(best.logged)} (logged): {best.said}: {party}'s "
                      f"clock was {best.lo:g} .. {best.hi:g} s from {against}'s, ahead or behind (the record prints "
                      f"no sign)" + (f"; {len(bounds)} such records" if len(bounds) > 1 else ""))
    c.evidence.append(f"which way, and how far from true time, no log of {party} says: collect its time service's "
                      "records or probe it")
    return True


def _half(e: SegmentEstimate) -> float:
    w = e.interval.high - e.interval.low
    return w / 2 if math.isfinite(w) else 0.0


def _earliest(e: SegmentEstimate | None, at: datetime) -> datetime | None:
    """The earliest true time of ``at`` (a true-time reading of segment ``e``) its
    offset interval allows; None when the interval is not bounded on both sides."""
    if e is None or not (math.isfinite(e.interval.low) and math.isfinite(e.interval.high)):
        return None
    return at - timedelta(seconds=_half(e))


def _within(e: SegmentEstimate, tol: float) -> bool:
    """The segment's offset is measured, surely within the tolerance."""
    return e.interval.known and -tol <= e.interval.low and e.interval.high <= tol


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _boot_true(b: Boundary, model: ClockModel) -> datetime | None:
    for e in model.hosts[b.host].segments:
        if e.segment.opened_by is b:
            return e.true_time(b.after)
    return None


def _change_reasons(ch: Change, incident: Incident, has_mechanism: bool, sig: str, when: Format,
                    involved: set[str] | None) -> list[str]:
    """Why a change is not the cause, each only as far as measured: ``involved`` is None
    where some failure's other clock is named by no record (then no host is surely
    uninvolved)."""
    reasons = []
    slack = timedelta(seconds=60)
    if incident.onset_high is not None and ch.at > incident.onset_high + slack:
        mins = (ch.at - incident.onset_high).total_seconds() / 60
        reasons.append(f"it came after the onset: {when(ch.at)} is {mins:.0f} min after the first failure, "
                       f"which happened by {when(incident.onset_high)} (true time)")
    if not has_mechanism and incident.skew_signatures:
        reasons.append(f"no mechanism: '{ch.what}' cannot make a {sig} failure, which reports a timestamp "
                       f"outside the tolerance and so needs a wrong clock")
    elif not has_mechanism:
        reasons.append(f"no mechanism linking '{ch.what}' to {', '.join(incident.protocols)} failures")
    if ch.host and involved is not None and not any(same_host(ch.host, h) for h in involved):
        reasons.append(f"{ch.host} is not among the hosts the failures involve ({', '.join(sorted(involved))})")
    return reasons


def remedy(c: Candidate, model: ClockModel, case: Case, roles: set[str], incident: Incident,
           suspects: set[str] | frozenset[str] = frozenset()) -> Remediation:
    """The host's runbook (skewsleuth.remediation, the one source of runbook steps) from the
    offset the evidence gives, as the verdict's remediation: the commands of the platform and
    time service the host's logs show, the NTP peer a trusted host of its network."""
    host = c.host or "?"
    hc = model.hosts.get(host)
    # A case file found among the evidence is evidence too: choose_peer puts only plain
    # host names on a command line.
    peer = choose_peer(host, case.references, case.addresses, exclude=suspects)
    runbook = for_evidence(host, hc.platform if hc else "unknown",
                           hc.time_service.daemon if hc and hc.time_service else None, roles=roles,
                           basis=Basis(c.offset_s, source="investigation"), limit_s=incident.tolerance_s, peer=peer)
    steps = [f"{s.command}   # {s.why}" for s in runbook.steps]
    verify = f"{runbook.verify.command} shows {runbook.verify.why}"
    if incident.skew_signatures:
        verify += f", and no new {', '.join(incident.skew_signatures)} appears after the fix"
    return Remediation(host, steps, verify, list(runbook.notes))
