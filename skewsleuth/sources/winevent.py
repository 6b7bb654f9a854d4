"""Windows event records, whatever their container, as EVENTS batches.

Both the binary EVTX reader and the event-XML reader hand this module records in the
JSON shape the ``evtx`` package renders (``{"Event": {"System": {...}, "EventData":
{...}}}``, attributes under ``"#attributes"``, element text under ``"#text"``). The
System fields are pulled out in one vectorised DuckDB query per batch rather than one
``json.loads`` per record: the parser, not this step, should bound throughput.

Times in Windows events are UTC (``TimeCreated/@SystemTime``), read from the writing
host's clock: they are *logged* times.

References: Microsoft, "Event Schema" (win32 wes, ``EventType`` complex type);
https://github.com/omerbenamram/evtx for the JSON rendering.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import EVENTS
from .base import FileContext

RAW = pa.schema(
    [
        pa.field("part", pa.int32()),           # which file's records (an index into Pending)
        pa.field("record_no", pa.int64()),
        pa.field("record_id", pa.int64()),
        pa.field("json", pa.string()),
        pa.field("default_host", pa.string()),
    ]
)

_PATHS = [
    "$.Event.System.EventRecordID",                      # 1
    "$.Event.System.Computer",                           # 2
    '$.Event.System.TimeCreated."#attributes".SystemTime',  # 3
    "$.Event.System.Channel",                            # 4
    '$.Event.System.Provider."#attributes".Name',        # 5
    "$.Event.System.EventID",                            # 6
    '$.Event.System.EventID."#text"',                    # 7
    "$.Event.RenderingInfo.Message",                     # 8
    '$.Event.System.Security."#attributes".UserID',      # 9
    '$.Event.System.Execution."#attributes".ProcessID',  # 10
]

# One multi-path extraction per record parses its JSON once; a json_extract call per
# field would parse it once per field (measured: 15x slower). The first CTE is
# materialised: inlined, the record's data would be extracted and serialised again for
# each of its uses below (measured: 1.4x slower). The record's JSON itself is not
# carried through them: copying every record twice more cost a sixth of the query.
_SQL = f"""
WITH r AS MATERIALIZED (
  SELECT part, record_no, record_id, default_host,
         json_extract_string(json, {_PATHS!r}) AS s,
         json_extract(json, ['$.Event.EventData', '$.Event.UserData']) AS d
  FROM raw
), f AS (
  SELECT
    part, record_no, default_host,
    coalesce(TRY_CAST(s[1] AS BIGINT), record_id) AS record_id,
    nullif(trim(s[2]), '') AS host,
    TRY_CAST(s[3] AS TIMESTAMPTZ) AS logged,
    s[4] AS channel,
    s[5] AS provider,
    coalesce(TRY_CAST(s[6] AS INTEGER), TRY_CAST(s[7] AS INTEGER)) AS event_id,
    s[8] AS rendered,
    coalesce(d[1], d[2]) AS data,
    -- serialised JSON: an object, and only an object, starts with a brace
    starts_with(coalesce(d[1], d[2])::VARCHAR, '{{') AS is_object,
    coalesce(d[1], d[2])::VARCHAR AS text,
    s[9] AS user_id,
    TRY_CAST(s[10] AS BIGINT) AS pid
  FROM r
)
SELECT part, record_no, record_id, coalesce(host, default_host) AS host, logged, channel, provider, event_id,
       rendered AS message,
       -- Who wrote the record (System/Security/@UserID, Execution/@ProcessID) tells who
       -- changed a clock; it rides along in data under names EventData cannot use.
       -- (For an object, written in front of its members as text, one string built per
       -- record: json_merge_patch cost more than the rest of this query, and EventData
       -- names never start with '@'.)
       CASE WHEN is_object AND user_id IS NULL AND pid IS NULL THEN text
            WHEN is_object
            THEN concat('{{', concat_ws(',', '"@UserID":' || to_json(user_id), '"@ProcessID":' || pid),
                        CASE WHEN text = '{{}}' THEN '}}' ELSE ',' || substr(text, 2) END)
            ELSE json_merge_patch(
              CASE WHEN data IS NULL OR NOT is_object THEN json_object('value', data) ELSE data END,
              CASE WHEN user_id IS NULL AND pid IS NULL THEN '{{}}'::JSON
                   ELSE json_object('@UserID', user_id, '@ProcessID', pid) END
            )::VARCHAR END AS data,
       CASE WHEN logged IS NULL THEN 'no readable TimeCreated/@SystemTime'
            -- FILETIME 0: the writer had no time to give, which is not a logged time
            WHEN logged = TIMESTAMPTZ '1601-01-01 00:00:00+00' THEN 'TimeCreated is FILETIME 0 (1601-01-01): no time recorded'
       END AS problem
