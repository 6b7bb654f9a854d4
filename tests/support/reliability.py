"""One file through the reader every input takes, with the invariants every result keeps."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from skewsleuth.reading.files import FileTask, read_file
from hypothesis import HealthCheck, settings
from support.properties import examples

from skewsleuth.sources import sniff

UTC = timezone.utc
# Every fuzz test is bounded for the suite; SKEWSLEUTH_FUZZ_EXAMPLES=N runs N examples each.
EXAMPLES = int(os.environ.get("SKEWSLEUTH_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or examples(40), deadline=timedelta(seconds=20), derandomize=not EXAMPLES,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _read(path: Path, fmt: str | None = None):
    """One file through the reader every input takes; the invariants of every result."""
    fmt = fmt or sniff(path.read_bytes()[:8192])
    if fmt is None:
        return None
    task = FileTask(str(path), 1, fmt, "folder", UTC, datetime(2024, 12, 31, tzinfo=UTC))
    result = read_file(task)
    if result.failed is not None:
        assert result.ingested == 0 and result.events is None and result.failed
        return result
    assert result.events.num_rows == result.ingested
    assert all(result.quarantine.column("reason").to_pylist())          # every quarantine says why
    nos = result.events.column("record_no").to_pylist() + [
        n for n in result.quarantine.column("record_no").to_pylist() if n is not None]
    assert len(nos) == len(set(nos))                                      # nothing counted twice
    return result
