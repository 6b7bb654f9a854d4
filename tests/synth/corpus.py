"""Synthetic fleets written as evidence files, for scale runs.

:func:`write_corpus` lays out ``hosts`` folders (one per host, named by the host's
short name, as collection tools lay evidence out) holding ``events`` records in all,
each host writing one of the text formats skewsleuth reads:

* ``sipstack``: Lync / Skype for Business SIPStack traces (``SIPStack.log``);
* ``rfc3164``: BSD syslog as ``/var/log/syslog`` has it (``syslog``); the first such
  host is the KDC, whose file mixes krb5kdc lines in;
* ``rfc5424``: RFC 5424 syslog, request ids in structured data (``messages.log``);
* ``journald``: ``journalctl -o json`` with boot id and monotonic clock (``journal.json``);
* ``applog``: JSON application logs, structlog and python-json-logger style by turns
  (``app.jsonl``);
* ``eventxml``: Windows event XML by turns a ``wevtutil qe System /f:RenderedXml``
  stream (``System.xml``) and an Event Viewer "Save as XML" document of the Security
  log (``Security.xml``).

Hosts take the formats round-robin (``layout="round-robin"``) or at random
(``"mixed"``). A ``case.yml`` at the top names the reference clocks (the Front End
and the KDC), the zone (UTC) and one red-herring change.

What is in the logs, in true time, with logged = true + offset:

* routine noise from each host's daemons and services;
* messages exchanged between hosts, logged by both sides (``messages`` of the records):
  SIP INVITE transactions among the SIPStack hosts (same Call-ID and CSeq on both
  sides), and requests with a ``request_id``, a direction and a phase among the
  syslog, journald and application-log hosts, so that their offsets are bounded by
  message pairs;
* clock faults on a ``faults`` share of the hosts: a constant ``offset`` all along, or
  a ``step``: the clock is off until a time service sets it, and the host logs it
  (chronyd "System clock wrong by" / "was stepped by", Kernel-General 1 by W32Time,
  Security 4616 by svchost.exe); hosts in sync say so (chronyd "Selected source",
  Time-Service 37);
* with ``incident=True`` two incidents: a Kerberos client whose clock is 600 s ahead
  fails against the KDC ("Clock skew too great") until chronyd steps it, a quarter
  into the window; and an Edge whose clock goes five hours behind halfway through (no
  record says so: its trace just jumps back) refuses the Front End's voicemail
  INVITEs with ``429`` ``SIP_E_CRYPT_REFERRER_DATE_SKEWED`` from then on.

The lines come from the writers (:mod:`.syslog`, :mod:`.applog` here, and the demo's
:mod:`skewsleuth.demo.sipstack` and :mod:`skewsleuth.demo.eventxml`): each distinct
routine line is rendered once by its writer with placeholder values, and the
placeholders are then filled in per record (time, record number), so that millions of
lines cost a ``str.format`` each.
Messages between hosts and clock facts are rendered by the writers directly.

The truth (:class:`CorpusTruth`) gives every host's offsets over true time. Output is
a pure function of the arguments.

    PYTHONPATH=tests python -m synth.corpus OUT --hosts 1000 --events 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from skewsleuth.demo.eventxml import event_xml, filetime_text
from skewsleuth.demo.lync import (EXUM_PEER, REFUSED, UNAVAILABLE, exum_routing_failed, referrer_skew_headers,
                                  rfc1123, routing_error)
from skewsleuth.demo.sipstack import format_protocol_record
from skewsleuth.demo.winevents import (PROVIDER_GUIDS, SYSTEM_SID, dns_timeout, group_policy_processed,
                                       service_state, time_changed, time_synced)

from .applog import python_json_logger_line, structlog_line
from .syslog import journald_line, krb5kdc_line, krb5kdc_skew_message, rfc3164_line, rfc5424_line

__all__ = ["FORMATS", "HostTruth", "CorpusTruth", "write_corpus", "main"]

UTC = timezone.utc
FORMATS = ("sipstack", "rfc3164", "rfc5424", "journald", "applog", "eventxml")
# What ingest must sniff each format as.
SNIFFED = {"sipstack": "sipstack", "rfc3164": "syslog", "rfc5424": "syslog", "journald": "journald",
           "applog": "applog", "eventxml": "eventxml"}
STEP_FORMATS = ("rfc3164", "rfc5424", "journald", "eventxml")   # formats whose hosts log their clock steps
REQUEST_FORMATS = ("rfc3164", "rfc5424", "journald", "applog")  # exchange requests with request ids
DOMAIN = "fleet.test"
REALM = "FLEET.TEST"
DEFAULT_START = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)

KRB_CLIENT_OFFSET_S = 600.0
EDGE_OFFSET_S = -18000.0
CALL_EVERY_S = 60.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
# Placeholders rendered by the writers, then replaced by str.format fields.
_T_SENT = datetime(1999, 12, 31, 23, 59, 58, 123456, tzinfo=UTC)
_T_SENT_US = (_T_SENT - _EPOCH) // timedelta(microseconds=1)
_N_SENT = 987654321          # {n}: record number / session number / record id
_X_SENT = 123456789012       # {x}: a per-record value of the style (monotonic time, sequence)
_R_SENT = "QZRIDQZ"          # {r}: request id
_P_SENT = "qzpeerqz.invalid"  # {p}: peer host

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BSD_DAY = {f"{m:02d}-{d:02d}": f"{_MONTHS[m - 1]} {d:2d}" for m in range(1, 13) for d in range(1, 32)}
_SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
_USERS = ("amy.jones", "bob.smith", "carol.nguyen", "dave.patel", "erin.lopez", "frank.meyer", "grace.kim")


# ----------------------------------------------------------------------------------
# The truth


@dataclass
class HostTruth:
    host: str                   # FQDN, as the logs name it
    folder: str                 # the folder its files are in (short name)
    format: str                 # one of FORMATS
    style: str                  # the writer's variant (structlog, wevtutil-system, ...)
    role: str                   # frontend | kdc | krb-client | edge | host
    fault: str                  # none | offset | step | unlogged-step
    # (from true time, offset in seconds): the first holds from the start of the window.
    offsets: list[tuple[datetime, float]]
    events: int = 0
    lines: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)

    def offset_at(self, true: datetime) -> float:
        o = self.offsets[0][1]
        for at, off in self.offsets:
            if true >= at:
                o = off
        return o

    def to_dict(self) -> dict:
        return {"host": self.host, "folder": self.folder, "format": self.format, "style": self.style,
                "role": self.role, "fault": self.fault,
                "offsets": [{"from": _iso(at), "offset_s": off} for at, off in self.offsets],
                "events": self.events, "lines": self.lines, "bytes": self.bytes, "files": self.files}


@dataclass
class CorpusTruth:
    root: Path
    start: datetime
    end: datetime
    hosts: list[HostTruth]
    references: list[str]
    # {"signature", "host" (the clock to blame), "offset_s", "onset" (true time of the
    # first failure), "end" (true time the clock was set right, or None)}
    incidents: list[dict]
    events: int = 0
    lines: int = 0
    bytes: int = 0
    evtx_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def host(self, name: str) -> HostTruth:
        key = name.lower().rstrip(".")
        for h in self.hosts:
            if key in (h.host, h.folder):
                return h
        raise KeyError(name)

    def faulted(self) -> list[HostTruth]:
        return [h for h in self.hosts if h.fault != "none"]

    def to_dict(self) -> dict:
        return {"root": str(self.root), "start": _iso(self.start), "end": _iso(self.end),
                "events": self.events, "lines": self.lines, "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "references": self.references,
                "incidents": [{**i, "onset": _iso(i["onset"]), "end": _iso(i["end"])} for i in self.incidents],
                "evtx_files": self.evtx_files, "hosts": [h.to_dict() for h in self.hosts]}


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


# ----------------------------------------------------------------------------------
# Templates: a writer's line with placeholders turned into str.format fields


def _template(line: str, t_text: str, extra: dict[str, str] | None = None) -> str:
    if t_text not in line:
        raise AssertionError(f"time {t_text!r} not found in {line[:120]!r}")
    out = line.replace("{", "{{").replace("}", "}}").replace(t_text, "{t}")
    for sentinel, name in (extra or {}).items():
        out = out.replace(sentinel, "{" + name + "}")
    return out


def _fields(n: bool = True, x: bool = False, r: bool = False, p: bool = False) -> dict[str, str]:
    d = {}
    if n:
        d[str(_N_SENT)] = "n"
    if x:
        d[str(_X_SENT)] = "x"
    if r:
        d[_R_SENT] = "r"
    if p:
        d[_P_SENT] = "p"
    return d


# ----------------------------------------------------------------------------------
# Styles: how one host's log file looks


@dataclass
class _Host:
    index: int
    fqdn: str
    folder: str
    format: str
    style: str
    role: str
    ip: str
    boot_us: int
    seed: int
    fault: str = "none"
    # piecewise-constant offset: starts (true µs, sorted) and offsets (µs)
    at_us: list[int] = field(default_factory=list)
    off_us: list[int] = field(default_factory=list)
    budget: int = 0
    # clock facts and incident records: (true µs, render(logged_us, true_us, n) -> text)
    specials: list[tuple[int, Callable[[int, int, int], str]]] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.folder

    def offsets_at(self, true_us: np.ndarray) -> np.ndarray:
        k = np.searchsorted(np.asarray(self.at_us, dtype=np.int64), true_us, side="right") - 1
        return np.asarray(self.off_us, dtype=np.int64)[np.maximum(k, 0)]

    def offset_at(self, true_us: int) -> int:
        o = self.off_us[0]
        for a, v in zip(self.at_us, self.off_us):
            if true_us >= a:
                o = v
        return o


class _Style:
    """One host's log file: its name, framing, time text, routine lines and messages."""

    file = "log"
    head = ""
    tail = "\n"
    # whether ``x`` (times_x) is needed by the templates
    uses_x = False

    def __init__(self, h: _Host, rng: random.Random) -> None:
        self.h = h
        self.rng = rng
        self.noise: list[str] = []
        self.weights: list[float] = []
        self.msg: list[str] = []        # 4 templates: out request, in request, out response, in response

    # the time text of each record, from its logged µs
    def times(self, logged_us: np.ndarray) -> list[str]:
        raise NotImplementedError

    def t_sent(self) -> str:
        return self.times(np.array([_T_SENT_US], dtype=np.int64))[0]

    def times_x(self, logged_us: np.ndarray, true_us: np.ndarray, first_n: int) -> list[str]:
        return [""] * len(logged_us)

    def message(self, v: int, ex: int, peer: str, t: str, n: int, x: str, logged_us: int) -> str:
        # both sides log the same request id: it is the exchange's
        return self.msg[v].format(t=t, n=n, x=x, r=f"{ex:08x}-7f3a-4c1e-9d2b-{ex * 40503 & 0xFFFFFFFFFFFF:012x}", p=peer)

    def record_base(self) -> int:
        return 1


