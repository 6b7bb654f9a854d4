"""Small random fleets with known clocks, written as the logs real hosts write, for the
clock model's property tests (issue 17).

:func:`make_clock_fleet` draws 4-8 hosts over three hours (a few thousand records in
all, so one investigation takes a second or two) and writes one folder per host:

* host 0 is the KDC, a Linux host whose clock is always true (the case file names it
  as the reference); every other host authenticates to it every ten minutes, and it
  logs ``PREAUTH_FAILED ... Clock skew too great`` while a client's clock is more than
  five minutes off (the clients on Linux log kinit's own complaint too, on their own
  clock): these are the fleet's only symptoms;
* Windows hosts write ``System.xml`` (``wevtutil qe System /f:RenderedXml``: sparse:
  services, boots, Kernel-General, Kernel-Power, Time-Service) and ``Security.xml``
  (Event Viewer "Save as XML": dense: logons, 4608, 4616), and with message pairs a
  Lync ``SIPStack.log``; Linux hosts write ``syslog`` (RFC 3164, dense) and
  ``journal.json`` (``journalctl -o json``, sparse, with ``__MONOTONIC_TIMESTAMP``
  and ``_BOOT_ID``).

What happens to the clocks is drawn from the enabled ``phenomena`` (:data:`ALL`):

``offset``          a clock wrong from before the evidence starts, never fixed
``step_back``       a clock ahead from the start, set back by its time service (logged:
                    Kernel-General 1 + Security 4616 by svchost.exe; chronyd "System
                    clock wrong by" + "System clock was stepped by")
``step_forward``    the same for a clock behind, set forward (the step issue 17 says is invisible)
``unlogged_step``   the clock jumps by thousands of seconds (either way) and no record
                    says so; sometimes it jumps back later, as silently
``resume``          sleep and resume (Kernel-Power 42/107; ``PM: suspend entry``/``exit``):
                    a real sleep keeps the clock, a VM suspend freezes it so it comes back
                    behind by the pause, caught up later by a logged step or never
``wrong_setter``    something sets a wrong time: vmtoolsd.exe (a VM snapshot's time), or a
                    user's powershell.exe / ``sudo date -s``; fixed later by an admin's
                    powershell (back to what it read before), by W32Time or chronyd
                    (to true time: their source is right), or never
``rtc_reset``       a Linux host boots with a dead CMOS battery at a date six years back,
                    and systemd-timesyncd's "Synchronized to time server" sets it right
``boots``           reboots (clock kept), with boot lines: Kernel-General 12, EventLog
                    6005/6009, Security 4608; kernel banners, the rsyslogd ``start`` line
                    that precedes them in /var/log/syslog, a new journald boot id
``syncs``           sync reports while the clock is true (Time-Service 37, chronyd
                    "Selected source", timesyncd), and chronyd's "Selected source" 2 ms
                    before it steps a wrong clock (issue 17 case 4: not proof of true time)
``pairs``           messages logged by both sides: SIP INVITE transactions among the
                    Windows hosts (same Call-ID and CSeq), requests with a request id among
                    the Linux hosts (and the KDC)

The truth (:class:`FleetTruth`) gives each host's offset as a function of true time,
its boundaries (kind, true instant, size) and whether it is healthy (offset 0 all
along), every file's records (true and logged time, in write order) and the true times
of the symptoms. Logged = true + offset. Output is a pure function of the arguments.

Message texts and where they come from:

* Kernel-Power 42 "The system is entering sleep." and 107 "The system has resumed from
  sleep.": the provider's manifest as listed at detection-wiki-dev.pages.dev/
  microsoft-windows-kernel-power; Power-Troubleshooter 1's "Sleep Time"/"Wake Time" as
  quoted in serverfault question 210166.
* ``PM: suspend entry (deep)``, systemd-sleep "Entering sleep state 'suspend'...":
  journal quoted in pop-os/pop issue 3313; ``PM: suspend exit``: aaronsb/sm-x800-linux
  issue 49; "System returned from sleep state.": systemd's sleep.c (SD_MESSAGE_SLEEP_STOP).
* systemd-timesyncd "Synchronized to time server 216.239.35.8:123 (time3.google.com).":
  systemd/systemd pull request 8696 and issue 11548.
* chronyd "Selected source", "System clock wrong by", "System clock was stepped by":
  chrony's reference.c / sources.c (as tests/synth/corpus.py writes them; the rules'
  tests quote chronyd 4.3).
* rsyslogd ``[origin software="rsyslogd" swVersion=... x-pid=... x-info="https://www.
  rsyslog.com"] start`` / ``exiting on signal 15.``: rsyslog's rsyslogd.c; the kernel
  banner ``Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) ...``: Debian 12.
* Security 4616 / 4608, Kernel-General 1 / 12 / 13, EventLog 6005 / 6006 / 6009:
  Microsoft's event documentation (4616(S): The system time was changed; 4608(S): Windows
  is starting up); Time-Service 37 from :mod:`skewsleuth.demo.winevents`.
* krb5kdc ``PREAUTH_FAILED ... Clock skew too great`` and kinit's "Clock skew too great
  while getting initial credentials": MIT krb5 1.20 (the rules' own tests).

    PYTHONPATH=tests python -m synth.clockfleet OUT --seed 3
"""

from __future__ import annotations

import json
import os
import random
import sys
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from skewsleuth.demo.eventxml import event_stream, event_xml, events_document, filetime_text
from skewsleuth.demo.sipstack import format_protocol_record
from skewsleuth.demo.winevents import (LOCAL_SERVICE_SID, PROVIDER_GUIDS, SYSTEM_SID, dns_timeout,
                                       group_policy_processed, service_state, time_synced)

from .syslog import journald_line, krb5kdc_line, krb5kdc_skew_message, rfc3164_line

__all__ = ["ALL", "FAULTS", "Boundary", "HostTruth", "FleetTruth", "make_clock_fleet", "main"]

