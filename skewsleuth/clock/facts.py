"""Clock facts read from the events: boots, shutdowns, explicit steps, syncs.

A *fact* is one record that says something about the host's clock:

* boot / shutdown: EventLog 6005/6006/6008/6009, Kernel-General 12 (StartTime) and 13
  (StopTime), Security 4608, Eventlog 1100, User32 1074; Linux kernel banners; a new
  journald boot id (clock/monotonic.py, with the steps journald's monotonic clock shows).
* sleep / resume: Kernel-Power 42 / 107, Power-Troubleshooter 1; the kernel's "PM:
  suspend entry/exit", systemd-sleep's "Entering sleep state" / "System returned from
  sleep state".
* step: Kernel-General 1 (OldTime/NewTime), Security 4616 (PreviousTime/NewTime,
  ProcessName), chronyd "System clock was stepped by", ntpd "step time server ...
  offset" / "time reset", with their sizes.
* sync: the time service reports that it holds true time (Time-Service 35/37,
  chronyd "Selected source", systemd-timesyncd "Synchronized to time server").
* hint: the time service says the clock is wrong by an amount (chronyd "System clock
  wrong by", Time-Service 52 TimeOffsetSeconds) without stepping it.

Who set the clock is a fact about the step, not a verdict on the clock: a time
service (W32Time in svchost, chronyd, ntpd) sets its source's time, which the model
presumes true until a measurement or the service's own sync report disagrees; a hypervisor's agent (VMware Tools)
copies the host's clock, right or wrong; a person or script (powershell.exe, cmd.exe,
date) sets whatever it was given, and the segment after such a step is suspect.

References: Microsoft, "4616(S): The system time was changed"; Kernel-General event 1
(TimeChange); chrony and ntpd source (log messages); systemd-timesyncd.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..schema import RECORD_NUMBER_SQL, cite
from ..sources import format_in, formats
from ..store import Store
from ..timefmt import UTC_FORMAT, Format

# Write order within a file: the log's own sequence number where it has one. A circular
# EVTX file's chunks are not stored oldest first, so the position in the file is not
# the order the host wrote the records in.
SEQ = RECORD_NUMBER_SQL   # a record's place in its log's write order, and its number in citations

# Windows: (provider, event id) -> fact kind.
WINDOWS_FACTS = {
    ("EventLog", 6005): "boot",
    ("EventLog", 6009): "boot",
    ("Microsoft-Windows-Kernel-General", 12): "boot",
    ("EventLog", 6006): "shutdown",
    ("EventLog", 6008): "crash",
    ("Microsoft-Windows-Kernel-General", 13): "shutdown",
    ("User32", 1074): "restart_requested",
    ("Microsoft-Windows-Security-Auditing", 4608): "boot",
    ("Microsoft-Windows-Eventlog", 1100): "shutdown",
    ("Microsoft-Windows-Kernel-General", 1): "step",
    ("Microsoft-Windows-Security-Auditing", 4616): "step",
    ("Microsoft-Windows-Time-Service", 35): "sync",
    ("Microsoft-Windows-Time-Service", 37): "sync",
    ("Microsoft-Windows-Time-Service", 52): "hint",
    ("Microsoft-Windows-Kernel-Power", 42): "sleep",
    ("Microsoft-Windows-Kernel-Power", 107): "resume",
    ("Microsoft-Windows-Power-Troubleshooter", 1): "resume",
}

# Well-known SIDs a clock change runs under: W32Time runs as LocalService; SYSTEM is
# where VMware Tools and other agents that copy the hypervisor's time run.
LOCAL_SERVICE_SID = "S-1-5-19"
SYSTEM_SID = "S-1-5-18"

# Processes that set the clock from a time source they measured against (the source
# may be wrong: the time they set is a presumption, see clock.model).
TIME_SERVICE_PROCESSES = re.compile(
    r"(?:^|[\\/])(svchost\.exe|w32tm\.exe|"
    r"chronyd|ntpd|ntpdate|systemd-timesyncd|sntp|openntpd|timesyncd)$", re.I)
# Agents that copy the hypervisor's clock into the guest: after a snapshot restore or
# a host with a wrong clock they set a wrong time, and measure nothing.
AGENT_PROCESSES = re.compile(r"(?:^|[\\/])(vmtoolsd\.exe|vmware ?tools|VBoxService\.exe|VBoxService|"
                             r"vmtoolsd|qemu-ga(?:\.exe)?|hv_utils)$", re.I)
USER_PROCESSES = re.compile(r"(?:^|[\\/])(powershell\.exe|pwsh\.exe|cmd\.exe|rundll32\.exe|"
                            r"explorer\.exe|date|hwclock|timedatectl)$", re.I)

_TEXT_FACTS = [
    # chronyd
    ("step", "chronyd", re.compile(r"System clock was stepped by (-?\d+(?:\.\d+)?) seconds")),
    ("hint", "chronyd", re.compile(r"System clock wrong by (-?\d+(?:\.\d+)?) seconds")),
    ("sync", "chronyd", re.compile(r"Selected source \S+")),
    # ntpd: "step time server 10.0.0.1 offset -18000.123456 sec", "time reset +18000.1 s"
    ("step", "ntpd", re.compile(r"step time server \S+ offset ([-+]?\d+(?:\.\d+)?) sec")),
    ("step", "ntpd", re.compile(r"time reset ([-+]?\d+(?:\.\d+)?) s")),
    # macOS's ntpd on waking from sleep: "wake time set -0.855670 s" (Apple's ntpd,
    # as loghub's Mac system.log sample shows it), the correction it stepped by
    ("step", "ntpd", re.compile(r"wake time set ([-+]?\d+(?:\.\d+)?) s")),
    ("step", "ntpdate", re.compile(r"step time server \S+ offset ([-+]?\d+(?:\.\d+)?) sec")),
    ("sync", "ntpd", re.compile(r"kernel reports TIME_ERROR: 0x0|synchronized to \S+")),
    # systemd-timesyncd: "Synchronized to time server %s (%s)." before systemd 241, "...
    # for the first time" from 241, "Initial synchronization to time server" from 243
    # (timesyncd-manager.c; coreos/mantle's kola test linux.ntp lists all three)
    ("sync", "systemd-timesyncd", re.compile(r"(?:Initial s|S)ynchroni[sz]ed to time server|"
                                             r"Initial synchroni[sz]ation to time server")),
    # kernel boot banners in syslog / journald
    ("boot", "kernel", re.compile(r"Linux version \d|Booting Linux|Command line: ")),
    # suspend and resume: the kernel's PM core (kernel/power/suspend.c, hibernate.c) and
    # systemd-sleep (src/sleep/sleep.c: "Entering sleep state", "System returned from
    # sleep state.")
    ("sleep", "kernel", re.compile(r"PM: (?:suspend|hibernation) entry")),
    ("resume", "kernel", re.compile(r"PM: (?:suspend|hibernation) exit")),
    ("sleep", "systemd-sleep", re.compile(r"Entering sleep state|Suspending system\.\.\.")),
    ("resume", "systemd-sleep", re.compile(r"System returned from sleep state|System resumed")),
    # a person or a script setting the clock: systemd-timedated after a SetTime call
    # (timedated.c: "Changed local time to %s", on the new clock), and sudo's log of a
    # `date -s` / `timedatectl set-time` (plugins/sudoers/logging.c: "... ; COMMAND=%s",
    # on the old clock, just before). Who set it, not by how much: see set_by_user.
    ("set", "systemd-timedated", re.compile(r"Changed local time to ")),
    ("set", "sudo", re.compile(r"COMMAND=\S*/(date (?:.* )?(?:-s|--set)\b|timedatectl (?:.* )?set-time\b)")),
]
# The time service a host's logs show, by the program that logged (syslog APP-NAME,
# journald SYSLOG_IDENTIFIER, the Windows event provider: W32Time logs as
# Microsoft-Windows-Time-Service, and as W32Time on Windows Server 2003) and by systemd
# starting or stopping its unit (the unit file's name, or its Description: Debian's
# chrony.service "chrony, an NTP client/server", Fedora's chronyd.service "NTP
# client/server", ntp.service / ntpsec.service "Network Time Service",
# systemd-timesyncd.service "Network Time Synchronization"). ntpdate and sntp come with
# ntpd and are run where ntpd keeps the clock; ntpsec's daemon is ntpd too.
TIME_SERVICE_PROGRAMS = {"chronyd": "chronyd", "ntpd": "ntpd", "ntpdate": "ntpd", "sntp": "ntpd",
                         "systemd-timesyncd": "systemd-timesyncd", "microsoft-windows-time-service": "w32time",
                         "w32time": "w32time", "w32tm.exe": "w32time"}
TIME_SERVICE_PLATFORMS = {"chronyd": "linux", "ntpd": "linux", "systemd-timesyncd": "linux", "w32time": "windows"}
_TIME_SERVICE_UNITS = [
    ("chronyd", re.compile(r"\b(?:chronyd?\.service|chrony, an NTP client/server|NTP client/server)\b", re.I)),
    ("ntpd", re.compile(r"\b(?:ntp|ntpd|ntpsec)\.service\b|Network Time Service\b", re.I)),
    ("systemd-timesyncd", re.compile(r"\bsystemd-timesyncd\.service\b|Network Time Synchronization\b", re.I)),
]
_UNIT_SQL = r"^(Start(ed|ing)|Stopp(ed|ing)) .*(chrony|ntp|Network Time)"
SET_NEAR_S = 10.0   # a "set" record this close to a step's old or new clock reading names its setter
_TEXT_PROVIDERS = sorted({p for _, p, _ in _TEXT_FACTS})
# The records whose data are a Windows event's fields, read by _windows_fact.
_WINDOWS_EVENTS = frozenset(formats(lambda s: s.windows_events))


@dataclass
class ClockFact:
    host: str
    kind: str                 # boot | shutdown | crash | restart_requested | sleep | resume | step | sync | hint
    file_id: int
    record_no: int            # the record's identity in its file
    seq: int                  # its place in write order (EventRecordID where there is one)
    logged: datetime          # when the record was written (host clock)
    source: str               # e.g. "Kernel-General 1", "Security 4616", "chronyd"
    # For steps: the clock read ``before`` and then ``after``; delta = after - before.
    before: datetime | None = None
    # For a step seen only between two records (journald's monotonic clock): the old
    # clock read at least this when it happened (the record before); ``before`` is the
    # latest it can have read.
    earliest: datetime | None = None
    after: datetime | None = None
    delta_s: float | None = None
    # For hints: the correction the time service wanted (true - logged).
    correction_s: float | None = None
    setter: str = "unknown"   # time_service | agent | rtc | user | unknown
    # A forward step that ends a pause (sleep, VM suspend): the clock stood still and
    # was then caught up, so the offset before it held only at the pause, not all along.
    resume: bool = False
    process: str | None = None
    # The account the change ran under, as the record names it (4616's Subject, sudo's
    # invoking user; Kernel-General 1 gives only a SID)
    user: str | None = None
    sid: str | None = None
    # For a boot read from a log's boot ids (journald's _BOOT_ID): the id, the same in
    # every export of the journal and no other boot's, whatever time its clock came up at.
    boot_id: str | None = None
    evidence: list[str] = field(default_factory=list)
    # The record as reports cite it (schema.cite): its file and EventRecordID or position.
    ref: str = ""


def _parse_ts(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Windows writes 7 fractional digits; datetime takes 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        from datetime import timezone
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def classify_setter(process: str | None) -> str:
    if not process:
        return "unknown"
    name = process.strip().strip('"')
    if TIME_SERVICE_PROCESSES.search(name):
        return "time_service"
    if AGENT_PROCESSES.search(name):
        return "agent"
    if USER_PROCESSES.search(name):
        return "user"
    return "unknown"


def read_facts(store: Store, when: Format = UTC_FORMAT) -> list[ClockFact]:
    """Every clock fact in the case database, in (host, file, record) order."""
    pairs = list(WINDOWS_FACTS)
    win_filter = " OR ".join("(provider = ? AND event_id = ?)" for _ in pairs)
    params: list = [v for pair in pairs for v in pair]
    # (sudo logs every command: only those that run date or timedatectl come this far)
    text_filter = ("provider IN (" + ",".join("?" for _ in _TEXT_PROVIDERS) + ") "
                   "AND (provider <> 'sudo' OR regexp_matches(message, 'COMMAND=\\S*/(date|timedatectl) '))")
    params += _TEXT_PROVIDERS
    rows = store.con.execute(
        f"""SELECT host, file_id, record_no, {SEQ} AS seq, logged, format, provider, event_id, message, data
            FROM events WHERE ({win_filter}) OR ({text_filter})
            ORDER BY host, file_id, seq, record_no""", params).fetchall()
    facts: list[ClockFact] = []
    paths = file_paths(store)
    for host, file_id, record_no, seq, logged, fmt, provider, event_id, message, data in rows:
        ref = cite(paths.get(file_id, f"file {file_id}"), seq)
        if fmt in _WINDOWS_EVENTS:
            fact = _windows_fact(host, file_id, (record_no, seq, ref), logged, provider, event_id, data, when)
        else:
            fact = _text_fact(host, file_id, (record_no, seq, ref), logged, provider, message or "")
        if fact is not None:
            facts.append(fact)
    from .monotonic import monotonic_facts  # deferred: it imports this module
    facts += monotonic_facts(store, when)
    # (host, file, record) order, the monotonic facts among the others: later stages
    # follow each log's shutdowns and sleeps to the boot that ends them
    facts.sort(key=lambda f: (f.host, f.file_id, f.seq, f.record_no, f.boot_id is None))
    _attribute_kernel_steps(facts)
    return facts


def file_paths(store: Store) -> dict[int, str]:
    """Every input file's path by its id, for citing records."""
    return dict(store.con.execute("SELECT file_id, path FROM files").fetchall())


