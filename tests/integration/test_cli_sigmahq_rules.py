"""A folder of rules written as SigmaHQ writes them, given to ``--rules`` over Windows
event XML: each rule marks the records it should, a SigmaHQ-named rule marks what the
built-in form marks, and the rule skewsleuth cannot express is skipped with a warning
while the rest still run."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from skewsleuth.demo.eventxml import event_xml, events_document

SIGMAHQ = Path(__file__).parents[1] / "data" / "sigmahq"
T = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
# the timeline names a rule by its signature: a SigmaHQ rule, with no skewsleuth block, by its file name
RDP, TIME_129, ENCODED, W32TIME = ("WIN_SECURITY_SUCCESSFUL_EXTERNAL_REMOTE_RDP_LOGIN",
                                   "WIN_SYSTEM_TIME_SERVICE_PROVIDER_NAME",
                                   "PROC_CREATION_WIN_WINDASH_BASE64OFFSET_ALL", "W32TIME_NO_SYNC")
IEX = "PROC_CREATION_WIN_POWERSHELL_BASE64_IEX"   # SigmaHQ's own base64offset rule


def _event(n: int, provider: str, event_id: int, channel: str, data: dict) -> str:
    return event_xml(provider=provider, event_id=event_id, logged=T.replace(minute=n), computer="dc01.corp",
                     channel=channel, record_id=n, data=data)


def _evidence(tmp_path: Path) -> Path:
    sec = "Microsoft-Windows-Security-Auditing"
    payload = base64.b64encode(b"a IEX (New-Object Net.WebClient).DownloadString('x')").decode()
    events = [_event(1, sec, 4624, "Security", {"LogonType": "10", "IpAddress": "203.0.113.9"}),
              _event(2, sec, 4624, "Security", {"LogonType": "10", "IpAddress": "10.1.2.3"}),
              _event(3, sec, 4624, "Security", {"LogonType": "10", "IpAddress": "fe80::1"}),
              _event(4, "Microsoft-Windows-Time-Service", 129, "System", {"DomainPeer": "dc02.corp"}),
              _event(5, sec, 4688, "Security", {"CommandLine": "powershell -e " + payload}),
              _event(6, sec, 4688, "Security", {"CommandLine": "notepad.exe /p report.txt"}),
              _event(7, "Microsoft-Windows-Kernel-General", 129, "System", {}),
              # IEX as PowerShell -EncodedCommand carries it: UTF-16LE, base64
              _event(8, sec, 4688, "Security", {"CommandLine": "powershell -enc " + base64.b64encode(
                  "iex (New-Object Net.WebClient)".encode("utf-16le")).decode()}),
              _event(9, sec, 4688, "Security", {"CommandLine": "powershell -e " + base64.b64encode(
                  b"Write-Output (New-Object Net.WebClient)").decode()})]
    folder = tmp_path / "evidence" / "dc01"
    folder.mkdir(parents=True)
    (folder / "dc01.xml").write_text(events_document(events), encoding="utf-8")
    return folder.parent


def test_sigmahq_rules_mark_their_records_and_the_inexpressible_one_is_skipped(tmp_path):
    evidence = _evidence(tmp_path)
    r = subprocess.run([sys.executable, "-m", "skewsleuth.cli", "timeline", str(evidence), "--rules", str(SIGMAHQ)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    marked = {row["record_id"]: set(row["symptoms"]) for row in map(json.loads, r.stdout.splitlines())}
    assert marked == {1: {RDP}, 2: set(), 3: set(), 4: {TIME_129, W32TIME}, 5: {ENCODED, IEX}, 6: set(), 7: set(),
                      8: {IEX}, 9: set()}
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: rule skipped:")]
    assert len(warnings) == 1 and "correlation_win_security_failed_logon_bruteforce_single_account.yml" in warnings[0]


def test_the_skip_is_a_note_of_the_verdict(tmp_path):
    evidence = _evidence(tmp_path)
    r = subprocess.run([sys.executable, "-m", "skewsleuth.cli", "investigate", str(evidence), "--rules", str(SIGMAHQ),
                        "--json", "-", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("rule skipped:") and "correlation rule" in n for n in notes), notes
