"""The verdict as Markdown, for a ticket. Evidence strings are escaped."""

from __future__ import annotations

from datetime import datetime

from ..findings import LEVELS as FINDING_LEVELS
from ..verdict import Verdict
from .common import (REPORT_FAILURES, REPORT_REASONS, bounded, code, code_span, local, md, offset, plural, printable,
                     where)


def _t(v: Verdict, s: str | None) -> str:
    if not s:
        return "—"
    return local(datetime.fromisoformat(s.replace("Z", "+00:00")), v.case.timezone)


def _findings(v: Verdict, d: dict) -> list[str]:
    """Every clock change: counts per host and level, then each one, most severe first."""
    if not d["findings"]:
        return []
    levels = FINDING_LEVELS
    out = ["## Clock changes", "", "| host | " + " | ".join(levels) + " |", "|---|" + "---|" * len(levels)]
    out += [f"| {md(h['host'])} | " + " | ".join(str(h[k]) for k in levels) + " |"
            for h in d["findings_summary"]["hosts"]]
    out += ["", "| level | host | clock set (as logged) | size | set by | process | user | records |",
            "|---|---|---|---|---|---|---|---|"]
    rank = {k: i for i, k in enumerate(levels)}
    for f in sorted(d["findings"], key=lambda f: rank[f["level"]]):
        when = f"{_t(v, f['before'])} → {_t(v, f['after'])}" if f["before"] else _t(v, f["logged"])
        size = "not recorded" if f["delta_s"] is None else offset(f["delta_s"])
        who = md(f["user"] or "") + (f" ({md(f['sid'])})" if f["sid"] else "")
        out.append(f"| {f['level']}{' ' + ', '.join(f['mitre']) if f['mitre'] else ''} | {md(f['host'])} | {when} "
                   f"| {md(size)} | {md(f['set_by'])} | {md(f['process'] or '')} | {who} "
                   f"| {md(', '.join(f['records'][:3]))} |")
    return out + [""]


def render_markdown(v: Verdict) -> str:
    d = v.to_dict()
    ing = d["ingest"]
    out = ["# skewsleuth verdict", "",
           f"Read {ing['files']} files, {ing['records']:,} records: {ing['quarantined']} quarantined, "
           f"{ing['files_failed']} files failed. Times in {md(v.case.timezone_name)}.", ""]
    out += _not_read(ing)
    if not d["incidents"]:
        high = d["findings_summary"]["total"]["high"]
        out += ["**No incident**: no skew-sensitive failure was found in the evidence"
                + (f", but **{high} clock change{'s' if high != 1 else ''} by a person or an unknown process** "
                   f"({'is a high finding' if high == 1 else 'are high findings'}: see Clock changes)." if high else "."), ""]
    for n, inc in enumerate(d["incidents"], 1):
        unknown = "" if inc["onset_bounds"]["latest"] else " (as logged: true time unknown)"
        out += [f"## Incident {n}: {_t(v, inc['onset'])} → {_t(v, inc['end']) if inc['end'] else 'still failing at the end of the evidence'}{unknown}", "",
                f"{inc['symptoms']} symptoms: " + ", ".join(f"{code_span(s)} ({inc['signature_counts'][s]})" for s in inc["signatures"]), "",
                "First symptoms:", ""] + [f"- {md(x)}" for x in inc["first_symptoms"]] + [""]
        if inc["root_causes"]:
            rc = inc["root_causes"][0]
            if rc["kind"] == "clock_skew":
                out += [f"**Root cause:** the clock of **{md(rc['host'] or rc['what'])}** was "
                        f"{md(bounded(rc['offset_s'], rc['offset_low_s'], rc['offset_high_s'], rc.get('beyond_s')))} off "
                        f"from {_t(v, rc['since']) if rc['since'] else 'a time no log shows (beyond the tolerance by the onset at the latest)'} until {_t(v, rc['until']) if rc['until'] else 'the end of the evidence'}.", ""]
            out += ["### Candidates", "", "| rank | kind | host | offset | since | score |", "|---|---|---|---|---|---|"]
            for c in inc["root_causes"]:
                out.append(f"| {c['rank']} | {md(c['kind'])} | {md(c['host'] or c['what'] or '')} | {md(offset(c['offset_s']) if c['offset_s'] is not None else '')} "
                           f"| {_t(v, c['since'])} | {c['score']:.2f} |")
            out += ["", "Evidence for the first:", ""] + [f"- {md(e)}" for e in inc["root_causes"][0]["evidence"]] + [""]
        if inc["ruled_out"]:
            out += ["### Ruled out", ""]
            out += [f"- **{md(r['what'])}** ({_t(v, r['at'])}): {md(r['reason'])}" for r in inc["ruled_out"]]
            out.append("")
        for r in inc["remediation"]:
            out += [f"### Fix on {md(r['host'])}", "", "~~~"] + [code(s) for s in r["steps"]] + ["~~~", "",
                    f"**Verify:** {md(r['verify'])}", ""]
            out += [f"> {md(n_)}" for n_ in r["notes"]]
            out.append("")
    out += _findings(v, d)
    out += ["## Clocks", "", "| host | segment (logged) | offset | interval | basis |", "|---|---|---|---|---|"]
    for h in d["hosts"]:
        for s in h["segments"]:
            out.append(f"| {md(h['host'])} | {_t(v, s['from'])} → {_t(v, s['to'])} | {md(offset(s['offset_s']))} "
                       f"| {md(offset(s['offset_low_s']))} .. {md(offset(s['offset_high_s']))} | {md(', '.join(s['basis']))} |")
    out.append("")
    if d["notes"]:
        out += ["## Notes", ""] + [f"- {md(n_)}" for n_ in d["notes"]] + [""]
    return "\n".join(out)


def _not_read(ing: dict) -> list[str]:
    """The records quarantined, by reason (most first, each with its first record), and
    the files that failed with their reasons: the first few of each (the JSON's
    ``ingest`` has them all)."""
    reasons, failures = ing.get("quarantine", []), ing["failures"]
    if not (reasons or failures):
        return []
    out = ["## Evidence not read", ""]
    if reasons:
        out += [f"{plural(ing['quarantined'], 'record')} quarantined, by reason (each with its first record):", ""]
        for q in reasons[:REPORT_REASONS]:
            ex = q["example"]
            line = f"- **{q['count']:,}** × {md(printable(q['reason']))} — e.g. {md(where(ex))}"
            if ex.get("excerpt"):
                line += f": {code_span(ex['excerpt'])}"
            out.append(line)
        rest = reasons[REPORT_REASONS:]
        if rest:
            out.append(f"- … {plural(len(rest), 'more reason')} ({plural(sum(q['count'] for q in rest), 'record')}): "
                       "see `ingest.quarantine` in the JSON")
        out.append("")
    if failures:
        out += [f"{plural(len(failures), 'file')} failed:", ""]
        out += [f"- {md(printable(f['path']))}: {md(printable(f['reason']))}" for f in failures[:REPORT_FAILURES]]
        if len(failures) > REPORT_FAILURES:
            out.append(f"- … {plural(len(failures) - REPORT_FAILURES, 'more failed file')}: see `ingest.failures` in "
                       "the JSON")
        out.append("")
    return out
