"""Message pairs: the same message logged by its sender and by its receiver.

A message cannot arrive before it was sent. If host A logged sending it at ``t_s``
(on A's clock) and host B logged receiving it at ``t_r`` (on B's clock), then in true
time ``t_r - o_B >= t_s - o_A``, i.e. ``o_B - o_A <= t_r - t_s``: every pair bounds
the difference of two segments' offsets from one side, and a request with its
response bounds it from both, as NTP's four timestamps do (RFC 5905, 8).

Pairs are matched in DuckDB once per model build into ``_message_pairs`` (one row per
message: the sending record, the receiving record, ``d_us`` = logged received -
logged sent, widened by the tick of both logs), placed on the current segments
(``_pairs``) and reduced there: per ordered pair of segments only the tightest bound
survives, so a million messages become at most as many constraints, as columns.

Matched:

* Lync/Skype for Business SIPStack protocol records (CLS, OCSLogger), by Call-ID,
  CSeq and start line, an ``outgoing`` record on one host with an ``incoming`` one
  on another;
* application logs (:mod:`..sources.applog`) with a direction, by request id, by the
  span of a W3C ``traceparent`` (the caller logs it as its span, the callee as its
  parent), and by the fields the case file names (``correlation_keys``), each with
  its phase (request / response);
* syslog (RFC 5424 structured data, ``name=value`` words of the message) and journal
  messages with a direction, by the same keys;
* Kerberos requests a client's trace and the KDC's log both hold (:mod:`.krb5`);
* OpenTelemetry spans: a client (producer) span and the server (consumer) span whose
  parent it is, in the same trace: the server span starts after the client's and,
  for client and server, ends before it;
* request ids and case keys that no record gives a direction, logged on exactly two
  hosts (a logback gateway's ``--> POST`` / ``<-- 200``, a structlog service's
  ``request started`` / ``request finished``), by nesting: the caller's records of the
  key bracket the call, the callee's lie within them, as a child span lies within its
  parent's in Jaeger's and Zipkin's clock skew adjustment. A duration read on one clock
  does not depend on its offset, so the side whose span is longer by more than both
  logs' ticks (and drift) is the caller; then ``callee.first - o_callee >= caller.first
  - o_caller`` and ``callee.last - o_callee <= caller.last - o_caller``: two pairs a
  key, from both sides like NTP's four timestamps (``via = 'nested'``). An access log's
  one line a request spans the request when it gives its duration (nginx
  ``$request_time``, envoy ``%DURATION%``). A key logged once on a side otherwise, on
  three hosts or more, or spans as long as each other within the ticks pair nothing
  (see ``_NESTED``); a side whose span crosses a segment boundary or holds a record
  read twice is dropped on the segments at hand (``_NEST_PAIRS``). Two callees of a
  third host whose logs are missing, called with the same id, look like a caller
  and its callee: nesting takes for granted that they are not.

A retransmitted message is paired with its first send. A record that only may be the
send (a traceparent's record that does not say it is the call) gives way to the
span's first record on that host: the call cannot have been made before it. A message more than one host
sent is paired only where no third host took part or with the peer the receiver
names: a bound must hold whatever copy arrived.

References: RFC 3261 (SIP transaction identity: Call-ID, CSeq); RFC 5905 (on-wire
offset bounds); W3C Trace Context (traceparent); OpenTelemetry trace API (span kinds,
parent span); Jaeger deployment documentation, "Clock Skew Adjustment" (a child span
shifted into its parent's); Zipkin's ``zipkin.internal.CorrectForClockSkew`` (a server
span moved within its client span); Microsoft, "Centralized Logging Service in Lync Server 2013".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

import numpy as np
import pyarrow as pa

from ..case import CorrelationKey
from ..sources import DIRECTION_WORDS, format_in
from ..sources.contract import peer_host_sql
from ..store import Store
from ..timefmt import UTC_FORMAT, Format
from .drift import MAX_RATE
from .krb5 import HOST_ADDRESSES, KRB5_MESSAGES

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The records that name messages, by the shape of their keys (sources.contract).
_SIP = format_in(lambda s: s.messages == "sip")
_CORRELATED = format_in(lambda s: s.messages == "correlated")
_TEXT = format_in(lambda s: s.messages == "text")

def _peer_sql(expr: str) -> str:
    """The host a peer names, lower case: scheme and path stripped too
    ("https://api01.corp:8443/v1/x"); '' when none."""
    bare = rf"regexp_replace(regexp_replace({expr}, '^[A-Za-z][A-Za-z0-9+.-]*://', ''), '/.*$', '')"
    return f"lower(coalesce({peer_host_sql(bare)}, ''))"


# A logged time is read up to one tick early: the tick of a file is the coarsest its
# times show (whole seconds, milliseconds, else microseconds).
_RESOLUTION = f"""
CREATE OR REPLACE TEMP TABLE _resolution AS
SELECT file_id, CASE WHEN bool_and(epoch_us(logged) % 1000000 = 0) THEN 1000000
                     WHEN bool_and(epoch_us(logged) % 1000 = 0) THEN 1000 ELSE 1 END AS res_us
FROM events WHERE {format_in(lambda s: s.messages is not None)} GROUP BY file_id
"""

# Every record that sends or receives an identified message, once per model build:
# SIP by Call-ID, CSeq and start line; application logs by request id, by a
# traceparent's span (the sender logs it as its span, the receiver as its parent),
# and by the case's correlation keys, each with the phase (request / response).
_SIP_MESSAGES = f"""
SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us, f[1] AS direction,
       'sip' || chr(31) || f[2] || chr(31) || f[3] || chr(31) || f[4] AS key, f[4] AS label,
       f[5] AS peer, 'SIP' AS via, TRUE AS sure, NULL::VARCHAR AS nest, NULL::BIGINT AS span_from_us,
       NULL::BIGINT AS span_to_us
