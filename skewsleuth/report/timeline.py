"""The corrected timeline as a file: every event with its logged time, its true time
and the uncertainty of the correction, for other tools to read.

Formats:

* ``jsonl``: one JSON object per line;
* ``csv``: a header and one row per event;
* ``parquet``: Arrow types kept (times as UTC timestamps, ``symptoms`` as a list);
* ``timesketch``: a CSV that Timesketch imports: its mandatory ``message``,
  ``datetime`` (ISO 8601, the *true* time) and ``timestamp_desc``, and ``timestamp``
  (microseconds since the epoch), then skewsleuth's own columns.

Rows come in true-time order. Each carries ``host``, ``logged`` and ``true_time``
(UTC), ``offset_s`` (logged - true at that event, its segment's drift applied) and
``uncertainty_s`` (half its segment's interval; empty where the evidence does not bound
the offset), the ``segment`` it was placed on, what it is (``format``, ``channel``,
``provider``, ``event_id``, ``record_id``), its ``message``, the rules it matched
(``symptoms``), the ``file`` and ``record_no`` it came from, and its ``data`` (JSON).

The rows are written by DuckDB from the case database (``COPY``): no Python object per
event. Evidence is hostile: in the CSV formats a cell that starts like a spreadsheet
formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) is written with a leading
``'`` so that opening the file in a spreadsheet shows it instead of running it
(OWASP, "CSV Injection").

References: Timesketch, "Import from JSON or CSV" (mandatory fields); OWASP, "CSV
Injection"; DuckDB ``COPY ... TO``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from ..store import Store

FORMATS = ("jsonl", "csv", "parquet", "timesketch")

_ISO = "strftime({t}, '%Y-%m-%dT%H:%M:%S.%fZ')"

# One row per event; the rules an event matched, as a list.
_ROWS = """
SELECT t.host, t.logged, t.true_time,
       CASE WHEN t.offset_s IS NOT NULL THEN (epoch_us(t.logged) - epoch_us(t.true_time)) / 1e6 END AS offset_s,
       t.uncertainty_s, t.segment_id AS segment, t.format, t.channel, t.provider, t.event_id, t.record_id,
       t.message, coalesce(y.rules, []) AS symptoms, f.path AS file, t.record_no, t.data
FROM timeline t
JOIN files f USING (file_id)
LEFT JOIN (SELECT file_id, record_no, list(DISTINCT rule_id ORDER BY rule_id) AS rules
           FROM symptoms GROUP BY ALL) y USING (file_id, record_no)
ORDER BY t.true_time, t.host, t.channel NULLS FIRST, t.record_id NULLS FIRST, t.file_id, t.record_no
"""


def _defused(column: str) -> str:
    """A text column as a spreadsheet shows it, never runs it."""
    return f"CASE WHEN regexp_matches({column}, '^[=+\\-@\\t\\r]') THEN '''' || {column} ELSE {column} END"


def _select(fmt: str) -> str:
    if fmt == "parquet":
        return f"SELECT * FROM ({_ROWS})"
    times = f"{_ISO.format(t='logged')} AS logged, {_ISO.format(t='true_time')} AS true_time"
    if fmt == "jsonl":
        return f"SELECT * REPLACE ({_ISO.format(t='logged')} AS logged, {_ISO.format(t='true_time')} AS true_time) " \
               f"FROM ({_ROWS})"
    texts = ("host", "format", "channel", "provider", "message", "file", "data")
    text_cols = ", ".join(f"{_defused(c)} AS {c}" for c in texts)
    symptoms = "array_to_string(symptoms, ' ') AS symptoms"
    if fmt == "csv":
        return f"SELECT * REPLACE ({times}, {text_cols}, {symptoms}) FROM ({_ROWS})"
    # timesketch: its mandatory columns first, the true time as the event's time
    return (f"SELECT {_defused('coalesce(message, provider, format)')} AS message, "
            f"epoch_us(true_time) AS timestamp, strftime(true_time, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS datetime, "
            f"'Logged (clock corrected by skewsleuth)' AS timestamp_desc, "
            f"* EXCLUDE (message) REPLACE ({times}, {', '.join(f'{_defused(c)} AS {c}' for c in texts if c != 'message')}, "
            f"{symptoms}) FROM ({_ROWS})")


def export_timeline(store: Store, out: str | Path, fmt: str) -> int:
    """Write the corrected timeline of an investigated case database to ``out`` (a
    path, or ``-`` for stdout; not for parquet) in ``fmt``; returns the rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown timeline format {fmt!r} (known: {', '.join(FORMATS)})")
    if str(out) == "-":
        if fmt == "parquet":
            raise ValueError("parquet is binary: give a file, not '-'")
        sys.stdout.flush()
        target = "/dev/stdout"
    else:
        target = str(out)
    options = {"jsonl": "FORMAT json", "parquet": "FORMAT parquet, COMPRESSION zstd"}.get(fmt, "FORMAT csv, HEADER")
    # COPY takes no parameters: the path is quoted as a literal.
    quoted = "'" + target.replace("'", "''") + "'"
    try:
        rows = store.con.execute(f"COPY ({_select(fmt)}) TO {quoted} ({options})").fetchall()
    except duckdb.IOException as exc:
        if target == "/dev/stdout" and "Broken pipe" in str(exc):
            raise BrokenPipeError(str(exc)) from None   # the reader went away (| head)
        raise
    return int(rows[0][0]) if rows else 0
