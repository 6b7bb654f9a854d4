"""The corrected timeline as a file: every event with its logged time, its true time
and the uncertainty of the correction, for other tools to read.

Formats:

* ``jsonl``: one JSON object per line;
* ``csv``: a header and one row per event;
* ``parquet``: Arrow types kept (times as UTC timestamps, ``symptoms`` as a list);
* ``timesketch``: a CSV that Timesketch imports: its mandatory ``message``,
  ``datetime`` (ISO 8601, the *true* time) and ``timestamp_desc``, and ``timestamp``
  (microseconds since the epoch), then skewsleuth's own columns, the signatures as its
  ``tag`` column;
* ``timesketch-jsonl``: the same rows as JSON Lines, which Timesketch imports too. Its
  CSV importer reads the file with pandas, which turns a column of whole numbers with
  an empty cell among them into floats (``1502.0``): where some events have no
  ``event_id`` or ``record_id`` (a SIP trace beside the event logs), only JSON keeps
  them integers.

Rows come in true-time order. Each carries ``host``, ``logged`` and ``true_time``
(UTC), ``offset_s`` (logged - true at that event, its segment's drift applied) and
``uncertainty_s`` (half its segment's interval; empty where the evidence does not bound
the offset), the ``segment`` it was placed on, what it is (``format``, ``channel``,
``provider``, ``event_id``, ``record_id``), its ``message``, the signatures of the
rules it matched (``symptoms``; ``tag`` for Timesketch), the ``file`` and ``record_no``
it came from, and its ``data`` (JSON).

``message`` is the record's as logged; a Windows event without one (EVTX records hold
no rendered text) gets its event id and EventData or UserData fields,
``4616: ...; PreviousTime=...; NewTime=...; ProcessName=...``
(:data:`skewsleuth.sources.winevent.FIELDS_MESSAGE_SQL`). ``timestamp_desc`` says per
row what the time is: ``Logged`` where skewsleuth moved it not at all (offset 0, or
unknown), else ``Corrected by skewsleuth: offset -18000 s ± 1.005 s (pairs,
reference)``, the kinds of evidence its segment's offset rests on in brackets (``offset
at least 36010 s, the least skew the evidence allows (...)`` where they bound it on one
side only).

Evidence text is written as it is. Only where asked (``spreadsheet_safe``, for the CSV
formats) is a cell that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``,
tab, carriage return) written with a leading ``'``, so that a spreadsheet shows it
instead of running it (OWASP, "CSV Injection"); the other tools read the text as
logged.

The rows are written by DuckDB from the case database (``COPY``): no Python object per
event.

References: Timesketch, "Import from JSON or CSV" (mandatory fields, ``tag``); OWASP,
"CSV Injection"; DuckDB ``COPY ... TO``, ``json_tree``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from ..sources import message_sql
from ..store import Store

FORMATS = ("jsonl", "csv", "parquet", "timesketch", "timesketch-jsonl")
CSV_FORMATS = ("csv", "timesketch")

_ISO = "strftime({t}, '%Y-%m-%dT%H:%M:%S.%fZ')"

# One row per event: the signatures of the rules it matched as a list, and the basis of
# its segment's offset (for timestamp_desc; not written itself).
_ROWS = f"""
SELECT t.host, t.logged, t.true_time,
       CASE WHEN t.offset_s IS NOT NULL THEN (epoch_us(t.logged) - epoch_us(t.true_time)) / 1e6 END AS offset_s,
       t.uncertainty_s, t.segment_id AS segment, t.format, t.channel, t.provider, t.event_id, t.record_id,
       t.text AS message, coalesce(y.names, []) AS symptoms, f.path AS file, t.record_no, t.data, s.basis
FROM (SELECT *, {message_sql()} AS text FROM timeline) t
JOIN files f USING (file_id)
JOIN segments s ON s.segment_id = t.segment_id
LEFT JOIN (SELECT file_id, record_no, list(DISTINCT signature ORDER BY signature) AS names
           FROM symptoms GROUP BY ALL) y USING (file_id, record_no)
