"""Boundaries of one host's clock found across its logs (issue 17): a step seen in
several logs is one step, sync claims bound only what follows them, a new boot's first
lines are not the old boot's last."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import skewsleuth
from synth.syslog import rfc5424_line

UTC = timezone.utc
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def _host(v: dict, name: str) -> dict:
    return next(h for h in v["hosts"] if h["host"] == name)


def _write(path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_one_unlogged_resync_seen_in_three_logs_is_one_step(tmp_path):
    """Three logs of one host go back 3 h, each at its own record (they write at
    different rates): one inferred step, two segments, not a chain of three."""
    host = "edge01.corp.test"
    back = timedelta(hours=-3)
    step_true = T0 + timedelta(hours=2)
    for name, app, every_s, lag_s in (("messages", "lyncsvc", 40, 0), ("daemon.log", "sipstack", 15, 7),
                                      ("auth.log", "sshd", 170, 23)):
        lines, t = [], T0 + timedelta(seconds=lag_s)
        while t < T0 + timedelta(hours=4):
            logged = t if t < step_true else t + back
            lines.append(rfc5424_line(logged, host, app, 100, f"{app} heartbeat"))
            t += timedelta(seconds=every_s)
        _write(tmp_path / "edge01" / name, lines)
    h = _host(skewsleuth.investigate([tmp_path]).to_dict(), host)
    assert len(h["steps"]) == 1, h["steps"]
    assert len(h["segments"]) == 2
    (step,) = h["steps"]
    # at most the tightest jump of the three logs: the step is -3 h, the logs saw
    # -3 h plus the true time between their records around it
    assert step["inferred"] and -10800 <= step["delta_s"] <= -10800 + 16


def _chrony_host(root, *, ahead_s: float, settle_ms: int) -> str:
    """A Linux host whose clock runs ``ahead_s`` ahead until chronyd selects a source
    and steps it ``settle_ms`` later. Texts from chrony's sources.c ("Selected source
    %s") and reference.c ("System clock was stepped by %.6f seconds")."""
    host = "app07.corp.test"
    fix_true = T0 + timedelta(hours=2)
    lines, t, fixed = [], T0, False
    while t < T0 + timedelta(hours=4):
        if t >= fix_true and not fixed:
            lines += [rfc5424_line(fix_true + timedelta(seconds=ahead_s), host, "chronyd", 612,
                                   "Selected source 192.0.2.10 (ntp1.corp.test)"),
                      rfc5424_line(fix_true + timedelta(milliseconds=settle_ms), host, "chronyd", 612,
                                   f"System clock was stepped by {-ahead_s:.6f} seconds")]
            fixed = True
        logged = t + timedelta(seconds=ahead_s if t < fix_true else 0)
        lines.append(rfc5424_line(logged, host, "cron", 411, "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=90)
    _write(root / "app07" / "syslog", lines)
    return host


def test_a_sync_report_logged_just_before_a_step_bounds_only_what_follows(tmp_path):
    """Issue 17, case 4: "Selected source" 2 ms before the step is no proof the
    stretch before the step was right: that stretch is the step's size off."""
    host = _chrony_host(tmp_path, ahead_s=600.0, settle_ms=2)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    before, after = _host(v, host)["segments"][0], _host(v, host)["segments"][-1]
    assert before["offset_low_s"] <= 600 <= before["offset_high_s"], before
    assert after["offset_low_s"] <= 0 <= after["offset_high_s"], after
    # nothing to set aside: the report is read as holding after the step, not before
    assert v["contradictions"] == []
    assert "sync" in after["basis"] and "sync" not in before["basis"]
