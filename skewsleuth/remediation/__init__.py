"""Remediation: the runbook that brings one host's clock back, and the inventory's
per-host ``fix:`` settings it is built with.

Offline on purpose: the investigation's verdict (rca.py) renders its remediation
with these runbooks, ``skewsleuth fix`` plans and runs them, and the inventory
(skewsleuth.probe) parses ``fix:`` with settings.py. Nothing here imports probe,
watch or fix.

    >>> from skewsleuth.remediation import Basis, build
    >>> build("srv-lyncedge01", "windows", roles={"lync-edge"}, basis=Basis(-18000.0)).action
    'step'
"""

from .runbook import Basis, Runbook, Step, build, for_host, platform_of
from .settings import FixSettings, SshSettings, WinrmSettings, is_name, parse_fix, parse_platform

__all__ = ["Basis", "FixSettings", "Runbook", "SshSettings", "Step", "WinrmSettings", "build", "for_host",
           "is_name", "parse_fix", "parse_platform", "platform_of"]
