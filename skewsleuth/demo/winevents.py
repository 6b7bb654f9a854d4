"""The Windows events a host writes about its services, its clock and its routine, as
keyword arguments of :func:`~skewsleuth.demo.eventxml.event_xml`.

Each function gives what an event says (provider, id, level, data, user, message);
the caller adds when, where and by which process. The provider's GUID is left to the
caller too, since an export may carry it or not: :data:`PROVIDER_GUIDS` has them.
The seed scenario writes these events, and so do the tests' synthetic corpora.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .eventxml import filetime_text

__all__ = ["SYSTEM_SID", "LOCAL_SERVICE_SID", "NETWORK_SERVICE_SID", "PROVIDER_GUIDS", "Q_INFO", "Q_WARN",
           "service_state", "time_synced", "time_changed", "dns_timeout", "group_policy_processed"]

SYSTEM_SID = "S-1-5-18"
LOCAL_SERVICE_SID = "S-1-5-19"
NETWORK_SERVICE_SID = "S-1-5-20"

PROVIDER_GUIDS = {
    "Microsoft-Windows-Kernel-General": "{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}",
    "Microsoft-Windows-Kernel-Boot": "{15CA44FF-4D7A-4BAA-BBA5-0998955E531E}",
    "Microsoft-Windows-Time-Service": "{06EDCFEB-0FD0-4E53-ACCA-A6F8BBF81BCB}",
    "Microsoft-Windows-DNS-Client": "{1C95126E-7EEA-49A9-A3FE-A378B03DDB4D}",
    "Microsoft-Windows-GroupPolicy": "{AEA1B4FA-97D1-45F2-A64C-4D69FFFD92C9}",
    "Microsoft-Windows-Security-SPP": "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
}
# Classic (message-file) sources carry Qualifiers: severity bits over a facility.
Q_INFO, Q_WARN = 16384, 32768

_TIME_SERVICE = "Microsoft-Windows-Time-Service"


def service_state(key: str, display: str, state: str) -> dict[str, Any]:
    """Service Control Manager 7036: ``display`` (service ``key``) is ``running`` or ``stopped``."""
    # The binary data is "<service key>/<SERVICE_STATUS code>" in UTF-16LE: 4 running, 1 stopped.
    binary = f"{key}/{4 if state == 'running' else 1}\0".encode("utf-16-le")
    return dict(provider="Service Control Manager", event_id=7036, qualifiers=Q_INFO,
                data={"param1": display, "param2": state}, binary=binary, keywords="0x8080000000000000",
                message=f"The {display} service entered the {state} state.")


def time_synced(source: str) -> dict[str, Any]:
    """Time-Service 37: W32Time receives valid time data from ``source``."""
    return dict(provider=_TIME_SERVICE, event_id=37, level=4, data={"TimeSource": source},
                user_sid=LOCAL_SERVICE_SID, keywords="0x8000000000000000",
                message=f"The time provider NtpClient is currently receiving valid time data from {source}.")


def time_changed(new: datetime, old: datetime) -> dict[str, Any]:
    """Kernel-General 1 as W32Time causes it: the clock set from ``old`` to ``new``."""
    return dict(provider="Microsoft-Windows-Kernel-General", event_id=1,
                data={"NewTime": filetime_text(new), "OldTime": filetime_text(old), "Reason": "1"},
                user_sid=LOCAL_SERVICE_SID, task=1, keywords="0x8000000000000010",
                message=f"The system time has changed to {filetime_text(new)} from {filetime_text(old)}.\n\n"
                        f"Change Reason: An application or system component changed the time.")


def dns_timeout(name: str) -> dict[str, Any]:
    """DNS-Client 1014: no DNS server answered for ``name``."""
    return dict(provider="Microsoft-Windows-DNS-Client", event_id=1014, level=3,
                data={"QueryName": name, "AddressLength": "128", "Address": "0.0.0.0"},
                user_sid=NETWORK_SERVICE_SID, task=1014,
                message=f"Name resolution for the name {name} timed out after none of the configured DNS "
                        f"servers responded.")


def group_policy_processed(took_ms: int) -> dict[str, Any]:
    """GroupPolicy 1502: the computer's policy processed, nothing changed."""
    return dict(provider="Microsoft-Windows-GroupPolicy", event_id=1502,
                data={"SupportInfo1": "1", "SupportInfo2": "5115", "ProcessingMode": "0",
                      "ProcessingTimeInMilliseconds": str(took_ms), "NumberOfGroupPolicyObjects": "3"},
                user_sid=SYSTEM_SID,
                message="The Group Policy settings for the computer were processed successfully. There were "
                        "no changes detected since the last successful processing of Group Policy.")
