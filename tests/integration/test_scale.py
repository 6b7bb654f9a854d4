"""Reading spread over processes and a Dask cluster, and re-investigation from the parse
cache: the same verdict, byte for byte, however the files were read: the part that runs
the command line, a real daemon or another process (the rest is in
tests/unit/reading/test_cache_and_normalising.py).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import one_line_error, run_cli
from support.scale import _json, evidence, inline_json  # noqa: F401


IN_CI = os.environ.get("CI", "").lower() == "true"


def _need_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        msg = "Dask distributed not installed (scripts/test-all.sh installs .[scale])"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def test_a_dask_cluster_of_worker_processes_gives_the_same_verdict(evidence, inline_json, tmp_path):
    _need_distributed()
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids     # separate worker processes
        r = run_cli("investigate", str(evidence), "--scheduler", cluster.scheduler_address, "-q",
                    "--json", str(tmp_path / "dask.json"))
    assert r.returncode == 1, r.stderr      # the damaged samples quarantine records
    assert (tmp_path / "dask.json").read_bytes() == inline_json


def test_an_unreachable_scheduler_is_one_line_and_exit_2(evidence):
    line = one_line_error("investigate", str(evidence / "srv-lyncfe01"), "--scheduler", "tcp://127.0.0.1:9")
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line


@pytest.mark.parametrize("args, says", [(["--workers", "0"], "--workers must be 1 or more"),
                                        (["--scheduler", "127.0.0.1:8786"], "tcp://HOST:8786")])
def test_bad_reading_options_are_one_line_and_exit_2(evidence, args, says):
    assert says in one_line_error("investigate", str(evidence), *args)


def test_a_script_that_calls_investigate_without_a_main_guard_still_gets_its_verdict(evtx_dir, tmp_path):
    """Worker processes re-import the calling script; one that calls investigate() at
    its top level starts again in each, and they die. Not a parser's fault: the files
    are read in the script's process instead, with a warning that says why."""
    import subprocess
    import sys

    ev = tmp_path / "ev"
    for k in range(4):      # past the size to read (zeros left out) from which workers read
        shutil.copytree(evtx_dir, ev / f"win{k}")
    script = tmp_path / "unguarded.py"
    script.write_text("import json, skewsleuth\n"
                      f"v = skewsleuth.investigate([{str(ev)!r}])\n"
                      "print(json.dumps(v.ingest.as_dict()))\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    assert counts["files"] == 4 * len(list(evtx_dir.glob("*.evtx"))) and counts["files_failed"] == 0
    assert "if __name__ == \"__main__\":" in r.stderr and "read in this process" in r.stderr
    assert r.stderr.count("Traceback") <= 4      # the workers that died showing it, no more
