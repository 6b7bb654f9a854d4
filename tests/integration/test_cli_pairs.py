"""Clocks reconstructed from the messages hosts exchange (SIP transactions): the part that
runs the command line, a real daemon or another process (the rest is in
tests/unit/clock/test_pairs.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from conftest import run_cli
from support.pairs import _only_sip_traces  # noqa: F401


CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def sip_only(tmp_path_factory, seed_evidence):
    out = tmp_path_factory.mktemp("siponly")
    evidence = Path(shutil.copytree(seed_evidence, out / "evidence"))
    _only_sip_traces(evidence, "srv-lyncedge01")
    r = run_cli("investigate", str(evidence), "--json", str(out / "v.json"), "-q")
    return r, json.loads((out / "v.json").read_text())


def test_edge_with_no_step_event_and_no_observation_is_named_from_sip_pairs(sip_only):
    r, v = sip_only
    assert r.returncode == 0, r.stderr
    edge = next(h for h in v["hosts"] if h["host"] == "srv-lyncedge01.domain.com")
    assert not any(s["source"] == "Kernel-General 1" for s in edge["steps"])       # nothing said it
    rc = v["incidents"][0]["root_causes"][0]
    assert rc["kind"] == "clock_skew" and rc["host"] == "srv-lyncedge01.domain.com"
    assert rc["offset_s"] == pytest.approx(-18000, abs=1)
    assert rc["offset_low_s"] <= -18000 <= rc["offset_high_s"]
    wrong = next(s for s in edge["segments"] if s["offset_s"] < -17000)
    assert "pairs" in wrong["basis"]
    # the resync nobody logged, found where the pairs stop agreeing
    found = [s for s in edge["steps"] if s["source"] == "message pairs"]
    assert len(found) == 1 and found[0]["delta_s"] == pytest.approx(18000, abs=1)   # measured across it
    assert _t(found[0]["to"]).astimezone(CHICAGO).strftime("%H:%M") == "21:33"
    since = _t(rc["since"]).astimezone(CHICAGO)
    assert (18, 18) <= (since.hour, since.minute) <= (18, 21)
    assert v["contradictions"] == []


def _t(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
