"""Fixtures for both tiers: tests/unit (mirrors the package, no daemon, browser or CLI
subprocess; `python -m pytest tests/unit`) and tests/integration (marked `integration`)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from skewsleuth.demo.scenario import SEED, write_evidence

ROOT = Path(__file__).resolve().parent.parent
# The real EVTX samples live in the repository (tests/data/evtx, with their licence), so
# that a clone alone passes its tests.
EVTX_DIR = ROOT / "tests" / "data" / "evtx"

# Property tests draw every example in CI and in scripts/test-all.sh (`thorough`, as
# Hypothesis' own CI profile: derandomized, no deadline) and a quarter of them in a bare
# run (`quick`), so that the unit tier answers within a minute while you work;
# `--hypothesis-profile` picks one. support.properties.examples() scales the tests that
# set their own count.
settings.register_profile("thorough", max_examples=100, derandomize=True, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", max_examples=25)
settings.load_profile("thorough" if os.environ.get("CI") == "true" else "quick")


def pytest_collection_modifyitems(config, items):
    # The integration tier is a folder; the marker lets `-m "not integration"` select
    # the unit tier from anywhere.
    integration = ROOT / "tests" / "integration"
    for item in items:
        if integration in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def evtx_dir() -> Path:
    if not EVTX_DIR.is_dir():
        # The real sample files are part of the test contract: never skip them in CI.
        pytest.fail(f"real EVTX samples not found at {EVTX_DIR}")
    return EVTX_DIR


@pytest.fixture(scope="session")
def seed_evidence(tmp_path_factory) -> Path:
    """The seed incident's evidence (what ``skewsleuth demo`` writes), written once for
    the session. Read it only: a test that changes evidence takes ``seed_copy``."""
    return write_evidence(SEED, tmp_path_factory.mktemp("seed") / "evidence")


@pytest.fixture
def seed_copy(seed_evidence: Path, tmp_path: Path) -> Path:
    """A copy of the seed's evidence of the test's own (file times kept: a syslog year
    can come from them)."""
    return Path(shutil.copytree(seed_evidence, tmp_path / "ev"))


@pytest.fixture(scope="session")
def seed_verdict(seed_evidence: Path):
    """The seed investigated once for the session, in this process."""
    import skewsleuth

    return skewsleuth.investigate([seed_evidence])


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "skewsleuth", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def one_line_error(*args: str, cwd: Path | None = None) -> str:
    """Run the CLI and check the contract for unusable arguments: exit 2, nothing on
    stdout, one line on stderr starting with 'skewsleuth: ' (never a traceback)."""
    r = run_cli(*args, cwd=cwd)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skewsleuth: "), r.stderr
    return lines[0]


def mutate(data: bytes, rnd: random.Random, steps: int, tokens: list[bytes]) -> bytes:
    """``data`` damaged ``steps`` times at random: a cut, random bytes, a repeat, one of
    ``tokens`` (what the format's parser keys on), or the rest lost."""
    buf = bytearray(data)
    for _ in range(steps):
        op = rnd.randrange(5)
        i = rnd.randrange(len(buf) + 1)
        j = min(len(buf), i + rnd.randrange(1, 64))
        if op == 0:
            del buf[i:j]
        elif op == 1:
            buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16)))
        elif op == 2:
            buf[i:i] = buf[i:j]
        elif op == 3:
            buf[i:i] = rnd.choice(tokens)
        else:
            del buf[i:]
    return bytes(buf)