ALL = frozenset({"offset", "step_back", "step_forward", "unlogged_step", "resume", "wrong_setter", "rtc_reset",
                 "boots", "syncs", "pairs"})
# The phenomena that can make a clock wrong; the others leave every clock true.
FAULTS = frozenset({"offset", "step_back", "step_forward", "unlogged_step", "resume", "wrong_setter", "rtc_reset"})

UTC = timezone.utc
DOMAIN = "fleet.test"
REALM = "FLEET.TEST"
START = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
SPAN_S = 3 * 3600
KRB_EVERY_S = 600
KRB_TOLERANCE_S = 300.0
# A dead CMOS battery: the clock comes up at this date (about six years back).
RTC_DEFAULT = datetime(2018, 1, 28, 0, 0, 0, tzinfo=UTC)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
_ADMIN_SID = "S-1-5-21-1004336348-1177238915-682003330-500"
_USERS = ("amy.jones", "bob.smith", "carol.nguyen", "dave.patel", "erin.lopez")
_VMTOOLS = r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"
_POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
_SVCHOST = r"C:\Windows\System32\svchost.exe"
_KERNEL_BANNER = ("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
                  "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)")
_KERNEL_CMDLINE = "Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0b4c6a7e-5f1e-4d3a-9c1b-2f7e8d9a0b1c ro quiet"
_RSYSLOG = 'software="rsyslogd" swVersion="8.2302.0" x-pid="{pid}" x-info="https://www.rsyslog.com"'
_SELECTED = "Selected source 10.0.0.10 (ntp1.fleet.test)"
_TIMESYNCD = "Synchronized to time server 10.0.0.10:123 (ntp1.fleet.test)."
_LINUX_NOISE = [
    ("sshd", 1021, "Accepted publickey for deploy from 10.20.3.7 port {n} ssh2: ED25519 "
                   "SHA256:Xq3bX0mQ9m8p3WlQhW1Vw2p8k4c9gCq7m5oJk1n2b3c", 2.0),
    ("CRON", 2210, "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", 1.0),
    ("systemd", 1, "Started session-{n}.scope - Session {n} of User deploy.", 2.0),
    ("systemd-logind", 612, "New session {n} of user deploy.", 1.0),
    ("kernel", None, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=10.9.8.7 DST=10.0.0.5 LEN=60 "
                     "TTL=64 ID={n} PROTO=TCP SPT=44123 DPT=23 WINDOW=64240 SYN", 1.5),
    ("nginx", 880, '10.1.2.3 - - "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"', 3.0),
]
_JOURNAL_NOISE = [
    ("systemd", 1, "Starting apt-daily.service - Daily apt download activities...", 1.0),
    ("systemd", 1, "Finished apt-daily.service - Daily apt download activities.", 1.0),
    ("systemd-logind", 612, "Session {n} logged out. Waiting for processes to exit.", 1.0),
    ("dbus-daemon", 540, "[system] Successfully activated service 'org.freedesktop.hostname1'", 0.5),
]
_REQ_WORDS = "request_id={r} direction={d} phase={ph} peer={p} method=GET path=/api/v1/orders status=200"
_DIRS = (("out", "request"), ("in", "request"), ("out", "response"), ("in", "response"))


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _iso(us: int | None) -> str | None:
    return None if us is None else _dt(us).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------------
# The truth


@dataclass
class Boundary:
    """A change of a host's clock or of its run: ``kind`` boot | shutdown | step | sleep |
    resume; ``delta_s`` the change of the offset there (0 when the clock was kept)."""
    kind: str
    true_us: int
    delta_s: float = 0.0
    logged: bool = True          # whether some record names it
    setter: str | None = None    # for steps: W32Time, vmtoolsd.exe, powershell.exe, chronyd, ...
    note: str = ""

    @property
    def true(self) -> datetime:
        return _dt(self.true_us)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "true": _iso(self.true_us), "delta_s": self.delta_s, "logged": self.logged,
                "setter": self.setter, "note": self.note}


@dataclass
class FileTruth:
    path: str                    # relative to the root: folder/name
    # per record in write order: (true µs, logged µs)
    records: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class HostTruth:
    host: str                    # FQDN as the logs name it
    folder: str
    platform: str                # windows | linux
    role: str                    # kdc | host
    # (from true µs, offset s): the first holds from before the evidence
    pieces: list[tuple[int, float]]
    boundaries: list[Boundary]
    down: list[tuple[int, int]]  # true µs intervals when the host wrote nothing (off, asleep)
    files: list[FileTruth] = field(default_factory=list)
    episodes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(abs(o) < 1e-6 for _, o in self.pieces)

    def offset_at(self, true: datetime | int) -> float:
        t = true if isinstance(true, int) else _us(true)
        o = self.pieces[0][1]
        for at, off in self.pieces:
            if t >= at:
                o = off
        return o

    def changes(self) -> list[tuple[int, float, float]]:
        """The true instants where the offset changes: (true µs, before, after)."""
        out, prev = [], self.pieces[0][1]
        for at, off in self.pieces[1:]:
            if abs(off - prev) > 1e-6:
                out.append((at, prev, off))
            prev = off
        return out

    def record_times(self) -> list[int]:
        return sorted(t for f in self.files for t, _ in f.records)

    def to_dict(self) -> dict:
        return {"host": self.host, "platform": self.platform, "role": self.role, "healthy": self.healthy,
                "episodes": self.episodes,
                "offsets": [{"from": _iso(a), "offset_s": o} for a, o in self.pieces],
                "boundaries": [b.to_dict() for b in self.boundaries],
                "files": {f.path: len(f.records) for f in self.files}}