FROM (SELECT *, json_extract_string(data, ['$.direction', '$.call_id', '$.cseq', '$.start_line', '$.peer']) AS f
      FROM events WHERE {_SIP})
WHERE f[1] IN ('incoming', 'outgoing') AND f[2] IS NOT NULL AND f[3] IS NOT NULL AND f[4] IS NOT NULL
"""

_APP_MESSAGES = rf"""
SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us, d AS direction,
       $name || chr(31) || k || chr(31) || coalesce(ph, '') AS key, $name || ' ' || k AS label,
       f[3] AS peer, 'correlated' AS via, {{sure}} AS sure, {{nest}} AS nest,
       TRY_CAST(f[5] AS BIGINT) AS span_from_us, TRY_CAST(f[6] AS BIGINT) AS span_to_us
FROM (SELECT *, {{key}} AS k, {{direction}} AS d, {{phase}} AS ph
      FROM (SELECT *, json_extract_string(data, ['$.corr.direction', '$.corr.phase', '$.corr.peer',
                                                 '$.corr.kind', '$.corr.request_start_us',
                                                 '$.corr.request_end_us']) AS f
            FROM events WHERE {_CORRELATED}))
WHERE (d IN ('incoming', 'outgoing') OR {{undirected}}) AND k IS NOT NULL AND k <> ''
"""

# syslog (RFC 5424 structured data, or name=value words of the message) and journal
# messages: the same keys, where the records say their direction.
_TEXT_MESSAGES = f"""
SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us, d AS direction,
       $name || chr(31) || k || chr(31) || coalesce(ph, '') AS key, $name || ' ' || k AS label,
       '' AS peer, 'correlated' AS via, TRUE AS sure, {{nest}} AS nest, NULL::BIGINT AS span_from_us,
       NULL::BIGINT AS span_to_us
FROM (SELECT *, {{key}} AS k, {{direction}} AS d, {{phase}} AS ph FROM events WHERE {_TEXT})
WHERE (d IN ('incoming', 'outgoing') OR {{undirected}}) AND k IS NOT NULL AND k <> ''
"""

# A traceparent logged by both sides of a call: the caller's span is the callee's
# parent. Spans themselves (with an end) are paired as spans below, not here; nor are
# responses, and a server's outgoing record is its response: a callee of that span was
# called before it. The caller's record is sure to be the call only when it says so
# (phase request, kind client / producer); otherwise the span's first record on that
# host, its own request received included, is taken as the earliest the call was made.
_TRACE_SKIP = """(json_extract_string(data, '$.corr.end_us') IS NOT NULL
     OR coalesce(f[2] = 'response' OR (f[1] = 'outgoing' AND f[4] IN ('server', 'consumer')), FALSE))"""
_TRACE_KEY = f"""CASE WHEN {_TRACE_SKIP} THEN NULL
     WHEN f[1] = 'outgoing' THEN json_extract_string(data, '$.corr.span_id')
     ELSE json_extract_string(data, '$.corr.parent_span_id') END
     || '/' || coalesce(json_extract_string(data, '$.corr.trace_id'), '')"""
_TRACE_SURE = "coalesce(f[2] = 'request' OR f[4] IN ('client', 'producer'), FALSE)"
_SPAN_OPENED = f"""
SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us,
       'outgoing' AS direction, 'traceparent' || chr(31) || k || chr(31) AS key, 'traceparent ' || k AS label,
       '' AS peer, 'correlated' AS via, FALSE AS sure, NULL::VARCHAR AS nest, NULL::BIGINT AS span_from_us,
       NULL::BIGINT AS span_to_us
FROM (SELECT *, json_extract_string(data, '$.corr.span_id') || '/'
                || coalesce(json_extract_string(data, '$.corr.trace_id'), '') AS k
      FROM (SELECT *, json_extract_string(data, ['$.corr.direction', '$.corr.phase', '$.corr.peer',
                                                 '$.corr.kind']) AS f
            FROM events WHERE {_CORRELATED}))
