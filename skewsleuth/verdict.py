"""The verdict: what an investigation found, and its JSON shape.

:func:`verdict_dict` is the contract the JSON report, the CLI's ``--json`` and callers of
``Verdict.to_dict()`` read (``tests/golden/`` holds it byte for byte): times in ISO 8601,
UTC as ``Z``; offsets rounded to the millisecond, a number that is not finite as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from .case import Case
from .clock.model import REACH_S, ClockModel, SegmentEstimate
from .findings import Finding, summary as findings_summary
from .incident import Incident
from .reading.ingest import IngestSummary
from .rca import Diagnosis
from .store import Store
from .timefmt import Format, clockface


@dataclass
class Verdict:
    ingest: IngestSummary
    model: ClockModel
    incidents: list[Incident]
    diagnoses: list[Diagnosis]
    case: Case
    store: Store
    notes: list[str] = field(default_factory=list)
    # every explicit change of a clock, graded (findings.py), whether or not it failed anything
    findings: list[Finding] = field(default_factory=list)
    # why each rule of a --rules folder that skewsleuth cannot express was left out (also in notes)
    skipped_rules: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if (self.ingest.quarantined or self.ingest.files_failed) else 0

    def to_dict(self) -> dict:
        return verdict_dict(self)


# The basis of a segment nothing in the evidence bounds the offset of.
NO_CLOCK_EVIDENCE = "no clock evidence"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 3)


def _drift(e) -> dict:
    """A segment's clock rate in ppm (positive: it gains), where pairs span hours."""
    if e.drift is None:
        return {}
    return {"drift_ppm": round(e.drift.rate * 1e6, 2), "drift_low_ppm": round(e.drift.low * 1e6, 2),
            "drift_high_ppm": round(e.drift.high * 1e6, 2)}


def _segment_rows(e: SegmentEstimate, when: Format) -> list[dict]:
    """A segment's rows: the part its offset holds for, as its evidence gives it, and
    the parts beyond the evidence's reach (more than ``REACH_S`` before or after it,
    logged), where the offset is unknown."""
    span = {"evidence_from": _iso(e.evidence_from or (e.segment.logged_from if e.interval.known else None)),
            "evidence_to": _iso(e.evidence_to or (e.segment.logged_to if e.interval.known else None))}
    rows = []
    for start, end, events, known in e.parts():
        if known:
            rows.append({"from": _iso(start), "to": _iso(end),
                         "offset_s": _num(e.offset_s), "offset_low_s": _num(e.interval.low),
                         "offset_high_s": _num(e.interval.high),
                         "basis": e.interval.basis or [NO_CLOCK_EVIDENCE],
                         "evidence": e.interval.evidence[:5], "events": events, **span,
                         **_drift(e),
                         "suspect": e.suspect})
        else:
            rows.append({"from": _iso(start), "to": _iso(end),
                         "offset_s": None, "offset_low_s": None, "offset_high_s": None,
                         "basis": [e.beyond_basis(when)],
                         "evidence": [f"the evidence ({', '.join(e.interval.basis)}) bounds the offset where it was "
                                      f"read, and {REACH_S / 3600:g} h around it: further away the offset is unknown, "
                                      f"and these events keep their logged time"],
                         "events": events, **span, "suspect": e.suspect})
    return rows


def verdict_dict(v: Verdict) -> dict:
    when = clockface(v.case.timezone)
    hosts = []
    for name in sorted(v.model.hosts):
        hc = v.model.hosts[name]
        hosts.append({
            "host": name,
            "platform": hc.platform,
            "time_service": hc.time_service.to_dict() if hc.time_service else None,
            "boots": [_iso(b.after) for b in hc.boots],
            "resumes": [_iso(b.after) for b in hc.resumes],
            "steps": [{"at": _iso(b.before or b.after), "delta_s": _num(next((d for d in (b.delta_s, b.measured_s, b.delta_max_s)
                                                                         if d is not None), None)),
                       "source": b.source, "inferred": b.inferred, "set_by": b.setter,
                       "to": _iso(b.after)} for b in hc.steps],
            "segments": [row for e in hc.segments if e.segment.events for row in _segment_rows(e, when)],
        })
    incidents = []
    for inc, dg in zip(v.incidents, v.diagnoses):
        incidents.append({
            "onset": _iso(inc.onset), "end": _iso(inc.end), "symptoms": inc.symptoms,
            "signatures": inc.signatures, "signature_counts": inc.signature_counts,
            "protocols": inc.protocols, "tolerance_s": inc.tolerance_s,
            "hosts": sorted(inc.involved),
            # when the first failure happened, in true time: null where not bounded
            "onset_bounds": {"earliest": _iso(inc.onset_low), "latest": _iso(inc.onset_high)},
            # the two clocks of the skew symptoms: a party no record names is "(its role)"
            "clock_pairs": [{"writer": w, "judge": j, "symptoms": n}
                            for (w, j), n in sorted(inc.clock_pairs.items(), key=lambda kv: (-kv[1], kv[0]))],
            "root_causes": [{"rank": i + 1, "kind": c.kind, "host": c.host, "offset_s": _num(c.offset_s),
                             "offset_low_s": c.offset_low_s, "offset_high_s": c.offset_high_s,
                             "since": _iso(c.at), "until": _iso(c.until), "score": c.score,
                             "what": c.what or None, "beyond_s": c.beyond_s, "evidence": c.evidence}
                            for i, c in enumerate(dg.root_causes)],
            "ruled_out": [{"what": r.what, "at": _iso(r.at), "reason": r.reason, "kind": r.kind, "host": r.host}
                          for r in dg.ruled_out],
            "remediation": [{"host": r.host, "steps": r.steps, "verify": r.verify, "notes": r.notes}
                            for r in dg.remediation],
            "first_symptoms": inc.first_records,
        })
    failures = [{"path": p, "reason": r} for p, r in v.ingest.failures]
    return {
        "ingest": {**v.ingest.as_dict(), "failures": failures, "quarantine": v.ingest.quarantine},
        "case": {"timezone": v.case.timezone_name, "references": v.case.references, "files": v.case.sources},
        "hosts": hosts,
        "incidents": incidents,
        "findings": [f.to_dict() for f in v.findings],
        "findings_summary": findings_summary(v.findings),
        "contradictions": [{k: x for k, x in c.items() if not k.startswith("_")} for c in v.model.contradictions],
        "notes": v.notes,
    }
