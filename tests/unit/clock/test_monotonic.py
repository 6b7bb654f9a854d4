"""Clock steps, resumes and boots read from journald's two clocks.

Every journal entry carries ``__REALTIME_TIMESTAMP`` (the wall clock) and
``__MONOTONIC_TIMESTAMP`` (CLOCK_MONOTONIC, microseconds since the boot named by
``_BOOT_ID``), systemd.journal-fields(7), "Address Fields" and "Trusted Journal
Fields"; the monotonic clock is defined only together with the boot id
(sd_journal_get_monotonic_usec(3)). The exports below are written as
``journalctl -o json`` writes them: one object per line, every value a string,
``__CURSOR`` first, then the address fields, then the trusted and user fields. A host's
clock is simulated from true time: realtime = true + offset, monotonic = true time
awake since boot.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import skewsleuth
from skewsleuth.case import Case
from skewsleuth.clock.facts import read_facts
from skewsleuth.clock.monotonic import SOURCE, monotonic_facts
from skewsleuth.clock.segments import explicit_boundaries
from skewsleuth.reading.ingest import ingest
from skewsleuth.store import Store

UTC = timezone.utc
HOST = "app01.corp.test"
MACHINE = "5c0ffee0d15ea5e5bead0fdecaf00001"
BOOT_A = "2f0a6bd64c7e4a4c9e8a1d2b3c4d5e6f"
BOOT_B = "8d1c7e06b5aa4f0fa3b1c2d3e4f50617"
T0 = datetime(2024, 3, 11, 8, 0, tzinfo=UTC)


def _us(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


class Journal:
    """One host's journal, exported as ``journalctl -o json`` would."""

    def __init__(self, boot_id: str = BOOT_A, *, booted_s: float = 120.0) -> None:
        self.true = T0
        self.offset_us = 0                # realtime - true
        self.boot_id = boot_id
        self.mono_us = int(booted_s * 1e6)
        self.seqnum = 0x1a2b
        self.lines: list[str] = []

    # what happens to the host
    def wait(self, seconds: float) -> None:
        us = int(round(seconds * 1e6))
        self.true += timedelta(microseconds=us)
        self.mono_us += us

    def set_clock(self, by_us: int) -> None:
        """The clock is stepped (by ``date -s``, a hypervisor, a time service)."""
        self.offset_us += by_us

    def sleep(self, seconds: float) -> None:
        """Suspend: true time and the wall clock go on, CLOCK_MONOTONIC stands still."""
        self.true += timedelta(seconds=seconds)

    def reboot(self, boot_id: str, down_s: float = 90.0, *, banner: bool = True) -> None:
        self.true += timedelta(seconds=down_s)
        self.boot_id, self.mono_us = boot_id, 1_200_000
        if banner:
            self.kernel("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) "
                        "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 "
                        "(2024-02-01)")
            self.wait(0.001)
            self.kernel("Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet")

    # what it logs
    def entry(self, ident: str | None, message: str, *, pid: int | None = None, transport: str = "syslog",
              unit: str | None = None, jitter_us: int = 0, drop: tuple[str, ...] = (), **extra: str) -> dict:
        realtime = _us(self.true) + self.offset_us + jitter_us
        self.seqnum += 1
        e: dict[str, object] = {
            "__CURSOR": f"s=7e0c1f0d2a9b4c3e8f6a5b4c3d2e1f00;i={self.seqnum:x};b={self.boot_id};m={self.mono_us:x};"
                        f"t={realtime:x};x=9a8b7c6d5e4f3a2b",
            "__REALTIME_TIMESTAMP": str(realtime),
            "__MONOTONIC_TIMESTAMP": str(self.mono_us),
            "_BOOT_ID": self.boot_id,
            "PRIORITY": "6",
            "SYSLOG_FACILITY": "3" if transport != "kernel" else "0",
            "_MACHINE_ID": MACHINE,
            "_HOSTNAME": HOST,
            "_TRANSPORT": transport,
        }
        if ident is not None:
            e["SYSLOG_IDENTIFIER"] = ident
        if pid is not None:
            e.update({"_PID": str(pid), "_UID": "0", "_GID": "0", "_COMM": (ident or "")[:15]})
        if unit:
            e["_SYSTEMD_UNIT"] = unit
        e.update(extra)
        e["MESSAGE"] = message
        for k in drop:
            e.pop(k, None)
        self.lines.append(json.dumps(e, ensure_ascii=False))
        return e

    def say(self, ident: str, message: str, pid: int = 812, **kw) -> dict:
        return self.entry(ident, message, pid=pid, unit=f"{ident}.service", **kw)

    def kernel(self, message: str) -> dict:
        return self.entry("kernel", message, transport="kernel")

    def routine(self, n: int, every_s: float = 30.0, **kw) -> None:
        for i in range(n):
            self.wait(every_s)
            self.say("CRON", f"(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1) #{i}", pid=4000 + i,
                     **kw)

    def write(self, folder: Path) -> Path:
        d = folder / "app01"
        d.mkdir(parents=True, exist_ok=True)
        (d / "journal.json").write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return folder


