"""Measurements: records whose text states a difference between two clocks.

Some failures print the numbers of the skew they complain of. S3 answers a request it
finds too skewed with its own time beside the request's; etcd's peer prober logs how
far a member's clock is from its own. Each such record yields a difference constraint
(kind ``measured``, :mod:`.solve`) between the segment of the host that logged it
(*self*) and either true time (node 0: a service whose clock is taken as true, such
as AWS's) or the segment of another host of the collection.

A *shape* (:class:`Shape`) says how to read one kind of record: patterns with one
capture group each, run by DuckDB over every record's text in one statement per shape
(never a Python object per event), and what the captures mean:

* two times (``self_time`` read on self's clock, ``other_time`` on the other's) and
  which was read first in true time. Read first by self (a request signed, then
  received): ``o_self - o_other >= self_time - other_time``, and, since self logs the
  reply after the other read its time, ``o_self - o_other <= logged - other_time``.
  Read first by the other (a token issued, then checked): only
  ``o_self - o_other <= self_time - other_time``.
* an offset (``offset``, signed, in a unit; ``direction`` says which clock a
  positive value puts ahead), with ``rtt`` where the record prints the round trip it
  was measured over: ``o_self - o_other`` within the offset give or take half the
  round trip and the shape's ``error_s``.

The other clock is true time (``other: true_time``), a host a capture names
(``other: peer``: an address or name, through the case file's ``hosts:`` like the
rules' other clocks), or an etcd member (``other: etcd_member``: the member id is the host
whose own etcd log shows that id as its own). A record whose other host is not in the
collection bounds only a difference to a clock the evidence does not hold: it is left
out (no shape here bounds self against true time without the other's clock).

Built-in shapes (each pattern cites where its text comes from):

* S3's ``RequestTimeTooSkewed`` error document (``<RequestTime>``, the request's
  X-Amz-Date or Date as signed; ``<ServerTime>``, S3's clock when it got the request);
  AWS's ``Signature expired: <request> is now earlier than <limit> (<server> - 15
  min.)``, the error message of a SigV4 service (STS, S3) that SDKs and aws-cli print.
* ntpdate's ``adjust time server X offset Y sec`` (the server's clock less this one's).
* etcd's ``prober found high clock drift`` (zap, ``remote-peer-id``, ``clock-drift``,
  ``rtt``) and ``the clock difference against peer X is too high [d > 1s]`` (capnslog).
  etcd's prober computes ``clockdiff = time.Now().Sub(when) - srtt/2`` (its own clock
  less the peer's, pkg/probing/status.go) and logs only when it exceeds one second
  (rafthttp/probing_status.go), so the member that logs it is the one ahead.
* Ceph's ``clock skew 0.512s > max 0.05s (latency 0.001s)``, logged by the leader
  monitor on another: the size of the difference without its sign, kept apart
  (:func:`absolute_bounds`) for the verdict to say "by 0.5 s, either way".
* Heimdal's KDC (Samba's AD DC): ``Too large time skew, client time T is out by N >
  300 seconds -- WS04$@REALM``, the client's pre-authentication timestamp in the KDC's
  local time (``local_times``: read in the case file's zone).
* w32tm /stripchart samples (:mod:`skewsleuth.sources.w32tm`): ``o:``, the target's
  clock less this one's, over the round trip ``d:``.
* token validators that print the token's nbf beside their own time (.NET IDX10222,
  jjwt's PrematureJwtException, jsonwebtoken's NotBeforeError in a JSON record): the
  issuer, which they never name, is ahead by at least the difference (``other:
  unnamed``). Such bounds are no constraint of the model (the issuer is no node of
  it): :func:`unnamed_bounds` hands them to the verdict, which says what they state
  of the party the failures point at.

A peer that is no host of the collection but a public time service (the NTP pool,
time.windows.com, ...: :data:`PUBLIC_TIME_SERVICES`) is taken as true time, within
``SERVICE_ACC_S``.

Rules add shapes with a ``measure:`` block (:mod:`skewsleuth.rules`), handed to the
model as plain data so that the clock stage never loads rules.

Not here, and why: CockroachDB's
"more than 500ms away from at least half of the known nodes" and ScyllaDB's "timeout
skew" print no direction or no measured value; the DataStax driver's "Clock skew
detected" is a local clock going back, not a difference to another clock. A rule whose
logs name a token's issuer (an ``iss`` field) declares its shape with ``other: peer``
and ``order: other_first``. chronyd's "System clock wrong by" and ntpd's steps are clock
facts (:mod:`.facts`); chronyd prints both "wrong by" and "stepped by" as the
correction to apply (reference.c: ``-offset``), so the clock's offset is minus it.

References: AWS S3 API, "Error responses" (RequestTimeTooSkewed); the "Signature
expired" wording as aws/aws-cli issue 6676 quotes it; etcd
``pkg/probing/status.go`` and ``server/etcdserver/api/rafthttp/probing_status.go``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from ..case import address_rows
from ..hosts import canonical_map, host_key
from ..store import Store
from ..timefmt import UTC_FORMAT, Format

CAPTURES = ("self_time", "other_time", "offset", "rtt", "peer")
OTHERS = ("true_time", "peer", "etcd_member", "unnamed")
ORDERS = ("self_first", "other_first")
DIRECTIONS = ("self_ahead", "other_ahead")
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "go": None}
# Times printed without a zone are taken as UTC (AWS and .NET print UTC).
TIME_FORMATS = ("%Y%m%dT%H%M%SZ", "%a, %d %b %Y %H:%M:%S GMT", "%Y-%m-%dT%H:%M:%S.%gZ", "%Y-%m-%dT%H:%M:%SZ",
                "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S")
# A service taken as true time (AWS's Time Sync keeps its fleet within a millisecond):
# a presumption, allowed a second.
SERVICE_ACC_S = 1.0
# Where an other clock's reading falls in its host's logs: a segment holds it if its
# logged span, widened by this, does.
WINDOW_MARGIN_S = 300.0

_TEXT = "(coalesce(message, '') || chr(10) || coalesce(data, ''))"


@dataclass(frozen=True)
class Shape:
    """How to read one kind of measurement from records (see the module docstring)."""
    name: str                                  # what the evidence calls it
    captures: tuple[tuple[str, str], ...]      # (capture name, RE2 pattern with one group)
    contains: tuple[str, ...] = ()             # the text holds one of these (a cheap filter)
    other: str = "true_time"
    order: str = "self_first"                  # for two times: whose clock was read first
    direction: str = "self_ahead"              # for an offset: a positive value puts this clock ahead
    unit: str = "s"                            # for an offset: s, ms, us, ns, go (a Go duration)
    error_s: float = 1.0                       # resolution of the numbers and accuracy, either side
    labels: tuple[tuple[str, str], ...] = ()   # how the evidence names each capture
    time_formats: tuple[str, ...] = TIME_FORMATS
    # The software logs only when the offset exceeds this: a record below it but with
    # a round trip above it has the two printed the other way round (etcd 3.4's
    # prober swapped them), and one with both above cannot be read either way.
    logged_above_s: float | None = None
    # The offset is printed without its sign (|o_self - o_other|): no constraint of the
    # model, kept apart (:func:`absolute_bounds`) for the verdict's "either way".
    absolute: bool = False
    # Times printed without a zone are the logging host's local wall time (Heimdal's
    # krb5_format_time uses localtime): read in the case file's zone, not as UTC.
    local_times: bool = False
    source: str = ""                           # where the message text comes from

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.captures)

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, name)


def shape_from_mapping(spec: Any, name: str) -> Shape:
    """A shape from a rule's ``measure:`` entry (a mapping); ValueError says what is
    wrong in one line. Patterns are checked by the caller (RE2, one group each)."""
    if not isinstance(spec, dict):
        raise ValueError("a measure entry is a mapping (captures, other, ...)")
    unknown = set(spec) - {"captures", "other", "order", "direction", "unit", "error_s", "contains", "labels",
                           "time_formats", "name"}
    if unknown:
        raise ValueError(f"unknown measure key {sorted(unknown)[0]!r}")
    caps = spec.get("captures")
    if not isinstance(caps, dict) or not caps:
        raise ValueError("measure.captures maps capture names (self_time, other_time, offset, rtt, peer) "
                         "to patterns")
    for k, v in caps.items():
        if k not in CAPTURES:
            raise ValueError(f"unknown capture {k!r} (known: {', '.join(CAPTURES)})")
        if not isinstance(v, str) or not v:
            raise ValueError(f"capture {k!r} must be a pattern")
    order = spec.get("order", "self_first")
    times = "other_time" in caps and ("self_time" in caps or order == "other_first")
    offset = "offset" in caps
    if times == offset:
        raise ValueError("measure.captures needs either self_time and other_time (other_time alone with "
                         "order: other_first), or offset")
    other = spec.get("other", "true_time")
    if other not in OTHERS:
        raise ValueError(f"measure.other must be one of {', '.join(OTHERS)}")
    if (other in ("true_time", "unnamed")) == ("peer" in caps):
        raise ValueError("measure.other: peer needs a 'peer' capture, and only it takes one")
    direction, unit = spec.get("direction", "self_ahead"), spec.get("unit", "s")
    if order not in ORDERS:
        raise ValueError(f"measure.order must be one of {', '.join(ORDERS)}")
    if direction not in DIRECTIONS:
        raise ValueError(f"measure.direction must be one of {', '.join(DIRECTIONS)}")
    if unit not in UNITS:
        raise ValueError(f"measure.unit must be one of {', '.join(UNITS)}")
    err = spec.get("error_s", 1.0)
    if isinstance(err, bool) or not isinstance(err, (int, float)) or not err >= 0:
        raise ValueError(f"measure.error_s must be a number of seconds, not {err!r}")
    contains = spec.get("contains") or []
    contains = [contains] if isinstance(contains, str) else contains
    formats = spec.get("time_formats") or list(TIME_FORMATS)
    formats = [formats] if isinstance(formats, str) else formats
    labels = spec.get("labels") or {}
    if not (isinstance(contains, list) and all(isinstance(c, str) and c for c in contains)
            and isinstance(formats, list) and all(isinstance(f, str) and f for f in formats)
            and isinstance(labels, dict)):
        raise ValueError("measure.contains and measure.time_formats are strings or lists of strings, "
                         "measure.labels a mapping")
    return Shape(str(spec.get("name") or name), tuple(caps.items()), tuple(contains), other, order, direction,
                 unit, float(err), tuple((str(k), str(v)) for k, v in labels.items()), tuple(formats))


_CHECK: Any = None


def time_formats_problem(formats: Sequence[str]) -> str | None:
    """Why DuckDB refuses a list of strptime formats (as :func:`_time_sql` uses them);
    None when it takes them. For rules' shapes, checked when they load; its own
    connection, made only for a rule that declares times."""
    global _CHECK
    if _CHECK is None:
        import duckdb

        _CHECK = duckdb.connect()
    try:
        _CHECK.execute(f"SELECT {_time_sql('t', formats)} FROM (SELECT '' AS t)").fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB reports a bad format as InvalidInputException
        return str(exc).splitlines()[0]
    return None


# --- the built-in shapes ----------------------------------------------------------------

_GO_DURATION = r"((?:[0-9.]+(?:h|ms|m|µs|us|ns|s))+)"

BUILTIN: tuple[Shape, ...] = (
    # S3's error document, as SDKs log it (aws/aws-sdk-php issue 612: "...<RequestTime>
    # 20150604T232559Z</RequestTime><ServerTime>2015-06-04T22:26:16Z</ServerTime>...";
    # versity/versitygw issue 1514; a SigV2 Date "Tue, 31 Jul 2018 07:40:44 GMT" and
    # Aliyun OSS's "2022-09-04T07:11:33.000Z" in the same elements). The client signed
    # at RequestTime on its clock, S3 read ServerTime after receiving it, the client
    # logged the reply after that. (An SDK that corrects for skew, correctClockSkew in
    # aws-sdk-js, signs later requests with its clock plus the offset it learnt: such a
    # request is not refused, so the document comes from an uncorrected one.)
    Shape("S3 RequestTimeTooSkewed",
          (("self_time", r"<RequestTime>\s*([^<]+?)\s*</RequestTime>"),
           ("other_time", r"<ServerTime>\s*([^<]+?)\s*</ServerTime>")),
          contains=("RequestTimeTooSkewed",), error_s=1.0 + SERVICE_ACC_S,
          labels=(("self_time", "RequestTime"), ("other_time", "ServerTime")),
          source="aws/aws-sdk-php issue 612; versity/versitygw issue 1514"),
    # A SigV4 service's "Signature expired: 20220127T001427Z is now earlier than
    # 20220127T014428Z (20220127T015928Z - 15 min.)", as aws-cli prints it: the
    # request's time, the earliest the service accepts, and its own time (aws/aws-cli
    # issue 6676).
    Shape("AWS Signature expired",
          (("self_time", r"Signature expired: ([0-9]{8}T[0-9]{6}Z) is now earlier than"),
           ("other_time", r"is now earlier than [0-9]{8}T[0-9]{6}Z \(([0-9]{8}T[0-9]{6}Z) - ")),
          contains=("Signature expired:",), error_s=1.0 + SERVICE_ACC_S,
          labels=(("self_time", "request time"), ("other_time", "server time")),
          source="aws/aws-cli issue 6676"),
    # etcd >= 3.4 (zap): {"msg":"prober found high clock drift","round-tripper-name":
    # "ROUND_TRIPPER_SNAPSHOT","remote-peer-id":"d66e878e1cd03cfc","clock-drift":
    # "8m0.640985013s","rtt":"502.906µs"} (etcd rafthttp/probing_status.go; the line
    # as an OpenShift must-gather shows it). The member's own clock less the peer's,
    # less half the smoothed round trip, with the peer's time read somewhere within a
    # round trip: a second is left for a probe slower than the average.
    Shape("etcd prober clock drift",
          (("peer", r"\"remote-peer-id\"\s*:\s*\"([0-9a-fA-F]+)\""),
           ("offset", r"\"clock-drift\"\s*:\s*\"" + _GO_DURATION + "\""),
           ("rtt", r"\"rtt\"\s*:\s*\"" + _GO_DURATION + "\"")),
          contains=("prober found high clock drift",), other="etcd_member", unit="go", error_s=1.0,
          labels=(("offset", "clock-drift"), ("rtt", "rtt")), logged_above_s=1.0,
          source="etcd rafthttp/probing_status.go, pkg/probing/status.go"),
    # etcd < 3.4 (capnslog): "rafthttp: the clock difference against peer
    # 4e8d454852097618 is too high [12.407738276s > 1s]" (etcd-io/etcd issue 5938); no
    # round trip printed: a second is allowed for it.
    Shape("etcd clock difference",
          (("peer", r"the clock difference against peer ([0-9a-fA-F]+) is too high"),
           ("offset", r"is too high \[" + _GO_DURATION + " > ")),
          contains=("the clock difference against peer",), other="etcd_member", unit="go", error_s=1.0,
          labels=(("offset", "clock difference"),),
          source="etcd-io/etcd issue 5938; rafthttp/probing_status.go"),
)

BUILTIN += (
    # ntpdate slewing: "adjust time server 10.0.0.1 offset 0.402117 sec", the
    # server's clock less this one's (ntpdate/ntpdate.c, l_adj_systime(&server->offset)),
    # measured over NTP's round trip: half a second allowed for it. Its "step time
    # server" lines are steps (.facts).
    Shape("ntpdate adjust",
          (("peer", r"adjust time server (\S+) offset"),
           ("offset", r"adjust time server \S+ offset ([-+]?[0-9]+(?:\.[0-9]+)?) sec")),
          contains=("adjust time server",), other="peer", direction="other_ahead", error_s=0.5,
          labels=(("offset", "offset"),), source="ntp ntpdate/ntpdate.c"),
)

BUILTIN += (
    # w32tm /stripchart samples (.sources.w32tm): o: is NTP's offset, the target's clock
    # less this one's, measured over the round trip d: (absent with /dataonly: a
    # quarter of a second is allowed for it, and for the target's NTP server answering
    # from its own clock).
    Shape("w32tm stripchart",
          (("peer", r'"w32tm_target": "([^"]+)"'),
           ("offset", r'"w32tm_offset_s": ([-+0-9.eE]+)'),
           ("rtt", r'"w32tm_delay_s": ([-+0-9.eE]+)')),
          contains=('"w32tm_offset_s"',), other="peer", direction="other_ahead", error_s=0.25,
          labels=(("offset", "o:"), ("rtt", "d:")),
          source="Microsoft, Windows Time service tools and settings (w32tm /stripchart)"),
)

BUILTIN += (
    # Token validators that print the token's nbf beside their own time, and never who
    # issued it (other: unnamed): the issuer read its clock (nbf, usually its iat),
    # then the validator read its own, so the issuer is ahead by at least nbf less the
    # validator's time, give or take their resolution (a second). An issuer that
    # back-dates nbf only makes the true difference larger.
    # Microsoft.IdentityModel.Tokens' IDX10222, in both wordings (5.x "ValidFrom: '..'",
    # 6.x and later "ValidFrom (UTC): '..'"), DateTime formatted with the invariant
    # culture (LogHelper.FormatInvariant: MM/dd/yyyy HH:mm:ss); with PII hidden the
    # values read "[PII of type 'System.DateTime' is hidden ...]" and nothing is read.
    Shape("IDX10222 token not yet valid",
          (("other_time", r"IDX10222: Lifetime validation failed\. The token is not yet valid\.\s*ValidFrom"
                          r"(?: \(UTC\))?: '([0-9/: ]+)'"),
           ("self_time", r"IDX10222: [^']*'[0-9/: ]+',?\s*Current time(?: \(UTC\))?: '([0-9/: ]+)'")),
          contains=("IDX10222",), other="unnamed", order="other_first", error_s=1.0,
          labels=(("other_time", "ValidFrom"), ("self_time", "Current time")),
          time_formats=("%m/%d/%Y %H:%M:%S",) + TIME_FORMATS,
          source="AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet LogMessages.IDX10222"),
    # jjwt's PrematureJwtException: "JWT must not be accepted before
    # 2026-11-30T09:45:00Z. Current time: 2026-11-30T09:35:00Z, a difference of 600000
    # milliseconds.  Allowed clock skew: 0 milliseconds." (DefaultJwtParser).
    Shape("jjwt PrematureJwtException",
          (("other_time", r"JWT must not be accepted before ([0-9T:.Z-]+)\. Current time:"),
           ("self_time", r"JWT must not be accepted before [0-9T:.Z-]+\. Current time: ([0-9T:.Z-]+),")),
          contains=("JWT must not be accepted before",), other="unnamed", order="other_first", error_s=1.0,
          labels=(("other_time", "not before"), ("self_time", "current time")),
          source="jwtk/jjwt DefaultJwtParser"),
    # jsonwebtoken's NotBeforeError ("jwt not active") carries the token's nbf as
    # ``date`` (lib/NotBeforeError.js); a JSON logger (pino's err serializer) writes it
    # in the record (applog keeps it as ``err.date``), whose own time is the
    # validator's, just after it checked.
    Shape("jsonwebtoken NotBeforeError",
          (("other_time", r'"(?:err\.)?date"\s*:\s*"([0-9T:.Z-]+)"'),),
          contains=("jwt not active",), other="unnamed", order="other_first", error_s=1.0,
          labels=(("other_time", "date (nbf)"),),
          source="auth0/node-jsonwebtoken lib/NotBeforeError.js, verify.js"),
)

BUILTIN += (
    # Heimdal's KDC (Samba's AD DC, whose log carries it as "Kerberos: ...") on a
    # pre-authentication timestamp out of its skew: "Too large time skew, client time
    # 2015-06-08T11:42:00 is out by 378 > 300 seconds -- WS01$@CORP.EXAMPLE"
    # (kdc/kerberos5.c; the Samba log line as users post it). The client read its
    # clock (the timestamp), then the KDC its own, then logged: the KDC is behind the
    # client by at least the record's time less the client time. The client time is
    # the KDC's local time (krb5_format_time, localtime). Only machine accounts
    # (NAME$) name a host.
    Shape("Heimdal KDC time skew",
          (("other_time", r"Too large time skew, client time ([0-9T:-]+) is out by"),
           ("peer", r"Too large time skew, client time [0-9T:-]+ is out by [0-9]+ > [0-9]+ seconds -- "
                    r"([A-Za-z0-9_.-]+)\$@")),
          contains=("Too large time skew",), other="peer", order="other_first", error_s=1.0, local_times=True,
          labels=(("other_time", "client time"),),
          time_formats=("%Y-%m-%dT%H:%M:%S",),
          source="heimdal kdc/kerberos5.c; Samba AD DC log as users post it"),
)

BUILTIN += (
    # Ceph's leader monitor on a monitor whose clock is off its own: "mon.c addr
    # 10.10.0.1:6789/0 clock skew 0.08235s > max 0.05s (latency 0.0045s)" (health
    # detail), "mon.2 10.0.3.48:6790/0 clock skew 0.0784957s > max 0.05s" (cluster
    # log, rook/rook issue 2286), "mon.ceph-node02 clock skew 0.512s > max 0.05s
    # (latency 0.001s)" (cephadm, named by host). Monitor::timecheck_report prints
    # abs_skew: the size, not which way; the latency is the round trip it was read over.
    Shape("Ceph monitor clock skew",
          (("peer", r"mon\.(?:[^ ]+ (?:addr )?)?([^ ]+?)(?::[0-9]+/[0-9]+)? clock skew [0-9.]+s > max"),
           ("offset", r"clock skew ([0-9.]+)s > max"),
           ("rtt", r"clock skew [0-9.]+s > max [0-9.]+s \(latency ([0-9.]+)s\)")),
          contains=("clock skew",), other="peer", error_s=0.01, absolute=True,
          labels=(("offset", "clock skew"), ("rtt", "latency")),
          source="ceph Monitor::timecheck_report; rook/rook issue 2286; ceph health detail as users post it"),
)

# Public time services, taken as true time (like AWS's clock, allowed SERVICE_ACC_S)
# when a measurement's other clock is one of them and no host of the collection: a
# stripchart or an ntpdate against the pool measures this host against true time.
PUBLIC_TIME_SERVICES = re.compile(
    r"^(?:[\w-]+\.)*(?:pool\.ntp\.org|time\.windows\.com|time\d?\.google\.com|time\.cloudflare\.com|"
    r"time\.apple\.com|time\d?\.aws\.com|time(?:-[a-z]\d?)?(?:-[a-z]+)?\.nist\.gov|ptbtime\d\.ptb\.de|"
    r"time\.facebook\.com|ntp\d?\.ubuntu\.com)\.?$|^169\.254\.169\.123$", re.I)

# The records that name an etcd member's own id: zap's "local-member-id" field, and
# raft's "<id> became follower|candidate|leader at term N" (capnslog "raft: ...",
# "raft2023/01/06 06:32:33 INFO: 909af5b6b434f7a9 became candidate at term 947", zap
# "msg":"8e9e05c52164694d became leader at term 2").
_ETCD_MEMBERS = rf"""
SELECT lower(id) AS id, host FROM (
  SELECT regexp_extract({_TEXT}, '"local-member-id"\s*:\s*"([0-9a-fA-F]+)"', 1) AS id, host FROM events
  WHERE {_TEXT} LIKE '%local-member-id%'
  UNION ALL
  SELECT regexp_extract(message, '(?:^|raft[^:]*: |INFO: )([0-9a-fA-F]{{8,16}}) became (?:pre-candidate|candidate|follower|leader) at term', 1),
         host FROM events WHERE message LIKE '% became %at term%'
) WHERE id <> ''
GROUP BY 1, 2
"""


def _go_seconds(col: str) -> str:
    """A Go duration string (``1m29.239296422s``, ``502.906µs``) in seconds, in SQL."""
    return (f"list_sum(list_transform(regexp_extract_all({col}, '([0-9.]+)(h|ms|m|µs|us|ns|s)', 0), "
            "lambda x: TRY_CAST(regexp_extract(x, '^[0-9.]+') AS DOUBLE) * CASE regexp_extract(x, '[a-zµ]+$') "
            "WHEN 'h' THEN 3600 WHEN 'm' THEN 60 WHEN 's' THEN 1 WHEN 'ms' THEN 1e-3 "
            "WHEN 'µs' THEN 1e-6 WHEN 'us' THEN 1e-6 WHEN 'ns' THEN 1e-9 END))")


def _in(ks: Sequence[int]) -> str:
    """A list of shape numbers for ``k IN (...)`` (-1, which no shape has, when empty)."""
    return ",".join(map(str, ks)) or "-1"


def _has_table(store: Store, name: str) -> bool:
    # duckdb_tables(), not the information_schema view over it: 0.6 ms a call, not 1.4
    # (9 the first time), four times a model build.
    return bool(store.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                                  [name]).fetchall()[0][0])


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _time_sql(col: str, formats: Sequence[str], zone: str | None = None) -> str:
    fmts = "[" + ", ".join(_sql_str(f) for f in formats) + "]"
    t = f"coalesce(try_strptime({col}, {fmts}), TRY_CAST({col} AS TIMESTAMP))"
    if zone is not None:
        # (a time with its own offset parses to TIMESTAMPTZ: only naive ones take the zone)
        t = f"timezone({_sql_str(zone)}, CAST({t} AS TIMESTAMP))"
    return f"epoch_us({t})"


def _zone_problem(con: Any, zone: str) -> str | None:
    try:
        con.execute(f"SELECT timezone({_sql_str(zone)}, TIMESTAMP '2000-01-01')").fetchall()
    except Exception as exc:  # noqa: BLE001 - DuckDB refuses a zone ICU does not know
        return str(exc).splitlines()[0]
    return None


def _shape_sql(shape: Shape, k: int, relation: str = "events", zone: str = "UTC") -> tuple[str, list]:
    """One statement over all events (or ``relation``, a part of them): the records of
    a shape with what they state, as ``lo_s <= o_self - o_other <= hi_s`` and the
    other clock's reading (for finding its segment)."""
    where, where_params = [], []
    if shape.contains:
        where.append("(" + " OR ".join(f"{_TEXT} LIKE ?" for _ in shape.contains) + ")")
        where_params += [f"%{c}%" for c in shape.contains]
    cols, params = [], []
    for name, pattern in shape.captures:
        cols.append(f"regexp_extract({_TEXT}, ?, 1) AS c_{name}")
        params.append(pattern)
        if name != "rtt":   # (a record may leave out its round trip: w32tm /dataonly)
            where.append(f"regexp_matches({_TEXT}, ?)")
            where_params.append(pattern)
    params += where_params   # (in the order the statement names them)
    err = float(shape.error_s)
    names = shape.names
    if "offset" in names:
        scale = UNITS[shape.unit]
        value = _go_seconds("c_offset") if scale is None else f"TRY_CAST(c_offset AS DOUBLE) * {scale!r}"
        rtt = "0.0" if "rtt" not in names else "coalesce({}, 0.0)".format(
            _go_seconds("c_rtt") if scale is None else f"TRY_CAST(nullif(c_rtt, '') AS DOUBLE) * {scale!r}")
        sign = 1.0 if shape.direction == "self_ahead" else -1.0
        if shape.logged_above_s is not None:
            above = float(shape.logged_above_s)
            # (printed the other way round: the round trip holds the offset)
            v = f"CASE WHEN v0 < {above} AND r0 > {above} THEN r0 ELSE v0 END"
            r = f"CASE WHEN v0 < {above} AND r0 > {above} THEN v0 ELSE r0 END"
            keep = f"NOT (v0 > {above} AND r0 > {above})"
            swapped = f"v0 < {above} AND r0 > {above}"
        else:
            v, r, keep, swapped = "v0", "r0", "TRUE", "FALSE"
        body = f"""
          SELECT *, {sign} * ({v}) AS v, {r} AS r, {swapped} AS swapped
          FROM (SELECT *, {value} AS v0, {rtt} AS r0 FROM x) WHERE {keep}"""
        bounds = f"v - r / 2 - {err} AS lo_s, v + r / 2 + {err} AS hi_s, l_us - CAST(v * 1e6 AS BIGINT) AS other_us"
    else:
        # (no self_time: the record's own time, written after self read its clock)
        local = zone if shape.local_times and zone != "UTC" else None
        st = _time_sql("c_self_time", shape.time_formats, local) if "self_time" in names else "l_us"
        ot = _time_sql("c_other_time", shape.time_formats, local)
        body = f"SELECT *, {st} AS st_us, {ot} AS ot_us, FALSE AS swapped FROM x"
        if shape.order == "self_first":
            # self read its clock, the other read its own after, self logged after that
            bounds = (f"(st_us - ot_us) / 1e6 - {err} AS lo_s, (l_us - ot_us) / 1e6 + {err} AS hi_s, "
                      "ot_us AS other_us")
        else:
            bounds = f"-'inf'::DOUBLE AS lo_s, (st_us - ot_us) / 1e6 + {err} AS hi_s, ot_us AS other_us"
    said = "concat_ws(', ', " + ", ".join(f"CASE WHEN c_{n} <> '' THEN {_sql_str(shape.label(n) + ' ')} || c_{n} END"
                                          for n in names if n != "peer") + ")"
    said += " || CASE WHEN swapped THEN ' (the two printed the other way round, as etcd 3.4 did)' ELSE '' END"
    peer = "c_peer" if "peer" in names else "NULL"
    sql = f"""
      WITH x AS (
        SELECT file_id, record_no, host, epoch_us(logged) AS l_us, {', '.join(cols)}
        FROM {relation} WHERE {' AND '.join(where)}
      ), y AS ({body})
      SELECT file_id, record_no, host, l_us, {k} AS k, {_sql_str(shape.name)} AS shape, {peer} AS peer_raw, {said} AS said, {bounds}
      FROM y"""
    return sql, params


