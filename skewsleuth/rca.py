"""Root causes: every candidate for an incident, ranked, and the others ruled out.

Candidates are the clock segments whose offset exceeds the failing protocol's
tolerance, the reboots and the case-file changes around the incident. Each is scored on
five grounds, all in true time:

* precedence: it was in place at the onset (a cause comes first);
* mechanism: a skew signature ("date skewed", KRB_AP_ERR_SKEW) needs a wrong clock;
* size: how far the offset is beyond the tolerance;
* naming: how many symptoms name the host (ms-ep-fqdn, the peer) or were logged by it;
* recovery: the symptoms stopped when the clock was fixed.

Anything that cannot be the cause goes to ``ruled_out`` with the specific reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
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
_TIME_WORDS = re.compile(r"\b(ntp|w32tm|w32time|time ?zone|clock|chrony|timesync|time service|hwclock|rtc)\b", re.I)


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
    (a reboot that left the clock as wrong as it was)."""
    segs = model.hosts[e.segment.host].segments
    low, high = e.interval.low, e.interval.high
    end, k = e, e.segment.index
    while 0 <= k + step < len(segs):
        b = segs[max(k, k + step)].segment.opened_by      # between k and k + step
        if b is None or b.kind == "step":
            break
        k += step
        seg = segs[k]
        if not seg.segment.events:
            continue
        lo, hi = max(low, seg.interval.low), min(high, seg.interval.high)
        bounded = math.isfinite(seg.interval.low) and math.isfinite(seg.interval.high)
        if lo > hi or not bounded or _magnitude(seg) <= tol:
            break
        low, high, end = lo, hi, seg
    return end


def _skew_until(e: SegmentEstimate, model: ClockModel, tol: float) -> datetime | None:
    """When the skew of ``e`` ended (see :func:`_skew_run`); None while it lasts to the
    end of the evidence."""
    last = _skew_run(e, model, tol, +1)
    return last.true_to if last.segment.closed_by else None


def _skew_since(e: SegmentEstimate, model: ClockModel, tol: float) -> SegmentEstimate:
    """The segment the skew of ``e`` began in (see :func:`_skew_run`): a clock a reboot
    left as wrong as it was had been wrong since before the reboot."""
    return _skew_run(e, model, tol, -1)


def _in_window(e: SegmentEstimate, start: datetime, stop: datetime) -> bool:
    a, b = e.true_from, e.true_to
    return (a is None or a <= stop) and (b is None or b >= start)


def diagnose(incident: Incident, model: ClockModel, case: Case, host_roles: dict[str, set[str]],
             when: Format = UTC_FORMAT) -> Diagnosis:
    tol = incident.tolerance_s
    start = incident.onset - LOOKBACK
    stop = incident.end or incident.last
    slack = timedelta(seconds=60)
    mechanism = 1.0 if incident.skew_signatures else 0.5
    total = max(incident.symptoms, 1)
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
        involved = host in incident.involved
        at = e.true_from
        if mag > tol:
            first = _skew_since(e, model, tol)
            if first is not e and skewed_here(first):
                continue      # one skew across a reboot: the candidate of its first segment holds it
            at = first.true_from
        if mag <= tol:
            if involved and (e.true_from is None or e.true_from <= incident.onset + slack) and \
                    (e.true_to is None or e.true_to >= incident.onset):
                ruled.append(RuledOut(f"clock of {host}", at,
                                      f"offset {_fmt_s(e.offset_s)} (interval {_fmt_s(e.interval.low)} .. "
                                      f"{_fmt_s(e.interval.high)}) is within the {tol:.0f} s tolerance of "
                                      f"{', '.join(incident.protocols)}", "clock", host))
            continue
        c = Candidate("clock_skew", host, at, _skew_until(e, model, tol), e.offset_s,
                      _finite(e.interval.low), _finite(e.interval.high), segment=e)
        c.evidence.append(f"{host} logged {_fmt_s(e.offset_s)} off true time "
                          f"(interval {_fmt_s(e.interval.low)} .. {_fmt_s(e.interval.high)}), "
                          f"{mag / tol:.0f}x the {tol:.0f} s tolerance")
        c.evidence += e.interval.evidence[:6]
        c.evidence += e.notes
        precedence = 1.0 if at is None or at <= incident.onset + slack + timedelta(seconds=_half(e)) else 0.0
        if not precedence:
            ruled.append(RuledOut(f"clock of {host} ({_fmt_s(e.offset_s)})", at,
                                  f"this clock error began at {when(at)}, after the onset "
                                  f"{when(incident.onset)}", "clock", host))
            continue
        named = (incident.suspects.get(host, 0) + 0.5 * incident.reporters.get(host, 0)) / total
        if incident.suspects.get(host):
            c.evidence.append(f"{incident.suspects[host]} of {incident.symptoms} symptoms name {host}")
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

    candidates += _unbounded_suspects(incident, model, case, candidates, ruled, start, stop, when)
    skewed = {c.host: c for c in candidates}
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
            if at > incident.onset + slack:
                reasons.append(f"it came after the onset ({when(at)}, first failure {when(incident.onset)})")
            if host not in incident.involved:
                reasons.append(f"{host} is not among the hosts the failures involve ({_hosts(incident)})")
            if not reasons:
                reasons.append("the clock came back within tolerance after it, so it cannot explain a "
                               f"{sig} failure")
            ruled.append(RuledOut(f"reboot of {host}", at, "; ".join(reasons), "reboot", host))

    for ch in case.changes:
        if not (start <= ch.at <= stop + LOOKBACK):
            continue
        has_mechanism = bool(_TIME_WORDS.search(ch.what))
        reasons = _change_reasons(ch, incident, has_mechanism, sig, when)
        if has_mechanism and ch.at <= incident.onset + slack:
            c = Candidate("change", ch.host, ch.at, what=ch.what, score=round(0.25 + 0.2 + 0.1, 3))
            c.evidence.append(f"change '{ch.what}' touches time keeping and came before the onset")
            candidates.append(c)
        else:
            ruled.append(RuledOut(f"change: {ch.what}" + (f" on {ch.host}" if ch.host else ""), ch.at,
                                  "; ".join(reasons), "change", ch.host))

    candidates.sort(key=lambda c: (-c.score, c.kind != "clock_skew", c.at or datetime.max.replace(tzinfo=incident.onset.tzinfo)))
    # One block per host: a host can be a candidate more than once (two skews), and its
    # clock is fixed once; a suspect's clock is never proposed as another's NTP peer.
    skews: dict[str | None, Candidate] = {}
    for c in candidates:
        if c.kind == "clock_skew":
            skews.setdefault(c.host, c)
    remediation = [remedy(c, model, case, host_roles.get(c.host or "", set()), incident,
                          suspects={h for h in skews if h}) for c in skews.values()][:3]
    return Diagnosis(candidates, ruled, remediation)


