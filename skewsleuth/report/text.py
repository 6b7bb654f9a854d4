"""The verdict for a terminal (rich). Evidence strings go in as Text, never as markup."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..verdict import Verdict
from .common import TERMINAL_FAILURES, TERMINAL_REASONS, bounded, local, offset, plural, printable, where

MAX_ROWS_PER_HOST = 8
MAX_EVIDENCE = 6


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
    _clocks(v, d, console)
    if d["contradictions"]:
        console.print(Text(f"note: {plural(len(d['contradictions']), 'contradiction')} in the clock evidence: the "
                           "weakest piece of each was set aside (see 'contradictions' in --json)", style="yellow"))
    for note in d["notes"]:
        console.print(Text(f"note: {note}", style="yellow"))


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
    table = Table(title="Clocks (offset = logged − true)", title_justify="left", expand=False)
    width = min(max((len(h["host"]) for h in d["hosts"]), default=10), 30)
    table.add_column("host", no_wrap=True, min_width=width, overflow="ellipsis")
    table.add_column("logged", overflow="fold")
    table.add_column("offset", overflow="fold")
    table.add_column("basis", overflow="fold")
    for h in d["hosts"]:
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