WHERE f[1] = 'incoming' AND k IS NOT NULL AND NOT {_TRACE_SKIP}
"""

# The same in syslog text: "traceparent=00-<trace>-<span>-<flags>".
_TRACEPARENT_TEXT = "^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$"

# Per message and sending host, its first send: a retransmission's copy may be the
# one that arrived, and it cannot have arrived before the first was sent. A record
# sure to be the send wins over one that only may be (``sure``). A message
# more than one host sent (a proxy forwarding it, a request id reused for the reply)
# pairs only where no third host is involved, or with the host the receiver names as
# its peer, or that names the receiver as its own.
_KEYED_PAIRS = f"""
WITH m AS (SELECT * FROM _messages JOIN _resolution USING (file_id)),
hosts AS (SELECT key, count(DISTINCT host) AS hosts FROM m WHERE direction IS NOT NULL GROUP BY key),
sent AS (
  -- (the first send's fields in one arg_min: each compares the whole key, a third of
  -- the statement's time for six of them at a million messages)
  SELECT key, host, first.file_id, first.record_no, first.seq, first.us, first.res_us, first.peer, label, via, senders
  FROM (SELECT key, host,
               arg_min({{'file_id': file_id, 'record_no': record_no, 'seq': seq, 'us': us, 'res_us': res_us,
                         'peer': peer}}, (NOT sure, us, file_id, record_no)) AS first,
               any_value(label) AS label, any_value(via) AS via, count(*) OVER (PARTITION BY key) AS senders
        FROM m WHERE direction = 'outgoing' GROUP BY key, host)
)
SELECT s.file_id AS s_file, s.record_no AS s_rn, s.seq AS s_seq, s.host AS s_host,
       r.file_id AS r_file, r.record_no AS r_rn, r.seq AS r_seq, r.host AS r_host,
       r.us - s.us + s.res_us + r.res_us AS d_us, s.label AS label, s.via AS via, s.us AS s_us, r.us AS r_us
FROM sent s JOIN m r ON r.key = s.key AND r.direction = 'incoming' AND r.host <> s.host
JOIN hosts h ON h.key = s.key
-- the peers' host names are read only where more than two hosts took part (an OR
-- is evaluated only on the rows still undecided)
WHERE s.senders = 1 OR h.hosts = 2
   OR {_peer_sql('r.peer')} = s.host OR split_part({_peer_sql('r.peer')}, '.', 1) = split_part(s.host, '.', 1)
   OR {_peer_sql('s.peer')} = r.host OR split_part({_peer_sql('s.peer')}, '.', 1) = split_part(r.host, '.', 1)
"""

# Nesting: a key that no record of it gives a direction (a gateway's "--> POST" and
# "<-- 200", a service's "request started" and "request finished", each with the
# request id), logged on exactly two hosts, at least twice on each. Whoever called,
# its records of the key bracket the call and the callee's all lie within them in
# true time (Jaeger's and Zipkin's clock skew adjusters rest on the same: a child
# span lies within its parent's). Which side called is not written down, but a
# duration read on one clock holds whatever its offset is: a side whose span is
# longer than the other's by more than both logs' ticks (and than drift at the fastest
# rate a clock keeps, drift.MAX_RATE, over both) cannot be the callee. Then, like NTP's four timestamps, the starts bound
# the offsets one way (the callee's first record after the caller's) and the ends the
# other (its last before the caller's). Not paired:
# * a side with one record: it brackets nothing, and may be the caller all the same
#   (an access log written once the request is over lies after its upstream's span),
#   unless that record gives its request's span (nginx $request_time, envoy
#   %DURATION%: applog's request_start_us / request_end_us);
# * spans equally long within the ticks: either may be the caller;
# * a key on three hosts or more: siblings of a fan-out do not nest in each other, and
#   which host's span holds all others is known only if every one of them took part
#   in one synchronous chain of calls, which nothing in the records shows (a queue
#   consumer logs the id after the request is over);
# * ids that count requests per process (pino-http's default genReqId counts from 1,
#   fastify's gives req-1, req-2, ...): every host logs the same ones for different
#   requests;
# * a side whose first and last records are on different segments, or read twice
#   (its duration spans a step): dropped once the segments are known (_NEST_PAIRS).
# Two hosts that are both callees of a third whose logs are not at hand (siblings
# called with the same id) are not told from a caller and its callee: resting on
# nesting takes that for granted, and their bounds may miss by the time between the
# two calls (where they contradict, the solve sets pairs aside as for any other).
# Each row keeps the other end of both sides' spans (so_*, ro_*) for that check.
_COUNTER = "(req-)?[0-9]+"
# An access log's duration is read to the millisecond at both ends (applog sets the
# derived end to the earliest it can be): its instant is known to 2 ms beyond the tick.
_SPAN_TICK_US = 2000
_NESTED = f"""
CREATE OR REPLACE TEMP TABLE _nested AS
WITH m AS (
  -- an access log line's span: its other end read to the millisecond (applog)
  SELECT file_id, record_no, seq, host, direction, nest, label, span_from_us IS NOT NULL OR span_to_us IS NOT NULL AS span,
         coalesce(span_from_us, us) AS fu, coalesce(span_to_us, us) AS lu,
         res_us + CASE WHEN span_from_us IS NULL THEN 0 ELSE {_SPAN_TICK_US} END AS fres,
         res_us + CASE WHEN span_to_us IS NULL THEN 0 ELSE {_SPAN_TICK_US} END AS lres
  FROM _messages JOIN _resolution USING (file_id) WHERE nest IS NOT NULL),
