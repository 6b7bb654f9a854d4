"""A time difference seen from the Windows client's side (issue 19).

A workstation whose clock is ahead of its domain controller's logs the failures itself,
while the DC, audited as Windows audits it by default (Kerberos successes only), logs no
failure at all: only the tickets it issues the other members (4768 0x0). What the
workstation writes:

* LsaSrv 40960 (System, SPNEGO), naming the server it authenticated to: "The Security
  System detected an authentication error for the server ldap/dc01.corp.test. The failure
  code from authentication protocol Kerberos was "There is a time and/or date difference
  between the client and server.\\r\\n (0xc0000133)"." (the template and its fields
  Target, Protocol, Error: nasbench/EVTX-ETW-Resources LsaSrv.csv and
  airbus-cert/etl-parser LsaSrv.py; the error text the workstation of issue 19 logged;
  the system message's line end kept, as a public Get-EventLog export shows it);
* Security 4625 for the user's unlock, Status 0xC0000133 (the fields of Microsoft's
  "4625(F): An account failed to log on.", whose status table reads "0XC0000133 Clocks
  between DC and other computer too far out of sync").

dc01, the PDC emulator, synchronises with time.windows.com (W32Time 37), so the clock
model measures it right; the workstation's Windows Time service is stopped (Service
Control Manager 7036), so nothing measures its clock.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from skewsleuth.demo.winevents import service_state

from .phenomena import (UTC, Truth, _dc_kerberos, _every, _hosts_yaml, _Machine, _secs, _security_noise,
                        _system_noise, _ts37, _write)

S = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
E = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

_SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
_LSA_GUID = "{199FE037-2B82-40A9-82AC-E1D46C792B99}"
_TIME_DIFFERENCE = "There is a time and/or date difference between the client and server.\r\n (0xc0000133)"


def lsa_40960(m: _Machine, t: datetime, target: str) -> None:
    """LsaSrv 40960 on ``m`` at true ``t``: Kerberos failed for ``target`` (an SPN) with
    STATUS_TIME_DIFFERENCE_AT_DC."""
    error = f'"{_TIME_DIFFERENCE}"'
    m.win("System.xml", "System", t, provider="LsaSrv", provider_guid=_LSA_GUID, event_id=40960, level=3,
          process_id=m.pids["lsass"], data={"Target": target, "Protocol": "Kerberos", "Error": error},
          message=f"The Security System detected an authentication error for the server {target}. The failure code "
                  f"from authentication protocol Kerberos was {error}.")


def logon_4625(m: _Machine, t: datetime, user: str, status: str = "0xc0000133", sub_status: str = "0x0",
               logon_type: int = 7) -> None:
    """Security 4625 on ``m``: ``user``'s logon on the host itself (7: unlock) failed."""
    account = f"{m.short.upper()}$"
    m.win("Security.xml", "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
          event_id=4625, task=12544, keywords="0x8010000000000000", level=0, process_id=m.pids["lsass"],
          data={"SubjectUserSid": "S-1-5-18", "SubjectUserName": account, "SubjectDomainName": "CORP",
                "SubjectLogonId": "0x3e7", "TargetUserSid": "S-1-0-0", "TargetUserName": user,
                "TargetDomainName": "CORP", "Status": status, "FailureReason": "%%2304", "SubStatus": sub_status,
                "LogonType": str(logon_type), "LogonProcessName": "User32", "AuthenticationPackageName": "Negotiate",
                "WorkstationName": m.short.upper(), "TransmittedServices": "-", "LmPackageName": "-",
                "KeyLength": "0", "ProcessId": "0x2a4", "ProcessName": "C:\\Windows\\System32\\svchost.exe",
                "IpAddress": "127.0.0.1", "IpPort": "0"},
          message=f"An account failed to log on.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18\n\tAccount Name:\t\t{account}\n"
                  f"\tAccount Domain:\t\tCORP\n\tLogon ID:\t\t0x3E7\n\nLogon Type:\t\t\t{logon_type}\n\n"
                  f"Account For Which Logon Failed:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\t{user}\n"
                  f"\tAccount Domain:\t\tCORP\n\nFailure Information:\n\tFailure Reason:\t\tAn Error occured during "
                  f"Logon.\n\tStatus:\t\t\t{status}\n\tSub Status:\t\t{sub_status}\n\n"
                  f"Network Information:\n\tWorkstation Name:\t{m.short.upper()}\n\tSource Network Address:\t127.0.0.1\n"
                  f"\tSource Port:\t\t0")


def workstation_ahead(out: Path, offset: float = 420.0, members: int = 3) -> Truth:
    """ws07 is ``offset`` s ahead all the while (its Windows Time service stopped), and
    every ~12 min its Group Policy refresh fails against dc01 (LsaSrv 40960 naming
    ldap/ and cifs/dc01), and its user's unlocks fail (4625 0xC0000133). dc01 is right,
    synchronised with time.windows.com, and issues ``members`` other workstations their
    tickets (4768 0x0); it audits no Kerberos failure."""
    dc = _Machine("dc01.corp.test", [(None, 0.0)], "10.0.1.2", seed=19)
    others = [_Machine(f"ws{k:02d}.corp.test", [(None, 0.0)], f"10.0.1.{20 + k}", seed=19) for k in range(members)]
    ws = _Machine("ws07.corp.test", [(None, offset)], "10.0.1.27", seed=19)
    for m in [dc] + others + [ws]:
        _system_noise(m, S, E)
        _security_noise(m, S, E)
    for t in _every(S + _secs(40), E, 1700, 1900, dc.rng):
        _ts37(dc, t, "time.windows.com,0x8 (ntp.m|0x8|10.0.1.2:123->20.101.57.9:123)")
    for m in others:
        for t in _every(S, E, 500, 700, m.rng):
            _dc_kerberos(dc, m, t)
    ws.win("System.xml", "System", S + _secs(5), **service_state("W32Time", "Windows Time", "stopped"),
           process_id=ws.pids["services"])
    for k, t in enumerate(_every(S + _secs(60), E, 650, 800, ws.rng)):
        lsa_40960(ws, t, ("ldap/dc01.corp.test", "cifs/dc01.corp.test")[k % 2])
    for t in _every(S + _secs(300), E, 2400, 3600, ws.rng):
        logon_4625(ws, t, "amy.jones")
    hosts = [dc] + others + [ws]
    return _write("workstation-ahead", out, hosts, "timezone: UTC\n" + _hosts_yaml(hosts) + "changes: []\n",
                  culprit=ws.fqdn, culprit_offset_s=offset, since=None,
                  healthy=[m.fqdn for m in [dc] + others], incidents=1)