_DIRS = (("out", "request"), ("in", "request"), ("out", "response"), ("in", "response"))


def _iso_us(logged_us: np.ndarray) -> list[str]:
    return np.datetime_as_string(logged_us.astype("datetime64[us]"), unit="us").tolist()


_SYSLOG_APPS = [
    # (app, pid or None, message, weight); 987654321 becomes the record number
    ("sshd", 1021, f"Accepted publickey for deploy from 10.20.3.7 port {_N_SENT} ssh2: ED25519 "
                   "SHA256:Xq3bX0mQ9m8p3WlQhW1Vw2p8k4c9gCq7m5oJk1n2b3c", 2.0),
    ("sshd", 1021, f"pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid={_N_SENT})", 1.0),
    ("CRON", 2210, "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", 2.0),
    ("systemd", 1, f"Started session-{_N_SENT}.scope - Session {_N_SENT} of User deploy.", 2.0),
    ("systemd-logind", 612, f"New session {_N_SENT} of user deploy.", 1.0),
    ("systemd", 1, "Starting apt-daily.service - Daily apt download activities...", 0.5),
    ("kernel", None, f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=10.9.8.7 DST=10.0.0.5 LEN=60 "
                     f"TTL=64 ID={_N_SENT} PROTO=TCP SPT=44123 DPT=23 WINDOW=64240 SYN", 1.5),
    ("postfix/smtpd", 3307, "connect from unknown[10.1.2.3]", 1.0),
    ("nginx", 880, '10.1.2.3 - - "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"', 3.0),
    ("sudo", 4410, "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl status nginx", 0.5),
    ("rsyslogd", 590, 'action "action-8-builtin:omfwd" resumed (module \'builtin:omfwd\') [v8.2302.0]', 0.2),
]
_REQ_WORDS = "request_id={r} direction={d} phase={ph} peer={p} method=GET path=/api/v1/orders status=200"


class _Syslog(_Style):
    """A syslog file: the daemons' lines, and a service logging the requests it sends
    and receives."""

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        t = self.t_sent()
        for app, pid, msg, w in _SYSLOG_APPS:
            self.noise.append(_template(self.line(_T_SENT, app, pid, msg), t, _fields()))
            self.weights.append(w)
        for d, ph in _DIRS:
            self.msg.append(_template(self.request(d, ph), t, _fields(r=True, p=True)))

    def line(self, logged: datetime, app: str, pid: int | None, msg: str) -> str:
        raise NotImplementedError

    def request(self, direction: str, phase: str) -> str:
        raise NotImplementedError


