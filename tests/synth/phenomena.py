"""The clock phenomena of issue 17, one evidence folder per numbered case, with the truth.

Each ``case_*`` builder writes under ``out`` one folder per host (named by the host's
short name, as collection tools lay evidence out), several logs per host written the
way the real software writes them, a ``case.yml`` where the case has one, and returns
:class:`Truth`: per host the true offset (logged - true) as a function of true time,
the true instants of its steps, boots, suspends and resumes, and for every record of
every file its true time and true offset, in write order.

Message texts are the real ones; where each comes from is said beside it:

* Windows events through :func:`skewsleuth.demo.eventxml.event_xml` and
  :mod:`skewsleuth.demo.winevents`: Security 4616 (fields SubjectUserSid ...
  PreviousTime, NewTime, ProcessId, ProcessName: Microsoft "4616(S): The system time
  was changed", eventsentry.com / ultimatewindowssecurity.com event 4616),
  Kernel-General 1 (NewTime/OldTime/Reason, "The system time has changed to %1 from
  %2."), Time-Service 35/36/37/129, Kernel-Power 42 ("The system is entering sleep.")
  and 107 ("The system has resumed from sleep."), Power-Troubleshooter 1 ("The system
  has resumed from sleep. / Sleep Time: / Wake Time: / Wake Source:", serverfault
  question 210166), EventLog 6005/6006/6013, Security 4768/4771 with Status 0x25
  (Microsoft event 4771 documentation).
* Lync / SfB SIPStack traces, 429 ``SIP_E_CRYPT_REFERRER_DATE_SKEWED``, Edge 14619,
  Front End 44009: :mod:`skewsleuth.demo.sipstack`, :mod:`skewsleuth.demo.lync`, as
  the seed scenario writes them.
* chronyd (chrony reference.c / local.c): "Selected source ADDR (NAME)", "System clock
  wrong by -600.000214 seconds", "System clock was stepped by -600.000214 seconds",
  "Can't synchronise: no selectable sources".
* systemd-timesyncd 237 (Ubuntu 18.04): "Synchronized to time server
  91.189.89.198:123 (ntp.ubuntu.com)." and "Timed out waiting for reply from ..."
  (systemd issues 11548, 8719); systemd[1] "Time has been changed".
* rsyslogd: ``[origin software="rsyslogd" swVersion="8.2102.0" x-pid="512"
  x-info="https://www.rsyslog.com"] start`` and ``... exiting on signal 15.``.
* krb5kdc log lines and RFC 3164 / journald lines: :mod:`synth.syslog`.

Each case is a few hundred records, so that an investigation takes about a second.
Output is a pure function of the arguments.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from skewsleuth.demo.eventxml import event_stream, event_xml, events_document, filetime_text
from skewsleuth.demo.lync import (EXUM_PEER, REFUSED, UNAVAILABLE, exum_dialplan, exum_routing_failed,
                                  referrer_skew_headers, rfc1123, routing_error)
from skewsleuth.demo.sipstack import format_protocol_record
from skewsleuth.demo.winevents import (LOCAL_SERVICE_SID, PROVIDER_GUIDS, Q_INFO, Q_WARN, SYSTEM_SID, dns_timeout,
                                       group_policy_processed, service_state, time_changed, time_synced)

from .syslog import journald_line, krb5kdc_line, krb5kdc_skew_message, rfc3164_line

__all__ = ["HostTruth", "Truth", "BUILDERS", "case1_edge_resync_in_three_logs", "case2a_forward_fix_unlogged",
           "case2b_dc_forward_gap", "case3_snapshot_vmtools_wrong_time", "case4_selected_source_before_step",
           "case5_rsyslog_start_before_kernel", "case6_one_contradiction", "case7_resume_ahead",
           "case8_cmos_reset", "case9_journald_monotonic"]

UTC = timezone.utc
_SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
_POWER_GUID = "{331C3B3A-2005-44C2-AC5E-77220C37D6B4}"
_TROUBLESHOOTER_GUID = "{CDC05E28-C449-49C6-B9D2-88CF761644DF}"
_LS_Q = {4: 17390, 3: 33774, 2: 50158}   # Lync Server classic sources' Qualifiers, by level
_NOISE_SERVICES = [("WinHttpAutoProxySvc", "WinHTTP Web Proxy Auto-Discovery Service"),
                   ("TrustedInstaller", "Windows Modules Installer"), ("BITS", "Background Intelligent Transfer Service"),
                   ("wuauserv", "Windows Update"), ("sppsvc", "Software Protection")]
_USERS = ["amy.jones", "bob.smith", "carol.nguyen", "dave.patel", "erin.lopez", "frank.meyer", "grace.kim"]


# ----------------------------------------------------------------------------------
# The truth


@dataclass
class HostTruth:
    host: str                                        # FQDN
    # (true instant from which it holds, offset s); the first entry's instant is None
    offsets: list[tuple[datetime | None, float]]
    steps: list[tuple[datetime, float]] = field(default_factory=list)   # true instant, size (s)
    boots: list[datetime] = field(default_factory=list)
    suspends: list[datetime] = field(default_factory=list)
    resumes: list[datetime] = field(default_factory=list)
    # file path relative to the evidence root -> [(true time, offset)] in write order
    records: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)

    def offset_at(self, t: datetime) -> float:
        off = self.offsets[0][1]
        for at, o in self.offsets[1:]:
            if at is not None and t >= at:
                off = o
        return off

    def all_records(self) -> list[tuple[datetime, float]]:
        return sorted(r for recs in self.records.values() for r in recs)

    def bracket(self, boundary: datetime) -> tuple[datetime | None, datetime | None]:
        """True times of the host's last record before ``boundary`` and first at or after it."""
        recs = [t for t, _ in self.all_records()]
        before = [t for t in recs if t < boundary]
        after = [t for t in recs if t >= boundary]
        return (before[-1] if before else None), (after[0] if after else None)


@dataclass
class Truth:
    case: str
    root: Path
    hosts: dict[str, HostTruth]
    case_file: Path | None = None
    culprit: str | None = None            # the host whose clock caused the incident
    culprit_offset_s: float | None = None
    since: datetime | None = None         # true instant the culprit's wrong clock began (None: before the evidence)
    until: datetime | None = None         # true instant it was set right (None: after the evidence)
    healthy: list[str] = field(default_factory=list)
    incidents: int = 0                    # how many incidents really happened
    notes: str = ""

    def host(self, name: str) -> HostTruth:
        return self.hosts[name]


# ----------------------------------------------------------------------------------
# Hosts writing logs


@dataclass
class _Log:
    name: str
    kind: str                 # xml-stream | xml-doc | sipstack | lines
    encoding: str = "utf-8"
    newline: str = "\n"
    record_base: int = 1
    entries: list = field(default_factory=list)


class _Machine:
    """One host: its true clock, and the records its logs get, in true time."""

    def __init__(self, fqdn: str, offsets: list[tuple[datetime | None, float]], ip: str, seed: int = 1) -> None:
        self.fqdn = fqdn
        self.short = fqdn.split(".", 1)[0]
        self.ip = ip
        self.truth = HostTruth(fqdn, offsets)
        self.logs: dict[str, _Log] = {}
        self._seq = itertools.count()
        self.rng = random.Random(f"{seed}/{fqdn}")
        self.pids = {k: self.rng.randrange(300, 4000, 4) for k in ("services", "eventlog", "w32time", "dns", "gp",
                                                                    "rtc", "lsass", "power")}
        self.mtime: datetime | None = None   # for files without a year: set their modification time

    def offset(self, t: datetime) -> float:
        return self.truth.offset_at(t)

    def log(self, name: str, kind: str, **kw) -> _Log:
        if name not in self.logs:
            self.logs[name] = _Log(name, kind, **kw)
        return self.logs[name]

    def add(self, name: str, t: datetime, render: Callable[[datetime, int], str], *, logged: datetime | None = None,
            order: datetime | None = None, kind: str = "lines") -> None:
        """Queue a record written at true ``t`` (``logged``: what the clock read, if not
        true + offset; ``order``: where it falls in write order, if not at ``t``)."""
        self.log(name, kind).entries.append((order or t, next(self._seq), t, logged, render))

    def win(self, name: str, channel: str, t: datetime, *, provider: str, event_id: int, **kw) -> None:
        kw.setdefault("provider_guid", PROVIDER_GUIDS.get(provider))
        fqdn = self.fqdn
        self.add(name, t, lambda lg, rid: event_xml(provider=provider, event_id=event_id, logged=lg, computer=fqdn,
                                                    channel=channel, record_id=rid, **kw))

    def write(self, root: Path) -> None:
        folder = root / self.short
        folder.mkdir(parents=True, exist_ok=True)
        for log in self.logs.values():
            entries = sorted(log.entries, key=lambda e: (e[0], e[1]))
            texts, recs = [], []
            for k, (_, _, t, logged, render) in enumerate(entries):
                lg = logged if logged is not None else t + timedelta(seconds=self.offset(t))
                texts.append(render(lg, log.record_base + k))
                recs.append((t, (lg - t).total_seconds()))
            if log.kind == "xml-stream":
                text = event_stream(texts)
            elif log.kind == "xml-doc":
                text = events_document(texts)
            elif log.kind == "sipstack":
                text = "".join(texts)
            else:
                text = "\n".join(texts) + "\n"
            if log.newline != "\n":
                text = text.replace("\n", log.newline)
            path = folder / log.name
            if log.encoding == "utf-16":
                path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
            else:
                path.write_bytes(text.encode(log.encoding))
            if self.mtime is not None:
                ts = self.mtime.timestamp()
                os.utime(path, (ts, ts))
            self.truth.records[f"{self.short}/{log.name}"] = recs


