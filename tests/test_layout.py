"""The layout's rules that code review alone would let slip.

Knowledge of an input format stays in ``skewsleuth/sources/``: a later stage learns what
it needs of a format from the format's ``Source`` (``sources/contract.py``), so no module
outside ``sources/`` writes a format's name as a literal, in Python or in the SQL it runs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import skewsleuth
from skewsleuth.sources import MODULES, SOURCES
from skewsleuth.sources.applog import OTLP_CHANNEL

PACKAGE = Path(skewsleuth.__file__).parent
# sources/ is where formats are known; demo/ writes the seed evidence in its formats.
EXEMPT = ("sources", "demo")
FORMATS = sorted({m.FORMAT for m in MODULES} | {OTLP_CHANNEL})
# A name quoted inside a string: SQL ('evtx'), JSON or Python in text ("evtx").
QUOTED = re.compile(r"""(['"])(%s)\1""" % "|".join(map(re.escape, FORMATS)))
# (enclosing function, literal): strings that spell a format's name and mean something else.
ALLOWED = {("_sources_digest", "evtx"): "the evtx package, whose version keys the parse cache"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _format_literals(source: str) -> list[tuple[int, str, str]]:
    """(line, enclosing function, format name) of every string constant, docstrings
    aside, that is a format's name or quotes one."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            names = {node.value} & set(FORMATS) or {m.group(2) for m in QUOTED.finditer(node.value)}
            found.extend((node.lineno, function, name) for name in sorted(names))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return found


def test_no_format_name_outside_sources():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in EXEMPT:
            continue
        for line, function, name in _format_literals(path.read_text(encoding="utf-8")):
            if (function, name) not in ALLOWED:
                offences.append(f"{rel}:{line}: {name!r}")
    assert not offences, "format names outside skewsleuth/sources/ (declare it in the Source):\n" + "\n".join(offences)


def test_the_scan_finds_literals_in_code_and_sql_but_not_prose():
    code = '''
"""Reads 'evtx' and "syslog" files (prose)."""
import x
def f(fmt):
    """Docstrings may say 'sipstack'."""
    # comments may say 'journald'
    if fmt in ("eventxml", "other"):
        return x.sql("SELECT 1 FROM events WHERE format = 'applog'")
    return f"WHERE format IN ('krb5trace', {fmt})"
'''
    assert [(n, name) for n, _, name in _format_literals(code)] == [(7, "eventxml"), (8, "applog"), (9, "krb5trace")]


def test_every_module_declares_its_source():
    assert [s.format for s in SOURCES] == [m.FORMAT for m in MODULES]
    assert all(s is m.SOURCE for s, m in zip(SOURCES, MODULES))