FROM f
"""

MESSAGE_CHARS = 1000

# What a person reads of a Windows event that carries no rendered text (EVTX never
# does; event XML does only where its RenderingInfo was kept): its event id and its
# EventData or UserData fields in the order the record has them,
# "4616: SubjectUserSid=S-1-5-18; ...; PreviousTime=...; NewTime=...; ProcessName=...",
# values verbatim, unnamed ones (Data without a Name, an element's text) bare, empty
# fields kept (``Name=``) and absent ones (null) left out; at most MESSAGE_CHARS
# characters (``data`` keeps them all). Without fields: "<provider> <event id>". Who
# wrote the record (``@UserID``, ``@ProcessID``, from System, not the event's own
# fields) and XML namespace declarations are left out. One statement over every
# record (json_tree, not Python per row; only over the records without a message: the
# subquery is decorrelated, run for every record the query reads whatever branch of a
# CASE it sits in). About 15-40 us a record: the timeline of a million EVTX records
# takes that much longer to write.
_LEAF = "(j.atom ->> '$')"
FIELDS_MESSAGE_SQL = f"""(SELECT CASE WHEN length(m) > {MESSAGE_CHARS} THEN left(m, {MESSAGE_CHARS - 1}) || '…' ELSE m END
  FROM (SELECT CASE WHEN count(*) = 0 THEN concat_ws(' ', provider, event_id)
                    ELSE concat_ws(': ', event_id,
                                   string_agg(CASE WHEN suffix(j.fullkey, ']') OR j.key = '#text' THEN {_LEAF}
                                                   ELSE j.key || '=' || {_LEAF} END, '; ' ORDER BY j.id)) END AS m
        FROM json_tree(CASE WHEN coalesce(message, '') = '' THEN data END) j
        WHERE j.atom IS NOT NULL AND NOT (j.path = '$' AND starts_with(j.key, '@'))
          AND j.key <> 'xmlns' AND NOT starts_with(j.key, 'xmlns:')))"""

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    # One in-memory connection per thread: DuckDB connections are not thread-safe.
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        if multiprocessing.parent_process() is not None:
            # In a worker process, files are read in parallel across processes: a second
            # thread per query only competes with the other workers for the same cores.
            con.execute("SET threads = 1")
        _local.con = con
    return con


def _extract(raw: pa.Table) -> pa.Table:
    con = _connection()
    con.register("raw", raw)
    try:
        return con.sql(_SQL).to_arrow_table()
    finally:
        con.unregister("raw")


@dataclass
class _Part:
    ctx: FileContext
    format: str
    record_nos: list[int]
    record_ids: list[int | None]
    jsons: list[str]


class Pending:
    """Rendered Windows records of one or more files, normalised together.

    The normalisation query costs about 3 ms however few records it reads: one query
    per small file would cost more than parsing it. A reader of many files adds each
    file's records here and flushes when enough are waiting; the batches come back
    per file, in the order the records were added.
    """

    def __init__(self) -> None:
        self._parts: list[_Part] = []
        self.rows = 0

    def add(self, ctx: FileContext, format: str, record_nos: list[int], record_ids: list[int | None],
            jsons: list[str]) -> None:
        if record_nos:
            self._parts.append(_Part(ctx, format, record_nos, record_ids, jsons))
            self.rows += len(record_nos)

    def flush(self) -> list[tuple[FileContext, pa.RecordBatch]]:
        """Normalise what is waiting: one EVENTS batch per part that kept a record;
        records without a readable time are quarantined through their file's context."""
        parts, self._parts, self.rows = self._parts, [], 0
        if not parts:
            return []
        raw = _raw(parts)
        try:
            out = _extract(raw)
        except duckdb.InvalidInputException:
            # A damaged record rendered as JSON that is not (a control character left raw
            # in a string): find those one by one, off the hot path, and read the rest.
            parts = [_valid_json_only(p) for p in parts]
            raw = _raw(parts)
            out = _extract(raw)
        problem = out.column("problem")
        if problem.null_count != len(out):
            # The query keeps its rows in the order and number it read them.
            rows = pc.indices_nonzero(problem.is_valid())
            excerpts = pc.utf8_slice_codeunits(raw.column("json").take(rows), 0, 200)
            bad = out.take(rows)
            for part, no, rid, reason, ex in zip(bad.column("part").to_pylist(), bad.column("record_no").to_pylist(),
                                                 bad.column("record_id").to_pylist(), bad.column("problem").to_pylist(),
                                                 excerpts.to_pylist()):
                parts[part].ctx.quarantine(no, reason, ex, rid)
            out = out.filter(problem.is_null())
        return [(parts[k].ctx, _events(rows, parts[k])) for k, rows in _split(out, len(parts))]


