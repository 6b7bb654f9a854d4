"""Guarded execution of a runbook, whatever the transport (SSH, WinRM).

The guard: commands run in the runbook's order; a read-only command that fails is
recorded and the run goes on (it only informs), but the first state-changing command
that fails, times out or loses its connection stops the run, and every command after it
is recorded as skipped: changing a host further after an unexpected failure is for a
person to decide. Every command and its outcome goes to the audit log as it happens.
Confirmation is the caller's (the CLI's) business and comes before any of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..remediation import Runbook, Step
from .audit import AuditLog, escaped


@dataclass(frozen=True)
class Output:
    """What one command gave back: exit status (None: it did not finish), raw output."""

    exit_status: int | None
    stdout: bytes
    stderr: bytes
    duration_s: float
    error: str | None = None


class Transport(Protocol):
    name: str
    where: str

    async def __aenter__(self) -> "Transport": ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def run(self, command: str, timeout: float) -> Output: ...


@dataclass(frozen=True)
class StepResult:
    step: Step
    ran: bool
    exit_status: int | None = None
    stdout: str = ""               # escaped excerpts (see audit.escaped)
    stderr: str = ""
    duration_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.ran and self.exit_status == 0 and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.step.command, "changes_state": self.step.changes_state, "ran": self.ran,
                "exit_status": self.exit_status, "duration_s": round(self.duration_s, 3), "stdout": self.stdout,
                "stderr": self.stderr, "error": self.error}


async def execute(runbook: Runbook, transport: Transport, audit: AuditLog) -> list[StepResult]:
    """Run every command of ``runbook`` over the open ``transport``, guarded (see above)."""
    results: list[StepResult] = []
    stopped_by: Step | None = None
    for step in runbook.commands():
        if stopped_by is not None:
            results.append(StepResult(step, ran=False))
            audit.write("skipped", command=step.command, changes_state=step.changes_state,
                        reason=f"not run: '{stopped_by.command}' failed")
            continue
        out = await transport.run(step.command, runbook.settings.timeout_s)
        result = StepResult(step, True, out.exit_status, escaped(out.stdout), escaped(out.stderr), out.duration_s,
                            out.error)
        results.append(result)
        audit.write("command", transport=transport.name, **result.to_dict())
        if step.changes_state and not result.ok:
            stopped_by = step
    return results
