"""Incidents and root causes on the seed: one burst of symptoms in true time, the Edge
five hours behind ranked first, the reference and the change ruled out with reasons."""

from __future__ import annotations

from datetime import datetime, timezone

from skewsleuth.incident import find_incidents
from skewsleuth.rca import diagnose
from skewsleuth.timefmt import clockface

EDGE, FE = "srv-lyncedge01.domain.com", "srv-lyncfe01.domain.com"
UTC = timezone.utc


def test_the_symptoms_are_one_incident_from_the_first_refused_call_to_the_resync(seed_verdict):
    (inc,) = find_incidents(seed_verdict.store, when=clockface(seed_verdict.case.timezone))
    assert inc.onset == datetime(2014, 10, 20, 23, 20, 42, 538000, tzinfo=UTC)       # 6:20 PM CDT, true time
    assert inc.end == datetime(2014, 10, 21, 2, 33, 25, 367476, tzinfo=UTC)
    assert inc.skew_signatures == ["SIP_E_CRYPT_REFERRER_DATE_SKEWED"] and inc.tolerance_s == 300.0
    assert inc.suspects.most_common(1)[0][0] == EDGE and set(inc.reporters) == {EDGE, FE}


def test_the_edge_clock_ranks_first_and_the_others_are_ruled_out_with_reasons(seed_verdict):
    v = seed_verdict
    dg = diagnose(v.incidents[0], v.model, v.case, {EDGE: {"lync-edge"}}, clockface(v.case.timezone))
    first = dg.root_causes[0]
    assert (first.kind, first.host) == ("clock_skew", EDGE) and abs(first.offset_s + 18000) < 60
    assert first.offset_low_s <= -18000 <= first.offset_high_s
    ruled = {r.kind: r for r in dg.ruled_out}
    assert ruled["change"].what.startswith("change: Password Sync") and "after the onset" in ruled["change"].reason
    assert "within the 300 s tolerance" in ruled["clock"].reason and FE in ruled["clock"].what
    (fix,) = [r for r in dg.remediation if r.host == EDGE]
    assert any("w32tm" in s for s in fix.steps) and fix.verify
