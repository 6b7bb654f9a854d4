"""Normalisation, between reading and the clock model: one name per host, one copy of
each record, and the roles hosts play.
"""

from __future__ import annotations

import pyarrow as pa

from .case import Case
from .hosts import is_address, canonical, canonical_map, host_key
from .sources import host_names_sql
from .store import Store


def canonicalise(store: Store, case: Case) -> None:
    """One spelling per host, in the events and in the case (references, changes,
    observations, addresses): the names the evidence and the case give hosts, short
    names joined to their FQDN (:func:`.hosts.canonical_map`)."""
    _apply_aliases(store, case)
    spellings = [h for (h,) in store.con.execute("SELECT DISTINCT host FROM events").fetchall()]
    names = list(spellings)
    # Names hosts give each other (SIP peers, the Edge an ms-ep-fqdn names): they let
    # a trace that only knows its folder's short name find its FQDN.
    given = host_names_sql()
    if given is not None:
        names += [n for (n,) in store.con.execute(f"""
            SELECT DISTINCT n FROM ({given})
            WHERE n IS NOT NULL AND n <> '' AND NOT regexp_matches(n, '^[0-9.:]+$')""").fetchall()]
    extra = case.references + [c.host for c in case.changes if c.host] + [o.host for o in case.observations]
    extra += list(case.addresses.values())
    mapping = canonical_map(names + extra)
    # Each spelling the events use, with the name the same function gives every other
    # name (case, references, hosts rules read from records), matched as it is: lowered again in SQL,
    # a name written with a trailing dot or a tab kept its spelling. Events are stored
    # with their names keyed (hosts.host_keys): only those that change again are here.
    renamed = [(h, c) for h in spellings if (c := canonical(h, mapping)) and c != h]
    store.put_table("host_names", pa.table({"name": [h for h, _ in renamed], "host": [c for _, c in renamed]},
                                           schema=pa.schema([("name", pa.string()), ("host", pa.string())])))
    if renamed:
        store.con.execute("UPDATE events SET host = m.host FROM host_names m WHERE events.host = m.name")
    case.references = [canonical(r, mapping) for r in case.references]
    case.changes = [type(c)(c.at, c.what, canonical(c.host, mapping), c.source, c.note) for c in case.changes]
    case.observations = [type(o)(canonical(o.host, mapping), o.at, o.shown, o.uncertainty_s, o.source)
                         for o in case.observations]
    case.addresses = {a: canonical(h, mapping) for a, h in case.addresses.items()}


def _apply_aliases(store: Store, case: Case) -> None:
    """The other names the case file's ``hosts:`` gives a host (beside its addresses):
    records a host wrote under one of them (a Mac's syslog names it by whatever DHCP
    called it that day) are that host's. A name that is an address is left to the
    address mapping: a record's own host is never an address a peer knew it by."""
    aliases = {host_key(name): host_key(host) for name, host in case.addresses.items()
               if not is_address(name) and host_key(name) != host_key(host)}
    if not aliases:
        return
    store.put_table("host_aliases", pa.table({"name": list(aliases), "host": list(aliases.values())},
                                             schema=pa.schema([("name", pa.string()), ("host", pa.string())])))
    store.con.execute("UPDATE events SET host = a.host FROM host_aliases a WHERE events.host = a.name")


# What makes two records the same record, and the hash that finds the likely ones.
_RECORD = ("host", "format", "logged", "provider", "event_id", "record_id", "channel", "message", "data")
_RECORD_HASH = f"hash({', '.join(_RECORD)})"


