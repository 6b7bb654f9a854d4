"""Duplicate records across files, through whole investigations: a record is dropped
as a copy exactly when an earlier file holds it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest


def _records(draw_rows):
    """An events table from (file, host, message, data) rows, numbered within each file."""
    import pyarrow as pa

    from skewsleuth.schema import EVENTS

    seen: dict[int, int] = {}
    rows = []
    for file_id, host, message, data in draw_rows:
        seen[file_id] = seen.get(file_id, -1) + 1
        rows.append({"file_id": file_id, "record_no": seen[file_id], "record_id": None, "host": host,
                     "logged": datetime(2014, 10, 21, tzinfo=timezone.utc), "format": "syslog", "channel": "app",
                     "provider": None, "event_id": None, "message": message, "data": data})
    return pa.Table.from_pylist(rows, schema=EVENTS)


@pytest.mark.parametrize("weak_hash", [None, "hash(host)", "0"])
def test_a_record_is_dropped_as_a_copy_exactly_when_an_earlier_file_holds_it(weak_hash, monkeypatch):
    """Against the definition, with DuckDB's hash and with hashes that collide for
    records that differ (of one host; of all): a collision merges nothing, and copies
    within one file stay."""
    from hypothesis import given, settings, strategies as st

    from skewsleuth import normalise
    from skewsleuth.store import Store

    if weak_hash:
        monkeypatch.setattr(normalise, "_RECORD_HASH", weak_hash)
    row = st.tuples(st.integers(1, 4), st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", None]),
                    st.sampled_from(["{}", '{"k":1}', None]))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(row, max_size=30))
    def check(rows):
        table = _records(rows)
        store = Store()
        try:
            store.append_events(table)
            dropped = normalise.drop_duplicates(store)
            kept = set(store.con.execute("SELECT file_id, record_no FROM events").fetchall())
        finally:
            store.close()
        first_file: dict[tuple, int] = {}
        for r in table.to_pylist():
            key = tuple(r[c] for c in normalise._RECORD)
            first_file[key] = min(first_file.get(key, r["file_id"]), r["file_id"])
        expected = {(r["file_id"], r["record_no"]) for r in table.to_pylist()
                    if r["file_id"] == first_file[tuple(r[c] for c in normalise._RECORD)]}
        assert kept == expected and dropped == len(table) - len(expected)

    check()
