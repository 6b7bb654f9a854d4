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
import threading

import duckdb
import pyarrow as pa

from ..schema import EVENTS
from .base import FileContext

RAW = pa.schema(
    [
        pa.field("record_no", pa.int64()),
        pa.field("record_id", pa.int64()),
        pa.field("json", pa.string()),
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
# field would parse it once per field (measured: 15x slower).
_SQL = f"""
WITH r AS (
  SELECT record_no, record_id,
         json_extract_string(json, {_PATHS!r}) AS s,
         json_extract(json, ['$.Event.EventData', '$.Event.UserData']) AS d,
         json
  FROM raw
), f AS (
  SELECT
    record_no,
    coalesce(TRY_CAST(s[1] AS BIGINT), record_id) AS record_id,
    nullif(trim(s[2]), '') AS host,
    TRY_CAST(s[3] AS TIMESTAMPTZ) AS logged,
    s[4] AS channel,
    s[5] AS provider,
    coalesce(TRY_CAST(s[6] AS INTEGER), TRY_CAST(s[7] AS INTEGER)) AS event_id,
    s[8] AS rendered,
    coalesce(d[1], d[2]) AS data,
    s[9] AS user_id,
    TRY_CAST(s[10] AS BIGINT) AS pid,
    json
  FROM r
)
SELECT record_no, record_id, coalesce(host, $default_host) AS host, logged, channel, provider, event_id,
       rendered AS message,
       -- Who wrote the record (System/Security/@UserID, Execution/@ProcessID) tells who
       -- changed a clock; it rides along in data under names EventData cannot use.
       -- (For an object, appended as text: json_merge_patch cost more than the rest of
       -- this query, and EventData names never start with '@'.)
       CASE WHEN data IS NOT NULL AND json_type(data) = 'OBJECT'
            THEN CASE WHEN user_id IS NULL AND pid IS NULL THEN data::VARCHAR
                      ELSE left(data::VARCHAR, length(data::VARCHAR) - 1)
                           || CASE WHEN data::VARCHAR = '{{}}' THEN '' ELSE ',' END
                           || concat_ws(',', '"@UserID":' || to_json(user_id), '"@ProcessID":' || to_json(pid))
                           || '}}' END
            ELSE json_merge_patch(
              CASE WHEN data IS NULL OR json_type(data) <> 'OBJECT' THEN json_object('value', data) ELSE data END,
              CASE WHEN user_id IS NULL AND pid IS NULL THEN '{{}}'::JSON
                   ELSE json_object('@UserID', user_id, '@ProcessID', pid) END
            )::VARCHAR END AS data,
       CASE WHEN logged IS NULL THEN 'no readable TimeCreated/@SystemTime'
            -- FILETIME 0: the writer had no time to give, which is not a logged time
            WHEN logged = TIMESTAMPTZ '1601-01-01 00:00:00+00' THEN 'TimeCreated is FILETIME 0 (1601-01-01): no time recorded'
       END AS problem,
       CASE WHEN logged IS NULL OR logged = TIMESTAMPTZ '1601-01-01 00:00:00+00' THEN left(json, 200) END AS excerpt
FROM f
"""

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    # One in-memory connection per thread: DuckDB connections are not thread-safe.
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


def _extract(record_nos: list[int], record_ids: list[int | None], jsons: list[str], ctx: FileContext) -> pa.Table:
    raw = pa.table([pa.array(record_nos, pa.int64()), pa.array(record_ids, pa.int64()),
                    pa.array(jsons, pa.string())], schema=RAW)
    con = _connection()
    con.register("raw", raw)
    try:
        return con.sql(_SQL, params={"default_host": ctx.default_host}).to_arrow_table()
    finally:
        con.unregister("raw")


def normalize(record_nos: list[int], record_ids: list[int | None], jsons: list[str],
              ctx: FileContext, format: str) -> pa.RecordBatch | None:
    """Turn rendered Windows event records into one EVENTS batch.

    Records without a readable time are quarantined through ``ctx``.
    """
    if not record_nos:
        return None
    try:
        out = _extract(record_nos, record_ids, jsons, ctx)
    except duckdb.InvalidInputException:
        # A damaged record rendered as JSON that is not (a control character left raw
        # in a string): find those one by one, off the hot path, and read the rest.
        keep = []
        for k, text in enumerate(jsons):
            try:
                json.loads(text)
                keep.append(k)
            except ValueError as exc:
                ctx.quarantine(record_nos[k], f"record rendered as malformed JSON: {exc}", text)
        if not keep:
            return None
        out = _extract([record_nos[k] for k in keep], [record_ids[k] for k in keep], [jsons[k] for k in keep], ctx)
    problem = out.column("problem")
    if problem.null_count != len(out):
        bad = out.filter(problem.is_valid())
        for no, reason, ex in zip(bad.column("record_no").to_pylist(), bad.column("problem").to_pylist(),
                                  bad.column("excerpt").to_pylist()):
            ctx.quarantine(no, reason, ex)
        out = out.filter(problem.is_null())
    n = len(out)
    if not n:
        return None
    columns = {
        "file_id": pa.array([ctx.file_id] * n, pa.int32()),
        "record_no": out.column("record_no"),
        "record_id": out.column("record_id"),
        "host": out.column("host"),
        "logged": out.column("logged").cast(EVENTS.field("logged").type),
        "format": pa.array([format] * n, pa.string()),
        "channel": out.column("channel"),
        "provider": out.column("provider"),
        "event_id": out.column("event_id"),
        "message": out.column("message"),
        "data": out.column("data"),
    }
    table = pa.table([columns[name] for name in EVENTS.names], schema=EVENTS)
    return table.combine_chunks().to_batches()[0]
