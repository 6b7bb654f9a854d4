"""Probe measurements for a terminal (rich): one row per target, worst first."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..probe import Measurement
from .common import offset


def seconds(value: float | None) -> str:
    """A probe offset to the millisecond, with minutes, hours or days when large."""
    if value is None:
        return "—"
    text = f"{value:+,.3f} s"
    if abs(value) < 60:
        return text
    return f"{text} {offset(value).split(' s ', 1)[1]}"     # "(-5.00 h)"


def _width(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _status(m: Measurement, max_offset_s: float) -> Text:
    if not m.ok:
        return Text(f"unmeasured: {m.error}", style="bold red")
    if m.beyond(max_offset_s):
        limit = max_offset_s if m.tolerance_s is None else min(max_offset_s, m.tolerance_s)
        return Text(f"BEYOND {limit:g} s", style="bold red")
    return Text("within", style="green")


def render_probe(measurements: Sequence[Measurement], console: Console, max_offset_s: float) -> None:
    """The table, unmeasured and beyond-limit targets first, then by |offset|."""
    def rank(m: Measurement) -> tuple[int, float]:
        return (0 if not m.ok else 1 if m.beyond(max_offset_s) else 2, -abs(m.offset_s or 0.0))

    table = Table(title=f"clock offsets (logged − true; limit {max_offset_s:g} s)", title_justify="left")
    for col, just in (("target", "left"), ("host", "left"), ("offset", "right"), ("±", "right"),
                      ("rtt", "right"), ("status", "left")):
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for m in sorted(measurements, key=rank):
        host = m.host + (f" [{', '.join(m.roles)}]" if m.roles else "")
        table.add_row(Text(m.target), Text(host), seconds(m.offset_s), _width(m.uncertainty_s), _width(m.rtt_s),
                      _status(m, max_offset_s))
    console.print(table)
    bad = sum(not m.ok for m in measurements)
    beyond = sum(m.beyond(max_offset_s) for m in measurements)
    console.print(f"{len(measurements)} targets: {len(measurements) - bad - beyond} within, {beyond} beyond, "
                  f"{bad} unmeasured", highlight=False)