def _write(case: str, root: Path, machines: list[_Machine], case_yml: str | None = None, **kw) -> Truth:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for m in machines:
        m.write(root)
    case_file = None
    if case_yml is not None:
        case_file = root / "case.yml"
        case_file.write_text(case_yml, encoding="utf-8")
    return Truth(case, root, {m.fqdn: m.truth for m in machines}, case_file, **kw)


def _secs(s: float) -> timedelta:
    return timedelta(seconds=s)


def _every(start: datetime, end: datetime, lo: float, hi: float, rng: random.Random):
    t = start + _secs(rng.uniform(0, lo))
    while t < end:
        yield t
        t += _secs(rng.uniform(lo, hi))


def _minute(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


# ----------------------------------------------------------------------------------
# Windows: routine and clock records


def _system_noise(m: _Machine, start: datetime, end: datetime, file: str = "System.xml", lo=300, hi=900,
                  skip: Callable[[datetime], bool] = lambda t: False) -> None:
    domain = m.fqdn.split(".", 1)[-1]
    for t in _every(start, end, lo, hi, m.rng):
        if skip(t):
            continue
        pick = m.rng.random()
        if pick < 0.6:
            key, display = m.rng.choice(_NOISE_SERVICES)
            m.win(file, "System", t, **service_state(key, display, m.rng.choice(("running", "stopped"))),
                  process_id=m.pids["services"])
        elif pick < 0.85:
            # an ordinary failure: WPAD lookups time out all day on most networks
            m.win(file, "System", t, **dns_timeout(f"wpad.{domain}"), process_id=m.pids["dns"])
        else:
            m.win(file, "System", t, **group_policy_processed(m.rng.randint(300, 2500)), process_id=m.pids["gp"])


def _ts37(m: _Machine, t: datetime, source: str, file: str = "System.xml") -> None:
    m.win(file, "System", t, **time_synced(source), process_id=m.pids["w32time"])


def _ts(m: _Machine, t: datetime, event_id: int, level: int, data: dict, message: str, file: str = "System.xml"):
    m.win(file, "System", t, provider="Microsoft-Windows-Time-Service", event_id=event_id, level=level, data=data,
          user_sid=LOCAL_SERVICE_SID, process_id=m.pids["w32time"], message=message, keywords="0x8000000000000000")


def _ts35(m: _Machine, t: datetime, source: str) -> None:
    _ts(m, t, 35, 4, {"TimeSource": source},
        f"The time service is now synchronizing the system time with the time source {source}.")


def _ts36(m: _Machine, t: datetime) -> None:
    _ts(m, t, 36, 3, {"TimeSinceLastSyncSeconds": "86400"},
        "The time service has not synchronized the system time for 86400 seconds because none of the time "
        "service providers provided a usable time stamp. The time service will not update the local system "
        "clock until it is able to synchronize with a time source.")


def _kg1_w32time(m: _Machine, t: datetime, old: datetime, new: datetime) -> None:
    """Kernel-General 1 as W32Time writes it (LocalService), logged just after the change."""
    m.win("System.xml", "System", t, **time_changed(new, old), process_id=m.pids["w32time"])


def _sec4616(m: _Machine, t: datetime, prev: datetime, new: datetime, process: str, pid: int, *,
             user: tuple[str, str, str, str] = (SYSTEM_SID, "", "NT AUTHORITY", "0x3e7"), file="Security.xml"):
    """Security 4616: who changed the clock, from what to what (Microsoft "4616(S)")."""
    sid, name, dom, logon = user
    name = name or f"{m.short.upper()}$"
    m.win(file, "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
          event_id=4616, task=12288, keywords="0x8020000000000000", process_id=m.pids["lsass"],
          data={"SubjectUserSid": sid, "SubjectUserName": name, "SubjectDomainName": dom, "SubjectLogonId": logon,
                "PreviousTime": filetime_text(prev), "NewTime": filetime_text(new), "ProcessId": hex(pid),
                "ProcessName": process},
          message=f"The system time was changed.\n\nSubject:\n\tSecurity ID:\t\t{sid}\n\tAccount Name:\t\t{name}\n"
                  f"\tAccount Domain:\t\t{dom}\n\tLogon ID:\t\t{logon}\n\nProcess Information:\n\tProcess ID:\t{hex(pid)}\n"
                  f"\tName:\t\t{process}\n\nPrevious Time:\t\t{filetime_text(prev)}\nNew Time:\t\t{filetime_text(new)}\n\n"
                  "This event is generated when the system time is changed. It is normal for the Windows Time "
                  "Service, which runs with System privilege, to change the system time on a regular basis. Other "
                  "system time changes may be indicative of attempts to tamper with the computer.")


def _security_noise(m: _Machine, start: datetime, end: datetime, lo=240, hi=700,
                    skip: Callable[[datetime], bool] = lambda t: False) -> None:
    for t in _every(start, end, lo, hi, m.rng):
        if skip(t):
            continue
        user = m.rng.choice(_USERS)
        m.win("Security.xml", "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
              event_id=4624, task=12544, keywords="0x8020000000000000", process_id=m.pids["lsass"],
              data={"SubjectUserSid": SYSTEM_SID, "SubjectUserName": f"{m.short.upper()}$",
                    "SubjectDomainName": "CORP", "SubjectLogonId": "0x3e7",
                    "TargetUserSid": "S-1-5-21-1004336348-1177238915-682003330-1107", "TargetUserName": user,
                    "TargetDomainName": "CORP", "TargetLogonId": "0x5f3a1", "LogonType": "3",
                    "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                    "WorkstationName": "-", "IpAddress": "10.0.4.21", "IpPort": "0"},
              message=f"An account was successfully logged on.\n\nNew Logon:\n\tAccount Name:\t\t{user}")


def _dc_kerberos(dc: _Machine, member: _Machine, t: datetime) -> None:
    """The member's computer account asks ``dc`` for a TGT at true ``t``: 4768 issued,
    or 4771 with Status 0x25 (KRB_AP_ERR_SKEW) when their clocks differ by > 5 min."""
    skew = abs(dc.offset(t) - member.offset(t)) > 300
    account = f"{member.short.upper()}$"
    common = {"TargetUserName": account, "TargetSid": "S-1-5-21-1004336348-1177238915-682003330-2201",
              "ServiceName": "krbtgt/CORP.TEST", "TicketOptions": "0x40810010", "IpAddress": f"::ffff:{member.ip}",
              "IpPort": str(49152 + member.rng.randint(0, 15000))}
    if skew:
        dc.win("Security.xml", "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
               event_id=4771, task=14339, keywords="0x8010000000000000", level=0, process_id=dc.pids["lsass"],
               data={**common, "Status": "0x25", "PreAuthType": "2", "CertIssuerName": "", "CertSerialNumber": "",
                     "CertThumbprint": ""},
               message=f"Kerberos pre-authentication failed.\n\nAccount Information:\n\tSecurity ID:\t\tCORP\\{account}\n"
                       f"\tAccount Name:\t\t{account}\n\nService Information:\n\tService Name:\t\tkrbtgt/CORP.TEST\n\n"
                       f"Network Information:\n\tClient Address:\t\t::ffff:{member.ip}\n\n"
                       f"Additional Information:\n\tTicket Options:\t\t0x40810010\n\tFailure Code:\t\t0x25\n"
                       f"\tPre-Authentication Type:\t2")
    else:
        dc.win("Security.xml", "Security", t, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
               event_id=4768, task=14339, keywords="0x8020000000000000", process_id=dc.pids["lsass"],
               data={**common, "TargetDomainName": "CORP.TEST", "Status": "0x0", "TicketEncryptionType": "0x12",
                     "PreAuthType": "2"},
               message=f"A Kerberos authentication ticket (TGT) was requested.\n\nAccount Information:\n"
                       f"\tAccount Name:\t\t{account}\n\tSupplied Realm Name:\tCORP.TEST\n\n"
                       f"Network Information:\n\tClient Address:\t\t::ffff:{member.ip}\n\n"
                       f"Additional Information:\n\tResult Code:\t\t0x0")


def _sip_options(a: _Machine, b: _Machine, t: datetime, n: int) -> None:
    """``a`` sends OPTIONS to ``b`` (SIP keep-alive between pool servers), ``b`` answers
    200 OK; both trace both messages (same Call-ID and CSeq)."""
    call_id = f"{a.rng.getrandbits(128):032x}"
    headers = {"From": f"<sip:{a.fqdn}>;tag={a.rng.getrandbits(32):08x}", "To": f"<sip:{b.fqdn}>",
               "CSeq": f"{n} OPTIONS", "Call-ID": call_id,
               "Via": f"SIP/2.0/TLS {a.ip}:5061;branch=z9hG4bK{a.rng.getrandbits(32):08X}", "Max-Forwards": "70",
               "Content-Length": "0"}
    ok = dict(headers, To=headers["To"] + f";tag={b.rng.getrandbits(32):08x}")
    start = f"OPTIONS sip:{b.fqdn}:5061;transport=tls SIP/2.0"
    rtt = a.rng.uniform(0.002, 0.03)

    def rec(direction, peer, mtype, line, h):
        return lambda lg, rid: format_protocol_record(lg, direction=direction, peer=peer, message_type=mtype,
                                                      start_line=line, headers=h)
    a.add("SIPStack.log", t, rec("outgoing", f"{b.fqdn}:5061", "request", start, headers), kind="sipstack")
    b.add("SIPStack.log", t + _secs(rtt / 2), rec("incoming", f"{a.fqdn}:5061", "request", start, headers),
          kind="sipstack")
    b.add("SIPStack.log", t + _secs(rtt / 2 + 0.001), rec("outgoing", f"{a.fqdn}:5061", "response",
                                                          "SIP/2.0 200 OK", ok), kind="sipstack")
    a.add("SIPStack.log", t + _secs(rtt + 0.001), rec("incoming", f"{b.fqdn}:5061", "response", "SIP/2.0 200 OK", ok),
          kind="sipstack")


def _lync_event(m: _Machine, t: datetime, provider: str, event_id: int, level: int, data: list[str], message: str,
                file: str = "Lync Server.xml") -> None:
    m.win(file, "Lync Server", t, provider=provider, event_id=event_id, level=level, qualifiers=_LS_Q[level],
          data=data, process_id=m.pids["rtc"], task=1001, message=message)


def _voicemail_call(fe: _Machine, edge: _Machine, t: datetime, refused: bool, tenant: str) -> None:
    """A voicemail call from the Front End through the Edge to hosted Exchange UM, as
    the seed scenario traces it: refused with 429 (SIP_E_CRYPT_REFERRER_DATE_SKEWED)
    and 14619 while the Edge's clock is off, answered otherwise."""
    rng = fe.rng
    domain = fe.fqdn.split(".", 1)[1]
    caller, callee = rng.sample(_USERS, 2)
    call_id = f"{rng.getrandbits(128):032x}"
    referrer = f"{callee}@{domain}"
    invite_line = f"INVITE sip:{callee}@{EXUM_PEER};transport=tls SIP/2.0"
    invite = {"From": f"<sip:{caller}@{domain}>;tag={rng.getrandbits(32):08x}", "To": f"<sip:{callee}@{EXUM_PEER}>",
              "CSeq": "1 INVITE", "Call-ID": call_id,
              "Referred-By": f'<sip:{referrer}>;ms-identity="{rng.getrandbits(128):032x}";'
                             f'ms-identity-info="sip:{fe.fqdn}:5061;transport=Tls";ms-identity-alg=rsa-sha1;'
                             f'ms-identity-date="{rfc1123(t + _secs(fe.offset(t)))}"',
              "ms-exchange-command": "VoiceMail", "Content-Length": "0"}

    def resp(extra):
        h = {k: invite[k] for k in ("From", "To", "CSeq", "Call-ID")}
        h["To"] += ";tag=1a2b3c4d"
        h.update(extra)
        h["Content-Length"] = "0"
        return h

    def rec(direction, peer, mtype, line, h):
        return lambda lg, rid: format_protocol_record(lg, direction=direction, peer=peer, message_type=mtype,
                                                      start_line=line, headers=h)
    fe_peer, edge_peer = f"{fe.fqdn}:5061", f"{edge.fqdn}:5061"
    at = lambda s: t + _secs(s)  # noqa: E731
    fe.add("SIPStack.log", at(0), rec("outgoing", edge_peer, "request", invite_line, invite), kind="sipstack")
    edge.add("SIPStack.log", at(0.003), rec('incoming;source="internal edge";destination="external edge"', fe_peer,
                                            "request", invite_line, invite), kind="sipstack")
    if refused:
        skewed = resp(referrer_skew_headers(referrer, fe.fqdn, edge.fqdn, source=f"sip.{domain}"))
        edge.add("SIPStack.log", at(0.008), rec('outgoing;source="external edge";destination="internal edge"', fe_peer,
                                                "response", REFUSED, skewed), kind="sipstack")
        _lync_event(edge, at(0.009), "LS Protocol Stack", 14619, 2,
                    [EXUM_PEER, referrer, fe.fqdn, "0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)", call_id],
                    f"A message for the hosted Exchange UM peer {EXUM_PEER} was rejected because the identity of the "
                    f"referrer could not be verified: the signature date is skewed from this server's clock.\n\n"
                    f"Referrer: {referrer}\nSigner: {fe.fqdn}\nCall-ID: {call_id}\n"
                    f"Result: 0xC3E93EE0 (SIP_E_CRYPT_REFERRER_DATE_SKEWED)")
        fe.add("SIPStack.log", at(0.011), rec("incoming", edge_peer, "response", REFUSED, skewed), kind="sipstack")
        fe.add("SIPStack.log", at(0.012), lambda lg, rid: routing_error(lg, peer=edge_peer, call_id=call_id,
                                                                        cseq="1 INVITE"), kind="sipstack")
        failed = resp({"ms-diagnostics": exum_routing_failed(fe.fqdn, tenant)})
        fe.add("SIPStack.log", at(0.014), rec("outgoing", f"10.20.{rng.randint(0, 255)}.{rng.randint(10, 250)}:50123",
                                              "response", UNAVAILABLE, failed), kind="sipstack")
        dialplan = exum_dialplan(tenant)
        fe.win("Application.xml", "Application", at(0.02), provider="LS Exchange Unified Messaging Routing",
               event_id=44009, level=2, qualifiers=_LS_Q[2],
               data=[EXUM_PEER, dialplan, f"sip:{callee}@{domain}", REFUSED, call_id], process_id=fe.pids["rtc"],
               task=1022, message=f"Failed to route to Exchange Server.\n\nExchange UM server: {EXUM_PEER}, dial "
                                  f"plan: {dialplan}, voicemail for: sip:{callee}@{domain}, response: {REFUSED}, "
                                  f"Call-ID: {call_id}.")
        return
    ok = "SIP/2.0 200 OK"
    answered = resp({"ms-edge-proxy-message-trust": f"ms-source-type=AuthorizedServer;ms-ep-fqdn={edge.fqdn};"
                                                    f"ms-source-network=federation"})
    edge.add("SIPStack.log", at(0.006), rec('outgoing;source="external edge";destination="federated partner"',
                                            f"{EXUM_PEER}:5061", "request", invite_line, invite), kind="sipstack")
    answer = rng.uniform(0.8, 3.0)
    edge.add("SIPStack.log", at(answer), rec('incoming;source="federated partner";destination="internal edge"',
                                             f"{EXUM_PEER}:5061", "response", ok, answered), kind="sipstack")
    edge.add("SIPStack.log", at(answer + 0.003), rec('outgoing;source="external edge";destination="internal edge"',
                                                     fe_peer, "response", ok, answered), kind="sipstack")
    fe.add("SIPStack.log", at(answer + 0.006), rec("incoming", edge_peer, "response", ok, answered), kind="sipstack")


def _hosts_yaml(machines: list[_Machine]) -> str:
    return "hosts:\n" + "".join(f"  {m.fqdn}: [{m.ip}]\n" for m in machines)


# ----------------------------------------------------------------------------------
# Linux: line writers


def _iso_line(logged: datetime, host: str, app: str, pid: int | None, msg: str) -> str:
    """rsyslog RSYSLOG_FileFormat (Debian 12's /var/log/syslog): RFC 3339 time, microseconds."""
    t = logged.astimezone(UTC)
    tag = app if pid is None else f"{app}[{pid}]"
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}+00:00 {host} {tag}: {msg}"


_LINUX_NOISE = [
    ("CRON", 2210, "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
    ("systemd", 1, "Starting apt-daily.service - Daily apt download activities..."),
    ("systemd", 1, "apt-daily.service: Deactivated successfully."),
    ("sshd", 1021, "Accepted publickey for deploy from 10.20.3.7 port 51514 ssh2: ED25519 "
                   "SHA256:Xq3bX0mQ9m8p3WlQhW1Vw2p8k4c9gCq7m5oJk1n2b3c"),
    ("sshd", 1187, "Connection closed by invalid user admin 203.0.113.50 port 40112 [preauth]"),  # ordinary failure
    ("systemd-logind", 612, "New session 41 of user deploy."),
    ("nginx", 880, '10.1.2.3 - - "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"'),
]


def _rsyslog_start(pid: int) -> str:
    return (f'[origin software="rsyslogd" swVersion="8.2102.0" x-pid="{pid}" '
            f'x-info="https://www.rsyslog.com"] start')


def _rsyslog_exit(pid: int) -> str:
    return (f'[origin software="rsyslogd" swVersion="8.2102.0" x-pid="{pid}" '
            f'x-info="https://www.rsyslog.com"] exiting on signal 15.')


def _requests(a: _Machine, b: _Machine, t: datetime, line: Callable[[_Machine, datetime, str], None]) -> None:
    """``a`` calls ``b``'s API at true ``t``; both log the request and the response
    with its request_id, direction and phase (name=value words)."""
    rid = f"{a.rng.getrandbits(64):016x}"
    d1, think, d2 = (a.rng.uniform(0.001, 0.02) for _ in range(3))
    words = "request_id={} direction={} phase={} peer={} method=GET path=/api/v1/orders status=200"
    line(a, t, words.format(rid, "out", "request", b.fqdn))
    line(b, t + _secs(d1), words.format(rid, "in", "request", a.fqdn))
    line(b, t + _secs(d1 + think), words.format(rid, "out", "response", a.fqdn))
    line(a, t + _secs(d1 + think + d2), words.format(rid, "in", "response", b.fqdn))


# ----------------------------------------------------------------------------------
# 1. One host, one clock: one unlogged resync seen in three logs


def case1_edge_resync_in_three_logs(out: Path) -> Truth:
    """sfb-edge01's clock is +10800 s until an unlogged resync at 12:00 (true) sets it
    right; its System log (wevtutil stream), Lync Server log (PowerShell-redirected
    wevtutil output: UTF-16 LE with CRLF) and SIPStack trace each go back ~3 h at
    their own record. The Front End (reference) routes voicemail through it; calls
    are refused (429, 14619, 44009) until the Access Edge is restarted at 12:01."""
    S, E = datetime(2024, 5, 14, 8, 0, tzinfo=UTC), datetime(2024, 5, 14, 14, 0, tzinfo=UTC)
    R = datetime(2024, 5, 14, 12, 0, 0, tzinfo=UTC)
    restart = R + _secs(61)
    fe = _Machine("sfb-fe01.contoso.test", [(None, 0.0)], "10.0.1.11", seed=1)
    edge = _Machine("sfb-edge01.contoso.test", [(None, 10800.0), (R, 0.0)], "10.0.1.31", seed=1)
    edge.truth.steps.append((R, -10800.0))
    fe.log("System.xml", "xml-doc")
    fe.log("Application.xml", "xml-doc")
    edge.log("System.xml", "xml-stream")
    edge.log("Lync Server.xml", "xml-stream", encoding="utf-16", newline="\r\n")
    _system_noise(fe, S, E)
    _system_noise(edge, S, E)
    for t in _every(S, E, 1800, 3600, fe.rng):
        _ts37(fe, t, f"dc01.contoso.test,0x9 (ntp.d|{fe.ip}:123->10.0.0.10:123)")
    for t in _every(S + _secs(600), R, 900, 920, edge.rng):
        _ts(edge, t, 129, 3, {"ErrorMessage": "The entry is not found. (0x800706E1)", "RetryMinutes": "15"},
            "NtpClient was unable to set a domain peer to use as a time source because of discovery error. NtpClient "
            "will try again in 15 minutes and double the reattempt interval thereafter. The error was: The entry is "
            "not found. (0x800706E1)")
    for t in _every(S, E, 1200, 2400, edge.rng):
        _lync_event(edge, t, "LS Protocol Stack", 14501, 4, [edge.fqdn, "5061"],
                    f"The server {edge.fqdn} completed a periodic check of its listening ports.\n\n"
                    f"Port 5061 (TLS) is listening on the internal and external edge.")
    for state in ("stopped", "running"):
        t = restart + _secs(0 if state == "stopped" else 12)
        edge.win("System.xml", "System", t, **service_state("RTCSRV", "Skype for Business Server Access Edge", state),
                 process_id=edge.pids["services"])
    _lync_event(edge, restart + _secs(12.4), "LS Server", 12289, 4, ["Skype for Business Server Access Edge", "RTCSRV"],
                "Skype for Business Server Access Edge (RTCSRV) has started successfully.")
    tenant = "contoso.onmicrosoft.com"
    n = 0
    for t in _every(S + _secs(30), E - _secs(30), 100, 140, fe.rng):
        if restart - _secs(5) <= t < restart + _secs(15):
            continue
        _voicemail_call(fe, edge, t, refused=t < restart, tenant=tenant)
        n += 1
    for k, t in enumerate(_every(S + _secs(200), E - _secs(30), 500, 700, edge.rng)):
        _sip_options(edge, fe, t, k + 1)
    case = ("timezone: UTC\n"
            f"references: [{fe.fqdn}]\n"
            "changes:\n"
            f"  - at: 2024-05-14 10:15\n    host: dirsync01.contoso.test\n    what: Password Sync re-enabled\n"
            "observations: []\n")
    return _write("1", out, [fe, edge], case, culprit=edge.fqdn, culprit_offset_s=10800.0, since=None, until=R,
                  healthy=[fe.fqdn], incidents=1)


# ----------------------------------------------------------------------------------
# 2a. A forward fix no record names


def case2a_forward_fix_unlogged(out: Path) -> Truth:
    """sfb-med01 is 400 s behind until 10:30 (true), when its clock is set right
    (+400 s); the Kernel-General 1 of the fix is not in the export (only the
    System log's ordinary events were collected), so record order shows no jump
    back. After the fix W32Time logs 35 and 37. Before it: SIP OPTIONS with the Front
    End show -400 s, dc01 (reference) refuses its Kerberos with 4771 0x25, and the
    case file holds an observation of its clock."""
    S, E = datetime(2024, 6, 3, 7, 0, tzinfo=UTC), datetime(2024, 6, 3, 13, 0, tzinfo=UTC)
    F = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
    dc = _Machine("dc01.corp.test", [(None, 0.0)], "10.0.5.2", seed=2)
    fe = _Machine("sfb-fe01.corp.test", [(None, 0.0)], "10.0.5.11", seed=2)
    med = _Machine("sfb-med01.corp.test", [(None, -400.0), (F, 0.0)], "10.0.5.21", seed=2)
    med.truth.steps.append((F, 400.0))
    dc.log("Security.xml", "xml-doc")
    for m in (dc, fe, med):
        m.log("System.xml", "xml-stream")
        _system_noise(m, S, E)
    _security_noise(dc, S, E)
    for t in _every(S, E, 1800, 3000, dc.rng):
        _ts37(dc, t, "time.nist.gov,0x8 (ntp.m|0x8|10.0.5.2:123->132.163.97.1:123)")
    for t in _every(S, E, 1800, 3000, fe.rng):
        _ts37(fe, t, f"dc01.corp.test (ntp.d|{fe.ip}:123->10.0.5.2:123)")
    for t in _every(S + _secs(900), F, 3600, 3700, med.rng):
        _ts36(med, t)
    src = f"dc01.corp.test (ntp.d|{med.ip}:123->10.0.5.2:123)"
    _ts35(med, F + _secs(2.1), src)
    _ts37(med, F + _secs(4.3), src)
    for t in _every(F + _secs(1800), E, 1800, 2400, med.rng):
        _ts37(med, t, src)
    for k, t in enumerate(_every(S + _secs(60), E, 280, 320, fe.rng)):
        a, b = (fe, med) if k % 2 == 0 else (med, fe)
        _sip_options(a, b, t, k + 1)
    for member in (fe, med):
        for t in _every(S + _secs(100), E, 550, 650, member.rng):
            _dc_kerberos(dc, member, t)
    obs_at = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    case = ("timezone: UTC\n"
            f"references: [{dc.fqdn}]\n" + _hosts_yaml([fe, med]) +
            "changes: []\n"
            "observations:\n"
            f"  - host: {med.fqdn}\n    at: {_minute(obs_at)}\n    shown: {_minute(obs_at - _secs(400))}\n")
    return _write("2a", out, [dc, fe, med], case, culprit=med.fqdn, culprit_offset_s=-400.0, since=None, until=F,
                  healthy=[dc.fqdn, fe.fqdn], incidents=1)


# ----------------------------------------------------------------------------------
# 2b. A 2.4-day forward gap that is a step


GAP_2B_S = 2.4 * 86400


def case2b_dc_forward_gap(out: Path) -> Truth:
    """dc02's clock is 2.4 days behind until 10:00 (true), then set right: its logs
    leap 2.4 days forward there, and nothing names the step. It refuses the healthy
    members' Kerberos (4771 0x25) while behind; an administrator noted what its clock
    showed (case file); after the fix W32Time logs 37."""
    S, E = datetime(2024, 7, 8, 6, 0, tzinfo=UTC), datetime(2024, 7, 8, 14, 0, tzinfo=UTC)
    F = datetime(2024, 7, 8, 10, 0, tzinfo=UTC)
    dc = _Machine("dc02.corp.test", [(None, -GAP_2B_S), (F, 0.0)], "10.0.6.2", seed=3)
    dc.truth.steps.append((F, GAP_2B_S))
    members = [_Machine(f"app1{k}.corp.test", [(None, 0.0)], f"10.0.6.{10 + k}", seed=3) for k in (1, 2)]
    dc.log("System.xml", "xml-stream")
    dc.log("Security.xml", "xml-doc", newline="\r\n")   # Event Viewer "Save as XML" on Windows: CRLF
    _system_noise(dc, S, E)
    _security_noise(dc, S, E)
    for t in _every(S + _secs(300), F, 3600, 3700, dc.rng):
        _ts36(dc, t)
    for t in _every(F + _secs(30), E, 1800, 2400, dc.rng):
        _ts37(dc, t, "time.nist.gov,0x8 (ntp.m|0x8|10.0.6.2:123->132.163.97.1:123)")
    for m in members:
        m.log("System.xml", "xml-stream")
        _system_noise(m, S, E)
        for t in _every(S, E, 1800, 2400, m.rng):
            _ts37(m, t, f"time.corp.test (ntp.d|{m.ip}:123->10.0.0.10:123)")
        for t in _every(S + _secs(100), E, 550, 650, m.rng):
            _dc_kerberos(dc, m, t)
    obs_at = datetime(2024, 7, 8, 8, 0, tzinfo=UTC)
    case = ("timezone: UTC\n"
            "references: []\n" + _hosts_yaml(members) +
            "changes: []\n"
            "observations:\n"
            f"  - host: {dc.fqdn}\n    at: {_minute(obs_at)}\n    shown: {_minute(obs_at - _secs(GAP_2B_S))}\n")
    return _write("2b", out, [dc] + members, case, culprit=dc.fqdn, culprit_offset_s=-GAP_2B_S, since=None, until=F,
                  healthy=[m.fqdn for m in members], incidents=1)


# ----------------------------------------------------------------------------------
# 3. A setter that sets a wrong time: vmtoolsd after a snapshot revert


def case3_snapshot_vmtools_wrong_time(out: Path) -> Truth:
    """dc03 is right until it is reverted (10:30 true) to a snapshot taken at 09:00:
    its logs lose what was written in between, its clock resumes at the snapshot's
    time, and VMware Tools sets it from the ESXi host, whose clock is 3 h behind (a
    4616 by vmtoolsd.exe). At 13:00 an administrator fixes it (4616 by powershell.exe,
    then w32tm /resync: Time-Service 35/37). Three healthy members (each logging
    Time-Service 37) are refused Kerberos (4771 0x25) meanwhile; the case file notes
    what dc03's clock showed at 11:30."""
    S, E = datetime(2024, 8, 19, 7, 0, tzinfo=UTC), datetime(2024, 8, 19, 15, 0, tzinfo=UTC)
    snap = datetime(2024, 8, 19, 9, 0, tzinfo=UTC)
    R = datetime(2024, 8, 19, 10, 30, tzinfo=UTC)
    V = R + _secs(4)                      # vmtoolsd sets the clock
    A = datetime(2024, 8, 19, 13, 0, tzinfo=UTC)
    back = (snap - R).total_seconds()     # the clock reads the snapshot's time
    dc = _Machine("dc03.corp.test", [(None, 0.0), (R, back), (V, -10800.0), (A, 0.0)], "10.0.7.3", seed=4)
    dc.truth.steps += [(V, -10800.0 - back), (A, 10800.0)]
    dc.truth.resumes.append(R)
    members = [_Machine(f"app2{k}.corp.test", [(None, 0.0)], f"10.0.7.{20 + k}", seed=4) for k in (1, 2, 3)]
    lost = lambda t: snap < t < R  # noqa: E731  (written to the disk state the revert discarded)
    dc.log("System.xml", "xml-stream")
    dc.log("Security.xml", "xml-doc")
    _system_noise(dc, S, E, skip=lost)
    _security_noise(dc, S, E, skip=lost)
    for t in _every(S + _secs(200), snap, 1800, 2400, dc.rng):
        _ts37(dc, t, "dc04.corp.test (ntp.d|10.0.7.3:123->10.0.7.4:123)")
    _sec4616(dc, V, snap + _secs(4), V - _secs(10800), r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe", 0x8f4)
    _sec4616(dc, A, A - _secs(10800), A, r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", 0x1a3c,
             user=("S-1-5-21-1004336348-1177238915-682003330-500", "Administrator", "CORP", "0x4c1a2"))
    src = "dc04.corp.test (ntp.d|10.0.7.3:123->10.0.7.4:123)"
    _ts35(dc, A + _secs(63), src)
    _ts37(dc, A + _secs(65), src)
    for t in _every(A + _secs(1800), E, 1800, 2400, dc.rng):
        _ts37(dc, t, src)
    for m in members:
        m.log("System.xml", "xml-stream")
        _system_noise(m, S, E)
        for t in _every(S, E, 1800, 2400, m.rng):
            _ts37(m, t, f"dc04.corp.test (ntp.d|{m.ip}:123->10.0.7.4:123)")
        for t in _every(S + _secs(100), E, 550, 650, m.rng):
            if not lost(t) and not (R <= t < V + _secs(1)):
                _dc_kerberos(dc, m, t)
    obs_at = datetime(2024, 8, 19, 11, 30, tzinfo=UTC)
    case = ("timezone: UTC\n"
            "references: []\n" + _hosts_yaml(members) +
            "changes:\n"
            f"  - at: 2024-08-19 10:30\n    host: {dc.fqdn}\n    what: Reverted to snapshot pre-patch-0819\n"
            "observations:\n"
            f"  - host: {dc.fqdn}\n    at: {_minute(obs_at)}\n    shown: {_minute(obs_at - _secs(10800))}\n")
    return _write("3", out, [dc] + members, case, culprit=dc.fqdn, culprit_offset_s=-10800.0, since=V, until=A,
                  healthy=[m.fqdn for m in members], incidents=1)


# ----------------------------------------------------------------------------------
# 4. "Selected source" 2 ms before the step


def case4_selected_source_before_step(out: Path) -> Truth:
    """lnx04 (Debian 12, rsyslog's RFC 3339 /var/log/syslog) is 600 s ahead until
    chronyd steps it at 11:00 (true); chronyd logs "Selected source" 2 ms before it
    steps. kdc01 (reference, MIT krb5kdc log) refuses lnx04's kinit for clock skew
    until then. Nothing else measures lnx04's clock before the step: what the stretch
    before it was worth must come from the step's size, not from the "Selected source"."""
    S, E = datetime(2024, 3, 5, 9, 0, tzinfo=UTC), datetime(2024, 3, 5, 13, 0, tzinfo=UTC)
    F = datetime(2024, 3, 5, 11, 0, 0, 250000, tzinfo=UTC)
    lnx = _Machine("lnx04.corp.test", [(None, 600.0), (F, 0.0)], "10.0.8.4", seed=5)
    lnx.truth.steps.append((F, -600.0))
    kdc = _Machine("kdc01.corp.test", [(None, 0.0)], "10.0.8.2", seed=5)
    kdc.mtime = E
    lnx.log("syslog", "lines")
    kdc.log("krb5kdc.log", "lines")
    kdc.log("syslog", "lines")

    def lline(m, t, app, pid, msg, **kw):
        m.add("syslog", t, lambda lg, rid: _iso_line(lg, m.short, app, pid, msg), **kw)

    def kline(m, t, app, pid, msg):
        m.add("syslog", t, lambda lg, rid: rfc3164_line(lg, m.short, app, pid, msg))

    for m, line in ((lnx, lline), (kdc, kline)):
        for t in _every(S, E, 120, 400, m.rng):
            app, pid, msg = m.rng.choice(_LINUX_NOISE)
            line(m, t, app, pid, msg)
    for t in _every(S + _secs(300), F - _secs(60), 1500, 2000, lnx.rng):
        lline(lnx, t, "chronyd", 611, "Can't synchronise: no selectable sources")
    lline(lnx, F - _secs(0.002), "chronyd", 611, "Selected source 10.0.8.10 (ntp1.corp.test)")
    lline(lnx, F - _secs(0.001), "chronyd", 611, "System clock wrong by -600.000214 seconds")
    lline(lnx, F + _secs(0.0003), "chronyd", 611, "System clock was stepped by -600.000214 seconds")
    kline(kdc, S + _secs(5), "chronyd", 598, "Selected source 10.0.8.10 (ntp1.corp.test)")
    t = S + _secs(97)
    while t < E:
        skew = abs(lnx.offset(t)) > 300
        if skew:
            lline(lnx, t + _secs(0.02), "k5start", 1402,
                  "k5start: error getting credentials: Clock skew too great")
            msg = krb5kdc_skew_message("host/lnx04.corp.test@CORP.TEST", "krbtgt/CORP.TEST@CORP.TEST", lnx.ip)
        else:
            msg = (f"AS_REQ (4 etypes {{aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17)}}) {lnx.ip}: "
                   f"ISSUE: authtime {int(t.timestamp())}, etypes {{rep=18, tkt=18, ses=18}}, "
                   f"host/lnx04.corp.test@CORP.TEST for krbtgt/CORP.TEST@CORP.TEST")
        kdc.add("krb5kdc.log", t + _secs(0.01), lambda lg, rid, msg=msg: krb5kdc_line(lg, kdc.short, 1207, msg))
        t += _secs(300)

    case = ("timezone: UTC\n"
            f"references: [{kdc.fqdn}]\n" + _hosts_yaml([lnx]) + "changes: []\nobservations: []\n")
    return _write("4", out, [lnx, kdc], case, culprit=lnx.fqdn, culprit_offset_s=600.0, since=None, until=F,
                  healthy=[kdc.fqdn], incidents=1)


# ----------------------------------------------------------------------------------
# 5. rsyslogd's start line before the kernel's


def case5_rsyslog_start_before_kernel(out: Path) -> Truth:
    """deb05 (Debian 11, RFC 3164 /var/log/syslog and auth.log) runs in sync (chronyd
    "Selected source") until it reboots at 10:00; it comes back 600 s ahead (the
    hypervisor's RTC) and chronyd steps it back 35 s into the boot. As on every
    Debian/Ubuntu boot, rsyslogd's "start" line is written before the kernel lines it
    reads from the ring buffer, all stamped when rsyslogd read them."""
    S, E = datetime(2024, 4, 9, 8, 0, tzinfo=UTC), datetime(2024, 4, 9, 12, 0, tzinfo=UTC)
    down = datetime(2024, 4, 9, 10, 0, tzinfo=UTC)
    B = down + _secs(75)                  # the kernel starts
    F = B + _secs(35.4)                   # chronyd steps
    m = _Machine("deb05.corp.test", [(None, 0.0), (B, 600.0), (F, 0.0)], "10.0.9.5", seed=6)
    m.truth.boots.append(B)
    m.truth.steps.append((F, -600.0))
    m.mtime = E

    def line(t, app, pid, msg, file="syslog"):
        m.add(file, t, lambda lg, rid: rfc3164_line(lg, m.short, app, pid, msg))
    m.log("syslog", "lines")
    m.log("auth.log", "lines")
    line(S + _secs(40), "chronyd", 598, "Selected source 10.0.9.10 (ntp1.corp.test)")
    for t in _every(S, E, 120, 500, m.rng):
        if down - _secs(10) <= t < F + _secs(60):
            continue
        app, pid, msg = m.rng.choice(_LINUX_NOISE)
        line(t, app, pid, msg, "auth.log" if app == "sshd" else "syslog")
    line(down, "systemd", 1, "Stopping chrony.service - chrony, an NTP client/server...")
    line(down + _secs(0.4), "chronyd", 598, "chronyd exiting")
    line(down + _secs(1.1), "systemd", 1, "Stopping rsyslog.service - System Logging Service...")
    line(down + _secs(1.2), "rsyslogd", None, _rsyslog_exit(512))
    # The new boot: rsyslogd starts 11 s into it and writes its start line first, then
    # the kernel's boot messages it reads from the ring buffer, stamped as it reads them.
    up = B + _secs(11.2)
    line(up, "rsyslogd", None, _rsyslog_start(509))
    kernel = ["[    0.000000] Linux version 5.10.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian "
              "10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.209-2 "
              "(2024-01-31)",
              "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-amd64 root=UUID=6a1f0c7e-3b1d-4c1e-"
              "9b7a-2f0e8d6c4b21 ro quiet",
              "[    0.000000] x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'",
              "[    0.004000] DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014",
              "[    0.412345] rtc_cmos 00:00: setting system clock to 2024-04-09T10:11:15 UTC (1712657475)",
              "[    1.873412] EXT4-fs (vda1): mounted filesystem with ordered data mode. Opts: (null)",
              "[    3.120045] systemd[1]: systemd 247.3-7+deb11u4 running in system mode."]
    for k, msg in enumerate(kernel):
        m.add("syslog", up + _secs(0.001 * (k + 1)), lambda lg, rid, msg=msg: rfc3164_line(lg, m.short, "kernel", None,
                                                                                           msg))
    line(up + _secs(0.4), "systemd", 1, "Started rsyslog.service - System Logging Service.")
    line(up + _secs(2.0), "systemd", 1, "Starting chrony.service - chrony, an NTP client/server...")
    line(up + _secs(2.3), "chronyd", 611, "chronyd version 4.0 starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER "
                                          "+SIGND +ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)")
    line(F - _secs(1.5), "chronyd", 611, "Selected source 10.0.9.10 (ntp1.corp.test)")
    line(F - _secs(1.4), "chronyd", 611, "System clock wrong by -600.002817 seconds")
    line(F + _secs(0.001), "chronyd", 611, "System clock was stepped by -600.002817 seconds")
    for t in _every(F + _secs(5), F + _secs(60), 10, 20, m.rng):
        line(t, "systemd", 1, "Started session-3.scope - Session 3 of User deploy.")
    return _write("5", out, [m], None, culprit=None, healthy=[], incidents=0)


# ----------------------------------------------------------------------------------
# 6. One contradiction must not wipe every host's sync evidence


def case6_one_contradiction(out: Path) -> Truth:
    """W32Time on sfb-edge06 sets its clock 900 s ahead at 08:30 from a misconfigured
    peer and keeps logging 37 (receiving valid time data from it): SIP pairs with the Front End (reference) and an observation contradict
    those sync claims. app61 and app62 are healthy; each logs eight Time-Service 37
    events and has no other clock evidence."""
    S, E = datetime(2024, 9, 10, 8, 0, tzinfo=UTC), datetime(2024, 9, 10, 16, 0, tzinfo=UTC)
    fe = _Machine("sfb-fe06.corp.test", [(None, 0.0)], "10.0.10.11", seed=7)
    W = datetime(2024, 9, 10, 8, 30, tzinfo=UTC)
    edge = _Machine("sfb-edge06.corp.test", [(None, 0.0), (W, 900.0)], "10.0.10.31", seed=7)
    edge.truth.steps.append((W, 900.0))
    apps = [_Machine(f"app6{k}.corp.test", [(None, 0.0)], f"10.0.10.{60 + k}", seed=7) for k in (1, 2)]
    fe.log("System.xml", "xml-doc")
    fe.log("Application.xml", "xml-doc")
    for m in [fe, edge] + apps:
        if m is not fe:
            m.log("System.xml", "xml-stream")
        _system_noise(m, S, E)
    for t in _every(S, E, 1800, 3000, fe.rng):
        _ts37(fe, t, f"dc01.corp.test (ntp.d|{fe.ip}:123->10.0.10.2:123)")
    # W32Time on the Edge follows a misconfigured peer: it sets the clock 900 s ahead at
    # 08:30 (Kernel-General 1 by LocalService, Time-Service 35 naming the peer) and then
    # reports valid time data from it every hour or so.
    bad = f"time.edge.test,0x9 (ntp.m|0x9|{edge.ip}:123->10.0.10.250:123)"
    _ts37(edge, S + _secs(700), bad)
    _kg1_w32time(edge, W + _secs(0.0005), W, W + _secs(900))
    _ts35(edge, W + _secs(2.1), bad)
    for t in _every(W + _secs(600), E, 2400, 3000, edge.rng):
        _ts37(edge, t, bad)
    for m in apps:
        span = (E - S).total_seconds()
        for k in range(8):
            _ts37(m, S + _secs(span * (k + 0.5) / 8 + m.rng.uniform(-300, 300)),
                  f"dc01.corp.test (ntp.d|{m.ip}:123->10.0.10.2:123)")
    for t in _every(S, E, 1200, 2400, edge.rng):
        _lync_event(edge, t, "LS Protocol Stack", 14501, 4, [edge.fqdn, "5061"],
                    f"The server {edge.fqdn} completed a periodic check of its listening ports.")
    for t in _every(S + _secs(30), E - _secs(30), 200, 300, fe.rng):
        _voicemail_call(fe, edge, t, refused=t >= W, tenant="corp.onmicrosoft.com")
    for k, t in enumerate(_every(S + _secs(100), E - _secs(30), 600, 900, edge.rng)):
        _sip_options(fe, edge, t, k + 1)
    obs_at = datetime(2024, 9, 10, 12, 0, tzinfo=UTC)
    case = ("timezone: UTC\n"
            f"references: [{fe.fqdn}]\n"
            "changes: []\n"
            "observations:\n"
            f"  - host: {edge.fqdn}\n    at: {_minute(obs_at)}\n    shown: {_minute(obs_at + _secs(900))}\n")
    return _write("6", out, [fe, edge] + apps, case, culprit=edge.fqdn, culprit_offset_s=900.0, since=W,
                  until=None, healthy=[fe.fqdn] + [m.fqdn for m in apps], incidents=1)


# ----------------------------------------------------------------------------------
# 7. A resume that opens the skewed stretch


def case7_resume_ahead(out: Path) -> Truth:
    """win07 runs in sync from 13:09 (true); it sleeps at 18:00 (Kernel-Power 42) and
    resumes at 18:09 (Kernel-Power 107, Power-Troubleshooter 1) with its clock 420 s
    ahead, until W32Time sets it right at 20:15 (Kernel-General 1, Time-Service 35/37).
    dc07 (reference) refuses its Kerberos (4771 0x25) meanwhile; app71 is healthy."""
    S, E = datetime(2024, 10, 15, 13, 9, tzinfo=UTC), datetime(2024, 10, 15, 22, 31, tzinfo=UTC)
    sleep = datetime(2024, 10, 15, 18, 0, 0, tzinfo=UTC)
    wake = datetime(2024, 10, 15, 18, 9, 0, tzinfo=UTC)
    F = datetime(2024, 10, 15, 20, 15, 0, tzinfo=UTC)
    win = _Machine("win07.corp.test", [(None, 0.0), (wake, 420.0), (F, 0.0)], "10.0.11.7", seed=8)
    win.truth.suspends.append(sleep)
    win.truth.resumes.append(wake)
    win.truth.steps.append((F, -420.0))
    dc = _Machine("dc07.corp.test", [(None, 0.0)], "10.0.11.2", seed=8)
    app = _Machine("app71.corp.test", [(None, 0.0)], "10.0.11.71", seed=8)
    asleep = lambda t: sleep - _secs(1) <= t < wake + _secs(5)  # noqa: E731
    for m in (win, dc, app):
        m.log("System.xml", "xml-stream")
        _system_noise(m, S, E, skip=asleep if m is win else (lambda t: False))
    dc.log("Security.xml", "xml-doc")
    _security_noise(dc, S, E)
    src = f"dc07.corp.test (ntp.d|{win.ip}:123->10.0.11.2:123)"
    for t in _every(S + _secs(300), sleep, 2400, 3000, win.rng):
        _ts37(win, t, src)
    for t in _every(S, E, 1800, 3000, app.rng):
        _ts37(app, t, f"dc07.corp.test (ntp.d|{app.ip}:123->10.0.11.2:123)")
    for t in _every(S, E, 1800, 3000, dc.rng):
        _ts37(dc, t, "time.nist.gov,0x8 (ntp.m|0x8|10.0.11.2:123->132.163.97.1:123)")
    win.win("System.xml", "System", sleep, provider="Microsoft-Windows-Kernel-Power", provider_guid=_POWER_GUID,
            event_id=42, task=64, keywords="0x8000000000000404", user_sid=SYSTEM_SID, process_id=4,
            data={"TargetState": "4", "EffectiveState": "4", "Reason": "7", "Flags": "0"},
            message="The system is entering sleep.\n\nSleep Reason: Application API")
    win.win("System.xml", "System", wake + _secs(0.6), provider="Microsoft-Windows-Kernel-Power",
            provider_guid=_POWER_GUID, event_id=107, task=102, keywords="0x8000000000000404", user_sid=SYSTEM_SID,
            process_id=4, data=None, message="The system has resumed from sleep.")
    sleep_logged, wake_logged = sleep + _secs(0.8), wake + _secs(420)
    win.win("System.xml", "System", wake + _secs(9), provider="Microsoft-Windows-Power-Troubleshooter",
            provider_guid=_TROUBLESHOOTER_GUID, event_id=1, keywords="0x8000000000000000",
            user_sid=LOCAL_SERVICE_SID, process_id=win.pids["power"],
            data={"SleepTime": filetime_text(sleep_logged), "WakeTime": filetime_text(wake_logged),
                  "SleepDuration": "3412", "HiberWriteDuration": "2110", "HiberReadDuration": "1806",
                  "WakeSourceType": "5", "WakeSourceTextLength": "0", "WakeSourceText": "", "WakeTimerOwnerLength": "0",
                  "WakeTimerContextLength": "0", "NoMultiStageResumeReason": "0", "WakeTimerOwner": "",
                  "WakeTimerContext": ""},
            message=f"The system has resumed from sleep.\n\nSleep Time: {filetime_text(sleep_logged)}\n"
                    f"Wake Time: {filetime_text(wake_logged)}\n\nWake Source: Power Button")
    _kg1_w32time(win, F + _secs(0.0005), F + _secs(420), F)
    _ts35(win, F + _secs(2.1), src)
    _ts37(win, F + _secs(4.3), src)
    for t in _every(F + _secs(1800), E, 2400, 3000, win.rng):
        _ts37(win, t, src)
    for m in (win, app):
        for t in _every(S + _secs(100), E, 550, 650, m.rng):
            if not (m is win and asleep(t)):
                _dc_kerberos(dc, m, t)
    case = ("timezone: UTC\n"
            f"references: [{dc.fqdn}]\n" + _hosts_yaml([win, app]) + "changes: []\nobservations: []\n")
    return _write("7", out, [win, dc, app], case, culprit=win.fqdn, culprit_offset_s=420.0, since=wake, until=F,
                  healthy=[dc.fqdn, app.fqdn], incidents=1)


# ----------------------------------------------------------------------------------
# 8. A clock reset to the firmware's default date


def case8_cmos_reset(out: Path) -> Truth:
    """iot08 (Ubuntu 18.04, journalctl -o json) loses power at 09:00 and boots at 09:02
    (true) with its RTC back at the firmware default, 2018-01-01: about six years in
    the past. The network comes up late; systemd-timesyncd times out, then at 09:27
    "Synchronized to time server" steps the clock forward (systemd: "Time has been
    changed"). Meanwhile its monitoring agent's HTTPS checks fail with "certificate is
    not yet valid"."""
    S, E = datetime(2024, 2, 20, 5, 50, tzinfo=UTC), datetime(2024, 2, 20, 12, 0, tzinfo=UTC)
    B0 = datetime(2024, 2, 20, 5, 49, 20, tzinfo=UTC)   # the old boot, in sync
    down = datetime(2024, 2, 20, 9, 0, 0, tzinfo=UTC)
    B1 = datetime(2024, 2, 20, 9, 2, 0, tzinfo=UTC)
    F = datetime(2024, 2, 20, 9, 27, 13, 500000, tzinfo=UTC)
    rtc = datetime(2018, 1, 1, 0, 0, 8, tzinfo=UTC)     # what the clock read when the kernel started
    reset = (rtc - B1).total_seconds()
    m = _Machine("iot08.corp.test", [(None, 0.0), (B1, reset), (F, 0.0)], "10.0.12.8", seed=9)
    m.truth.boots += [B0, B1]
    m.truth.steps.append((F, -reset))
    boots = {B0: "6f1d2c3b4a5968778695a4b3c2d1e0f1", B1: "0a9b8c7d6e5f40312233445566778899"}

    def j(t, ident, pid, msg, priority=6):
        boot = B1 if t >= B1 else B0
        bid, mono = boots[boot], int((t - boot).total_seconds() * 1e6)
        m.add("journal.json", t, lambda lg, rid: journald_line(lg, m.short, ident, pid, msg, priority=priority,
                                                               boot_id=bid, monotonic_us=mono))
    m.log("journal.json", "lines")

    def boot_lines(b, pid_ts):
        j(b + _secs(0.0), "kernel", None, "Linux version 4.15.0-213-generic (buildd@lcy02-amd64-079) (gcc version "
                                          "7.5.0 (Ubuntu 7.5.0-3ubuntu1~18.04)) #224-Ubuntu SMP Mon Jun 19 13:30:12 "
                                          "UTC 2023 (Ubuntu 4.15.0-213.224-generic 4.15.18)", 5)
        j(b + _secs(0.0001), "kernel", None, "Command line: BOOT_IMAGE=/boot/vmlinuz-4.15.0-213-generic "
                                             "root=/dev/sda1 ro quiet splash", 6)
        j(b + _secs(3.2), "systemd", 1, "Starting Network Time Synchronization...")
        j(b + _secs(3.4), "systemd-timesyncd", pid_ts, f"systemd-timesyncd running as pid {pid_ts}")
        j(b + _secs(3.5), "systemd", 1, "Started Network Time Synchronization.")
    boot_lines(B0, 611)
    j(B0 + _secs(41.7), "systemd-timesyncd", 611, "Synchronized to time server 91.189.89.198:123 (ntp.ubuntu.com).")
    for t in _every(S, E, 180, 420, m.rng):
        if down - _secs(5) <= t < B1 + _secs(10):
            continue
        app, pid, msg = m.rng.choice(_LINUX_NOISE)
        j(t, app, pid, msg)
    boot_lines(B1, 598)
    for t in _every(B1 + _secs(20), F - _secs(10), 60, 70, m.rng):
        j(t, "systemd-timesyncd", 598, "Timed out waiting for reply from 91.189.89.199:123 (ntp.ubuntu.com).")
    for t in _every(B1 + _secs(40), F - _secs(5), 280, 320, m.rng):
        j(t, "telegraf", 977, "2018-01-01T00:00:00Z E! [inputs.http_response] Get "
                              "\"https://status.corp.test/health\": x509: certificate has expired or is not yet "
                              "valid: current time 2018-01-01T00:00:00Z is before 2023-11-02T00:00:00Z", 3)
    j(F, "systemd-timesyncd", 598, "Synchronized to time server 91.189.89.198:123 (ntp.ubuntu.com).")
    j(F + _secs(0.0004), "systemd", 1, "Time has been changed")
    return _write("8", out, [m], None, culprit=m.fqdn, culprit_offset_s=reset, since=B1, until=F, incidents=1)


# ----------------------------------------------------------------------------------
# 9. journald's monotonic clock gives an unlogged step exactly


def case9_journald_monotonic(out: Path) -> Truth:
    """lnx09 (Debian 12, journalctl -o json) is 3600 s ahead until someone sets its clock
    right at 09:30 (true) with ``date -s``: no record gives the size, but
    __REALTIME_TIMESTAMP - __MONOTONIC_TIMESTAMP drops by 3600 s there within one
    _BOOT_ID. Its kinit fails for clock skew meanwhile. db09 is healthy (chronyd in
    sync, one reboot) and exchanges API requests with lnx09."""
    S, E = datetime(2024, 11, 4, 7, 0, tzinfo=UTC), datetime(2024, 11, 4, 12, 0, tzinfo=UTC)
    F = datetime(2024, 11, 4, 9, 30, 0, 731000, tzinfo=UTC)
    lnx = _Machine("lnx09.corp.test", [(None, 3600.0), (F, 0.0)], "10.0.13.9", seed=10)
    lnx.truth.steps.append((F, -3600.0))
    db = _Machine("db09.corp.test", [(None, 0.0)], "10.0.13.19", seed=10)
    db_reboot = datetime(2024, 11, 4, 10, 40, tzinfo=UTC)
    db.truth.boots.append(db_reboot)
    boots = {lnx.fqdn: [(datetime(2024, 11, 4, 5, 12, 3, tzinfo=UTC), "4b1e9e0c2f6a4d1c8f3e2a7b6c5d4e3f")],
             db.fqdn: [(datetime(2024, 11, 1, 22, 4, 51, tzinfo=UTC), "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"),
                       (db_reboot, "1f2e3d4c5b6a79880f1e2d3c4b5a6978")]}

    def j(m, t, ident, pid, msg, priority=6):
        boot, bid = [b for b in boots[m.fqdn] if b[0] <= t][-1]
        mono = int((t - boot).total_seconds() * 1e6)
        m.add("journal.json", t, lambda lg, rid: journald_line(lg, m.short, ident, pid, msg, priority=priority,
                                                               boot_id=bid, monotonic_us=mono))
    for m in (lnx, db):
        m.log("journal.json", "lines")
        for t in _every(S, E, 150, 400, m.rng):
            if m is db and db_reboot - _secs(30) <= t < db_reboot + _secs(20):
                continue
            app, pid, msg = m.rng.choice(_LINUX_NOISE)
            j(m, t, app, pid, msg)
    j(db, S + _secs(12), "chronyd", 640, "Selected source 10.0.13.10 (ntp1.corp.test)")
    j(db, db_reboot - _secs(20), "systemd", 1, "Stopping chrony.service - chrony, an NTP client/server...")
    j(db, db_reboot, "kernel", None, "Linux version 6.1.0-26-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
                                     "12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP "
                                     "PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)", 5)
    j(db, db_reboot + _secs(9.5), "chronyd", 633, "Selected source 10.0.13.10 (ntp1.corp.test)")
    j(lnx, F + _secs(0.0002), "systemd", 1, "Time has been changed")
    j(lnx, F + _secs(0.0005), "systemd-journald", 214, "Time jumped backwards, rotating.")
    for t in _every(S + _secs(60), F - _secs(30), 280, 320, lnx.rng):
        j(lnx, t, "k5start", 1402, "k5start: error getting credentials: Clock skew too great", 3)

    def api(m, t, words):
        j(m, t, "orders-api", 2718, words)
    for t in _every(S + _secs(60), E, 200, 400, lnx.rng):
        if not (db_reboot - _secs(40) <= t < db_reboot + _secs(30)):
            _requests(lnx, db, t, api)
    return _write("9", out, [lnx, db], None, culprit=lnx.fqdn, culprit_offset_s=3600.0, since=None, until=F,
                  healthy=[db.fqdn], incidents=1)


BUILDERS: dict[str, Callable[[Path], Truth]] = {
    "1": case1_edge_resync_in_three_logs,
    "2a": case2a_forward_fix_unlogged,
    "2b": case2b_dc_forward_gap,
    "3": case3_snapshot_vmtools_wrong_time,
    "4": case4_selected_source_before_step,
    "5": case5_rsyslog_start_before_kernel,
    "6": case6_one_contradiction,
    "7": case7_resume_ahead,
    "8": case8_cmos_reset,
    "9": case9_journald_monotonic,
}