def _raw(parts: list[_Part]) -> pa.Table:
    part = pa.array(np.repeat(np.arange(len(parts), dtype=np.int32), [len(p.record_nos) for p in parts]))
    return pa.table([
        part,
        pa.array([n for p in parts for n in p.record_nos], pa.int64()),
        pa.array([i for p in parts for i in p.record_ids], pa.int64()),
        pa.array([j for p in parts for j in p.jsons], pa.string()),
        pa.DictionaryArray.from_arrays(part, pa.array([p.ctx.default_host for p in parts], pa.string())),
    ], names=RAW.names)


def _valid_json_only(part: _Part) -> _Part:
    keep = []
    for k, text in enumerate(part.jsons):
        try:
            json.loads(text)
            keep.append(k)
        except ValueError as exc:
            part.ctx.quarantine(part.record_nos[k], f"record rendered as malformed JSON: {exc}", text,
                                part.record_ids[k])
    return _Part(part.ctx, part.format, [part.record_nos[k] for k in keep], [part.record_ids[k] for k in keep],
                 [part.jsons[k] for k in keep])


def _split(out: pa.Table, n_parts: int) -> list[tuple[int, pa.Table]]:
    """The rows of each part, in order (the query keeps the order it read them in)."""
    part = out.column("part").to_numpy()
    if len(part) > 1 and (np.diff(part) < 0).any():   # never seen; cheap to make sure
        order = np.argsort(part, kind="stable")
        out, part = out.take(pa.array(order)), part[order]
    bounds = np.searchsorted(part, np.arange(n_parts + 1))
    return [(k, out.slice(bounds[k], bounds[k + 1] - bounds[k])) for k in range(n_parts)
            if bounds[k + 1] > bounds[k]]


def _events(out: pa.Table, part: _Part) -> pa.RecordBatch:
    n = len(out)
    columns = {
        "file_id": pa.array(np.full(n, part.ctx.file_id, dtype=np.int32)),
        "record_no": out.column("record_no"),
        "record_id": out.column("record_id"),
        "host": out.column("host"),
        "logged": out.column("logged").cast(EVENTS.field("logged").type),
        "format": pa.array([part.format] * n, pa.string()),
        "channel": out.column("channel"),
        "provider": out.column("provider"),
        "event_id": out.column("event_id"),
        "message": out.column("message"),
        "data": out.column("data"),
    }
    table = pa.table([columns[name] for name in EVENTS.names], schema=EVENTS)
    return table.combine_chunks().to_batches()[0]


def normalize(record_nos: list[int], record_ids: list[int | None], jsons: list[str],
              ctx: FileContext, format: str) -> pa.RecordBatch | None:
    """Turn rendered Windows event records of one file into one EVENTS batch.

    Records without a readable time are quarantined through ``ctx``.
    """
    pending = Pending()
    pending.add(ctx, format, record_nos, record_ids, jsons)
    out = pending.flush()
    return out[0][1] if out else None