keys AS (
  SELECT nest FROM m GROUP BY nest
  HAVING count(DISTINCT host) = 2 AND count(direction) = 0
     AND NOT regexp_full_match(split_part(nest, chr(31), 2), '{_COUNTER}')
), side AS (
  -- (each end's fields in one arg_min / arg_max: each compares the whole key)
  SELECT nest, host, label, f_us, f.file_id AS f_file, f.record_no AS f_rn, f.seq AS f_seq, f.res AS f_res,
         l_us, l.file_id AS l_file, l.record_no AS l_rn, l.seq AS l_seq, l.res AS l_res
  FROM (SELECT nest, host, any_value(label) AS label, min(fu) AS f_us, max(lu) AS l_us,
               arg_min({{'file_id': file_id, 'record_no': record_no, 'seq': seq, 'res': fres}},
                       (fu, file_id, record_no)) AS f,
               arg_max({{'file_id': file_id, 'record_no': record_no, 'seq': seq, 'res': lres}},
                       (lu, file_id, record_no)) AS l
        FROM m SEMI JOIN keys USING (nest) GROUP BY nest, host
        HAVING count(DISTINCT (file_id, record_no)) >= 2 OR bool_or(span))
), n AS (
  -- c: the caller, e: the callee; the label carries both spans for the evidence text
  SELECT c, e, concat_ws(chr(30), c.label, c.host, c.f_us, c.l_us, e.host, e.f_us, e.l_us) AS label
  FROM side c JOIN side e ON e.nest = c.nest AND e.host <> c.host
  -- the caller's least true length against the callee's most: one record's own span
  -- (an access log's) is as long as its duration says, whatever the time's tick
  WHERE (c.l_us - c.f_us) - CASE WHEN c.f_file = c.l_file AND c.f_rn = c.l_rn THEN {_SPAN_TICK_US} ELSE c.f_res END
        >= (e.l_us - e.f_us) + CASE WHEN e.f_file = e.l_file AND e.f_rn = e.l_rn THEN {_SPAN_TICK_US} ELSE e.l_res END
           + {MAX_RATE} * ((c.l_us - c.f_us) + (e.l_us - e.f_us))
)
SELECT c.f_file AS s_file, c.f_rn AS s_rn, c.f_seq AS s_seq, c.host AS s_host,
       e.f_file AS r_file, e.f_rn AS r_rn, e.f_seq AS r_seq, e.host AS r_host,
       e.f_us - c.f_us + c.f_res + e.f_res AS d_us, label, 'nested' AS via, c.f_us AS s_us, e.f_us AS r_us,
       c.l_file AS so_file, c.l_rn AS so_rn, e.l_file AS ro_file, e.l_rn AS ro_rn, TRUE AS starts
FROM n
UNION ALL
SELECT e.l_file, e.l_rn, e.l_seq, e.host, c.l_file, c.l_rn, c.l_seq, c.host,
       c.l_us - e.l_us + e.l_res + c.l_res, label, 'nested', e.l_us, c.l_us, e.f_file, e.f_rn, c.f_file, c.f_rn,
       FALSE
FROM n
"""
_NESTED_COLUMNS = "s_file, s_rn, s_seq, s_host, r_file, r_rn, r_seq, r_host, d_us, label, via, s_us, r_us"

# The nested pairs on the current segments: not those whose sides' spans are not each
# on one segment, or hold a record read twice (the lengths that chose the caller may
# hold a step). Two segments that are the caller by turns, key by key, are not dropped:
# services call each other both ways, and a step inside a segment not yet cut shows
# as just that (its keys' lengths are the same, their bounds stop agreeing, and
# step_boundaries cuts there).
_NEST_PAIRS = f"""
INSERT INTO _pairs
-- step by step: in one join the planner matches the two sides' ends by segment first
WITH a AS MATERIALIZED (
  SELECT n.*, s.segment_id AS s_seg, r.segment_id AS r_seg FROM _nested n
  JOIN event_segments s ON s.file_id = n.s_file AND s.record_no = n.s_rn
  JOIN event_segments r ON r.file_id = n.r_file AND r.record_no = n.r_rn
), b AS MATERIALIZED (
  SELECT a.*, so.segment_id AS so_seg FROM a
  JOIN event_segments so ON so.file_id = a.so_file AND so.record_no = a.so_rn
)
SELECT {_NESTED_COLUMNS}, s_seg, r_seg FROM b n
JOIN event_segments ro ON ro.file_id = n.ro_file AND ro.record_no = n.ro_rn
{{twice}}
WHERE so_seg = s_seg AND ro.segment_id = r_seg
"""
_NEST_TWICE = """
ANTI JOIN ambiguous_records x1 ON x1.file_id = n.s_file AND x1.record_no = n.s_rn
ANTI JOIN ambiguous_records x2 ON x2.file_id = n.r_file AND x2.record_no = n.r_rn
ANTI JOIN ambiguous_records x3 ON x3.file_id = n.so_file AND x3.record_no = n.so_rn
ANTI JOIN ambiguous_records x4 ON x4.file_id = n.ro_file AND x4.record_no = n.ro_rn
"""


# A client span and the server span it caused (its parent is the client's span): the
# server started after the client and ended before it, so the pair bounds the two
# clocks from both sides, as NTP's four timestamps do. Producer and consumer: only
# the start.
_SPAN_PAIRS = f"""
WITH sp AS (
  SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us, res_us,
         TRY_CAST(f[1] AS BIGINT) AS end_us, f[2] AS kind, f[3] AS trace_id, f[4] AS span_id,
         f[5] AS parent_span_id, message
  FROM (SELECT *, json_extract_string(data, ['$.corr.end_us', '$.corr.kind', '$.corr.trace_id', '$.corr.span_id',
                                             '$.corr.parent_span_id']) AS f
        FROM events WHERE {_CORRELATED}) JOIN _resolution USING (file_id)
  WHERE f[2] IN ('client', 'server', 'producer', 'consumer')
), calls AS (
  SELECT p.file_id AS p_file, p.record_no AS p_rn, p.seq AS p_seq, p.host AS p_host, p.us AS p_us,
         p.end_us AS p_end, p.kind AS p_kind, p.res_us AS p_res,
         c.file_id AS c_file, c.record_no AS c_rn, c.seq AS c_seq, c.host AS c_host, c.us AS c_us,
         c.end_us AS c_end, c.kind AS c_kind, c.res_us AS c_res, coalesce(c.message, p.message) AS label
  FROM sp p JOIN sp c ON c.parent_span_id = p.span_id AND c.host <> p.host
   AND p.kind IN ('client', 'producer') AND c.kind IN ('server', 'consumer')
   AND (p.trace_id IS NULL OR c.trace_id IS NULL OR p.trace_id = c.trace_id)
)
SELECT p_file, p_rn, p_seq, p_host, c_file, c_rn, c_seq, c_host, c_us - p_us + p_res + c_res, label, 'traced',
       p_us, c_us
FROM calls
UNION ALL
SELECT c_file, c_rn, c_seq, c_host, p_file, p_rn, p_seq, p_host, p_end - c_end + p_res + c_res, label, 'traced',
       c_end, p_end
FROM calls WHERE p_kind = 'client' AND c_kind = 'server' AND p_end IS NOT NULL AND c_end IS NOT NULL
"""

# The pairs placed on the current segments; not those of a record logged in a stretch
# its clock read twice (either side of a change back: no one segment's).
_SEGMENT_PAIRS = """
CREATE OR REPLACE TEMP TABLE _pairs AS
SELECT p.*, s.segment_id AS s_seg, r.segment_id AS r_seg
FROM _message_pairs p
JOIN event_segments s ON s.file_id = p.s_file AND s.record_no = p.s_rn
JOIN event_segments r ON r.file_id = p.r_file AND r.record_no = p.r_rn
"""
_NOT_READ_TWICE = """
ANTI JOIN ambiguous_records xs ON xs.file_id = p.s_file AND xs.record_no = p.s_rn
ANTI JOIN ambiguous_records xr ON xr.file_id = p.r_file AND xr.record_no = p.r_rn
"""

# d_us is already widened by the resolution of both clocks' readings: the bound is
# d_us itself (a reading may be up to one tick early on either side). A drifting
# segment's offset is given at its middle: each reading is moved there at the rate
# found (clock/drift.py) and widened by the rate's uncertainty over the distance.
_REDUCE = """
WITH p AS (
  SELECT p.*, d_us
         - coalesce(dr.rate * (r_us - dr.mid_us) - dr.err * abs(r_us - dr.mid_us), 0)
         + coalesce(ds.rate * (s_us - ds.mid_us) + ds.err * abs(s_us - ds.mid_us), 0) AS b_us
  FROM _pairs p LEFT JOIN _drift dr ON dr.seg = p.r_seg LEFT JOIN _drift ds ON ds.seg = p.s_seg
)
SELECT seg_send, seg_recv, host_send, host_recv, bound_s, messages, s_first, s_last, r_first, r_last,
       quickest.via AS via, quickest.label AS example
FROM (
  SELECT s_seg AS seg_send, r_seg AS seg_recv, any_value(s_host) AS host_send, any_value(r_host) AS host_recv,
         min(b_us) / 1e6 AS bound_s, count(*) AS messages,
         -- when the pairs were logged, on each side's clock (how far the bound reaches)
         min(s_us) / 1e6 AS s_first, max(s_us) / 1e6 AS s_last, min(r_us) / 1e6 AS r_first, max(r_us) / 1e6 AS r_last,
         -- of the messages as quick as the quickest, the first logged is the example, every
         -- run (one arg_min for both fields: on one thread a third of the time of two)
         arg_min({'via': via, 'label': label}, (b_us, s_us, s_file, s_rn)) AS quickest
  FROM p GROUP BY s_seg, r_seg
) ORDER BY seg_send, seg_recv
"""


def prepare_messages(store: Store, correlation_keys: Sequence[CorrelationKey | str] = ()) -> None:
    """Match every message logged by its sender and its receiver, once per model
    build (``_message_pairs``): the segments change between uses, the pairs do not.

    ``correlation_keys`` (the case file's) are fields that name one message on both
    its sides, in application logs, syslog structured data or message words."""
    keys = [k if isinstance(k, CorrelationKey) else CorrelationKey(k) for k in correlation_keys]
    # request ids and the case's keys are kept without a direction too, for nesting
    app = [_app_messages("request_id", "json_extract_string(data, '$.corr.request_id')", nest=True),
           _app_messages("traceparent", _TRACE_KEY, phase="''", sure=_TRACE_SURE), _SPAN_OPENED]
    app += [_app_messages(k.name, _app_field(k.name), direction=_app_field(k.direction),
                          phase=f"coalesce(lower({_app_field(k.phase)}), f[2])", nest=True) for k in keys]
    tp = _text_field("traceparent")
    # the header on the wire, logged by both sides: the caller's span and the trace
    span, trace = (f"regexp_extract({tp}, {_literal(_TRACEPARENT_TEXT)}, {g})" for g in (2, 1))
    text = [_text_messages("request_id", f"coalesce({_text_field('request_id')}, {_text_field('x-request-id')})",
                           nest=True),
            _text_messages("traceparent", f"nullif({span} || '/' || {trace}, '/')", phase=None)]
    text += [_text_messages(k.name, _text_field(k.name), direction=k.direction, phase=k.phase, nest=True)
             for k in keys]
    store.con.execute(HOST_ADDRESSES)
    text.append(f"SELECT *, NULL::VARCHAR AS nest, NULL::BIGINT, NULL::BIGINT FROM ({KRB5_MESSAGES})")
    store.con.execute(_RESOLUTION)
    store.con.execute("CREATE OR REPLACE TEMP TABLE _drift (seg INTEGER, mid_us BIGINT, rate DOUBLE, err DOUBLE)")
    store.con.execute("CREATE OR REPLACE TEMP TABLE _messages AS " + " UNION ALL ".join([_SIP_MESSAGES] + app + text))
    store.versions.pop("_pairs", None)
    store.con.execute(_NESTED)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE _message_pairs AS "
                      f"SELECT * FROM ({_KEYED_PAIRS}) UNION ALL SELECT * FROM ({_SPAN_PAIRS}) "
                      f"UNION ALL SELECT {_NESTED_COLUMNS} FROM _nested")


def _app_messages(name: str, key: str, *, direction: str | None = None, phase: str = "f[2]",
                  sure: str = "TRUE", nest: bool = False) -> str:
    """The application log records that send or receive the message ``key`` (SQL)
    names; direction and phase as the source normalised them, unless fields say.
    ``nest``: records without a direction too (``direction`` NULL), with the key
    (name and value, no phase) in ``nest``."""
    d = "f[1]" if direction is None else f"coalesce({_direction_sql(direction)}, f[1])"
    return (_APP_MESSAGES.replace("{key}", key).replace("{direction}", d).replace("{phase}", phase)
            .replace("{sure}", sure).replace("{nest}", "$name || chr(31) || k" if nest else "NULL::VARCHAR")
            .replace("{undirected}", "d IS NULL" if nest else "FALSE").replace("$name", _literal(name)))


def _text_messages(name: str, key: str, *, direction: str = "direction", phase: str | None = "phase",
                   nest: bool = False) -> str:
    """The syslog and journal records that send or receive the message ``key`` names;
    ``phase=None``: the key needs none. ``nest`` as for :func:`_app_messages`."""
    ph = "''" if phase is None else f"lower({_text_field(phase)})"
    return (_TEXT_MESSAGES.replace("{key}", key).replace("{direction}", _text_direction(direction))
            .replace("{phase}", ph).replace("{nest}", "$name || chr(31) || k" if nest else "NULL::VARCHAR")
            .replace("{undirected}", "d IS NULL" if nest else "FALSE").replace("$name", _literal(name)))


def _direction_sql(expr: str) -> str:
    """'outgoing' / 'incoming' from the words logs use for them (those the sources read)."""
    words = lambda side: ", ".join(_literal(w) for w, d in DIRECTION_WORDS.items() if d == side)  # noqa: E731
    return (f"CASE WHEN lower({expr}) IN ({words('outgoing')}) THEN 'outgoing' "
            f"WHEN lower({expr}) IN ({words('incoming')}) THEN 'incoming' END")


def _text_direction(field: str) -> str:
    return _direction_sql(_text_field(field))


def _text_field(name: str) -> str:
    """A field of a syslog or journal record (SQL): an RFC 5424 structured-data
    parameter of that name in any element, else a ``name=value`` (``name="a b"``,
    ``name: value``) word of the message."""
    word = (r"(?:^|[\s,;(\[{])" + re.escape(name) + r"\s*[=:]\s*"
            r"""(?:"([^"]*)"|([^\s,;)\]}"]+))""")
    return (f"coalesce(json_extract_string(data, {_literal('$.structured_data.*.' + _quoted(name))})[1], "
            f"nullif(regexp_extract(message, {_literal(word)}, 1), ''), "
            f"nullif(regexp_extract(message, {_literal(word)}, 2), ''))")


def _app_field(name: str) -> str:
    return f"json_extract_string(data, {_literal('$.fields.' + _quoted(name))})"


def _literal(text: str) -> str:
    """A SQL string literal: key names come from case files, which are evidence too."""
    return "'" + text.replace("'", "''") + "'"


def _quoted(field: str) -> str:
    """A JSON path member, quoted so that dots and dashes in its name are not read as
    path syntax."""
    return '"' + field.replace('"', "") + '"'


def match_pairs(store: Store) -> None:
    """Build ``_pairs``: the message pairs on the current segments (``s_seg``,
    ``r_seg``), unless it is built for them already. Needs :func:`prepare_messages`
    first."""
    current = store.versions.get("event_segments", 0)
    if store.versions.get("_pairs") == current:   # for _pairs: the segments it was built on
        return
    twice = store.con.execute("SELECT count(*) FROM ambiguous_records").fetchall()[0][0]
    store.con.execute(_SEGMENT_PAIRS + (_NOT_READ_TWICE if twice else "") + "WHERE p.via <> 'nested'")
    if store.con.execute("SELECT EXISTS (SELECT 1 FROM _nested)").fetchall()[0][0]:
        store.con.execute(_NEST_PAIRS.replace("{twice}", _NEST_TWICE if twice else ""))
    store.versions["_pairs"] = current


_DESCRIBED = ("host_send", "host_recv", "via", "example")
_DESCRIBE_ONE_BY_ONE = 500


@dataclass
class PairBounds:
    """Per ordered pair of segments, ``o_recv - o_send <= bound_s``: columns, one row
    per segment pair, described on demand."""

    seg_send: np.ndarray
    seg_recv: np.ndarray
    bound_s: np.ndarray
    messages: np.ndarray
    table: pa.Table           # host_send, host_recv, via, example: for the descriptions
    when: Format = UTC_FORMAT
    # the first and last message logged, epoch seconds: sender's (send side's clock),
    # receiver's (receive side's clock); rows of (s first, s last, r first, r last)
    spans: np.ndarray | None = None
    _texts: list | None = None
    _asked: int = 0

    def __len__(self) -> int:
        return len(self.seg_send)

    def describe(self, k: int) -> str:
        # Trial solves ask for a handful (contradictions), the final one for every
        # interval's evidence: read rows one by one until many are asked, then all.
        if self._texts is None:
            self._asked += 1
            if self._asked > _DESCRIBE_ONE_BY_ONE:
                self._texts = [self.table.column(c).to_pylist() for c in _DESCRIBED]
        if self._texts is not None:
            host_send, host_recv, via, example = (col[k] for col in self._texts)
        else:
            host_send, host_recv, via, example = (self.table.column(c)[k].as_py() for c in _DESCRIBED)
        n = int(self.messages[k])
        if via == "nested":
            return _nested_text(n, host_send, host_recv, float(self.bound_s[k]), example or "", self.when)
        return (f"{n} {via} message{'s' if n != 1 else ''} sent by {host_send} and logged by {host_recv}: "
                f"the quickest was logged as received {self.bound_s[k]:+.3f} s after it was sent "
                f"(e.g. {(example or '')[:60]})")


def _nested_text(n: int, host_send: str, host_recv: str, bound_s: float, example: str, when: Format) -> str:
    """A bound from keys paired by nesting, with the example key's two spans."""
    parts = example.rsplit("\x1e", 6)     # the key itself may hold anything
    if len(parts) != 7:
        return (f"{n} keys logged with no direction by {host_send} and {host_recv}, nested: "
                f"o({host_recv}) - o({host_send}) <= {bound_s:+.3f} s")
    key, caller, c_first, c_last, callee, e_first, e_last = parts
    at = lambda us: when(_EPOCH + timedelta(microseconds=int(us)))  # noqa: E731
    says = (f"at most {bound_s:.3f} s ahead of" if bound_s >= 0 else f"at least {-bound_s:.3f} s behind")
    return (f"{n} key{'s' if n != 1 else ''} logged with no direction by {host_send} and {host_recv}, each "
            f"callee's records within its caller's (as tracing tools nest a child span in its parent): "
            f"{host_recv}'s clock is {says} {host_send}'s (e.g. {key[:60]} logged by {caller} from "
            f"{at(c_first)} to {at(c_last)}, by {callee} within it, from {at(e_first)} to {at(e_last)} as logged)")


