"""What `pip install .` ships: a wheel without the rule pack installs but cannot run."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_carries_the_rule_pack_and_the_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("skewsleuth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    builtin = sorted(n for n in names if n.startswith("skewsleuth/rules/builtin/") and n.endswith(".yml"))
    shipped = sorted(p.name for p in (ROOT / "skewsleuth" / "rules" / "builtin").glob("*.yml"))
    assert [n.rsplit("/", 1)[1] for n in builtin] == shipped and shipped
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "skewsleuth = skewsleuth.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    # The HTML report's template, script, style and the vendored CSP-safe Vega interpreter.
    assets = {n.rsplit("/", 1)[1] for n in names if n.startswith("skewsleuth/report/assets/")}
    assert {"report.html.j2", "report.js", "report.css", "vega-interpreter.js"} <= assets