class _Rfc5424(_Syslog):
    file = "messages.log"

    def times(self, logged_us):
        return [s + "Z" for s in _iso_us(logged_us)]

    def line(self, logged: datetime, app: str, pid: int | None, msg: str) -> str:
        return rfc5424_line(logged, self.h.fqdn, app, pid, msg, pri=30)

    def request(self, direction: str, phase: str) -> str:
        # the request's identity in structured data
        sd = {"req@32473": {"request_id": _R_SENT, "direction": direction, "phase": phase, "peer": _P_SENT}}
        msg = "GET /api/v1/orders" if phase == "request" else "200 OK GET /api/v1/orders"
        return rfc5424_line(_T_SENT, self.h.fqdn, "orders-api", 2718, msg, "http", pri=134, structured_data=sd)


class _Rfc3164(_Syslog):
    file = "syslog"

    def times(self, logged_us):
        bsd = _BSD_DAY
        return [f"{bsd[s[5:10]]} {s[11:19]}" for s in _iso_us(logged_us)]

    def line(self, logged: datetime, app: str, pid: int | None, msg: str) -> str:
        return rfc3164_line(logged, self.h.fqdn, app, pid, msg)

    def request(self, direction: str, phase: str) -> str:
        # the request's identity in name=value words of the message
        msg = _REQ_WORDS.format(r=_R_SENT, d=direction, ph=phase, p=_P_SENT)
        return rfc3164_line(_T_SENT, self.h.fqdn, "orders-api", 2718, msg)