def pair_bounds(store: Store, when: Format = UTC_FORMAT) -> PairBounds:
    """Every message pair the evidence holds, reduced per segment pair."""
    match_pairs(store)
    t = store.con.sql(_REDUCE).to_arrow_table()
    col = lambda name, dtype: t.column(name).to_numpy().astype(dtype)  # noqa: E731
    spans = np.column_stack([col(c, float) for c in ("s_first", "s_last", "r_first", "r_last")]) if len(t) \
        else np.zeros((0, 4))
    return PairBounds(col("seg_send", np.int64), col("seg_recv", np.int64), col("bound_s", float),
                      col("messages", np.int64), t.select(["host_send", "host_recv", "via", "example"]), when,
                      spans=spans)


# Two readings of one offset difference further apart than this mean a clock stepped
# between them (pair delays are milliseconds to seconds; steps worth finding are not).
STEP_FROM_PAIRS_S = 1.0

_OBSERVATIONS = """
CREATE OR REPLACE TEMP TABLE _obs AS
-- seen from the receiver: o_self - o_other <= d ; from the sender: o_self - o_other >= -d
SELECT r_seg AS seg, r_file AS file_id, r_rn AS record_no, r_seq AS seq, s_seg AS other, TRUE AS upper,
       d_us / 1e6 AS d FROM _pairs
UNION ALL
SELECT s_seg, s_file, s_rn, s_seq, r_seg, FALSE, -d_us / 1e6 FROM _pairs
"""