_MEASUREMENTS = """CREATE OR REPLACE TEMP TABLE _measurements (
  file_id INTEGER, record_no BIGINT, host VARCHAR, l_us BIGINT, k INTEGER, shape VARCHAR, peer_raw VARCHAR, said VARCHAR,
  lo_s DOUBLE, hi_s DOUBLE, other_us BIGINT, other_host VARCHAR)"""


def prepare_measurements(store: Store, shapes: Sequence[Shape] = (), addresses: dict[str, str] | None = None,
                         zone: str = "UTC") -> list[str]:
    """``_measurements``: every record of a built-in or given shape with the bounds it
    states on ``o_self - o_other`` and the other clock's host (NULL: true time).
    Records whose other clock is no host of the collection are left out: returns a
    note per shape that says so."""
    all_shapes = tuple(BUILTIN) + tuple(shapes)
    con = store.con
    notes = []
    if zone != "UTC" and (why := _zone_problem(con, zone)) is not None:
        notes.append(f"times some measurements print in local time were read as UTC: DuckDB does not know the "
                     f"zone {zone!r} ({why})")
        zone = "UTC"
    con.execute(_MEASUREMENTS)
    # The records any shape's texts name, in one pass over the events: each shape with
    # texts then reads only these.
    needles = sorted({c for shape in all_shapes for c in shape.contains})
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _measure_text AS
                    SELECT file_id, record_no, host, logged, message, data FROM events
                    WHERE {' OR '.join(f'{_TEXT} LIKE ?' for _ in needles) or 'FALSE'}""",
                [f"%{c}%" for c in needles])
    # A shape's statement maps the records of its relation one by one: with no record
    # naming any shape's texts (most collections), the shapes that read them give none,
    # and planning each statement (~2 ms, whatever the records) is skipped.
    named = store.has_rows("_measure_text")
    for k, shape in enumerate(all_shapes):
        if shape.contains and not named:
            continue
        sql, params = _shape_sql(shape, k, "_measure_text" if shape.contains else "events", zone)
        con.execute(f"INSERT INTO _measurements SELECT *, NULL FROM ({sql}) WHERE lo_s IS NOT NULL "
                    "AND hi_s IS NOT NULL AND lo_s <= hi_s AND other_us IS NOT NULL", params)
    kinds = {k: s.other for k, s in enumerate(all_shapes)}
    # A clock no record names (a token's issuer) is no node of the model: its bounds are
    # kept apart, for the verdict to say what they state of that party.
    unnamed = [k for k, o in kinds.items() if o == "unnamed"]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _unnamed_measurements AS SELECT * FROM _measurements
                    WHERE k IN ({_in(unnamed)})""")
    con.execute(f"DELETE FROM _measurements WHERE k IN ({_in(unnamed)})")
    peers = [k for k, o in kinds.items() if o == "peer"]
    etcd = [k for k, o in kinds.items() if o == "etcd_member"]
    present = {k for (k,) in con.execute("SELECT DISTINCT k FROM _measurements").fetchall()}
    peers, etcd = [k for k in peers if k in present], [k for k in etcd if k in present]
    if peers:
        raws = [r for (r,) in con.execute(
            f"SELECT DISTINCT peer_raw FROM _measurements WHERE k IN ({_in(peers)})").fetchall()]
        known = [h for (h,) in con.execute("SELECT DISTINCT host FROM events").fetchall() if h]
        rows = _peer_hosts(raws, known, addresses or {})
        if rows:
            con.execute("CREATE OR REPLACE TEMP TABLE _peer_hosts (raw VARCHAR, host VARCHAR)")
            con.executemany("INSERT INTO _peer_hosts VALUES (?, ?)", rows)
            con.execute(f"""UPDATE _measurements SET other_host = p.host FROM _peer_hosts p
                            WHERE _measurements.peer_raw = p.raw
                              AND _measurements.k IN ({_in(peers)})""")
    if etcd:
        # one member id, one host: an id two hosts claim names neither
        con.execute(f"""UPDATE _measurements SET other_host = m.host FROM (
                          SELECT id, any_value(host) AS host FROM ({_ETCD_MEMBERS}) GROUP BY id
                          HAVING count(DISTINCT host) = 1) m
                        WHERE lower(_measurements.peer_raw) = m.id
                          AND _measurements.k IN ({_in(etcd)})""")
    if peers:
        # a public time service no host of the collection is: true time, allowed a second
        public = [r for (r,) in con.execute(
            f"""SELECT DISTINCT peer_raw FROM _measurements WHERE other_host IS NULL
                AND k IN ({_in(peers)})""").fetchall() if r and PUBLIC_TIME_SERVICES.match(r)]
        if public:
            con.execute(f"""UPDATE _measurements SET other_host = '', lo_s = lo_s - {SERVICE_ACC_S},
                              hi_s = hi_s + {SERVICE_ACC_S},
                              said = said || ' (against ' || peer_raw || ', a public time service taken as true time)'
                            WHERE other_host IS NULL AND peer_raw IN ({','.join('?' * len(public))})
                              AND k IN ({_in(peers)})""", public)
    absolute = [k for k, shp in enumerate(all_shapes) if shp.absolute]
    # A size without a sign bounds no difference: kept apart, with the host it names.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _absolute_measurements AS SELECT * FROM _measurements
                    WHERE k IN ({_in(absolute)}) AND other_host IS NOT NULL
                      AND other_host <> '' AND lower(other_host) <> lower(host)""")
    # A difference to a clock the evidence does not hold bounds neither self nor true
    # time: such records are left out (counted, for the model's notes).
    unplaced = f"""k IN ({_in(peers + etcd)})
                   AND (other_host IS NULL OR lower(other_host) = lower(host))"""
    left_out = con.execute(f"""SELECT shape, count(*), string_agg(DISTINCT peer_raw, ', ' ORDER BY peer_raw)
                               FROM _measurements WHERE {unplaced} GROUP BY 1 ORDER BY 1""").fetchall()
    con.execute(f"DELETE FROM _measurements WHERE {unplaced}")
    con.execute(f"DELETE FROM _measurements WHERE k IN ({_in(absolute)})")
    con.execute("UPDATE _measurements SET other_host = NULL WHERE other_host = ''")
    return notes + [f"{n} {shape} record{'s' if n > 1 else ''} not used: the clock measured against ({peers_}) is no "
            f"host of the collection (nor an address the case file's hosts: maps, nor a member id a host's etcd "
            f"log shows as its own)" for shape, n, peers_ in left_out]


def _peer_hosts(raws: list[str], known: list[str], addresses: dict[str, str]) -> list[tuple[str, str]]:
    """(as captured, host) for the names and addresses a record gave its other host."""
    names = canonical_map(known)
    hosts = set(names.values())
    mapped = {raw: host for raw, _, host in address_rows(raws, addresses) if host}
    out = []
    for raw in raws:
        if not raw:
            continue
        key = host_key(raw)
        host = mapped.get(raw) or (key if key in hosts else names.get(key))
        if host is None:
            shorts = [h for h in hosts if h.split(".", 1)[0] == key.split(".", 1)[0]]
            host = shorts[0] if len(shorts) == 1 and "." not in key else None
        if host is not None:
            out.append((raw, host))
    return out


# Each measurement's other segment: the one of its host whose logged span holds the
# other clock's reading, if only one does (else the host's only segment). After a step
# back two segments' spans hold the same readings: which one the other clock was in
# when it was read, nothing in the record says, and the measurement is left out.
_PLACING = f"""
WITH m AS (
  SELECT m.*, s.segment_id AS seg FROM _measurements m
  JOIN event_segments s USING (file_id, record_no)
), spans AS (
  SELECT e.host, s.segment_id, min(epoch_us(e.logged)) AS lo, max(epoch_us(e.logged)) AS hi
  FROM events e JOIN event_segments s USING (file_id, record_no)
  WHERE e.host IN (SELECT other_host FROM _measurements WHERE other_host IS NOT NULL)
  GROUP BY 1, 2
), counts AS (SELECT host, count(*) AS n, min(segment_id) AS only FROM spans GROUP BY 1),
o AS (
  SELECT m.file_id, m.record_no, m.k, CASE WHEN count(sp.segment_id) = 1 THEN min(sp.segment_id)
                     WHEN count(sp.segment_id) = 0 AND any_value(c.n) = 1 THEN any_value(c.only) END AS other,
         count(sp.segment_id) AS held
  FROM m LEFT JOIN spans sp ON sp.host = m.other_host
         AND m.other_us BETWEEN sp.lo - {int(WINDOW_MARGIN_S * 1e6)} AND sp.hi + {int(WINDOW_MARGIN_S * 1e6)}
         LEFT JOIN counts c ON c.host = m.other_host
  WHERE m.other_host IS NOT NULL GROUP BY m.file_id, m.record_no, m.k
)
"""
_PLACED = _PLACING + """
SELECT m.seg, CASE WHEN m.other_host IS NULL THEN -1 ELSE o.other END AS other_seg, m.lo_s, m.hi_s,
       m.shape, m.host, coalesce(m.other_host, '') AS other_host, m.said, m.l_us,
       coalesce(m.other_us, m.l_us) AS other_us