@dataclass
class FleetTruth:
    root: Path
    seed: int
    phenomena: frozenset[str]
    start: datetime
    end: datetime
    hosts: list[HostTruth]
    references: list[str]
    symptoms: list[tuple[int, str]]   # (true µs, suspect host) of every symptom record written

    def host(self, name: str) -> HostTruth:
        key = name.lower().rstrip(".")
        for h in self.hosts:
            if key in (h.host, h.folder):
                return h
        raise KeyError(name)

    def healthy(self) -> list[str]:
        return [h.host for h in self.hosts if h.healthy]

    @property
    def records(self) -> int:
        return sum(len(f.records) for h in self.hosts for f in h.files)

    def file(self, rel: str) -> tuple[HostTruth, FileTruth]:
        for h in self.hosts:
            for f in h.files:
                if f.path == rel:
                    return h, f
        raise KeyError(rel)

    def symptom_bursts(self, gap_s: float = 1800.0) -> list[tuple[int, int]]:
        """The symptoms' true times grouped where they are less than ``gap_s`` apart."""
        ts = sorted(t for t, _ in self.symptoms)
        out: list[list[int]] = []
        for t in ts:
            if out and t - out[-1][1] <= gap_s * _US:
                out[-1][1] = t
            else:
                out.append([t, t])
        return [(a, b) for a, b in out]

    def to_dict(self) -> dict:
        return {"root": str(self.root), "seed": self.seed, "phenomena": sorted(self.phenomena),
                "start": _iso(_us(self.start)), "end": _iso(_us(self.end)), "records": self.records,
                "references": self.references, "symptoms": len(self.symptoms),
                "bursts": [[_iso(a), _iso(b)] for a, b in self.symptom_bursts()],
                "hosts": [h.to_dict() for h in self.hosts]}


# ----------------------------------------------------------------------------------
# Hosts as they are drawn and written

# render(logged µs, record number, host state at the record) -> the record's text
Render = Callable[[int, int, "_State"], str]


@dataclass
class _State:
    """What a record may need of the host when it is written."""
    boot_id: str
    monotonic_us: int


@dataclass
class _Rec:
    true_us: int
    file: str
    render: Render
    order: int = 0


class _Host:
    def __init__(self, index: int, platform: str, role: str, rng: random.Random, start_us: int, end_us: int):
        self.index = index
        self.platform = platform
        self.role = role
        prefix = {"kdc": "kdc", "windows": "win", "linux": "lnx"}[role if role == "kdc" else platform]
        self.fqdn = f"{prefix}{index:02d}.{DOMAIN}"
        self.folder = self.fqdn.split(".", 1)[0]
        self.rng = rng
        self.start_us, self.end_us = start_us, end_us
        self.pieces: list[tuple[int, float]] = [(start_us - 3600 * _US, 0.0)]
        self.boundaries: list[Boundary] = []
        self.down: list[tuple[int, int]] = []
        # after a resume, until its records are written: (from, to, the orders of its records)
        self.waking: list[tuple[int, int, frozenset[int]]] = []
        self.busy: list[tuple[int, int]] = []
        # per boot: (boot, rsyslogd started): /var/log/syslog holds nothing in between
        self.syslog_gaps: list[tuple[int, int]] = []
        self.recs: list[_Rec] = []
        self.episodes: list[str] = []
        # boots: true µs of each boot (the first before the evidence)
        self.boots: list[int] = [start_us - rng.randint(2, 20 * 24) * 3600 * _US]
        self.pid = rng.randrange(600, 4000, 4)
        self.ip = f"10.0.{index // 200}.{index % 200 + 10}"
        self.requests_in = "syslog" if rng.random() < 0.5 else "journal.json"
        self.files = (["System.xml", "Security.xml"] if platform == "windows" else ["syslog", "journal.json"])

    # -- the clock
    @property
    def offset0(self) -> float:
        return self.pieces[0][1]

    def set_offset0(self, off: float) -> None:
        self.pieces[0] = (self.pieces[0][0], off)

    def offset_at(self, true_us: int) -> float:
        o = self.pieces[0][1]
        for at, off in self.pieces:
            if true_us >= at:
                o = off
        return o

    def change(self, true_us: int, new: float) -> float:
        """The clock holds ``new`` from ``true_us`` on (until a later change); returns the delta."""
        old = self.offset_at(true_us)
        # episodes are drawn in time order: a change before a later one would undo what
        # that one's messages say happened
        assert all(at <= true_us for at, _ in self.pieces), f"{self.fqdn}: a clock change drawn out of time order"
        self.pieces = [p for p in self.pieces if p[0] < true_us] + [(true_us, new)]
        return new - old

    def logged(self, true_us: int) -> int:
        return true_us + int(round(self.offset_at(true_us) * _US))

    # -- time slots
    def up(self, true_us: int) -> bool:
        return self.start_us <= true_us < self.end_us and not any(a <= true_us < b for a, b in self.down)

    def reserve(self, length_s: float, lo_us: int | None = None, hi_us: int | None = None,
                margin_s: float = 300, after_busy: bool = False) -> int | None:
        """A free start in [lo, hi - length) for an episode of ``length_s``, or None;
        with ``after_busy``, after every slot reserved so far."""
        lo = self.start_us + 600 * _US if lo_us is None else lo_us
        hi = self.end_us - 600 * _US if hi_us is None else hi_us
        n = int(length_s * _US)
        m = int(margin_s * _US)
        if after_busy and self.busy:
            lo = max(lo, max(b for _, b in self.busy) + m)
        for _ in range(30):
            if hi - n <= lo:
                return None
            t = self.rng.randint(lo, hi - n)
            if all(t + n + m <= a or t >= b + m for a, b in self.busy):
                self.busy.append((t, t + n))
                return t
        return None

    def add(self, true_us: int, file: str, render: Render) -> None:
        self.recs.append(_Rec(true_us, file, render, len(self.recs)))

    # -- writing helpers: one line / event of each kind, rendered at its logged time
    def syslog(self, true_us: int, app: str, pid: int | None, msg: str, file: str = "syslog") -> None:
        if file == "syslog":
            self.add(true_us, file, lambda lg, n, st: rfc3164_line(_dt(lg), self.fqdn, app, pid, msg.replace("{n}", str(n))))
        else:
            self.add(true_us, file, lambda lg, n, st: journald_line(
                _dt(lg), self.fqdn, app, pid, msg.replace("{n}", str(n)), boot_id=st.boot_id,
                monotonic_us=st.monotonic_us))

    def both(self, true_us: int, app: str, pid: int | None, msg: str, lag_s: float = 0.0) -> None:
        """A line journald and rsyslog both keep (rsyslog a little later)."""
        self.syslog(true_us, app, pid, msg, "journal.json")
        self.syslog(true_us + int(lag_s * _US), app, pid, msg, "syslog")

    def win(self, true_us: int, file: str, **kw) -> None:
        channel = "Security" if file == "Security.xml" else "System"

        def render(lg, n, st, kw=kw):
            k = dict(kw)
            for key in list(k):
                if callable(k[key]):
                    k[key] = k[key](lg)
                elif isinstance(k[key], dict):
                    k[key] = {a: (v(lg) if callable(v) else v) for a, v in k[key].items()}
            return event_xml(logged=_dt(lg), computer=self.fqdn, channel=channel, record_id=n, **k)
        self.add(true_us, file, render)