# The same against the partners' offset intervals of the last solution, for the
# segments named in _suspects (not with each other: their intervals are in doubt):
# every partner at once, so that a host exchanging a
# message or two with each of many partners still shows where its clock stepped.
# ``other`` is the file, so that each log is read in its own write order.
_RESIDUALS = """
CREATE OR REPLACE TEMP TABLE _obs AS
-- o_self <= d + o_other <= d + high(other) ; o_self >= o_other - d >= low(other) - d
SELECT p.r_seg AS seg, p.r_file AS file_id, p.r_rn AS record_no, p.r_seq AS seq, p.r_file AS other,
       TRUE AS upper, p.d_us / 1e6 + i.high AS d
FROM _pairs p JOIN _suspects s ON s.seg = p.r_seg JOIN _intervals i ON i.seg = p.s_seg
WHERE i.high IS NOT NULL AND p.s_seg NOT IN (SELECT seg FROM _suspects)
UNION ALL
SELECT p.s_seg, p.s_file, p.s_rn, p.s_seq, p.s_file, FALSE, i.low - p.d_us / 1e6
FROM _pairs p JOIN _suspects s ON s.seg = p.s_seg JOIN _intervals i ON i.seg = p.r_seg
WHERE i.low IS NOT NULL AND p.r_seg NOT IN (SELECT seg FROM _suspects)
"""

