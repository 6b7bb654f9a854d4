"""The shapes data takes between stages: Arrow schemas shared by every source and the store.

An *event* is one record of evidence as its host wrote it. Sources produce
``EVENTS`` record batches; the store keeps them in the ``events`` table; the clock
model, the rule matcher and the incident finder read them from there.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

EVENTS = pa.schema(
    [
        # Which input file (index into the ``files`` table) and the record's ordinal in
        # it: the order the host wrote records in, which survives clock steps.
        pa.field("file_id", pa.int32(), nullable=False),
        pa.field("record_no", pa.int64(), nullable=False),
        # The log's own sequence number where it has one (EVTX EventRecordID).
        pa.field("record_id", pa.int64()),
        # Host that wrote the record, as written (or the folder name when the record
        # does not say); canonicalised to one spelling by the store.
        pa.field("host", pa.string(), nullable=False),
        # Logged time as UTC: what the host's clock said, not what the time was.
        pa.field("logged", TIMESTAMP, nullable=False),
        # evtx | eventxml | sipstack | syslog | journald | applog
        pa.field("format", pa.string(), nullable=False),
        # Windows channel (System, Security, ...), "SIPStack", or the syslog app name;
        # "applog" / "otlp" for structured application logs and OpenTelemetry spans.
        pa.field("channel", pa.string()),
        # Windows provider name, SIP component, or the syslog program (chronyd, krb5kdc).
        pa.field("provider", pa.string()),
        pa.field("event_id", pa.int32()),
        # Human-readable text the symptom rules match against.
        pa.field("message", pa.string()),
        # Structured fields as a JSON object (EventData, SIP headers, syslog SD).
        pa.field("data", pa.string()),
    ]
)

# How reports cite a record: FILE#N, N the log's own number for it where it has one
# (EVTX and event XML: the EventRecordID, what Event Viewer and every EVTX tool show),
# else its position in the file counting from 0 (``record_no``, as the timeline has it).
RECORD_NUMBER_SQL = "coalesce(record_id, record_no)"


def cite(path: str, number: int) -> str:
    """A record as reports cite it: its file and its number (:data:`RECORD_NUMBER_SQL`)."""
    return f"{path}#{number}"


QUARANTINE = pa.schema(
    [
        pa.field("file_id", pa.int32(), nullable=False),
        # Ordinal of the damaged record or region in the file; null when the damage
        # cannot be placed (an unreadable EVTX chunk).
        pa.field("record_no", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        # A short, printable excerpt of the damaged input (never interpreted).
        pa.field("excerpt", pa.string()),
        # The log's own sequence number of the damaged record where it could be read
        # (EVTX and event XML EventRecordID), as ``events.record_id``.
        pa.field("record_id", pa.int64()),
    ]
)


def quarantine_table(file_id: int, record_nos: list, reasons: list[str], excerpts: list[str],
                     record_ids: list | None = None) -> pa.Table:
    """Quarantined records of one file as a QUARANTINE table."""
    return pa.table({
        "file_id": pa.array([file_id] * len(reasons), pa.int32()),
        "record_no": pa.array(record_nos, pa.int64()),
        "reason": pa.array(reasons, pa.string()),
        "excerpt": pa.array(excerpts, pa.string()),
        "record_id": pa.array(record_ids if record_ids is not None else [None] * len(reasons), pa.int64()),
    }, schema=QUARANTINE)
