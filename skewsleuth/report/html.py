"""The verdict as one self-contained HTML page with the clocks drawn, and the chart as a PNG.

The page works offline and makes no request: the chart library (Vega, through
vl-convert's bundle) and every datum are inlined. It opens with the verdict (the
skewed host, its offset, since / until, the fix), then one lane per host over true
time: the host's offset with its interval, its steps and reboots, the incident band,
the rate of the symptoms it logged, and the case file's changes marked with the
reasons they were ruled out. The chart zooms (mouse wheel, drag to pan, double-click
to reset) and shows what a mark is on hover; clicking a mark, like every finding's
record links below it, goes to the raw records behind it, shown at the foot of the page.

Log content is hostile, so the page carries a strict Content-Security-Policy:
``default-src 'none'``, scripts only by their SHA-256 hash, no ``'unsafe-inline'`` and
no ``'unsafe-eval'``. Vega compiles its expressions with ``new Function`` by default,
which such a policy forbids; the chart is therefore compiled from Vega-Lite to Vega
here (vl-convert) and run with Vega's CSP-compliant expression interpreter
(``vega-interpreter``, vendored in ``assets/``) and ``ast: true``. Every string from
the evidence reaches the page HTML-escaped (Jinja2 autoescape) or as JSON inside a
``<script type="application/json">`` element with ``<``, ``>`` and ``&`` written as
``\\u003c``..., so no log line can close the element; in the chart it is drawn as SVG
text and shown on hover through ``textContent``. Links are in-page anchors made here,
never built from evidence.

Per-event data is read with SQL from the case database (symptom rates binned in
DuckDB, the records behind findings fetched by key); what is embedded is capped:
at most ``MAX_RECORDS`` records per finding (the page says how many more there are)
and ``MESSAGE_CHARS`` characters of a message.

References: W3C, "Content Security Policy Level 3" (hash sources); Vega, "Content
Security Policy" (vega-interpreter); vl-convert (Vega-Lite to Vega, SVG/PNG, bundle).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..verdict import Verdict
from ..rca import Candidate
from .common import REPORT_FAILURES, REPORT_REASONS, bounded, local, offset, plural, printable, where

UTC = timezone.utc
MAX_RECORDS = 10          # records linked from one finding
MESSAGE_CHARS = 2000      # characters of a record's message shown
MAX_LANES = 16            # hosts drawn; the tables list them all
MAX_BINS = 240            # bins of the symptom rate over the whole evidence
LANE_HEIGHT = 86
CHART_WIDTH = 980
_NICE_BINS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)

# Time labels in 24 hours, a date at midnight, a year on the 1st of January (Vega's own
# multi-format writes 12-hour times).
_TIME_LABEL = ("utchours(datum.value) == 0 && utcminutes(datum.value) == 0 ? "
               "(utcmonth(datum.value) == 0 && utcdate(datum.value) == 1 ? utcFormat(datum.value, '%Y') "
               ": utcFormat(datum.value, '%b %d')) : utcFormat(datum.value, '%H:%M')")

RED, BLUE, GREY, ORANGE, PURPLE, BLACK = "#c62828", "#1565c0", "#9e9e9e", "#ef6c00", "#6a1b9a", "#212121"


# -- the records behind the findings ------------------------------------------------

@dataclass
class _Records:
    """Raw records the page links to, each with an in-page anchor ``rec-N``."""
    keys: dict[tuple[int, int], str] = field(default_factory=dict)
    case_entries: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, v: Verdict) -> "_Records":
        """With the case file's changes as entries ``case-N``, in the case's order."""
        recs = cls()
        for c in v.case.changes:
            recs.case_entries.append({"id": f"case-{len(recs.case_entries) + 1}", "at": local(c.at, v.case.timezone),
                                      "what": c.what, "host": c.host or "", "source": c.source or "case file"})
        return recs

    def ref(self, file_id: int | None, record_no: int | None) -> str | None:
        if file_id is None or record_no is None:
            return None
        key = (int(file_id), int(record_no))
        if key not in self.keys:
            self.keys[key] = f"rec-{len(self.keys) + 1}"
        return self.keys[key]

    def refs(self, pairs) -> list[str]:
        out: list[str] = []
        for f, r in pairs:
            a = self.ref(f, r)
            if a and a not in out:
                out.append(a)
        return out

    def rows(self, v: Verdict) -> list[dict]:
        if not self.keys:
            return []
        wanted = pa.table({"file_id": pa.array([k[0] for k in self.keys], pa.int64()),
                           "record_no": pa.array([k[1] for k in self.keys], pa.int64())})
        con = v.store.con
        con.register("_wanted", wanted)
        try:
            got = con.execute(f"""
                SELECT e.file_id, e.record_no, e.host, e.logged, t.true_time, t.offset_s, f.path, e.format,
                       e.provider, e.event_id, e.channel, left(e.message, {MESSAGE_CHARS}) AS message,
                       length(e.message) AS chars
                FROM _wanted w
                JOIN events e USING (file_id, record_no)
                JOIN files f USING (file_id)
                LEFT JOIN timeline t USING (file_id, record_no)""").fetchall()
        finally:
            con.unregister("_wanted")
        zone = v.case.timezone
        by_key = {(r[0], r[1]): r for r in got}
        out = []
        for key, anchor in self.keys.items():
            r = by_key.get(key)
            if r is None:
                continue
            what = " ".join(str(x) for x in (r[8], r[9]) if x not in (None, "")) or r[7] or ""
            out.append({"id": anchor, "host": r[2], "logged": local(r[3], zone), "true": local(r[4], zone),
                        "offset": offset(r[5]) if r[5] is not None else "unknown",
                        "source": f"{r[6]} #{r[1]}", "what": what, "channel": r[10] or "",
                        "message": r[11] or "", "more_chars": max(0, (r[12] or 0) - MESSAGE_CHARS)})
        out.sort(key=lambda x: int(x["id"].split("-")[1]))
        return out


# -- times ----------------------------------------------------------------------------

def _wall_ms(dt: datetime | None, zone) -> float | None:
    """An instant as the case's wall clock, for a chart drawn on a UTC scale: Vega knows
    only UTC and the browser's zone, and the reader thinks in the case's."""
    if dt is None:
        return None
    wall = dt.astimezone(zone).replace(tzinfo=UTC)
    return round(wall.timestamp() * 1000, 3)


def _dt(s: str | None) -> datetime | None:
    return None if not s else datetime.fromisoformat(s.replace("Z", "+00:00"))


def _bin_seconds(span_s: float) -> int:
    for b in _NICE_BINS_S:
        if span_s / b <= MAX_BINS:
            return b
    return _NICE_BINS_S[-1]


def _bin_words(b: int) -> str:
    return f"{b // 3600} h" if b % 3600 == 0 else f"{b // 60} min"


# -- findings -----------------------------------------------------------------------------

def _boundary_pairs(b) -> list[tuple[int, int]]:
    if b is None:
        return []
    pairs = [(b.file_id, b.record_no)] + [(f.file_id, f.record_no) for f in b.facts]
    return [p for p in pairs if p[0] is not None and p[0] >= 0]


def _segment_pairs(v: Verdict, e) -> list[tuple[int, int]]:
    pairs = _boundary_pairs(e.segment.opened_by) + _boundary_pairs(e.segment.closed_by)
    if not pairs:   # no boundary: its first and last records
        pairs = [tuple(r) for r in v.store.con.execute(
            "SELECT file_id, record_no FROM (SELECT file_id, record_no, logged, row_number() OVER (ORDER BY logged) k, "
            "count(*) OVER () n FROM timeline WHERE segment_id = ?) WHERE k = 1 OR k = n ORDER BY logged",
            [e.segment.segment_id]).fetchall()]
    return pairs


def _symptom_pairs(v: Verdict, start: datetime, stop: datetime, host: str | None = None) -> tuple[list, int]:
    """The first symptom records (a record matched by two rules counts once) and how many there are."""
    where = "role IN ('symptom', 'consequence') AND true_time BETWEEN ? AND ?"
    params: list[Any] = [start, stop]
    if host:
        short = host.split(".")[0]
        # starts_with, not LIKE: a host name's "_" would be a wildcard there
        where += " AND (host = ? OR lower(other_raw) = ? OR starts_with(lower(other_raw), ?))"
        params += [host, short, short + "."]
    rows = v.store.con.execute(f"""
        SELECT file_id, record_no, count(*) OVER () AS n FROM (
          SELECT file_id, record_no, min(true_time) AS t, min(host) AS h FROM symptoms WHERE {where} GROUP BY ALL)
        ORDER BY t, h, file_id, record_no LIMIT {MAX_RECORDS}""", params).fetchall()
    return [(f, r) for f, r, _ in rows], int(rows[0][2]) if rows else 0


def _segment_at(v: Verdict, host: str | None, at: datetime | None):
    if host is None or at is None or host not in v.model.hosts:
        return None
    for e in v.model.hosts[host].segments:
        if e.true_from is not None and abs((e.true_from - at).total_seconds()) < 0.001:
            return e
    return None


def _candidate(v: Verdict, c: Candidate, incident, recs: _Records) -> dict:
    zone = v.case.timezone
    if c.kind == "clock_skew":
        title = f"the clock of {c.host or c.what} was {bounded(c.offset_s, c.offset_low_s, c.offset_high_s, c.beyond_s)} off"
        pairs = _segment_pairs(v, c.segment) if c.segment is not None else []
        sym, n = _symptom_pairs(v, incident.onset, incident.end or incident.last, c.host)
        pairs += sym
        more = max(0, n - len(sym))
    else:
        title = c.what or f"{c.kind} on {c.host}"
        e = _segment_at(v, c.host, c.at)
        pairs = _boundary_pairs(e.segment.opened_by) if e is not None else []
        more = 0
    return {"kind": c.kind, "host": c.host, "title": title, "score": f"{c.score:.2f}",
            "since": local(c.at, zone) if c.at or c.kind != "clock_skew"
            else "a time no log shows (beyond the tolerance by the onset at the latest)",
            "until": local(c.until, zone) if c.until else "the end of the evidence",
            "offset": offset(c.offset_s) if c.offset_s is not None else None,
            "evidence": c.evidence, "records": recs.refs(pairs)[:MAX_RECORDS + 4], "more": more}


def _findings(v: Verdict, recs: _Records) -> dict:
    zone = v.case.timezone
    d = v.to_dict()
    incidents = []
    for n, (inc, dg, inc_d) in enumerate(zip(v.incidents, v.diagnoses, d["incidents"]), 1):
        sym, count = _symptom_pairs(v, inc.onset, inc.end or inc.last)
        ruled = []
        for r in dg.ruled_out:
            if r.kind == "change":
                refs = [f"case-{k + 1}" for k, c in enumerate(v.case.changes) if _change_what(c) == r.what
                        and c.at == r.at][:1]
            elif r.kind == "reboot":
                e = _segment_at(v, r.host, r.at)
                refs = recs.refs(_boundary_pairs(e.segment.opened_by)) if e is not None else []
            else:
                e = _segment_at(v, r.host, r.at)
                refs = recs.refs(_segment_pairs(v, e)) if e is not None else []
            ruled.append({"what": r.what, "at": local(r.at, zone), "reason": r.reason, "kind": r.kind,
                          "host": r.host, "records": refs})
        incidents.append({
            "id": f"incident-{n}", "n": n, "onset": local(inc.onset, zone),
            "end": local(inc.end, zone) if inc.end else "still failing at the end of the evidence",
            "symptoms": inc.symptoms, "signatures": [(s, inc.signature_counts[s]) for s in inc.signatures],
            "tolerance": f"{inc.tolerance_s:g} s", "protocols": ", ".join(inc.protocols),
            "records": recs.refs(sym), "more": max(0, count - len(sym)), "symptom_records": count,
            "causes": [_candidate(v, c, inc, recs) for c in dg.root_causes[:4]],
            "more_causes": max(0, len(dg.root_causes) - 4),
            "ruled_out": ruled,
            "remediation": inc_d["remediation"],
        })
    hosts = []
    for name in sorted(v.model.hosts):
        hc = v.model.hosts[name]
        segs = [{"id": f"seg-{e.segment.segment_id}", "from": local(e.segment.logged_from, zone), "to": local(e.segment.logged_to, zone),
                 "true_from": local(e.true_from, zone), "true_to": local(e.true_to, zone),
                 "offset": bounded(e.offset_s, _fin(e.interval.low), _fin(e.interval.high)),
                 "basis": ", ".join(e.interval.basis or ["no clock evidence"]), "events": e.segment.events,
                 "skewed": _skewed(v, e), "records": recs.refs(_segment_pairs(v, e))[:4]}
                for e in hc.segments if e.segment.events]
        opens = {id(e.segment.opened_by): e.segment.segment_id for e in hc.segments if e.segment.opened_by}
        steps = [{"id": f"step-{opens.get(id(b), f'{name}-{k}')}", "at": local(b.before or b.after, zone), "delta": _step_delta(b), "source": b.source,
                  "inferred": b.inferred, "records": recs.refs(_boundary_pairs(b))[:4]} for k, b in enumerate(hc.steps)]
        boots = [{"id": f"boot-{opens.get(id(b), f'{name}-{k}')}", "at": local(b.after, zone), "records": recs.refs(_boundary_pairs(b))[:4]} for k, b in enumerate(hc.boots)]
        hosts.append({"host": name, "platform": hc.platform, "segments": segs, "steps": steps, "boots": boots})
    return {"incidents": incidents, "hosts": hosts, "ingest": d["ingest"], "notes": d["notes"],
            "contradictions": len(d["contradictions"]), "not_read": _not_read(d["ingest"])}


def _not_read(ing: dict) -> dict | None:
    """The records quarantined by reason (each with its first record) and the failed
    files, the first few of each, for the section under the verdict; None when all was read."""
    reasons, failures = ing["quarantine"], ing["failures"]
    if not (reasons or failures):
        return None
    rest = reasons[REPORT_REASONS:]
    return {"quarantined": ing["quarantined"],
            "reasons": [{"count": q["count"], "reason": printable(q["reason"]), "where": where(q["example"]),
                         "excerpt": q["example"]["excerpt"]} for q in reasons[:REPORT_REASONS]],
            "more_reasons": len(rest), "more_records": sum(q["count"] for q in rest),
            "failures": [{"path": printable(x["path"]), "reason": printable(x["reason"])}
                         for x in failures[:REPORT_FAILURES]], "failed": len(failures),
            "more_failures": max(0, len(failures) - REPORT_FAILURES)}


def _change_what(c) -> str:
    """A change as rca names it in ``ruled_out``."""
    return f"change: {c.what}" + (f" on {c.host}" if c.host else "")


def _fin(x: float) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _step_delta(b) -> str:
    d = next((x for x in (b.delta_s, b.measured_s) if x is not None), None)
    if d is not None:
        return offset(d)
    if b.delta_max_s is not None:
        return f"at most {offset(b.delta_max_s)}"
    return "unknown"


def _tolerance(v: Verdict) -> float:
    return min((i.tolerance_s for i in v.incidents), default=300.0)


def _skewed(v: Verdict, e) -> bool:
    lo, hi = e.interval.low, e.interval.high
    tol = _tolerance(v)
    return (math.isfinite(lo) and lo > tol) or (math.isfinite(hi) and hi < -tol)


# -- the chart ------------------------------------------------------------------------

def _lanes(v: Verdict) -> list[str]:
    first = [c.host for dg in v.diagnoses for c in dg.root_causes if c.kind == "clock_skew" and c.host]
    involved = sorted({h for i in v.incidents for h in i.involved})

    def worst(h: str) -> float:
        return max((abs(e.offset_s) for e in v.model.hosts[h].segments if e.offset_s is not None), default=0.0)

    rest = sorted(v.model.hosts, key=lambda h: (-worst(h), h))
    lanes: list[str] = []
    for h in first + involved + rest:
        if h in v.model.hosts and h not in lanes:
            lanes.append(h)
    for c in v.case.changes:
        name = c.host or "case file"
        if name not in lanes:
            lanes.append(name)
    return lanes


def chart_data(v: Verdict, recs: _Records | None = None) -> tuple[list[dict], dict]:
    """The marks of the chart (one flat list, one row per mark) and facts about it."""
    recs = recs or _Records.of(v)
    zone = v.case.timezone
    when = lambda t: local(t, zone)  # noqa: E731
    lanes = _lanes(v)
    drawn = lanes[:MAX_LANES]
    lo_t, hi_t = v.store.con.execute("SELECT min(true_time), max(true_time) FROM timeline").fetchall()[0]
    rows: list[dict] = []

    def add(lane: str, kind: str, t0, t1=None, y=None, y2=None, *, label: str = "", tip: str = "",
            color: str = BLUE, anchor: str | None = None) -> None:
        if lane not in drawn or t0 is None:
            return
        rows.append({"lane": lane, "kind": kind, "x": _wall_ms(t0, zone), "x2": _wall_ms(t1, zone) if t1 else None,
                     "y": y, "y2": y2, "label": label, "tip": tip, "color": color, "anchor": anchor or ""})

    # Incidents: a band across every lane.
    for n, inc in enumerate(v.incidents, 1):
        end = inc.end or hi_t or inc.last
        tip = (f"incident {n}: {plural(inc.symptoms, 'symptom')} from {when(inc.onset)} to "
               f"{when(inc.end) if inc.end else 'the end of the evidence'}\n"
               + "\n".join(f"{s} ({inc.signature_counts[s]})" for s in inc.signatures[:6]))
        for lane in drawn:
            add(lane, "incident", inc.onset, end, tip=tip, color=RED, anchor=f"incident-{n}")
    # Offsets: one bar per segment with its interval, clipped to the lane's scale.
    tol = _tolerance(v)
    causes = {c.host for dg in v.diagnoses for c in dg.root_causes if c.kind == "clock_skew"}
    for host in drawn:
        hc = v.model.hosts.get(host)
        if hc is None:
            add(host, "note", lo_t, label="no logs from this host: the case file names it", color=GREY)
            continue
        segs = [e for e in hc.segments if e.segment.events and e.offset_s is not None and e.true_from is not None]
        for e in hc.segments:
            if e.segment.events and e.offset_s is None:
                add(host, "note", e.true_from or lo_t, color=GREY, anchor=f"seg-{e.segment.segment_id}",
                    label=f"offset unknown: no clock evidence ({plural(e.segment.events, 'event')})")
        ests = [e.offset_s for e in segs] or [0.0]
        halves = [(e.interval.high - e.interval.low) / 2 for e in segs
                  if math.isfinite(e.interval.high - e.interval.low)]
        pad = max(1.0, 0.25 * (max(ests) - min(ests)), 2 * min(halves, default=0.0))
        floor, ceil = min(ests) - pad, max(ests) + pad
        # The lane's scale: a little room around the offsets and their intervals.
        add(host, "extent", lo_t, y=floor)
        add(host, "extent", lo_t, y=ceil)
        for e in segs:
            lo, hi = _fin(e.interval.low), _fin(e.interval.high)
            skewed = _skewed(v, e)
            color = RED if skewed else (GREY if lo is None or hi is None else BLUE)
            anchor = f"seg-{e.segment.segment_id}"
            tip = (f"{host}: offset {bounded(e.offset_s, lo, hi)}\n"
                   f"true {when(e.true_from)} → {when(e.true_to)}\n"
                   f"logged {when(e.segment.logged_from)} → {when(e.segment.logged_to)}\n"
                   f"basis: {', '.join(e.interval.basis or ['no clock evidence'])}; {plural(e.segment.events, 'event')}"
                   + (f"\nbeyond the {tol:g} s tolerance" if skewed else ""))
            end = e.true_to if e.true_to and e.true_to > e.true_from else e.true_from + timedelta(seconds=1)
            add(host, "interval", e.true_from, end, max(floor, lo if lo is not None else floor),
                min(ceil, hi if hi is not None else ceil), tip=tip, color=color, anchor=anchor)
            add(host, "offset", e.true_from, end, e.offset_s, tip=tip, color=color, anchor=anchor,
                label=offset(e.offset_s) if (skewed or host in causes) and abs(e.offset_s) >= 1 else "")
        for b in hc.steps:
            e = next((s for s in hc.segments if s.segment.opened_by is b), None)
            at = e.true_from if e is not None else None
            add(host, "step", at, label=f"step {_step_delta(b)}", color=BLACK,
                anchor=f"step-{e.segment.segment_id}" if e is not None else None,
                tip=f"{host}: clock stepped {_step_delta(b)} ({b.source})\nat {when(at)} (true), "
                    f"logged {when(b.before or b.after)} → {when(b.after)}")
        for b in hc.boots:
            e = next((s for s in hc.segments if s.segment.opened_by is b), None)
            at = e.true_from if e is not None else None
            add(host, "boot", at, label="reboot", color=PURPLE,
                anchor=f"boot-{e.segment.segment_id}" if e is not None else None,
                tip=f"{host}: rebooted at {when(at)} (true), logged {when(b.after)} ({b.source})")
    # Symptom rate: binned in DuckDB, per host that logged them.
    if lo_t is not None and hi_t is not None:
        b = _bin_seconds(max(60.0, (hi_t - lo_t).total_seconds()))
        rate = v.store.con.execute(f"""
            SELECT host, time_bucket(INTERVAL '{b} seconds', true_time) AS t, count(*) AS n
            FROM symptoms WHERE role IN ('symptom', 'consequence') GROUP BY ALL ORDER BY host, t""").fetchall()
        for host, t, n in rate:
            add(host, "rate", t, t + timedelta(seconds=b), n, color=ORANGE,
                tip=f"{host}: {plural(n, 'symptom')} logged in the {_bin_words(b)} from {when(t)}")
    else:
        b = 60
    # Changes from the case file, in their host's lane, with why they were ruled out.
    ruled = {(r.at, r.what): r.reason for dg in v.diagnoses for r in dg.ruled_out if r.kind == "change"}
    for k, c in enumerate(v.case.changes):
        what = _change_what(c)
        reason = ruled.get((c.at, what))
        suspect = any(x.kind == "change" and x.at == c.at and x.what == c.what for dg in v.diagnoses
                      for x in dg.root_causes)
        status = "ruled out" if reason else ("candidate" if suspect else "not near an incident")
        add(c.host or "case file", "change", c.at, label=f"{'✗ ' if reason else ''}{c.what} ({status})",
            color=GREY if reason else ORANGE, anchor=f"case-{k + 1}",
            tip=f"{what} at {when(c.at)}: {status}" + (f"\n{reason}" if reason else ""))
    days = sorted({t.astimezone(zone).strftime("%Y-%m-%d") for t in (lo_t, hi_t) if t is not None})
    facts = {"lanes": drawn, "hidden_lanes": lanes[MAX_LANES:], "bin": _bin_words(b), "zone": v.case.timezone_name,
             "days": " to ".join(days)}
    return rows, facts


def chart_spec(rows: list[dict], facts: dict) -> dict:
    """The chart as a Vega-Lite specification (built with altair): one lane per host."""
    import altair as alt

    data = alt.Data(values=rows)
    x = alt.X("x:T", title=f"true time, {facts['days']} ({facts['zone']})" if facts["days"] else
              f"true time ({facts['zone']})", scale=alt.Scale(type="utc"),
              axis=alt.Axis(labelOverlap=True, grid=False, labelExpr=_TIME_LABEL))
    x_utc = alt.X("x:T", scale=alt.Scale(type="utc"))
    tip = alt.Tooltip("tip:N")
    color = alt.Color("color:N", scale=None)
    anchor = alt.Detail("anchor:N")
    zoom = alt.selection_interval(bind="scales", encodings=["x"], name="zoom")

    def of(kind: str, base: alt.Chart) -> alt.Chart:
        return base.transform_filter(alt.datum.kind == kind)

    band = of("incident", alt.Chart().mark_rect(opacity=0.12, cursor="pointer", clip=True)).encode(
        x=x, x2="x2:T", color=color, tooltip=tip, detail=anchor)
    # The symptom rate keeps to the lower 40% of a lane, under the clock.
    rate = of("rate", alt.Chart().mark_rect(opacity=0.35, clip=True)).encode(
        x=x_utc, x2="x2:T", y=alt.Y("y:Q", title=f"symptoms / {facts['bin']}",
                                    scale=alt.Scale(range=[LANE_HEIGHT, round(LANE_HEIGHT * 0.6)], nice=True),
                                    axis=alt.Axis(orient="right", tickCount=2, grid=False, titleColor=ORANGE,
                                                  labelColor=ORANGE, titleFontSize=10)),
        color=color, tooltip=tip)
    offset_y = alt.Y("y:Q", title="offset (s)", axis=alt.Axis(tickCount=4, format=",~f", grid=False),
                     scale=alt.Scale(zero=False, nice=True))
    interval = of("interval", alt.Chart().mark_rect(opacity=0.15, cursor="pointer", clip=True)).encode(
        x=x_utc, x2="x2:T", y=offset_y, y2="y2:Q", color=color, tooltip=tip, detail=anchor)
    line = of("offset", alt.Chart().mark_rule(strokeWidth=3, cursor="pointer", clip=True)).encode(
        x=x_utc, x2="x2:T", y=offset_y, color=color, tooltip=tip, detail=anchor).add_params(zoom)
    line_label = of("offset", alt.Chart().mark_text(align="left", dx=4, dy=-8, fontWeight="bold", clip=True)).encode(
        x=x_utc, y=offset_y, text="label:N", color=color)
    extent = of("extent", alt.Chart().mark_point(opacity=0)).encode(x=x_utc, y=offset_y)
    clock = alt.layer(extent, interval, line, line_label)

    def marker(kind: str, dash: list[int], dy: int) -> list[alt.Chart]:
        rule = of(kind, alt.Chart().mark_rule(strokeWidth=2, strokeDash=dash, cursor="pointer", clip=True)).encode(
            x=x_utc, color=color, tooltip=tip, detail=anchor)
        text = of(kind, alt.Chart().mark_text(align="left", baseline="top", dx=4, fontSize=11, clip=True)).encode(
            x=x_utc, y=alt.value(dy), text="label:N", color=color, tooltip=tip, detail=anchor)
        return [rule, text]

    markers = marker("step", [], 2) + marker("boot", [5, 3], 16) + marker("change", [2, 2], 30)
    note = of("note", alt.Chart().mark_text(align="left", baseline="middle", dx=6, fontStyle="italic",
                                            clip=True)).encode(x=x_utc, y=alt.value(LANE_HEIGHT / 2),
                                                               text="label:N", color=color)
    lane = alt.layer(band, rate, clock, *markers, note, width=CHART_WIDTH, height=LANE_HEIGHT).resolve_scale(y="independent")
    chart = alt.layer(lane, data=data).facet(
        row=alt.Row("lane:N", sort=facts["lanes"], title=None,
                    header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelFontWeight="bold",
                                      labelFontSize=12, labelLimit=600, labelPadding=4)),
        spacing=14,
    ).resolve_scale(y="independent").configure_view(stroke="#bdbdbd").configure(font="sans-serif")
    return chart.to_dict()


@lru_cache(maxsize=1)
def _bundle() -> str:
    import vl_convert as vlc

    return vlc.javascript_bundle()


def _asset(name: str) -> str:
    return resources.files("skewsleuth.report").joinpath("assets", name).read_text(encoding="utf-8")


def vega_spec(v: Verdict, recs: _Records | None = None) -> tuple[dict, dict]:
    import vl_convert as vlc

    rows, facts = chart_data(v, recs)
    return vlc.vegalite_to_vega(chart_spec(rows, facts)), facts


def _script_json(obj: Any) -> str:
    """JSON for inside a <script> element: nothing in it can end the element."""
    return (json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_html(v: Verdict) -> str:
    """The verdict as one self-contained HTML page (works offline, makes no request)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    recs = _Records.of(v)
    findings = _findings(v, recs)
    spec, facts = vega_spec(v, recs)
    scripts = [_bundle(), _asset("vega-interpreter.js"), _asset("report.js")]
    css = _asset("report.css")
    csp = ("default-src 'none'; script-src " + " ".join(_sha256(s) for s in scripts)
           + f"; style-src {_sha256(css)}; img-src 'none'; base-uri 'none'; form-action 'none'")
    env = Environment(loader=PackageLoader("skewsleuth.report", "assets"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    lead = next((c for i in findings["incidents"] for c in i["causes"][:1]), None)
    return env.get_template("report.html.j2").render(
        csp=csp, css=css, scripts=scripts, spec_json=_script_json(spec), f=findings, lead=lead,
        facts=facts, zone=v.case.timezone_name, records=recs.rows(v), case_entries=recs.case_entries,
        max_records=MAX_RECORDS, message_chars=MESSAGE_CHARS)


def write_html(v: Verdict, path: str | Path) -> None:
    Path(path).write_text(render_html(v), encoding="utf-8")


def write_png(v: Verdict, path: str | Path, scale: float = 2.0) -> None:
    """The chart alone as a PNG, for a ticket."""
    import vl_convert as vlc

    spec, _ = vega_spec(v)
    Path(path).write_bytes(vlc.vega_to_png(spec, scale=scale))
