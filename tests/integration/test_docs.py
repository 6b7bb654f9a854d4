"""The examples in docs/usage.md run, in order, and do what the page says: the part that
runs the command line, a real daemon or another process (the rest is in
tests/unit/docs/test_docs_unit.py).
"""

from __future__ import annotations

import json
import re
import shlex

from conftest import ROOT, run_cli


USAGE = ROOT / "docs" / "usage.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", USAGE.read_text(), re.S)


def _commands() -> list[tuple[list[str], int]]:
    out = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            if not line.startswith("skewsleuth "):
                continue
            command, _, comment = line.partition("#")
            m = re.search(r"exit (\d)", comment)
            out.append((shlex.split(command)[1:], int(m.group(1)) if m else 0))
    return out


def test_usage_examples_run_as_documented(tmp_path):
    commands = _commands()
    assert len(commands) >= 6
    for args, expected in commands:
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == expected, (args, r.stderr[-500:])
        assert "Traceback" not in r.stderr
        if "--json" in args and args[args.index("--json") + 1] == "-":
            json.loads(r.stdout)
    assert (tmp_path / "ticket.md").read_text().startswith("# skewsleuth verdict")
    assert json.loads((tmp_path / "verdict.json").read_text())["incidents"]
    assert (tmp_path / "case.duckdb").exists()
    assert "Content-Security-Policy" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "seed-report.html").exists()
    assert (tmp_path / "clocks.png").read_bytes()[:4] == (tmp_path / "seed-clocks.png").read_bytes()[:4] == b"\x89PNG"


def test_python_example_runs(tmp_path):
    run_cli("demo", "--out", "seed", "-q", cwd=tmp_path)
    (code,) = _blocks("python")
    import os
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope: dict = {}
        exec(compile(code, str(USAGE), "exec"), scope)   # our own documentation, not evidence
    finally:
        os.chdir(cwd)
    assert scope["cause"]["host"] == "srv-lyncedge01.domain.com"


def test_json_example_keys_are_the_ones_written(tmp_path):
    example = re.findall(r"```json\n(.*?)```", USAGE.read_text(), re.S)[0]   # the verdict's; probe's follows
    documented = json.loads(example)
    r = run_cli("demo", "--out", "seed", "--json", "v.json", "-q", cwd=tmp_path)
    assert r.returncode == 0
    real = json.loads((tmp_path / "v.json").read_text())

    def same_keys(doc, actual, path="$"):
        if isinstance(doc, dict):
            assert isinstance(actual, dict), path
            missing = set(doc) - set(actual)
            assert not missing, (path, missing)
            for k in doc:
                same_keys(doc[k], actual[k], f"{path}.{k}")
        elif isinstance(doc, list) and doc and isinstance(doc[0], dict):
            assert isinstance(actual, list) and actual, path
            same_keys(doc[0], actual[0], f"{path}[0]")
    same_keys(documented, real)