def _store(folder: Path) -> Store:
    store = Store()
    ingest(store, [folder], Case(), workers=1)
    return store


def _steps(facts):
    return [f for f in facts if f.kind == "step"]


# --- the facts ---------------------------------------------------------------------------


def test_an_unlogged_step_back_of_three_hours_and_one_forward_of_400_s_are_found_to_the_microsecond(tmp_path):
    j = Journal()
    j.routine(10)
    j.wait(7.25)
    j.set_clock(-10_800_123_456)           # nothing logs it
    j.routine(10)
    j.wait(3.5)
    j.set_clock(+400_250_001)
    j.routine(10)
    facts = monotonic_facts(_store(j.write(tmp_path)))
    back, fwd = _steps(facts)
    assert [back.delta_s, fwd.delta_s] == [pytest.approx(-10800.123456, abs=1e-9),
                                          pytest.approx(400.250001, abs=1e-9)]
    assert {f.source for f in facts} == {SOURCE} and {f.setter for f in facts} == {"unknown"}
    assert len(facts) == 2
    # on the host clock: the first record after the step reads the new clock
    assert back.record_no == 10 and fwd.record_no == 20
    assert back.after == T0 + timedelta(seconds=30 * 11) - timedelta(microseconds=10_800_123_456) + timedelta(
        seconds=7.25)
    assert (back.after - back.before).total_seconds() == pytest.approx(-10800.123456, abs=1e-6)
    # the two records cited by file and position (a journal gives its records no number)
    assert "journal.json#9 (" in back.evidence[0] and "journal.json#10 (" in back.evidence[0]


def test_a_suspend_is_a_resume_not_a_step_and_a_step_soon_after_waking_still_is(tmp_path):
    j = Journal()
    j.routine(5)
    j.wait(2)
    j.say("systemd-logind", "The system will suspend now!", pid=611)
    j.wait(0.3)
    j.say("systemd-sleep", "Entering sleep state 'suspend'...", pid=30511)
    j.wait(0.1)
    j.kernel("PM: suspend entry (deep)")
    j.sleep(2 * 3600 + 17)                  # the lid is shut for two hours
    j.wait(0.4)
    j.kernel("PM: suspend exit")
    j.wait(0.02)
    j.say("systemd-sleep", "System returned from sleep state.", pid=30511)
    j.routine(2, every_s=20)
    j.wait(5)
    j.set_clock(+400_000_000)               # 45 s after waking, the clock is stepped
    j.routine(5)
    facts = monotonic_facts(_store(j.write(tmp_path)))
    (resume,) = [f for f in facts if f.kind == "resume"]
    assert resume.delta_s is None and resume.before < resume.after
    assert (resume.after - resume.before).total_seconds() == pytest.approx(2 * 3600 + 17.4, abs=1e-3)
    assert "suspend" in resume.evidence[0]
    (step,) = _steps(facts)
    assert step.delta_s == pytest.approx(400.0, abs=1e-9)
    assert not step.resume


