"""The runbook of a host as the investigation sees it, from the evidence alone.

``skewsleuth fix`` knows a host from the inventory; the verdict knows only what the
logs show. The platform and the time daemon come from the host's own records
(clock.facts.time_services): the commands are that daemon's, and where no log shows
them the runbook says so instead of guessing a platform. The NTP peer it proposes is a
host the case file trusts (``references``) on the host's own network, named by the
same DNS domain or, where the case file's ``hosts:`` gives addresses, the same subnet;
never a host the incident holds a candidate, and where none fits, a placeholder and a
note rather than a trusted host of another network the host may not reach.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Iterable

from ..hosts import same_host
from .runbook import WINDOWS_ROLES, Basis, Runbook, Step, build
from .settings import FixSettings, is_name

# clock.facts' daemon names -> FixSettings.daemon (w32time is the Windows runbook's own).
DAEMON_SETTINGS = {"chronyd": "chrony", "ntpd": "ntpd", "systemd-timesyncd": "timesyncd"}
DAEMON_PLATFORMS = {"chronyd": "linux", "ntpd": "linux", "systemd-timesyncd": "linux", "w32time": "windows"}
PEER_PLACEHOLDER = "<your NTP server>"
# No log gives a netmask: hosts are taken as neighbours on the usual LAN prefixes.
SUBNET_PREFIX = {4: 24, 6: 64}
_FIND_DAEMON = "systemctl list-units --type=service --all 'chrony*' 'ntp*' 'systemd-timesyncd*'"


@dataclass(frozen=True)
class Peer:
    name: str | None          # None: no trusted host on the host's network
    why: str


def domain_of(host: str) -> str | None:
    """The DNS domain a host name is in (None for a short name or an address)."""
    if "." not in host or _address(host) is not None:
        return None
    return host.lower().rstrip(".").split(".", 1)[1]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _subnets(host: str, addresses: dict[str, str]) -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = set()
    for addr in [a for a, h in addresses.items() if same_host(h, host)] + [host]:
        ip = _address(addr)
        if ip is not None:
            out.add(ipaddress.ip_network(f"{ip}/{SUBNET_PREFIX[ip.version]}", strict=False))
    return out


def choose_peer(host: str, references: Iterable[str], addresses: dict[str, str] | None = None,
                exclude: Iterable[str] = ()) -> Peer:
    """The first trusted host of ``references`` on ``host``'s network (its DNS domain,
    or a subnet the case file's addresses put both in), other than the host itself and
    the hosts in ``exclude`` (the incident's candidates: a clock under suspicion is no
    source). Only names safe on a command line are proposed."""
    addresses = addresses or {}
    excluded = [host, *exclude]
    domain, nets = domain_of(host), _subnets(host, addresses)
    passed_over = []
    for ref in references:
        if not is_name(ref) or any(same_host(ref, x) for x in excluded):
            continue
        if domain is not None and domain_of(ref) == domain:
            return Peer(ref, f"NTP peer {ref}: a trusted host (case file 'references') in {host}'s domain "
                             f"{domain}")
        shared = nets & _subnets(ref, addresses)
        if shared:
            return Peer(ref, f"NTP peer {ref}: a trusted host (case file 'references') in {host}'s subnet "
                             f"{min(shared)} (by the case file's 'hosts:' addresses)")
        passed_over.append(ref)
    where = " and ".join(x for x in (f"domain {domain}" if domain else "",
                                     f"subnet {', '.join(map(str, sorted(nets, key=str)))}" if nets else "") if x)
    others = f" ({', '.join(passed_over)} {'is' if len(passed_over) == 1 else 'are'} on another network)" \
        if passed_over else ""
    return Peer(None, f"no trusted host (case file 'references') is on {host}'s network"
                      f"{' (' + where + ')' if where else ''}{others}: {PEER_PLACEHOLDER} stands for the NTP "
                      "server it should use")


def for_evidence(host: str, platform: str, daemon: str | None, *, roles: Iterable[str] = (),
                 basis: Basis | None = None, limit_s: float = 1.0, peer: Peer | None = None) -> Runbook:
    """The runbook for ``host`` whose logs show ``platform`` (windows | linux | unknown)
    and time daemon ``daemon`` (chronyd | ntpd | systemd-timesyncd | w32time | None)."""
    peer = peer or Peer(None, "")
    peers = (peer.name,) if peer.name else ()
    notes = [peer.why] if peer.why else []
    daemon_platform = DAEMON_PLATFORMS.get(daemon or "")
    if platform in ("linux", "windows") and daemon_platform not in (None, platform):
        notes.append(f"the logs of {host} are {platform}'s but show {daemon}: check which platform it is and "
                     "which time service keeps its clock before using these commands")
        platform = "unknown"
    elif platform not in ("linux", "windows") and daemon_platform is not None:
        platform = daemon_platform
    elif platform not in ("linux", "windows") and set(roles) & WINDOWS_ROLES:
        # a Lync Edge its peers' logs name, without logs of its own that show a platform
        only = ", ".join(sorted(set(roles) & WINDOWS_ROLES))
        notes.append(f"no log of {host} shows its platform, but its role ({only}) runs only on Windows")
        platform = "windows"
    known = platform in ("linux", "windows") and daemon is not None

    def one(on: str) -> Runbook:
        settings = FixSettings(daemon=DAEMON_SETTINGS.get(daemon or "", "chrony"), peers=peers,
                               reference=None if peers else PEER_PLACEHOLDER)
        return build(host, on, roles=tuple(roles), basis=basis, limit_s=limit_s, settings=settings,
                     platform_from="evidence")

    if platform == "windows":
        rb = one("windows")
        if not known:
            notes.append(f"no log of {host} shows its time service: W32Time, Windows' own, is assumed; check "
                         "that it is the one running before using these commands")
        return replace(rb, notes=tuple(notes) + rb.notes)
    if platform == "linux":
        rb = one("linux")
        if not known:
            notes.append(f"no log of {host} shows its time service: check which one runs (the first step) "
                         "before using these commands; they are chronyd's (chronyc), for ntpd use ntpq -p and "
                         "ntpd -gq, for systemd-timesyncd timedatectl")
            rb = replace(rb, steps=(Step(_FIND_DAEMON, "which time daemon runs: chronyd, ntpd or "
                                                       "systemd-timesyncd", False), *rb.steps))
        return replace(rb, notes=tuple(notes) + rb.notes)
    # Neither platform shown: both runbooks, each step saying which it is for.
    win, lin = one("windows"), one("linux")
    if daemon is None:
        notes.append(f"no log of {host} shows its platform or its time service: check which one runs before "
                     "using these commands (Windows: W32Time; Linux: the first Linux step names the daemon, the "
                     "commands are chronyd's)")
        lin = replace(lin, steps=(Step(_FIND_DAEMON, "which time daemon runs", False), *lin.steps))
    label = f"Linux, {daemon}" if daemon in DAEMON_SETTINGS else "Linux"
    steps = tuple(replace(s, why=f"on Windows: {s.why}") for s in win.steps) + \
        tuple(replace(s, why=f"on {label}: {s.why}") for s in lin.steps)
    verify = Step(f"{win.verify.command} (Windows) or {lin.verify.command} (Linux)",
                  f"{win.verify.why} (Windows); {lin.verify.why} (Linux)", False)
    extra = [n for n in (*win.notes, *lin.notes) if n not in notes]
    return replace(lin, platform="unknown", steps=steps, verify=verify,
                   notes=tuple(notes) + tuple(dict.fromkeys(extra)))
