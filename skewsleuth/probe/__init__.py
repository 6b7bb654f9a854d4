"""Probe: measure hosts' clocks now, over the protocols they speak (NTP, HTTP Date, SMTP banner).

    >>> from skewsleuth.probe import probe, Inventory
    >>> [m.to_dict() for m in probe(["ntp://127.0.0.1:12323", "https://intranet.example"])]
    >>> inv = Inventory.load("hosts.yml")
    >>> beyond = [m for m in probe(inv.targets()) if m.beyond(max_offset_s=1.0)]

``offset_s`` = logged − true (positive: the target's clock is ahead of this machine's);
the true offset lies within ``offset_s ± uncertainty_s``. ``measure`` is the asyncio
form, for callers with a loop of their own (``watch``).
"""

from ..errors import InventoryError, TargetError
from .base import Measurement, Target, parse_target
from .fleet import measure, probe
from .inventory import Inventory, InventoryHost, Role

__all__ = ["Inventory", "InventoryError", "InventoryHost", "Measurement", "Role", "Target", "TargetError",
           "measure", "parse_target", "probe"]
