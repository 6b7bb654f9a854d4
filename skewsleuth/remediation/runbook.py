"""Runbooks: the ordered commands that bring one host's clock back, and why each.

The one source of truth for remediation steps: ``skewsleuth fix`` builds a runbook
from the inventory and the host's last measurement, and the investigation's
``remediation`` (rca.py) renders the same runbook from the offset it reconstructed.

Windows hosts get w32tm (Microsoft, "Windows Time service tools and settings"
(w32tm), and "Configuring systems for high accuracy"): ``/config ... /update`` sets
the source (the domain hierarchy, or a manual peer list for a workgroup server such as
a Lync/SfB Edge, or the forest root PDC emulator, marked ``/reliable:yes``),
``/resync /rediscover`` syncs now, ``/query /status`` and ``/stripchart`` verify.
Linux hosts get the tools of their time daemon: chronyc (chronyc(1): ``sources``,
``burst``, ``makestep``, ``tracking``); ntpd's (ntpq(1) ``-p``, ``ntpdate -q`` to measure
a server without setting the clock, and ``ntpd -gq``, ntpd(8): set the clock once and
quit, ``-g`` past the 1000 s panic threshold at which a running ntpd gives up); or, for
systemd-timesyncd, timedatectl(1) and a timesyncd.conf(5) drop-in naming the server.

What the offset decides: a clock off by more than STEP_THRESHOLD_S is *stepped*, not
slewed. chronyd slews at most 83 ms per second (``maxslewrate`` 83333 ppm, chrony.conf(5)):
five hours would take 60 hours to slew away, and every time check keeps failing
meanwhile. Within the threshold a slew is kinder (time never jumps, timers and logs
stay monotonic). Windows' w32time itself steps beyond LargePhaseOffset (5 s by
default) but refuses corrections beyond MaxPos/MaxNegPhaseCorrection (54,000 s = 15 h on
stand-alone servers): beyond that the clock is set by hand first.

After the clock, the services that hold time-stamped state: the Access Edge service
(RTCSRV) of a Lync/SfB Edge, so that federation re-establishes (the seed incident); the
Kerberos tickets of the machine account (``klist -li 0x3e7 purge``); sssd's cached
tickets on Linux; and the inventory's own ``fix.services``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .settings import FixSettings

# chrony's Debian default (`makestep 1 3`): offsets beyond 1 s are stepped.
STEP_THRESHOLD_S = 1.0
# chrony.conf(5) maxslewrate default: 83333.333 ppm.
MAX_SLEW_RATE = 83333.333e-6
# w32time's MaxPosPhaseCorrection / MaxNegPhaseCorrection on stand-alone servers.
W32TIME_MAX_CORRECTION_S = 54000.0
# Without a role tolerance, the limit of `skewsleuth probe --max-offset`.
DEFAULT_LIMIT_S = 1.0

# Roles that only exist on Windows: the platform when the inventory does not say.
WINDOWS_ROLES = frozenset({"lync-edge", "sfb-edge", "lync-frontend", "sfb-frontend", "domain-controller", "adfs"})
KERBEROS_ROLES = frozenset({"kerberos-client", "lync-frontend", "sfb-frontend", "adfs"})
EDGE_ROLES = frozenset({"lync-edge", "sfb-edge"})

_PS = 'powershell -NoProfile -NonInteractive -Command "{}"'


# What a runbook reads of a measurement and of an inventory host (skewsleuth.probe's
# Measurement and InventoryHost), stated here so that the offline verdict, which
# renders runbooks too, never imports the online tools.
class MeasurementLike(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def offset_s(self) -> float | None: ...
    @property
    def uncertainty_s(self) -> float | None: ...
    @property
    def measured_at(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def error(self) -> str | None: ...


class HostLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def tolerance_s(self) -> float | None: ...
    @property
    def platform(self) -> str | None: ...
    @property
    def fix(self) -> FixSettings | None: ...


@dataclass(frozen=True)
class Step:
    command: str
    why: str
    changes_state: bool     # False: read-only (diagnosis, verification)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Basis:
    """The measurement a runbook rests on: offset ± uncertainty, when and how it was read."""

    offset_s: float | None
    uncertainty_s: float | None = None
    measured_at: str | None = None
    target: str | None = None
    source: str = "probe"            # probe | history | investigation
    error: str | None = None         # why there is no offset

    @classmethod
    def of(cls, m: MeasurementLike, source: str = "probe") -> "Basis":
        return cls(m.offset_s if m.ok else None, m.uncertainty_s, m.measured_at or None, m.target, source,
                   None if m.ok else m.error)


@dataclass(frozen=True)
class Runbook:
    host: str
    platform: str                    # windows | linux
    platform_from: str               # inventory | roles | evidence | assumed
    roles: tuple[str, ...]
    basis: Basis | None
    limit_s: float                   # offset beyond which the host needs fixing
    action: str                      # step | slew | none
    steps: tuple[Step, ...]
    verify: Step
    notes: tuple[str, ...] = ()
    settings: FixSettings = field(default_factory=FixSettings, compare=False)

    @property
    def needs_fix(self) -> bool:
        return self.action != "none"

    @property
    def transport(self) -> str:
        return self.settings.transport or ("winrm" if self.platform == "windows" else "ssh")

    def commands(self) -> list[Step]:
        """Every step in the order it runs, the verification last."""
        return [*self.steps, self.verify]

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "platform": self.platform, "platform_from": self.platform_from,
                "roles": list(self.roles), "basis": asdict(self.basis) if self.basis else None,
                "limit_s": self.limit_s, "action": self.action, "transport": self.transport,
                "steps": [s.to_dict() for s in self.steps], "verify": self.verify.to_dict(),
                "notes": list(self.notes)}


def platform_of(host: HostLike) -> tuple[str, str]:
    """(platform, where it came from): the inventory's ``platform:``, else a Windows-only
    role, else linux, assumed (and then ``fix --apply`` refuses)."""
    if host.platform:
        return host.platform, "inventory"
    if set(host.roles) & WINDOWS_ROLES:
        return "windows", "roles"
    return "linux", "assumed"


def for_host(host: HostLike, basis: Basis | None, *, max_offset_s: float = DEFAULT_LIMIT_S) -> Runbook:
    """The runbook of an inventory host, from its last measurement."""
    platform, source = platform_of(host)
    limit = max_offset_s if host.tolerance_s is None else min(max_offset_s, host.tolerance_s)
    return build(host.name, platform, roles=host.roles, basis=basis, limit_s=limit,
                 settings=host.fix or FixSettings(), platform_from=source)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if abs(seconds) >= 3600 else f"{seconds:.0f} s"


def _action(basis: Basis | None, limit_s: float) -> str:
    if basis is None or basis.offset_s is None:
        return "step"             # unknown: a step of a right clock moves it by nothing
    off = abs(basis.offset_s)
    if off <= limit_s:
        return "none"
    return "step" if off > STEP_THRESHOLD_S else "slew"


def build(host: str, platform: str, *, roles: tuple[str, ...] | list[str] | set[str] = (),
          basis: Basis | None = None, limit_s: float = DEFAULT_LIMIT_S, settings: FixSettings | None = None,
          platform_from: str = "inventory") -> Runbook:
    """The runbook for ``host`` on ``platform`` (windows | linux) with ``roles``, given
    the measured offset in ``basis`` (None: unknown, and the clock is stepped)."""
    settings = settings or FixSettings()
    roles = tuple(sorted(roles))
    action = _action(basis, limit_s)
    offset = basis.offset_s if basis else None
    notes: list[str] = []
    if platform_from == "assumed":
        notes.append(f"platform not given: {platform} assumed; set 'platform:' in the inventory "
                     "(fix --apply refuses until then)")
    if basis is None or offset is None:
        notes.append("offset unknown" + (f" ({basis.error})" if basis and basis.error else "")
                     + ": the runbook steps the clock, which moves a right clock by nothing")
    elif action == "none":
        notes.append(f"offset {offset:+.3f} s is within the {limit_s:g} s limit: nothing to change; "
                     "the steps below only check")
    if offset is not None and abs(offset) >= 3000 and abs(offset / 3600 - round(offset / 3600)) * 3600 <= 120:
        notes.append(f"The offset is a whole number of hours ({round(offset / 3600):+d} h): that points to a "
                     "time-zone or hardware-clock (RTC kept in local time, hypervisor time sync) confusion "
                     "rather than drift. Check the BIOS/RTC time and the VM's time-sync settings so that the "
                     "next reboot does not bring it back.")
    if platform == "windows":
        steps, verify = _windows(roles, action, offset, settings, notes)
    elif platform == "linux":
        steps, verify = _linux(roles, action, offset, settings, notes)
    else:
        raise ValueError(f"platform must be windows or linux, not {platform!r}")
    if action == "none":
        steps = [s for s in steps if not s.changes_state]
    return Runbook(host, platform, platform_from, roles, basis, limit_s, action, tuple(steps), verify,
                   tuple(notes), settings)


def _restart(settings: FixSettings, platform: str, service: str, why: str) -> Step:
    default = _PS.format("Restart-Service -Name {service}") if platform == "windows" else "systemctl restart {service}"
    command = (settings.restart or default).replace("{service}", service)
    return Step(_sudo(settings, platform, command), why, True)


def _sudo(settings: FixSettings, platform: str, command: str) -> str:
    # -n: never prompt (there is no one to answer over a non-interactive channel).
    return f"sudo -n {command}" if settings.sudo and platform == "linux" else command


def _windows(roles: tuple[str, ...], action: str, offset: float | None, settings: FixSettings,
             notes: list[str]) -> tuple[list[Step], Step]:
    steps = [Step("w32tm /query /status",
                  "which source w32time uses and when it last synced ('Local CMOS Clock' or 'Free-running "
                  "System Clock' means none)", False)]
    if offset is not None and abs(offset) > W32TIME_MAX_CORRECTION_S:
        steps.append(Step(_PS.format(f"Set-Date -Adjust ([TimeSpan]::FromSeconds({-offset:.0f}))"),
                          f"w32time refuses corrections beyond MaxPos/MaxNegPhaseCorrection (54,000 s on "
                          f"stand-alone servers); set the clock by the measured {_hours(-offset)} first", True))
    if settings.peers:
        peers = " ".join(f"{p},0x8" for p in settings.peers)      # 0x8: client mode requests
        pdc = "domain-controller" in roles
        steps.append(Step(f'w32tm /config /manualpeerlist:"{peers}" /syncfromflags:manual '
                          f'/reliable:{"yes" if pdc else "no"} /update',
                          "sync from the given NTP servers" + (" and announce this DC (the PDC emulator of the "
                                                               "forest root) as a reliable source" if pdc else ""),
                          True))
    else:
        steps.append(Step("w32tm /config /syncfromflags:domhier /update",
                          "sync from the domain hierarchy (a domain member's time source)", True))
        if set(roles) & EDGE_ROLES:
            notes.append("Edge servers are usually not domain members: give 'fix: {peers: [your NTP server]}' in "
                         "the inventory so that w32time has a source outside the domain hierarchy")
    steps.append(Step("w32tm /resync /rediscover",
                      "find the source again and sync now; w32time steps the clock when it is off by more "
                      "than LargePhaseOffset (5 s) instead of slewing" if action == "step" else
                      "find the source again and sync now (a small offset is slewed)", True))
    if set(roles) & EDGE_ROLES:
        steps.append(_restart(settings, "windows", "RTCSRV",
                              "the Access Edge service (RTCSRV; Restart-CsWindowsService in the Lync shell): "
                              "federation (Exchange Online UM, ms-edge-proxy-message-trust) re-establishes on the "
                              "right clock"))
    if set(roles) & KERBEROS_ROLES:
        steps.append(Step("klist -li 0x3e7 purge",
                          "tickets obtained while the clock was wrong carry wrong times: purge the machine "
                          "account's (SYSTEM) so that its services get new ones", True))
    for service in settings.services:
        steps.append(_restart(settings, "windows", service, "listed in the inventory's fix.services"))
    reference = settings.reference or (settings.peers[0] if settings.peers else None)
    if reference:
        verify = Step(f"w32tm /stripchart /computer:{reference} /samples:3 /dataonly",
                      f"offsets within ±1 s of {reference}", False)
    else:
        verify = Step("w32tm /query /status", "'Source' is a domain controller or NTP server and 'Last Successful "
                                              "Sync Time' is now", False)
    return steps, verify


def _linux(roles: tuple[str, ...], action: str, offset: float | None,
           settings: FixSettings, notes: list[str]) -> tuple[list[Step], Step]:
    steps: list[Step] = []
    peer = settings.peers[0] if settings.peers else None
    if settings.daemon == "timesyncd":
        steps.append(Step("timedatectl timesync-status", "which server systemd-timesyncd uses and the offset "
                                                         "it last saw", False))
        if peer:
            steps.append(Step(_sudo(settings, "linux", "mkdir -p /etc/systemd/timesyncd.conf.d"),
                              "the folder of timesyncd.conf drop-ins", True))
            steps.append(Step(f"printf '[Time]\\nNTP={' '.join(settings.peers)}\\n' | "
                              + _sudo(settings, "linux", "tee /etc/systemd/timesyncd.conf.d/skewsleuth.conf"),
                              f"make {peer} systemd-timesyncd's server (timesyncd.conf(5): NTP= in a drop-in "
                              "overrides the one in timesyncd.conf)", True))
        steps.append(Step(_sudo(settings, "linux", "timedatectl set-ntp true"),
                          "turn NTP synchronisation on (systemd-timesyncd)", True))
        steps.append(Step(_sudo(settings, "linux", "systemctl restart systemd-timesyncd"),
                          "sync now: timesyncd steps the clock when it is off by more than 0.4 s and slews "
                          "below that", True))
        verify = Step("timedatectl timesync-status", "'Offset' within ±1 s and a server is set", False)
    elif settings.daemon == "ntpd":
        steps, verify = _ntpd(action, offset, settings, notes)
    else:
        c = settings.chronyc
        steps.append(Step(f"{c} sources -v", "which sources chronyd uses and whether one is selected ('*'): "
                                             "a step is only as good as its source", False))
        if action == "slew":
            steps.append(Step(_sudo(settings, "linux", f"{c} burst 4/4"),
                              "four quick measurements of every source, so chronyd slews from fresh data (below "
                              f"{STEP_THRESHOLD_S:g} s a slew keeps time monotonic)", True))
        else:
            size = f"{_hours(abs(offset))} would take {_hours(abs(offset) / MAX_SLEW_RATE)} to slew away" \
                if offset is not None else "a large offset takes hours to slew away"
            steps.append(Step(_sudo(settings, "linux", f"{c} makestep"),
                              f"step the clock now: chronyd slews at most 83 ms/s, so {size}, and time checks "
                              "keep failing meanwhile", True))
        verify = Step(f"{c} tracking", "'System time' within 1 s of NTP time and 'Leap status: Normal'", False)
        if peer:
            notes.append(f"make {peer} a source of chronyd: 'server {peer} iburst' in chrony.conf "
                         f"(`{c} add server {peer} iburst` adds it until chronyd restarts)")
    if "kerberos-client" in roles:
        steps.append(_restart(settings, "linux", "sssd", "sssd caches Kerberos tickets obtained with the wrong "
                                                          "clock; a restart gets new ones"))
    for service in settings.services:
        steps.append(_restart(settings, "linux", service, "listed in the inventory's fix.services"))
    return steps, verify


def _ntpd(action: str, offset: float | None, settings: FixSettings, notes: list[str]) -> tuple[list[Step], Step]:
    steps = [Step("ntpq -p", "which peers ntpd uses, whether one is selected ('*') and their offsets (ms)", False)]
    for peer in settings.peers[:1]:
        steps.append(Step(f"ntpdate -q {peer}", f"the offset from {peer}, measured without setting the clock",
                          False))
        notes.append(f"make {peer} a server of ntpd: 'server {peer} iburst' in ntp.conf, before ntpd starts again")
    if action == "slew":
        steps.append(_restart(settings, "linux", "ntpd", "ntpd reads its servers again and with iburst corrects "
                                                          "within a minute: it slews offsets below 128 ms"))
    else:
        size = f"the clock is {_hours(abs(offset))} off: " if offset is not None else ""
        steps += [Step(_sudo(settings, "linux", "systemctl stop ntpd"),
                       f"{size}a running ntpd gives up on offsets beyond its 1000 s panic threshold, and "
                       "`ntpd -gq` needs its port", True),
                  Step(_sudo(settings, "linux", "ntpd -gq"),
                       "set the clock once from the configured servers and quit (ntpd(8): -g allows a first "
                       "correction of any size, -q exits after it)", True),
                  Step(_sudo(settings, "linux", "systemctl start ntpd"), "ntpd keeps the clock from now on", True)]
    notes.append("ntpd's unit is ntpd on Red Hat and SUSE, ntp or ntpsec on Debian and Ubuntu: use the one "
                 "this host has")
    return steps, Step("ntpq -p", "a peer selected ('*') with an offset within ±1000 ms", False)
