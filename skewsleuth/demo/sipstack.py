"""Write Lync / Skype for Business SIPStack trace records, as the CLS logger does.

Each function returns one record, first line to ``$$end_record``, ending in a
newline; concatenate them to make a trace file. ``logged`` is the time the writing
host's clock showed: an aware datetime is converted to UTC, a naive one is taken as
UTC already. The format keeps milliseconds only. Values must be single lines, since
the format has no escaping; a value that would break the framing raises ValueError.

What these write is what :mod:`skewsleuth.sources.sipstack` reads back.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timezone

__all__ = ["format_protocol_record", "format_diag_record"]

_PROTOCOL_SITE = "SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125)"
_DIAG_SITE = "SIPAdminLog::WriteDiagnosticEvent:SIPAdminLog.cpp(830)"
_LEVELS = {"error": "TL_ERROR", "warning": "TL_WARN"}


def _time(logged: datetime) -> str:
    if logged.tzinfo is not None:
        logged = logged.astimezone(timezone.utc)
    return f"{logged:%m/%d/%Y-%H:%M:%S}.{logged.microsecond // 1000:03d}"


def _check(name: str, value: str) -> str:
    if "\n" in value or "\r" in value or "$$" in value:
        raise ValueError(f"{name} must be one line without '$$': {value[:60]!r}")
    return value


def _first_line(level: str, flag: str, logged: datetime, site: str, key: str) -> str:
    # Sequence number and ids derived from the content, so that output is reproducible.
    seq = zlib.crc32(f"{logged.isoformat()} {key}".encode())
    return f"{level}({flag}) [0]0AF0.0C6C::{_time(logged)}.{seq:08x} (SIPStack,{site})$$begin_record"


def format_protocol_record(logged: datetime, *, direction: str, peer: str, message_type: str, start_line: str,
                           headers: dict[str, str], body: str = "", level: str = "TL_INFO") -> str:
    """A ``TF_PROTOCOL`` record of one SIP message as the host sent or received it.

    ``headers`` are written in order as ``Name: value`` lines (From, To, CSeq,
    Call-ID, ms-diagnostics, ...). An empty ``body`` is written as ``-``.
    """
    key = start_line + headers.get("Call-ID", "") + headers.get("CSeq", "")
    lines = [
        _first_line(level, "TF_PROTOCOL", logged, _PROTOCOL_SITE, key),
        f"Trace-Correlation-Id: {zlib.crc32(key.encode())}",
        f"Instance-Id: {zlib.adler32(key.encode()) & 0xFFFFFFFF:08X}",
        f"Direction: {_check('direction', direction)}",
        f"Peer: {_check('peer', peer)}",
        f"Message-Type: {_check('message_type', message_type)}",
        f"Start-Line: {_check('start_line', start_line)}",
    ]
    for name, value in headers.items():
        lines.append(f"{_check('header name', name)}: {_check(name, value)}")
    if "$$end_record" in body:
        raise ValueError("body must not contain '$$end_record'")
    lines.append("Message-Body: " + (body if body else "-"))
    lines.append("$$end_record")
    return "\n".join(lines) + "\n"


def format_diag_record(logged: datetime, *, text: str, result_code: str, peer: str, sip_start_line: str,
                       call_id: str, cseq: str, severity: str = "warning", data: str | None = None) -> str:
    """A ``TF_DIAG`` diagnostic record (``TL_WARN``/``TL_ERROR`` by ``severity``).

    ``result_code`` as the CLS logger writes it: ``0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED``.
    """
    level = _LEVELS.get(severity.lower(), "TL_INFO")
    lines = [
        _first_line(level, "TF_DIAG", logged, _DIAG_SITE, call_id + cseq + result_code),
        "LogType: diagnostic",
        f"Severity: {_check('severity', severity)}",
        f"Text: {_check('text', text)}",
        f"Result-Code: {_check('result_code', result_code)}",
        f"SIP-Start-Line: {_check('sip_start_line', sip_start_line)}",
        f"SIP-Call-ID: {_check('call_id', call_id)}",
        f"SIP-CSeq: {_check('cseq', cseq)}",
        f"Peer: {_check('peer', peer)}",
    ]
    if data is not None:
        lines.append(f"Data: {_check('data', data)}")
    lines.append("$$end_record")
    return "\n".join(lines) + "\n"
