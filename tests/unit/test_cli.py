"""The entry point's import discipline (issue 22): what the console script loads before
it knows the command. Each check runs in a fresh interpreter and reads its
``sys.modules``: a module imported once by any test stays imported in this one."""

from __future__ import annotations

import json
import subprocess
import sys

import skewsleuth

# What no command may pay for before it runs: the pipeline's engines, the HTML page's.
PIPELINE = ["duckdb", "pyarrow", "numpy", "scipy", "jinja2", "pandas", "yaml", "evtx", "defusedxml"]
# What only the commands need, not the version.
COMMAND_LINE = ["typer", "rich", "click", "pydantic"]


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it leaves its answer in ``out`` (a dict),
    given back with the top-level packages it had loaded by the end."""
    wrapper = (f"import sys, json\nout = {{}}\n{code}\n"
               "out['loaded'] = sorted({m.split('.')[0] for m in sys.modules})\n"
               "sys.__stderr__.write(json.dumps(out))\n")
    r = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stderr) | {"stdout": r.stdout}


def test_the_version_is_answered_before_typer_or_the_pipeline_loads():
    for args, line in ((["--version"], f"skewsleuth {skewsleuth.__version__}"), (["version"], skewsleuth.__version__)):
        out = _fresh("import skewsleuth.cli\n"
                     f"sys.argv = ['skewsleuth', *{args!r}]\n"
                     "try:\n    skewsleuth.cli.main()\nexcept SystemExit as exc:\n    out['status'] = exc.code\n")
        assert out["stdout"] == line + "\n" and out["status"] == 0, out
        assert not set(out["loaded"]) & set(PIPELINE + COMMAND_LINE), out["loaded"]


def test_importing_the_entry_point_loads_only_the_standard_library():
    out = _fresh("import skewsleuth.cli")
    assert not set(out["loaded"]) & set(PIPELINE + COMMAND_LINE), out["loaded"]


def test_the_commands_load_without_the_pipeline():
    """The typer app is defined without DuckDB, Arrow, numpy, SciPy, Jinja or YAML: a
    command imports what it runs (``--help``, ``probe``, a typo never load them)."""
    out = _fresh("import skewsleuth.commands")
    assert {"typer", "rich"} <= set(out["loaded"])
    assert not set(out["loaded"]) & set(PIPELINE), out["loaded"]


def test_pyarrow_and_duckdb_do_their_work_with_pandas_left_out():
    """Under the command line's finder, pyarrow builds arrays and tables and DuckDB
    reads and returns them as the store does, and pandas stays unloaded; importing
    it says it is not installed."""
    out = _fresh("from skewsleuth.without_pandas import leave_out_pandas\n"
                 "leave_out_pandas()\n"
                 "import duckdb, pyarrow as pa, numpy as np\n"
                 "t = pa.table({'x': pa.array([1, 2, None]), 'y': pa.array(np.array([0.5, np.nan, 2.0]), "
                 "from_pandas=True)})\n"
                 "con = duckdb.connect()\n"
                 "con.register('t', t)\n"
                 "out['sum'] = con.execute('SELECT sum(x), count(y) FROM t').fetchall()[0]\n"
                 "out['empty'] = con.sql('DESCRIBE SELECT * FROM t').fetchall()[0][:2]\n"
                 "try:\n    import pandas\nexcept ModuleNotFoundError as exc:\n    out['refused'] = exc.name\n")
    assert out["sum"] == [3, 2] and out["empty"] == ["x", "BIGINT"]
    assert out["refused"] == "pandas"
    assert "pandas" not in out["loaded"], out["loaded"]
