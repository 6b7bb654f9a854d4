"""The verdict for a terminal (rich). Evidence strings go in as Text, never as markup."""

from __future__ import annotations

import re
from datetime import datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..findings import LEVELS as FINDING_LEVELS
from ..verdict import NO_CLOCK_EVIDENCE, Verdict
from .common import TERMINAL_FAILURES, TERMINAL_REASONS, bounded, local, offset, plural, printable, where

MAX_ROWS_PER_HOST = 8
MAX_EVIDENCE = 6
# Clock changes listed one by one: every high one up to this many, then a count
MAX_HIGH_FINDINGS = 20
MAX_OTHER_FINDINGS = 10
MAX_FINDING_HOSTS = 10
_LEVEL_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "informational": "dim"}


def _dt(s: str | None) -> datetime | None:
    return None if not s else datetime.fromisoformat(s.replace("Z", "+00:00"))


def _t(v: Verdict, s: str | None) -> str:
    return local(_dt(s), v.case.timezone) if s else "—"


def _span(v: Verdict, start: str | None, end: str | None, open_end: str) -> str:
    a, b = _dt(start), _dt(end)
    if a is None:
        return "—"
    a_l = a.astimezone(v.case.timezone)
    if b is None:
        return f"{a_l:%Y-%m-%d %H:%M:%S} → {open_end}"
    b_l = b.astimezone(v.case.timezone)
    tail = f"{b_l:%H:%M:%S %Z}" if b_l.date() == a_l.date() else f"{b_l:%Y-%m-%d %H:%M:%S %Z}"
    return f"{a_l:%Y-%m-%d %H:%M:%S} → {tail}"


def _candidate(c: dict) -> str:
    if c["kind"] == "clock_skew":
        return f"clock of {c['host']} ({bounded(c['offset_s'], c['offset_low_s'], c['offset_high_s'], c.get('beyond_s'))})"
    return c.get("what") or f"{c['kind']} on {c['host']}"


def render_text(v: Verdict, console: Console) -> None:
    d = v.to_dict()
    ing = d["ingest"]
    head = Text(f"Read {plural(ing['files'], 'file')}, {plural(ing['records'], 'record')}: ")
    head.append(f"{ing['quarantined']:,} quarantined", style="yellow" if ing["quarantined"] else "green")
    head.append(", ")
    head.append(f"{plural(ing['files_failed'], 'file')} failed", style="yellow" if ing["files_failed"] else "green")
    if ing.get("duplicates"):
        head.append(f", {ing['duplicates']:,} collected twice and counted once")
    head.append(f". Times in {v.case.timezone_name}.")
    console.print(head)
    _not_read(ing, console)
    if not d["incidents"]:
        high = d["findings_summary"]["total"]["high"]
        if high:
            console.print(Text(f"No incident: no skew-sensitive failure was found in the evidence, but "
                               f"{plural(high, 'clock change')} by a person or an unknown process "
                               f"{'is a high finding' if high == 1 else 'are high findings'} (see Clock changes).",
                               style="bold yellow"))
        else:
            console.print(Text("No incident: no skew-sensitive failure was found in the evidence.", style="bold green"))
    for n, inc in enumerate(d["incidents"], 1):
        body: list = []
        sig = Text("Symptoms: ")
        sig.append(f"{inc['symptoms']:,} ", style="bold")
        sig.append(", ".join(f"{s} ({inc['signature_counts'][s]:,})" for s in inc["signatures"]))
        body.append(sig)
        for x in inc["first_symptoms"][:1]:
            body.append(Text(f"  first: {x}", style="dim"))
        if inc["root_causes"]:
            rc = inc["root_causes"][0]
            t = Text("Root cause: ", style="bold")
            if rc["kind"] == "clock_skew":
                t.append(f"the clock of {rc['host'] or rc['what']}", style="bold red")
                t.append(f" was {bounded(rc['offset_s'], rc['offset_low_s'], rc['offset_high_s'], rc.get('beyond_s'))} off, "
                         f"from {_t(v, rc['since']) if rc['since'] else 'a time no log shows (beyond the tolerance by the onset at the latest)'} until "
                         f"{_t(v, rc['until']) if rc['until'] else 'the end of the evidence'}")
            else:
                t.append(_candidate(rc), style="bold red")
            t.append(f"  [score {rc['score']:.2f}]", style="dim")
            body.append(t)
            for e in rc["evidence"][:MAX_EVIDENCE]:
                body.append(Text(f"  • {e}", style="dim"))
            for c in inc["root_causes"][1:4]:
                why = " (how the wrong clock arrived)" if c["kind"] == "reboot" and c["host"] == rc["host"] else ""
                body.append(Text(f"  #{c['rank']} {_candidate(c)}{why}  [score {c['score']:.2f}]", style="dim"))
        else:
            body.append(Text("Root cause: no clock is known to be beyond the failing protocols' tolerance; "
                             "see the clocks below and the first symptoms' hosts", style="bold yellow"))
        if inc["ruled_out"]:
            body.append(Text("Ruled out:", style="bold"))
            for r in inc["ruled_out"]:
                line = Text("  ✗ ")
                line.append(r["what"], style="bold")
                line.append(f" ({_t(v, r['at'])}): {r['reason']}")
                body.append(line)
        for r in inc["remediation"]:
            body.append(Text(f"Fix on {r['host']}:", style="bold green"))
            for i, s in enumerate(r["steps"], 1):
                body.append(Text(f"  {i}. {s}"))
            body.append(Text(f"  Verify: {r['verify']}", style="green"))
            for note in r["notes"]:
                body.append(Text(f"  Note: {note}", style="yellow"))
        title = Text(f"Incident {n}: " + _span(v, inc["onset"], inc["end"], "still failing at the end")
                     + ("" if inc["onset_bounds"]["latest"] else " (true time unknown)"))
        console.print(Panel(Group(*body), title=title, title_align="left", border_style="red"))
    _findings(v, d, console)
    _clocks(v, d, console)
    if d["contradictions"]:
        console.print(Text(f"note: {plural(len(d['contradictions']), 'contradiction')} in the clock evidence: the "
                           "weakest piece of each was set aside (see 'contradictions' in --json)", style="yellow"))
    for note in d["notes"]:
        console.print(Text(f"note: {note}", style="yellow"))


