"""The verdict's runbook from the evidence: the commands of the time daemon a host's logs
show, a plain word where they show none, and the NTP peer a trusted host of its network."""

from __future__ import annotations

import pytest

from skewsleuth.remediation import PEER_PLACEHOLDER, Basis, Peer, choose_peer, for_evidence


def cmds(rb):
    return [s.command for s in rb.commands()]


def text(rb):
    return " ".join(cmds(rb))


def test_a_linux_host_whose_logs_show_systemd_timesyncd_gets_timedatectl_and_no_chronyc_or_w32tm():
    rb = for_evidence("api01.corp.test", "linux", "systemd-timesyncd", basis=Basis(600.0), limit_s=300.0,
                      peer=Peer("ntp1.corp.test", "why"))
    assert rb.platform == "linux" and "timedatectl timesync-status" in cmds(rb)
    assert "systemctl restart systemd-timesyncd" in cmds(rb)
    assert "printf '[Time]\\nNTP=ntp1.corp.test\\n' | tee /etc/systemd/timesyncd.conf.d/skewsleuth.conf" in cmds(rb)
    assert "chronyc" not in text(rb) and "w32tm" not in text(rb) and "ntpq" not in text(rb)
    assert not any("shows its time service" in n for n in rb.notes)


def test_a_chronyd_host_gets_chronyc_makestep_and_the_peer_as_a_chrony_source():
    rb = for_evidence("db01.corp.test", "linux", "chronyd", basis=Basis(-7200.0), limit_s=300.0,
                      peer=Peer("ntp1.corp.test", "why"))
    assert cmds(rb) == ["chronyc sources -v", "chronyc makestep", "chronyc tracking"]
    assert any("'server ntp1.corp.test iburst' in chrony.conf" in n for n in rb.notes)
    assert "w32tm" not in text(rb) and "timedatectl" not in text(rb)


def test_an_ntpd_host_gets_ntpq_ntpdate_query_and_a_one_time_ntpd_gq_past_the_panic_threshold():
    rb = for_evidence("legacy7", "linux", "ntpd", basis=Basis(7200.0), limit_s=300.0,
                      peer=Peer("ntp1.corp.test", "why"))
    assert cmds(rb) == ["ntpq -p", "ntpdate -q ntp1.corp.test", "systemctl stop ntpd", "ntpd -gq",
                        "systemctl start ntpd", "ntpq -p"]
    assert [s.changes_state for s in rb.steps] == [False, False, True, True, True]
    assert "1000 s panic threshold" in rb.steps[2].why
    assert "chronyc" not in text(rb) and "w32tm" not in text(rb)


def test_an_ntpd_host_slightly_off_is_restarted_not_stepped():
    rb = for_evidence("legacy7", "linux", "ntpd", basis=Basis(0.5), limit_s=0.1)
    assert rb.action == "slew" and cmds(rb) == ["ntpq -p", "systemctl restart ntpd", "ntpq -p"]


def test_a_windows_host_gets_w32tm_with_the_peer_as_its_manual_peer_list():
    rb = for_evidence("srv-lyncedge01.domain.com", "windows", "w32time", roles={"lync-edge"},
                      basis=Basis(-18000.0), limit_s=300.0, peer=Peer("srv-lyncfe01.domain.com", "why"))
    assert rb.platform == "windows"
    assert 'w32tm /config /manualpeerlist:"srv-lyncfe01.domain.com,0x8" /syncfromflags:manual /reliable:no ' \
           '/update' in cmds(rb)
    assert "chronyc" not in text(rb) and "timedatectl" not in text(rb)
    assert not any("shows its time service" in n for n in rb.notes)


def test_a_windows_host_whose_logs_show_no_time_service_says_w32time_is_assumed():
    rb = for_evidence("fe01.domain.com", "windows", None, basis=Basis(-600.0), limit_s=300.0)
    assert "w32tm /resync /rediscover" in cmds(rb) and "chronyc" not in text(rb)
    assert any("no log of fe01.domain.com shows its time service" in n and "W32Time" in n for n in rb.notes)


