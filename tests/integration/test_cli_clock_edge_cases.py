"""The clock model on Linux evidence (chronyd, kernel, krb5kdc) and on harder cases: a
clock set by hand, an offset known only from an observation, contradictions: the part
that runs the command line, a real daemon or another process (the rest is in
tests/unit/clock/test_model_edge_cases.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import skewsleuth
from synth.syslog import krb5kdc_line, krb5kdc_skew_message, rfc3164_line
from conftest import run_cli


UTC = timezone.utc


# RFC 3164 lines carry no year: the files, written now, end in the last year whose
# March 3 (the day their lines are on) is past.
_NOW = datetime.now(UTC)
YEAR = _NOW.year if _NOW >= datetime(_NOW.year, 3, 4, tzinfo=UTC) else _NOW.year - 1


def _linux_fleet(root, *, with_step: bool = True):
    """app01 reboots at 12:00 and comes back 600 s ahead; kinit fails against kdc01
    until chronyd steps the clock back at 13:00 (if ``with_step``)."""
    T = lambda h, m, s=0: datetime(YEAR, 3, 3, h, m, s, tzinfo=UTC)  # noqa: E731
    app, kdc = root / "app01", root / "kdc01"
    app.mkdir()
    kdc.mkdir()
    off = timedelta(seconds=600)
    lines = [rfc3164_line(T(8, 0), "app01", "kernel", None, "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)"),
             rfc3164_line(T(8, 0, 40), "app01", "chronyd", 612, "Selected source 10.0.0.1 (ntp.corp)")]
    t = T(8, 5)
    while t < T(11, 59):
        lines.append(rfc3164_line(t, "app01", "CRON", 900, "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(minutes=7)
    lines.append(rfc3164_line(T(11, 59, 50), "app01", "systemd", 1, "Stopping chrony.service"))
    # came back 600 s ahead: logged = true + 600
    lines.append(rfc3164_line(T(12, 0, 30) + off, "app01", "kernel", None, "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)"))
    lines.append(rfc3164_line(T(12, 1) + off, "app01", "chronyd", 611, "No suitable source for synchronisation"))
    kdc_lines = []
    t = T(12, 5)
    while t < T(13, 0):
        lines.append(rfc3164_line(t + off, "app01", "kinit", 2000, "kinit: Clock skew too great while getting initial credentials"))
        kdc_lines.append(krb5kdc_line(t + timedelta(milliseconds=5), "kdc01", 777,
                                      krb5kdc_skew_message("svc@CORP.TEST", "krbtgt/CORP.TEST@CORP.TEST", "10.0.0.5")))
        t += timedelta(minutes=5)
    if with_step:
        lines.append(rfc3164_line(T(13, 0) + off, "app01", "chronyd", 611, "Selected source 10.0.0.1 (ntp.corp)"))
        lines.append(rfc3164_line(T(13, 0, 1) + off, "app01", "chronyd", 611,
                                  "System clock wrong by -600.000214 seconds, adjustment started"))
        lines.append(rfc3164_line(T(13, 0, 1), "app01", "chronyd", 611, "System clock was stepped by -600.000214 seconds"))
        t = T(13, 5)
        while t < T(15, 0):
            lines.append(rfc3164_line(t, "app01", "CRON", 900, "(root) CMD (run-parts /etc/cron.hourly)"))
            t += timedelta(minutes=7)
    kdc_lines.insert(0, krb5kdc_line(T(8, 0), "kdc01", 777, "commencing operation"))
    kdc_lines.append(krb5kdc_line(T(15, 0), "kdc01", 777, "AS_REQ (1 etypes {aes256-cts-hmac-sha1-96(18)}) 10.0.0.9: ISSUE: authtime 1, etypes {rep=18}, bob@CORP.TEST for krbtgt/CORP.TEST@CORP.TEST"))
    (app / "syslog").write_text("\n".join(lines) + "\n")
    (kdc / "krb5kdc.log").write_text("\n".join(kdc_lines) + "\n")
    (root / "case.yml").write_text(
        "timezone: UTC\nreferences: [kdc01]\nchanges:\n"
        f"  - at: {YEAR}-03-03 12:20\n    host: kdc01\n    what: Deployed new krb5.conf\n")
    return root


def test_linux_client_ahead_after_reboot_is_named_with_chronyd_step(tmp_path):
    root = _linux_fleet(tmp_path)
    r = run_cli("investigate", str(root), "--json", str(tmp_path / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    v = json.loads((tmp_path / "v.json").read_text())
    app = next(h for h in v["hosts"] if h["host"] == "app01")
    assert app["platform"] == "linux"
    step = next(s for s in app["steps"] if s["source"] == "chronyd")
    assert step["delta_s"] == pytest.approx(-600, abs=0.01) and step["set_by"] == "time_service"
    inc = v["incidents"][0]
    assert "KRB_AP_ERR_SKEW" in inc["signatures"]
    rc = inc["root_causes"][0]
    assert rc["host"] == "app01" and rc["kind"] == "clock_skew"
    assert rc["offset_s"] == pytest.approx(600, abs=2)
    since = datetime.fromisoformat(rc["since"].replace("Z", "+00:00"))
    assert abs((since - datetime(YEAR, 3, 3, 12, 0, 30, tzinfo=UTC)).total_seconds()) < 5
    fix = inc["remediation"][0]
    assert any("chronyc makestep" in s for s in fix["steps"]) and "chronyc tracking" in fix["verify"]
    ch = next(x for x in inc["ruled_out"] if "krb5.conf" in x["what"])
    assert "after the onset" in ch["reason"]


def test_without_the_step_the_reboot_still_bounds_the_offset(tmp_path):
    root = _linux_fleet(tmp_path, with_step=False)
    v = skewsleuth.investigate([root]).to_dict()
    app = next(h for h in v["hosts"] if h["host"] == "app01")
    seg = app["segments"][-1]
    # A reboot only says true time moved forward: the clock gained at most 640 s.
    assert seg["offset_high_s"] == pytest.approx(641, abs=2) and "boot" in seg["basis"]