class _Kdc(_Rfc3164):
    """The KDC's /var/log/syslog: krb5kdc lines among the daemons' (clients in {p})."""

    uses_x = True

    def __init__(self, h: _Host, rng: random.Random, clients: list[str]) -> None:
        super().__init__(h, rng)
        t = self.t_sent()
        self.clients = clients or [h.fqdn]
        etypes = "4 etypes {aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17), " \
                 "aes256-cts-hmac-sha384-192(20), aes128-cts-hmac-sha256-128(19)}"
        issue = (f"AS_REQ ({etypes}) {_P_SENT}: ISSUE: authtime {_X_SENT}, etypes {{rep=18, tkt=18, ses=18}}, "
                 f"host/{_P_SENT}@{REALM} for krbtgt/{REALM}@{REALM}")
        tgs = (f"TGS_REQ (4 etypes {{18 17 20 19}}) {_P_SENT}: ISSUE: authtime {_X_SENT}, etypes {{rep=18, "
               f"tkt=18, ses=18}}, host/{_P_SENT}@{REALM} for HTTP/www.{DOMAIN}@{REALM}")
        n = len(self.noise)
        for msg in (issue, tgs):
            self.noise.append(_template(krb5kdc_line(_T_SENT, h.fqdn, 1207, msg), t, _fields(x=True, p=True)))
            self.weights.append(4.0 * n)
        self.kdc_templates = set(range(n, len(self.noise)))

    def times_x(self, logged_us, true_us, first_n):
        # authtime: the KDC's clock in epoch seconds
        return [str(v) for v in (logged_us // _US).tolist()]


class _Journald(_Style):
    file = "journal.json"
    uses_x = True

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        self.boot_id = f"{zlib.crc32(h.fqdn.encode()):08x}" * 4
        t = self.t_sent()
        for app, pid, msg, w in _SYSLOG_APPS:
            self.noise.append(_template(self._line(_T_SENT, app, pid, msg, _X_SENT), t, _fields(x=True)))
            self.weights.append(w)
        for d, ph in _DIRS:
            msg = _REQ_WORDS.format(r=_R_SENT, d=d, ph=ph, p=_P_SENT)
            self.msg.append(_template(self._line(_T_SENT, "orders-api", 2718, msg, _X_SENT), t,
                                      _fields(x=True, r=True, p=True)))

    def _line(self, logged: datetime, app: str, pid: int | None, msg: str, mono: int) -> str:
        return journald_line(logged, self.h.fqdn, app, pid, msg, priority=6, boot_id=self.boot_id,
                             monotonic_us=mono)

    def times(self, logged_us):
        return [str(v) for v in logged_us.tolist()]

    def times_x(self, logged_us, true_us, first_n):
        # the monotonic clock counts true time since boot
        return [str(v) for v in (true_us - self.h.boot_us).tolist()]

    def line_at(self, logged_us: int, true_us: int, app: str, pid: int | None, msg: str) -> str:
        return self._line(_dt(logged_us), app, pid, msg, true_us - self.h.boot_us)


_APP_EVENTS = [
    ("cache refreshed", {"entries": 4096, "took_ms": 12}, 2.0),
    ("job finished", {"job": "reindex", "job_run": _N_SENT, "status": "ok"}, 1.0),
    ("GET /healthz", {"status": 200, "took_ms": 1}, 3.0),
    ("db pool stats", {"in_use": 3, "idle": 7, "waiting": 0}, 1.0),
    ("user logged in", {"user_id": _N_SENT, "method": "sso"}, 1.0),
    ("slow query", {"took_ms": 812, "table": "orders"}, 0.3),
]


_APP_SAYS = {("out", "request"): "request sent", ("in", "request"): "request received",
             ("out", "response"): "response sent", ("in", "response"): "response received"}


class _AppLog(_Style):
    """JSON application log lines: routine events, and the requests the service sends
    and receives with their id, direction, phase and peer."""

    file = "app.jsonl"

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        t = self.t_sent()
        for event, fields, w in _APP_EVENTS:
            self.noise.append(_template(self.line(event, "orders.worker", fields), t, _fields()))
            self.weights.append(w)
        for d, ph in _DIRS:
            fields = {"request_id": _R_SENT, "direction": d, "peer": _P_SENT, "phase": ph, "method": "GET",
                      "path": "/api/v1/orders"}
            self.msg.append(_template(self.line(_APP_SAYS[d, ph], "orders.http", fields), t, _fields(r=True, p=True)))

    def line(self, event: str, logger: str, fields: dict) -> str:
        raise NotImplementedError


class _Structlog(_AppLog):
    def line(self, event: str, logger: str, fields: dict) -> str:
        return structlog_line(_T_SENT, event, logger=logger, host=self.h.fqdn, **fields)

    def times(self, logged_us):
        return [s + "Z" for s in _iso_us(logged_us)]


class _JsonLogger(_AppLog):
    def line(self, event: str, logger: str, fields: dict) -> str:
        return python_json_logger_line(_T_SENT, event, name=logger, host=self.h.fqdn, **fields)

    def times(self, logged_us):
        # asctime: local wall time (the corpus' zone is UTC), milliseconds, no offset
        return [f"{s[:10]} {s[11:19]},{s[20:23]}" for s in _iso_us(logged_us)]


class _EventXml(_Style):
    """Windows event XML; record ids count up from a per-host base ({n})."""

    channel = "System"

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        self.base = rng.randint(20_000, 900_000)
        self.pid = rng.randrange(300, 4000, 4)

    def record_base(self) -> int:
        return self.base

    def times(self, logged_us):
        return [s + "0Z" for s in _iso_us(logged_us)]

    def event(self, logged: datetime, n: int, **kw) -> str:
        return event_xml(logged=logged, computer=self.h.fqdn, channel=self.channel, record_id=n, **kw)

    def add(self, w: float, **kw) -> None:
        self.noise.append(_template(self.event(_T_SENT, _N_SENT, **kw), self.t_sent(), _fields()))
        self.weights.append(w)


class _WevtutilSystem(_EventXml):
    file = "System.xml"

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        for key, display in (("BITS", "Background Intelligent Transfer Service"), ("wuauserv", "Windows Update"),
                             ("TrustedInstaller", "Windows Modules Installer"), ("sppsvc", "Software Protection")):
            for state in ("running", "stopped"):
                self.add(1.0, **service_state(key, display, state), process_id=self.pid)
        self.add(1.5, **dns_timeout(f"wpad.{DOMAIN}"), process_id=self.pid + 400)
        self.add(1.0, **group_policy_processed(934), process_id=self.pid + 800)

    def synced(self, logged: datetime, n: int) -> str:
        source = f"dc01.{DOMAIN},0x9 (ntp.d|{self.h.ip}:123->10.0.0.10:123)"
        kw = time_synced(source)
        return self.event(logged, n, **kw, provider_guid=PROVIDER_GUIDS[kw["provider"]], process_id=self.pid + 1200)

    def stepped(self, logged: datetime, n: int, old: datetime, new: datetime) -> str:
        kw = time_changed(new, old)
        return self.event(logged, n, **kw, provider_guid=PROVIDER_GUIDS[kw["provider"]], process_id=self.pid + 1200)


class _SecurityDocument(_EventXml):
    """Event Viewer "Save as XML" of the Security log: an ``<Events>`` root."""

    file = "Security.xml"
    channel = "Security"
    head = '<?xml version="1.0" encoding="utf-8"?>\n<Events>'
    tail = "</Events>\n"

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        short = h.folder.upper()
        subject = {"SubjectUserSid": SYSTEM_SID, "SubjectUserName": f"{short}$", "SubjectDomainName": "FLEET",
                   "SubjectLogonId": "0x3e7"}
        for user in _USERS[:4]:
            self.add(2.0, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID, event_id=4624,
                     task=12544, keywords="0x8020000000000000", process_id=self.pid,
                     data={**subject, "TargetUserSid": "S-1-5-21-1004336348-1177238915-682003330-1107",
                           "TargetUserName": user, "TargetDomainName": "FLEET", "TargetLogonId": "0x5f3a1",
                           "LogonType": "3", "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                           "WorkstationName": "-", "IpAddress": "10.0.4.21", "IpPort": "0"},
                     message=f"An account was successfully logged on.\n\nNew Logon:\n\tAccount Name:\t\t{user}")
            self.add(1.5, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID, event_id=4634,
                     task=12545, keywords="0x8020000000000000", process_id=self.pid,
                     data={"TargetUserSid": "S-1-5-21-1004336348-1177238915-682003330-1107", "TargetUserName": user,
                           "TargetDomainName": "FLEET", "TargetLogonId": "0x5f3a1", "LogonType": "3"},
                     message="An account was logged off.")
        self.add(1.0, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID, event_id=4672,
                 task=12548, keywords="0x8020000000000000", process_id=self.pid,
                 data={"SubjectUserSid": SYSTEM_SID, "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
                       "SubjectLogonId": "0x3e7", "PrivilegeList": "SeAssignPrimaryTokenPrivilege"},
                 message="Special privileges assigned to new logon.")
        self.subject = subject

    def stepped(self, logged: datetime, n: int, old: datetime, new: datetime) -> str:
        return self.event(logged, n, provider="Microsoft-Windows-Security-Auditing", provider_guid=_SEC_GUID,
                          event_id=4616, task=12288, keywords="0x8020000000000000", process_id=self.pid,
                          data={**self.subject, "PreviousTime": filetime_text(old), "NewTime": filetime_text(new),
                                "ProcessId": "0x4c4", "ProcessName": "C:\\Windows\\System32\\svchost.exe"},
                          message="The system time was changed.")


class _SipStack(_Style):
    """SIPStack trace: REGISTER / SUBSCRIBE traffic with clients; INVITEs between servers."""

    file = "SIPStack.log"
    uses_x = True
    tail = "\n"

    def __init__(self, h: _Host, rng: random.Random) -> None:
        super().__init__(h, rng)
        t = self.t_sent()
        for k, user in enumerate(_USERS):
            client = f"10.{20 + k}.{rng.randint(0, 255)}.{rng.randint(10, 250)}:{rng.randint(49152, 65000)}"
            for method, ct in (("REGISTER", "1 REGISTER"), ("SUBSCRIBE", "1 SUBSCRIBE")):
                headers = {"From": f"<sip:{user}@{DOMAIN}>;tag={k:08x}", "To": f"<sip:{user}@{DOMAIN}>",
                           "CSeq": ct, "Call-ID": f"{_N_SENT}{k:02d}{h.index:06x}",
                           "Via": f"SIP/2.0/TLS {client};branch=z9hG4bK{k:08X}", "Content-Length": "0"}
                start = f"{method} sip:{DOMAIN} SIP/2.0"
                req = format_protocol_record(_T_SENT, direction="incoming", peer=client, message_type="request",
                                             start_line=start, headers=headers)
                resp = format_protocol_record(_T_SENT, direction="outgoing", peer=client, message_type="response",
                                              start_line="SIP/2.0 200 OK", headers=dict(headers, To=headers["To"] +
                                                                                         f";tag={h.index:08x}"))
                for rec in (req, resp):
                    self.noise.append(self._tpl(rec, t))
                    self.weights.append(1.0)

    @staticmethod
    def _tpl(record: str, t: str) -> str:
        # the first line's time and its sequence number, then the rest
        record = record[:-1] if record.endswith("\n") else record
        first, rest = record.split("\n", 1)
        first = re.sub(re.escape(t) + r"\.[0-9a-f]{8}", "QZTQZ.QZSQZ", first)
        rest = rest.replace("{", "{{").replace("}", "}}").replace(str(_N_SENT), "{n}")
        first = first.replace("{", "{{").replace("}", "}}").replace("QZTQZ", "{t}").replace("QZSQZ", "{x}")
        return first + "\n" + rest

    def times(self, logged_us):
        return [f"{s[5:7]}/{s[8:10]}/{s[:4]}-{s[11:23]}" for s in _iso_us(logged_us)]

    def times_x(self, logged_us, true_us, first_n):
        seq = (np.arange(first_n, first_n + len(logged_us), dtype=np.uint64) * np.uint64(2654435761)
               + np.uint64(self.h.seed)) & np.uint64(0xFFFFFFFF)
        return [f"{v:08x}" for v in seq.tolist()]

    def message(self, v: int, ex: int, peer: str, t: str, n: int, x: str, logged_us: int) -> str:
        # an INVITE between two servers: the caller sends it (v 0) and receives the answer (v 3)
        call_id = f"{ex * 2654435761 & 0xFFFFFFFF:08x}{ex:024x}"   # the same on both sides
        caller, callee = _USERS[ex % len(_USERS)], _USERS[(ex + 3) % len(_USERS)]
        start = f"INVITE sip:{callee}@{DOMAIN};transport=tls SIP/2.0" if v < 2 else "SIP/2.0 200 OK"
        headers = {"From": f"<sip:{caller}@{DOMAIN}>;tag={ex & 0xffffffff:08x}", "To": f"<sip:{callee}@{DOMAIN}>",
                   "CSeq": "1 INVITE", "Call-ID": call_id, "Content-Length": "0"}
        rec = format_protocol_record(_dt(logged_us), direction="outgoing" if v in (0, 2) else "incoming",
                                     peer=f"{peer}:5061", message_type="request" if v < 2 else "response",
                                     start_line=start, headers=headers)
        return rec[:-1]


# ----------------------------------------------------------------------------------
# The fleet


def _style_of(fmt: str, k: int) -> str:
    """Styles alternate among the hosts of a format (k: the host's rank in its format)."""
    if fmt == "applog":
        return ("structlog", "json-logger")[k % 2]
    if fmt == "eventxml":
        return ("wevtutil-system", "eventviewer-security")[k % 2]
    return fmt


def _prefix(fmt: str) -> str:
    return {"sipstack": "lync", "rfc3164": "bsd", "rfc5424": "lnx", "journald": "jrn", "applog": "app",
            "eventxml": "win"}[fmt]


def _plan(hosts: int, events: int, formats: Sequence[str], layout: str, faults: float, max_offset_s: float,
          incident: bool, start_us: int, end_us: int, rng: random.Random) -> list[_Host]:
    if layout == "round-robin":
        fmts = [formats[i % len(formats)] for i in range(hosts)]
    elif layout == "mixed":
        fmts = [rng.choice(formats) for _ in range(hosts)]
    else:
        raise ValueError(f"layout must be round-robin or mixed, not {layout!r}")
    rank: dict[str, int] = {}
    plan = []
    for i, fmt in enumerate(fmts):
        k = rank.get(fmt, 0)
        rank[fmt] = k + 1
        fqdn = f"{_prefix(fmt)}{i:04d}.{DOMAIN}"
        plan.append(_Host(i, fqdn, fqdn.split(".", 1)[0], fmt, _style_of(fmt, k), "host",
                          f"10.{i // 65000 % 200 + 1}.{i // 250 % 256}.{i % 250 + 2}",
                          start_us - rng.randint(3600, 30 * 86400) * _US, rng.getrandbits(32),
                          at_us=[start_us], off_us=[0]))
    span = end_us - start_us
    first = {f: next((h for h in plan if h.format == f), None) for f in FORMATS}
    sips = [h for h in plan if h.format == "sipstack"]
    if first["sipstack"] is not None:
        _rename(first["sipstack"], "lyncfe", "frontend")
    if first["rfc3164"] is not None:
        _rename(first["rfc3164"], "kdc", "kdc")
    if incident:
        if len(sips) >= 2:
            edge = sips[1]
            _rename(edge, "lyncedge", "edge")
            edge.fault = "unlogged-step"
            edge.at_us, edge.off_us = [start_us, start_us + span // 2], [0, int(EDGE_OFFSET_S * _US)]
        if first["rfc3164"] is not None:
            client = next((h for h in plan if h.role == "host" and h.format in STEP_FORMATS and h.format != "eventxml"),
                          None)
            if client is not None:
                client.role = "krb-client"
                client.fault = "step"
                client.at_us, client.off_us = [start_us, start_us + span // 4], [int(KRB_CLIENT_OFFSET_S * _US), 0]
    # clock faults on a share of the other hosts
    free = [h for h in plan if h.role == "host"]
    for h in rng.sample(free, round(faults * len(free))):
        mag = rng.uniform(5.0, max_offset_s) * rng.choice((-1, 1))
        o = int(round(mag * _US))
        if h.format in STEP_FORMATS and rng.random() < 0.5:
            h.fault = "step"
            at = start_us + int(rng.uniform(0.15, 0.85) * span)
            h.at_us, h.off_us = [start_us, at], [o, 0]
        else:
            h.fault = "offset"
            h.off_us = [o]
    for i, h in enumerate(plan):
        h.budget = events // hosts + (1 if i < events % hosts else 0)
    return plan


def _rename(h: _Host, prefix: str, role: str) -> None:
    h.fqdn = f"{prefix}{h.index:04d}.{DOMAIN}"
    h.folder = h.fqdn.split(".", 1)[0]
    h.role = role


def _exchanges(group: list[_Host], share: float, start_us: int, end_us: int, rng: np.random.Generator):
    """Transactions among ``group``: per host, the records it logs (true µs, variant,
    exchange number, peer host index), variants 0 request out / 1 request in /
    2 response out / 3 response in."""
    out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    if len(group) < 2 or share <= 0:
        return out
    n = int(round(share * sum(h.budget for h in group) / 4))
    if n == 0:
        return out
    ids = np.array([h.index for h in group])
    c = rng.integers(0, len(group), n)
    s = (c + rng.integers(1, len(group), n)) % len(group)
    client, server = ids[c], ids[s]
    t0 = rng.integers(start_us + 60 * _US, end_us - 60 * _US, n)
    d1 = rng.integers(1_000, 50_000, n)
    think = rng.integers(1_000, 400_000, n)
    d2 = rng.integers(1_000, 50_000, n)
    host = np.concatenate([client, server, server, client])
    peer = np.concatenate([server, client, client, server])
    t = np.concatenate([t0, t0 + d1, t0 + d1 + think, t0 + d1 + think + d2])
    v = np.repeat(np.arange(4, dtype=np.int8), n)
    ex = np.tile(np.arange(n, dtype=np.int64), 4)
    order = np.argsort(host, kind="stable")
    host, peer, t, v, ex = host[order], peer[order], t[order], v[order], ex[order]
    bounds = np.searchsorted(host, ids, side="left"), np.searchsorted(host, ids, side="right")
    for hid, lo, hi in zip(ids.tolist(), bounds[0].tolist(), bounds[1].tolist()):
        out[hid] = (t[lo:hi], v[lo:hi], ex[lo:hi], peer[lo:hi])
    return out


# ----------------------------------------------------------------------------------
# Clock facts and incident records


def _chronyd(style: _Style, logged_us: int, true_us: int, msg: str) -> str:
    if isinstance(style, _Journald):
        return style.line_at(logged_us, true_us, "chronyd", 611, msg)
    return style.line(_dt(logged_us), "chronyd", 611, msg)  # type: ignore[attr-defined]


def _clock_facts(h: _Host, style: _Style, start_us: int, end_us: int) -> None:
    """What the host's time service logs: in sync at the start, or a step to true time."""
    add = h.specials.append
    span = end_us - start_us
    if h.format in ("rfc3164", "rfc5424", "journald"):
        def selected(lg, tr, n):
            return _chronyd(style, lg, tr, "Selected source 10.0.0.10 (ntp1.fleet.test)")
        if h.fault == "none":
            add((start_us + span // 50 + h.index * 997 % 60_000_000, selected))
        elif h.fault == "step":
            at, o = h.at_us[1], h.off_us[0]
            add((at - 1_500, lambda lg, tr, n: _chronyd(style, lg, tr, f"System clock wrong by {-o / _US:.6f} "
                                                                     "seconds, adjustment started")))
            add((at + 500, lambda lg, tr, n: _chronyd(style, lg, tr, f"System clock was stepped by {-o / _US:.6f} "
                                                                    "seconds")))
            add((at + 2_000_000, selected))
    elif isinstance(style, _EventXml):
        if h.fault == "none" and isinstance(style, _WevtutilSystem):
            for k in (1, 2):
                add((start_us + k * span // 3, lambda lg, tr, n: style.synced(_dt(lg), n)))
        elif h.fault == "step":
            at, o = h.at_us[1], h.off_us[0]
            new, old = _dt(at), _dt(at + o)
            add((at + 500, lambda lg, tr, n: style.stepped(_dt(lg), n, old, new)))  # type: ignore[attr-defined]
            if isinstance(style, _WevtutilSystem):
                add((at + 4_300_000, lambda lg, tr, n: style.synced(_dt(lg), n)))


def _kerberos(kdc: _Host, style: _Style, client: _Host, start_us: int, end_us: int) -> None:
    """The client authenticates every five minutes: refused while its clock is off by
    more than five minutes, issued otherwise."""
    t = start_us + 97 * _US
    while t < end_us - 60 * _US:
        off = client.offset_at(t)
        if abs(off) > 300 * _US:
            msg = krb5kdc_skew_message(f"host/{client.fqdn}@{REALM}", f"krbtgt/{REALM}@{REALM}", client.fqdn)
        else:
            msg = (f"AS_REQ (4 etypes {{aes256-cts-hmac-sha1-96(18), aes128-cts-hmac-sha1-96(17)}}) {client.fqdn}: "
                   f"ISSUE: authtime {t // _US}, etypes {{rep=18, tkt=18, ses=18}}, host/{client.fqdn}@{REALM} "
                   f"for krbtgt/{REALM}@{REALM}")
        kdc.specials.append((t, lambda lg, tr, n, msg=msg: krb5kdc_line(_dt(lg), kdc.fqdn, 1207, msg)))
        t += 300 * _US


def _voicemail(fe: _Host, edge: _Host, start_us: int, end_us: int, rng: random.Random, tenant: str) -> int | None:
    """The Front End routes voicemail calls through the Edge every minute (less often
    when the hosts log little: the calls take at most half their records); while the
    Edge's clock is off by more than the tolerance it refuses them with 429. Returns
    the true time of the first call refused."""
    first_refused = None
    calls = max(8, min(fe.budget, edge.budget) // 8)
    every = max(int(CALL_EVERY_S * _US), (end_us - start_us) // calls)
    t = start_us + 30 * _US
    call = 0
    fe_peer, edge_peer = f"{fe.fqdn}:5061", f"{edge.fqdn}:5061"
    while t < end_us - 30 * _US:
        call += 1
        caller, callee = _USERS[call % len(_USERS)], _USERS[(call + 2) % len(_USERS)]
        call_id = f"{rng.getrandbits(128):032x}"
        referrer = f"{callee}@{DOMAIN}"
        invite_line = f"INVITE sip:{callee}@{EXUM_PEER};transport=tls SIP/2.0"
        invite = {"From": f"<sip:{caller}@{DOMAIN}>;tag={rng.getrandbits(32):08x}", "To": f"<sip:{callee}@{EXUM_PEER}>",
                  "CSeq": "1 INVITE", "Call-ID": call_id,
                  "Referred-By": f'<sip:{referrer}>;ms-identity="{rng.getrandbits(128):032x}";'
                                 f'ms-identity-date="{rfc1123(_dt(t))}"',
                  "ms-exchange-command": "VoiceMail", "Content-Length": "0"}

        def resp(extra: dict[str, str], invite=invite) -> dict[str, str]:
            h = {k: invite[k] for k in ("From", "To", "CSeq", "Call-ID")}
            h["To"] += ";tag=1a2b3c4d"
            h.update(extra)
            h["Content-Length"] = "0"
            return h

        def rec(direction, peer, mtype, start, headers):
            return lambda lg, tr, n: format_protocol_record(_dt(lg), direction=direction, peer=peer, message_type=mtype,
                                                            start_line=start, headers=headers)[:-1]

        fe.specials.append((t, rec("outgoing", edge_peer, "request", invite_line, invite)))
        edge.specials.append((t + 3_000, rec("incoming", fe_peer, "request", invite_line, invite)))
        if abs(edge.offset_at(t)) > 300 * _US:
            first_refused = t if first_refused is None else first_refused
            skewed = resp(referrer_skew_headers(referrer, fe.fqdn, edge.fqdn))
            edge.specials.append((t + 8_000, rec("outgoing", fe_peer, "response", REFUSED, skewed)))
            fe.specials.append((t + 11_000, rec("incoming", edge_peer, "response", REFUSED, skewed)))
            fe.specials.append((t + 12_000, lambda lg, tr, n, call_id=call_id: routing_error(
                _dt(lg), peer=edge_peer, call_id=call_id, cseq="1 INVITE")[:-1]))
            failed = resp({"ms-diagnostics": exum_routing_failed(fe.fqdn, tenant)})
            fe.specials.append((t + 14_000, rec("outgoing", f"10.30.1.{call % 200 + 10}:50123", "response",
                                                UNAVAILABLE, failed)))
        else:
            ok = "SIP/2.0 200 OK"
            answered = resp({"ms-edge-proxy-message-trust": f"ms-source-type=AuthorizedServer;ms-ep-fqdn={edge.fqdn};"
                                                            f"ms-source-network=federation"})
            edge.specials.append((t + 6_000, rec("outgoing", f"{EXUM_PEER}:5061", "request", invite_line, invite)))
            edge.specials.append((t + 900_000, rec("incoming", f"{EXUM_PEER}:5061", "response", ok, answered)))
            edge.specials.append((t + 903_000, rec("outgoing", fe_peer, "response", ok, answered)))
            fe.specials.append((t + 906_000, rec("incoming", edge_peer, "response", ok, answered)))
        t += every
    return first_refused


# ----------------------------------------------------------------------------------
# Writing


CHUNK = 65_536


def _write_host(h: _Host, style: _Style, folder: Path, msgs, hosts: list[_Host], start_us: int, end_us: int,
                rng: np.random.Generator, truth: HostTruth) -> None:
    if msgs is not None:
        m_t, m_v, m_ex, m_peer = msgs
    else:
        m_t = np.empty(0, np.int64)
        m_v = m_ex = m_peer = m_t
    s_t = np.array([t for t, _ in h.specials], dtype=np.int64)
    n_noise = max(0, h.budget - len(m_t) - len(s_t))
    weights = np.asarray(style.weights, dtype=float)
    noise_t = rng.integers(start_us, end_us, n_noise)
    noise_k = rng.choice(len(style.noise), size=n_noise, p=weights / weights.sum())
    true = np.concatenate([noise_t, m_t, s_t])
    cat = np.concatenate([np.zeros(n_noise, np.int8), np.ones(len(m_t), np.int8), np.full(len(s_t), 2, np.int8)])
    idx = np.concatenate([noise_k, np.arange(len(m_t)), np.arange(len(s_t))])
    order = np.argsort(true, kind="stable")
    true, cat, idx = true[order], cat[order], idx[order]
    logged = true + h.offsets_at(true)
    total = len(true)
    base = style.record_base()
    noise, specials = style.noise, h.specials
    peers = [p.fqdn for p in hosts]
    path = folder / style.file
    lines = written = 0
    kdc_peers = getattr(style, "clients", None)
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        if style.head:
            fh.write(style.head)
            written += len(style.head)
        for lo in range(0, total, CHUNK):
            hi = min(total, lo + CHUNK)
            lg = logged[lo:hi]
            tr = true[lo:hi]
            ts = style.times(lg)
            xs = style.times_x(lg, tr, base + lo) if style.uses_x else None
            cats, ids = cat[lo:hi].tolist(), idx[lo:hi].tolist()
            out = []
            append = out.append
            if kdc_peers is not None:
                pk = rng.integers(0, len(kdc_peers), hi - lo).tolist()
            for j in range(hi - lo):
                c = cats[j]
                n = base + lo + j
                if c == 0:
                    if xs is None:
                        append(noise[ids[j]].format(t=ts[j], n=n))
                    elif kdc_peers is not None:
                        append(noise[ids[j]].format(t=ts[j], n=n, x=xs[j], p=kdc_peers[pk[j]]))
                    else:
                        append(noise[ids[j]].format(t=ts[j], n=n, x=xs[j]))
                elif c == 1:
                    k = ids[j]
                    append(style.message(int(m_v[k]), int(m_ex[k]), peers[int(m_peer[k])], ts[j], n,
                                         "" if xs is None else xs[j], int(lg[j])))
                else:
                    append(specials[ids[j]][1](int(lg[j]), int(tr[j]), n))
            text = ("\n" if lo else "") + "\n".join(out)
            fh.write(text)
            lines += text.count("\n")
            written += len(text)
        if style.tail:
            fh.write(style.tail)
            written += len(style.tail)
    lines += (style.head + style.tail).count("\n")
    # RFC 3164 lines carry no year: ingest takes it from the file's modification time,
    # which is when the host last wrote to it.
    last = int(logged.max()) if total else end_us
    os.utime(path, (last / _US, last / _US))
    truth.events += total
    truth.lines += lines
    truth.bytes += written   # characters; the files are ASCII
    truth.files.append(f"{folder.name}/{style.file}")


def _case_yaml(references: list[str], change: tuple[datetime, str, str] | None) -> str:
    lines = ["timezone: UTC", "references: [" + ", ".join(references) + "]"]
    if change:
        at, host, what = change
        lines += ["changes:", f"  - at: {at:%Y-%m-%d %H:%M}", f"    host: {host}", f"    what: {what}"]
    else:
        lines.append("changes: []")
    return "\n".join(lines) + "\n"


def write_corpus(out: Path | str, hosts: int, events: int, *, seed: int = 1, faults: float = 0.1,
                 messages: float = 0.2, incident: bool = True, formats: Sequence[str] = FORMATS,
                 layout: str = "round-robin", start: datetime = DEFAULT_START, span_s: float = 8 * 3600.0,
                 max_offset_s: float = 7200.0, evtx: Path | str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> CorpusTruth:
    """Write a fleet of ``hosts`` hosts logging ``events`` records in all under ``out``
    (which must not exist, or be empty); return the truth.

    ``faults``: share of the hosts (besides the incident's) with a wrong clock;
    ``messages``: share of records that are messages exchanged between hosts;
    ``formats``: the formats hosts take in turn (``layout="round-robin"``) or at random
    (``"mixed"``); ``evtx``: a folder of EVTX files copied into the Windows hosts'
    folders (skewsleuth cannot write EVTX), one file per host in turn.
    """
    t_begin = time.perf_counter()
    out = Path(out)
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format(s) {bad}: choose among {', '.join(FORMATS)}")
    if hosts < 1 or events < 0:
        raise ValueError("hosts must be at least 1 and events not negative")
    if not 0 <= faults <= 1 or not 0 <= messages <= 1:
        raise ValueError("faults and messages are shares between 0 and 1")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not empty")
    start = start.astimezone(UTC)
    start_us = _us(start)
    end_us = start_us + int(span_s * _US)
    prng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    plan = _plan(hosts, events, formats, layout, faults, max_offset_s, incident, start_us, end_us, prng)
    by_role = {h.role: h for h in plan if h.role != "host"}

    styles: dict[int, _Style] = {}
    clean = [h.fqdn for h in plan if h.fault == "none" and h.role == "host"][:64]
    for h in plan:
        r = random.Random(h.seed)
        if h.role == "kdc":
            styles[h.index] = _Kdc(h, r, clean)
        else:
            styles[h.index] = {"sipstack": _SipStack, "rfc3164": _Rfc3164, "rfc5424": _Rfc5424,
                               "journald": _Journald, "structlog": _Structlog, "json-logger": _JsonLogger,
                               "wevtutil-system": _WevtutilSystem,
                               "eventviewer-security": _SecurityDocument}[h.style](h, r)
        _clock_facts(h, styles[h.index], start_us, end_us)

    incidents = []
    if "kdc" in by_role and "krb-client" in by_role:
        kdc, client = by_role["kdc"], by_role["krb-client"]
        _kerberos(kdc, styles[kdc.index], client, start_us, end_us)
        incidents.append({"signature": "KRB_AP_ERR_SKEW", "host": client.fqdn, "offset_s": KRB_CLIENT_OFFSET_S,
                          "onset": _dt(start_us + 97 * _US), "end": _dt(client.at_us[1])})
    if "frontend" in by_role and "edge" in by_role:
        fe, edge = by_role["frontend"], by_role["edge"]
        onset = _voicemail(fe, edge, start_us, end_us, prng, "fleet.onmicrosoft.com")
        if onset is not None:
            incidents.append({"signature": "SIP_E_CRYPT_REFERRER_DATE_SKEWED", "host": edge.fqdn,
                              "offset_s": EDGE_OFFSET_S, "onset": _dt(onset), "end": None})

    groups = {"sip": [h for h in plan if h.format == "sipstack"],
              "request": [h for h in plan if h.format in REQUEST_FORMATS]}
    msgs = {}
    for g in groups.values():
        msgs.update(_exchanges(g, messages, start_us, end_us, nrng))

    references = [h.fqdn for h in plan if h.role in ("frontend", "kdc")]
    if not references and plan:
        references = [plan[0].fqdn]
    change = None
    if "edge" in by_role:
        innocent = next((h for h in plan if h.role == "host" and h.fault == "none"), None)
        if innocent is not None:
            change = (_dt(by_role["edge"].at_us[1] - 600 * _US), innocent.fqdn, "Password Sync re-enabled")

    out.mkdir(parents=True, exist_ok=True)
    (out / "case.yml").write_text(_case_yaml(references, change), encoding="utf-8")
    truths = []
    for h in plan:
        truths.append(HostTruth(h.fqdn, h.folder, h.format, h.style, h.role, h.fault,
                                [(_dt(a), o / _US) for a, o in zip(h.at_us, h.off_us)]))
    done = 0
    for h, truth in zip(plan, truths):
        folder = out / h.folder
        folder.mkdir()
        _write_host(h, styles[h.index], folder, msgs.get(h.index), plan, start_us, end_us,
                    np.random.default_rng([seed, h.index]), truth)
        done += truth.events
        if progress:
            progress(done, events)

    evtx_files = []
    if evtx is not None:
        samples = sorted(Path(evtx).glob("*.evtx"))
        windows = [h for h in plan if h.format == "eventxml"] or plan
        for k, f in enumerate(samples):
            dest = out / windows[k % len(windows)].folder / f.name
            shutil.copyfile(f, dest)
            evtx_files.append(f"{dest.parent.name}/{f.name}")

    result = CorpusTruth(out, start, _dt(end_us), truths, references, incidents, evtx_files=evtx_files)
    result.events = sum(t.events for t in truths)
    result.lines = sum(t.lines for t in truths)
    result.bytes = sum(t.bytes for t in truths)
    result.seconds = time.perf_counter() - t_begin
    return result


# ----------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m synth.corpus",
        description="Write a synthetic fleet's logs (one folder per host, every text format skewsleuth reads, "
                    "clock faults and two skew incidents) for scale runs, and print the truth.")
    p.add_argument("out", type=Path, help="folder to write (must not exist or be empty)")
    p.add_argument("--hosts", type=int, default=100, help="number of hosts (default 100)")
    p.add_argument("--events", type=int, default=1_000_000, help="records in all (default 1,000,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", type=float, default=0.1, help="share of hosts with a wrong clock (default 0.1)")
    p.add_argument("--messages", type=float, default=0.2,
                   help="share of records that are messages between hosts (default 0.2)")
    p.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma-separated formats hosts take in turn (default {','.join(FORMATS)})")
    p.add_argument("--layout", choices=("round-robin", "mixed"), default="round-robin")
    p.add_argument("--hours", type=float, default=8.0, help="length of the evidence window (default 8)")
    p.add_argument("--no-incident", action="store_true", help="no Kerberos client and no skewed Edge")
    p.add_argument("--evtx", type=Path, help="copy the EVTX files of this folder into the Windows hosts' folders")
    p.add_argument("--truth", type=Path, help="write the whole truth as JSON to this file (not inside OUT)")
    args = p.parse_args(argv)
    try:
        truth = write_corpus(args.out, args.hosts, args.events, seed=args.seed, faults=args.faults,
                             messages=args.messages, incident=not args.no_incident,
                             formats=[f.strip() for f in args.formats.split(",") if f.strip()],
                             layout=args.layout, span_s=args.hours * 3600, evtx=args.evtx)
    except (ValueError, OSError) as exc:
        print(f"corpus: {exc}", file=sys.stderr)
        return 2
    if args.truth:
        args.truth.write_text(json.dumps(truth.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {truth.events:,} events, {truth.lines:,} lines, {truth.bytes / 1e6:,.1f} MB for "
          f"{len(truth.hosts):,} hosts in {truth.seconds:.1f} s ({truth.lines / max(truth.seconds, 1e-9):,.0f} "
          f"lines/s) to {truth.root}")
    print(f"references: {', '.join(truth.references)}")
    for inc in truth.incidents:
        print(f"incident {inc['signature']}: {inc['host']} offset {inc['offset_s']:+.0f} s from {_iso(inc['onset'])}"
              f" to {_iso(inc['end']) or 'the end'}")
    faulted = truth.faulted()
    print(f"{len(faulted)} hosts with a wrong clock:")
    for h in faulted:
        pieces = ", ".join(f"{o:+.3f} s from {_iso(at)}" for at, o in h.offsets)
        print(f"  {h.host} ({h.format}, {h.fault}): {pieces}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
