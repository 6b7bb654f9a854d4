"""Fix: a runbook per host and, only when asked and confirmed, its guarded execution.

    >>> from skewsleuth.probe import Inventory
    >>> from skewsleuth.fix import plan, apply, AuditLog
    >>> host = Inventory.load("hosts.yml").host("srv-lyncedge01")
    >>> runbook = plan(host)                       # measures it now; history=... reads a watch history
    >>> print([s.command for s in runbook.commands()])
    >>> outcome = apply(runbook, host, AuditLog("skewsleuth-audit.jsonl", host.name), confirmation="--yes")
    >>> outcome.verified, outcome.exit_status

``build(host, platform, roles=..., basis=...)`` (skewsleuth.remediation) is the runbook
without an inventory (the investigation's remediation uses it). SSH runs through asyncssh
(ssh.py); WinRM through pywinrm when it is installed (winrm.py).
"""

from ..errors import Unreachable
from ..remediation import (Basis, FixSettings, Runbook, SshSettings, Step, WinrmSettings, build, for_host, parse_fix,
                           platform_of)
from .apply import FixOutcome, apply, measure_host, plan, transport_for
from .audit import DEFAULT_AUDIT, AuditLog, read_audit
from .execute import StepResult, execute

__all__ = ["DEFAULT_AUDIT", "AuditLog", "Basis", "FixOutcome", "FixSettings", "Runbook", "SshSettings", "Step",
           "StepResult", "Unreachable", "WinrmSettings", "apply", "build", "execute", "for_host", "measure_host",
           "parse_fix", "plan", "platform_of", "read_audit", "transport_for"]
