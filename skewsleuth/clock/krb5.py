"""Kerberos exchanges logged by both the client (a KRB5_TRACE file) and the KDC.

The KDC logs each AS request it answers with an error once, naming the client by
address, the client principal and the error::

    krb5kdc[..](info): AS_REQ (8 etypes {...}) 10.0.0.5: PREAUTH_FAILED: alice@EXAMPLE.TEST for
        krbtgt/EXAMPLE.TEST@EXAMPLE.TEST, Clock skew too great

and the client's trace logs sending the request and receiving that error
(:mod:`skewsleuth.sources.krb5trace`). Neither side logs anything that names the
request itself (its nonce), so the requests are matched by order: within one client
host (the KDC's address mapped by the case file's ``hosts:``), one client principal and
one error text, the n-th exchange the client logged is the n-th the KDC logged, and
only where both logs hold the same number of them (a trace or a KDC log that covers
only part of the time pairs nothing rather than the wrong requests).

Each matched exchange is two messages for the pair machinery
(:mod:`skewsleuth.clock.pairs`): the request (client sent, KDC received) and the
error reply (KDC sent, client received), which bound the difference of the two clocks
from both sides. The KDC logs after it read the request and before it sends the
reply, the client before it sends and after it receives, so both bounds hold.
"""

from __future__ import annotations

from ..case import address_rows
from ..sources import format_in
from ..store import Store

# The KDC's error lines: address, status, client principal, service principal, error.
_KDC_LINE = r"^(?:AS_REQ|TGS_REQ) \(.*\) (\S+): ([A-Z_]+): ([^\s,]+) for ([^\s,]+), (.+)$"

KRB5_MESSAGES = rf"""
WITH kdc AS (
  SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us,
         regexp_extract(message, '{_KDC_LINE}', ['addr', 'status', 'principal', 'service', 'error']) AS m
  FROM events WHERE provider = 'krb5kdc' AND (message LIKE 'AS_REQ %' OR message LIKE 'TGS_REQ %')
), kdc_x AS (
  SELECT k.*, coalesce(a.host, a.address, lower(k.m.addr)) AS client,
         k.m.principal AS principal, trim(k.m.error) AS error
  FROM kdc k LEFT JOIN host_addresses a ON a.raw = k.m.addr
  WHERE k.m.status <> '' AND k.m.status <> 'ISSUE' AND k.m.principal <> ''
), kdc_n AS (
  SELECT *, row_number() OVER w AS n, count(*) OVER (PARTITION BY client, principal, error) AS total
  FROM kdc_x WINDOW w AS (PARTITION BY client, principal, error ORDER BY us, file_id, seq)
), trace AS (
  SELECT file_id, record_no, coalesce(record_id, record_no) AS seq, host, epoch_us(logged) AS us,
         json_extract_string(data, ['$.pid', '$.exchange', '$.step', '$.principal', '$.error']) AS f
  FROM events WHERE {format_in(lambda s: s.messages == "kerberos")} AND json_extract_string(data, '$.step') IS NOT NULL
), client_x AS (
  SELECT e.file_id, e.record_no, e.seq, e.host, e.us, e.f[4] AS principal, trim(e.f[5]) AS error,
         r.file_id AS q_file, r.record_no AS q_rn, r.seq AS q_seq, r.us AS q_us
  FROM trace e JOIN trace r ON r.file_id = e.file_id AND r.f[1] = e.f[1] AND r.f[2] = e.f[2] AND r.f[3] = 'request'
  WHERE e.f[3] = 'error' AND e.f[4] IS NOT NULL
), client_n AS (
  SELECT *, row_number() OVER w AS n, count(*) OVER (PARTITION BY lower(host), principal, error) AS total
  FROM client_x WINDOW w AS (PARTITION BY lower(host), principal, error ORDER BY us, file_id, seq)
), x AS (
  SELECT c.file_id AS c_file, c.record_no AS c_rn, c.seq AS c_seq, c.host AS c_host, c.us AS c_us,
         c.q_file, c.q_rn, c.q_seq, c.q_us,
         k.file_id AS k_file, k.record_no AS k_rn, k.seq AS k_seq, k.host AS k_host, k.us AS k_us,
         'krb5' || chr(31) || lower(c.host) || chr(31) || c.principal || chr(31) || c.error || chr(31) || c.n AS key,
         'Kerberos ' || c.principal || ': ' || c.error AS label
  FROM client_n c JOIN kdc_n k ON k.client = lower(c.host) AND k.principal = c.principal AND k.error = c.error
       AND k.n = c.n AND k.total = c.total
  WHERE lower(k.host) <> lower(c.host)
)
SELECT q_file AS file_id, q_rn AS record_no, q_seq AS seq, c_host AS host, q_us AS us, 'outgoing' AS direction,
       key || chr(31) || 'request' AS key, label, '' AS peer, 'Kerberos' AS via, TRUE AS sure FROM x
UNION ALL
SELECT k_file, k_rn, k_seq, k_host, k_us, 'incoming', key || chr(31) || 'request', label, '', 'Kerberos', TRUE FROM x
UNION ALL
SELECT k_file, k_rn, k_seq, k_host, k_us, 'outgoing', key || chr(31) || 'response', label, '', 'Kerberos', TRUE FROM x
UNION ALL
SELECT c_file, c_rn, c_seq, c_host, c_us, 'incoming', key || chr(31) || 'response', label, '', 'Kerberos', TRUE FROM x
"""

# Every address a KDC line names, as written (raw), in one spelling (address, as
# skewsleuth.case.normalize_address writes it) and the host the case file maps it to;
# empty when the investigation made none.
HOST_ADDRESSES = "CREATE TABLE IF NOT EXISTS host_addresses (raw VARCHAR, address VARCHAR, host VARCHAR)"
_KDC_ADDRESSES = f"""SELECT DISTINCT regexp_extract(message, '{_KDC_LINE}', 1) AS raw FROM events
                     WHERE provider = 'krb5kdc' AND (message LIKE 'AS_REQ %' OR message LIKE 'TGS_REQ %')"""


def map_kdc_addresses(store: Store, addresses: dict[str, str]) -> None:
    """``host_addresses``: every address a KDC line names (it logs Kerberos requests by
    address) in the spelling the case file's addresses have, with the host
    ``addresses`` (the case file's ``hosts:``) maps it to."""
    raws = [r for (r,) in store.con.execute(_KDC_ADDRESSES).fetchall() if r]
    store.con.execute("DROP TABLE IF EXISTS host_addresses")
    store.con.execute(HOST_ADDRESSES)
    rows = address_rows(raws, addresses)
    if rows:
        store.con.executemany("INSERT INTO host_addresses VALUES (?, ?, ?)", rows)