# ----------------------------------------------------------------------------------
# What happens to a host


def _time_service_step_windows(h: _Host, t: int, new: float, setter: str = "W32Time", sid: str = LOCAL_SERVICE_SID,
                               process: str = _SVCHOST, syncs: bool = False) -> Boundary:
    """The clock set at ``t`` (true) to offset ``new``: Kernel-General 1 in System and
    4616 in Security, as the setter's process; W32Time reports its source afterwards."""
    old = h.offset_at(t)
    delta = h.change(t, new)
    old_logged = t + int(round(old * _US))
    new_logged = t + int(round(new * _US))
    h.win(t + 300, "System.xml", provider="Microsoft-Windows-Kernel-General", event_id=1,
          provider_guid=PROVIDER_GUIDS["Microsoft-Windows-Kernel-General"], user_sid=sid, task=1,
          keywords="0x8000000000000010", process_id=4,
          data={"NewTime": filetime_text(_dt(new_logged)), "OldTime": filetime_text(_dt(old_logged)), "Reason": "1"},
          message=f"The system time has changed to {filetime_text(_dt(new_logged))} from "
                  f"{filetime_text(_dt(old_logged))}.\n\nChange Reason: An application or system component changed the time.")
    h.win(t + 800, "Security.xml", provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
          event_id=4616, task=12288, keywords="0x8020000000000000", process_id=h.pid,
          data={"SubjectUserSid": sid, "SubjectUserName": "LOCAL SERVICE" if sid == LOCAL_SERVICE_SID else
                ("SYSTEM" if sid == SYSTEM_SID else "Administrator"),
                "SubjectDomainName": "NT AUTHORITY" if sid in (LOCAL_SERVICE_SID, SYSTEM_SID) else "FLEET",
                "SubjectLogonId": "0x3e5" if sid == LOCAL_SERVICE_SID else "0x3e7",
                "PreviousTime": filetime_text(_dt(old_logged)), "NewTime": filetime_text(_dt(new_logged)),
                "ProcessId": hex(h.pid + 4), "ProcessName": process},
          message="The system time was changed.")
    if syncs and setter == "W32Time" and abs(new) < 1e-6:
        _w32time_synced(h, t + 4 * _US)
    b = Boundary("step", t, delta, True, setter if setter != "W32Time" else "W32Time")
    h.boundaries.append(b)
    return b


def _w32time_synced(h: _Host, t: int) -> None:
    kw = time_synced(f"dc01.{DOMAIN},0x9 (ntp.d|{h.ip}:123->10.0.0.10:123)")
    h.win(t, "System.xml", **kw, provider_guid=PROVIDER_GUIDS["Microsoft-Windows-Time-Service"], process_id=h.pid + 8)


def _chronyd_step(h: _Host, t: int, new: float, syncs: bool = False) -> Boundary:
    """chronyd with makestep: says how wrong the clock is, steps it, then selects its source."""
    old = h.offset_at(t)
    if syncs:
        # issue 17 case 4: "Selected source" 2 ms before the step, on the wrong clock
        h.both(t - 2_000, "chronyd", 611, _SELECTED)
    # chrony's reference.c logs -offset, where offset > 0 is a clock that is fast: the
    # number is the correction to apply ("If offset < 0 the local clock is slow, so we are
    # applying a positive change to it"), as is the step's.
    h.both(t - 1_500, "chronyd", 611, f"System clock wrong by {new - old:.6f} seconds")
    delta = h.change(t, new)
    h.both(t + 500, "chronyd", 611, f"System clock was stepped by {delta:.6f} seconds")
    if syncs and abs(new) < 1e-6:
        h.both(t + 2 * _US, "chronyd", 611, _SELECTED)
    b = Boundary("step", t, delta, True, "chronyd")
    h.boundaries.append(b)
    return b


def _unlogged_step(h: _Host, t: int, new: float, note: str = "") -> Boundary:
    b = Boundary("step", t, h.change(t, new), False, None, note)
    h.boundaries.append(b)
    return b


def _fix(h: _Host, t: int, syncs: bool) -> Boundary:
    """The host's time service sets the clock right."""
    if h.platform == "windows":
        return _time_service_step_windows(h, t, 0.0, syncs=syncs)
    return _chronyd_step(h, t, 0.0, syncs=syncs)


def _magnitude(rng: random.Random) -> float:
    return round(rng.choice((rng.uniform(400, 7200), rng.uniform(600, 20000), 10800.0)), 3)