def _findings(v: Verdict, d: dict, console: Console) -> None:
    """Every clock change, graded: the counts per host and level, then the changes
    themselves, most severe first (informational ones only counted)."""
    if not d["findings"]:
        return
    total = d["findings_summary"]["total"]
    head = Text("Clock changes: ", style="bold")
    head.append(", ".join(f"{total[k]:,} {k}" for k in FINDING_LEVELS if total[k]),
                style="bold red" if total["high"] else "yellow" if total["medium"] else "")
    hosts = d["findings_summary"]["hosts"]
    head.append(f" on {plural(len(hosts), 'host')}" if len(hosts) > 1 else f" on {hosts[0]['host']}")
    console.print(head)
    if len(hosts) > 1:
        for h in hosts[:MAX_FINDING_HOSTS]:
            console.print(Text(f"  {h['host']}: " + ", ".join(f"{h[k]:,} {k}" for k in FINDING_LEVELS if h[k])))
        if len(hosts) > MAX_FINDING_HOSTS:
            console.print(Text(f"  … {plural(len(hosts) - MAX_FINDING_HOSTS, 'more host')}", style="dim"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("level", "host", "clock set (as logged)", "size", "by"):
        table.add_column(name, overflow="fold")
    shown = 0
    for level, limit in (("high", MAX_HIGH_FINDINGS), ("medium", MAX_OTHER_FINDINGS), ("low", MAX_OTHER_FINDINGS)):
        rows = [f for f in d["findings"] if f["level"] == level]
        for f in rows[:limit]:
            when = _span(v, f["before"], f["after"], "") if f["before"] else _t(v, f["logged"])
            size = "not recorded" if f["delta_s"] is None else offset(f["delta_s"])
            process = re.split(r"[\\/]", f["process"])[-1] if f["process"] else None
            who = ", ".join(x for x in (process, f["user"] and f"as {f['user']}" or f["sid"]) if x)
            by = f["set_by"].replace("_", " ") + (f" ({who})" if who else "") + \
                (f" [{', '.join(f['mitre'])}]" if f["mitre"] else "")
            table.add_row(Text(level, style=_LEVEL_STYLE[level]), Text(f["host"]), Text(when), Text(size), Text(by))
            shown += 1
        if len(rows) > limit:
            table.add_row(Text(level, style=_LEVEL_STYLE[level]), Text(""),
                          Text(f"… {len(rows) - limit:,} more", style="dim"), Text(""), Text(""))
    if shown:
        console.print(table)
    rest = len(d["findings"]) - shown
    if rest:
        console.print(Text(f"  ({plural(rest, 'other change')} not listed here; --json or --md lists every one)",
                           style="dim"))


# Hosts without clock evidence named on their one line; --json lists them all.
MAX_BLIND_NAMED = 8


def _not_read(ing: dict, console: Console) -> None:
    """Under the counts: a line per reason records were quarantined for (the most
    frequent first, with the first such record), and every failed file with its reason
    (the first few of each; --json has them all)."""
    reasons = ing.get("quarantine", [])
    for q in reasons[:TERMINAL_REASONS]:
        line = Text(f"  {q['count']:,} quarantined: ", style="yellow")
        line.append(printable(q["reason"]))
        line.append(f"  (e.g. {where(q['example'])})", style="dim")
        console.print(line)
    if len(reasons) > TERMINAL_REASONS:
        rest = reasons[TERMINAL_REASONS:]
        records = plural(sum(q["count"] for q in rest), "record")
        console.print(Text(f"  … {plural(len(rest), 'more reason')} ({records}), see --json", style="dim"))
    failures = ing["failures"]
    for f in failures[:TERMINAL_FAILURES]:
        line = Text(f"  failed: {printable(f['path'])}: ", style="yellow")
        line.append(printable(f["reason"]))
        console.print(line)
    if len(failures) > TERMINAL_FAILURES:
        console.print(Text(f"  … {plural(len(failures) - TERMINAL_FAILURES, 'more failed file')}, see --json",
                           style="dim"))


def _clocks(v: Verdict, d: dict, console: Console) -> None:
    # A host whose logs bound its clock nowhere (no pairs, reference, step...) would be
    # one row of "unknown" per boot: a collection of workstations buries the clocks that
    # matter under them. They are named on one line; the JSON and Markdown keep them.
    blind = [h["host"] for h in d["hosts"] if _no_clock_evidence(h)]
    hosts = [h for h in d["hosts"] if not _no_clock_evidence(h)]
    if hosts:
        table = Table(title="Clocks (offset = logged − true)", title_justify="left", expand=False)
        width = min(max(len(h["host"]) for h in hosts), 30)
        # On a terminal a long name is cut (…) to leave the offsets room; elsewhere
        # (a pipe, a file) it is whole.
        widest = max(30, console.width // 3) if console.is_terminal else None
        table.add_column("host", no_wrap=True, min_width=width, max_width=widest, overflow="ellipsis")
        table.add_column("logged", overflow="fold")
        table.add_column("offset", overflow="fold")
        table.add_column("basis", overflow="fold")
        for h in hosts:
            # A long log has hundreds of synced segments: show the ones that are off or
            # unknown; the JSON and Markdown keep them all.
            shown = [s for s in h["segments"] if s["offset_s"] is None or abs(s["offset_s"]) > 2.0
                     or s["offset_low_s"] is None or s["offset_high_s"] is None] or h["segments"][:1]
            hidden = len(h["segments"]) - len(shown[:MAX_ROWS_PER_HOST])
            for s in shown[:MAX_ROWS_PER_HOST]:
                table.add_row(Text(h["host"]), Text(_span(v, s["from"], s["to"], "…")),
                              Text(bounded(s["offset_s"], s["offset_low_s"], s["offset_high_s"])),
                              Text(", ".join(s["basis"])))
            if hidden > 0:
                table.add_row(Text(h["host"]), Text(f"… {plural(hidden, 'more segment')} (--md or --json lists them)",
                                                    style="dim"), Text(""), Text(""))
        console.print(table)
    if blind:
        named = ", ".join(blind[:MAX_BLIND_NAMED])
        more = f", … {len(blind) - MAX_BLIND_NAMED:,} more (--json lists them)" if len(blind) > MAX_BLIND_NAMED else ""
        console.print(Text(f"{plural(len(blind), 'host')} without clock evidence: {named}{more}", style="dim"))


def _no_clock_evidence(h: dict) -> bool:
    """Nothing in the evidence bounds this host's clock: every segment's basis is "no
    clock evidence" and its log shows no step."""
    return not h["steps"] and all(s["basis"] == [NO_CLOCK_EVIDENCE] for s in h["segments"])
