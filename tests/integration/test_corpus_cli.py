"""The synthetic fleet corpus (tests/synth/corpus.py): written in every text format, read
back record for record, and investigated to the clocks and incidents it holds: the part
that runs the command line, a real daemon or another process (the rest is in
tests/unit/synth/test_corpus.py).
"""

from __future__ import annotations

import os
import subprocess
import sys


from conftest import ROOT


def test_command_line_writes_and_prints_the_truth(tmp_path):
    # synth is not installed: the child finds it as pytest does, with tests/ on its path.
    path = [str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    r = subprocess.run([sys.executable, "-m", "synth.corpus", str(tmp_path / "c"), "--hosts", "8",
                        "--events", "3000", "--truth", str(tmp_path / "truth.json")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "wrote 3,0" in r.stdout and "lyncedge0006.fleet.test" in r.stdout
    assert (tmp_path / "truth.json").read_text().startswith("{")
    h = subprocess.run([sys.executable, "-m", "synth.corpus", "--help"], capture_output=True, text=True, env=env)
    assert h.returncode == 0 and "--hosts" in h.stdout and "--events" in h.stdout