# Per (segment, partner segment), in the segment's write order: the first reading that
# contradicts the readings before it, and the last earlier reading it contradicts.
# The clock stepped between the two.
_DISAGREEMENTS = """
WITH o AS (
  SELECT *, max(CASE WHEN NOT upper THEN d END) OVER w AS lo_before,
            min(CASE WHEN upper THEN d END) OVER w AS hi_before
  FROM _obs
  WINDOW w AS (PARTITION BY seg, other ORDER BY seq, record_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), k AS (
  -- the first contradicting reading, whole: two files' readings with the same seq and
  -- record number are told apart by file, not taken field by field from either
  SELECT seg, other, r.file_id, r.seq, r.upper, r.d
  FROM (SELECT seg, other, arg_min({'file_id': file_id, 'seq': seq, 'upper': upper, 'd': d},
                                   (seq, record_no, file_id)) AS r
        FROM o WHERE lo_before > hi_before + $tol GROUP BY seg, other)
)
SELECT k.seg, k.other, k.file_id, max(o.seq) AS seq_from, k.seq AS seq_to
FROM k JOIN _obs o ON o.seg = k.seg AND o.other = k.other AND o.seq < k.seq AND o.file_id = k.file_id
     AND ((NOT k.upper AND o.upper AND o.d < k.d - $tol) OR (k.upper AND NOT o.upper AND o.d > k.d + $tol))
GROUP BY k.seg, k.other, k.file_id, k.seq
"""