def _unbounded_suspects(incident: Incident, model: ClockModel, case: Case, candidates: list[Candidate],
                        ruled: list[RuledOut], start: datetime, stop: datetime,
                        when: Format = UTC_FORMAT) -> list[Candidate]:
    """Hosts the failures accuse whose clock no evidence bounds: a client a KDC names by
    address and whose own logs are not at hand. A skew signature says the clock was
    beyond the protocol's tolerance from the clock that judged it; by how much, and
    which way, the evidence does not say."""
    if not incident.skew_signatures:
        return []
    tol, total = incident.tolerance_s, max(incident.symptoms, 1)
    sig = ", ".join(incident.skew_signatures)
    seen = {c.host for c in candidates} | {r.host for r in ruled if r.kind == "clock"}
    trusted = set(case.references)
    out = []
    for host, n in incident.suspects.most_common():
        if host in seen or any(same_host(host, r) for r in trusted):
            continue
        hc = model.hosts.get(host)
        if hc is not None and any(e.interval.known and _in_window(e, start, stop) for e in hc.segments):
            continue
        judges = sorted(h for h in incident.reporters if h != host) or sorted(incident.reporters)
        # Since when is unknown: the first failure says only that the clock was already
        # beyond the tolerance then.
        c = Candidate("clock_skew", host, None, beyond_s=tol)
        c.evidence.append(f"{n} of {incident.symptoms} symptoms ({sig}) name {host}: each reports a timestamp "
                          f"more than {tol:.0f} s from the clock of {', '.join(judges[:3])}, so {host}'s clock was "
                          f"beyond the tolerance of {', '.join(incident.protocols)} by {when(incident.onset)} "
                          f"at the latest")
        c.evidence.append(f"no log of {host} bounds by how much or which way: collect its logs (a Kerberos "
                          "client's KRB5_TRACE, its system log) or probe it to measure the offset")
        named = min(1.0, n / total)
        c.score = round(0.25 + 0.2 * 0.5 + 0.2 * 0.5 + 0.25 * named, 3)
        out.append(c)
    return out


def _hosts(incident: Incident) -> str:
    return ", ".join(sorted(incident.involved))


def _half(e: SegmentEstimate) -> float:
    w = e.interval.high - e.interval.low
    return w / 2 if math.isfinite(w) else 0.0


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _boot_true(b: Boundary, model: ClockModel) -> datetime | None:
    for e in model.hosts[b.host].segments:
        if e.segment.opened_by is b:
            return e.true_time(b.after)
    return None


def _change_reasons(ch: Change, incident: Incident, has_mechanism: bool, sig: str, when: Format) -> list[str]:
    reasons = []
    slack = timedelta(seconds=60)
    if ch.at > incident.onset + slack:
        mins = (ch.at - incident.onset).total_seconds() / 60
        reasons.append(f"it came after the onset: {when(ch.at)} is {mins:.0f} min after the first failure "
                       f"at {when(incident.onset)}")
    if not has_mechanism and incident.skew_signatures:
        reasons.append(f"no mechanism: '{ch.what}' cannot make a {sig} failure, which reports a timestamp "
                       f"outside the tolerance and so needs a wrong clock")
    elif not has_mechanism:
        reasons.append(f"no mechanism linking '{ch.what}' to {', '.join(incident.protocols)} failures")
    if ch.host and not any(same_host(ch.host, h) for h in incident.involved):
        reasons.append(f"{ch.host} is not among the hosts the failures involve ({_hosts(incident)})")
    return reasons or ["it does not precede the failures"]


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
