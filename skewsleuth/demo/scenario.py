"""Generate the evidence of a Lync / Skype for Business + Exchange Online UM incident.

A :class:`Scenario` describes what really happened, in true time: a Front End that
routes voicemail calls to hosted Exchange UM (``exap.um.outlook.com``) through one
or more Edge servers, and Edge servers that may reboot onto a wrong clock
(:class:`ClockFault`), be resynced by an admin, and have their Access Edge service
restarted. :func:`write_evidence` writes what the hosts would have logged about it,
each record stamped by the writing host's clock (logged = true + offset), laid out as
collection tools lay it out: one folder per host, named by the host's short name,
plus the ``case.yml`` with what only people know (zone, trusted clocks, changes,
observations).

Per host:

* ``System.xml`` (Windows event XML; the Front End as an Event Viewer ``<Events>``
  document, Edges as a ``wevtutil`` stream, alternating for further Edges): routine
  noise every few minutes, W32Time 37 while the clock is synced, and for a faulty Edge
  the reboot (User32 1074, EventLog 6006, Kernel-General 13; then on the wrong clock
  Kernel-General 12, Kernel-Boot 20, EventLog 6009/6005), Time-Service 129 warnings
  while it cannot sync, the admin's resync (Kernel-General 1 by W32Time, then
  Time-Service 35) and the Access Edge restart (Service Control Manager 7036).
* ``SIPStack.log`` (Front End and Edges): every voicemail INVITE as both hosts traced
  it, with the same Call-ID and CSeq. A call through an Edge whose clock is wrong is
  refused by that Edge with ``429 Provide Referrer Identity``
  (``SIP_E_CRYPT_REFERRER_DATE_SKEWED``); the Front End then answers the caller
  ``480`` with ``ms-diagnostics: 15030`` and writes a ``TL_WARN(TF_DIAG)`` record.
* ``Lync Server.xml`` (Edges): event 14619 at every call refused for a skewed date,
  benign Lync events otherwise.
* ``Application.xml`` (Front End): event 44009 at every call that failed to reach
  Exchange UM, benign events otherwise; on any host, a change the case names for
  that host leaves an MsiInstaller 11707 record there.

:data:`SEED` is the incident of ``shared/seed/incident-report.txt``, what ``skewsleuth
demo`` writes; the tests' ``synth.scenarios`` holds other layouts built the same way.

Output is a pure function of the scenario (``random.Random(seed)``), and small: a
few thousand records for an eight-hour window.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from ..case import Change, Observation
from ..errors import InputError
from .eventxml import event_stream, event_xml, events_document, filetime_text
from .lync import (EXUM_PEER, REFUSED, UNAVAILABLE, exum_dialplan, exum_routing_failed, referrer_skew_headers, rfc1123,
                   routing_error)
from .sipstack import format_protocol_record
from .winevents import (LOCAL_SERVICE_SID, PROVIDER_GUIDS, Q_INFO, Q_WARN, SYSTEM_SID, dns_timeout,
                        group_policy_processed, service_state, time_changed, time_synced)

__all__ = ["ClockFault", "EdgeSpec", "Scenario", "write_evidence", "build", "case_yaml", "SEED", "hosts_of",
           "short_name", "local_time"]

UTC = timezone.utc

# How a reboot unfolds, in true seconds after ClockFault.reboot_at.
_EVENTLOG_STOP_S = 6.0
_KERNEL_STOP_S = 7.0
_BOOT_S = 38.0            # the kernel starts: from here on the clock is wrong
_EVENTLOG_START_S = 17.0  # after _BOOT_S
_ACCESS_EDGE_UP_S = 40.0  # after _BOOT_S
_RESTART_DOWN_S = 12.0    # Access Edge stopped -> running during a service restart
_CALL_SPAN_S = 6.0        # a call's records all fall within this after it starts

# Classic sources' Qualifiers for the Lync Server sources (facility 0x3EE), by level.
_LS_Q = {4: 17390, 3: 33774, 2: 50158}

_NOISE_SERVICES = [
    ("WinHttpAutoProxySvc", "WinHTTP Web Proxy Auto-Discovery Service"),
    ("TrustedInstaller", "Windows Modules Installer"),
    ("AeLookupSvc", "Application Experience"),
    ("WerSvc", "Windows Error Reporting Service"),
    ("sppsvc", "Software Protection"),
    ("BITS", "Background Intelligent Transfer Service"),
    ("wuauserv", "Windows Update"),
]
_USERS = ["daryl", "amy.jones", "bob.smith", "carol.nguyen", "dave.patel", "erin.lopez", "frank.meyer",
          "grace.kim", "henry.olsen", "irene.costa", "jack.moreau", "kate.walsh"]
_DISPLAY = {u: " ".join(p.capitalize() for p in u.split(".")) for u in _USERS}


# ----------------------------------------------------------------------------------
# The scenario


def _utc(t: datetime) -> datetime:
    """Aware datetimes are converted; naive ones are taken as UTC already."""
    return t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ClockFault:
    """An Edge reboots onto a wrong clock and is later resynced.

    All times are true UTC. The host reboots at ``reboot_at`` and comes back with
    ``offset_s`` (logged - true); W32Time cannot sync it. At ``fixed_at`` an admin
    resyncs (Kernel-General 1 by W32Time, then Time-Service 35); at
    ``service_restart_at`` the Access Edge service is restarted. Calls through the
    Edge fail from the reboot until that restart (a resync alone does not heal the
    running service), or to the end of the window when it is None. From
    ``quiet_from`` until the fix the host writes nothing at all (the report's
    "jump" from 4:21:04 PM to 9:33:25 PM); one record is written exactly at
    ``quiet_from``.
    """

    reboot_at: datetime
    offset_s: float
    fixed_at: datetime | None = None
    service_restart_at: datetime | None = None
    quiet_from: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("reboot_at", "fixed_at", "service_restart_at", "quiet_from"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _utc(value))
        up = self.boot_at + timedelta(seconds=_EVENTLOG_START_S + 5)
        if self.fixed_at is not None and self.fixed_at <= up:
            raise ValueError("fixed_at must come after the host is back up from its reboot")
        if self.service_restart_at is not None and (self.fixed_at is None or self.service_restart_at < self.fixed_at):
            raise ValueError("service_restart_at needs a fixed_at at or before it")
        if self.quiet_from is not None and (self.fixed_at is None or not up < self.quiet_from < self.fixed_at):
            raise ValueError("quiet_from must fall between the reboot and fixed_at")

    @property
    def boot_at(self) -> datetime:
        """True time the kernel starts after the reboot: the clock is wrong from here."""
        return self.reboot_at + timedelta(seconds=_BOOT_S)

    @property
    def failing_until(self) -> datetime | None:
        return self.service_restart_at


@dataclass(frozen=True)
class EdgeSpec:
    fqdn: str
    fault: ClockFault | None = None


@dataclass
class Scenario:
    timezone: str                 # IANA zone of the case file
    start: datetime               # evidence window, true time
    end: datetime
    frontend: str                 # FQDN; the reference clock (offset 0)
    edges: list[EdgeSpec]
    tenant: str                   # e.g. domain.onmicrosoft.com
    # The case file's own records: the scenario writes them in case.yml, to the minute.
    changes: list[Change] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    call_every_s: float = 90.0
    seed: int = 1

    def __post_init__(self) -> None:
        self.start, self.end = _utc(self.start), _utc(self.end)
        if self.end <= self.start:
            raise ValueError("end must come after start")
        ZoneInfo(self.timezone)  # fail early on a bad zone name
        shorts = [short_name(h) for h in hosts_of(self)]
        if len(set(shorts)) != len(shorts):
            raise ValueError(f"hosts must have distinct short names (one folder each): {shorts}")

    @property
    def sip_domain(self) -> str:
        return self.frontend.split(".", 1)[1] if "." in self.frontend else self.frontend


def short_name(fqdn: str) -> str:
    return fqdn.split(".", 1)[0].lower()


def hosts_of(scenario: Scenario) -> list[str]:
    """FQDNs of the hosts that get a folder of evidence: the Front End, then the Edges."""
    return [scenario.frontend] + [e.fqdn for e in scenario.edges]


# ----------------------------------------------------------------------------------
# Hosts and their logs


@dataclass
class _Log:
    name: str
    kind: str                     # document | stream | sipstack
    channel: str | None
    # (true time, write sequence, render(logged, record_id) -> text)
    entries: list[tuple[datetime, int, Callable[[datetime, int], str]]] = field(default_factory=list)


class _Host:
    def __init__(self, fqdn: str, fault: ClockFault | None, shape: str, rng: random.Random) -> None:
        self.fqdn = fqdn
        self.name = short_name(fqdn).upper()
        self.fault = fault
        self.shape = shape
        self.logs: dict[str, _Log] = {}
        self._seq = itertools.count()
        self.ip = f"10.0.{rng.randint(1, 9)}.{rng.randint(10, 250)}"
        # A reboot gives every process a new id; epoch 0 is before it, 1 after.
        self._pids = [{k: rng.randrange(300, 4000, 4) for k in ("services", "eventlog", "w32time", "dns",
                                                                 "winlogon", "rtc", "gp", "msi")}
                      for _ in range(2)]
        self.record_base = {ch: rng.randint(20_000, 900_000) for ch in ("System", "Application", "Lync Server")}

    def offset(self, t: datetime) -> float:
        f = self.fault
        if f is None or t < f.boot_at or (f.fixed_at is not None and t >= f.fixed_at):
            return 0.0
        return f.offset_s

    def pid(self, name: str, t: datetime) -> int:
        if name == "system":
            return 4
        epoch = 1 if self.fault is not None and t >= self.fault.reboot_at else 0
        return self._pids[epoch][name]

    def writes(self, t: datetime) -> bool:
        """Whether routine records are written at true time ``t`` (not rebooting, not quiet)."""
        f = self.fault
        if f is None:
            return True
        if f.reboot_at <= t < f.boot_at + timedelta(seconds=_ACCESS_EDGE_UP_S + 5):
            return False
        if f.quiet_from is not None and f.fixed_at is not None and f.quiet_from < t < f.fixed_at:
            return False
        return True

    def takes_calls(self, t: datetime) -> bool:
        end = t + timedelta(seconds=_CALL_SPAN_S)
        if not (self.writes(t) and self.writes(end)):
            return False
        f = self.fault
        if f is not None and f.service_restart_at is not None:
            lo = f.service_restart_at - timedelta(seconds=_CALL_SPAN_S)
            if lo <= t < f.service_restart_at + timedelta(seconds=_RESTART_DOWN_S + 1):
                return False
        return True

    def failing(self, t: datetime) -> bool:
        f = self.fault
        return f is not None and t >= f.reboot_at and (f.failing_until is None or t < f.failing_until)

    def synced(self, t: datetime) -> bool:
        f = self.fault
        return f is None or t < f.reboot_at or (f.fixed_at is not None and t >= f.fixed_at)

    def log(self, name: str, kind: str, channel: str | None = None) -> _Log:
        if name not in self.logs:
            self.logs[name] = _Log(name, kind, channel)
        return self.logs[name]

    def windows(self, file: str, channel: str, t: datetime, *, provider: str, event_id: int, **kw) -> None:
        """Queue a Windows event written at true time ``t``."""
        kind = self.shape
        log = self.log(file, kind, channel)
        kw.setdefault("provider_guid", PROVIDER_GUIDS.get(provider))
        fqdn = self.fqdn

        def render(logged: datetime, record_id: int) -> str:
            return event_xml(provider=provider, event_id=event_id, logged=logged, computer=fqdn, channel=channel,
                             record_id=record_id, **kw)
        log.entries.append((t, next(self._seq), render))

    def sip(self, t: datetime, render: Callable[[datetime], str]) -> None:
        log = self.log("SIPStack.log", "sipstack")
        log.entries.append((t, next(self._seq), lambda logged, _rid: render(logged)))

    def files(self) -> dict[str, str]:
        out = {}
        for log in self.logs.values():
            entries = sorted(log.entries, key=lambda e: (e[0], e[1]))
            base = self.record_base.get(log.channel or "", 1)
            texts = [render(t + timedelta(seconds=self.offset(t)), base + k) for k, (t, _, render) in enumerate(entries)]
            if log.kind == "sipstack":
                out[log.name] = "".join(texts)
            elif log.kind == "document":
                out[log.name] = events_document(texts)
            else:
                out[log.name] = event_stream(texts)
        return out


# ----------------------------------------------------------------------------------
# Windows events


def _service_state(h: _Host, t: datetime, key: str, display: str, state: str) -> None:
    h.windows("System.xml", "System", t, **service_state(key, display, state), process_id=h.pid("services", t))


def _time_source(h: _Host, role: str) -> str:
    if role == "frontend":
        return f"dc01.{h.fqdn.split('.', 1)[-1]} (ntp.d|{h.ip}:123->10.0.0.10:123)"
    return f"time.windows.com,0x9 (ntp.m|0x9|{h.ip}:123->40.119.6.228:123)"


def _ts_event(h: _Host, t: datetime, event_id: int, level: int, data: dict[str, str], message: str) -> None:
    h.windows("System.xml", "System", t, provider="Microsoft-Windows-Time-Service", event_id=event_id, level=level,
              data=data, user_sid=LOCAL_SERVICE_SID, process_id=h.pid("w32time", t), message=message,
              keywords="0x8000000000000000")


def _ts37(h: _Host, t: datetime, source: str) -> None:
    h.windows("System.xml", "System", t, **time_synced(source), process_id=h.pid("w32time", t))


def _system_noise(h: _Host, rng: random.Random, start: datetime, end: datetime) -> None:
    domain = h.fqdn.split(".", 1)[-1]
    t = start + timedelta(seconds=rng.uniform(5, 120))
    while t < end:
        if h.writes(t):
            pick = rng.random()
            if pick < 0.6:
                key, display = rng.choice(_NOISE_SERVICES)
                _service_state(h, t, key, display, rng.choice(("running", "stopped")))
            elif pick < 0.85:
                name = rng.choice((f"wpad.{domain}", f"isatap.{domain}", "settings-win.data.microsoft.com"))
                h.windows("System.xml", "System", t, **dns_timeout(name), process_id=h.pid("dns", t))
            else:
                h.windows("System.xml", "System", t, **group_policy_processed(rng.randint(300, 2500)),
                          process_id=h.pid("gp", t))
        t += timedelta(seconds=rng.uniform(120, 420))


def _w32time(h: _Host, rng: random.Random, start: datetime, end: datetime, role: str) -> None:
    source = _time_source(h, role)
    t = start + timedelta(seconds=rng.uniform(60, 1800))
    while t < end:
        if h.synced(t) and h.writes(t):
            _ts37(h, t, source)
        t += timedelta(seconds=rng.uniform(1800, 3600))
    f = h.fault
    if f is None:
        return
    stop = min(x for x in (f.fixed_at, f.quiet_from, end) if x is not None)
    t = f.boot_at + timedelta(seconds=60 + rng.uniform(0, 30))
    while t < stop:
        if t < start:
            t += timedelta(seconds=900)
            continue
        _ts_event(h, t, 129, 3, {"ErrorMessage": "The entry is not found. (0x800706E1)", "RetryMinutes": "15"},
                  "NtpClient was unable to set a domain peer to use as a time source because of discovery "
                  "error. NtpClient will try again in 15 minutes and double the reattempt interval "
                  "thereafter. The error was: The entry is not found. (0x800706E1)")
        t += timedelta(seconds=900 + rng.uniform(-20, 20))


def _reboot(h: _Host) -> None:
    f = h.fault
    assert f is not None
    r = f.reboot_at
    admin = f"{h.name}\\Administrator"
    h.windows("System.xml", "System", r, provider="User32", event_id=1074, qualifiers=Q_WARN,
              data={"param1": f"C:\\Windows\\system32\\shutdown.exe ({h.name})", "param2": h.name,
                    "param3": "Other (Planned)", "param4": "0x80000000", "param5": "restart", "param6": "",
                    "param7": admin},
              user_sid="S-1-5-21-3623811015-3361044348-30300820-500", process_id=h.pid("winlogon", r),
              message=f"The process C:\\Windows\\system32\\shutdown.exe ({h.name}) has initiated the restart of "
                      f"computer {h.name} on behalf of user {admin} for the following reason: Other (Planned)\n"
                      f" Reason Code: 0x80000000\n Shutdown Type: restart\n Comment: ")
    t = r + timedelta(seconds=_EVENTLOG_STOP_S)
    h.windows("System.xml", "System", t, provider="EventLog", event_id=6006, qualifiers=Q_WARN,
              process_id=h.pid("eventlog", t), message="The Event log service was stopped.")
    t = r + timedelta(seconds=_KERNEL_STOP_S)
    h.windows("System.xml", "System", t, provider="Microsoft-Windows-Kernel-General", event_id=13,
              data={"StopTime": filetime_text(t)}, user_sid=SYSTEM_SID, process_id=4, task=2,
              message=f"The operating system is shutting down at system time {filetime_text(t)}.")
    # From here on the host's clock reads true + offset_s.
    b = f.boot_at
    started = b - timedelta(seconds=0.5) + timedelta(seconds=f.offset_s)
    h.windows("System.xml", "System", b, provider="Microsoft-Windows-Kernel-General", event_id=12,
              data={"MajorVersion": "6", "MinorVersion": "3", "BuildVersion": "9600", "QfeVersion": "17031",
                    "ServiceVersion": "0", "BootMode": "0", "StartTime": filetime_text(started)},
              user_sid=SYSTEM_SID, process_id=4, task=1,
              message=f"The operating system started at system time {filetime_text(started)}.")
    t = b + timedelta(seconds=1.2)
    h.windows("System.xml", "System", t, provider="Microsoft-Windows-Kernel-Boot", event_id=20,
              data={"LastBootGood": "true", "LastShutdownGood": "true"}, user_sid=SYSTEM_SID, process_id=4,
              message="The last shutdown's success status was true. The last boot's success status was true.")
    t = b + timedelta(seconds=_EVENTLOG_START_S)
    h.windows("System.xml", "System", t, provider="EventLog", event_id=6009, qualifiers=Q_WARN,
              data=["6.03.", "9600", "Multiprocessor Free", "17"], process_id=h.pid("eventlog", t),
              message="Microsoft (R) Windows (R) 6.03. 9600  Multiprocessor Free.")
    t += timedelta(milliseconds=4)
    h.windows("System.xml", "System", t, provider="EventLog", event_id=6005, qualifiers=Q_WARN,
              process_id=h.pid("eventlog", t), message="The Event log service was started.")
    t = b + timedelta(seconds=_ACCESS_EDGE_UP_S)
    _access_edge(h, t, "running")


def _access_edge(h: _Host, t: datetime, state: str) -> None:
    _service_state(h, t, "RTCSRV", "Lync Server Access Edge", state)
    if state == "running":
        _lync_server(h, t + timedelta(milliseconds=350), "LS Server", 12289, 4,
                     ["Lync Server Access Edge", "RTCSRV"],
                     "Lync Server Access Edge (RTCSRV) has started successfully.")


def _fix(h: _Host, role: str, start: datetime, end: datetime) -> None:
    f = h.fault
    assert f is not None and f.fixed_at is not None
    new, old = f.fixed_at, f.fixed_at + timedelta(seconds=f.offset_s)
    if f.quiet_from is not None and f.quiet_from >= start:
        # The last record before the gap, exactly where the report says the log stops.
        _service_state(h, f.quiet_from, "WinHttpAutoProxySvc", "WinHTTP Web Proxy Auto-Discovery Service",
                       "stopped")
    t = new + timedelta(microseconds=500)
    h.windows("System.xml", "System", t, **time_changed(new, old), process_id=h.pid("w32time", t))
    source = _time_source(h, role)
    t = new + timedelta(seconds=2.1)
    _ts_event(h, t, 35, 4, {"TimeSource": source},
              f"The time service is now synchronizing the system time with the time source {source}.")
    _ts37(h, new + timedelta(seconds=4.3), source)
    if f.service_restart_at is not None and f.service_restart_at < end:
        _access_edge(h, f.service_restart_at, "stopped")
        _access_edge(h, f.service_restart_at + timedelta(seconds=_RESTART_DOWN_S), "running")


def _lync_server(h: _Host, t: datetime, provider: str, event_id: int, level: int, data: list[str],
                 message: str) -> None:
    h.windows("Lync Server.xml", "Lync Server", t, provider=provider, event_id=event_id, level=level,
              qualifiers=_LS_Q[level], data=data, process_id=h.pid("rtc", t), task=1001,
              message=message)


def _edge_noise(h: _Host, rng: random.Random, start: datetime, end: datetime) -> None:
    t = start + timedelta(seconds=rng.uniform(30, 900))
    while t < end:
        if h.writes(t):
            _lync_server(h, t, "LS Protocol Stack", 14501, 4, [h.fqdn, "5061"],
                         f"The server {h.fqdn} completed a periodic check of its listening ports.\n\n"
                         f"Port 5061 (TLS) is listening on the internal and external edge.")
        t += timedelta(seconds=rng.uniform(1200, 2400))


def _frontend_noise(h: _Host, rng: random.Random, start: datetime, end: datetime) -> None:
    domain = h.fqdn.split(".", 1)[-1]
    dc = ",".join(f"DC={p}" for p in domain.split("."))
    t = start + timedelta(seconds=rng.uniform(30, 900))
    while t < end:
        if rng.random() < 0.5:
            h.windows("Application.xml", "Application", t, provider="LS User Replicator", event_id=30024,
                      level=4, qualifiers=_LS_Q[4], data=[dc], process_id=h.pid("rtc", t),
                      message=f"User Replicator has completed a synchronization of Active Directory domain "
                              f"{dc}.")
        else:
            started = rng.random() < 0.5
            h.windows("Application.xml", "Application", t, provider="Microsoft-Windows-Security-SPP",
                      event_id=902 if started else 903, qualifiers=Q_INFO, data=["6.3.9600.17031"],
                      process_id=h.pid("services", t),
                      message="The Software Protection service has started." if started
                      else "The Software Protection service has stopped.")
        t += timedelta(seconds=rng.uniform(900, 2400))


def _change_trace(h: _Host, change: Change) -> None:
    t = _utc(change.at)
    h.windows("Application.xml", "Application", t, provider="MsiInstaller", event_id=11707, qualifiers=0,
              data=[f"Product: {change.what} -- Installation completed successfully.", "(NULL)", "(NULL)",
                    "(NULL)", "(NULL)", "(NULL)", ""],
              user_sid="S-1-5-21-3623811015-3361044348-30300820-500", process_id=h.pid("msi", t),
              message=f"Product: {change.what} -- Installation completed successfully.")


# ----------------------------------------------------------------------------------
# SIP calls


def _call(rng: random.Random, sc: Scenario, fe: _Host, edge: _Host, t: datetime) -> None:
    """One voicemail call through ``edge`` that starts on the Front End at true ``t``."""
    domain = sc.sip_domain
    caller, callee = rng.sample(_USERS, 2)
    call_id = f"{rng.getrandbits(128):032x}"
    cseq = "1 INVITE"
    tag, to_tag = f"{rng.getrandbits(32):08x}", f"{rng.getrandbits(32):08x}"
    epid = f"{rng.getrandbits(40):010x}"
    branch = f"z9hG4bK{rng.getrandbits(32):08X}"
    client = f"10.{rng.randint(1, 20)}.{rng.randint(0, 255)}.{rng.randint(10, 250)}:{rng.randint(49152, 65000)}"
    referrer = f"{callee}@{domain}"
    invite_line = f"INVITE sip:{callee}@{EXUM_PEER};transport=tls SIP/2.0"
    from_h = f'"{_DISPLAY[caller]}"<sip:{caller}@{domain}>;tag={tag};epid={epid}'
    to_h = f"<sip:{callee}@{EXUM_PEER}>"
    # The Front End signs the referrer; the Edge checks the signature date against its own clock.
    ms_identity = f"{rng.getrandbits(256):064x}"
    invite = {
        "From": from_h,
        "To": to_h,
        "CSeq": cseq,
        "Call-ID": call_id,
        "Via": f"SIP/2.0/TLS {fe.ip}:5061;branch={branch};ms-internal-info=\"{rng.getrandbits(64):016x}\"",
        "Max-Forwards": "69",
        "Referred-By": f'<sip:{referrer}>;ms-identity="{ms_identity}";ms-identity-info="sip:{fe.fqdn}:5061;'
                       f'transport=Tls";ms-identity-alg=rsa-sha1;ms-identity-date="{rfc1123(t)}"',
        "History-Info": f"<sip:{callee}@{domain}>;index=1,<sip:{callee}@{domain};opaque=app:voicemail>;index=1.1",
        "ms-exchange-command": "VoiceMail",
        "Content-Length": "0",
    }

    def response(extra: dict[str, str], via_edge: bool = True) -> dict[str, str]:
        h = {"From": from_h, "To": f"{to_h};tag={to_tag}", "CSeq": cseq, "Call-ID": call_id,
             "Via": invite["Via"], "Content-Length": "0"}
        h.update(extra)
        return h

    def at(s: float) -> datetime:
        return t + timedelta(seconds=s)

    fe_peer, edge_peer, exum_peer = f"{fe.fqdn}:5061", f"{edge.fqdn}:5061", f"{EXUM_PEER}:5061"
    fe.sip(at(0), lambda lg: format_protocol_record(lg, direction="outgoing", peer=edge_peer, message_type="request",
                                                     start_line=invite_line, headers=invite))
    edge.sip(at(0.003), lambda lg: format_protocol_record(
        lg, direction='incoming;source="internal edge";destination="external edge"', peer=fe_peer,
        message_type="request", start_line=invite_line, headers=invite))
    if edge.failing(t):
        skewed = response(referrer_skew_headers(referrer, fe.fqdn, edge.fqdn, source=f"sip.{domain}"))
        edge.sip(at(0.008), lambda lg: format_protocol_record(
            lg, direction='outgoing;source="external edge";destination="internal edge"', peer=fe_peer,
            message_type="response", start_line=REFUSED, headers=skewed))
        _lync_server(edge, at(0.009), "LS Protocol Stack", 14619, 2,
                     [EXUM_PEER, referrer, fe.fqdn, "0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)", call_id],
                     f"A message for the hosted Exchange UM peer {EXUM_PEER} was rejected because the "
                     f"identity of the referrer could not be verified: the signature date is skewed from this "
                     f"server's clock.\n\nReferrer: {referrer}\nSigner: {fe.fqdn}\nCall-ID: {call_id}\n"
                     f"Result: 0xC3E93EE0 (SIP_E_CRYPT_REFERRER_DATE_SKEWED)\n"
                     f"Cause: The date of the ms-identity signature and this server's time differ by more than "
                     f"the allowed tolerance (date skewed).\nResolution:\nMake sure that the time of this "
                     f"server and of {fe.fqdn} is correct and synchronized with a reliable time source.")
        fe.sip(at(0.011), lambda lg: format_protocol_record(lg, direction="incoming", peer=edge_peer,
                                                             message_type="response", start_line=REFUSED,
                                                             headers=skewed))
        fe.sip(at(0.012), lambda lg: routing_error(lg, peer=edge_peer, call_id=call_id, cseq=cseq))
        dialplan = exum_dialplan(sc.tenant)
        failed = response({"ms-diagnostics": exum_routing_failed(fe.fqdn, sc.tenant)})
        failed["Via"] = f"SIP/2.0/TLS {client};branch=z9hG4bK{rng.getrandbits(32):08X}"
        fe.sip(at(0.014), lambda lg: format_protocol_record(lg, direction="outgoing", peer=client,
                                                             message_type="response", start_line=UNAVAILABLE,
                                                             headers=failed))
        fe.windows("Application.xml", "Application", at(0.02), provider="LS Exchange Unified Messaging Routing",
                   event_id=44009, level=2, qualifiers=_LS_Q[2],
                   data=[EXUM_PEER, dialplan, f"sip:{callee}@{domain}", REFUSED, call_id],
                   process_id=fe.pid("rtc", t), task=1022,
                   message=f"Failed to route to Exchange Server.\n\nExchange UM server: {EXUM_PEER}, dial plan: "
                           f"{dialplan}, voicemail for: sip:{callee}@{domain}, response: {REFUSED}, "
                           f"Call-ID: {call_id}.\nCause: The call could not be routed to Exchange Unified "
                           f"Messaging, so the caller could not leave voicemail. Exchange UM or the Edge Server "
                           f"in the path rejected the request.\nResolution:\nCheck the ms-diagnostics of the "
                           f"response and the Edge Server's event log.")
        return
    edge.sip(at(0.006), lambda lg: format_protocol_record(
        lg, direction='outgoing;source="external edge";destination="federated partner"', peer=exum_peer,
        message_type="request", start_line=invite_line, headers=invite))
    answer = rng.uniform(0.8, 3.0)
    ok = "SIP/2.0 200 OK"
    answered = response({"Contact": f"<sip:{EXUM_PEER}:5061;transport=tls>",
                         "ms-edge-proxy-message-trust": f"ms-source-type=AuthorizedServer;ms-ep-fqdn={edge.fqdn};"
                                                        f"ms-source-network=federation;ms-source-verified-user=verified"})
    edge.sip(at(answer), lambda lg: format_protocol_record(
        lg, direction='incoming;source="federated partner";destination="internal edge"', peer=exum_peer,
        message_type="response", start_line=ok, headers=answered))
    edge.sip(at(answer + 0.003), lambda lg: format_protocol_record(
        lg, direction='outgoing;source="external edge";destination="internal edge"', peer=fe_peer,
        message_type="response", start_line=ok, headers=answered))
    fe.sip(at(answer + 0.006), lambda lg: format_protocol_record(lg, direction="incoming", peer=edge_peer,
                                                                  message_type="response", start_line=ok,
                                                                  headers=answered))


def _calls(rng: random.Random, sc: Scenario, fe: _Host, edges: list[_Host]) -> None:
    rr = 0
    t = sc.start + timedelta(seconds=rng.uniform(0, sc.call_every_s))
    stop = sc.end - timedelta(seconds=_CALL_SPAN_S)
    while t < stop:
        for k in range(len(edges)):
            edge = edges[(rr + k) % len(edges)]
            if edge.takes_calls(t):
                _call(rng, sc, fe, edge, t)
                rr = (rr + k + 1) % len(edges)
                t += timedelta(seconds=sc.call_every_s * rng.uniform(0.6, 1.4))
                break
        else:
            # No Edge can take a call (rebooting, quiet): the next one comes as soon as
            # one can, so that the onset of failures follows the reboot closely.
            t += timedelta(seconds=min(15.0, sc.call_every_s))


# ----------------------------------------------------------------------------------
# Case file


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/()@,+-]*$")


def _yaml_str(value: str) -> str:
    # JSON strings are YAML; plain scalars only where YAML cannot misread them.
    if _PLAIN.match(value) and not re.match(r"^(?:yes|no|on|off|true|false|null|~|[\d.+-]+)$", value, re.I) \
            and ": " not in value and " #" not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _minute(t: datetime, zone: ZoneInfo) -> str:
    local = (_utc(t) + timedelta(seconds=30)).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M")


def case_yaml(sc: Scenario) -> str:
    """The case file in the BRIEF's shape; times in the scenario's zone, to the minute."""
    zone = ZoneInfo(sc.timezone)
    lines = [f"timezone: {sc.timezone}",
             "references: [" + ", ".join(_yaml_str(r) for r in sc.references) + "]"]
    lines.append("changes:" if sc.changes else "changes: []")
    for c in sorted(sc.changes, key=lambda c: _utc(c.at)):
        lines.append(f"  - at: {_minute(c.at, zone)}")
        if c.host:
            lines.append(f"    host: {_yaml_str(c.host)}")
        lines.append(f"    what: {_yaml_str(c.what)}")
    lines.append("observations:" if sc.observations else "observations: []")
    for o in sc.observations:
        lines.append(f"  - host: {_yaml_str(o.host)}")
        lines.append(f"    at: {_minute(o.at, zone)}")
        lines.append(f"    shown: {_minute(o.shown, zone)}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------
# Putting it together


def _same_host(a: str, b: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or ("." not in a or "." not in b) and a.split(".", 1)[0] == b.split(".", 1)[0]


def build(scenario: Scenario) -> dict[str, dict[str, str]]:
    """Every host's files as text: {short name: {file name: content}}."""
    sc = scenario
    rng = random.Random(sc.seed)
    fe = _Host(sc.frontend, None, "document", rng)
    edges = [_Host(e.fqdn, e.fault, "stream" if i % 2 == 0 else "document", rng) for i, e in enumerate(sc.edges)]
    # Every host gets its own stream of randomness, so that adding a host or a call
    # does not reshuffle the others' routine records.
    streams = {h.fqdn: random.Random(f"{sc.seed}/{h.fqdn}") for h in [fe] + edges}
    _system_noise(fe, streams[fe.fqdn], sc.start, sc.end)
    _w32time(fe, streams[fe.fqdn], sc.start, sc.end, "frontend")
    _frontend_noise(fe, streams[fe.fqdn], sc.start, sc.end)
    for h in edges:
        r = streams[h.fqdn]
        _system_noise(h, r, sc.start, sc.end)
        _w32time(h, r, sc.start, sc.end, "edge")
        _edge_noise(h, r, sc.start, sc.end)
        f = h.fault
        if f is not None and sc.start <= f.reboot_at < sc.end:
            _reboot(h)
        if f is not None and f.fixed_at is not None and sc.start <= f.fixed_at < sc.end:
            _fix(h, "edge", sc.start, sc.end)
    for change in sc.changes:
        if change.host and sc.start <= _utc(change.at) < sc.end:
            for h in [fe] + edges:
                if _same_host(change.host, h.fqdn):
                    _change_trace(h, change)
    _calls(rng, sc, fe, edges)
    return {short_name(h.fqdn): h.files() for h in [fe] + edges}


