"""Clock changes as findings: who set a host's clock, from what to what, and how much it matters.

Every explicit change of a clock that a record shows is a finding, whether or not an
incident followed: Security 4616 and Kernel-General 1, W32Time's, chronyd's, ntpd's and
ntpdate's steps, macOS ntpd's wake step, the journal's clocks, a hypervisor's agent
(VMware Tools, VirtualBox, qemu-ga), and a person's ``date -s`` / ``timedatectl
set-time`` (sudo's log, systemd-timedated). One change logged by several records (a
Kernel-General 1 and its 4616) is one finding that cites them all.

Each finding gets a level, as Sigma, Hayabusa and Chainsaw grade detections, from named
tests of who set the clock and by how much:

* ``set_by_person``: a shell, a script, the Date and Time settings or ``date`` set it:
  high, MITRE ATT&CK T1070.006 (SigmaHQ's "Unauthorized System Time Modification" rule
  tags Security 4616 so).
* ``set_by_unknown``: a process that is neither a time service, a hypervisor's agent nor
  the hardware clock, or an account no such process runs as (a Kernel-General 1 under a
  user's SID): high, T1070.006, as above.
* ``unattributed``: no record says who (a step only the journal's clocks show; a VM
  paused or reverted leaves the same trace): medium from :data:`LARGE_STEP_S`, else low.
* ``large_step``: a time service, an agent or the hardware clock moved it by
  :data:`LARGE_STEP_S` or more: medium; a source of time can be wrong, and such a step
  breaks every authentication protocol's tolerance.
* otherwise a routine correction: informational.

References: Microsoft, "4616(S): The system time was changed" (Subject, ProcessName,
PreviousTime, NewTime); MITRE ATT&CK T1070.006; SigmaHQ
rules/windows/builtin/security/win_security_susp_time_modification.yml; Hayabusa's
and Chainsaw's detection levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock.facts import ClockFact, set_by_user, user_sets
from .clock.model import ClockModel
from .store import Store
from .timefmt import UTC_FORMAT, Format

# A step this large breaks the tightest tolerances authentication uses (a JWT or SAML
# validator's 60 s leeway; Kerberos allows 300 s): no routine correction is this big.
LARGE_STEP_S = 60.0
# Records of one change in several logs (Kernel-General 1 and 4616): the same new time
# and size within this many seconds (as clock.segments merges one step seen twice).
SAME_CHANGE_S = 2.0
LEVELS = ("high", "medium", "low", "informational")
TAMPERING = "T1070.006"
# Who set the clock (ClockFact.setter), in words
SETTERS = {"user": "a person or script", "time_service": "the time service", "agent": "a hypervisor's agent",
           "rtc": "the hardware clock", "unknown": "an unknown process"}


@dataclass
class Finding:
    """One change of a host's clock, with who made it and the records that show it."""

    host: str
    level: str                      # high | medium | low | informational
    test: str                       # the named test that set the level
    kind: str                       # clock_change (its size known) | clock_set (who, not how much)
    logged: datetime                # the first record's logged time
    before: datetime | None         # the clock read this just before (logged) ...
    after: datetime | None          # ... and this just after
    delta_s: float | None
    setter: str                     # time_service | agent | rtc | user | unknown
    process: str | None
    user: str | None
    sid: str | None
    sources: list[str]              # "Security 4616", "Kernel-General 1", "chronyd"
    records: list[str]              # "<file>#<record id>"
    true_at: datetime | None = None          # when it happened in true time, where the model knows
    true_uncertainty_s: float | None = None
    mitre: list[str] = field(default_factory=list)
    # (file_id, record_no) of each record, for reports that link to them
    keys: list[tuple[int, int]] = field(default_factory=list)

    @property
    def why(self) -> str:
        who = SETTERS.get(self.setter, self.setter)
        names = ", ".join(x for x in (self.process, self.user and f"as {self.user}") if x)
        by = f"set by {who}" + (f" ({names})" if names else "")
        if self.test in ("set_by_person", "set_by_unknown"):
            return f"{by}: possible tampering (MITRE ATT&CK {TAMPERING})"
        if self.test == "unattributed":
            return "no record says who set it"
        if self.test == "large_step":
            return f"{by}, by {LARGE_STEP_S:g} s or more: beyond authentication's tolerances"
        return f"{by}: a routine correction"

    def to_dict(self) -> dict:
        def iso(dt):
            return None if dt is None else dt.isoformat().replace("+00:00", "Z")
        return {"host": self.host, "level": self.level, "test": self.test, "kind": self.kind,
                "logged": iso(self.logged), "before": iso(self.before), "after": iso(self.after),
                "delta_s": None if self.delta_s is None else round(self.delta_s, 3),
                "true_at": iso(self.true_at),
                "true_uncertainty_s": None if self.true_uncertainty_s is None else round(self.true_uncertainty_s, 3),
                "set_by": self.setter, "process": self.process, "user": self.user, "sid": self.sid,
                "sources": self.sources, "records": self.records, "mitre": self.mitre, "why": self.why}