ORDER BY t.true_time, t.host, t.channel NULLS FIRST, t.record_id NULLS FIRST, t.file_id, t.record_no
"""

# Seconds as people write them: to the microsecond, no trailing zeros (-18000, 1.005).
_SECONDS = "regexp_replace(printf('%.6f', {x}), '\\.?0+$', '')"

# What the row's time is: as logged, or corrected, by how much and on what evidence.
TIMESTAMP_DESC = (
    "CASE WHEN coalesce(offset_s, 0) = 0 THEN 'Logged' "
    # bounded on one side, the estimate is the bound nearest 0: the least skew it admits
    "ELSE 'Corrected by skewsleuth: offset ' "
    "|| CASE WHEN uncertainty_s IS NOT NULL THEN '' WHEN offset_s > 0 THEN 'at least ' ELSE 'at most ' END "
    f"|| {_SECONDS.format(x='offset_s')} || ' s' "
    f"|| CASE WHEN uncertainty_s IS NULL THEN ', the least skew the evidence allows' "
    f"ELSE ' ± ' || {_SECONDS.format(x='uncertainty_s')} || ' s' END "
    "|| ' (' || coalesce(nullif(array_to_string(basis, ', '), ''), 'no clock evidence') || ')' END")

_TEXTS = ("host", "format", "channel", "provider", "message", "file", "data")


def _defused(column: str) -> str:
    """A text column as a spreadsheet shows it, never runs it."""
    return f"CASE WHEN regexp_matches({column}, '^[=+\\-@\\t\\r]') THEN '''' || {column} ELSE {column} END"


def _select(fmt: str, spreadsheet_safe: bool = False) -> str:
    if fmt == "parquet":
        return f"SELECT * EXCLUDE (basis) FROM ({_ROWS})"
    times = f"{_ISO.format(t='logged')} AS logged, {_ISO.format(t='true_time')} AS true_time"
    if fmt == "jsonl":
        return f"SELECT * EXCLUDE (basis) REPLACE ({times}) FROM ({_ROWS})"
    csv = fmt in CSV_FORMATS
    texts = [f"{_defused(c)} AS {c}" for c in _TEXTS] if spreadsheet_safe else []
    # a list in a CSV cell: JSON, which Timesketch's importer reads as its tags
    listed = "CAST(to_json(symptoms) AS VARCHAR)" if csv else "symptoms"
    if fmt == "csv":
        return f"SELECT * EXCLUDE (basis) REPLACE ({', '.join([times, *texts, listed + ' AS symptoms'])}) FROM ({_ROWS})"
    # timesketch: its mandatory columns first, the true time as the event's time; a
    # message for every row (Timesketch shows nothing else of an event by default)
    message = "coalesce(nullif(message, ''), provider, format)"
    rest = [times, *(t for t in texts if not t.endswith(" AS message"))]
    return (f"SELECT {_defused(message) if spreadsheet_safe else message} AS message, "
            f"epoch_us(true_time) AS timestamp, strftime(true_time, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS datetime, "
            f"{TIMESTAMP_DESC} AS timestamp_desc, "
            f"* EXCLUDE (message, symptoms, basis) REPLACE ({', '.join(rest)}), {listed} AS tag FROM ({_ROWS})")


def export_timeline(store: Store, out: str | Path, fmt: str, spreadsheet_safe: bool = False) -> int:
    """Write the corrected timeline of an investigated case database to ``out`` (a
    path, or ``-`` for stdout; not for parquet) in ``fmt``; returns the rows written.
    ``spreadsheet_safe`` (CSV formats only): formula-like cells get a leading ``'``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown timeline format {fmt!r} (known: {', '.join(FORMATS)})")
    if spreadsheet_safe and fmt not in CSV_FORMATS:
        raise ValueError(f"spreadsheet-safe cells are for the CSV formats ({', '.join(CSV_FORMATS)}), not {fmt}")
    if str(out) == "-":
        if fmt == "parquet":
            raise ValueError("parquet is binary: give a file, not '-'")
        sys.stdout.flush()
        target = "/dev/stdout"
    else:
        target = str(out)
    options = {"jsonl": "FORMAT json", "timesketch-jsonl": "FORMAT json",
               "parquet": "FORMAT parquet, COMPRESSION zstd"}.get(fmt, "FORMAT csv, HEADER")
    # COPY takes no parameters: the path is quoted as a literal.
    quoted = "'" + target.replace("'", "''") + "'"
    try:
        rows = store.con.execute(f"COPY ({_select(fmt, spreadsheet_safe)}) TO {quoted} ({options})").fetchall()
    except duckdb.IOException as exc:
        if target == "/dev/stdout" and "Broken pipe" in str(exc):
            raise BrokenPipeError(str(exc)) from None   # the reader went away (| head)
        raise
    return int(rows[0][0]) if rows else 0