def _short(provider: str) -> str:
    return provider.replace("Microsoft-Windows-", "").replace("Security-Auditing", "Security")


def _windows_fact(host, file_id, at, logged, provider, event_id, data, when: Format) -> ClockFact | None:
    kind = WINDOWS_FACTS.get((provider, event_id))
    if kind is None:
        return None
    try:
        fields = json.loads(data) if data else {}
    except ValueError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}
    source = f"{_short(provider)} {event_id}"
    fact = ClockFact(host, kind, file_id, at[0], at[1], logged, source, ref=at[2])
    if kind == "step":
        if event_id == 4616:
            before, after = _parse_ts(fields.get("PreviousTime")), _parse_ts(fields.get("NewTime"))
            fact.process = fields.get("ProcessName") or None
            fact.setter = classify_setter(fact.process)
            name, domain = fields.get("SubjectUserName"), fields.get("SubjectDomainName")
            fact.user = (f"{domain}\\{name}" if domain and name else name) or None
            fact.sid = fields.get("SubjectUserSid") or None
        else:
            before, after = _parse_ts(fields.get("OldTime")), _parse_ts(fields.get("NewTime"))
            reason = str(fields.get("Reason"))
            sid = fields.get("@UserID")
            fact.sid = sid or None
            if reason == "2":
                # "System time synchronized with the hardware clock": a resume or a
                # boot re-reading the RTC, which may itself be wrong.
                fact.setter, fact.resume = "rtc", True
            elif sid == LOCAL_SERVICE_SID:
                fact.setter, fact.process = "time_service", "W32Time"
            elif sid == SYSTEM_SID:
                fact.setter, fact.process = "agent", "a SYSTEM service (e.g. VMware Tools)"
            else:
                fact.setter = "unknown"
        if before is None or after is None:
            return None
        fact.before, fact.after = before, after
        fact.delta_s = (after - before).total_seconds()
        fact.evidence.append(f"{source} on {host} ({fact.ref}): clock set from {when(before)} to {when(after)} "
                             "(as logged)"
                             + (f" by {fact.process}" if fact.process else ""))
    elif kind == "hint":
        value = fields.get("TimeOffsetSeconds")
        try:
            fact.correction_s = float(value)
        except (TypeError, ValueError):
            return None
    elif kind == "boot" and event_id == 12:
        start = _parse_ts(fields.get("StartTime"))
        if start is not None:
            fact.logged = min(logged, start)
    elif kind == "shutdown" and event_id == 13:
        stop = _parse_ts(fields.get("StopTime"))
        if stop is not None:
            fact.logged = max(logged, stop)
    return fact