def test_two_boots_are_seen_from_the_boot_id_with_or_without_a_kernel_banner(tmp_path):
    for banner in (False, True):
        j = Journal()
        j.routine(5)
        j.reboot(BOOT_B, banner=banner)
        j.say("systemd-journald", "Journal started", pid=241)
        j.routine(5)
        store = _store(j.write(tmp_path / str(banner)))
        (boot,) = monotonic_facts(store)
        assert (boot.kind, boot.record_no, boot.source) == ("boot", 5, SOURCE)
        assert BOOT_B in boot.evidence[0] and BOOT_A in boot.evidence[0]
        # the monotonic clock restarting is not a step, and the boot is one boundary
        bounds = explicit_boundaries(read_facts(store))[HOST]
        assert [b.kind for b in bounds] == ["boot"]
        assert {f.source for f in bounds[0].facts} == ({"kernel", SOURCE} if banner else {SOURCE})


def test_jitter_between_the_two_clocks_is_not_a_step(tmp_path):
    """journald reads CLOCK_REALTIME and CLOCK_MONOTONIC one after the other; a
    record's realtime may also be taken a little late. Under a second is no step."""
    j = Journal()
    for i in range(40):
        j.wait(15)
        j.say("nginx", f"worker {i} reloaded", pid=900 + i, jitter_us=(-1) ** i * 490_000)
    assert monotonic_facts(_store(j.write(tmp_path))) == []


def test_a_step_chronyd_logs_in_the_same_export_is_one_boundary(tmp_path):
    j = Journal()
    j.routine(6)
    j.wait(4)
    j.set_clock(-10_800_123_456)
    j.say("chronyd", "System clock was stepped by -10800.123456 seconds", pid=702)
    j.wait(0.2)
    j.say("chronyd", "Selected source 192.0.2.10 (ntp1.corp.test)", pid=702)
    j.routine(6)
    store = _store(j.write(tmp_path))
    facts = read_facts(store)
    (mono,) = [f for f in facts if f.source == SOURCE]
    assert mono.delta_s == pytest.approx(-10800.123456, abs=1e-9)
    assert (mono.setter, mono.process) == ("time_service", "chronyd")
    (step,) = [b for b in explicit_boundaries(facts)[HOST] if b.kind == "step"]
    assert sorted(f.source for f in step.facts) == ["chronyd", SOURCE]
    assert step.setter == "time_service"
    # chronyd's record says it: the monotonic fact corroborates without a second text
    chronyd = next(f for f in step.facts if f.source == "chronyd")
    assert step.evidence == [f"chronyd on {HOST} ({chronyd.ref}): System clock was stepped by -10800.123456 seconds"]
    assert chronyd.ref.endswith(f"journal.json#{chronyd.record_no}")


def test_damaged_records_without_a_monotonic_time_or_boot_are_skipped(tmp_path):
    """Records that lost their monotonic time or boot id say nothing about the two
    clocks: the step across them is measured between the good records around them."""
    j = Journal()
    j.routine(5)
    j.wait(30)
    j.set_clock(+400_250_001)
    j.say("sshd", "Accepted publickey for deploy from 198.51.100.7 port 51123 ssh2", pid=5120,
          drop=("__MONOTONIC_TIMESTAMP",))
    j.wait(30)
    j.say("sshd", "pam_unix(sshd:session): session opened for user deploy(uid=1001)", pid=5120,
          __MONOTONIC_TIMESTAMP="not-a-number")
    j.wait(30)
    j.say("sshd", "Received disconnect from 198.51.100.7 port 51123:11: disconnected by user", pid=5120,
          drop=("_BOOT_ID",))
    j.routine(5)
    store = _store(j.write(tmp_path))
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 13
    (step,) = monotonic_facts(store)
    assert (step.kind, step.record_no, step.delta_s) == ("step", 8, pytest.approx(400.250001, abs=1e-9))
    assert "journal.json#4 (" in step.evidence[0] and "journal.json#8 (" in step.evidence[0]


# --- through the whole investigation -------------------------------------------------------


