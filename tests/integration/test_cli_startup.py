"""What the command loads for a small job (issue 22): the modules a whole run of the
command line imported, read in its own process when it exits. Timings are
benchmarks/startup.py's, never a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.interpreter import fresh
from synth.small import small_files

# The command as its console script runs it, then, at exit, what it had loaded.
_RUN = """
import atexit, json, runpy, sys
atexit.register(lambda: sys.__stderr__.write(
    "\\nLOADED " + json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))
sys.argv = ["skewsleuth", *sys.argv[1:]]
runpy.run_module("skewsleuth", run_name="__main__")
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    return small_files(tmp_path_factory.mktemp("small") / "corpus")


@pytest.mark.parametrize("kind", ["evtx", "syslog", "event XML", "journald"])
def test_investigating_a_small_file_loads_neither_pandas_scipy_jinja_nor_rich(kind, small, tmp_path):
    """pyarrow would load pandas (0.2-0.5 s) the first time it builds an array, the
    clock model SciPy (0.15 s) for its components; Jinja is the HTML page's, rich the
    terminal's."""
    out = tmp_path / "verdict.json"
    r = subprocess.run([sys.executable, "-c", _RUN, "investigate", str(small[kind]), "--json", str(out), "-q"],
                       capture_output=True, text=True, timeout=300)
    loaded = set(json.loads(r.stderr.rsplit("LOADED ", 1)[1]))
    assert r.returncode in (0, 1), r.stderr
    assert json.loads(out.read_text())["ingest"]["records"] > 0
    assert {"duckdb", "pyarrow"} <= loaded
    assert not loaded & {"pandas", "scipy", "jinja2", "rich"}, sorted(loaded)   # -q: no text written


def test_reader_processes_leave_pandas_out_too():
    """Each worker process would import pandas at its first array (~0.3 s of CPU). In a
    fresh interpreter, as the command runs: the test process's forkserver is whichever
    test started it first, with what that one had it preload."""
    got = fresh("import sys\n"
                f"sys.path[:0] = [{str(Path(__file__).parents[1])!r}]\n"
                "from skewsleuth.reading.workers import ordered_map\n"
                "from support.interpreter import pandas_after_an_array\n"
                "out['pandas'] = list(ordered_map(pandas_after_an_array, range(4), workers=2, window=2))\n")
    assert got["pandas"] == [False] * 4
