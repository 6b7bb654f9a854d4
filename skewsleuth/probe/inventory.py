"""Inventory: the hosts to probe, how to reach each clock, and the roles that set its tolerance.

A YAML file::

    roles:                                   # optional: roles of your own
      payments-api: {protocols: [aws-sigv4]} # the tightest of these protocols' tolerances
      trading: {tolerance_s: 0.1}            # or a tolerance of its own (both: the tighter)
    hosts:
      - name: srv-lyncedge01.domain.com
        roles: [lync-edge]
        probe: [ntp, https]                  # schemes (this host) or full targets
      - name: dc01.domain.com
        roles: [domain-controller]           # no probe: ntp://<name>
      - name: mx01.domain.com
        probe: ["smtp://mx01.domain.com:2525"]
        tolerance_s: 60                      # a host may set its own too
      - name: web01.domain.com
        platform: linux                      # windows | linux (skewsleuth fix; default from roles)
        fix: {ssh: {user: ops}}              # how `skewsleuth fix` reaches it (skewsleuth/remediation/settings.py)

A role stands for the time-checking protocols a host serves; its tolerance is the
tightest of theirs. Protocol tolerances come from the rule pack (``rules/builtin``:
kerberos, sip-ms-identity and tls are 300 s there), so that a probe alerts at the skew
the investigation calls a symptom; protocols no rule covers yet have theirs in
``EXTRA_TOLERANCES``, each with its source. A host's ``tolerance_s`` is the tightest
of its roles' (and its own); none when it has no role.

Every error names the file and the host or role, on one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import InventoryError, TargetError
from ..remediation.settings import FixSettings, parse_fix, parse_platform
from .base import PROTOCOLS, Target, parse_target

# Tolerances (seconds) of protocols the rule pack has no symptom rule for yet (none
# today: TOTP, SAML, OAuth, AWS SigV4, Ceph and CockroachDB have rules of their own,
# with the tolerances this table gave them).
EXTRA_TOLERANCES: dict[str, float] = {}

# Built-in roles -> the protocols whose tolerance they carry.
BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "kerberos-kdc": ("kerberos",),
    "domain-controller": ("kerberos",),
    "kerberos-client": ("kerberos",),
    "lync-edge": ("sip-ms-identity", "tls"),
    "sfb-edge": ("sip-ms-identity", "tls"),
    "lync-frontend": ("sip-ms-identity", "kerberos"),
    "sfb-frontend": ("sip-ms-identity", "kerberos"),
    "tls": ("tls",),
    "web": ("tls",),
    "saml": ("saml",),
    "adfs": ("saml", "tls", "kerberos"),
    "oauth": ("oauth",),
    "totp": ("totp",),
    "aws-client": ("aws-sigv4",),
    "ceph-mon": ("ceph",),
    "cockroachdb": ("cockroachdb",),
}


@lru_cache(maxsize=1)
def protocol_tolerances() -> dict[str, float]:
    """Tolerance per protocol: the rule pack's (the tightest rule of each protocol),
    then EXTRA_TOLERANCES for protocols no rule covers."""
    from ..rules import load_rules

    table = dict(EXTRA_TOLERANCES)
    from_rules: dict[str, float] = {}
    for rule in load_rules():
        if rule.tolerance_s is not None:
            from_rules[rule.protocol] = min(rule.tolerance_s, from_rules.get(rule.protocol, rule.tolerance_s))
    table.update(from_rules)
    return table


@dataclass(frozen=True)
class Role:
    name: str
    protocols: tuple[str, ...]
    tolerance_s: float | None     # the tightest of its protocols' and its own


@dataclass(frozen=True)
class InventoryHost:
    name: str
    targets: tuple[Target, ...]   # how to probe it (each carries name, roles, tolerance_s)
    roles: tuple[str, ...]
    tolerance_s: float | None     # tightest of its roles' (None: no role, --max-offset alone)
    platform: str | None = None   # windows | linux, when the inventory says (skewsleuth fix)
    fix: FixSettings | None = None     # the host's `fix:` key: how to reach it, runbook overrides


@dataclass(frozen=True)
class Inventory:
    path: str
    hosts: tuple[InventoryHost, ...]
    roles: dict[str, Role]

    def targets(self) -> list[Target]:
        return [t for h in self.hosts for t in h.targets]

    def host(self, name: str) -> InventoryHost | None:
        """The host called ``name``: case-insensitive, a short name matching one FQDN."""
        from ..hosts import same_host

        exact = [h for h in self.hosts if h.name.lower().rstrip(".") == name.lower().rstrip(".")]
        found = exact or [h for h in self.hosts if same_host(h.name, name)]
        return found[0] if len(found) == 1 else None

    @classmethod
    def load(cls, path: str | Path) -> "Inventory":
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(f"cannot read inventory {p}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise InventoryError(f"{p}:{where} not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
        return cls.from_dict(doc, str(p))

    @classmethod
    def from_dict(cls, doc: Any, source: str = "inventory") -> "Inventory":
        if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list):
            raise InventoryError(f"{source}: an inventory is a mapping with a 'hosts' list")
        unknown = set(doc) - {"roles", "hosts"}
        if unknown:
            raise InventoryError(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: roles, hosts)")
        roles = _roles(doc.get("roles") or {}, source)
        hosts, seen = [], set()
        for i, entry in enumerate(doc["hosts"]):
            host = _host(entry, roles, f"{source}: hosts[{i}]")
            for t in host.targets:
                if t.url in seen:
                    raise InventoryError(f"{source}: hosts[{i}]: target {t.url} is listed twice")
                seen.add(t.url)
            hosts.append(host)
        return cls(source, tuple(hosts), roles)


def _tolerance(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InventoryError(f"{where}: tolerance_s must be a positive number of seconds, not {value!r}")
    return float(value)


def _roles(raw: Any, source: str) -> dict[str, Role]:
    known = protocol_tolerances()
    roles = {name: Role(name, protos, min(known[p] for p in protos)) for name, protos in BUILTIN_ROLES.items()}
    if not isinstance(raw, dict):
        raise InventoryError(f"{source}: 'roles' must map role names to {{protocols: [...]}} or {{tolerance_s: N}}")
    for name, spec in raw.items():
        where = f"{source}: role {name!r}"
        if not isinstance(spec, dict) or not spec or set(spec) - {"protocols", "tolerance_s"}:
            raise InventoryError(f"{where}: give 'protocols: [...]' and/or 'tolerance_s: N'")
        protos = spec.get("protocols") or []
        if isinstance(protos, str):
            protos = [protos]
        bad = [p for p in protos if p not in known]
        if bad:
            raise InventoryError(f"{where}: unknown protocol {bad[0]!r} (known: {', '.join(sorted(known))})")
        tols = [known[p] for p in protos]
        if spec.get("tolerance_s") is not None:
            tols.append(_tolerance(spec["tolerance_s"], where))
        roles[str(name)] = Role(str(name), tuple(protos), min(tols) if tols else None)
    return roles


def _host(entry: Any, roles: dict[str, Role], where: str) -> InventoryHost:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise InventoryError(f"{where}: a host is a mapping with a 'name' (and optional roles, probe, tolerance_s)")
    unknown = set(entry) - {"name", "roles", "probe", "tolerance_s", "platform", "fix"}
    name = entry["name"].strip()
    where = f"{where} ({name})"
    if unknown:
        raise InventoryError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    host_roles = entry.get("roles") or []
    if isinstance(host_roles, str):
        host_roles = [host_roles]
    for r in host_roles:
        if r not in roles:
            raise InventoryError(f"{where}: unknown role {r!r} (known: {', '.join(sorted(roles))})")
    tols = [roles[r].tolerance_s for r in host_roles if roles[r].tolerance_s is not None]
    if entry.get("tolerance_s") is not None:
        tols.append(_tolerance(entry["tolerance_s"], where))
    tolerance = min(tols) if tols else None
    probes = entry.get("probe") or ["ntp"]
    if isinstance(probes, str):
        probes = [probes]
    targets = []
    for spec in probes:
        text = f"{spec}://{name}" if isinstance(spec, str) and spec.lower() in PROTOCOLS else spec
        if not isinstance(text, str):
            raise InventoryError(f"{where}: probe entries are schemes ({', '.join(PROTOCOLS)}) or targets, not {spec!r}")
        try:
            targets.append(parse_target(text, name=name, roles=tuple(host_roles), tolerance_s=tolerance))
        except TargetError as exc:
            raise InventoryError(f"{where}: {exc}") from None
    platform, fix = None, None
    if "platform" in entry or "fix" in entry:
        # Only `skewsleuth fix` reads these; remediation/settings.py validates them.
        try:
            platform = parse_platform(entry["platform"]) if "platform" in entry else None
            fix = parse_fix(entry["fix"]) if "fix" in entry else None
        except ValueError as exc:
            raise InventoryError(f"{where}: {exc}") from None
    return InventoryHost(name, tuple(targets), tuple(host_roles), tolerance, platform, fix)