def _text_fact(host, file_id, at, logged, provider, message) -> ClockFact | None:
    for kind, prov, rx in _TEXT_FACTS:
        if provider != prov:
            continue
        m = rx.search(message)
        if not m:
            continue
        fact = ClockFact(host, kind, file_id, at[0], at[1], logged, provider, setter="time_service", process=provider,
                         ref=at[2])
        if kind == "step":
            delta = float(m.group(1))
            fact.delta_s = delta
            # The daemons log after stepping: the record's time is on the new clock.
            fact.after = logged
            fact.before = logged - timedelta(seconds=delta)
            fact.evidence.append(f"{provider} on {host} ({fact.ref}): {m.group(0)}")
        elif kind == "hint":
            fact.correction_s = float(m.group(1))
        elif kind in ("boot", "sleep", "resume"):
            fact.setter, fact.process = "unknown", None
        elif kind == "set":
            fact.setter = "user"
            fact.process = "timedatectl" if provider == "systemd-timedated" else m.group(1).split()[0]
            # sudo: "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=..."
            who = re.match(r"\s*([^\s:;]+) : ", message) if provider == "sudo" else None
            fact.user = who.group(1) if who else None
            fact.evidence.append(f"{provider} on {host} ({fact.ref}): {message[:200]}")
        return fact
    return None


