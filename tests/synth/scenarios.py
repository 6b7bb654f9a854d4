"""Scenarios beyond the seed, for tests that must not fit the seed alone.

Built like :data:`skewsleuth.demo.scenario.SEED` and written by the same
:func:`~skewsleuth.demo.scenario.write_evidence`.
"""

from __future__ import annotations

from skewsleuth.case import Change, Observation
from skewsleuth.demo.scenario import OBSERVED_TO_THE_MINUTE_S, ClockFault, EdgeSpec, Scenario, local_time

__all__ = ["two_edges_scenario"]

_BERLIN = "Europe/Berlin"


def two_edges_scenario() -> Scenario:
    """Two Edges in Berlin; only sfb-edge02 goes wrong, two hours *ahead*.

    sfb-edge02 reboots at 10:42:30 CEST onto +7200 s, is resynced at 13:05:40 and its
    Access Edge restarted at 13:06:55; calls alternate between the Edges, so half of
    them fail meanwhile. A cumulative update is installed on the healthy sfb-edge01 at
    10:55 (after the onset: the red herring, traced in its Application log), and a
    firewall rule changed at 09:30 (before the onset, on a host without evidence).
    """
    z = _BERLIN
    return Scenario(
        timezone=z,
        start=local_time(z, 2021, 6, 15, 8, 0),
        end=local_time(z, 2021, 6, 15, 16, 0),
        frontend="sfb-fe01.contoso.de",
        edges=[
            EdgeSpec("sfb-edge01.contoso.de"),
            EdgeSpec("sfb-edge02.contoso.de", ClockFault(
                reboot_at=local_time(z, 2021, 6, 15, 10, 42, 30),
                offset_s=7200.0,
                fixed_at=local_time(z, 2021, 6, 15, 13, 5, 40),
                service_restart_at=local_time(z, 2021, 6, 15, 13, 6, 55),
            )),
        ],
        tenant="contoso.onmicrosoft.com",
        changes=[
            Change(local_time(z, 2021, 6, 15, 9, 30), "Perimeter firewall rule for TCP 5061 updated",
                   "fw01.contoso.de"),
            Change(local_time(z, 2021, 6, 15, 10, 55), "Skype for Business Server 2015 cumulative update KB3061064",
                   "sfb-edge01.contoso.de"),
        ],
        observations=[Observation("sfb-edge02.contoso.de", local_time(z, 2021, 6, 15, 12, 50),
                                  local_time(z, 2021, 6, 15, 14, 50), OBSERVED_TO_THE_MINUTE_S)],
        references=["sfb-fe01.contoso.de"],
        call_every_s=90.0,
        seed=7,
    )
