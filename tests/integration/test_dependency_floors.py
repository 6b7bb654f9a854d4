"""The declared dependency floors work: a fresh venv gets the lowest version that
pyproject.toml allows of every direct dependency (``uv pip install --resolution
lowest-direct``, the extras that scripts/test-all.sh installs included) and the fast
tests pass in it.

The venv must really hold the floors: a floor raised or lowered without a resolution
that installs it exactly fails here, so the numbers in pyproject.toml stay measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT

# The floors are measured on the oldest Python the project supports (requires-python).
PYTHON = "3.11"
UNIT_TIER = ROOT / "tests" / "unit"
# The extras scripts/test-all.sh installs that the unit tier needs: with CI=true a test that
# needs one fails without it. [scale] (Dask) is only used by tests/integration/test_scale.py.
EXTRAS = ("test", "winrm")
# What the venv's Python reports about itself: every installed distribution's version.
INSTALLED = ("import importlib.metadata as m, json; "
             "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")


def _uv() -> str | None:
    try:
        from uv import find_uv_bin  # the uv that the test extra installs
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _pip_config(key: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pip", "config", "get", key],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else ""


def _index_args() -> list[str]:
    """uv reads no pip configuration: hand it the index that pip uses in place of PyPI,
    if any, and pip's local wheel folders. pip's extra indexes are left out on purpose:
    uv takes a package from the first index that has it, and a local index that holds
    only the newest release would hide every floor."""
    args: list[str] = []
    if not (os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL")):
        url = os.environ.get("PIP_INDEX_URL") or _pip_config("global.index-url")
        if url:
            args += ["--index-url", url]
    links = os.environ.get("PIP_FIND_LINKS") or _pip_config("global.find-links")
    for link in links.split():
        if "://" in link or Path(link).exists():
            args += ["--find-links", link]
    return args


def _floors(requirements: list[str]) -> dict[str, Version]:
    floors = {}
    for text in requirements:
        req = Requirement(text)
        lows = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert lows, f"{text!r} declares no floor: a lowest resolution would pick a release from any year"
        floors[canonicalize_name(req.name)] = max(lows)
    return floors


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.mark.integration
def test_lowest_allowed_versions_install_and_pass_the_fast_tests(tmp_path):
    uv = _uv()
    if uv is None:
        message = "uv is not installed (it is in the test extra: pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = _floors(project["dependencies"])
    floors = base
    for extra in EXTRAS:
        floors = floors | _floors(project["optional-dependencies"][extra])
    # The venv is the project's alone: nothing from the caller's path or venv leaks in.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    index = _index_args()
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    timings = {}

    start = time.monotonic()
    interpreter = sys.executable if sys.version_info[:2] == (3, 11) else PYTHON
    _run([uv, "venv", "-q", "--python", interpreter, str(venv)], 300, env=env)
    _run([uv, "pip", "install", "-q", "--python", str(python), "--resolution", "lowest-direct", *index,
          "-e", f"{ROOT}[{','.join(EXTRAS)}]"], 900, env=env, cwd=ROOT)
    timings["install"] = time.monotonic() - start

    installed = {canonicalize_name(k): Version(v)
                 for k, v in json.loads(_run([str(python), "-c", INSTALLED], 120, env=env).stdout).items()}
    missing = sorted(set(floors) - set(installed))
    assert not missing, f"not installed: {missing}"
    lifted = {name: installed[name] for name, floor in floors.items() if installed[name] != floor}
    # The test extra may hold a dependency of the product above its floor (pySigma needs
    # a newer PyYAML and Jinja2): that floor must then be what the product alone resolves to.
    if any(name in base for name in lifted):
        out = _run([uv, "pip", "compile", "-q", "--python", str(python), "--resolution", "lowest-direct",
                    "--no-header", "--no-annotate", *index, str(ROOT / "pyproject.toml")], 300, env=env).stdout
        alone = {canonicalize_name(n): Version(v)
                 for n, _, v in (line.partition("==") for line in out.splitlines() if "==" in line)}
        lifted = {name: v for name, v in lifted.items() if not (name in base and alone.get(name) == base[name])}
    assert not lifted, ("the lowest resolution does not install these floors (raise them to what it installs, "
                        "or find what holds them up): "
                        + ", ".join(f"{n} {installed[n]} (floor {floors[n]})" for n in sorted(lifted)))

    targets = [str(UNIT_TIER)]
    start = time.monotonic()
    r = subprocess.run([str(python), "-m", "pytest", *targets, "-q", "-x", "-p", "no:cacheprovider"],
                       capture_output=True, text=True, timeout=1200, env=env, cwd=ROOT)
    timings["tests"] = time.monotonic() - start
    print(", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    assert r.returncode == 0, \
        f"the tests fail at the floors ({', '.join(targets)}):\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