def user_sets(facts: list[ClockFact]) -> dict[str, list[ClockFact]]:
    """The records of a person or script setting the clock (kind "set"), per host."""
    out: dict[str, list[ClockFact]] = {}
    for f in facts:
        if f.kind == "set":
            out.setdefault(f.host, []).append(f)
    return out


def set_by_user(users: list[ClockFact], before: datetime | None, after: datetime | None, file_id: int,
                seq: int) -> ClockFact | None:
    """The record of a person or script setting the clock (kind "set", one host's) that
    names the setter of a step whose old clock last read ``before`` and new clock first
    read ``after``: sudo logs the command on the old clock just before, timedated the
    change on the new one just after; or one of the three records before or after the
    step's own in its log."""
    near = timedelta(seconds=SET_NEAR_S)
    for u in users:
        if (u.file_id == file_id and abs(u.seq - seq) <= 3) or any(
                t is not None and abs(u.logged - t) <= near for t in (before, after)):
            return u
    return None


def _attribute_kernel_steps(facts: list[ClockFact]) -> None:
    """Kernel-General 1 does not say who set the clock; the records around it do.

    A Time-Service record within a few seconds after the step on the same host means
    W32Time made it; a 4616 for the same change names the process, which says more
    than the account a Kernel-General 1 was logged under (a guess): it wins.
    """
    by_host: dict[str, list[ClockFact]] = {}
    for f in facts:
        by_host.setdefault(f.host, []).append(f)
    for host_facts in by_host.values():
        audits = [f for f in host_facts if f.kind == "step" and f.source.endswith("4616")]
        service = [f for f in host_facts if f.kind in ("sync", "hint") and f.source.startswith("Time-Service")]
        users = [f for f in host_facts if f.kind == "set"]
        for f in host_facts:
            if f.kind != "step" or f.setter == "rtc" or f.source.endswith("4616") or f.after is None:
                continue
            for a in audits:
                if a.after and abs((a.after - f.after).total_seconds()) < 2 and a.delta_s is not None \
                        and abs(a.delta_s - (f.delta_s or 0)) < 2 and (a.process or f.setter == "unknown"):
                    f.setter, f.process = a.setter, a.process
                    f.user, f.sid = a.user or f.user, a.sid or f.sid
                    break
            else:
                if f.setter != "unknown":
                    continue
                user = set_by_user(users, f.before, f.after, f.file_id, f.seq)
                if user is not None:
                    f.setter, f.process, f.user = "user", user.process, user.user
                    f.evidence += user.evidence
                    continue
                for s in service:
                    if 0 <= (s.logged - f.after).total_seconds() <= 10 or \
                            (s.file_id == f.file_id and 0 < s.seq - f.seq <= 3):
                        f.setter, f.process = "time_service", "W32Time"
                        break
        pauses = [f for f in host_facts if f.kind in ("sleep", "resume")]
        for f in host_facts:
            if f.kind != "step" or not f.delta_s or f.delta_s <= 0 or f.before is None:
                continue
            if f.setter in ("agent", "rtc") or any(
                    (p.file_id == f.file_id and 0 < f.seq - p.seq <= 20)
                    or 0 <= (f.before - p.logged).total_seconds() <= 300 for p in pauses):
                f.resume = True


