"""Which of a failure's two clocks is wrong: the verdict on the shapes of issue 18.

Simulation tier: each collection (tests/synth/guilt.py) is written as the real software
writes its logs, with known clocks, and the host that logs the failures is often the
healthy one. The verdict must name the
host whose clock was wrong (or the party no record names, when it is that one), accuse
no healthy host, and clear the healthy ones for reasons that were measured.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewsleuth import investigate
from skewsleuth.hosts import same_host
from support.properties import examples
from synth import guilt


def _verdict(case, tmp_path: Path, **kw) -> tuple[dict, object]:
    truth = case(tmp_path, **kw)
    return investigate([tmp_path]).to_dict(), truth


def _accused(incident: dict) -> list[dict]:
    return [c for c in incident["root_causes"] if c["kind"] == "clock_skew"]


def _cleared(incident: dict) -> dict[str, str]:
    return {r["what"].removeprefix("clock of ").split(" ")[0]: r["reason"]
            for r in incident["ruled_out"] if r["what"].startswith("clock of ")}


def _no_healthy_host_accused(incident: dict, truth) -> None:
    for c in _accused(incident):
        assert not any(same_host(c.get("host"), h) for h in truth.healthy), (c["host"], c["evidence"][:3])


def _one_incident(v: dict) -> dict:
    skew = [i for i in v["incidents"] if i["root_causes"] or i["ruled_out"]]
    assert len(skew) == 1, [(i["onset"], i["signatures"]) for i in v["incidents"]]
    return skew[0]


def test_a_dc_behind_is_the_clock_common_to_every_members_failure(tmp_path):
    v, truth = _verdict(guilt.dc_behind, tmp_path)
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit), top
    assert any("common to the failures with 4 others" in e for e in top["evidence"])
    _no_healthy_host_accused(inc, truth)
    cleared = _cleared(inc)
    for ws in truth.healthy:
        assert any(same_host(ws, h) and "common clock is that of dc01" in r for h, r in cleared.items()), (ws, cleared)


def test_a_stripchart_against_the_dc_gives_its_offset_and_puts_the_onset_in_true_time(tmp_path):
    """The responder's w32tm /stripchart from a member (UTF-16, en-GB date) measures
    dc01 against ws00, and ws00 against time.windows.com (/dataonly): the verdict
    gives dc01's offset, not only "beyond the tolerance", and ws00 is cleared by
    measurement."""
    v, truth = _verdict(guilt.dc_behind, tmp_path, stripchart=guilt.ONSET + timedelta(minutes=45, seconds=3))
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit), top
    assert top["offset_low_s"] <= truth.culprit_offset_s <= top["offset_high_s"], top
    assert top["offset_high_s"] - top["offset_low_s"] < 5
    assert any("w32tm stripchart" in e and "10800.0 s ahead of dc01.corp.test" in e for e in top["evidence"])
    assert any("time.windows.com, a public time service" in e for e in top["evidence"])
    assert "within the 300 s tolerance" in _cleared(inc)["ws00.corp.test"]
    _no_healthy_host_accused(inc, truth)
    # the first failure is placed in true time: dc01's clock is measured
    first = datetime.fromisoformat(inc["onset"].replace("Z", "+00:00"))
    assert abs((first - guilt.ONSET).total_seconds()) < 700


def test_a_stripchart_after_the_dc_went_back_past_its_own_earlier_times_is_left_out_and_said(tmp_path):
    """Measured at 11:00, dc01's clock read 08:00, a time its logs show both before and
    after it went back: which of the two clocks the stripchart read, nothing says. The
    measurement is left out with a note, and the verdict still rests on the pattern."""
    v, truth = _verdict(guilt.dc_behind, tmp_path, stripchart=guilt.ONSET + timedelta(minutes=90))
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit) and top["offset_s"] is None, top
    assert any("w32tm stripchart records not used" in n and "2 of dc01.corp.test's segments" in n
               for n in v["notes"]), v["notes"]


def test_one_client_ahead_fails_alone_while_the_dc_issues_the_others_tickets(tmp_path):
    v, truth = _verdict(guilt.client_ahead, tmp_path)
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit), top
    assert any("dc01.corp.test accepted the times of 4 other hosts" in e for e in top["evidence"]), top["evidence"]
    _no_healthy_host_accused(inc, truth)
    assert "its clock worked for them" in _cleared(inc)["dc01.corp.test"]


@pytest.mark.parametrize("synced", [True, False], ids=["verifiers-synced", "pattern-only"])
def test_tokens_of_an_issuer_ahead_accuse_the_issuer_not_the_verifiers(tmp_path, synced):
    v, truth = _verdict(guilt.jwt_issuer_ahead, tmp_path, synced=synced)
    inc = _one_incident(v)
    accused = _accused(inc)
    # No record names the issuer: the verdict says so instead of naming a verifier.
    assert accused and accused[0]["host"] is None and "token issuer" in accused[0]["what"], accused[:1]
    _no_healthy_host_accused(inc, truth)
    cleared = _cleared(inc)
    assert {"api01", "api02", "api03"} <= set(cleared), cleared
    if synced:
        assert all("within the 300 s tolerance" in cleared[a] for a in ("api01", "api02", "api03"))
    else:
        assert all("common clock is that of the token issuer" in cleared[a] for a in ("api01", "api02", "api03"))


def test_validators_that_print_the_tokens_nbf_bound_the_issuer_no_record_names(tmp_path):
    """.NET (IDX10222), Java (jjwt) and Node (pino) validators print the token's nbf
    beside their own time: the unnamed issuer is ahead of each by at least their
    difference, and, their clocks measured, at least that far off true time."""
    v, truth = _verdict(guilt.jwt_issuer_ahead, tmp_path, printed=True)
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert top["host"] is None and "token issuer" in top["what"], top
    assert top["beyond_s"] is None and top["offset_high_s"] is None
    assert 590 < top["offset_low_s"] <= truth.culprit_offset_s, top
    for shape, host in (("IDX10222", "api01"), ("jjwt PrematureJwtException", "api02"),
                        ("jsonwebtoken NotBeforeError", "api03")):
        assert any(e.startswith(shape) and f"at least 599 s ahead of {host}'s" in e for e in top["evidence"]), shape
    assert not any("bounds by how much or which way" in e for e in top["evidence"])
    _no_healthy_host_accused(inc, truth)


@pytest.mark.parametrize("off", [400.0, 600.0], ids=["short-of-the-bound", "as-far-as-the-bound"])
def test_a_host_measured_off_is_the_issuer_only_if_as_far_ahead_as_the_validators_say(tmp_path, off):
    """batch01, no failure naming it, is measured ``off`` ahead (chronyd "System clock
    wrong by"). The validators printed that the issuer is at least ~599 s ahead: 400 s
    cannot be it, and the unnamed issuer stays unnamed; 600 s can."""
    truth = guilt.jwt_issuer_ahead(tmp_path, printed=True)
    batch = guilt._linux("batch01.corp.test", [(None, off)], "10.0.9.40", synced=False)
    for t in guilt._every(guilt.S, guilt.E, 590, 610, batch.rng):
        guilt.line(batch, t, "chronyd", 611, f"System clock wrong by -{off:.6f} seconds")
    batch.write(tmp_path)
    inc = _one_incident(investigate([tmp_path]).to_dict())
    top = _accused(inc)[0]
    if off < 590:
        assert top["host"] is None and "token issuer" in top["what"], top
        assert any("batch01" in e and "it is not the token issuer's" in e for e in top["evidence"]), top["evidence"]
    else:
        assert top["host"] == "batch01" and any("likeliest to be the token issuer's" in e for e in top["evidence"])
    _no_healthy_host_accused(inc, truth)


def test_a_verifier_behind_is_accused_with_its_offset(tmp_path):
    v, truth = _verdict(guilt.jwt_verifier_behind, tmp_path)
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit) and abs(top["offset_s"] - truth.culprit_offset_s) < 5, top
    _no_healthy_host_accused(inc, truth)


def test_saml_identity_provider_ahead_and_service_provider_behind(tmp_path):
    v, truth = _verdict(guilt.saml_idp_ahead, tmp_path / "ahead")
    inc = _one_incident(v)
    assert _accused(inc)[0]["host"] is None and "identity provider" in _accused(inc)[0]["what"]
    _no_healthy_host_accused(inc, truth)
    assert "within the 300 s tolerance" in _cleared(inc)["sp01"]

    v, truth = _verdict(guilt.saml_sp_behind, tmp_path / "behind")
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit) and abs(top["offset_s"] - truth.culprit_offset_s) < 5, top
    _no_healthy_host_accused(inc, truth)


def test_tls_client_behind_fails_with_every_server_and_is_the_one(tmp_path):
    v, truth = _verdict(guilt.tls_client_behind, tmp_path)
    inc = _one_incident(v)
    top = _accused(inc)[0]
    assert same_host(top["host"], truth.culprit), top
    _no_healthy_host_accused(inc, truth)


def test_a_certificate_issued_ahead_accuses_no_clock_measured_right(tmp_path):
    # Every clock is synced: the certificate's NotBefore is what was ahead, and no
    # host's clock may take the blame for it. The clock that made it, the issuer's of
    # srv01's certificate, is named by its role.
    v, truth = _verdict(guilt.tls_certificate_ahead, tmp_path)
    inc = _one_incident(v)
    (accused,) = _accused(inc)
    assert accused["host"] is None and accused["what"] == "the certificate's issuer of srv01", accused
    assert "were all measured within the tolerance" in accused["evidence"][1]
    cleared = _cleared(inc)
    assert {"cl01", "cl02", "cl03", "srv01"} <= set(cleared), cleared


def test_changes_are_judged_in_true_time_and_what_moves_a_clock_is_a_mechanism(tmp_path):
    truth = guilt.saml_idp_ahead(tmp_path)
    # The case's changes, as a change log records them: the IdP's VM was restored from a
    # snapshot before the first failure (09:30 true); an IAM key rotation 3 min before
    # it; a vMotion and a power cut, which can move a clock, and a firewall change after.
    truth.case_file = tmp_path / "case.yml"
    truth.case_file.write_text(
        "timezone: UTC\nchanges:\n"
        "  - {at: '2026-11-30 09:20:00', host: idp01.corp.test, what: VM snapshot restore (rollback to Friday)}\n"
        "  - {at: '2026-11-30 09:27:00', host: sp01.corp.test, what: IAM signing key rotation}\n"
        "  - {at: '2026-11-30 09:10:00', host: idp01.corp.test, what: vMotion to esx02}\n"
        "  - {at: '2026-11-30 09:05:00', what: building power cut}\n"
        "  - {at: '2026-11-30 10:15:00', host: fw01.corp.test, what: firewall rule for TCP 443 updated}\n",
        encoding="utf-8")
    inc = _one_incident(investigate([tmp_path]).to_dict())
    changes = {c["what"]: c for c in inc["root_causes"] if c["kind"] == "change"}
    ruled = {r["what"]: r["reason"] for r in inc["ruled_out"] if r["what"].startswith("change:")}
    for what in ("VM snapshot restore (rollback to Friday)", "vMotion to esx02", "building power cut"):
        assert what in changes and "can move a clock" in changes[what]["evidence"][0], (what, ruled)
    # 3 min before the first failure in true time: never "after the onset"
    rotation = ruled.get("change: IAM signing key rotation on sp01.corp.test", "")
    assert "after the onset" not in rotation
    # after it in true time, whatever clock logged the failures
    firewall = ruled["change: firewall rule for TCP 443 updated on fw01.corp.test"]
    assert "after the onset" in firewall and "(true time)" in firewall
    # a token issuer no record names may be any host: no host is "not involved"
    assert all("not among the hosts" not in r for r in ruled.values()), ruled


def test_a_reboot_logged_after_the_onset_by_a_clock_it_made_wrong_is_not_ruled_out_on_its_logged_time(tmp_path):
    # auth01 reboots at 09:28 (true) onto an RTC 600 s fast: its boot is logged at 09:38,
    # after the first failure (09:28, true). With no measure of its clock, the reboot
    # must not be "after the onset", nor "back within tolerance", nor "not involved".
    v, truth = _verdict(guilt.jwt_issuer_ahead, tmp_path, reboot=True)
    inc = _one_incident(v)
    reboots = [c for c in inc["root_causes"] if c["kind"] == "reboot"]
    assert [c["host"] for c in reboots] == ["auth01"], inc["root_causes"]
    assert "nothing measured rules it out" in reboots[0]["evidence"][0]
    assert not [r for r in inc["ruled_out"] if r["kind"] == "reboot"], inc["ruled_out"]
    _no_healthy_host_accused(inc, truth)


def test_the_host_measured_off_is_taken_for_the_issuer_no_record_names(tmp_path):
    # chronyd on auth01 says its clock is wrong by -600 s: the model measures it +600 s,
    # and the unnamed token issuer the failures point at is taken to be auth01.
    v, truth = _verdict(guilt.jwt_issuer_ahead, tmp_path, reboot=True, wrong_by=True)
    inc = _one_incident(v)
    top = inc["root_causes"][0]
    assert top["kind"] == "clock_skew" and top["host"] == "auth01" and abs(top["offset_s"] - 600) < 2, top
    assert any("likeliest to be the token issuer's" in e for e in top["evidence"])
    assert not [c for c in inc["root_causes"] if c["kind"] == "clock_skew" and c["host"] is None]
    # the reboot brought the wrong clock: a candidate, never "after the onset"
    (reboot,) = [c for c in inc["root_causes"] if c["kind"] == "reboot"]
    assert "how the wrong clock arrived" in reboot["evidence"][0]
    assert all("not among the hosts" not in r["reason"] for r in inc["ruled_out"])
    _no_healthy_host_accused(inc, truth)


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.integers(2, 4), dc_wrong=st.booleans(), size=st.floats(400, 20000), ahead=st.booleans(),
       seed=st.integers(0, 10_000))
def test_a_drawn_domain_names_the_dc_or_the_one_member_whichever_is_wrong(tmp_path_factory, members, dc_wrong,
                                                                         size, ahead, seed):
    off = size if ahead else -size
    root = tmp_path_factory.mktemp("fleet")
    truth = guilt.kerberos_fleet(root, members, off if dc_wrong else 0.0, None if dc_wrong else off, seed=seed)
    inc = _one_incident(investigate([root]).to_dict())
    accused = _accused(inc)
    assert accused and same_host(accused[0]["host"], truth.culprit), (truth.culprit, accused[:2])
    _no_healthy_host_accused(inc, truth)
    # every healthy host the failures involve is cleared, with a reason
    cleared = _cleared(inc)
    involved = [h for h in truth.healthy if any(same_host(h, x) for x in inc["hosts"])]
    assert all(any(same_host(h, c) for c in cleared) for h in involved), (involved, cleared)


def test_the_issue_s_gateway_and_auth_server_pair_by_request_id_and_name_the_issuer(tmp_path):
    # logback gateway ("--> POST /token", "<-- 200") and structlog auth server ("request
    # started" / "request finished") share request ids, neither giving a direction; the
    # API servers' JWT errors name no issuer. The verdict names auth01 with its offset.
    v, truth = _verdict(guilt.jwt_issuer_ahead_behind_a_gateway, tmp_path)
    inc = _one_incident(v)
    top = inc["root_causes"][0]
    assert top["kind"] == "clock_skew" and same_host(top["host"], truth.culprit), top
    assert top["offset_low_s"] <= truth.culprit_offset_s <= top["offset_high_s"], top
    assert top["offset_high_s"] - top["offset_low_s"] <= 4.1      # gw01's chronyd sync: ±2 s
    assert any("with no direction by gw01 and auth01" in e for e in top["evidence"]), top["evidence"]
    _no_healthy_host_accused(inc, truth)
    assert {"api01", "api02", "api03"} <= set(_cleared(inc))
