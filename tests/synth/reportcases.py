"""Evidence that made the HTML report's chart unreadable (issue 20), with the truth.

* :func:`security_4616_steps`: one workstation's Security log (Event Viewer "Save as
  XML") over forty minutes: logons every 20-60 s and a run of Security 4616 "The system
  time was changed" minutes apart, by W32Time (svchost.exe) and by an administrator's
  PowerShell, two of them 0.1 s apart (a segment of the clock that lasted 0.1 s).
* :func:`sparse_collection`: 75 hosts collected for a case, most of which say nothing
  about their clock (Security logons only); a few do: a domain controller whose
  W32Time reports sync, a server that rebooted (Security 4608), one whose clock
  W32Time stepped (Kernel-General 1 and Security 4616 by svchost.exe), and one whose
  clock a person set two hours ahead with PowerShell (4616, no other clock evidence: a
  real clock step whose offsets no evidence bounds), named to sort last.

The records are the ones :mod:`.phenomena` writes (the same event XML and messages, see
its sources); each builder returns :class:`~synth.phenomena.Truth`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from skewsleuth.demo.winevents import SYSTEM_SID

from .phenomena import (Truth, _Machine, _SEC_GUID, _kg1_w32time, _sec4616, _secs, _security_noise, _ts37,
                        _write)

__all__ = ["security_4616_steps", "sparse_collection", "SVCHOST", "POWERSHELL", "ADMIN"]

UTC = timezone.utc
SVCHOST = r"C:\Windows\System32\svchost.exe"
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
ADMIN = ("S-1-5-21-1004336348-1177238915-682003330-500", "Administrator", "CORP", "0x4c1a2")
_MACHINE = (SYSTEM_SID, "", "NT AUTHORITY", "0x3e7")


def _steps(m: _Machine, steps: list[tuple[datetime, float, str]]) -> None:
    """Log each (true instant, size, process) as a 4616 and keep it in the truth."""
    for t, d, process in steps:
        before = t + timedelta(seconds=m.offset(t - _secs(0.001)))
        _sec4616(m, t, before, before + _secs(d), process, 0x1a3c if process == POWERSHELL else 0x3f4,
                 user=ADMIN if process == POWERSHELL else _MACHINE)
        m.truth.steps.append((t, d))


def _offsets(steps: list[tuple[datetime, float, str]], start: float = 0.0) -> list[tuple[datetime | None, float]]:
    out: list[tuple[datetime | None, float]] = [(None, start)]
    for t, d, _ in steps:
        out.append((t, out[-1][1] + d))
    return out


# The 4616 run: sizes in seconds; the +30 s and its undoing are 0.1 s apart.
STEPS_4616 = [
    (datetime(2024, 5, 6, 15, 41, 10, tzinfo=UTC), 7.0, SVCHOST),
    (datetime(2024, 5, 6, 15, 43, 2, tzinfo=UTC), -3.5, SVCHOST),
    (datetime(2024, 5, 6, 15, 43, 40, tzinfo=UTC), 30.0, POWERSHELL),
    (datetime(2024, 5, 6, 15, 43, 40, 100000, tzinfo=UTC), -30.0, SVCHOST),
    (datetime(2024, 5, 6, 15, 44, 5, tzinfo=UTC), 120.0, POWERSHELL),
    (datetime(2024, 5, 6, 15, 47, 0, tzinfo=UTC), -120.0, SVCHOST),
    (datetime(2024, 5, 6, 15, 52, 30, tzinfo=UTC), 2.5, SVCHOST),
]


def security_4616_steps(out: Path | str) -> Truth:
    """ws01's Security log, 15:30-16:10: logons and the 4616 run of ``STEPS_4616``."""
    start, end = datetime(2024, 5, 6, 15, 30, tzinfo=UTC), datetime(2024, 5, 6, 16, 10, tzinfo=UTC)
    m = _Machine("ws01.corp.test", _offsets(STEPS_4616), "10.0.5.21", seed=20)
    m.log("Security.xml", "xml-doc")
    _security_noise(m, start, end, lo=20, hi=60)
    _steps(m, STEPS_4616)
    return _write("4616-run", Path(out), [m], notes="Security 4616 minutes apart, two 0.1 s apart")


def _startup(m: _Machine, t: datetime) -> None:
    """Security 4608 "Windows is starting up"."""
    m.win("Security.xml", "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
          event_id=4608, task=12288, keywords="0x8020000000000000", process_id=0x234,
          message="Windows is starting up.")
    m.truth.boots.append(t)


def sparse_collection(out: Path | str, hosts: int = 75) -> Truth:
    """``hosts`` hosts over eight hours, most without clock evidence (see the module's doc).
    The truth's ``culprit`` is the host a person set ahead; ``healthy`` the hosts whose
    logs say nothing of their clock."""
    start, end = datetime(2024, 9, 2, 6, 0, tzinfo=UTC), datetime(2024, 9, 2, 14, 0, tzinfo=UTC)
    names = [f"ws{k:03d}.corp.test" for k in range(hosts - 4)]
    dc = _Machine("dc01.corp.test", [(None, 0.0)], "10.0.9.1", seed=21)
    booted = _Machine("app01.corp.test", [(None, 0.0)], "10.0.9.2", seed=21)
    step_at = datetime(2024, 9, 2, 9, 12, 4, tzinfo=UTC)
    synced = _Machine("app02.corp.test", [(None, -95.0), (step_at, 0.0)], "10.0.9.3", seed=21)
    set_at = datetime(2024, 9, 2, 10, 41, 30, tzinfo=UTC)
    person = _Machine(f"ws{hosts - 1:03d}.corp.test", [(None, 0.0), (set_at, 7200.0)], "10.0.9.4", seed=21)
    quiet = [_Machine(n, [(None, 0.0)], f"10.0.{10 + k // 250}.{k % 250 + 2}", seed=21) for k, n in enumerate(names)]
    machines = [dc, booted, synced, person] + quiet
    for m in machines:
        m.log("Security.xml", "xml-doc")
        _security_noise(m, start, end, lo=900, hi=2400)
    dc.log("System.xml", "xml-stream")
    for t in (start + _secs(600 + 1800 * k) for k in range(16)):
        _ts37(dc, t, "time.windows.com,0x9 (ntp.m|0x9|10.0.9.1:123->40.119.6.228:123)")
    _startup(booted, datetime(2024, 9, 2, 11, 20, tzinfo=UTC))
    synced.log("System.xml", "xml-stream")
    _kg1_w32time(synced, step_at + _secs(0.01), step_at - _secs(95), step_at)
    _steps(synced, [(step_at, 95.0, SVCHOST)])
    _steps(person, [(set_at, 7200.0, POWERSHELL)])
    return _write("sparse-75", Path(out), machines, culprit=person.fqdn, culprit_offset_s=7200.0, since=set_at,
                  healthy=[m.fqdn for m in quiet], notes="75 hosts, four with clock evidence")
