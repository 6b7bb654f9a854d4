"""Runbook content per platform, role and offset; the inventory's fix: key; the WinRM
guard and session construction (no Windows host here: see test names)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from support.probe_helpers import IN_CI, free_port
from skewsleuth.fix import Basis, FixSettings, build, for_host, transport_for
from skewsleuth.remediation import WinrmSettings
from skewsleuth.probe import Inventory, InventoryError


def cmds(rb):
    return [s.command for s in rb.commands()]


def changing(rb):
    return [s.command for s in rb.steps if s.changes_state]


def test_seed_edge_five_hours_behind_gets_w32tm_and_the_access_edge_restart():
    rb = build("srv-lyncedge01.domain.com", "windows", roles=["lync-edge"], basis=Basis(-18000.0, 0.001),
               settings=FixSettings(peers=("time.domain.com",)))
    assert rb.action == "step" and rb.transport == "winrm"
    assert changing(rb) == ['w32tm /config /manualpeerlist:"time.domain.com,0x8" /syncfromflags:manual '
                            '/reliable:no /update', "w32tm /resync /rediscover",
                            'powershell -NoProfile -NonInteractive -Command "Restart-Service -Name RTCSRV"']
    assert rb.verify.command == "w32tm /stripchart /computer:time.domain.com /samples:3 /dataonly"
    assert any("whole number of hours (-5 h)" in n for n in rb.notes)


def test_windows_without_peers_syncs_from_the_domain_and_an_edge_is_told_to_give_peers():
    rb = build("edge", "windows", roles=["sfb-edge"], basis=Basis(-600.0))
    assert "w32tm /config /syncfromflags:domhier /update" in changing(rb)
    assert rb.verify.command == "w32tm /query /status"
    assert any("not domain members" in n for n in rb.notes)


def test_pdc_with_peers_is_a_reliable_source_and_kerberos_roles_purge_machine_tickets():
    dc = build("dc01", "windows", roles=["domain-controller"], basis=Basis(400.0),
               settings=FixSettings(peers=("0.pool.example", "1.pool.example")))
    assert ('w32tm /config /manualpeerlist:"0.pool.example,0x8 1.pool.example,0x8" /syncfromflags:manual '
            '/reliable:yes /update') in changing(dc)
    fe = build("fe01", "windows", roles=["lync-frontend"], basis=Basis(400.0))
    assert "klist -li 0x3e7 purge" in changing(fe) and not any("RTCSRV" in c for c in cmds(fe))


def test_beyond_w32time_correction_limit_sets_the_clock_by_hand_first():
    rb = build("edge", "windows", roles=["lync-edge"], basis=Basis(-90000.0))
    first = changing(rb)[0]
    assert "Set-Date -Adjust ([TimeSpan]::FromSeconds(90000))" in first
    assert "Set-Date" not in " ".join(cmds(build("edge", "windows", basis=Basis(-18000.0))))


@pytest.mark.parametrize("offset,action,command", [
    (-18000.0, "step", "chronyc makestep"),
    (2.5, "step", "chronyc makestep"),
    (0.4, "slew", "chronyc burst 4/4"),
    (None, "step", "chronyc makestep"),
])
def test_linux_chrony_steps_or_slews_by_the_offset(offset, action, command):
    rb = build("web01", "linux", basis=Basis(offset), limit_s=0.1)
    assert rb.action == action and command in changing(rb)
    assert cmds(rb)[0] == "chronyc sources -v" and rb.verify.command == "chronyc tracking"
    if offset and abs(offset) > 1:
        assert "would take" in next(s.why for s in rb.steps if "makestep" in s.command)


def test_within_the_limit_nothing_changes():
    rb = build("web01", "linux", basis=Basis(0.05), limit_s=1.0)
    assert rb.action == "none" and not rb.needs_fix and changing(rb) == []
    assert any("nothing to change" in n for n in rb.notes)


def test_timesyncd_sudo_services_and_restart_template():
    s = FixSettings(daemon="timesyncd", sudo=True, services=("nginx",))
    rb = build("web01", "linux", roles=["kerberos-client"], basis=Basis(-7200.0), settings=s)
    assert changing(rb) == ["sudo -n timedatectl set-ntp true", "sudo -n systemctl restart systemd-timesyncd",
                            "sudo -n systemctl restart sssd", "sudo -n systemctl restart nginx"]
    assert rb.verify.command == "timedatectl timesync-status"
    own = build("web01", "linux", basis=Basis(-7200.0),
                settings=FixSettings(services=("app",), restart="service {service} restart",
                                     chronyc="chronyc -h /run/chrony/chronyd.sock"))
    assert changing(own) == ["chronyc -h /run/chrony/chronyd.sock makestep", "service app restart"]


def test_investigation_remediation_is_the_same_runbook(seed_verdict):
    """rca renders skewsleuth.remediation: one source of truth for the steps."""
    fix = seed_verdict.to_dict()["incidents"][0]["remediation"][0]
    rb = build(fix["host"], "windows", roles=["lync-edge"], basis=Basis(-18000.0),
               settings=FixSettings(peers=("srv-lyncfe01.domain.com",)))
    assert [s.split("   # ")[0] for s in fix["steps"]] == [s.command for s in rb.steps]
    assert fix["verify"].startswith(rb.verify.command)


def test_inventory_platform_and_fix_key(tmp_path):
    inv = Inventory.from_dict({"hosts": [
        "dc01.domain.com",
        {"name": "srv-lyncedge01.domain.com", "roles": ["lync-edge"]},
        {"name": "web01.domain.com", "platform": "Linux", "fix": {
            "ssh": {"user": "ops", "port": 2222, "known_hosts": "~/kh", "client_keys": "~/.ssh/id"},
            "chronyc": "chronyc -h /run/chrony/chronyd.sock", "services": ["nginx"], "sudo": True}}]})
    dc, edge, web = inv.hosts
    assert (dc.platform, dc.fix) == (None, None)             # today's inventories read as before
    assert web.platform == "linux" and web.fix.ssh.port == 2222 and web.fix.ssh.client_keys == ("~/.ssh/id",)
    assert inv.host("WEB01") is web and inv.host("nope") is None
    assert for_host(edge, Basis(-18000.0)).platform_from == "roles"
    rb = for_host(dc, Basis(-18000.0))
    assert (rb.platform, rb.platform_from) == ("linux", "assumed") and "platform not given" in rb.notes[0]


@pytest.mark.parametrize("fix,message", [
    ({"sshh": {}}, "unknown key(s) sshh"),
    ({"ssh": {"user": "a", "pasword": "x"}}, "fix.ssh: unknown key(s) pasword"),
    ({"ssh": {"port": 0}}, "fix.ssh.port must be a port number"),
    ({"services": ["nginx; rm -rf /"]}, "is not a host or service name"),
    ({"peers": ["$(reboot)"]}, "is not a host or service name"),
    ({"chronyc": "chronyc; reboot"}, "is not a program path"),
    ({"restart": "systemctl restart"}, "must contain {service}"),
    ({"daemon": "openntpd"}, "fix.daemon must be one of chrony, ntpd, timesyncd"),
    ({"winrm": {"transport": "telnet"}}, "fix.winrm.transport must be one of"),
])
def test_bad_fix_keys_name_the_host(fix, message):
    with pytest.raises(InventoryError) as e:
        Inventory.from_dict({"hosts": [{"name": "web01", "fix": fix}]}, "hosts.yml")
    assert str(e.value).startswith("hosts.yml: hosts[0] (web01): ") and message in str(e.value)
    with pytest.raises(InventoryError, match="platform must be one of linux, windows"):
        Inventory.from_dict({"hosts": [{"name": "web01", "platform": "solaris"}]})


def need_pywinrm() -> None:
    """pywinrm is the [winrm] extra, which scripts/test-all.sh installs: missing in CI fails."""
    try:
        import winrm  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("pywinrm not installed (scripts/test-all.sh installs .[test,winrm])")
        pytest.skip("pywinrm not installed")


def test_windows_apply_without_pywinrm_says_how_to_install(monkeypatch):
    from skewsleuth.fix.winrm import INSTALL_HINT, MissingPywinrm

    monkeypatch.setitem(sys.modules, "winrm", None)          # as if pywinrm were not installed
    rb = build("edge", "windows", roles=["lync-edge"], basis=Basis(-18000.0))
    with pytest.raises(MissingPywinrm) as e:
        transport_for(rb)
    assert str(e.value) == INSTALL_HINT and "pip install 'skewsleuth[winrm]'" in INSTALL_HINT


def test_winrm_session_construction():
    need_pywinrm()
    from skewsleuth.errors import Unreachable
    from skewsleuth.fix.winrm import WinrmSession, endpoint

    s = WinrmSettings(user="DOMAIN\\ops", transport="kerberos")
    assert endpoint("edge.domain.com", s) == "https://edge.domain.com:5986/wsman"
    assert endpoint("edge", WinrmSettings(scheme="http")) == "http://edge:5985/wsman"
    with pytest.raises(Unreachable, match=r"set the password in \$SKEWSLEUTH_WINRM_PASSWORD"):
        WinrmSession("edge", s, env={}).connect()
    session = WinrmSession("edge.domain.com", s, env={"SKEWSLEUTH_WINRM_PASSWORD": "pw"}, operation_timeout=30).connect()
    t = session.protocol.transport
    assert session.url == "https://edge.domain.com:5986/wsman" and t.auth_method == "kerberos"
    assert t.server_cert_validation == "validate" and t.username == "DOMAIN\\ops"
    assert session.protocol.read_timeout_sec > session.protocol.operation_timeout_sec == 30


def test_winrm_refused_on_loopback_is_unreachable_before_any_command():
    need_pywinrm()
    from skewsleuth.errors import Unreachable
    from skewsleuth.fix.winrm import WinrmSession

    s = WinrmSettings(user="ops", address="127.0.0.1", port=free_port(), scheme="http", transport="ntlm")

    async def enter():
        async with WinrmSession("edge", s, env={"SKEWSLEUTH_WINRM_PASSWORD": "pw"}, operation_timeout=2):
            pass

    with pytest.raises(Unreachable) as e:
        asyncio.run(enter())
    assert str(e.value).startswith("cannot reach edge over WinRM (http://127.0.0.1:") and "\n" not in str(e.value)


def test_usage_fix_inventory_example_is_the_shape_the_code_reads():
    import re

    from conftest import ROOT
    import yaml

    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "usage.md").read_text(), re.S)
                if "fix:" in b]
    web, edge = Inventory.from_dict(yaml.safe_load(block)).hosts
    assert web.fix.sudo and web.fix.ssh.user == "ops" and web.fix.services == ("nginx",)
    assert edge.fix.winrm.user == "DOMAIN\\ops" and for_host(edge, Basis(-18000.0)).transport == "winrm"
    assert "sudo -n chronyc -h /run/chrony/chronyd.sock makestep" in changing(for_host(web, Basis(-18000.0)))
