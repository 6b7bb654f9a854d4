"""What the command loads for a small job (issue 22): the modules a whole run of the
command line imported, read in its own process when it exits. Timings are
benchmarks/startup.py's, never a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVTX_DIR = Path(__file__).resolve().parents[1] / "data" / "evtx"

# The command as its console script runs it, then, at exit, what it had loaded.
_RUN = """
import atexit, json, runpy, sys
atexit.register(lambda: sys.__stderr__.write(
    "\\nLOADED " + json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))
sys.argv = ["skewsleuth", *sys.argv[1:]]
runpy.run_module("skewsleuth", run_name="__main__")
"""


def _loaded(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    r = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=300)
    return r, set(json.loads(r.stderr.rsplit("LOADED ", 1)[1]))


def test_investigating_a_small_file_loads_neither_pandas_nor_what_it_does_not_use(tmp_path):
    """pyarrow would load pandas (0.2-0.5 s) the first time it builds an array; SciPy
    (the solver's components) and Jinja (the HTML page) are not needed for one file."""
    out = tmp_path / "verdict.json"
    r, loaded = _loaded("investigate", str(EVTX_DIR / "Security_short_selected.evtx"), "--json", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["ingest"]["records"] == 7
    assert {"duckdb", "pyarrow", "evtx"} <= loaded
    assert not loaded & {"pandas", "scipy", "jinja2"}, sorted(loaded)

