"""The time service each host's logs show (clock.facts.time_services): the daemons' own
records, systemd starting their units, W32Time's events; the last one seen is the one
running; application logs name no daemon of the host."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import skewsleuth
from skewsleuth.clock.facts import time_services
from synth.applog import structlog_line
from synth.syslog import journald_line, rfc5424_line

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=timezone.utc)
CRON = "(root) CMD (run-parts /etc/cron.hourly)"   # cron(8) as Debian logs it


def _write(root, host: str, lines: list[str], name: str = "syslog") -> None:
    (root / host).mkdir()
    (root / host / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("services")
    at = [T0 + timedelta(minutes=k) for k in range(6)]
    # Moved from systemd-timesyncd to chrony: timesyncd's lines (timesyncd-manager.c, systemd
    # >= 243), then chronyd's (chrony main.c and sources.c).
    _write(root, "mix01", [
        journald_line(at[0], "mix01", "systemd-timesyncd", 410,
                      "Initial synchronization to time server 10.1.0.5:123 (ntp1.corp.test)."),
        journald_line(at[1], "mix01", "CRON", 733, CRON),
        journald_line(at[2], "mix01", "chronyd", 640, "chronyd version 4.3 starting (+CMDMON +NTP +REFCLOCK)"),
        journald_line(at[3], "mix01", "chronyd", 640, "Selected source 10.1.0.5 (ntp1.corp.test)"),
    ], "journal.json")
    # Only systemd names the daemon: "Started %s - %s." (systemd >= 250, Debian's
    # chrony.service Description=) and the older "Started %s." (ntp.service "Network Time Service").
    _write(root, "unit01", [rfc5424_line(at[0], "unit01", "systemd", 1,
                                         "Started chrony.service - chrony, an NTP client/server."),
                            rfc5424_line(at[1], "unit01", "CRON", 733, CRON)])
    _write(root, "unit02", [rfc5424_line(at[0], "unit02", "systemd", 1, "Started Network Time Service."),
                            rfc5424_line(at[1], "unit02", "CRON", 733, CRON)])
    # ntp 4.2.8 ntp_proto.c: "synchronized to %s, stratum %d"
    _write(root, "ntp01", [rfc5424_line(at[0], "ntp01", "ntpd", 812, "synchronized to 10.1.0.5, stratum 2"),
                           rfc5424_line(at[1], "ntp01", "CRON", 733, CRON)])
    _write(root, "none01", [rfc5424_line(t, "none01", "CRON", 733, CRON) for t in at])
    # A JSON application log whose service happens to be called chronyd says nothing of the host.
    _write(root, "app01", [structlog_line(t, "request finished", service="chronyd") for t in at], "app.jsonl")
    v = skewsleuth.investigate([root])
    return time_services(v.store, v.model.facts), v


def test_the_last_daemon_seen_is_the_one_running_and_every_one_seen_is_kept(services):
    found, v = services
    assert found["mix01"].daemon == "chronyd" and found["mix01"].seen == ("systemd-timesyncd", "chronyd")
    assert found["mix01"].platform == "linux" and found["mix01"].records == 3
    assert v.model.hosts["mix01"].time_service == found["mix01"]


def test_systemd_starting_a_daemons_unit_names_it(services):
    found, _ = services
    assert found["unit01"].daemon == "chronyd" and found["unit02"].daemon == "ntpd"
    assert found["ntp01"].daemon == "ntpd"


def test_hosts_whose_logs_show_no_daemon_have_none(services):
    found, v = services
    assert "none01" not in found and "app01" not in found
    assert v.model.hosts["none01"].time_service is None and v.model.hosts["app01"].platform == "unknown"


def test_the_seed_edge_keeps_time_with_w32time(seed_verdict):
    edge = seed_verdict.model.hosts["srv-lyncedge01.domain.com"].time_service
    assert edge is not None and (edge.daemon, edge.platform) == ("w32time", "windows")
