"""What every probe shares: the target it was given and the measurement it returns.

A *target* is one way to read one host's clock: ``ntp://host[:port]``,
``http://host[:port]``, ``https://host[:port]`` or ``smtp://host[:port]`` (BRIEF,
"The contract users script against"). A *measurement* is the host's offset
(logged − true, positive when its clock is ahead), the half-width of the interval that
surely holds it (``uncertainty_s``), the round trip it was read over and, when the
clock could not be read, ``ok=False`` with a one-line ``error``.

"True time" is this machine's own clock when the probe runs: a probe measures the
target against the prober, so run it from a host whose clock you trust.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..errors import TargetError

PROTOCOLS = {"ntp": 123, "http": 80, "https": 443, "smtp": 25}
# The keys the BRIEF promises, first in every JSON row.
CONTRACT_KEYS = ("target", "protocol", "offset_s", "uncertainty_s", "rtt_s", "ok", "error")


def now() -> float:
    """This machine's clock (true time for a probe), in seconds since the Unix epoch."""
    return time.time()


@dataclass(frozen=True)
class Target:
    """One way to read one host's clock; ``name`` is the inventory's host name (the
    URL's host otherwise), ``roles`` and ``tolerance_s`` come from the inventory."""

    url: str
    protocol: str
    host: str
    port: int
    name: str = ""
    roles: tuple[str, ...] = ()
    tolerance_s: float | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_target(text: str, *, name: str = "", roles: tuple[str, ...] = (),
                 tolerance_s: float | None = None) -> Target:
    """``scheme://host[:port]`` as a Target; TargetError with a readable reason."""
    raw = text.strip()
    if "://" not in raw:
        raise TargetError(f"target {text!r} needs a scheme: one of {', '.join(s + '://' for s in PROTOCOLS)}")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"target {text!r}: {str(exc)[:1].lower()}{str(exc)[1:]}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROTOCOLS:
        raise TargetError(f"target {text!r}: unknown protocol {scheme!r} (known: {', '.join(PROTOCOLS)})")
    host = parts.hostname
    if not host:
        raise TargetError(f"target {text!r} names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise TargetError(f"target {text!r}: only {scheme}://host[:port] is understood")
    if port == 0:
        raise TargetError(f"target {text!r}: port 0 cannot be probed")
    port = port or PROTOCOLS[scheme]
    shown = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown}" + (f":{port}" if port != PROTOCOLS[scheme] else "")
    return Target(url=url, protocol=scheme, host=host, port=port, name=name or host, roles=tuple(roles),
                  tolerance_s=tolerance_s)


@dataclass(frozen=True)
class Measurement:
    """One target's clock as measured now. ``offset_s`` = logged − true (positive: the
    target is ahead); the true offset lies in ``offset_s ± uncertainty_s``."""

    target: str
    protocol: str
    host: str
    offset_s: float | None
    uncertainty_s: float | None
    rtt_s: float | None
    ok: bool
    error: str | None = None
    measured_at: str = ""                 # UTC ISO time (this machine's clock) of the reading
    roles: tuple[str, ...] = ()
    tolerance_s: float | None = None      # tightest tolerance of the host's roles (inventory)
    samples_sent: int = 0
    samples_kept: int = 0                 # replies that passed validation
    # Protocol specifics (stratum, refid, banner, ...); left out of the hash so that
    # measurements can be kept in sets and as dict keys.
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)

    def beyond(self, max_offset_s: float) -> bool:
        """Whether the measured offset exceeds ``max_offset_s`` or the host's role
        tolerance, whichever is tighter (False when it was not measured)."""
        if not self.ok or self.offset_s is None:
            return False
        limit = max_offset_s if self.tolerance_s is None else min(max_offset_s, self.tolerance_s)
        return abs(self.offset_s) > limit

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON shape (BRIEF): target, protocol, offset_s, uncertainty_s,
        rtt_s, ok, error, then the evidence keys."""
        d = asdict(self)
        d["roles"] = list(self.roles)
        evidence = d.pop("evidence")
        ordered = {k: d.pop(k) for k in CONTRACT_KEYS}
        return {**ordered, **d, **{k: v for k, v in evidence.items() if k not in ordered and k not in d}}


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def failed(target: Target, error: str, *, sent: int = 0, **evidence: Any) -> Measurement:
    """A target that could not be measured: ok=False and why, never an exception."""
    return Measurement(target=target.url, protocol=target.protocol, host=target.name, offset_s=None,
                       uncertainty_s=None, rtt_s=None, ok=False, error=error, measured_at=iso_utc(now()),
                       roles=target.roles, tolerance_s=target.tolerance_s, samples_sent=sent, evidence=evidence)


def measured(target: Target, offset_s: float, uncertainty_s: float, rtt_s: float, *, at: float,
             sent: int, kept: int, **evidence: Any) -> Measurement:
    return Measurement(target=target.url, protocol=target.protocol, host=target.name, offset_s=offset_s,
                       uncertainty_s=uncertainty_s, rtt_s=rtt_s, ok=True, error=None, measured_at=iso_utc(at),
                       roles=target.roles, tolerance_s=target.tolerance_s, samples_sent=sent,
                       samples_kept=kept, evidence=evidence)
