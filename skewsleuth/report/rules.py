"""The rule pack on the terminal: ``skewsleuth rules list`` and ``rules test``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..rules import Rule
from ..rules.testing import RuleResult


def rule_row(r: Rule) -> dict:
    """A rule as ``rules list --json`` writes it."""
    return {"id": r.id, "title": r.title, "signature": r.signature, "protocol": r.protocol,
            "tolerance_s": r.tolerance_s, "role": r.role, "skew_signature": r.skew_signature,
            "clocks": {"logged_by": r.clocks.logged_by, "other": list(r.clocks.other), "writer": r.clocks.writer,
                       "judge": r.clocks.judge, "trusted": r.clocks.trusted,
                       "accepted": r.clocks.accepted}, "level": r.level, "logsource": r.raw.get("logsource"),
            "builtin": r.builtin, "path": r.path}


def render_rules(rules: list[Rule], console: Console) -> None:
    # Signatures, protocols and tolerances are what users grep for: whole on one line;
    # the title takes the room left and wraps.
    table = Table(title=f"{len(rules)} rules", title_justify="left", box=None, pad_edge=False)
    for col in ("signature", "protocol", "tolerance", "role", "logged by"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    table.add_column("title", ratio=1, overflow="fold", min_width=20)
    for r in rules:
        tol = "" if r.tolerance_s is None else _seconds(r.tolerance_s)
        table.add_row(Text(r.signature), Text(r.protocol), Text(tol), Text(r.role), Text(r.clocks.logged_by),
                      Text(r.title + ("" if r.builtin else f"  ({r.path})")))
    console.print(table)


def _seconds(s: float) -> str:
    """A tolerance as people write it: 0.05 s, 300 s, 1 d (MongoDB's is a year)."""
    for size, unit in ((86400.0, "d"), (3600.0, "h")):
        if s >= size and (s / size).is_integer():
            return f"{s / size:g} {unit}"
    return f"{s:g} s" if s < 1e6 else f"{s / 86400:.0f} d"


def render_results(results: list[RuleResult], console: Console) -> None:
    for res in results:
        n = len(res.examples)
        if res.passed:
            console.print(Text(f"ok    {res.rule.signature}  {res.rule.title}  ({n} examples)"))
        else:
            console.print(Text(f"FAIL  {res.rule.signature}  {res.rule.title}  ({res.rule.path})", style="bold red"))
            for p in res.problems:
                console.print(Text(f"      {p}"))
    failed = sum(not r.passed for r in results)
    console.print(Text(f"{len(results) - failed} of {len(results)} rules pass their examples"
                       + (f"; {failed} fail" if failed else ""), style="bold" if not failed else "bold red"))