def _boot(h: _Host, down_at: int, up_at: int, phenomena: frozenset[str], rtc: bool = False) -> None:
    """Shut down at ``down_at``, boot at ``up_at`` (true); the clock is kept, or with
    ``rtc`` comes up at RTC_DEFAULT and timesyncd sets it right ~20-60 s later."""
    rng = h.rng
    if h.platform == "windows":
        h.win(down_at - 2 * _US, "System.xml", provider="EventLog", event_id=6006, qualifiers=32768,
              message="The Event log service was stopped.")
        h.win(down_at - 1 * _US, "System.xml", provider="Microsoft-Windows-Kernel-General", event_id=13,
              provider_guid=PROVIDER_GUIDS["Microsoft-Windows-Kernel-General"], process_id=4, task=0,
              data={"StopTime": lambda lg: filetime_text(_dt(lg))},
              message="The operating system is shutting down.")
    else:
        h.both(down_at - 3 * _US, "systemd", 1, "Reached target System Shutdown.")
        h.syslog(down_at - 1 * _US, "rsyslogd", None,
                 f"[origin {_RSYSLOG.format(pid=h.pid)}] exiting on signal 15.")
    h.down.append((down_at, up_at))
    h.boundaries.append(Boundary("shutdown", down_at, 0.0, True))
    h.boots.append(up_at)
    if rtc:
        before = h.offset_at(up_at)
        new = (_us(RTC_DEFAULT) - up_at) / _US
        h.change(up_at, new)
        h.boundaries.append(Boundary("boot", up_at, new - before, True, "rtc", "RTC reset to a default date"))
    else:
        h.boundaries.append(Boundary("boot", up_at, 0.0, True))
    if h.platform == "windows":
        h.win(up_at, "System.xml", provider="Microsoft-Windows-Kernel-General", event_id=12,
              provider_guid=PROVIDER_GUIDS["Microsoft-Windows-Kernel-General"], process_id=4, task=0,
              data={"MajorVersion": "10", "MinorVersion": "0", "BuildVersion": "17763",
                    "StartTime": lambda lg: filetime_text(_dt(lg - 15 * _US))},
              message=lambda lg: f"The operating system started at system time {filetime_text(_dt(lg - 15 * _US))}.")
        h.win(up_at + 15 * _US, "Security.xml", provider="Microsoft-Windows-Security-Auditing",
              provider_guid=_SEC_GUID, event_id=4608, task=12288, keywords="0x8020000000000000", process_id=h.pid,
              message="Windows is starting up.")
        h.win(up_at + 20 * _US, "System.xml", provider="EventLog", event_id=6009, qualifiers=32768,
              data=["10.00.", "17763 ", "Multiprocessor Free", "0"],
              message="Microsoft (R) Windows (R) 10.00. 17763  Multiprocessor Free.")
        h.win(up_at + 20 * _US + 1000, "System.xml", provider="EventLog", event_id=6005, qualifiers=32768,
              message="The Event log service was started.")
        if "syncs" in phenomena and abs(h.offset_at(up_at + 60 * _US)) < 1e-6:
            _w32time_synced(h, up_at + 60 * _US)
    else:
        h.syslog(up_at + 1000, "kernel", None, _KERNEL_BANNER, "journal.json")
        h.syslog(up_at + 2000, "kernel", None, _KERNEL_CMDLINE, "journal.json")
        rs = up_at + rng.randint(6, 12) * _US
        if rtc:
            # timesyncd steps the clock, then logs (manager_receive_response() in
            # systemd's src/timesync/timesyncd-manager.c: manager_adjust_clock(), then
            # log_info("Synchronized to time server ...")): on the new clock
            sync = up_at + rng.randint(20, 60) * _US
            _unlogged_step(h, sync, 0.0, "systemd-timesyncd's first sync after the RTC reset")
            h.boundaries[-1].logged = True
            h.boundaries[-1].setter = "systemd-timesyncd"
            h.syslog(sync + 1000, "systemd-timesyncd", 480, _TIMESYNCD, "journal.json")
            rs = sync + rng.randint(2, 6) * _US      # rsyslog started after time-sync.target
        # Debian/Ubuntu: rsyslogd's start line precedes the kernel lines it reads from
        # the ring buffer (issue 17 case 5)
        h.syslog_gaps.append((up_at, rs))
        h.syslog(rs, "rsyslogd", None, f"[origin {_RSYSLOG.format(pid=h.pid + 4)}] start")
        h.syslog(rs + 1000, "kernel", None, _KERNEL_BANNER)
        h.syslog(rs + 2000, "kernel", None, _KERNEL_CMDLINE)
        if "syncs" in phenomena and not rtc and abs(h.offset_at(rs + 30 * _US)) < 1e-6:
            h.both(rs + 30 * _US, "chronyd", 611, _SELECTED)


def _sleep(h: _Host, at: int, resume_at: int, frozen: bool) -> None:
    if h.platform == "windows":
        h.win(at, "System.xml", provider="Microsoft-Windows-Kernel-Power", event_id=42,
              provider_guid="{331C3B3A-2005-44C2-AC5E-77220C37D6B4}", process_id=4, task=64, keywords="0x8000000000000404",
              data={"TargetState": "4", "EffectiveState": "4", "Reason": "7", "Flags": "0"},
              message="The system is entering sleep.\n\nSleep Reason: Application API")
    else:
        h.both(at - 1 * _US, "systemd-sleep", 2250, "Entering sleep state 'suspend'...")
        h.both(at, "kernel", None, "PM: suspend entry (deep)")
    h.down.append((at + 1000, resume_at))
    h.boundaries.append(Boundary("sleep", at, 0.0, True))
    delta = 0.0
    if frozen:
        # a VM suspended: its clock stood still and comes back behind by the pause
        before = h.offset_at(resume_at)
        delta = h.change(resume_at, before - (resume_at - at) / _US)
    h.boundaries.append(Boundary("resume", resume_at, delta, True, None, "clock frozen" if frozen else "clock kept"))
    first = len(h.recs)
    if h.platform == "windows":
        h.win(resume_at + 2 * _US, "System.xml", provider="Microsoft-Windows-Kernel-Power", event_id=107,
              provider_guid="{331C3B3A-2005-44C2-AC5E-77220C37D6B4}", process_id=4, task=102,
              keywords="0x8000000000000404", message="The system has resumed from sleep.")
    else:
        h.both(resume_at + 1 * _US, "kernel", None, "PM: suspend exit")
        h.both(resume_at + 2 * _US, "systemd-sleep", 2250, "System returned from sleep state.")
    # the resume's own records come first after waking: nothing else writes before them
    h.waking.append((resume_at, resume_at + 2 * _US + 1000, frozenset(range(first, len(h.recs)))))


