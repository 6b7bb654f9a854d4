"""The verdict as one self-contained HTML page with the clocks drawn, and the chart as a PNG.

The page works offline and makes no request: the chart library (Vega, through
vl-convert's bundle) and every datum are inlined. It opens with the verdict (the
skewed host, its offset, since / until, the fix), then the chart (:mod:`.chart`): one
lane per host with clock evidence over true time: the host's offset with its interval,
its steps and reboots, the incident band, the rate of the symptoms it logged, and the
case file's changes marked with the reasons they were ruled out; the hosts it leaves
out are counted and named under it. The chart zooms (mouse wheel, drag to pan,
double-click to reset) and shows what a mark is on hover; clicking a mark, like every
finding's record links below it, goes to the raw records behind it, shown at the foot
of the page.

Log content is hostile, so the page carries a strict Content-Security-Policy:
``default-src 'none'``, scripts only by their SHA-256 hash, no ``'unsafe-inline'`` and
no ``'unsafe-eval'``. Vega compiles its expressions with ``new Function`` by default,
which such a policy forbids; the chart is therefore run with Vega's CSP-compliant
expression interpreter (``vega-interpreter``, vendored in ``assets/``) and ``ast: true``.
Every string from the evidence reaches the page HTML-escaped (Jinja2 autoescape) or as
JSON inside a ``<script type="application/json">`` element with ``<``, ``>`` and ``&``
written as ``\\u003c``..., so no log line can close the element; in the chart it is
drawn as SVG text and shown on hover through ``textContent``. Links are in-page anchors made here,
never built from evidence.

Per-event data is read with SQL from the case database (symptom rates binned in
DuckDB, the records behind findings fetched by key); what is embedded is capped:
at most ``MAX_RECORDS`` records per finding (the page says how many more there are)
and ``MESSAGE_CHARS`` characters of a message.

References: W3C, "Content Security Policy Level 3" (hash sources); Vega, "Content
Security Policy" (vega-interpreter); vl-convert (the Vega bundle, SVG/PNG).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..findings import LEVELS as FINDING_LEVELS
from ..verdict import Verdict
from ..rca import Candidate
from ..schema import cite
from ..sources import message_sql
from .chart import (MAX_LANES, _change_what, _fin, _skewed, _step_delta, chart_data, chart_spec,  # noqa: F401
                    choose_lanes, vega_spec, write_png)
from .common import REPORT_FAILURES, REPORT_REASONS, bounded, local, offset, plural, printable, where

UTC = timezone.utc
MAX_RECORDS = 10          # records linked from one finding
MESSAGE_CHARS = 2000      # characters of a record's message shown


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
                       e.provider, e.event_id, e.channel, left(e.text, {MESSAGE_CHARS}) AS message,
                       length(e.text) AS chars,
                       coalesce(e.record_id, e.record_no) AS number   -- schema.RECORD_NUMBER_SQL
                -- an EVTX record has no text: show what the timeline shows for it
                FROM (SELECT e.*, {message_sql()} AS text
                      FROM _wanted w JOIN events e USING (file_id, record_no)) e
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
                        "source": cite(r[6], r[13]), "what": what, "channel": r[10] or "",
                        "message": r[11] or "", "more_chars": max(0, (r[12] or 0) - MESSAGE_CHARS)})
        out.sort(key=lambda x: int(x["id"].split("-")[1]))
        return out


# -- times ----------------------------------------------------------------------------

def _dt(s: str | None) -> datetime | None:
    return None if not s else datetime.fromisoformat(s.replace("Z", "+00:00"))


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
        if any(t is not None and abs((t - at).total_seconds()) < 0.001 for t in (e.true_from, e.known_true_from)):
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
        segs = [{"id": f"seg-{e.segment.segment_id}", "from": local(a, zone), "to": local(b, zone),
                 "true_from": local(e.known_true_from, zone), "true_to": local(e.known_true_to, zone),
                 "offset": bounded(e.offset_s, _fin(e.interval.low), _fin(e.interval.high)),
                 "basis": ", ".join(e.interval.basis or ["no clock evidence"]), "events": n,
                 "skewed": _skewed(v, e), "records": recs.refs(_segment_pairs(v, e))[:4]} if known else
                # beyond the reach of its evidence: as a segment nothing measures
                {"id": f"seg-{e.segment.segment_id}-{'before' if k == 0 else 'after'}", "from": local(a, zone),
                 "to": local(b, zone), "true_from": local(a, zone), "true_to": local(b, zone), "offset": "unknown",
                 "basis": e.beyond_basis(lambda t: local(t, zone)), "events": n, "skewed": False, "records": []}
                for e in hc.segments if e.segment.events for k, (a, b, n, known) in enumerate(e.parts())]
        opens = {id(e.segment.opened_by): e.segment.segment_id for e in hc.segments if e.segment.opened_by}
        steps = [{"id": f"step-{opens.get(id(b), f'{name}-{k}')}", "at": local(b.before or b.after, zone), "delta": _step_delta(b), "source": b.source,
                  "inferred": b.inferred, "records": recs.refs(_boundary_pairs(b))[:4]} for k, b in enumerate(hc.steps)]
        boots = [{"id": f"boot-{opens.get(id(b), f'{name}-{k}')}", "at": local(b.after, zone), "records": recs.refs(_boundary_pairs(b))[:4]} for k, b in enumerate(hc.boots)]
        hosts.append({"host": name, "platform": hc.platform, "segments": segs, "steps": steps, "boots": boots})
    return {"incidents": incidents, "hosts": hosts, "ingest": d["ingest"], "notes": d["notes"],
            "contradictions": len(d["contradictions"]), "changes": _clock_changes(v, d, recs),
            "not_read": _not_read(d["ingest"])}


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


def _clock_changes(v: Verdict, d: dict, recs: _Records) -> dict:
    """The findings (every clock change, graded) as the page lists them: counts per host
    and level, then each change, most severe first, informational ones only counted."""
    zone = v.case.timezone
    rank = {k: i for i, k in enumerate(FINDING_LEVELS)}
    listed = sorted((x for x in v.findings if x.level != "informational"), key=lambda x: (rank[x.level], x.logged))
    rows = [{"level": x.level, "host": x.host, "when": (f"{local(x.before, zone)} → {local(x.after, zone)}"
                                                         if x.before and x.after else local(x.logged, zone)),
             "true_at": local(x.true_at, zone) if x.true_at else "unknown",
             "size": "not recorded" if x.delta_s is None else offset(x.delta_s), "set_by": x.setter.replace("_", " "),
             "process": x.process or "", "user": x.user or "", "sid": x.sid or "", "mitre": ", ".join(x.mitre),
             "why": x.why, "records": recs.refs(x.keys)[:4]} for x in listed[:MAX_CHANGES]]
    return {"summary": d["findings_summary"], "levels": FINDING_LEVELS, "rows": rows,
            "more": max(0, len(listed) - MAX_CHANGES),
            "informational": d["findings_summary"]["total"]["informational"]}


MAX_CHANGES = 200     # clock changes listed one by one; the JSON holds every one


@lru_cache(maxsize=1)
def _bundle() -> str:
    import vl_convert as vlc

    return vlc.javascript_bundle()


def _asset(name: str) -> str:
    return resources.files("skewsleuth.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(obj: Any) -> str:
    """JSON for inside a <script> element: nothing in it can end the element."""
    return (json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_html(v: Verdict, all_hosts: bool = False) -> str:
    """The verdict as one self-contained HTML page (works offline, makes no request).
    ``all_hosts``: draw a lane for every host, not only those with clock evidence."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    recs = _Records.of(v)
    findings = _findings(v, recs)
    spec, facts = vega_spec(v, all_hosts)
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


def write_html(v: Verdict, path: str | Path, all_hosts: bool = False) -> None:
    Path(path).write_text(render_html(v, all_hosts), encoding="utf-8")
