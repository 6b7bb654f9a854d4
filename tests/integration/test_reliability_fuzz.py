"""Hostile and damaged input, at length: real EVTX files mutated at random and read as
far as they can be (the rest of the reliability tests are in tests/unit/test_reliability.py).

``SKEWSLEUTH_FUZZ_EXAMPLES=N`` runs N examples (docs/reliability.md records a long run).
"""

from __future__ import annotations

import random
from datetime import datetime

from hypothesis import given, strategies as st

from skewsleuth.reading.files import FileTask, read_bundle, read_file
from support.reliability import EXAMPLES, FUZZ, UTC, _read  # noqa: F401


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 64), cut=st.none() | st.integers(0, 1_118_208),
       zero=st.none() | st.tuples(st.integers(0, 1_118_208), st.integers(1, 70_000)))
def test_a_mutated_real_evtx_file_is_read_as_far_as_it_can_be(tmp_path, evtx_dir, seed, flips, cut, zero):
    rnd = random.Random(seed)
    data = bytearray((evtx_dir / "system.evtx").read_bytes())
    for _ in range(flips):            # bytes flipped where records, chunk headers and string tables are
        i = rnd.randrange(4096, len(data))
        data[i] = rnd.randrange(256)
    if zero is not None:
        a, n = zero
        data[a:a + n] = bytes(len(data[a:a + n]))
    if cut is not None:
        del data[cut:]
    p = tmp_path / "system.evtx"
    p.write_bytes(bytes(data))
    result = _read(p, "evtx")
    if result is not None and result.failed is None:
        assert result.ingested + result.quarantined > 0
    # Between two good files, normalised with theirs, it reads the same as alone.
    good = [FileTask(str(evtx_dir / name), i, "evtx", "folder", UTC, datetime(2024, 12, 31, tzinfo=UTC))
            for i, name in ((2, "security.evtx"), (3, "system.evtx"))]
    together = read_bundle([good[0], FileTask(str(p), 1, "evtx", "folder", UTC, datetime(2024, 12, 31, tzinfo=UTC)), good[1]])
    for alone, mixed in zip([read_file(good[0]), result, read_file(good[1])], together):
        assert (mixed.failed, mixed.ingested, mixed.notes) == (alone.failed, alone.ingested, alone.notes)
        if alone.failed is None:
            assert mixed.events.equals(alone.events) and mixed.quarantine.equals(alone.quarantine)
