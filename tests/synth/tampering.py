"""A workstation whose clock a person set, with no failure anywhere: the findings' case.

ws07 (Windows 10) writes System.xml (Event Viewer's XML, CRLF) and Security.xml (a
UTF-16 wevtutil export), with ordinary records around five changes of its clock:

1. a user runs ``Set-Date`` in PowerShell: +259,200 s (Security 4616 by powershell.exe
   as FLEET\\mallory, and Kernel-General 1 under her SID);
2. W32Time sets it back at its next sync: -259,424 s (4616 by svchost.exe as LOCAL
   SERVICE, Kernel-General 1 under LocalService), the 224 s the clock had gained before too;
3. and 4. she moves it +10 s and then -8 s in Settings (4616 by dllhost.exe, the COM
   surrogate the Date and Time page elevates through, and Kernel-General 1 each);
5. a Kernel-General 1 of +66 s under a SID no 4616 explains (auditing was off by then).

Message texts and fields: Microsoft, "4616(S): The system time was changed" (Subject,
Process Information, PreviousTime, NewTime), Kernel-General 1 ("The system time has
changed to %1 from %2.", Reason 1 "An application or system component changed the
time"), through the writers of :mod:`synth.phenomena`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from skewsleuth.demo.eventxml import filetime_text
from skewsleuth.demo.winevents import LOCAL_SERVICE_SID, PROVIDER_GUIDS

from .phenomena import UTC, Truth, _Machine, _sec4616, _security_noise, _system_noise, _write

MALLORY = ("S-1-5-21-3623811015-3361044348-30300820-1104", "mallory", "FLEET", "0x5d2c1")
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
SVCHOST = r"C:\Windows\System32\svchost.exe"
DLLHOST = r"C:\Windows\System32\dllhost.exe"
LOCAL_SERVICE = (LOCAL_SERVICE_SID, "LOCAL SERVICE", "NT AUTHORITY", "0x3e5")
ORPHAN_SID = "S-1-5-21-3623811015-3361044348-30300820-1107"

START = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
END = datetime(2025, 3, 10, 18, 0, tzinfo=UTC)
# (true instant, new offset, 4616's process and subject or None: no 4616, Kernel-General 1's SID)
CHANGES = [
    (datetime(2025, 3, 10, 9, 12, tzinfo=UTC), 259_424.0, POWERSHELL, MALLORY, MALLORY[0]),
    (datetime(2025, 3, 10, 9, 40, tzinfo=UTC), 0.0, SVCHOST, LOCAL_SERVICE, LOCAL_SERVICE_SID),
    (datetime(2025, 3, 10, 11, 5, tzinfo=UTC), 10.0, DLLHOST, MALLORY, MALLORY[0]),
    (datetime(2025, 3, 10, 11, 9, tzinfo=UTC), 2.0, DLLHOST, MALLORY, MALLORY[0]),
    (datetime(2025, 3, 10, 15, 30, tzinfo=UTC), 68.0, None, None, ORPHAN_SID),
]


def write(out: Path) -> Truth:
    offsets = [(None, 224.0)] + [(t, new) for t, new, *_ in CHANGES]
    ws = _Machine("ws07.fleet.test", offsets, "10.0.9.7", seed=20)
    ws.log("System.xml", "xml-doc", newline="\r\n")
    ws.log("Security.xml", "xml-doc", encoding="utf-16")
    _system_noise(ws, START, END)
    _security_noise(ws, START, END)
    for t, new, process, subject, sid in CHANGES:
        old = ws.offset(t - timedelta(seconds=1))
        ws.truth.steps.append((t, new - old))
        prev, now = t + timedelta(seconds=old), t + timedelta(seconds=new)
        # Kernel-General 1 under the SID the change ran as, logged on the new clock
        ws.win("System.xml", "System", t + timedelta(milliseconds=5), provider="Microsoft-Windows-Kernel-General",
               event_id=1, provider_guid=PROVIDER_GUIDS["Microsoft-Windows-Kernel-General"], user_sid=sid, task=1,
               keywords="0x8000000000000010", process_id=4,
               data={"NewTime": filetime_text(now), "OldTime": filetime_text(prev), "Reason": "1"},
               message=f"The system time has changed to {filetime_text(now)} from {filetime_text(prev)}.\n\n"
                       "Change Reason: An application or system component changed the time.")
        if process is not None:
            _sec4616(ws, t + timedelta(milliseconds=20), prev, now, process, 0x1f30, user=subject)
    return _write("tampering", out, [ws], None, healthy=[ws.fqdn])