FROM m LEFT JOIN o USING (file_id, record_no, k)
WHERE m.other_host IS NULL OR o.other IS NOT NULL
ORDER BY m.file_id, m.record_no, m.k
"""


_UNPLACED = _PLACING + """
SELECT m.shape, m.other_host, count(*) AS n, max(o.held) AS held
FROM m JOIN o USING (file_id, record_no, k) WHERE o.other IS NULL GROUP BY 1, 2 ORDER BY 1, 2
"""


def unplaced_notes(store: Store) -> list[str]:
    """Why measurements were left out on the final segments (none: no notes)."""
    if not _has_table(store, "_measurements"):
        return []
    out = []
    for shape, other, n, held in store.con.execute(_UNPLACED).fetchall():
        why = (f"the clock of {other} it read falls in {held} of {other}'s segments' logged spans (before and "
               f"after a step back), and nothing says which one {other} was in" if held else
               f"the clock of {other} it read falls in none of {other}'s segments' logged spans")
        out.append(f"{n} {shape} record{'s' if n > 1 else ''} not used: {why}")
    return out


@dataclass(frozen=True)
class UnnamedBound:
    """A measurement against a clock no record names: ``lo <= o[host] - o[unnamed] <= hi``
    (seconds; -inf when unbounded) on the host's segment ``segment_id``."""
    host: str
    segment_id: int
    logged: datetime
    lo: float
    hi: float
    shape: str
    said: str


