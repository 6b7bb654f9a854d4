"""A fix run: measure, build the runbook, and (only when confirmed) run it and measure again.

``plan`` measures the host now (or takes its last measurement from a watch history)
and builds its runbook; nothing touches the host. ``apply`` runs a confirmed runbook
over its transport (execute.py's guard), records everything in the audit log, then
probes the host again from here: the fix is *verified* only when every target of the
host is measured within the runbook's limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Unreachable
from ..probe import InventoryHost, Measurement, probe
from ..remediation import Basis, Runbook, for_host
from .audit import AuditLog
from .execute import StepResult, Transport, execute

CONFIRMATIONS = ("interactive", "--yes")


def measure_host(host: InventoryHost, *, timeout: float = 5.0, samples: int = 4) -> list[Measurement]:
    """The host's clock now, over every target the inventory gives it."""
    return probe(host.targets, timeout=timeout, samples=samples, interval=0.05)


def plan(host: InventoryHost, *, history: str | Path | None = None, max_offset_s: float = 1.0,
         timeout: float = 5.0, samples: int = 4) -> Runbook:
    """The host's runbook from its last measurement: the history's when given, else one
    taken now (the first target measured; the first failure when none is)."""
    if history is not None:
        from .history import last_measurement

        m = last_measurement(history, host.name)
        basis = Basis.of(m, "history") if m else Basis(None, source="history",
                                                      error=f"no measurement of {host.name} in {history}")
    else:
        ms = measure_host(host, timeout=timeout, samples=samples)
        best = next((m for m in ms if m.ok), ms[0] if ms else None)
        basis = Basis.of(best) if best else Basis(None, error="the inventory gives no target to measure")
    return for_host(host, basis, max_offset_s=max_offset_s)


def transport_for(runbook: Runbook) -> Transport:
    """The runbook's transport, not yet connected (WinRM: MissingPywinrm without pywinrm)."""
    if runbook.transport == "winrm":
        from .winrm import WinrmSession

        return WinrmSession(runbook.host, runbook.settings.winrm, operation_timeout=runbook.settings.timeout_s)
    from .ssh import SshSession

    return SshSession(runbook.host, runbook.settings.ssh)


@dataclass
class FixOutcome:
    runbook: Runbook
    confirmation: str
    results: list[StepResult] = field(default_factory=list)
    verification: list[Measurement] = field(default_factory=list)
    error: str | None = None           # the host could not be reached: nothing ran

    @property
    def failed(self) -> StepResult | None:
        """The state-changing command that stopped the run."""
        return next((r for r in self.results if r.ran and r.step.changes_state and not r.ok), None)

    @property
    def verified(self) -> bool:
        return bool(self.verification) and all(
            m.ok and m.offset_s is not None and abs(m.offset_s) <= self.runbook.limit_s for m in self.verification)

    @property
    def exit_status(self) -> int:
        """0 fixed and verified, 1 applied but a step failed or still beyond the limit, 2 unreachable."""
        if self.error is not None:
            return 2
        return 0 if self.failed is None and self.verified else 1

    def to_dict(self) -> dict[str, Any]:
        return {"runbook": self.runbook.to_dict(), "applied": self.error is None, "confirmation": self.confirmation,
                "results": [r.to_dict() for r in self.results],
                "verification": [m.to_dict() for m in self.verification], "verified": self.verified,
                "error": self.error, "exit_status": self.exit_status}


def apply(runbook: Runbook, host: InventoryHost, audit: AuditLog, *, confirmation: str,
          transport: Transport | None = None, timeout: float = 5.0, samples: int = 4) -> FixOutcome:
    """Run a runbook the operator confirmed (``confirmation``: interactive | --yes), then
    measure the host again. Every step and the verification go to ``audit``."""
    if confirmation not in CONFIRMATIONS:
        raise ValueError(f"confirmation must be one of {CONFIRMATIONS}, not {confirmation!r}")
    transport = transport or transport_for(runbook)
    outcome = FixOutcome(runbook, confirmation)
    audit.write("confirmed", confirmation=confirmation, transport=transport.name, where=transport.where,
                runbook=runbook.to_dict())

    async def run() -> list[StepResult]:
        async with transport:
            return await execute(runbook, transport, audit)

    try:
        outcome.results = asyncio.run(run())
    except Unreachable as exc:
        outcome.error = str(exc)
        audit.write("unreachable", transport=transport.name, where=transport.where, error=outcome.error)
        return outcome
    outcome.verification = measure_host(host, timeout=timeout, samples=samples)
    audit.write("verified", verified=outcome.verified, limit_s=runbook.limit_s,
                measurements=[m.to_dict() for m in outcome.verification],
                stopped_by=outcome.failed.step.command if outcome.failed else None, exit_status=outcome.exit_status)
    return outcome
