"""Reading tasks for the real EVTX samples (worker and cache tests)."""

from __future__ import annotations


from support.scale import evidence  # noqa: F401


def _evtx_tasks(evtx_dir):
    from datetime import datetime, timezone

    from skewsleuth.reading.files import FileTask

    return [FileTask(str(f), i, "evtx", f"folder{i}", timezone.utc,
                     datetime(2024, 12, 31, tzinfo=timezone.utc))
            for i, f in enumerate(sorted(evtx_dir.glob("*.evtx")), start=1)]
