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


def _observed(root, host: str, at: datetime, shown: datetime, uncertainty_s: float | None = None) -> None:
    """A case file saying what ``host`` showed at true time ``at`` (skewsleuth/case.py)."""
    extra = "" if uncertainty_s is None else f"    uncertainty_s: {uncertainty_s:g}\n"
    (root / "case.yaml").write_text(
        f"timezone: UTC\nobservations:\n  - host: {host}\n    at: {at:%Y-%m-%d %H:%M:%S}\n"
        f"    shown: {shown:%Y-%m-%d %H:%M:%S}\n{extra}", encoding="utf-8")


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
    assert "sync" in after["basis"] and before["offset_low_s"] > 590


def test_the_new_boots_rsyslogd_start_line_is_not_the_old_boots_last(tmp_path):
    """Issue 17, case 5: rsyslog starts before it reads the kernel's ring buffer, so the
    new boot's ``[origin ...] start`` line comes before ``Linux version``; the kernel
    lines carry the kernel's (earlier) time. Taken as the old boot's last record, it put
    the old clock half a minute ahead of the new one. Texts: rsyslog's start banner
    (tools/rsyslogd.c), the kernel's linux_banner (init/version.c)."""
    host = "db02.corp.test"
    lines, t = [], T0
    while t < T0 + timedelta(hours=2):
        lines.append(rfc5424_line(t, host, "CRON", 733, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"))
        t += timedelta(seconds=60)
    boot = t + timedelta(seconds=120)
    lines.append(rfc5424_line(boot + timedelta(seconds=29), host, "rsyslogd", 512,
                              '[origin software="rsyslogd" swVersion="8.2102.0" x-pid="512" '
                              'x-info="https://www.rsyslog.com"] start'))
    lines.append(rfc5424_line(boot, host, "kernel", None,
                              "Linux version 5.10.0-21-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian "
                              "10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian "
                              "5.10.162-1 (2023-01-21)"))
    lines.append(rfc5424_line(boot, host, "kernel", None, "Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-21-amd64 ro quiet"))
    t = boot + timedelta(seconds=40)
    lines.append(rfc5424_line(t, host, "chronyd", 640, "Selected source 192.0.2.10 (ntp1.corp.test)"))
    while t < boot + timedelta(hours=2):
        t += timedelta(seconds=60)
        lines.append(rfc5424_line(t, host, "CRON", 901, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"))
    _write(tmp_path / "db02" / "syslog", lines)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    h = _host(v, host)
    assert h["boots"] == ["2024-05-06T10:02:00Z"]
    assert len(h["segments"]) == 2
    for seg in h["segments"]:      # the clock was right all along
        low, high = seg["offset_low_s"], seg["offset_high_s"]
        assert (low is None or low <= 0) and (high is None or high >= 0), seg
    assert v["contradictions"] == []


def _dc_restored_from_snapshot(root) -> str:
    """A domain controller whose clock VMware Tools sets 3 h back when it is restored
    from a snapshot (Security 4616 by vmtoolsd.exe), seen wrong by a person (case
    file), then set right by an administrator (4616 by powershell.exe). Fields of 4616
    from Microsoft's "4616(S): The system time was changed"."""
    from skewsleuth.demo.eventxml import event_stream, event_xml

    host = "dc01.corp.test"
    restore, fix = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    back = timedelta(hours=-3)
    ev, rid = [], 1

    def add(logged, provider, event_id, channel, data, sid=None):
        nonlocal rid
        ev.append(event_xml(provider=provider, event_id=event_id, logged=logged, computer=host, channel=channel,
                            record_id=rid, data=data, user_sid=sid))
        rid += 1

    def change(true_at, old, new, process):
        add(new, "Microsoft-Windows-Security-Auditing", 4616, "Security", {
            "SubjectUserSid": "S-1-5-18", "SubjectUserName": "DC01$", "PreviousTime": old.isoformat()
            .replace("+00:00", "Z"), "NewTime": new.isoformat().replace("+00:00", "Z"), "ProcessName": process})

    t = T0
    while t < T0 + timedelta(hours=5):
        offset = back if restore <= t < fix else timedelta(0)
        if t == restore:
            change(t, t, t + back, r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe")
        if t == fix:
            change(t, t + back, t, r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe")
        if t < restore and t.minute == 0:
            add(t, "Microsoft-Windows-Time-Service", 37, "System", {"TimeSource": "ntp1.corp.test,0x8"}, "S-1-5-19")
        add(t + offset, "Service Control Manager", 7036, "System", ["Windows Update", "running"])
        t += timedelta(minutes=5)
    _write(root / "dc01" / "system-and-security.xml", [event_stream(ev)])
    seen = T0 + timedelta(hours=2)
    _observed(root, host, seen, seen + back, uncertainty_s=60)
    return host


def test_a_hypervisor_agent_setting_the_clock_is_no_proof_of_true_time(tmp_path):
    """Issue 17, case 3: the time VMware Tools set is what the observation says (3 h
    behind), the administrator's fix brings it back to 0, and nothing is set aside."""
    host = _dc_restored_from_snapshot(tmp_path)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    h = _host(v, host)
    assert [s["set_by"] for s in h["steps"]] == ["agent", "user"]
    first, restored, fixed = h["segments"]
    assert first["offset_low_s"] <= 0 <= first["offset_high_s"]
    assert restored["offset_low_s"] <= -10800 <= restored["offset_high_s"] and restored["offset_high_s"] < -10000
    assert "observation" in restored["basis"]
    assert fixed["offset_low_s"] <= 0 <= fixed["offset_high_s"] and fixed["offset_high_s"] - fixed["offset_low_s"] < 200
    assert v["contradictions"] == []


def test_who_set_the_clock_is_a_fact_about_the_step():
    from skewsleuth.clock.facts import classify_setter

    assert classify_setter(r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe") == "agent"
    assert classify_setter(r"C:\Windows\System32\svchost.exe") == "time_service"
    assert classify_setter(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe") == "user"


def _behind_then_set_right(root, *, behind_s: float) -> str:
    """A Windows server ``behind_s`` behind until its clock is set right without a
    record of the step; W32Time reports sync from then on (Time-Service 37, "The time
    provider NtpClient is currently receiving valid time data from ..."), and a person
    saw the clock behind before the fix (case file)."""
    from skewsleuth.demo.eventxml import event_stream, event_xml

    host = "app02.corp.test"
    fix = T0 + timedelta(hours=2)
    ev, rid, t = [], 1, T0
    while t < T0 + timedelta(hours=5):
        offset = timedelta(seconds=-behind_s if t < fix else 0)
        if fix <= t and (t - fix) % timedelta(hours=1) == timedelta(0):
            ev.append(event_xml(provider="Microsoft-Windows-Time-Service", event_id=37, logged=t, computer=host,
                                channel="System", record_id=rid, user_sid="S-1-5-19",
                                data={"TimeSource": "dc01.corp.test (ntp.d|10.0.0.1:123->10.0.0.7:123)"}))
            rid += 1
        ev.append(event_xml(provider="Service Control Manager", event_id=7036, logged=t + offset, computer=host,
                            channel="System", record_id=rid, data=["Background Intelligent Transfer Service",
                                                                   "running" if rid % 2 else "stopped"]))
        rid += 1
        t += timedelta(minutes=2)
    _write(root / "app02" / "System.xml", [event_stream(ev)])
    seen = T0 + timedelta(hours=1)
    _observed(root, host, seen, seen - timedelta(seconds=behind_s))
    return host


def test_a_clock_set_forward_without_a_record_is_found_from_the_sync_after_it(tmp_path):
    """Issue 17, case 2: no jump back in any log, a forward leap no bigger than the
    log's pauses, sync reports only after the fix: the stretch before is 400 s behind,
    the one after right, and the step lies between the last record before the first
    sync report and that report."""
    host = _behind_then_set_right(tmp_path, behind_s=400)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    h = _host(v, host)
    assert len(h["segments"]) == 2, h["segments"]
    before, after = h["segments"]
    assert before["offset_low_s"] <= -400 <= before["offset_high_s"] and before["offset_high_s"] < -300
    assert after["offset_low_s"] <= 0 <= after["offset_high_s"]
    (step,) = h["steps"]
    assert step["source"] == "clock evidence" and step["inferred"]
    assert step["to"] == "2024-05-06T10:00:00Z"
    assert v["contradictions"] == []


def test_a_boundary_says_what_is_known_of_its_size():
    from skewsleuth.clock.segments import Boundary, StepSize

    t = T0
    logged = Boundary("h", "step", 1, 5, 5, t, t - timedelta(hours=3), -10800.0)
    jump = Boundary("h", "step", 1, 5, 5, t, t - timedelta(hours=3), None, inferred=True, delta_max_s=-10790.0)
    catch_up = Boundary("h", "step", 1, 5, 5, t, t + timedelta(seconds=400), 400.0, resume=True)
    boot = Boundary("h", "boot", 1, 5, 5, t - timedelta(minutes=2), t, None)
    leap = Boundary("h", "step", 1, 5, 5, t, t + timedelta(hours=1), None, inferred=True, source="log leap")
    assert [b.size for b in (logged, jump, catch_up, boot, leap)] == [
        StepSize.EXACT, StepSize.AT_MOST, StepSize.AT_MOST, StepSize.AT_MOST, StepSize.UNKNOWN]
    assert leap.candidate and not jump.candidate


def test_a_jump_back_after_a_logged_step_in_the_same_log_is_a_step_of_its_own():
    """A Security log wrote the 4616 of a -3 h step at record 63; 70 records later it
    goes back 805 s (an unlogged step). By times alone the 4616 step could lie between
    those two records (the old clock read 3 h ahead), but the log shows the 4616
    elsewhere: the jump is a step of its own. A log that does not show the step (a SIP
    trace) still has its jump explained by it."""
    from skewsleuth.clock.segments import Boundary, inferred_boundaries

    security, sip = 16, 15
    t = T0 + timedelta(hours=3)
    logged = Boundary("h", "step", security, 63, 63, t, t - timedelta(hours=3), -10800.0)
    prev, after = t - timedelta(hours=2, minutes=16), t - timedelta(hours=2, minutes=30)
    jumps = [("h", security, 131, 131, prev, after)]
    found = inferred_boundaries(None, {"h": [logged]}, jumps=jumps)  # type: ignore[arg-type]
    assert [(b.file_id, b.record_no) for b in found["h"]] == [(security, 131)]
    around = [("h", sip, 24, 24, t - timedelta(seconds=30), t - timedelta(hours=3) + timedelta(seconds=20))]
    assert inferred_boundaries(None, {"h": [logged]}, jumps=around) == {}  # type: ignore[arg-type]
    # ... nor when its last record before reads close to the step's (the old clock
    # was 45 min ahead, the jump is 2.7 h): two jumps of one log are two steps
    close = [("h", security, 170, 170, t - timedelta(minutes=2, seconds=36), t - timedelta(hours=4, minutes=44))]
    found = inferred_boundaries(None, {"h": [logged]}, jumps=close)  # type: ignore[arg-type]
    assert [(b.file_id, b.record_no) for b in found["h"]] == [(security, 170)]


def test_boundaries_are_ordered_by_the_log_that_names_most_of_them_in_its_write_order():
    """A 4616 step (-3 h) and a reboot after it, both in the Security log, and a jump
    back merged from a SIP trace and the Security log: by logged time the jump
    (07:27, on the set clock) would come before the step's old clock reading (09:43);
    the Security log's write order puts it last."""
    from skewsleuth.clock.segments import Boundary, order_chain

    security, system, sip = 16, 17, 15
    d = T0.replace(hour=0)
    step = Boundary("h", "step", security, 63, 63, d.replace(hour=9, minute=43), d.replace(hour=6, minute=43),
                    -10800.0, openers={system: 7}, seqs={system: 7})
    boot = Boundary("h", "boot", system, 15, 15, d.replace(hour=6, minute=56), d.replace(hour=7, minute=5), None,
                    openers={security: 79}, seqs={security: 79})
    jump = Boundary("h", "step", sip, 58, 58, d.replace(hour=7, minute=27), d.replace(hour=7, minute=15), None,
                    inferred=True, delta_max_s=-745.0, openers={security: 131}, seqs={security: 131})
    assert order_chain([jump, boot, step]) == [step, boot, jump]


def test_every_logs_write_order_orders_the_boundaries_it_names():
    """Security and System name a 4616 step (-45 min) and, later, a jump back of
    2.7 h; a SIP trace names the step and a step ahead after. No log names all three,
    and the SIP trace (lowest file id) names as many as the others: merged, their write
    orders give the one order, where the SIP trace alone would have put the Security
    jump first by its logged time (07:21, before the step's old clock reading, 07:24)."""
    from skewsleuth.clock.segments import Boundary, order_chain

    sip, security, system = 9, 10, 11
    d = T0.replace(hour=0)
    step = Boundary("h", "step", security, 85, 85, d.replace(hour=7, minute=24), d.replace(hour=6, minute=38),
                    -2721.0, openers={system: 21, sip: 34}, seqs={system: 21, sip: 34})
    jump = Boundary("h", "step", security, 170, 170, d.replace(hour=7, minute=21), d.replace(hour=4, minute=39),
                    None, inferred=True, delta_max_s=-9702.0, openers={system: 43}, seqs={system: 43})
    later = Boundary("h", "step", sip, 86, 86, d.replace(hour=6, minute=0), d.replace(hour=8, minute=43), None,
                     inferred=True)
    assert order_chain([later, jump, step]) == [step, jump, later]


def test_a_sparse_logs_jump_around_a_dense_logs_jump_is_the_same_step():
    """The Security log goes back 2.7 h between 07:21:23 and 04:39:41; a SIP trace,
    quiet for half an hour around it, between 06:59:54 and 05:20:57. The dense jump
    lies within the sparse one on both clocks: one step, not two (the second would be
    bounded by the SIP trace's quiet time and put the stretch between at >= -3837 s)."""
    from skewsleuth.clock.segments import Boundary, add_step

    d = T0.replace(hour=0)
    dense = Boundary("h", "step", 10, 170, 170, d.replace(hour=7, minute=21, second=23),
                     d.replace(hour=4, minute=39, second=41), None, inferred=True, delta_max_s=-9702.0)
    sparse = Boundary("h", "step", 9, 52, 52, d.replace(hour=6, minute=59, second=54),
                      d.replace(hour=5, minute=20, second=57), None, inferred=True, delta_max_s=-5937.0)
    other = Boundary("h", "step", 9, 60, 60, d.replace(hour=8), d.replace(hour=7, minute=40), None, inferred=True,
                     delta_max_s=-1200.0)
    steps: list = []
    for b in (dense, sparse, other):
        add_step(steps, b, jumps=True)
    assert steps == [dense, other] and dense.openers == {9: 52}


def test_a_jump_back_is_a_boots_only_next_to_that_boots_record_in_its_log():
    """From the evtx project's Security_with_size_t.evtx (tests/data/evtx): a 4608 at
    record 363 whose last record before read 22:13:57, and 40 records later a jump
    back from 22:15:19 to 10:29:54, the record just before the next 4608 (record 404,
    its clock read as local time, 10 h off). The jump is the second boot's mess, not
    the first boot's, although its record before reads within 5 min of that one's."""
    from skewsleuth.clock.segments import Boundary, inferred_boundaries

    d = T0.replace(year=2015, month=8, day=23, hour=0)
    first = Boundary("h", "boot", 1, 363, 363, d.replace(hour=22, minute=13, second=57),
                     d.replace(day=24, hour=8, minute=13, second=37), None)
    second = Boundary("h", "boot", 1, 404, 404, d.replace(hour=10, minute=29, second=54),
                      d.replace(hour=20, minute=29, second=28), None)
    jump = ("h", 1, 403, 403, d.replace(hour=22, minute=15, second=19), d.replace(hour=10, minute=29, second=54))
    assert inferred_boundaries(None, {"h": [first, second]}, jumps=[jump]) == {}  # type: ignore[arg-type]
    found = inferred_boundaries(None, {"h": [first]}, jumps=[jump])  # type: ignore[arg-type]
    assert [(b.file_id, b.record_no) for b in found["h"]] == [(1, 403)]


def _set_back_with_a_sparse_log(root, *, ahead_s: float) -> tuple[str, datetime]:
    """A Linux host ``ahead_s`` ahead until chronyd steps it back (chrony reference.c:
    "System clock was stepped by %.6f seconds"; sources.c: "Selected source %s"), with
    a dense syslog that shows the step and a sparse auth.log that does not: its record
    written 300 s after the step reads a time the old clock had read 600 s before it.
    Returns the host and that record's logged time."""
    host = "app09.corp.test"
    fix_true = T0 + timedelta(hours=2)
    lines, t, fixed = [], T0, False
    while t < T0 + timedelta(hours=4):
        if t >= fix_true and not fixed:
            lines.append(rfc5424_line(fix_true, host, "chronyd", 612,
                                      f"System clock was stepped by {-ahead_s:.6f} seconds"))
            fixed = True
        if fixed and t - fix_true >= timedelta(minutes=10) and (t - fix_true).seconds % 1800 < 60:
            lines.append(rfc5424_line(t, host, "chronyd", 612, "Selected source 192.0.2.10 (ntp1.corp.test)"))
        lines.append(rfc5424_line(t + timedelta(seconds=0 if fixed else ahead_s), host, "cron", 411,
                                  "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=60)
    _write(root / "app09" / "syslog", lines)
    auth = [fix_true - timedelta(minutes=70), fix_true - timedelta(minutes=20), fix_true + timedelta(minutes=5),
            fix_true + timedelta(minutes=45)]
    _write(root / "app09" / "auth.log", [
        rfc5424_line(a + timedelta(seconds=ahead_s if a < fix_true else 0), host, "sshd", 2201,
                     "Accepted publickey for deploy from 192.0.2.44 port 50514 ssh2") for a in auth])
    return host, fix_true + timedelta(minutes=5)


def test_a_record_logged_while_the_clock_read_a_stretch_twice_spans_both_clocks(tmp_path):
    """A log that does not show a step back holds no clue which side of it its records
    in the stretch the clock read twice were written on: the record written after the
    step is on neither segment alone, its true time spans both, and it says so. Its
    neighbours, logged before the stretch and after it, stay where they are."""
    host, twice = _set_back_with_a_sparse_log(tmp_path, ahead_s=900)
    v = skewsleuth.investigate([tmp_path])
    con = v.store.con
    rows = con.execute("""
        SELECT epoch_us(t.logged), t.segment_id, x.alt_segment_id, t.uncertainty_s, epoch_us(t.true_time)
        FROM timeline t JOIN files f USING (file_id) LEFT JOIN ambiguous_records x USING (file_id, record_no)
        WHERE f.path LIKE '%auth.log' ORDER BY t.logged""").fetchall()
    assert [r[2] is not None for r in rows] == [False, False, True, False], rows
    logged, seg, alt, uncertainty, true_us = rows[2]
    assert logged == int(twice.timestamp() * 1e6)
    before, after = v.model.hosts[host].segments
    assert (seg, alt) == (before.segment.segment_id, after.segment.segment_id)
    # the hull of +900 and 0: the true time is logged less 450 s, give or take 450 s
    assert 450 <= uncertainty <= 455
    assert abs((logged - true_us) / 1e6 - 450) < 3
    assert any("read again" in n and "auth.log" in n for n in before.notes), before.notes
    # the others: before the stretch on the old clock, after it on the new
    assert [r[1] for r in rows] == [before.segment.segment_id] * 3 + [after.segment.segment_id]
    assert rows[0][3] < 5 and rows[3][3] < 5


def test_a_record_read_twice_whose_messages_say_when_it_was_written_is_placed_by_them(tmp_path):
    """The same host also calls db01 (the reference) in the stretch its clock read
    twice, from a log that does not show the step: the reply it logged bounds its
    clock's offset from above by db01's, which rules the old clock out, so the reply
    is on the new clock alone. The request bounds it only from below (it was sent
    before db01 got it, whichever clock stamped it) and stays on both, as the
    unpaired auth.log record does."""
    from synth.applog import structlog_line

    host, twice = _set_back_with_a_sparse_log(tmp_path, ahead_s=900)
    sent = twice + timedelta(minutes=1)                  # after the step: logged as true
    app = [structlog_line(sent - timedelta(minutes=22, seconds=-900), "started", logger="app"),   # old clock
           structlog_line(sent, "calling db", logger="app", request_id="q1", direction="out", peer="db01:5432"),
           structlog_line(sent + timedelta(milliseconds=80), "db answered", logger="app", request_id="q1",
                          direction="in")]
    db = [structlog_line(sent - timedelta(hours=1), "ready", logger="db"),
          structlog_line(sent + timedelta(milliseconds=30), "query", logger="db", request_id="q1", direction="in"),
          structlog_line(sent + timedelta(milliseconds=50), "result", logger="db", request_id="q1", direction="out")]
    _write(tmp_path / "app09" / "app.jsonl", app)
    _write(tmp_path / "db01" / "app.jsonl", db)
    (tmp_path / "case.yaml").write_text("timezone: UTC\nreferences: [db01]\nreference_accuracy_s: 0.01\n",
                                        encoding="utf-8")
    v = skewsleuth.investigate([tmp_path])
    rows = v.store.con.execute("""
        SELECT f.path, t.segment_id, x.alt_segment_id IS NOT NULL, t.uncertainty_s
        FROM timeline t JOIN files f USING (file_id) LEFT JOIN ambiguous_records x USING (file_id, record_no)
        WHERE f.path LIKE '%app09/app.jsonl' OR (f.path LIKE '%auth.log' AND t.logged = ?) ORDER BY f.path, t.logged""",
        [twice]).fetchall()
    before, after = v.model.hosts[host].segments
    # (the log began on the old clock: its records in the stretch were placed there,
    # and the reply moves)
    assert [(r[0].rsplit("/", 1)[1], r[1], r[2]) for r in rows] == [
        ("app.jsonl", before.segment.segment_id, False), ("app.jsonl", before.segment.segment_id, True),
        ("app.jsonl", after.segment.segment_id, False), ("auth.log", before.segment.segment_id, True)], rows
    assert rows[0][3] < 5 and rows[1][3] > 400 and rows[2][3] < 5 and rows[3][3] > 400
    assert after.segment.events == v.store.con.execute(
        "SELECT count(*) FROM event_segments WHERE segment_id = ?", [after.segment.segment_id]).fetchall()[0][0]


def test_a_clock_set_by_hand_says_so(tmp_path):
    """An administrator runs `sudo date -s` (sudo's log line, plugins/sudoers/logging.c:
    "user : TTY=... ; PWD=... ; USER=root ; COMMAND=..."), the clock goes back two hours
    and no record sizes it; on another host timedatectl set-time moves it ahead an hour
    and systemd-timedated logs "Changed local time to %s" (timedated.c) on the new
    clock. Both steps were set by a person: the segment after each is suspect."""
    manual = "ops03.corp.test"
    lines, t = [], T0
    while t < T0 + timedelta(hours=4):
        if T0 + timedelta(hours=2) <= t < T0 + timedelta(hours=2, seconds=60):
            lines.append(rfc5424_line(t, manual, "sudo", None,
                                      "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
                                      "COMMAND=/usr/bin/date -s 2024-05-06 08:00:30"))
        shown = t if t < T0 + timedelta(hours=2, seconds=30) else t - timedelta(hours=2)
        lines.append(rfc5424_line(shown, manual, "CRON", 733, "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=60)
    _write(tmp_path / "ops03" / "syslog", lines)
    timed = "ops04.corp.test"
    lines, t = [], T0
    while t < T0 + timedelta(hours=4):
        later = t >= T0 + timedelta(hours=2)
        if T0 + timedelta(hours=2) <= t < T0 + timedelta(hours=2, seconds=60):
            lines.append(rfc5424_line(t + timedelta(hours=1), timed, "systemd-timedated", 912,
                                      "Changed local time to Mon 2024-05-06 11:00:00 UTC"))
        lines.append(rfc5424_line(t + timedelta(hours=1 if later else 0, seconds=5), timed, "CRON", 733,
                                  "(root) CMD (run-parts /etc/cron.hourly)"))
        t += timedelta(seconds=60)
    _write(tmp_path / "ops04" / "syslog", lines)
    v = skewsleuth.investigate([tmp_path])
    d = v.to_dict()
    (back,) = _host(d, manual)["steps"]
    assert back["set_by"] == "user" and back["inferred"]
    after = v.model.hosts[manual].segments[1]
    assert after.suspect and any("user" in n for n in after.notes), after.notes
    assert any("COMMAND=/usr/bin/date -s" in e for e in v.model.chains[manual][0].evidence)
    (ahead,) = _host(d, timed)["steps"]
    assert ahead["set_by"] == "user", ahead


def test_a_leap_whose_change_a_partners_sleep_could_take_instead_stays_open(tmp_path):
    """app05 is stepped two hours ahead during a 20-minute pause of its logs, with no
    record of it; at that time its partner db05 sleeps (systemd-sleep, sleep.c:
    "Entering sleep state" / "System returned from sleep state."). Their calls after
    it say app05 is two hours ahead of db05, which fits app05 stepping at its leap or
    db05 waking two hours behind: the evidence does not say which. Dropping the leap
    picked db05 and bounded both clocks wrong; the leap stays cut, and both intervals
    hold the truth."""
    from synth.applog import structlog_line

    app, db = "app05", "db05"
    pause = (T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=20))
    ahead = timedelta(hours=2)
    sys_app, sys_db, calls_app, calls_db = [], [], [], []
    t = T0
    while t < T0 + timedelta(hours=3):
        shown = t + (ahead if t >= pause[1] else timedelta(0))
        if not pause[0] <= t < pause[1]:
            sys_app.append(rfc5424_line(shown, f"{app}.corp.test", "CRON", 733, "(root) CMD (run-parts /etc/cron.hourly)"))
            if t < pause[0] and t.minute % 15 == 0:
                sys_app.append(rfc5424_line(shown, f"{app}.corp.test", "chronyd", 640,
                                            "Selected source 192.0.2.10 (ntp1.corp.test)"))
        if t == pause[0] + timedelta(minutes=2):
            sys_db.append(rfc5424_line(t, f"{db}.corp.test", "systemd-sleep", 1201, "Entering sleep state 'suspend'..."))
        elif t == pause[1] - timedelta(minutes=2):
            sys_db.append(rfc5424_line(t, f"{db}.corp.test", "systemd-sleep", 1201, "System returned from sleep state."))
        elif not pause[0] + timedelta(minutes=2) < t < pause[1] - timedelta(minutes=2):
            sys_db.append(rfc5424_line(t, f"{db}.corp.test", "CRON", 812, "(root) CMD (run-parts /etc/cron.hourly)"))
            if t < pause[0] and t.minute % 15 == 5:
                sys_db.append(rfc5424_line(t, f"{db}.corp.test", "chronyd", 655,
                                           "Selected source 192.0.2.10 (ntp1.corp.test)"))
        if t >= pause[1] + timedelta(minutes=5) and t.minute % 3 == 0:
            rid = f"req-{t:%H%M}"
            calls_app.append(structlog_line(shown, "calling db", logger="app", request_id=rid, direction="out",
                                            peer="db05:5432"))
            calls_db.append(structlog_line(t + timedelta(milliseconds=20), "query", logger="db", request_id=rid,
                                           direction="in"))
            calls_db.append(structlog_line(t + timedelta(milliseconds=40), "result", logger="db", request_id=rid,
                                           direction="out"))
            calls_app.append(structlog_line(shown + timedelta(milliseconds=60), "db answered", logger="app",
                                            request_id=rid, direction="in"))
        t += timedelta(seconds=60)
    _write(tmp_path / app / "syslog", sys_app)
    _write(tmp_path / db / "syslog", sys_db)
    _write(tmp_path / app / "app.jsonl", calls_app)
    _write(tmp_path / db / "app.jsonl", calls_db)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    for name, truth in ((app, [0.0, 7200.0]), (db, [0.0, 0.0])):
        segs = _host(v, f"{name}.corp.test")["segments"]
        assert len(segs) == 2, (name, segs)
        for seg, off in zip(segs, truth):
            low, high = seg["offset_low_s"], seg["offset_high_s"]
            assert (low is None or low - 2 <= off) and (high is None or off <= high + 2), (name, seg)


def test_a_jump_back_then_a_silent_fix_is_not_read_as_the_fix_of_a_clock_ahead(tmp_path):
    """web09's clock is set back 1,024 s with no record (its log goes back), and 23
    minutes later set right again during a five-minute pause of the log, with no
    record either; chronyd reports a source only after that. Read as one change, the
    jump back is the fix of a clock 1,024 s ahead; read as two, the clock was right
    before it. Nothing tells them apart: the stretch before the jump is not put ahead."""
    host = "web09.corp.test"
    back, fix, pause = T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=23), timedelta(minutes=5)
    lines, t = [], T0
    while t < T0 + timedelta(hours=3):
        if not fix - pause <= t < fix:
            shown = t - timedelta(seconds=1024) if back <= t < fix else t
            lines.append(rfc5424_line(shown, host, "CRON", 733, "(root) CMD (run-parts /etc/cron.hourly)"))
            if t >= fix and t.minute % 15 == 0:
                lines.append(rfc5424_line(t, host, "chronyd", 640, "Selected source 192.0.2.10 (ntp1.corp.test)"))
        t += timedelta(seconds=60)
    _write(tmp_path / "web09" / "syslog", lines)
    v = skewsleuth.investigate([tmp_path]).to_dict()
    first, *rest = _host(v, host)["segments"]
    low, high = first["offset_low_s"], first["offset_high_s"]
    assert (low is None or low <= 2) and (high is None or high >= -2), first
    last = rest[-1]
    assert last["offset_low_s"] <= 0 <= last["offset_high_s"]