def test_a_linux_host_whose_logs_show_no_time_service_is_told_to_find_it_first():
    rb = for_evidence("web01.corp.test", "linux", None, basis=Basis(900.0), limit_s=300.0)
    assert rb.steps[0].command.startswith("systemctl list-units") and not rb.steps[0].changes_state
    assert any("no log of web01.corp.test shows its time service: check which one runs" in n for n in rb.notes)
    assert "w32tm" not in text(rb)


def test_an_unknown_platform_says_so_and_labels_each_platforms_commands():
    rb = for_evidence("api02", "unknown", None, basis=Basis(600.0), limit_s=300.0)
    assert rb.platform == "unknown"
    assert any("no log of api02 shows its platform or its time service" in n for n in rb.notes)
    whys = {s.command: s.why for s in rb.steps}
    assert whys["w32tm /resync /rediscover"].startswith("on Windows: ")
    assert whys["chronyc makestep"].startswith("on Linux: ")
    assert "(Windows) or chronyc tracking (Linux)" in rb.verify.command


def test_a_daemon_names_the_platform_where_the_logs_do_not():
    rb = for_evidence("api03", "unknown", "chronyd", basis=Basis(600.0), limit_s=300.0)
    assert rb.platform == "linux" and "chronyc makestep" in cmds(rb) and "w32tm" not in text(rb)


def test_a_linux_daemon_in_windows_logs_gives_both_runbooks_and_says_why():
    rb = for_evidence("mixed01", "windows", "ntpd", basis=Basis(600.0), limit_s=300.0)
    assert rb.platform == "unknown" and "ntpq -p" in cmds(rb) and "w32tm /query /status" in cmds(rb)
    assert any("are windows's but show ntpd" in n for n in rb.notes)


REFS = ["gw01.dmz.test", "ntp1.corp.test", "ntp2.corp.test"]


def test_the_peer_is_a_trusted_host_of_the_same_domain():
    peer = choose_peer("api01.corp.test", REFS)
    assert peer.name == "ntp1.corp.test" and "domain corp.test" in peer.why


def test_the_peer_is_a_trusted_host_of_the_same_subnet_by_the_case_files_addresses():
    addresses = {"10.1.0.7": "legacy7", "10.1.0.5": "ntp2.corp.test", "192.0.2.1": "gw01.dmz.test"}
    peer = choose_peer("legacy7", REFS, addresses)
    assert peer.name == "ntp2.corp.test" and "subnet 10.1.0.0/24" in peer.why


def test_a_trusted_host_that_is_itself_a_candidate_is_never_the_peer():
    assert choose_peer("api01.corp.test", REFS, exclude={"ntp1.corp.test"}).name == "ntp2.corp.test"
    assert choose_peer("ntp1.corp.test", ["ntp1.corp.test"]).name is None


@pytest.mark.parametrize("host,addresses", [("api01.prod.test", {}), ("legacy9", {"10.9.0.9": "legacy9"}),
                                            ("legacy9", {})])
def test_no_peer_when_no_trusted_host_is_on_the_network_and_the_runbook_says_so(host, addresses):
    peer = choose_peer(host, REFS + ["$(reboot)"], {**addresses, "10.1.0.5": "ntp1.corp.test"})
    assert peer.name is None and PEER_PLACEHOLDER in peer.why and "on another network" in peer.why
    rb = for_evidence(host, "windows", "w32time", basis=Basis(600.0), limit_s=300.0, peer=peer)
    assert "gw01.dmz.test" not in text(rb) and "ntp1.corp.test" not in text(rb)
    assert rb.verify.command == f"w32tm /stripchart /computer:{PEER_PLACEHOLDER} /samples:3 /dataonly"
    assert peer.why in rb.notes
    assert "$(reboot)" not in peer.why


def test_a_windows_only_role_names_the_platform_where_no_log_of_the_host_does():
    rb = for_evidence("edge01", "unknown", None, roles={"lync-edge"}, basis=Basis(-18000.0), limit_s=300.0)
    assert rb.platform == "windows" and "w32tm /resync /rediscover" in cmds(rb) and "chronyc" not in text(rb)
    assert any("its role (lync-edge) runs only on Windows" in n for n in rb.notes)
