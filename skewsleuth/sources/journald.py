"""systemd journal exports (``journalctl -o json``) as events.

Yields one event per JSON line, ``format="journald"``, ``channel="journal"``:

* ``logged`` = ``__REALTIME_TIMESTAMP`` (microseconds since the Unix epoch, as a
  decimal string: when journald received the entry, by the host's clock);
* ``host`` = ``_HOSTNAME`` (the file's default host when absent);
* ``provider`` = ``SYSLOG_IDENTIFIER``, else ``_COMM``;
* ``message`` = ``MESSAGE``. journalctl writes a field that is not valid UTF-8 as an
  array of byte values; it is decoded with replacement characters. A field with
  several values is an array of values (joined with newlines here); a field over
  journalctl's size limit is ``null``.
* ``data`` = the fields that matter to clock reconstruction, those present only:
  ``pid`` (int), ``severity`` and ``facility`` (syslog keyword names from
  ``PRIORITY`` / ``SYSLOG_FACILITY``), ``boot_id`` (``_BOOT_ID``), ``monotonic_us``
  (``__MONOTONIC_TIMESTAMP``: with ``boot_id`` it shows clock steps directly, since
  realtime - monotonic jumps when the clock is set), ``source_realtime_us``
  (``_SOURCE_REALTIME_TIMESTAMP``), ``message_id`` (``MESSAGE_ID``, e.g.
  ``c7a787079b354eaaa9e77b371893cd27`` "Time has been changed"), ``unit``
  (``_SYSTEMD_UNIT``) and ``transport`` (``_TRANSPORT``).

Blank lines are skipped. A line that is not a JSON object, or has no usable
``__REALTIME_TIMESTAMP``, is quarantined with a reason and reading carries on.

:func:`entry` reads one line as above. Files of 128 KiB and more are read in blocks
by Arrow's JSON reader (:mod:`.journald_columns`), which hands the lines it may read
otherwise than Python's ``json`` to ``entry``; ``read(ctx, columnar=False)`` reads
every line with ``entry``, the reference the blocks must equal.

References: systemd.journal-fields(7); journalctl(1) ``--output=json``; "Journal
Export Formats" (https://systemd.io/JOURNAL_EXPORT_FORMATS/, "Journal JSON Format").
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, Iterator

import pyarrow as pa

from ..errors import UnusableFile
from .base import EventBatchBuilder, FileContext
from .contract import Source
from .syslog_lines import FACILITIES, SEVERITIES
from .textinput import CUT_SHORT, file_size, first_json_line, json_line, line_blocks
from .timeparse import EPOCH

FORMAT = "journald"
CHANNEL = "journal"

_KEY_HINT = re.compile(r'"(?:__REALTIME_TIMESTAMP|MESSAGE)"\s*:')
_MAX_TEXT = 64 * 1024
TEXT_FIELDS = (("_BOOT_ID", "boot_id"), ("MESSAGE_ID", "message_id"), ("_SYSTEMD_UNIT", "unit"),
                ("_TRANSPORT", "transport"))
INT_FIELDS = (("__MONOTONIC_TIMESTAMP", "monotonic_us"), ("_SOURCE_REALTIME_TIMESTAMP", "source_realtime_us"))
_loads = json.loads
# One encoder for every record's data: json.dumps(..., ensure_ascii=False) builds a new
# JSONEncoder per call, which cost as much as the encoding itself (same output).
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def sniff(head: bytes) -> bool:
    first = first_json_line(head)
    if first is None:
        return False
    line, terminated, obj = first
    if obj is CUT_SHORT:
        # A first entry longer than the head is cut short: judge it by its keys.
        return not terminated and _KEY_HINT.search(line) is not None
    return isinstance(obj, dict) and ("__REALTIME_TIMESTAMP" in obj or "MESSAGE" in obj)


def _text(value: Any) -> str | None:
    """A journal field value as text: str, byte array, or array of values."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        if value and all(type(b) is int and 0 <= b < 256 for b in value):
            return bytes(value).decode("utf-8", "replace")
        parts = [_text(v) for v in value]
        return "\n".join(p for p in parts if p is not None)
    return json.dumps(value, ensure_ascii=False)[:_MAX_TEXT]