def test_the_verdict_shows_the_unlogged_steps_with_their_exact_sizes_and_offsets(tmp_path):
    j = Journal()
    j.wait(1)
    j.say("chronyd", "Selected source 192.0.2.10 (ntp1.corp.test)", pid=702)   # in sync at the start
    j.routine(10)
    j.wait(7.25)
    j.set_clock(-10_800_123_456)
    j.routine(10)
    j.wait(3.5)
    j.set_clock(+400_250_001)
    j.routine(10)
    v = skewsleuth.investigate([j.write(tmp_path)]).to_dict()
    (h,) = [h for h in v["hosts"] if h["host"] == HOST]
    steps = [s for s in h["steps"] if s["source"] == SOURCE]
    assert [s["delta_s"] for s in steps] == [pytest.approx(-10800.123456, abs=1e-3),
                                            pytest.approx(400.250001, abs=1e-3)]
    assert len(h["steps"]) == 2             # the jump back is this step, not an inferred one too
    offsets = [s["offset_s"] for s in h["segments"]]
    assert offsets == [pytest.approx(0, abs=2.01), pytest.approx(-10800.12, abs=2.1),
                       pytest.approx(-10399.87, abs=2.1)]


@pytest.mark.parametrize("service", ["systemd-timesyncd", "chronyd"])
def test_boots_of_a_clock_reset_to_one_default_date_are_told_apart_by_their_boot_ids(tmp_path, service):
    """A dead CMOS battery: every boot comes up at the same default date, and a time
    service sets the clock right half a minute later. systemd-timesyncd logs
    "Synchronized to time server ..." after, on the new clock (manager_receive_response()
    in systemd's src/timesync/timesyncd-manager.c adjusts the clock before it logs);
    chronyd logs "Selected source ..." just before it steps, on the old clock, and
    "System clock was stepped by ..." after (chrony's sources.c, reference.c).
    A few records apart in a sparse journal, the two boots read the same logged times;
    their boot ids tell them apart, and each sync report holds for the stretch after
    its own step, not the one after the other boot's (which reads the same times)."""
    default = datetime(2018, 1, 28, tzinfo=UTC)
    boot_c = "c3d4e5f60718293a4b5c6d7e8f901a2b"
    j = Journal()
    j.routine(3)
    for boot_id in (BOOT_B, boot_c):
        j.offset_us = _us(default) - _us(j.true + timedelta(seconds=90))   # the RTC's time at power-on
        j.reboot(boot_id)
        j.wait(30)
        if service == "chronyd":
            j.say("chronyd", "Selected source 10.0.0.10 (ntp1.corp.test)", pid=611)
            j.wait(0.002)
        step_s = -j.offset_us / 1e6
        j.set_clock(-j.offset_us)
        j.wait(0.001)
        if service == "chronyd":
            j.say("chronyd", f"System clock was stepped by {step_s:.6f} seconds", pid=611)
        else:
            j.say("systemd-timesyncd", "Synchronized to time server 10.0.0.10:123 (ntp1.corp.test).", pid=480)
        j.routine(1, every_s=40)
    store = _store(j.write(tmp_path))
    bounds = explicit_boundaries(read_facts(store))[HOST]
    assert [b.kind for b in bounds] == ["boot", "step", "boot", "step"]
    assert len({f.boot_id for b in bounds if b.kind == "boot" for f in b.facts if f.boot_id}) == 2
    h = next(h for h in skewsleuth.investigate([tmp_path]).to_dict()["hosts"] if h["host"] == HOST)
    reset = [s for s in h["segments"] if s["offset_s"] is not None and s["offset_s"] < -1e8]
    # the first stretch has no evidence of its own but continuity (null: unbounded)
    right = [s for s in h["segments"] if (s["offset_low_s"] if s["offset_low_s"] is not None else -1e12)
             <= 0 <= (s["offset_high_s"] if s["offset_high_s"] is not None else 1e12)]
    assert len(reset) == 2 and len(right) == 3, h["segments"]
    for s in reset:   # each knows its own size: true - default, about six years
        assert s["offset_low_s"] <= s["offset_s"] <= s["offset_high_s"] < -1e8
