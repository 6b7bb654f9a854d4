"""A fleet whose hosts keep time with different daemons, each host's log written as its
daemon writes it, for the runbooks the verdict chooses from the evidence.

``write_time_service_fleet(root, skewed)`` writes one folder per host and a case file:

* ntp1.corp.test (10.1.0.5): chronyd, synced; a reference.
* gw01.dmz.test (192.0.2.1): ntpd, synced; a reference too, listed first, on another
  network (the DMZ): never the peer of a corp host.
* db01.corp.test: chronyd that lost its source (RFC 5424 syslog).
* api01.corp.test: systemd-timesyncd that lost its server (journald export).
* api02.corp.test: systemd-timesyncd, synced (journald export).
* legacy7 (10.1.0.7, a short name): ntpd refusing a correction beyond its panic
  threshold (RFC 5424 syslog).
* app09: only JSON application logs (structlog): no platform, no time service.

Each host in ``skewed`` (name -> offset in seconds) is that far off true time all along,
a case-file observation says by how much, and it logs a skew failure every two minutes
from 60 to 90 minutes in (Kerberos for the Linux hosts, a JWT for app09); the others
keep true time. The message texts and where each comes from are next to them below.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from .applog import structlog_line
from .syslog import journald_line, rfc5424_line

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=timezone.utc)
SPAN = timedelta(hours=3)
REFERENCES = ("gw01.dmz.test", "ntp1.corp.test")
ADDRESSES = {"ntp1.corp.test": "10.1.0.5", "gw01.dmz.test": "192.0.2.1", "legacy7": "10.1.0.7"}
# host -> (writer, time daemon as clock.facts names it, None: no log shows one)
HOSTS = {"ntp1.corp.test": ("syslog", "chronyd"), "gw01.dmz.test": ("syslog", "ntpd"),
         "db01.corp.test": ("syslog", "chronyd"), "api01.corp.test": ("journald", "systemd-timesyncd"),
         "api02.corp.test": ("journald", "systemd-timesyncd"), "legacy7": ("syslog", "ntpd"),
         "app09": ("applog", None)}

# sssd's krb5_child on a clock skew (SSSD pull request 15, "Avoid returning System Error
# on clock skew"), as the Kerberos rule's own examples quote it.
KRB5_SKEW = "[krb5_child[2917]] [get_and_save_tgt] (0x0020): 1720: [-1765328347][Clock skew too great]"
# PyJWT's error for a token issued in the future (jwt/api_jwt.py, _validate_iat).
JWT_IAT = "ImmatureSignatureError: The token is not yet valid (iat)"

# What each daemon writes, (program, message) per minute in turn, synced or not.
DAEMON_LINES = {
    ("chronyd", True): [
        # chrony main.c: "chronyd version %s starting (%s)"
        ("chronyd", "chronyd version 4.3 starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER +SIGND "
                    "+ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)"),
        # chrony sources.c: "Selected source %s" (with the name since 4.0), as journals show it
        ("chronyd", "Selected source 203.0.113.10 (0.debian.pool.ntp.org)"),
    ],
    ("chronyd", False): [
        ("chronyd", "chronyd version 4.3 starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER +SIGND "
                    "+ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)"),
        # chrony ntp_core.c / sources.c, as a CentOS journal quoted on GitHub shows them:
        # "Source 203.107.6.88 offline", "Can't synchronise: no selectable sources"
        ("chronyd", "Source 10.1.0.5 offline"),
        ("chronyd", "Can't synchronise: no selectable sources"),
    ],
    ("ntpd", True): [
        # ntpd (ntp 4.2.8) start-up banner, and ntp_proto.c's "synchronized to %s, stratum %d"
        ("ntpd", "ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1): Starting"),
        ("ntpd", "synchronized to 198.51.100.7, stratum 2"),
    ],
    ("ntpd", False): [
        ("ntpd", "ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1): Starting"),
        # ntpd's kernel discipline, as Debian and Ubuntu journals show it
        ("ntpd", "kernel reports TIME_ERROR: 0x41: Clock Unsynchronized"),
        # ntp_loopfilter.c: "time correction of %.0f seconds exceeds sanity limit (%.0f);
        # set clock manually to the correct UTC time."
        ("ntpd", "time correction of 7200 seconds exceeds sanity limit (1000); set clock manually to the "
                 "correct UTC time."),
    ],
    ("systemd-timesyncd", True): [
        # systemd (>= 250) starting a unit: "Started %s - %s." (unit name, Description=)
        ("systemd", "Started systemd-timesyncd.service - Network Time Synchronization."),
        # timesyncd-manager.c (systemd >= 243), as an Ubuntu 22.04 journal shows it
        ("systemd-timesyncd", "Initial synchronization to time server 10.1.0.5:123 (ntp1.corp.test)."),
    ],
    ("systemd-timesyncd", False): [
        ("systemd", "Started systemd-timesyncd.service - Network Time Synchronization."),
        # timesyncd-manager.c: "Timed out waiting for reply from %s (%s)."
        ("systemd-timesyncd", "Timed out waiting for reply from 10.1.0.5:123 (ntp1.corp.test)."),
        # timesyncd-manager.c: "Network configuration changed, trying to establish connection."
        ("systemd-timesyncd", "Network configuration changed, trying to establish connection."),
    ],
}


def _lines(host: str, writer: str, daemon: str | None, offset_s: float | None) -> list[str]:
    shift = timedelta(seconds=offset_s or 0.0)
    said = DAEMON_LINES.get((daemon or "", offset_s is None), [])
    out, t, k = [], T0, 0
    while t < T0 + SPAN:
        minute = int((t - T0).total_seconds() // 60)
        failing = offset_s is not None and 60 <= minute < 90 and minute % 2 == 0
        if writer == "applog":
            out.append(structlog_line(t + shift, JWT_IAT if failing else "request finished", logger="api",
                                      host=host, level="error" if failing else "info"))
        else:
            if failing:
                program, msg = "krb5_child", KRB5_SKEW
            elif said and minute % 15 == 0:
                program, msg = said[k % len(said)]
                k += 1
            else:
                # cron(8) as Debian logs it
                program, msg = "CRON", "(root) CMD (run-parts /etc/cron.hourly)"
            if writer == "journald":
                out.append(journald_line(t + shift, host, program, 1 if program == "systemd" else 733, msg))
            else:
                out.append(rfc5424_line(t + shift, host, program, 733, msg))
        t += timedelta(seconds=60)
    return out


def write_time_service_fleet(root: Path | str, skewed: dict[str, float]) -> Path:
    """The fleet's evidence under ``root`` (one folder per host, ``case.yml``); the
    hosts in ``skewed`` are that many seconds off true time."""
    root = Path(root)
    for host, (writer, daemon) in HOSTS.items():
        folder = root / host.split(".")[0]
        folder.mkdir(parents=True, exist_ok=True)
        name = {"syslog": "syslog", "journald": "journal.json", "applog": "app.jsonl"}[writer]
        lines = _lines(host, writer, daemon, skewed.get(host))
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = T0 + timedelta(minutes=30)
    observations = "".join(
        f"  - {{host: {h}, at: '{at:%Y-%m-%d %H:%M:%S}', shown: '{at + timedelta(seconds=o):%Y-%m-%d %H:%M:%S}'}}\n"
        for h, o in skewed.items())
    hosts = "".join(f"  {h}: [{a}]\n" for h, a in ADDRESSES.items())
    (root / "case.yml").write_text(
        f"timezone: UTC\nreferences: [{', '.join(REFERENCES)}]\nhosts:\n{hosts}"
        + (f"observations:\n{observations}" if observations else ""), encoding="utf-8")
    return root
