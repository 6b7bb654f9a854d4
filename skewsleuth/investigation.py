"""The investigation pipeline: sources -> store -> clock -> incidents -> root causes.

``investigate(paths, case=...)`` is the library's main verb; the CLI's
``skewsleuth investigate`` only parses arguments, calls it and renders the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa

from .case import Case, CaseError, address_rows, load_case
from .clock.krb5 import HOST_ADDRESSES, KDC_ADDRESSES
from .clock.model import ClockModel, build_clock_model
from .hosts import canonical_map, canonical
from .incident import Incident, find_incidents
from .ingest import IngestSummary, find_case_files, ingest
from .rca import Diagnosis, diagnose
from .rules import load_rules
from .rules.matcher import match_rules
from .sources import host_names_sql
from .store import Store, StoreError
from .workers import SchedulerError
from .timefmt import clockface


class InputError(Exception):
    """Unusable input or arguments (exit status 2)."""


@dataclass
class Verdict:
    ingest: IngestSummary
    model: ClockModel
    incidents: list[Incident]
    diagnoses: list[Diagnosis]
    case: Case
    store: Store
    notes: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if (self.ingest.quarantined or self.ingest.files_failed) else 0

    def to_dict(self) -> dict:
        return verdict_dict(self)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 3)


def _drift(e) -> dict:
    """A segment's clock rate in ppm (positive: it gains), where pairs span hours."""
    if e.drift is None:
        return {}
    return {"drift_ppm": round(e.drift.rate * 1e6, 2), "drift_low_ppm": round(e.drift.low * 1e6, 2),
            "drift_high_ppm": round(e.drift.high * 1e6, 2)}


def verdict_dict(v: Verdict) -> dict:
    hosts = []
    for name in sorted(v.model.hosts):
        hc = v.model.hosts[name]
        hosts.append({
            "host": name,
            "platform": hc.platform,
            "boots": [_iso(b.after) for b in hc.boots],
            "steps": [{"at": _iso(b.before or b.after), "delta_s": _num(next((d for d in (b.delta_s, b.measured_s, b.delta_max_s)
                                                                         if d is not None), None)),
                       "source": b.source, "inferred": b.inferred, "set_by": b.setter,
                       "to": _iso(b.after)} for b in hc.steps],
            "segments": [{"from": _iso(e.segment.logged_from), "to": _iso(e.segment.logged_to),
                          "offset_s": _num(e.offset_s), "offset_low_s": _num(e.interval.low),
                          "offset_high_s": _num(e.interval.high),
                          "basis": e.interval.basis or ["no clock evidence"],
                          "evidence": e.interval.evidence[:5], "events": e.segment.events,
                          **_drift(e),
                          "suspect": e.suspect} for e in hc.segments if e.segment.events],
        })
    incidents = []
    for inc, dg in zip(v.incidents, v.diagnoses):
        incidents.append({
            "onset": _iso(inc.onset), "end": _iso(inc.end), "symptoms": inc.symptoms,
            "signatures": inc.signatures, "signature_counts": inc.signature_counts,
            "protocols": inc.protocols, "tolerance_s": inc.tolerance_s,
            "hosts": sorted(inc.involved),
            "root_causes": [{"rank": i + 1, "kind": c.kind, "host": c.host, "offset_s": _num(c.offset_s),
                             "offset_low_s": c.offset_low_s, "offset_high_s": c.offset_high_s,
                             "since": _iso(c.at), "until": _iso(c.until), "score": c.score,
                             "what": c.what or None, "beyond_s": c.beyond_s, "evidence": c.evidence}
                            for i, c in enumerate(dg.root_causes)],
            "ruled_out": [{"what": r.what, "at": _iso(r.at), "reason": r.reason, "kind": r.kind, "host": r.host}
                          for r in dg.ruled_out],
            "remediation": [{"host": r.host, "steps": r.steps, "verify": r.verify, "notes": r.notes}
                            for r in dg.remediation],
            "first_symptoms": inc.first_records,
        })
    failures = [{"path": p, "reason": r} for p, r in v.ingest.failures]
    return {
        "ingest": {**v.ingest.as_dict(), "failures": failures},
        "case": {"timezone": v.case.timezone_name, "references": v.case.references, "files": v.case.sources},
        "hosts": hosts,
        "incidents": incidents,
        "contradictions": [{k: x for k, x in c.items() if not k.startswith("_")} for c in v.model.contradictions],
        "notes": v.notes,
    }