def _int(value: Any) -> int | None:
    if value.__class__ is str:
        return int(value) if value.isdigit() and value.isascii() and len(value) <= 20 else None
    return value if value.__class__ is int else None


def read(ctx: FileContext, *, columnar: bool = True) -> Iterator[pa.RecordBatch]:
    """The file's events. ``columnar=False``: every line through :func:`entry`, the
    reference the column-wise reader (:mod:`.journald_columns`) must equal."""
    if columnar and file_size(ctx) >= COLUMNAR_MIN_BYTES:
        from .journald_columns import read_columns  # it builds on entry(): imported here, not above

        return read_columns(ctx)
    return read_lines(ctx)


# Column-wise reading costs about 2 ms a file whatever its size (a parse, some ninety
# column operations), as much as 300 lines read one by one: smaller files are read so.
COLUMNAR_MIN_BYTES = 128 * 1024


def read_lines(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    add = builder.add
    no = 0
    for lines in line_blocks(ctx):
        for line in lines:
            if not line or line.isspace():
                continue
            row = entry(line, no, ctx)
            no += 1
            if row is not None:
                add(record_no=row[0], host=row[1], logged=row[2], format=FORMAT, channel=CHANNEL,
                    provider=row[3], message=row[4], data=row[5])
                if builder.full():
                    yield builder.flush()  # type: ignore[misc]
    if no == 0:
        raise UnusableFile("no journal entries (blank file)")
    batch = builder.flush()
    if batch is not None:
        yield batch


def entry(line: str, record_no: int, ctx: FileContext) -> tuple | None:
    """One non-blank line -> (record_no, host, logged, provider, message, data JSON), or
    None once it is quarantined."""
    try:
        obj = json_line(line, _loads)
    except (ValueError, RecursionError) as exc:
        ctx.quarantine(record_no, f"not JSON: {str(exc)[:120]}", line)
        return None
    if type(obj) is not dict:
        ctx.quarantine(record_no, "JSON line is not an object", line)
        return None
    get = obj.get
    us = _int(get("__REALTIME_TIMESTAMP"))
    if us is None:
        ctx.quarantine(record_no, "no usable __REALTIME_TIMESTAMP", line)
        return None
    try:
        logged = EPOCH + timedelta(microseconds=us)
    except OverflowError:
        ctx.quarantine(record_no, f"__REALTIME_TIMESTAMP out of range: {us}", line)
        return None

    data: dict[str, Any] = {}
    # Fields are looked up once and converted only when present: most are absent.
    v = get("_PID")
    if v is not None:
        pid = _int(v)
        data["pid"] = pid if pid is not None else _text(v)
    v = get("PRIORITY")
    if v is not None and (n := _int(v)) is not None and 0 <= n < 8:
        data["severity"] = SEVERITIES[n]
    v = get("SYSLOG_FACILITY")
    if v is not None and (n := _int(v)) is not None and 0 <= n < len(FACILITIES):
        data["facility"] = FACILITIES[n]
    for field, key in TEXT_FIELDS:
        v = get(field)
        if v is not None:
            data[key] = v if v.__class__ is str else _text(v)
    for field, key in INT_FIELDS:
        v = get(field)
        if v is not None and (n := _int(v)) is not None:
            data[key] = n

    host = _text(get("_HOSTNAME")) or ctx.default_host
    provider = _text(get("SYSLOG_IDENTIFIER")) or _text(get("_COMM"))
    return record_no, host, logged, provider, _text(get("MESSAGE")), _dumps(data) if data else None


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="linux", messages="text",
                boot_sql="json_extract_string(data, '$.boot_id')",
                monotonic_us_sql="TRY_CAST(json_extract_string(data, '$.monotonic_us') AS BIGINT)")
