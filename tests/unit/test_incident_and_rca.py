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
    assert inc.named.most_common(1)[0][0] == EDGE and set(inc.reporters) == {EDGE, FE}


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


def test_a_clock_a_reboot_left_as_wrong_as_it_was_is_one_skew_since_before_the_reboot(tmp_path):
    """A host two hours ahead (chronyd keeps reporting it and, with makestep off, never
    steps; reference.c: "System clock wrong by %.6f seconds") reboots and comes back as
    far ahead; Kerberos fails after the reboot (sssd krb5_child, from SSSD pull request
    15). The skew began before the reboot: one candidate since the first record, and
    the reboot is not how the wrong clock arrived."""
    from datetime import timedelta

    import skewsleuth
    from synth.syslog import rfc5424_line

    host, ahead = "app11.corp.test", timedelta(hours=2)
    t0 = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
    boot = t0 + timedelta(hours=2)
    lines, t = [], t0
    while t < t0 + timedelta(hours=4):
        if boot <= t < boot + timedelta(seconds=60):
            lines.append(rfc5424_line(t + ahead, host, "kernel", None,
                                      "Linux version 5.10.0-21-amd64 (debian-kernel@lists.debian.org) #1 SMP "
                                      "Debian 5.10.162-1 (2023-01-21)"))
        elif t.minute % 20 == 0:
            lines.append(rfc5424_line(t + ahead, host, "chronyd", 640,
                                      "System clock wrong by -7200.000000 seconds, adjustment started"))
        elif t > boot + timedelta(minutes=30) and t.minute % 5 == 1:
            lines.append(rfc5424_line(t + ahead, host, "krb5_child", 2917,
                                      "[get_and_save_tgt] (0x0020): 1720: [-1765328347][Clock skew too great]"))
        else:
            lines.append(rfc5424_line(t + ahead, host, "CRON", 733, "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=60)
    (tmp_path / "app11").mkdir()
    (tmp_path / "app11" / "syslog").write_text("\n".join(lines) + "\n", encoding="utf-8")
    v = skewsleuth.investigate([tmp_path])
    assert [b.kind for b in v.model.chains[host]] == ["boot"]
    (inc,) = v.incidents
    dg = diagnose(inc, v.model, v.case, {}, clockface(v.case.timezone))
    skews = [c for c in dg.root_causes if c.kind == "clock_skew"]
    assert [c.host for c in skews] == [host], skews
    assert skews[0].at == t0 and abs(skews[0].offset_s - 7200) < 1
    assert not [c for c in dg.root_causes if c.kind == "reboot"]
    (reboot,) = [r for r in dg.ruled_out if r.kind == "reboot"]
    assert "already +7200" in reboot.reason and reboot.at == boot


def test_a_symptom_of_unknown_true_time_joins_only_an_incident_its_bound_allows(tmp_path):
    """web05's clock is right (chronyd has a source) when Kerberos fails at 09:00; it
    reboots at 10:00 and comes up three hours behind, with nothing to measure it by: its
    later failures are of unknown true time, but true time only moves forward across a
    reboot, so they happened after the reboot. They cannot be part of the 09:00 burst,
    which ended an hour before it."""
    from datetime import timedelta

    import skewsleuth
    from synth.syslog import rfc5424_line

    host = "web05.corp.test"
    t0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
    boot = t0 + timedelta(hours=2)
    behind = timedelta(hours=-3)
    fail = "[get_and_save_tgt] (0x0020): 1720: [-1765328347][Clock skew too great]"
    lines, t = [], t0
    while t < t0 + timedelta(hours=5):
        shown = t if t < boot else t + behind
        if boot <= t < boot + timedelta(seconds=60):
            lines.append(rfc5424_line(shown, host, "kernel", None,
                                      "Linux version 5.10.0-21-amd64 (debian-kernel@lists.debian.org) #1 SMP "
                                      "Debian 5.10.162-1 (2023-01-21)"))
        elif t < boot and t.minute % 15 == 0:
            lines.append(rfc5424_line(shown, host, "chronyd", 640, "Selected source 192.0.2.10 (ntp1.corp.test)"))
        elif (t0 + timedelta(minutes=60) <= t < t0 + timedelta(minutes=70)
              or t >= boot + timedelta(hours=2)) and t.minute % 2 == 1:
            lines.append(rfc5424_line(shown, host, "krb5_child", 2917, fail))
        else:
            lines.append(rfc5424_line(shown, host, "CRON", 733, "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=60)
    (tmp_path / "web05").mkdir()
    (tmp_path / "web05" / "syslog").write_text("\n".join(lines) + "\n", encoding="utf-8")
    v = skewsleuth.investigate([tmp_path])
    first, *later = v.incidents
    assert first.onset == t0 + timedelta(minutes=61) and first.symptoms == 5
    assert later and sum(i.symptoms for i in later) == 30, [(i.onset, i.symptoms) for i in v.incidents]
