"""The journald reader gives exactly what it gave before it was made faster.

The reference is the reader as it was (tests/reference/journald.py): the same EVENTS
rows, record numbers, quarantine rows and notes on the synthetic corpus and on
hypothesis-built hostile journal lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st

from skewsleuth.sources import journald
from skewsleuth.sources.base import FileContext, UnusableFile

sys.path.insert(0, str(Path(__file__).parent))
from reference import journald as reference  # noqa: E402


def _run(module, path: Path):
    ctx = FileContext(path=path, file_id=2, default_host="folder", timezone=ZoneInfo("UTC"))
    try:
        batches = list(module.read(ctx))
    except UnusableFile as exc:
        return ("unusable", str(exc)), ctx.quarantined, ctx.notes
    return (pa.Table.from_batches(batches).to_pylist() if batches else []), ctx.quarantined, ctx.notes


def assert_same(path: Path) -> int:
    new, old = _run(journald, path), _run(reference, path)
    assert new == old, path
    return len(new[0]) if isinstance(new[0], list) else 0


def test_synthetic_corpus_reads_the_same(tmp_path):
    from skewsleuth.synth.corpus import write_corpus

    truth = write_corpus(tmp_path / "c", 4, 8_000, formats=["journald"], incident=False, faults=0.5, seed=3)
    files = sorted(p for p in Path(truth.root).rglob("*") if p.is_file() and p.name != "case.yml")
    assert sum(assert_same(p) for p in files) == truth.events


_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**70), st.floats(allow_nan=False),
                   st.text(max_size=12), st.sampled_from(["7", "007", "٣", "１２", "-1", "99999999999999999999999"]),
                   st.lists(st.integers(0, 300), max_size=5), st.lists(st.text(max_size=4), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_FIELDS = ["_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "MESSAGE", "_PID", "PRIORITY",
           "SYSLOG_FACILITY", "_BOOT_ID", "MESSAGE_ID", "_SYSTEMD_UNIT", "_TRANSPORT", "__MONOTONIC_TIMESTAMP",
           "_SOURCE_REALTIME_TIMESTAMP"]
_ENTRY = st.fixed_dictionaries({"__REALTIME_TIMESTAMP": st.sampled_from(["1700000000000000", "x", "1" * 25])},
                               optional={f: _VALUE for f in _FIELDS})
_LINE = st.one_of(_ENTRY.map(lambda d: json.dumps(d, ensure_ascii=False)),
                  _ENTRY.map(lambda d: json.dumps(d)), st.text(max_size=20), st.just('{"MESSAGE": "\\ud800"}'))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_LINE, min_size=1, max_size=8))
def test_hostile_lines_read_the_same(tmp_path, lines):
    p = tmp_path / "j.json"
    p.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    assert_same(p)