def _episodes(h: _Host, phenomena: frozenset[str], rng: random.Random) -> None:
    """Draw what happens to a non-reference host's clock."""
    syncs = "syncs" in phenomena
    first = [k for k in ("offset", "step_back", "step_forward") if k in phenomena]
    later = [k for k in ("unlogged_step", "resume", "wrong_setter", "rtc_reset") if k in phenomena]
    if h.platform != "linux" and "rtc_reset" in later:
        later.remove("rtc_reset")
    if first and rng.random() < 0.55:
        kind = rng.choice(first)
        h.episodes.append(kind)
        x = _magnitude(rng)
        if kind == "offset":
            h.set_offset0(x * rng.choice((-1, 1)))
        else:
            h.set_offset0(x if kind == "step_back" else -x)
            t = h.reserve(600, h.start_us + 1200 * _US, h.end_us - 1800 * _US)
            if t is not None:
                _fix(h, t + 300 * _US, syncs)
    for _ in range(rng.choice((0, 1, 1, 2)) if later else 0):
        kind = rng.choice(later)
        _later_episode(h, kind, phenomena, rng)


def _later_episode(h: _Host, kind: str, phenomena: frozenset[str], rng: random.Random) -> None:
    syncs = "syncs" in phenomena
    n_before = len(h.boundaries)
    _later_episode_body(h, kind, phenomena, rng, syncs)
    if len(h.boundaries) > n_before:
        h.episodes.append(kind)


def _later_episode_body(h: _Host, kind: str, phenomena: frozenset[str], rng: random.Random, syncs: bool) -> None:
    """One episode after the start (if a free slot is found): see the module's docstring."""
    if kind == "unlogged_step":
        back = rng.random() < 0.6
        length = rng.uniform(900, 5400) if back else 60
        t = h.reserve(length, after_busy=True)
        if t is None:
            return
        cur = h.offset_at(t)
        _unlogged_step(h, t, cur + _magnitude(rng) * rng.choice((-1, 1)))
        if back:
            _unlogged_step(h, t + int(length * _US), cur)
    elif kind == "resume":
        pause = rng.uniform(300, 3600)
        frozen = rng.random() < 0.6
        fixed = frozen and rng.random() < 0.6
        after = rng.uniform(60, 1200) if fixed else 0
        t = h.reserve(pause + after + 30, after_busy=True)
        if t is None:
            return
        r = t + int(pause * _US)
        _sleep(h, t, r, frozen)
        if fixed:
            _fix(h, r + int(after * _US), syncs)
    elif kind == "wrong_setter":
        length = rng.uniform(900, 5400)
        t = h.reserve(length, after_busy=True)
        if t is None:
            return
        cur = h.offset_at(t)
        wrong = cur + (-10800.0 if rng.random() < 0.4 else _magnitude(rng) * rng.choice((-1, 1)))
        end = t + int(length * _US)
        fix_by = rng.choice(("admin", "time service", "never"))
        if h.platform == "windows":
            if rng.random() < 0.5:
                # a VM restored from a snapshot: VMware Tools copies the host's (wrong) time
                _time_service_step_windows(h, t, wrong, "vmtoolsd.exe", SYSTEM_SID, _VMTOOLS)
            else:
                _time_service_step_windows(h, t, wrong, "powershell.exe", _ADMIN_SID, _POWERSHELL)
            # an admin puts back what the clock read before (right or not); a time
            # service sets its source's time, which is true here
            if fix_by == "admin":
                _time_service_step_windows(h, end, cur, "powershell.exe", _ADMIN_SID, _POWERSHELL)
            elif fix_by == "time service":
                _time_service_step_windows(h, end, 0.0, syncs=syncs)
        else:
            shown = _dt(t + int(wrong * _US))
            h.syslog(t - 1 * _US, "sudo", 4410, "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; "
                     f"COMMAND=/usr/bin/date -s '{shown:%Y-%m-%d %H:%M:%S}'")
            _unlogged_step(h, t, wrong, "set by date -s")
            h.boundaries[-1].setter = "date"
            if fix_by != "never":
                _chronyd_step(h, end, 0.0, syncs=syncs)
    elif kind == "rtc_reset":
        down = rng.uniform(120, 600)
        t = h.reserve(down + 120, after_busy=True)
        if t is None:
            return
        _boot(h, t, t + int(down * _US), phenomena, rtc=True)


def _background(h: _Host, phenomena: frozenset[str], rng: random.Random) -> None:
    """Reboots (clock kept) and sync reports while the clock is true."""
    if "boots" in phenomena:
        for _ in range(rng.choice((0, 1, 1, 2))):
            down = rng.uniform(60, 600)
            t = h.reserve(down + 120)
            if t is not None:
                _boot(h, t, t + int(down * _US), phenomena)
    if "syncs" in phenomena:
        for _ in range(rng.randint(2, 5)):
            t = rng.randint(h.start_us + 60 * _US, h.end_us - 60 * _US)
            if not h.up(t) or abs(h.offset_at(t)) > 1e-6 or any(
                    abs(t - b.true_us) < 120 * _US for b in h.boundaries):
                continue
            if h.platform == "windows":
                _w32time_synced(h, t)
            elif rng.random() < 0.3 and "journal.json" in h.files:
                h.syslog(t, "systemd-timesyncd", 480, _TIMESYNCD, "journal.json")
            else:
                h.both(t, "chronyd", 611, _SELECTED)


