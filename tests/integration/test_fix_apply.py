"""`skewsleuth fix --apply` against a real sshd on 127.0.0.1, with runbooks aimed at real
chronyd -x servers (one five hours behind under faketime, like the seed's Edge).

Nothing here can change this machine's clock: chronyd -x has no clock control, so its
`makestep` fails ("500 Failure", logged as "Could not step system clock"), which is the
honest outcome of a step on such a server, and the faked clock stays wrong. The
dependent service "restart" is `touch <tmp>/restarted-<service>`: a real command run
over the SSH connection that restarts nothing and leaves a file behind, which proves
that it ran (and its absence that it did not).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import run_cli
from support.fix_helpers import chronyd_with_socket, sshd
from support.probe_helpers import free_port
from skewsleuth.fix import read_audit


@pytest.fixture(scope="module")
def ssh(tmp_path_factory):
    with sshd(tmp_path_factory.mktemp("sshd")) as s:
        yield s


@pytest.fixture(scope="module")
def behind():
    with chronyd_with_socket("-5h") as c:
        yield c


@pytest.fixture(scope="module")
def true_clock():
    with chronyd_with_socket(None) as c:
        yield c


def inventory(tmp: Path, ssh, chrony, *, name="lab01", extra: str = "", restart: str | None = None,
              ssh_port: int | None = None, known_hosts: Path | None = None) -> Path:
    restart = restart or f"touch {tmp}/restarted-{{service}}"
    f = tmp / "hosts.yml"
    f.write_text(f"""hosts:
  - name: {name}
    platform: linux
    probe: ["ntp://127.0.0.1:{chrony.port}"]
    fix:
      ssh:
        address: 127.0.0.1
        port: {ssh_port or ssh.port}
        user: {ssh.user}
        known_hosts: {known_hosts or ssh.known_hosts}
        client_keys: [{ssh.client_key}]
      chronyc: "{chrony.chronyc}"
      services: [timeclient]
      restart: {json.dumps(restart)}
{extra}""")
    return f


def history(tmp: Path, host: str, offset_s: float) -> Path:
    """A watch history (the table `skewsleuth watch` writes) whose last good measurement
    of ``host`` says ``offset_s``; an older one and a later failure must not be taken."""
    db = tmp / "watch.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE measurements(measured_at TIMESTAMPTZ, target VARCHAR, host VARCHAR, protocol VARCHAR, "
                "offset_s DOUBLE, uncertainty_s DOUBLE, rtt_s DOUBLE, ok BOOLEAN, error VARCHAR, "
                "tolerance_s DOUBLE, roles VARCHAR[])")
    con.execute("INSERT INTO measurements VALUES "
                "('2026-01-01 10:00:00+00', 'ntp://lab01', ?, 'ntp', -7200, 0.001, 0.0002, true, NULL, NULL, []),"
                "('2026-01-01 10:05:00+00', 'ntp://lab01', ?, 'ntp', ?, 0.0004, 0.0002, true, NULL, NULL, []),"
                "('2026-01-01 10:06:00+00', 'ntp://lab01', ?, 'ntp', NULL, NULL, NULL, false, 'timeout', NULL, [])",
                [host, host, offset_s, host])
    con.close()
    return db


def commands(events):
    return [e for e in events if e["event"] == "command"]


def test_apply_steps_the_clock_over_ssh_and_stops_where_makestep_fails(tmp_path, ssh, behind):
    inv = inventory(tmp_path, ssh, behind)
    audit = tmp_path / "audit.jsonl"
    before = ssh.logins()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--apply", "--yes", "--audit", str(audit),
                "--json", str(tmp_path / "out.json"))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert ssh.logins() == before + 1                       # one real SSH login ran the commands
    events = read_audit(audit)
    assert [e["event"] for e in events] == ["confirmed", "command", "command", "skipped", "skipped", "verified"]
    confirmed, sources, makestep, restart, tracking, verified = events
    assert confirmed["confirmation"] == "--yes" and confirmed["transport"] == "ssh"
    assert confirmed["runbook"]["action"] == "step"
    assert -18010 < confirmed["runbook"]["basis"]["offset_s"] < -17990      # measured now, five hours behind
    assert len({e["run"] for e in events}) == 1 and all(e["who"] and e["at"].endswith("Z") for e in events)
    # The real chronyd answered chronyc over its socket...
    assert sources["command"] == f"{behind.chronyc} sources -v" and sources["exit_status"] == 0
    assert "Source mode" in sources["stdout"]
    # ...and refused the step, as chronyd -x must: this machine's clock was not touched.
    assert makestep["command"] == f"{behind.chronyc} makestep" and makestep["changes_state"]
    assert makestep["exit_status"] == 1 and "500 Failure" in makestep["stdout"] + makestep["stderr"]
    assert "Could not step system clock" in behind.log.read_text()
    assert restart["command"] == f"touch {tmp_path}/restarted-timeclient" and "makestep" in restart["reason"]
    assert tracking["command"] == f"{behind.chronyc} tracking"
    assert not (tmp_path / "restarted-timeclient").exists()
    # The verification probe ran: the faked clock is still five hours behind.
    assert verified["verified"] is False and verified["exit_status"] == 1
    (m,) = verified["measurements"]
    assert m["ok"] and -18010 < m["offset_s"] < -17990
    assert verified["stopped_by"] == makestep["command"]
    assert "stopped:" in r.stdout and "not verified" in r.stdout
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["exit_status"] == 1 and [x["ran"] for x in out["results"]] == [True, True, False, False]


def test_apply_from_history_runs_every_command_and_verifies(tmp_path, ssh, true_clock):
    """The history says +0.5 s (beyond --max-offset 0.2): a slew runbook; the clock is
    right by now (a true-time chronyd), so the fresh probe verifies the fix."""
    inv = inventory(tmp_path, ssh, true_clock)
    db = history(tmp_path, "lab01", 0.5)
    audit = tmp_path / "audit.jsonl"
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--history", str(db), "--max-offset", "0.2",
                "--apply", "--yes", "--audit", str(audit))
    assert r.returncode == 0, (r.stdout, r.stderr)
    events = read_audit(audit)
    basis = events[0]["runbook"]["basis"]
    assert basis["source"] == "history" and basis["offset_s"] == 0.5 and basis["measured_at"] == "2026-01-01T10:05:00.000Z"
    ran = commands(events)
    assert [e["command"] for e in ran] == [f"{true_clock.chronyc} sources -v", f"{true_clock.chronyc} burst 4/4",
                                          f"touch {tmp_path}/restarted-timeclient", f"{true_clock.chronyc} tracking"]
    assert all(e["exit_status"] == 0 and e["duration_s"] >= 0 for e in ran)
    assert "200 OK" in ran[1]["stdout"] and "Reference ID" in ran[3]["stdout"]
    assert (tmp_path / "restarted-timeclient").exists()          # the "restart" ran over SSH
    assert events[-1]["event"] == "verified" and events[-1]["verified"] is True
    assert "verified: lab01 is within 0.2 s" in r.stdout


def test_failing_state_changing_step_stops_and_hostile_output_is_escaped(tmp_path, ssh, true_clock):
    hostile = r"printf '\033[2J\033[31mEVIL\r\nforged line\n' >&2; exit 3 # {service}"
    inv = inventory(tmp_path, ssh, true_clock, restart=hostile)
    db = history(tmp_path, "lab01", 0.5)
    audit = tmp_path / "audit.jsonl"
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--history", str(db), "--max-offset", "0.2",
                "--apply", "--yes", "--audit", str(audit))
    assert r.returncode == 1, (r.stdout, r.stderr)       # verified, but a step failed
    events = read_audit(audit)
    failed = [e for e in events if e["event"] == "command" and e["exit_status"] == 3]
    assert len(failed) == 1 and failed[0]["changes_state"]
    assert failed[0]["stderr"] == r"\x1b[2J\x1b[31mEVIL\r\nforged line\n"
    assert [e["event"] for e in events][-2:] == ["skipped", "verified"]     # tracking did not run
    raw = audit.read_text()
    assert "\x1b" not in raw and "\r" not in raw and len(raw.splitlines()) == len(events)
    assert "\x1b" not in r.stdout + r.stderr and "forged line" in r.stdout
    assert not any(line.startswith("forged line") for line in r.stdout.splitlines())


def test_no_terminal_and_no_yes_refuses_and_runs_nothing(tmp_path, ssh, behind):
    inv = inventory(tmp_path, ssh, behind)
    audit = tmp_path / "audit.jsonl"
    before = ssh.logins()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--apply", "--audit", str(audit))   # stdin: not a tty
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["skewsleuth: refusing to apply without confirmation: no terminal to "
                                             "ask on; give --yes to run unattended"]
    assert ssh.logins() == before
    events = read_audit(audit)
    assert [(e["event"], e["reason"]) for e in events] == [("refused", "no terminal to confirm on and no --yes")]


def _pty_run(args: list[str], answer: bytes, timeout: float = 30.0) -> tuple[int, str]:
    """The CLI on a pseudo-terminal: answer the prompt as a person would."""
    primary, secondary = pty.openpty()
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "skewsleuth", *args], stdin=secondary, stdout=secondary,
                            stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    seen, answered, end = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"[y/N]" in seen:
                    os.write(primary, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        return proc.wait(10), seen.decode(errors="replace")
    finally:
        os.close(primary)


def test_answering_no_at_the_prompt_runs_nothing(tmp_path, ssh, behind):
    inv = inventory(tmp_path, ssh, behind)
    audit = tmp_path / "audit.jsonl"
    before = ssh.logins()
    status, screen = _pty_run(["fix", "lab01", "--inventory", str(inv), "--apply", "--audit", str(audit)], b"n\n")
    assert status == 2, screen
    assert "Run these 4 commands (2 change state) on lab01 over ssh" in screen and "not confirmed" in screen
    assert ssh.logins() == before and not (tmp_path / "restarted-timeclient").exists()
    assert [(e["event"], e["reason"]) for e in read_audit(audit)] == [("refused", "declined at the prompt")]


def test_answering_yes_at_the_prompt_is_recorded_as_interactive(tmp_path, ssh, true_clock):
    inv = inventory(tmp_path, ssh, true_clock)
    db = history(tmp_path, "lab01", 0.5)
    audit = tmp_path / "audit.jsonl"
    status, screen = _pty_run(["fix", "lab01", "--inventory", str(inv), "--history", str(db), "--max-offset", "0.2",
                               "--apply", "--audit", str(audit)], b"y\n")
    assert status == 0, screen
    events = read_audit(audit)
    assert events[0]["confirmation"] == "interactive" and len(commands(events)) == 4


def test_unreachable_ssh_is_one_line_exit_2(tmp_path, ssh, true_clock):
    inv = inventory(tmp_path, ssh, true_clock, ssh_port=free_port())      # nothing listens there
    audit = tmp_path / "audit.jsonl"
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--history", str(history(tmp_path, "lab01", 0.5)),
                "--max-offset", "0.2", "--apply", "--yes", "--audit", str(audit))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("skewsleuth: cannot reach lab01 over SSH (ssh://") and "nothing ran" in line
    assert [e["event"] for e in read_audit(audit)] == ["confirmed", "unreachable"]


def test_unknown_host_key_is_refused(tmp_path, ssh, true_clock):
    """Host keys are checked: a known_hosts that names another key for the address stops the run."""
    import asyncssh

    other = tmp_path / "other_known_hosts"
    other.write_bytes(f"[127.0.0.1]:{ssh.port} ".encode()
                      + asyncssh.generate_private_key("ssh-ed25519").export_public_key())
    inv = inventory(tmp_path, ssh, true_clock, known_hosts=other)
    before = ssh.logins()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--history", str(history(tmp_path, "lab01", 0.5)),
                "--max-offset", "0.2", "--apply", "--yes", "--audit", str(tmp_path / "a.jsonl"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "cannot reach lab01 over SSH" in line and "host key" in line.lower()
    assert ssh.logins() == before


def test_runbook_without_apply_touches_nothing(tmp_path, ssh, behind):
    inv = inventory(tmp_path, ssh, behind)
    before = ssh.logins()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--json", "-")
    assert r.returncode == 0, r.stderr
    rb = json.loads(r.stdout)
    assert rb["action"] == "step" and rb["transport"] == "ssh" and rb["platform"] == "linux"
    assert [s["command"] for s in rb["steps"]] == [f"{behind.chronyc} sources -v", f"{behind.chronyc} makestep",
                                                   f"touch {tmp_path}/restarted-timeclient"]
    assert "Runbook for lab01" in r.stderr                   # the text goes to stderr when stdout is JSON
    assert ssh.logins() == before and not (tmp_path / "audit.jsonl").exists()


def test_a_command_that_hangs_is_timed_out_and_stops_the_run(tmp_path, ssh, true_clock):
    inv = inventory(tmp_path, ssh, true_clock, restart="sleep 3 # {service}", extra="      timeout_s: 1\n")
    audit = tmp_path / "audit.jsonl"
    start = time.monotonic()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--history", str(history(tmp_path, "lab01", 0.5)),
                "--max-offset", "0.2", "--apply", "--yes", "--audit", str(audit))
    assert r.returncode == 1 and time.monotonic() - start < 20, (r.stdout, r.stderr)
    hung = [e for e in read_audit(audit) if e["event"] == "command" and e["command"].startswith("sleep")]
    assert len(hung) == 1 and hung[0]["exit_status"] is None and hung[0]["error"].startswith("no exit within 1 s")
    assert read_audit(audit)[-2]["event"] == "skipped"


def test_host_keys_are_checked_even_without_a_known_hosts_setting(tmp_path, ssh, monkeypatch):
    """No fix.ssh.known_hosts: asyncssh reads ~/.ssh/known_hosts, and a host it does not
    list is refused (never trusted on first use)."""
    import asyncio

    from skewsleuth.errors import Unreachable
    from skewsleuth.remediation.settings import SshSettings
    from skewsleuth.fix.ssh import SshSession

    monkeypatch.setenv("HOME", str(tmp_path))              # an empty home: no known_hosts
    settings = SshSettings(user=ssh.user, port=ssh.port, address="127.0.0.1", client_keys=(str(ssh.client_key),))

    async def enter():
        async with SshSession("lab01", settings):
            pass

    before = ssh.logins()
    with pytest.raises(Unreachable, match="cannot reach lab01 over SSH"):
        asyncio.run(enter())
    assert ssh.logins() == before


def test_a_host_within_its_limit_has_nothing_to_apply(tmp_path, ssh, true_clock):
    inv = inventory(tmp_path, ssh, true_clock)
    before = ssh.logins()
    r = run_cli("fix", "lab01", "--inventory", str(inv), "--apply", "--yes", "--audit", str(tmp_path / "a.jsonl"))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "action: none" in r.stdout and "lab01 is within 1 s: nothing to apply" in r.stdout
    assert ssh.logins() == before and not (tmp_path / "a.jsonl").exists()