def unnamed_bounds(store: Store) -> list[UnnamedBound]:
    """The measurements against an unnamed clock, on the current segments."""
    if not _has_table(store, "_unnamed_measurements"):
        return []
    rows = store.con.execute("""SELECT m.host, s.segment_id, m.l_us, m.lo_s, m.hi_s, m.shape, m.said
                                FROM _unnamed_measurements m JOIN event_segments s USING (file_id, record_no)
                                ORDER BY m.l_us, m.file_id, m.record_no""").fetchall()
    return [UnnamedBound(h, int(seg), datetime.fromtimestamp(l_us / 1e6, timezone.utc), float(lo), float(hi), shape,
                         said) for h, seg, l_us, lo, hi, shape, said in rows]


@dataclass(frozen=True)
class AbsoluteBound:
    """A size without a sign: ``lo <= |o[host] - o[other]| <= hi`` (seconds)."""
    host: str
    other: str
    logged: datetime
    lo: float
    hi: float
    shape: str
    said: str


def absolute_bounds(store: Store) -> list[AbsoluteBound]:
    """The measurements that print a difference without its sign (Ceph's clock skew)."""
    if not _has_table(store, "_absolute_measurements"):
        return []
    rows = store.con.execute("""SELECT host, other_host, l_us, greatest(lo_s, 0), hi_s, shape, said
                                FROM _absolute_measurements ORDER BY l_us, file_id, record_no""").fetchall()
    return [AbsoluteBound(h, o, datetime.fromtimestamp(l_us / 1e6, timezone.utc), float(lo), float(hi), shape, said)
            for h, o, l_us, lo, hi, shape, said in rows]


