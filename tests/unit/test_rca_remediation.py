"""The verdict's remediation: one block per host, whatever number of candidates it holds,
the commands of the time daemon its logs show, and no suspect proposed as an NTP peer."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from skewsleuth.case import Case
from skewsleuth.clock.facts import TimeService
from skewsleuth.clock.model import ClockModel, HostClock, SegmentEstimate
from skewsleuth.clock.segments import Boundary, Segment
from skewsleuth.clock.solve import Interval
from skewsleuth.incident import Incident
from skewsleuth.rca import diagnose

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=timezone.utc)
AUTH, NTP1, NTP2, API = "auth01.corp.test", "ntp1.corp.test", "ntp2.corp.test", "api01.corp.test"


def _segment(sid: int, host: str, index: int, offset: float, start: timedelta, stop: timedelta,
             opened_by: Boundary | None = None, closed_by: Boundary | None = None) -> SegmentEstimate:
    shift = timedelta(seconds=offset)
    seg = Segment(sid, host, index, opened_by, closed_by, None, None, T0 + start + shift, T0 + stop + shift, 60)
    return SegmentEstimate(seg, Interval(offset - 1, offset + 1, offset, ["pairs"], []))


def _model() -> ClockModel:
    # auth01 is 600 s ahead, then a step takes it to 1200 s ahead: two clock errors, two
    # candidates, one clock to fix. ntp1 is trusted by the case file yet 900 s ahead.
    step = Boundary(AUTH, "step", 0, 30, 30, T0 + timedelta(hours=1, seconds=600),
                    T0 + timedelta(hours=1, seconds=1200), 600.0)
    auth = [_segment(0, AUTH, 0, 600.0, timedelta(0), timedelta(hours=1), closed_by=step),
            _segment(1, AUTH, 1, 1200.0, timedelta(hours=1), timedelta(hours=3), opened_by=step)]
    ntp1 = [_segment(2, NTP1, 0, 900.0, timedelta(0), timedelta(hours=3))]
    ntp2 = [_segment(3, NTP2, 0, 0.0, timedelta(0), timedelta(hours=3))]
    chrony = TimeService("chronyd", "linux", ("chronyd",), 12)
    hosts = {AUTH: HostClock(AUTH, [], [step], auth, "linux", time_service=chrony),
             NTP1: HostClock(NTP1, [], [], ntp1, "linux", time_service=chrony),
             NTP2: HostClock(NTP2, [], [], ntp2, "linux", time_service=chrony)}
    return ClockModel(hosts, auth + ntp1 + ntp2, [], [])


def _incident() -> Incident:
    sig = "KRB_AP_ERR_SKEW"
    return Incident(1, T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=2), None, 10, [sig], {sig: 10},
                    [sig], ["kerberos"], 300.0, reporters=Counter({API: 10}),
                    named=Counter({AUTH: 8, NTP1: 2}), clock_pairs=Counter({(AUTH, API): 8, (NTP1, API): 2}))


def test_a_host_with_two_candidates_gets_one_remediation_block_and_no_suspect_is_its_peer():
    dg = diagnose(_incident(), _model(), Case(references=[NTP1, NTP2]), {})
    skews = [c.host for c in dg.root_causes if c.kind == "clock_skew"]
    assert sorted(skews) == [AUTH, AUTH, NTP1], skews
    assert sorted(r.host for r in dg.remediation) == [AUTH, NTP1]
    (fix,) = [r for r in dg.remediation if r.host == AUTH]
    assert any(s.startswith("chronyc makestep") for s in fix.steps)
    assert not any("w32tm" in s or "timedatectl" in s for s in fix.steps)
    # ntp1 is trusted by the case file but its own clock is a candidate: ntp2 is proposed
    assert any(n.startswith(f"NTP peer {NTP2}:") for n in fix.notes) and not any(NTP1 in n for n in fix.notes)
    (own,) = [r for r in dg.remediation if r.host == NTP1]
    assert any(n.startswith(f"NTP peer {NTP2}:") for n in own.notes)


@pytest.fixture(scope="module")
def fleet_verdict(tmp_path_factory):
    """db01 (chronyd) 2 h behind, legacy7 (ntpd) 2 h ahead, api01 (systemd-timesyncd)
    10 min ahead: Kerberos fails on all three (tests/synth/timeservices.py)."""
    import skewsleuth
    from synth.timeservices import write_time_service_fleet

    root = write_time_service_fleet(tmp_path_factory.mktemp("fleet"),
                                    {"db01.corp.test": -7200.0, "legacy7": 7200.0, "api01.corp.test": 600.0})
    return skewsleuth.investigate([root]).to_dict()


def test_each_host_gets_the_commands_of_the_daemon_its_logs_show_and_a_peer_of_its_network(fleet_verdict):
    (inc,) = fleet_verdict["incidents"]
    assert sorted(c["host"] for c in inc["root_causes"] if c["kind"] == "clock_skew") == \
        ["api01.corp.test", "db01.corp.test", "legacy7"]
    blocks = {r["host"]: r for r in inc["remediation"]}
    assert len(blocks) == len(inc["remediation"]) == 3
    steps = {h: " ".join(r["steps"]) + " " + r["verify"] for h, r in blocks.items()}
    assert "chronyc makestep" in steps["db01.corp.test"]
    assert "timedatectl timesync-status" in steps["api01.corp.test"]
    assert "NTP=ntp1.corp.test" in steps["api01.corp.test"]
    assert "ntpd -gq" in steps["legacy7"] and "ntpdate -q ntp1.corp.test" in steps["legacy7"]
    for host, text in steps.items():
        assert "w32tm" not in text, host
        assert ("chronyc" in text) == (host == "db01.corp.test"), host
        assert ("timedatectl" in text) == (host == "api01.corp.test"), host
        # gw01 is trusted and listed first, but in the DMZ: never a corp host's peer
        assert "gw01" not in text and not any("gw01" in n for n in blocks[host]["notes"]), host
    assert any("subnet 10.1.0.0/24" in n for n in blocks["legacy7"]["notes"])
    assert any("domain corp.test" in n for n in blocks["api01.corp.test"]["notes"])


def test_the_verdict_names_each_hosts_time_service(fleet_verdict):
    services = {h["host"]: h["time_service"] and h["time_service"]["daemon"] for h in fleet_verdict["hosts"]}
    assert services == {"ntp1.corp.test": "chronyd", "gw01.dmz.test": "ntpd", "db01.corp.test": "chronyd",
                        "api01.corp.test": "systemd-timesyncd", "api02.corp.test": "systemd-timesyncd",
                        "legacy7": "ntpd", "app09": None}


def test_a_host_with_only_application_logs_is_told_its_platform_is_unknown(tmp_path):
    """app09 writes only JSON application logs: no log says Windows or Linux, nor which
    time service it runs; it issues JWTs 15 min ahead that its clients reject."""
    import skewsleuth
    from synth.timeservices import write_time_service_fleet

    v = skewsleuth.investigate([write_time_service_fleet(tmp_path, {"app09": 900.0})]).to_dict()
    (block,) = [r for inc in v["incidents"] for r in inc["remediation"] if r["host"] == "app09"]
    assert any("no log of app09 shows its platform or its time service" in n for n in block["notes"])
    assert all("# on Windows: " in s or "# on Linux: " in s for s in block["steps"])
    # no trusted host shares a domain or a known subnet with a short name without addresses
    assert any(n.startswith("no trusted host (case file 'references') is on app09's network") for n in block["notes"])
    assert "<your NTP server>" in block["verify"] and "ntp1" not in " ".join(block["steps"])
