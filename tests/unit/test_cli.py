"""The entry point's import discipline (issue 22): what the console script loads before
it knows the command. Each check runs in a fresh interpreter and reads its
``sys.modules``: a module imported once by any test stays imported in this one."""

from __future__ import annotations

import skewsleuth
from support.interpreter import fresh

# What no command may pay for before it runs: the pipeline's engines, the HTML page's.
PIPELINE = ["duckdb", "pyarrow", "numpy", "scipy", "jinja2", "pandas", "yaml", "evtx", "defusedxml"]
# What only the commands need, not the version.
COMMAND_LINE = ["typer", "rich", "click", "pydantic"]


def test_the_version_is_answered_before_typer_or_the_pipeline_loads():
    for args, line in ((["--version"], f"skewsleuth {skewsleuth.__version__}"), (["version"], skewsleuth.__version__)):
        out = fresh("import skewsleuth.cli\n"
                     f"sys.argv = ['skewsleuth', *{args!r}]\n"
                     "try:\n    skewsleuth.cli.main()\nexcept SystemExit as exc:\n    out['status'] = exc.code\n")
        assert out["stdout"] == line + "\n" and out["status"] == 0, out
        assert not set(out["loaded"]) & set(PIPELINE + COMMAND_LINE), out["loaded"]


def test_importing_the_entry_point_loads_only_the_standard_library():
    out = fresh("import skewsleuth.cli")
    assert not set(out["loaded"]) & set(PIPELINE + COMMAND_LINE), out["loaded"]


def test_the_commands_load_without_the_pipeline_or_rich():
    """The typer app is defined without DuckDB, Arrow, numpy, SciPy, Jinja, YAML or
    rich: a command imports what it runs (``--help``, ``probe``, a typo never load
    the pipeline; rich loads with the first text a command writes)."""
    out = fresh("import skewsleuth.commands")
    assert "typer" in out["loaded"]
    assert not set(out["loaded"]) & set(PIPELINE + ["rich"]), out["loaded"]


def test_an_error_loads_rich_for_its_one_line():
    out = fresh("import skewsleuth.commands\n"
                "sys.argv = ['skewsleuth', 'investigate', 'x', '--workers', '0']\n"
                "try:\n    skewsleuth.commands.app()\nexcept SystemExit as exc:\n    out['status'] = exc.code\n")
    assert out["status"] == 2 and out["stderr"] == "skewsleuth: --workers must be 1 or more\n"
    assert "rich" in out["loaded"]

