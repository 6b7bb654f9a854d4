"""Write syslog (RFC 3164, RFC 5424), krb5kdc log and journald JSON export lines.

Each function returns one line without its line end; join lines with ``"\\n"`` to
make a file. Messages must be single lines (a newline would start a continuation or
a new record): they raise ValueError otherwise.

* RFC 3164 and krb5kdc lines carry local wall time without year or zone:
  ``logged_local``'s wall-clock fields are written as they are (its tzinfo, if any,
  is ignored), so pass the time as the host's local clock showed it.
* RFC 5424 and journald carry absolute time: an aware ``logged`` is converted to UTC,
  a naive one is taken as UTC already.

What these write is what :mod:`skewsleuth.sources.syslog` and
:mod:`skewsleuth.sources.journald` read back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

__all__ = ["rfc3164_line", "rfc5424_line", "krb5kdc_line", "krb5kdc_skew_message", "journald_line"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _one_line(msg: str) -> str:
    if "\n" in msg or "\r" in msg:
        raise ValueError(f"message must be one line: {msg[:60]!r}")
    return msg


def _bsd_time(t: datetime) -> str:
    return f"{_MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def rfc3164_line(logged_local: datetime, host: str, app: str, pid: int | None, msg: str,
                 pri: int | None = None) -> str:
    """``<34>Oct 20 18:19:05 host app[123]: msg``; without ``pri`` as /var/log files have it."""
    tag = app if pid is None else f"{app}[{pid}]"
    prefix = "" if pri is None else f"<{pri}>"
    return f"{prefix}{_bsd_time(logged_local)} {host} {tag}: {_one_line(msg)}"


def krb5kdc_line(logged_local: datetime, host: str, pid: int, msg: str, level: str = "info") -> str:
    """A line of the MIT KDC's own log file: ``Oct 20 18:19:05 kdc krb5kdc[1234](info): msg``."""
    return f"{_bsd_time(logged_local)} {host} krb5kdc[{pid}]({level}): {_one_line(msg)}"


def krb5kdc_skew_message(client: str, server: str, addr: str = "127.0.0.1") -> str:
    """The message krb5kdc logs when pre-authentication fails on clock skew."""
    etypes = "4 etypes {aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17), " \
             "aes256-cts-hmac-sha384-192(20), aes128-cts-hmac-sha256-128(19)}"
    return f"AS_REQ ({etypes}) {addr}: PREAUTH_FAILED: {client} for {server}, Clock skew too great"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424_line(logged: datetime, host: str, app: str, pid: int | str | None, msg: str, msgid: str = "-",
                 pri: int = 165, *, structured_data: dict[str, dict[str, str]] | None = None) -> str:
    """``<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [id k="v"] msg``."""
    t = _utc(logged)
    if t.microsecond % 1000:
        frac = f".{t.microsecond:06d}"
    elif t.microsecond:
        frac = f".{t.microsecond // 1000:03d}"
    else:
        frac = ""
    if structured_data:
        sd = "".join(
            f"[{sd_id}" + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
            for sd_id, params in structured_data.items()
        )
    else:
        sd = "-"
    fields = [f"<{pri}>1", f"{t:%Y-%m-%dT%H:%M:%S}{frac}Z", host or "-", app or "-",
              "-" if pid is None else str(pid), msgid or "-", sd]
    line = " ".join(fields)
    return f"{line} {_one_line(msg)}" if msg else line


def journald_line(logged: datetime, host: str, ident: str, pid: int | None, msg: str | bytes, *,
                  priority: int = 6, boot_id: str | None = None, monotonic_us: int | None = None) -> str:
    """One entry of ``journalctl -o json``. A ``bytes`` message that is not UTF-8 is
    written as journalctl does, as an array of byte values."""
    realtime = (_utc(logged) - _EPOCH) // timedelta(microseconds=1)
    entry: dict[str, object] = {"__REALTIME_TIMESTAMP": str(realtime)}
    if monotonic_us is not None:
        entry["__MONOTONIC_TIMESTAMP"] = str(monotonic_us)
    if boot_id is not None:
        entry["_BOOT_ID"] = boot_id
    entry.update({"PRIORITY": str(priority), "_HOSTNAME": host, "SYSLOG_IDENTIFIER": ident})
    if pid is not None:
        entry["_PID"] = str(pid)
    if isinstance(msg, bytes):
        try:
            entry["MESSAGE"] = msg.decode("utf-8")
        except UnicodeDecodeError:
            entry["MESSAGE"] = list(msg)
    else:
        entry["MESSAGE"] = msg
    entry["_TRANSPORT"] = "syslog"
    return json.dumps(entry, ensure_ascii=False)