def write_evidence(scenario: Scenario, out: Path) -> Path:
    """Write one folder per host (named by its short name) and ``case.yml`` under ``out``.

    ``out`` must not exist, be empty, or hold only what this writes (an earlier demo's
    evidence, written again): anything else there would be investigated with it, and
    a file of that name would be lost. Raises :class:`InputError` when it cannot be.
    """
    out = Path(out)
    hosts = build(scenario)
    if out.exists() and not out.is_dir():
        raise InputError(f"cannot write the demo's evidence to {out}: it is a file; give a new or empty folder")
    other = _not_ours(out, hosts) if out.is_dir() else None
    if other:
        raise InputError(f"cannot write the demo's evidence to {out}: it holds other files ({other}); give a new "
                         "or empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for folder, files in hosts.items():
            d = out / folder
            d.mkdir(exist_ok=True)
            for name, text in files.items():
                (d / name).write_text(text, encoding="utf-8", newline="")
        (out / "case.yml").write_text(case_yaml(scenario), encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot write the demo's evidence to {out}: {exc.strerror or exc}") from None
    return out


def _not_ours(out: Path, hosts: dict[str, dict[str, str]]) -> str | None:
    """The first entry of ``out`` that :func:`write_evidence` would not write, if any."""
    for entry in sorted(out.iterdir()):
        if entry.name == "case.yml" and entry.is_file():
            continue
        if entry.name not in hosts or not entry.is_dir():
            return entry.name
        extra = sorted(e.name for e in entry.iterdir() if e.name not in hosts[entry.name] or not e.is_file())
        if extra:
            return f"{entry.name}/{extra[0]}"
    return None


# ----------------------------------------------------------------------------------
# Scenarios


def local_time(zone: str, *fields: int) -> datetime:
    """A local wall time in ``zone`` as UTC."""
    return datetime(*fields, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


_CHICAGO = "America/Chicago"
#: An observation's uncertainty as the case file states it: both times to the minute.
OBSERVED_TO_THE_MINUTE_S = 120.0

#: The incident of the seed report: srv-lyncedge01 reboots at 6:19:10 PM CDT onto a
#: clock five hours behind; its log stops at 4:21:04 PM (shown) and resumes at
#: 9:33:25 PM when the admin resyncs; Access Edge is restarted a minute later.
SEED = Scenario(
    timezone=_CHICAGO,
    start=local_time(_CHICAGO, 2014, 10, 20, 15, 0),
    end=local_time(_CHICAGO, 2014, 10, 20, 23, 0),
    frontend="srv-lyncfe01.domain.com",
    edges=[EdgeSpec("srv-lyncedge01.domain.com", ClockFault(
        reboot_at=local_time(_CHICAGO, 2014, 10, 20, 18, 19, 10),
        offset_s=-18000.0,
        fixed_at=local_time(_CHICAGO, 2014, 10, 20, 21, 33, 25),
        service_restart_at=local_time(_CHICAGO, 2014, 10, 20, 21, 34, 27),
        # Shown 4:21:04 PM CDT on a clock five hours behind is 9:21:04 PM true.
        quiet_from=local_time(_CHICAGO, 2014, 10, 20, 21, 21, 4),
    ))],
    tenant="domain.onmicrosoft.com",
    changes=[Change(local_time(_CHICAGO, 2014, 10, 20, 18, 30), "Password Sync re-enabled",
                    "dirsync01.domain.com")],
    observations=[Observation("srv-lyncedge01.domain.com", local_time(_CHICAGO, 2014, 10, 20, 21, 31),
                              local_time(_CHICAGO, 2014, 10, 20, 16, 31), OBSERVED_TO_THE_MINUTE_S)],
    references=["srv-lyncfe01.domain.com"],
    call_every_s=90.0,
    seed=1,
)