# The biggest jump, forward or back, of each range's log: where the step left its mark.
_BIGGEST_JUMP = """
WITH r AS (SELECT * FROM _ranges),
e AS (
  SELECT r.seg, r.other, e.file_id, e.host, e.record_no, coalesce(e.record_id, e.record_no) AS seq, e.logged,
         lag(e.logged) OVER w AS prev_logged,
         epoch_us(e.logged) - epoch_us(lag(e.logged) OVER w) AS jump_us
  FROM r JOIN events e ON e.file_id = r.file_id
       AND coalesce(e.record_id, e.record_no) BETWEEN r.seq_from AND r.seq_to
  WINDOW w AS (PARTITION BY r.seg, r.other ORDER BY coalesce(e.record_id, e.record_no), e.record_no)
)
SELECT seg, other, j.jump_us, j.file_id, j.host, j.record_no, j.seq, j.logged, j.prev_logged
FROM (SELECT seg, other,
             -- one jump, whole; of two as big (an hour back, then an hour ahead), the
             -- first the log wrote (each field by itself could come from either)
             arg_max({'jump_us': jump_us, 'file_id': file_id, 'host': host, 'record_no': record_no, 'seq': seq,
                      'logged': logged, 'prev_logged': prev_logged}, (abs(jump_us), -seq, -record_no)) AS j
      FROM e WHERE jump_us IS NOT NULL GROUP BY seg, other)
"""


def step_boundaries(store: Store, segments: list, when: Format = UTC_FORMAT, *, suspects: list[int] | None = None,
                    low: np.ndarray | None = None, high: np.ndarray | None = None):
    """Steps no record mentions, found where a host's pairs with one partner segment
    stop agreeing, placed at the biggest jump of the host's own log between them.

    Both hosts of a disagreeing pair see the disagreement; the one whose log jumps
    most is taken to have stepped. One cut per segment pair per call: the caller
    repeats until the pairs agree. Returns ``{host: [Boundary]}``, each placed within
    the segment (of ``segments``, the current ones) it cuts.

    With ``suspects`` (segment ids) and the last solution's offset intervals
    (``low``, ``high`` per segment id), the pairs of each suspect are read against
    all its partners' intervals at once instead.
    """
    from .segments import RUN_GAP_S, Boundary

    match_pairs(store)
    if suspects is None:
        store.con.execute(_OBSERVATIONS)
    else:
        store.con.register("_suspects", pa.table({"seg": pa.array(suspects, pa.int32())}))
        store.con.register("_intervals", pa.table({
            "seg": pa.array(np.arange(len(low)), pa.int32()),
            "low": pa.array(np.where(np.isfinite(low), low, np.nan), from_pandas=True),
            "high": pa.array(np.where(np.isfinite(high), high, np.nan), from_pandas=True)}))
        try:
            store.con.execute(_RESIDUALS)
        finally:
            store.con.unregister("_suspects")
            store.con.unregister("_intervals")
    ranges = store.con.sql(_DISAGREEMENTS, params={"tol": STEP_FROM_PAIRS_S}).to_arrow_table()
    if not len(ranges):
        return {}
    store.con.register("_ranges", ranges)
    try:
        rows = store.con.execute(_BIGGEST_JUMP).fetchall()
    finally:
        store.con.unregister("_ranges")
    best: dict[frozenset, tuple] = {}
    for seg, other, jump, f, host, rn, sq, logged, prev in rows:
        # One partner's disagreement may be a delay unless the log leaps too; all
        # partners' is a step, placed at the biggest jump however small.
        if jump is None or abs(jump) < (RUN_GAP_S * 1e6 if suspects is None else 1):
            continue
        key = frozenset((seg, other))
        if key not in best or abs(jump) > abs(best[key][0]):
            best[key] = (jump, f, host, rn, sq, logged, prev, seg)
    out: dict[str, list[Boundary]] = {}
    seen: set[tuple[int, int]] = set()
    for jump, f, host, rn, sq, logged, prev, seg in best.values():
        if (f, rn) in seen:
            continue
        seen.add((f, rn))
        opener = segments[seg].opened_by
        # A jump this big bounds the step (records are written in true-time order);
        # a small one may be a mere pause where the step hid, and bounds nothing.
        b = Boundary(host, "step", f, rn, sq, prev, logged, None, inferred=True,
                     delta_max_s=jump / 1e6 if abs(jump) >= RUN_GAP_S * 1e6 else None, source="message pairs",
                     within=None if opener is None else (opener.file_id, opener.record_no), placed_within=True)
        b.evidence.append(f"messages {host} exchanged disagree about its clock before and after "
                          f"{when(prev)} -> {when(logged)} (as logged), where its log jumps {jump / 1e6:+.0f} s")
        out.setdefault(host, []).append(b)
    return out
