"""What `pip install .` ships: a wheel without the rule pack installs but cannot run, and
test-data generators have no place in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

# What `skewsleuth demo` writes its evidence with; every other generator is in tests/synth.
DEMO_MODULES = {"__init__.py", "eventxml.py", "lync.py", "scenario.py", "sipstack.py", "winevents.py"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of the sources: setuptools would add what a stale build/ or
    # egg-info in the checkout still lists, whatever the tree holds now.
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "skewsleuth", src / "skewsleuth", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (built,) = out.glob("skewsleuth-*.whl")
    return built


def test_wheel_carries_the_rule_pack_and_the_entry_point(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    builtin = sorted(n for n in names if n.startswith("skewsleuth/rules/builtin/") and n.endswith(".yml"))
    shipped = sorted(p.name for p in (ROOT / "skewsleuth" / "rules" / "builtin").glob("*.yml"))
    assert [n.rsplit("/", 1)[1] for n in builtin] == shipped and shipped
    assert "skewsleuth/rules/sigma-pipeline.yml" in names      # `rules pipeline` prints its path
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "skewsleuth = skewsleuth.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    # The HTML report's template, script, style and the vendored CSP-safe Vega interpreter.
    assets = {n.rsplit("/", 1)[1] for n in names if n.startswith("skewsleuth/report/assets/")}
    assert {"report.html.j2", "report.js", "report.css", "vega-interpreter.js"} <= assets


def test_wheel_holds_no_test_data_generator_but_the_demo(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("skewsleuth/synth/", "synth/", "tests/"))]
    demo = {n.rsplit("/", 1)[1] for n in names if n.startswith("skewsleuth/demo/")}
    assert demo == DEMO_MODULES
