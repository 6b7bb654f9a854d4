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
