"""A runbook and the outcome of running it, for a terminal (rich).

Everything that came from the host (command output) is escaped before it is shown:
a hostile host cannot move the cursor, recolour the screen or forge lines.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ..fix import FixOutcome
from ..fix.audit import escaped
from ..remediation import Runbook
from .probe import seconds


def _basis(rb: Runbook) -> str:
    b = rb.basis
    if b is None or b.offset_s is None:
        why = f" ({b.error})" if b and b.error else ""
        return f"offset unknown{why}"
    unc = f" ± {b.uncertainty_s:.3f} s" if b.uncertainty_s is not None else ""
    where = f" via {b.target}" if b.target else ""
    when = f" at {b.measured_at}" if b.measured_at else ""
    return f"offset {seconds(b.offset_s)}{unc}{when}{where} ({b.source})"


def render_runbook(rb: Runbook, console: Console) -> None:
    roles = f" [{', '.join(rb.roles)}]" if rb.roles else ""
    head = Text(f"Runbook for {rb.host}{roles}", style="bold")
    head.append(f" — {rb.platform} ({rb.platform_from}), over {rb.transport}", style="")
    console.print(head)
    console.print(Text(f"{_basis(rb)}; limit {rb.limit_s:g} s; action: {rb.action}"))
    for i, s in enumerate(rb.steps, 1):
        line = Text(f"  {i}. ")
        line.append(s.command, style="bold" if s.changes_state else "")
        line.append("   [changes state]" if s.changes_state else "   [read-only]", style="yellow" if s.changes_state
                    else "dim")
        console.print(line)
        console.print(Text(f"       {s.why}", style="dim"))
    verify = Text("  Verify: ", style="green")
    verify.append(rb.verify.command, style="bold")
    console.print(verify)
    console.print(Text(f"       expect {rb.verify.why}; then skewsleuth measures the host again", style="dim"))
    for note in rb.notes:
        console.print(Text(f"  Note: {note}", style="yellow"))


def render_outcome(outcome: FixOutcome, console: Console) -> None:
    for r in outcome.results:
        if not r.ran:
            console.print(Text(f"  – {r.step.command}: skipped", style="dim"))
            continue
        mark, style = ("✓", "green") if r.ok else ("✗", "red")
        status = f"exit {r.exit_status}" if r.exit_status is not None else (r.error or "no exit status")
        line = Text(f"  {mark} ", style=style)
        line.append(r.step.command)
        line.append(f": {status} ({r.duration_s:.2f} s)", style=style)
        console.print(line)
        if not r.ok:
            detail = r.stderr or r.stdout or r.error or ""
            if detail:
                console.print(Text(f"      {escaped(detail, 300)}", style="dim"))
    for m in outcome.verification:
        if m.ok:
            console.print(Text(f"  after: {m.target} offset {seconds(m.offset_s)} ± {m.uncertainty_s or 0:.3f} s"))
        else:
            console.print(Text(f"  after: {m.target} unmeasured: {m.error}", style="red"))
    if outcome.failed is not None:
        console.print(Text(f"stopped: '{outcome.failed.step.command}' failed; later commands did not run",
                           style="bold red"))
    if outcome.verified:
        console.print(Text(f"verified: {outcome.runbook.host} is within {outcome.runbook.limit_s:g} s",
                           style="bold green"))
    else:
        console.print(Text(f"not verified: {outcome.runbook.host} is still beyond {outcome.runbook.limit_s:g} s "
                           "or could not be measured", style="bold red"))