@dataclass(frozen=True)
class TimeService:
    """The time service a host's logs show (chronyd, ntpd, systemd-timesyncd, w32time)."""

    daemon: str               # the one whose records come last: it is the one running now
    platform: str             # linux | windows: where that daemon runs
    seen: tuple[str, ...]     # every one the logs show, the last logged last
    records: int              # how many records show them

    def to_dict(self) -> dict:
        return {"daemon": self.daemon, "platform": self.platform, "seen": list(self.seen), "records": self.records}


def time_services(store: Store, facts: list[ClockFact] = ()) -> dict[str, TimeService]:
    """Per host, the time service its logs show: records the daemons wrote, systemd
    starting their units, and clock facts whose setter the records around named
    (a Kernel-General 1 under LocalService is W32Time's). Application logs name no
    program a host runs, so only the formats that carry a platform count."""
    programs = sorted(TIME_SERVICE_PROGRAMS)
    placeholders = ",".join("?" for _ in programs)
    rows = store.con.execute(
        f"""SELECT host, lower(provider) AS program, NULL AS message, count(*) AS n, max(logged) AS last
            FROM events WHERE {format_in(lambda s: s.platform is not None)} AND lower(provider) IN ({placeholders})
            GROUP BY host, lower(provider)
            UNION ALL
            SELECT host, NULL, message, count(*), max(logged)
            FROM events WHERE {format_in(lambda s: s.platform is not None)} AND provider = 'systemd'
              AND regexp_matches(message, ?)
            GROUP BY host, message""", [*programs, _UNIT_SQL]).fetchall()
    found: dict[str, dict[str, list]] = {}
    for host, program, message, n, last in rows:
        daemon = TIME_SERVICE_PROGRAMS.get(program) if program else \
            next((d for d, rx in _TIME_SERVICE_UNITS if rx.search(message or "")), None)
        if daemon is not None:
            _count(found, host, daemon, n, last)
    for f in facts:
        # (a daemon's own records, its steps among them, are counted above)
        if f.kind != "step" or f.setter != "time_service" or f.source in TIME_SERVICE_PROGRAMS:
            continue
        daemon = TIME_SERVICE_PROGRAMS.get(re.split(r"[\\/]", f.process or "")[-1].lower())
        if daemon is not None:
            _count(found, f.host, daemon, 1, f.logged)
    out = {}
    for host, daemons in found.items():
        seen = tuple(sorted(daemons, key=lambda d: (daemons[d][1], d)))
        out[host] = TimeService(seen[-1], TIME_SERVICE_PLATFORMS[seen[-1]], seen,
                                sum(n for n, _ in daemons.values()))
    return out


def _count(found: dict[str, dict[str, list]], host: str, daemon: str, n: int, last: datetime) -> None:
    entry = found.setdefault(host, {}).setdefault(daemon, [0, last])
    entry[0] += n
    entry[1] = max(entry[1], last)
