"""The layout's rules that code review alone would let slip.

Data flows one way, and imports follow it: a stage imports only the stages before it
(``STAGES``), so the offline verdict never loads the online tools.

Knowledge of an input format stays in ``skewsleuth/sources/``: a later stage learns what
it needs of a format from the format's ``Source`` (``sources/contract.py``), so no module
outside ``sources/`` writes a format's name as a literal, in Python or in the SQL it runs.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


# Each top-level module or package of skewsleuth and its place in the flow. A module
# may import its own stage and the stages before it, never one after it. The online
# tools (probe, watch, fix) come after the whole offline verdict: they may use it, it
# never loads them. report renders both; the CLI and the package's API come last.
STAGES = {
    "errors": 0, "without_pandas": 0, "schema": 0, "timefmt": 0, "hosts": 0, "case": 0, "store": 0,
    "sources": 1, "reading": 2, "normalise": 3, "clock": 4, "rules": 5, "incident": 6, "remediation": 6,
    "rca": 7, "findings": 7, "verdict": 8, "investigation": 9,
    "probe": 10, "watch": 11, "fix": 11,
    "report": 12, "demo": 12,
    "cli": 13, "commands": 13, "__init__": 13, "__main__": 14,
}
OFFLINE = ("clock", "rules", "incident", "rca", "findings", "remediation", "normalise", "reading", "sources", "verdict",
           "investigation")
ONLINE = ("probe", "watch", "fix")


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported skewsleuth module, line) for every import in the
    package, those inside functions included: a deferred import is still a dependency."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    targets = [".".join(base + ([node.module] if node.module else []))]
                else:
                    targets = [node.module or ""]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found += [(module, t, node.lineno) for t in targets if t == "skewsleuth" or t.startswith("skewsleuth.")]
    return found


def test_every_module_has_a_place_in_the_flow():
    stages = {_stage(m) for m, _, _ in _imports()} | {p.stem if p.is_file() else p.name
                                                      for p in PACKAGE.iterdir()
                                                      if (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert stages <= set(STAGES), f"give these a stage in STAGES: {sorted(stages - set(STAGES))}"


def test_no_module_imports_against_the_flow():
    against = [f"{m}:{line} imports {t}" for m, t, line in _imports()
               if STAGES[_stage(t)] > STAGES[_stage(m)]]
    assert not against, "imports against the flow:\n" + "\n".join(against)


def test_the_scan_sees_deferred_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "skewsleuth"
    (pkg / "clock").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "clock" / "__init__.py").write_text("")
    (pkg / "clock" / "model.py").write_text("from ..store import Store\ndef f():\n    from ..fix import apply\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert ("skewsleuth.clock.model", "skewsleuth.fix", 3) in _imports()
    assert ("skewsleuth.clock.model", "skewsleuth.store", 1) in _imports()


def test_the_offline_verdict_loads_no_online_tool():
    """Importing every offline stage, the pipeline included, loads none of probe, watch
    or fix (nor their NTP, HTTP, SMTP, SSH clients)."""
    offline = "; ".join(f"import skewsleuth.{m}" for m in OFFLINE)
    code = (f"import sys; {offline}; "
            f"print(sorted(m for m in sys.modules if m.split('.')[1:2] and m.split('.')[1] in {ONLINE!r}"
            f" and m.startswith('skewsleuth.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