def drop_duplicates(store: Store) -> int:
    """Records collected twice (the same log copied, overlapping rotations, rsyslog
    writing one line to two files) are one record: the copy in the first file stays.

    A record is the same when host, format, time, provider, event id, record id,
    channel and text all agree; within one file nothing is dropped.
    """
    # A hash of each record first: a record of a later file whose hash is that of a
    # record of an earlier file is compared in full with the first record of that hash.
    # The hashes whose records are not all that record (a collision, few or none) have
    # their records compared in full with each other: a collision merges nothing.
    # Each step is a table of its own, so that the joins that read records' text know
    # how few rows they are given (as CTEs, DuckDB hashed all ten million events' text
    # to join none), and none runs when no hash is shared.
    con = store.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dup_later AS
        WITH h AS MATERIALIZED (
          SELECT file_id, record_no, {_RECORD_HASH} AS k FROM events
        ), shared AS (
          SELECT k, min(file_id) AS first_file FROM h GROUP BY k HAVING min(file_id) <> max(file_id)
        ), firsts AS (
          SELECT k, first_file, min(record_no) AS first_no FROM h JOIN shared USING (k)
          WHERE h.file_id = first_file GROUP BY k, first_file
        )
        SELECT h.file_id, h.record_no, h.k, first_file, first_no FROM h JOIN firsts USING (k)
        WHERE h.file_id <> first_file""")
    con.execute("CREATE OR REPLACE TABLE duplicates (file_id INTEGER, record_no BIGINT)")
    if con.execute("SELECT count(*) FROM dup_later").fetchall()[0][0]:
        same = " AND ".join(f"e.{c} IS NOT DISTINCT FROM f.{c}" for c in _RECORD)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE dup_compared AS
            SELECT l.file_id, l.record_no, l.k, {same} AS same
            FROM dup_later l JOIN events e USING (file_id, record_no)
                 JOIN events f ON f.file_id = l.first_file AND f.record_no = l.first_no""")
        con.execute("CREATE OR REPLACE TEMP TABLE dup_unsure AS SELECT DISTINCT k FROM dup_compared WHERE NOT same")
        con.execute("""INSERT INTO duplicates SELECT file_id, record_no FROM dup_compared
                       WHERE k NOT IN (SELECT k FROM dup_unsure)""")
        if con.execute("SELECT count(*) FROM dup_unsure").fetchall()[0][0]:
            con.execute(f"""
                INSERT INTO duplicates
                SELECT file_id, record_no FROM (
                  SELECT file_id, record_no, min(file_id) OVER (PARTITION BY {', '.join(_RECORD)}) AS first_file
                  FROM events e
                  WHERE {_RECORD_HASH} IN (SELECT k FROM dup_unsure))
                WHERE file_id <> first_file""")
        con.execute("DROP TABLE dup_compared")
        con.execute("DROP TABLE dup_unsure")
    con.execute("DROP TABLE dup_later")
    n = con.execute("SELECT count(*) FROM duplicates").fetchall()[0][0]
    if n:
        con.execute("""DELETE FROM events USING duplicates d
                       WHERE events.file_id = d.file_id AND events.record_no = d.record_no""")
    return n


def host_roles(store: Store) -> dict[str, set[str]]:
    """Each host's roles the evidence shows, for the remediation runbooks: only a
    Lync/SfB Edge, by its events (14619, an Access Edge message of an ``LS`` provider, a
    name with "edge") or as the signer a rejected ms-identity signature names. Needs the
    ``symptoms`` table (:func:`.rules.matcher.match_rules`)."""
    roles: dict[str, set[str]] = {}
    rows = store.con.execute("""
        SELECT host, bool_or(event_id = 14619 OR lower(host) LIKE '%edge%'
                             OR (provider ILIKE 'LS %' AND message ILIKE '%Access Edge%'))
        FROM events GROUP BY host""").fetchall()
    for host, edge in rows:
        if edge:
            roles.setdefault(host, set()).add("lync-edge")
    for (signer,) in store.con.execute(
            "SELECT DISTINCT other_raw FROM symptoms WHERE protocol = 'sip-ms-identity' AND role = 'symptom' "
            "AND other_raw IS NOT NULL AND other_raw <> host").fetchall():
        roles.setdefault(signer.lower(), set()).add("lync-edge")
    return roles