@dataclass
class MeasuredBounds:
    """Measurements as columns: ``lo <= o[seg] - o[other] <= hi`` (other -1: true time)."""
    seg: np.ndarray
    other: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    table: pa.Table
    when: Format = UTC_FORMAT

    def __len__(self) -> int:
        return len(self.seg)

    def describe(self, k: int) -> str:
        r = {c: self.table.column(c)[k].as_py() for c in ("shape", "host", "other_host", "said", "l_us")}
        at = datetime.fromtimestamp(r["l_us"] / 1e6, timezone.utc)
        other = r["other_host"] or "true time"
        lo, hi = float(self.lo[k]), float(self.hi[k])
        if math.isfinite(lo):
            mid = (lo + hi) / 2
            what = (f"{r['host']} {abs(mid):.1f} s {'ahead of' if mid >= 0 else 'behind'} {other} "
                    f"({lo:+.1f} .. {hi:+.1f} s)")
        elif hi < 0:
            what = f"{r['host']} at least {-hi:.1f} s behind {other}"
        else:
            what = f"{r['host']} at most {hi:+.1f} s ahead of {other}"
        return f"{r['shape']} logged on {r['host']} at {self.when(at)} (logged): {r['said']}: {what}"


def measured_bounds(store: Store, when: Format = UTC_FORMAT) -> MeasuredBounds:
    """The prepared measurements (:func:`prepare_measurements`) on the current
    segments (``event_segments``); none where none were prepared."""
    if not _has_table(store, "_measurements") or \
            not store.con.execute("SELECT count(*) FROM _measurements").fetchall()[0][0]:
        t = pa.table({"seg": pa.array([], pa.int64())})
        e = np.zeros(0)
        return MeasuredBounds(e.astype(np.int64), e.astype(np.int64), e, e, t, when)
    t = store.con.sql(_PLACED).to_arrow_table()
    col: Callable[[str, Any], np.ndarray] = lambda c, d: t.column(c).to_numpy().astype(d)  # noqa: E731
    return MeasuredBounds(col("seg", np.int64), col("other_seg", np.int64), col("lo_s", float),
                          col("hi_s", float), t, when)
