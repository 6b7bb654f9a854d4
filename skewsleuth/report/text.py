"""The verdict for a terminal (rich). Evidence strings go in as Text, never as markup."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..investigation import Verdict
from .common import local, offset

MAX_ROWS_PER_HOST = 8


def _t(v: Verdict, s: str | None) -> str:
    if not s:
        return "—"
    return local(datetime.fromisoformat(s.replace("Z", "+00:00")), v.case.timezone)


def render_text(v: Verdict, console: Console) -> None:
    d = v.to_dict()
    ing = d["ingest"]
    head = Text(f"Read {ing['files']} files, {ing['records']:,} records: ")
    head.append(f"{ing['quarantined']} quarantined", style="yellow" if ing["quarantined"] else "green")
    head.append(", ")
    head.append(f"{ing['files_failed']} files failed", style="yellow" if ing["files_failed"] else "green")
    head.append(f". Times in {v.case.timezone_name}.")
    console.print(head)
    for f in ing["failures"][:10]:
        console.print(Text(f"  failed: {f['path']}: {f['reason']}", style="yellow"))
    if not d["incidents"]:
        console.print(Text("No incident: no skew-sensitive failure was found in the evidence.", style="bold green"))
    for n, inc in enumerate(d["incidents"], 1):
        body: list = []
        sig = Text("Symptoms: ")
        sig.append(f"{inc['symptoms']} ", style="bold")
        sig.append(", ".join(f"{s} ({inc['signature_counts'][s]})" for s in inc["signatures"]))
        body.append(sig)
        for x in inc["first_symptoms"][:2]:
            body.append(Text(f"  first: {x}", style="dim"))
        if inc["root_causes"]:
            rc = inc["root_causes"][0]
            t = Text("Root cause: ", style="bold")
            if rc["kind"] == "clock_skew":
                t.append(f"the clock of {rc['host']}", style="bold red")
                t.append(f" was {offset(rc['offset_s'])} off (interval {offset(rc['offset_low_s'])} .. "
                         f"{offset(rc['offset_high_s'])}), from {_t(v, rc['since'])} until "
                         f"{_t(v, rc['until']) if rc['until'] else 'the end of the evidence'}")
            else:
                t.append(f"{rc['kind']} {rc.get('what') or ''} {rc['host'] or ''}", style="bold red")
            t.append(f"  [score {rc['score']:.2f}]", style="dim")
            body.append(t)
            for e in rc["evidence"][:6]:
                body.append(Text(f"  • {e}", style="dim"))
            for c in inc["root_causes"][1:4]:
                body.append(Text(f"  #{c['rank']} {c['kind']} {c['host'] or ''} {c.get('what') or ''} "
                                 f"[score {c['score']:.2f}]", style="dim"))
        else:
            body.append(Text("Root cause: no candidate exceeds the failing protocols' tolerance "
                             "(see the clocks below)", style="bold yellow"))
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
        title = Text(f"Incident {n}: {_t(v, inc['onset'])} → "
                     f"{_t(v, inc['end']) if inc['end'] else 'still failing at the end of the evidence'}")
        console.print(Panel(Group(*body), title=title, title_align="left", border_style="red"))
    table = Table(title="Clocks (offset = logged − true)", title_justify="left")
    for col in ("host", "segment (logged)", "offset", "interval", "basis"):
        table.add_column(col, overflow="fold")
    for h in d["hosts"]:
        # A long log has hundreds of synced segments: show the ones that are off or
        # unknown; the JSON and Markdown keep them all.
        shown = [s for s in h["segments"] if s["offset_s"] is None or abs(s["offset_s"]) > 2.0] or h["segments"][:1]
        hidden = len(h["segments"]) - len(shown[:MAX_ROWS_PER_HOST])
        for s in shown[:MAX_ROWS_PER_HOST]:
            table.add_row(Text(h["host"]), Text(f"{_t(v, s['from'])} → {_t(v, s['to'])}"), Text(offset(s["offset_s"])),
                          Text(f"{offset(s['offset_low_s'])} .. {offset(s['offset_high_s'])}"),
                          Text(", ".join(s["basis"])))
        if hidden > 0:
            table.add_row(Text(h["host"]), Text(f"… {hidden} more segments within ±2 s (see --json / --md)",
                                                style="dim"), Text(""), Text(""), Text(""))
    console.print(table)
    for note in d["notes"]:
        console.print(Text(f"note: {note}", style="yellow"))