def grade(setter: str, delta_s: float | None, named: bool = True) -> tuple[str, str]:
    """(level, test) of one change of a clock; ``named``: a record names the process or
    account that made it."""
    large = delta_s is None or abs(delta_s) >= LARGE_STEP_S
    if setter == "user":
        return "high", "set_by_person"
    if setter not in ("time_service", "agent", "rtc"):
        if named:
            return "high", "set_by_unknown"
        return ("medium" if large else "low"), "unattributed"
    if large:
        return "medium", "large_step"
    return "informational", "routine"


def find_clock_changes(store: Store, model: ClockModel) -> list[Finding]:
    """Every explicit clock change in the model's facts, as findings in (host, time) order."""
    steps = sorted((f for f in model.facts if f.kind == "step" and f.delta_s is not None and f.after is not None),
                   key=lambda f: (f.host, f.after))
    sets = user_sets(model.facts)
    groups: list[list[ClockFact]] = []
    open_: list[list[ClockFact]] = []     # the groups a later record of the same change can still join
    for f in steps:
        open_ = [g for g in open_ if g[0].host == f.host
                 and (f.after - g[0].after).total_seconds() < SAME_CHANGE_S]
        same = next((g for g in open_ if abs(g[0].delta_s - f.delta_s) < SAME_CHANGE_S), None)
        if same is not None:
            same.append(f)
        else:
            groups.append([f])
            open_.append(groups[-1])
    used: set[int] = set()
    for g in groups:
        first = g[0]
        if any(f.setter != "unknown" for f in g):
            # a time service's or an agent's own step: a person's command logged near it
            # is a change of its own (a 'date -s' the service then undid), not its setter
            continue
        u = set_by_user(sets.get(first.host, []), first.before, first.after, first.file_id, first.seq)
        if u is not None:
            g.append(u)
            used.add(id(u))
    groups += [[s] for host_sets in sets.values() for s in host_sets if id(s) not in used]
    found = [_finding(g) for g in groups]
    _place_in_true_time(store, found, groups)
    # logged times lie across the very changes listed: true time where the model knows it
    found.sort(key=lambda x: (x.host, x.true_at or x.logged))
    return found


def _finding(group: list[ClockFact]) -> Finding:
    sized = [f for f in group if f.kind == "step"]
    # the record that names most of who made it speaks for the change (4616 over Kernel-General 1)
    named = max(group, key=lambda f: (f.setter == "user", f.process is not None, f.user is not None,
                                      f.setter != "unknown"))
    setter = "user" if any(f.setter == "user" for f in group) else named.setter
    delta = sized[0].delta_s if sized else None
    level, test = grade(setter, delta, named=any(f.process or f.user or f.sid for f in group))
    first = min(group, key=lambda f: f.logged)
    return Finding(
        host=first.host, level=level, test=test, kind="clock_change" if sized else "clock_set",
        logged=first.logged, before=sized[0].before if sized else None, after=sized[0].after if sized else None,
        delta_s=delta, setter=setter, process=named.process,
        user=next((f.user for f in group if f.user), None), sid=next((f.sid for f in group if f.sid), None),
        sources=list(dict.fromkeys(f.source for f in group)),
        records=list(dict.fromkeys(f.ref for f in group)),
        mitre=[TAMPERING] if level == "high" else [],
        keys=list(dict.fromkeys((f.file_id, f.record_no) for f in group)))


def _place_in_true_time(store: Store, found: list[Finding], groups: list[list[ClockFact]]) -> None:
    """The true time of each change, from the model's offset at its first record (on the
    new clock: Windows and the daemons log a change after making it)."""
    keys = [(g[0].file_id, g[0].record_no) for g in groups]
    if not keys:
        return
    rows = store.con.execute(
        """SELECT k.i, epoch_us(t.logged) - epoch_us(t.true_time), t.uncertainty_s
           FROM (SELECT unnest(?) AS i, unnest(?) AS file_id, unnest(?) AS record_no) k
           JOIN timeline t USING (file_id, record_no)""",
        [list(range(len(keys))), [k[0] for k in keys], [k[1] for k in keys]]).fetchall()
    for i, offset_us, half in rows:
        x = found[i]
        if half is None or not math.isfinite(half):
            continue
        at = x.after or x.logged
        x.true_at = at - timedelta(microseconds=offset_us)
        x.true_uncertainty_s = half


def summary(found: list[Finding]) -> dict:
    """Counts per host and level, and over all hosts."""
    hosts: dict[str, dict[str, int]] = {}
    for x in found:
        hosts.setdefault(x.host, dict.fromkeys(LEVELS, 0))[x.level] += 1
    total = dict.fromkeys(LEVELS, 0)
    for counts in hosts.values():
        for k, n in counts.items():
            total[k] += n
    return {"total": total, "hosts": [{"host": h, **c} for h, c in sorted(hosts.items())]}


def describe(x: Finding, when: Format = UTC_FORMAT) -> str:
    """One line for a person: what changed, when, by how much, and who did it."""
    size = "" if x.delta_s is None else f"{x.delta_s:+,.3f} s"
    change = (f"clock set from {when(x.before)} to {when(x.after)} (as logged), {size}" if x.before and x.after
              else f"clock set at {when(x.logged)} (as logged), size not recorded")
    return f"{change}; {x.why}"
