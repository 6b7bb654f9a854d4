from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The project's shared data sits beside the checkout (as in CI); elsewhere, say where.
SHARED = Path(os.environ.get("SKEWSLEUTH_SHARED", ROOT.parent / "shared"))
EVTX_DIR = SHARED / "data" / "evtx"


@pytest.fixture(scope="session")
def evtx_dir() -> Path:
    if not EVTX_DIR.is_dir():
        # The real sample files are part of the test contract: never skip them in CI.
        pytest.fail(f"real EVTX samples not found at {EVTX_DIR} (set SKEWSLEUTH_SHARED to the shared/ folder)")
    return EVTX_DIR


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "skewsleuth", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
