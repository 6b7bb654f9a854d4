"""The Windows client's side of a time difference (issue 19): a workstation ahead logs
the failures itself (LsaSrv 40960, Security 4625 with 0xC0000133) while the DC logs
none; the verdict names the workstation, not the DC (tests/synth/client_side.py)."""

from __future__ import annotations

from pathlib import Path

from skewsleuth import investigate
from skewsleuth.hosts import same_host
from synth import client_side


def test_a_workstation_ahead_that_logs_its_own_failures_is_accused_and_the_dc_it_names_is_not(tmp_path: Path):
    truth = client_side.workstation_ahead(tmp_path, offset=420.0)
    v = investigate([tmp_path]).to_dict()
    skew = [i for i in v["incidents"] if i["root_causes"] or i["ruled_out"]]
    assert len(skew) == 1, [(i["onset"], i["signatures"]) for i in v["incidents"]]
    inc = skew[0]
    assert inc["signatures"] == ["STATUS_TIME_DIFFERENCE_AT_DC"], inc["signatures"]
    # both kinds of record count: LsaSrv 40960 every ~12 min, 4625 for the unlocks
    assert inc["signature_counts"]["STATUS_TIME_DIFFERENCE_AT_DC"] > 20
    accused = [c for c in inc["root_causes"] if c["kind"] == "clock_skew"]
    top = accused[0]
    assert same_host(top["host"], truth.culprit), [(c["host"], c["what"]) for c in accused]
    # the 40960 records name the DC they talked to; its clock is measured right
    assert any("pair its clock with the clock of dc01.corp.test, which was measured within the tolerance" in e
               for e in top["evidence"]), top["evidence"]
    for c in accused:
        assert not any(same_host(c.get("host"), h) for h in truth.healthy), (c["host"], c["evidence"][:3])
        assert c["score"] <= top["score"]
    ruled = {r["what"]: r["reason"] for r in inc["ruled_out"]}
    assert "within the 300 s tolerance" in ruled["clock of dc01.corp.test"], ruled
    # the 4625s name no DC: the unnamed party of those failures is explained by the
    # workstation the 40960s already point at, not offered as a second culprit
    assert [c["host"] for c in accused] == [top["host"]], [(c["host"], c["what"]) for c in accused]
    assert any("more symptoms pair it with the domain controller" in e for e in top["evidence"]), top["evidence"]
