"""An option several commands take means the same in each (the sqlite-utils model:
shared options are defined once, in ``skewsleuth.commands``)."""

from __future__ import annotations

import inspect
from collections import defaultdict

import typer.main

from skewsleuth import commands

# Flags whose meaning is the command's own: what --json writes, what --quiet leaves
# out, what --db keeps, whose limit --max-offset is. Each is defined per command.
OWN_MEANING = {"--json", "--md", "--html", "--png", "--quiet", "--out", "--db", "--inventory", "--timeout",
               "--max-offset", "--samples", "--interval"}


def _params_by_flag() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    by_flag: dict[tuple[str, ...], list[tuple[str, object]]] = defaultdict(list)

    def walk(cmd, name: str) -> None:
        for p in cmd.params:
            key = tuple(p.opts) if p.param_type_name == "option" else (f"<{p.name}>",)
            by_flag[key].append((name, p))
        for sub, c in getattr(cmd, "commands", {}).items():
            walk(c, f"{name} {sub}".strip())

    walk(typer.main.get_command(commands.app), "")
    return by_flag


def _meaning(p) -> tuple:
    return (p.param_type_name, tuple(p.opts), getattr(p, "help", None), p.metavar, p.required, repr(p.default),
            getattr(p, "multiple", None), getattr(p, "is_flag", None))


def test_a_flag_several_commands_take_reads_the_same_in_each():
    shared = {flag: uses for flag, uses in _params_by_flag().items() if len(uses) > 1}
    # (the evidence, the rule folders, the probe targets, the reading options...)
    assert {("--case",), ("--year",), ("--scheduler",), ("--insecure",), ("<paths>",), ("<targets>",)} <= set(shared)
    for flag, uses in shared.items():
        if set(flag) & OWN_MEANING:
            continue
        meanings = {_meaning(p) for _, p in uses}
        assert len(meanings) == 1, (flag, [(name, _meaning(p)) for name, p in uses])


def test_the_shared_flags_are_written_once_in_the_source():
    source = inspect.getsource(commands)
    for flag in ("--case", "--host", "--timezone", "--workers", "--scheduler", "--year", "--concurrency",
                 "--insecure", "--no-builtin"):
        assert source.count(f'"{flag}"') == 1, flag
    assert source.count('metavar="PATH..."') == 1 and source.count('metavar="TARGET..."') == 1