def _noise(h: _Host, rng: random.Random) -> None:
    """Routine records, each file at its own density."""
    hours = (h.end_us - h.start_us) / 3600 / _US
    if h.platform == "windows":
        system = [service_state(k, d, s) for k, d in (("BITS", "Background Intelligent Transfer Service"),
                                                      ("wuauserv", "Windows Update")) for s in ("running", "stopped")]
        system += [dns_timeout(f"wpad.{DOMAIN}"), group_policy_processed(934)]
        dens = {"System.xml": rng.uniform(10, 40), "Security.xml": rng.uniform(60, 200)}
        for file, per_h in dens.items():
            for _ in range(int(per_h * hours)):
                t = rng.randint(h.start_us, h.end_us - 1)
                if file == "System.xml":
                    h.win(t, file, **rng.choice(system), process_id=h.pid)
                else:
                    user = rng.choice(_USERS)
                    if rng.random() < 0.6:
                        h.win(t, file, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
                              event_id=4624, task=12544, keywords="0x8020000000000000", process_id=h.pid,
                              data={"SubjectUserSid": SYSTEM_SID, "TargetUserName": user, "TargetDomainName": "FLEET",
                                    "LogonType": "3", "AuthenticationPackageName": "Kerberos",
                                    "IpAddress": "10.0.4.21", "IpPort": "0"},
                              message="An account was successfully logged on.")
                    else:
                        h.win(t, file, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
                              event_id=4634, task=12545, keywords="0x8020000000000000", process_id=h.pid,
                              data={"TargetUserName": user, "TargetDomainName": "FLEET", "LogonType": "3"},
                              message="An account was logged off.")
    else:
        dens = {"syslog": rng.uniform(60, 200), "journal.json": rng.uniform(10, 40)}
        for file, per_h in dens.items():
            table = _LINUX_NOISE if file == "syslog" else _JOURNAL_NOISE
            weights = [w for *_, w in table]
            for _ in range(int(per_h * hours)):
                t = rng.randint(h.start_us, h.end_us - 1)
                app, pid, msg, _w = rng.choices(table, weights)[0]
                h.syslog(t, app, pid, msg, file)


def _exchanges(group: list[_Host], rng: random.Random, per_host_h: float = 12.0) -> None:
    """Transactions among ``group`` logged by both sides: SIP INVITEs among the Windows
    hosts, requests with an id among the Linux hosts."""
    if len(group) < 2:
        return
    start, end = group[0].start_us, group[0].end_us
    n = int(per_host_h * len(group) * (end - start) / 3600 / _US)
    for ex in range(n):
        c, s = rng.sample(group, 2)
        t0 = rng.randint(start + 60 * _US, end - 60 * _US)
        d1, think, d2 = rng.randint(1_000, 50_000), rng.randint(1_000, 400_000), rng.randint(1_000, 50_000)
        times = (t0, t0 + d1, t0 + d1 + think, t0 + d1 + think + d2)
        if not all(hh.up(t) for hh, t in zip((c, s, s, c), times)):
            continue
        rid = f"{ex:08x}-7f3a-4c1e-9d2b-{rng.getrandbits(48):012x}"
        for v, (hh, peer, t) in enumerate(zip((c, s, s, c), (s, c, c, s), times)):
            d, ph = _DIRS[v]
            if hh.platform == "windows":
                call_id = f"{zlib.crc32(rid.encode()):08x}{ex:024x}"
                caller, callee = _USERS[ex % len(_USERS)], _USERS[(ex + 2) % len(_USERS)]
                start_line = f"INVITE sip:{callee}@{DOMAIN};transport=tls SIP/2.0" if v < 2 else "SIP/2.0 200 OK"
                headers = {"From": f"<sip:{caller}@{DOMAIN}>;tag={ex:08x}", "To": f"<sip:{callee}@{DOMAIN}>",
                           "CSeq": "1 INVITE", "Call-ID": call_id, "Content-Length": "0"}
                hh.add(t, "SIPStack.log", lambda lg, n, st, d=d, peer=peer, v=v, sl=start_line, hd=headers:
                       format_protocol_record(_dt(lg), direction="outgoing" if d == "out" else "incoming",
                                              peer=f"{peer.fqdn}:5061",
                                              message_type="request" if v < 2 else "response",
                                              start_line=sl, headers=hd)[:-1])
            else:
                msg = _REQ_WORDS.format(r=rid, d=d, ph=ph, p=peer.fqdn)
                hh.syslog(t, "orders-api", 2718, msg, hh.requests_in)


def _kerberos(kdc: _Host, clients: list[_Host], rng: random.Random) -> list[tuple[int, str]]:
    """Every client authenticates to the KDC every KRB_EVERY_S; refused while its clock
    is more than five minutes off. Returns the symptoms (true µs, suspect host)."""
    etypes = ("4 etypes {aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17), "
              "aes256-cts-hmac-sha384-192(20), aes128-cts-hmac-sha256-128(19)}")
    symptoms = []
    for c in clients:
        t = kdc.start_us + rng.randint(30, KRB_EVERY_S) * _US
        while t < kdc.end_us - 30 * _US:
            if c.up(t) and kdc.up(t + 2_000):
                off = c.offset_at(t)
                if abs(off) > KRB_TOLERANCE_S:
                    msg = krb5kdc_skew_message(f"host/{c.fqdn}@{REALM}", f"krbtgt/{REALM}@{REALM}", c.fqdn)
                    symptoms.append((t + 2_000, c.fqdn))
                    if c.platform == "linux" and c.up(t + 5_000) and not any(
                            a <= t + 5_000 < b for a, b in c.syslog_gaps):
                        # the client's own complaint, on its own clock
                        c.syslog(t + 5_000, "krb-refresh", 3301,
                                 "kinit: Clock skew too great while getting initial credentials")
                        symptoms.append((t + 5_000, c.fqdn))
                else:
                    msg = (f"AS_REQ ({etypes}) {c.fqdn}: ISSUE: authtime {(t + int(off * _US)) // _US}, etypes "
                           f"{{rep=18, tkt=18, ses=18}}, host/{c.fqdn}@{REALM} for krbtgt/{REALM}@{REALM}")
                kdc.add(t + 2_000, "syslog", lambda lg, n, st, msg=msg: krb5kdc_line(_dt(lg), kdc.fqdn, 1207, msg))
            t += KRB_EVERY_S * _US
    return symptoms


