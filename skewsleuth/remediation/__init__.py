"""Remediation: the runbook that brings one host's clock back, and the inventory's
per-host ``fix:`` settings it is built with.

``for_evidence`` is the runbook the verdict gives: platform and time daemon as the
host's logs show them, the NTP peer a trusted host of its network (``choose_peer``).

Offline on purpose: the investigation's verdict (rca.py) renders its remediation
with these runbooks, ``skewsleuth fix`` plans and runs them, and the inventory
(skewsleuth.probe) parses ``fix:`` with settings.py. Nothing here imports probe,
watch or fix.

    >>> from skewsleuth.remediation import Basis, build
    >>> build("srv-lyncedge01", "windows", roles={"lync-edge"}, basis=Basis(-18000.0)).action
    'step'
"""

from .evidence import PEER_PLACEHOLDER, Peer, choose_peer, for_evidence
from .runbook import Basis, Runbook, Step, build, for_host, platform_of
from .settings import FixSettings, SshSettings, WinrmSettings, is_name, parse_fix, parse_platform

__all__ = ["Basis", "FixSettings", "PEER_PLACEHOLDER", "Peer", "Runbook", "SshSettings", "Step", "WinrmSettings",
           "build", "choose_peer", "for_evidence", "for_host", "is_name", "parse_fix", "parse_platform",
           "platform_of"]