def _canonicalise(store: Store, case: Case) -> None:
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
    # name (case, references, rules' suspects), matched as it is: lowered again in SQL,
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
    # The addresses KDC lines name, for the clock model (Kerberos requests a KDC logs by
    # address): spelled one way by the same function as the case file's.
    raws = [r for (r,) in store.con.execute(KDC_ADDRESSES).fetchall() if r]
    store.con.execute("DROP TABLE IF EXISTS host_addresses")
    store.con.execute(HOST_ADDRESSES)
    rows = address_rows(raws, case.addresses)
    if rows:
        store.con.executemany("INSERT INTO host_addresses VALUES (?, ?, ?)", rows)


# What makes two records the same record, and the hash that finds the likely ones.
_RECORD = ("host", "format", "logged", "provider", "event_id", "record_id", "channel", "message", "data")
_RECORD_HASH = f"hash({', '.join(_RECORD)})"


def _drop_duplicates(store: Store) -> int:
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


def _roles(store: Store) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    rows = store.con.execute("""
        SELECT host, bool_or(event_id = 14619 OR lower(host) LIKE '%edge%'
                             OR (provider ILIKE 'LS %' AND message ILIKE '%Access Edge%'))
        FROM events GROUP BY host""").fetchall()
    for host, edge in rows:
        if edge:
            roles.setdefault(host, set()).add("lync-edge")
    for (suspect,) in store.con.execute(
            "SELECT DISTINCT suspect_raw FROM symptoms WHERE protocol = 'sip-ms-identity' AND role = 'symptom' "
            "AND suspect_raw IS NOT NULL AND suspect_raw <> host").fetchall():
        roles.setdefault(suspect.lower(), set()).add("lync-edge")
    return roles


def investigate(paths: list[str | Path], case: str | Path | Case | None = None, *, db: str | Path | None = None,
                host: str | None = None, rules: list[Path] | None = None, timezone: str | None = None,
                progress: Callable[[Path], None] | None = None, workers: int | None = None,
                scheduler: str | None = None) -> Verdict:
    """Investigate the evidence under ``paths`` and return the verdict.

    ``case`` is a case file (YAML) or a :class:`Case`; case files and change logs found
    among the evidence are used too. ``db`` keeps the case database in a file, and
    beside it (``<db>.parsed/``) every file as parsed, so that investigating again
    parses only the files that changed. ``workers`` processes read the files (default:
    every core for large inputs), or the Dask cluster at ``scheduler`` does; the
    verdict is the same. Raises :class:`InputError` for unusable input.
    """
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {timezone!r} (expected an IANA name like America/Chicago)") from None
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise InputError(f"no such file or folder: {missing[0]}")
    if isinstance(case, Case):
        the_case = case
    elif case is not None:
        try:
            the_case = load_case(Path(case), default_zone=timezone)
        except CaseError as exc:
            raise InputError(str(exc)) from None
    else:
        the_case = Case()
        # The zone must be known before text logs are read: look for a case file first.
        for found in find_case_files(files)[:1]:
            try:
                the_case = load_case(found, default_zone=timezone)
            except CaseError:
                pass
    if timezone and the_case.timezone_name == "UTC":
        try:
            the_case.timezone, the_case.timezone_name = ZoneInfo(timezone), timezone
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {timezone!r} (expected an IANA name like America/Chicago)") from None
    try:
        rule_pack = load_rules(rules)
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from None
    try:
        store = Store(db)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    cache = Path(f"{db}.parsed") if db else None
    # Our own outputs are not evidence, even when kept inside the evidence folder.
    own = {Path(f"{db}{suffix}") for suffix in ("", ".wal", ".parsed")} if db else set()
    try:
        summary = ingest(store, files, the_case, host=host, progress=progress, workers=workers,
                         scheduler=scheduler, cache=cache, exclude=own)
    except SchedulerError as exc:
        raise InputError(str(exc)) from None
    if summary.records - summary.quarantined == 0 and not the_case.changes:
        reasons = "; ".join(f"{p}: {r}" for p, r in summary.failures[:3])
        raise InputError("nothing could be read from the input" + (f" ({reasons})" if reasons else ""))
    try:
        _canonicalise(store, the_case)
        summary.duplicates = _drop_duplicates(store)
        model = build_clock_model(store, the_case)
        match_rules(store, rule_pack, the_case.addresses)
        when = clockface(the_case.timezone)
        incidents = find_incidents(store, when=when)
    except duckdb.OutOfMemoryException:
        raise InputError(f"the case database needed more than its memory limit ({store.memory_limit}): set "
                         f"SKEWSLEUTH_MEMORY_LIMIT higher (e.g. 4GB)") from None
    roles = _roles(store)
    diagnoses = [diagnose(inc, model, the_case, roles, when) for inc in incidents]
    notes = [f"observation of {o.host} not used: {why}" for o, why in model.unmatched_observations]
    notes += [f"case entry not used ({src}): {why}" for src, _, why in the_case.rejected]
    notes += the_case.notes + summary.notes
    return Verdict(summary, model, incidents, diagnoses, the_case, store, notes)
