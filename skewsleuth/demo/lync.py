"""What Lync / Skype for Business servers put in the SIP messages of a voicemail call
to hosted Exchange UM, and what they say when an Edge refuses it for a skewed date.

The Front End signs the referrer (``ms-identity-date``); an Edge whose clock is wrong
finds the date out of tolerance and answers ``429`` with
``SIP_E_CRYPT_REFERRER_DATE_SKEWED``; the Front End traces a routing error and answers
the caller ``480`` with ``ms-diagnostics: 15030``. The seed scenario writes these, and
so do the tests' synthetic corpora.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .sipstack import format_diag_record

__all__ = ["EXUM_PEER", "REFUSED", "UNAVAILABLE", "rfc1123", "referrer_skew_headers", "routing_error",
           "exum_dialplan", "exum_routing_failed"]

EXUM_PEER = "exap.um.outlook.com"
REFUSED = "SIP/2.0 429 Provide Referrer Identity"
UNAVAILABLE = "SIP/2.0 480 Temporarily Unavailable"


def rfc1123(t: datetime) -> str:
    """An HTTP date, as ``ms-identity-date`` carries it."""
    return t.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def referrer_skew_headers(referrer: str, signer: str, edge: str, source: str | None = None) -> dict[str, str]:
    """The headers the Edge ``edge`` adds to its 429: ``signer``'s signature over
    ``referrer`` is dated out of its clock's tolerance."""
    diagnostics = (f'1020;reason="Identity of the referrer could not be verified with the ms-identity parameter";'
                   f'ErrorType="Invalid signature";Referrer="{referrer}";'
                   f'HRESULT="0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)";cause="Invalid signature";'
                   f'signer="{signer}"')
    if source is not None:
        diagnostics += f';source="{source}"'
    return {"ms-diagnostics": diagnostics,
            "ms-edge-proxy-message-trust": f"ms-source-type=EdgeProxyGenerated;ms-ep-fqdn={edge};"
                                           f"ms-source-verified-user=verified"}


def routing_error(logged: datetime, *, peer: str, call_id: str, cseq: str) -> str:
    """The Front End's ``TF_DIAG`` record of a call the Edge ``peer`` refused with 429."""
    return format_diag_record(logged, text="Routing error occurred; check Result-Code field for more information",
                              result_code="0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED", peer=peer,
                              sip_start_line=REFUSED, call_id=call_id, cseq=cseq, severity="warning",
                              data=f'destination="{EXUM_PEER}"')


def exum_dialplan(tenant: str) -> str:
    return f"Hosted__{EXUM_PEER}__{tenant}"


def exum_routing_failed(frontend: str, tenant: str) -> str:
    """``ms-diagnostics`` of the Front End's 480: the call did not reach Exchange UM."""
    return (f'15030;reason="Failed to route to Exchange Server";source="{frontend.upper()}";'
            f'dialplan="{exum_dialplan(tenant)}";appName="ExumRouting"')
