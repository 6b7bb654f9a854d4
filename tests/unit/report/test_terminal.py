"""The verdict on the terminal: hosts nothing bounds the clock of are one line, not a
row each, and the console prints every table whole when it is not a terminal (the
part that runs the command line is in tests/integration/test_cli_reliability.py)."""

from __future__ import annotations

import io
import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from skewsleuth import investigate
from skewsleuth.report.console import PIPE_WIDTH, terminal
from skewsleuth.report.text import MAX_BLIND_NAMED, render_text
from synth.syslog import rfc5424_line

UTC = timezone.utc
BLIND = [f"ws{k:02d}.corp.example" for k in range(1, 13)]


@pytest.fixture(scope="module")
def verdict(seed_evidence, tmp_path_factory):
    """The seed, and twelve workstations whose logs bound their clocks nowhere (no
    pair, no reference, no step): what a collection from a whole office holds."""
    ev = shutil.copytree(seed_evidence, tmp_path_factory.mktemp("blind") / "ev")
    for k, host in enumerate(BLIND):
        (ev / host).mkdir()
        start = datetime(2014, 10, 20, 20, k, tzinfo=UTC)
        (ev / host / "syslog").write_text("".join(
            rfc5424_line(start + timedelta(seconds=7 * i), host, "app", 100 + i, f"nothing about time {i}") + "\n"
            for i in range(5)))
    return investigate([ev])


def _text(verdict, width: int = 300, terminal: bool = False) -> str:
    out = io.StringIO()
    render_text(verdict, Console(file=out, width=width, highlight=False, soft_wrap=False, force_terminal=terminal,
                                 color_system=None))
    return out.getvalue()


def test_hosts_without_clock_evidence_are_one_line_not_a_row_each(verdict):
    d = verdict.to_dict()
    blind = sorted(h["host"] for h in d["hosts"] if all(s["basis"] == ["no clock evidence"] for s in h["segments"])
                   and not h["steps"])
    assert blind == BLIND          # the JSON keeps every one of them, with its segments
    text = _text(verdict)
    table_rows = [line for line in text.splitlines() if line.startswith("│")]
    assert not any(h in row for row in table_rows for h in BLIND), text
    assert any("srv-lyncedge01.domain.com" in row for row in table_rows)      # the clocks that matter stay
    (line,) = [line for line in text.splitlines() if "without clock evidence" in line]
    named = ", ".join(BLIND[:MAX_BLIND_NAMED])
    assert line == f"12 hosts without clock evidence: {named}, … 4 more (--json lists them)"
    assert "unknown" not in text


def test_a_few_hosts_without_clock_evidence_are_all_named_and_alone_make_no_empty_table(tmp_path):
    ev = tmp_path / "ev"
    for host in BLIND[:2]:
        (ev / host).mkdir(parents=True)
        (ev / host / "syslog").write_text(rfc5424_line(datetime(2014, 10, 20, 20, 0, tzinfo=UTC), host, "app", 1, "x")
                                          + "\n")
    text = _text(investigate([ev]))
    assert "Clocks (offset" not in text and "┏" not in text
    assert f"2 hosts without clock evidence: {BLIND[0]}, {BLIND[1]}\n" in text
    (one,) = [line for line in _text(investigate([ev / BLIND[0]])).splitlines() if "clock evidence" in line]
    assert one == f"1 host without clock evidence: {BLIND[0]}"


def _wide_table() -> Table:
    table = Table(title="3 rules", title_justify="left", box=None)
    for col in ("signature", "protocol"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    table.add_column("title", ratio=1, overflow="fold", min_width=20)
    table.add_row(Text("KRB_AP_ERR_SKEW_VERY_LONG_SIGNATURE_NAME"), Text("kerberos"), Text("t " * 90 + "END"))
    return table


def test_off_a_terminal_tables_and_panels_are_printed_whole_as_wide_as_their_content(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")            # what a pipe gives rich when nothing else does
    console = terminal()
    assert not console.is_terminal and console.width == PIPE_WIDTH
    console.print(_wide_table())
    console.print(Panel(Text("short body"), title="Incident 1"))
    console.print("x" * 300)
    out = capsys.readouterr().out
    lines = out.splitlines()
    (row,) = [line for line in lines if "KRB_AP_ERR_SKEW_VERY_LONG_SIGNATURE_NAME" in line]
    assert row.rstrip().endswith("END") and "…" not in out
    # A panel takes its content's width, not the console's (which is only a ceiling).
    panel = [line for line in lines if line.startswith(("╭", "│ short", "╰"))]
    assert len(panel) == 3 and max(map(len, panel)) < 40
    assert "x" * 300 in lines


def test_off_a_terminal_the_clocks_table_keeps_long_host_names_a_terminal_cuts(tmp_path, capsys):
    long_host = "a-very-long-host-name-that-a-terminal-would-cut.subdomain.corp.example.com"
    ev = tmp_path / "ev" / long_host
    ev.mkdir(parents=True)
    t = datetime(2014, 10, 20, 20, 0, tzinfo=UTC)
    (ev / "syslog").write_text(rfc5424_line(t, long_host, "chronyd", 7, "System clock wrong by -42.000000 seconds")
                               + "\n" + rfc5424_line(t + timedelta(minutes=1), long_host, "app", 8, "later") + "\n")
    v = investigate([tmp_path / "ev"])
    render_text(v, terminal())
    (row,) = [line for line in capsys.readouterr().out.splitlines() if long_host in line]
    assert "+42.00 s" in row and "hint" in row and "…" not in row
    # On a terminal 80 columns wide the name is cut, and the offset keeps its room.
    (row,) = [line for line in _text(v, width=80, terminal=True).splitlines() if "a-very-long" in line]
    assert long_host not in row and "…" in row and "+42.00 s" in row and len(row) <= 80