# ----------------------------------------------------------------------------------
# Writing


def _write(h: _Host, root: Path) -> HostTruth:
    folder = root / h.folder
    folder.mkdir(parents=True)
    # records a host writes while it is up, in true order (the host writes them as they happen)
    recs = [r for r in h.recs if h.start_us <= r.true_us < h.end_us
            and not any(a < r.true_us < b for a, b in h.down)
            and not any(a <= r.true_us < b and r.order not in own for a, b, own in h.waking)
            and not (r.file == "syslog" and any(a <= r.true_us < b for a, b in h.syslog_gaps))]
    recs.sort(key=lambda r: (r.true_us, r.order))
    boots = sorted(h.boots)
    sleeps = [(a, b) for a, b in h.down if any(x.kind == "sleep" and abs(x.true_us - a) <= 1000 for x in h.boundaries)]
    by_file: dict[str, list[str]] = {}
    truths: dict[str, FileTruth] = {}
    rng = random.Random(h.index * 7919 + 17)
    base = {f: rng.randint(20_000, 900_000) for f in ("System.xml", "Security.xml")}
    for r in recs:
        lg = h.logged(r.true_us)
        lines = by_file.setdefault(r.file, [])
        boot = max(b for b in boots if b <= r.true_us)
        boot_id = f"{zlib.crc32(f'{h.fqdn}/{boot}'.encode()):08x}" * 4
        # CLOCK_MONOTONIC counts from boot and stands still while the host sleeps
        asleep = sum(min(b, r.true_us) - max(a, boot) for a, b in sleeps if b > boot and a < r.true_us)
        mono = r.true_us - boot - asleep
        n = base.get(r.file, 1) + len(lines)
        lines.append(r.render(lg, n, _State(boot_id, mono)))
        truths.setdefault(r.file, FileTruth(f"{h.folder}/{r.file}")).records.append((r.true_us, lg))
    for file, lines in by_file.items():
        path = folder / file
        if file == "Security.xml":
            text = events_document(lines)
        elif file == "System.xml":
            text = event_stream(lines)
        else:
            text = "\n".join(lines) + "\n"
        path.write_text(text, encoding="utf-8", newline="\n")
        if file == "syslog":
            # RFC 3164 lines carry no year: ingest takes it from the file's modification time
            last = max(lg for _, lg in truths[file].records)
            os.utime(path, (last / _US, last / _US))
    pieces = [(max(a, h.start_us), o) for a, o in h.pieces]
    return HostTruth(h.fqdn, h.folder, h.platform, h.role, pieces, sorted(h.boundaries, key=lambda b: b.true_us),
                     sorted(h.down), [truths[f] for f in sorted(truths)], h.episodes)


def make_clock_fleet(seed: int, root: Path | str, *, phenomena: Iterable[str] = ALL, n_hosts: int | None = None,
                     start: datetime = START, span_s: float = SPAN_S) -> FleetTruth:
    """Draw a fleet from ``seed`` with the given ``phenomena`` (names in :data:`ALL`),
    write its logs and case file under ``root`` (created; must be empty), return the truth."""
    phen = frozenset(phenomena)
    bad = phen - ALL
    if bad:
        raise ValueError(f"unknown phenomena {sorted(bad)}: choose among {sorted(ALL)}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} exists and is not empty")
    rng = random.Random(f"clockfleet/{seed}/{','.join(sorted(phen))}")
    n = n_hosts if n_hosts is not None else rng.randint(4, 8)
    if n < 2:
        raise ValueError("a fleet has at least two hosts (the KDC and a client)")
    start_us = _us(start.astimezone(UTC))
    end_us = start_us + int(span_s * _US)
    platforms = ["linux"] + [rng.choice(("windows", "linux")) for _ in range(n - 1)]
    if n >= 3 and "windows" not in platforms[1:]:
        platforms[1] = "windows"
    if "rtc_reset" in phen and n >= 3 and platforms[1:].count("linux") == 0:
        platforms[2] = "linux"
    hosts = [_Host(i, p, "kdc" if i == 0 else "host", random.Random(rng.getrandbits(64)), start_us, end_us)
             for i, p in enumerate(platforms)]
    kdc, clients = hosts[0], hosts[1:]
    if "pairs" in phen and sum(h.platform == "windows" for h in clients) >= 2:
        for h in clients:
            if h.platform == "windows":
                h.files.append("SIPStack.log")
    for h in clients:
        _episodes(h, phen, h.rng)
    for h in hosts:
        _background(h, phen, h.rng)
        _noise(h, h.rng)
    if "pairs" in phen:
        _exchanges([h for h in hosts if h.platform == "linux"], rng)
        _exchanges([h for h in hosts if "SIPStack.log" in h.files], rng)
    symptoms = _kerberos(kdc, clients, rng)
    root.mkdir(parents=True, exist_ok=True)
    (root / "case.yml").write_text(f"timezone: UTC\nreferences: [{kdc.fqdn}]\nchanges: []\n", encoding="utf-8")
    truths = [_write(h, root) for h in hosts]
    return FleetTruth(root, seed, phen, _dt(start_us), _dt(end_us), truths, [kdc.fqdn], sorted(symptoms))


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m synth.clockfleet",
                                description="Write a small random fleet with known clocks and print its truth.")
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--phenomena", default=",".join(sorted(ALL)))
    p.add_argument("--hosts", type=int)
    a = p.parse_args(argv)
    truth = make_clock_fleet(a.seed, a.out, phenomena=[x for x in a.phenomena.split(",") if x], n_hosts=a.hosts)
    json.dump(truth.to_dict(), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
