"""Where a step that message pairs show is placed: the biggest jump of the host's own log
between the readings that disagree (``pairs._BIGGEST_JUMP``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa

from skewsleuth.clock import pairs
from skewsleuth.schema import EVENTS
from skewsleuth.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def _store_with_log(times: list[datetime], order: list[int]) -> Store:
    """One log of host h, its records numbered 1.. in write order, appended to the
    table in ``order`` (a scan meets them in that order)."""
    store = Store()
    rows = [dict(file_id=1, record_no=k + 1, record_id=k + 1, host="h", logged=times[k], format="syslog",
                 channel=None, provider="p", event_id=None, message="m", data=None) for k in order]
    store.append_events(pa.Table.from_pylist(rows, schema=EVENTS))
    store.con.register("_ranges", pa.table({"seg": [0], "other": [1], "file_id": pa.array([1], pa.int32()),
                                            "seq_from": [1], "seq_to": [len(times)]}))
    return store


def test_of_two_jumps_as_big_the_first_the_log_wrote_is_taken_whole():
    # An hour back at record 3, an hour ahead again at record 5 (a clock set wrong and
    # set right): as big as each other. The records are stored last first, so a scan
    # meets the later jump first.
    s = lambda n: timedelta(seconds=n)  # noqa: E731
    hour = timedelta(hours=1)
    times = [T0, T0 + s(10), T0 + s(10) - hour, T0 + s(20) - hour, T0 + s(20), T0 + s(30)]
    for order in (list(range(6))[::-1], list(range(6))):
        store = _store_with_log(times, order)
        rows = store.con.execute(pairs._BIGGEST_JUMP).fetchall()
        jump = int((times[2] - times[1]) / timedelta(microseconds=1))
        assert jump == -int((times[4] - times[3]) / timedelta(microseconds=1))
        assert rows == [(0, 1, jump, 1, "h", 3, 3, times[2], times[1])], order


def test_the_biggest_jump_wins_over_smaller_ones_either_way():
    times = [T0, T0 + timedelta(seconds=5), T0 + timedelta(seconds=6) + timedelta(hours=2),
             T0 + timedelta(hours=2, seconds=7), T0 + timedelta(hours=1)]
    store = _store_with_log(times, list(range(5))[::-1])
    rows = store.con.execute(pairs._BIGGEST_JUMP).fetchall()
    assert [r[2:6] for r in rows] == [(int(timedelta(hours=2, seconds=1) / timedelta(microseconds=1)), 1, "h", 3)]
