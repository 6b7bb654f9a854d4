"""The column-wise journald reader equals the per-line one, exactly.

``journald.read(ctx, columnar=False)`` reads every line with ``json.loads`` in Python;
the default reads blocks of lines with Arrow's JSON reader and sends only the lines it
may not get right through that same per-line code. Both read the same files; their EVENTS rows
(every column, in order), quarantine (record number, reason, excerpt, in order) and
UnusableFile must be equal. Inputs: a synthetic corpus, every line shape Arrow's
reader must hand back (what RapidJSON accepts and Python refuses, duplicate keys, escapes,
numbers, byte arrays, over-long times), CRLF and UTF-16, and generated hostile lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.columnar import assert_same_outcome, reader_outcome
from support.properties import examples, json_lines

from skewsleuth.sources import journald, journald_columns
from skewsleuth.sources.base import FileContext


@pytest.fixture(autouse=True)
def columnar_whatever_the_size(monkeypatch):
    monkeypatch.setattr(journald, "COLUMNAR_MIN_BYTES", 0)


def _ctx(path: Path) -> FileContext:
    return FileContext(path=path, file_id=3, default_host="dflt", timezone=None)  # type: ignore[arg-type]


def outcome(columnar: bool, path: Path):
    return reader_outcome(journald.read, _ctx(path), columnar)


def assert_same(path: Path) -> list:
    return assert_same_outcome(journald.read, lambda: _ctx(path))


def _entry(**fields) -> str:
    return json.dumps({"__REALTIME_TIMESTAMP": "1413840805123456", "_HOSTNAME": "edge01", "SYSLOG_IDENTIFIER": "chronyd",
                       "_PID": "611", "PRIORITY": "6", "MESSAGE": "System clock wrong by 1.5 seconds"} | fields,
                      ensure_ascii=False)


# Lines Arrow's reader must leave to the per-line code, or read exactly as it does.
SHAPES = [
    _entry(),
    _entry(_PID="007", PRIORITY="07", SYSLOG_FACILITY="3", __MONOTONIC_TIMESTAMP="0012",
           _SOURCE_REALTIME_TIMESTAMP="1413840805000000", _BOOT_ID="b1", MESSAGE_ID="c7a7", _SYSTEMD_UNIT="chronyd.service",
           _TRANSPORT="journal"),
    _entry(_PID="abc", PRIORITY="8", SYSLOG_FACILITY="24", __MONOTONIC_TIMESTAMP="-1"),
    _entry(_PID="", PRIORITY="", _BOOT_ID="", _HOSTNAME="", SYSLOG_IDENTIFIER="", _COMM="systemd"),
    _entry(SYSLOG_IDENTIFIER="", _COMM=""),
    _entry(SYSLOG_IDENTIFIER=None, _COMM=None, _HOSTNAME=None, MESSAGE=None, _PID=None, PRIORITY=None),
    _entry(_PID="٣", PRIORITY="٣"),                              # digits, not ASCII ones
    _entry(_PID="123456789012345678901"),                        # 21 digits: text
    _entry(_BOOT_ID='a"b', _SYSTEMD_UNIT="x\\y", MESSAGE_ID="t\tab"),
    _entry(MESSAGE="caf\u00e9 \u2028 \x7f", _HOSTNAME="hôte"),
    _entry(MESSAGE=[104, 105, 255]),                             # journalctl's bytes
    _entry(MESSAGE=["two", "values"]),
    _entry(_PID=611, PRIORITY=3, __REALTIME_TIMESTAMP=1413840805123456),
    _entry(_PID=True, MESSAGE={"a": 1}),
    _entry(other=[1, 2], more={"deep": [None]}),
    _entry(__REALTIME_TIMESTAMP="253402300799999999"),           # the last instant a datetime holds
    _entry(__REALTIME_TIMESTAMP="253402300800000000"),
    _entry(__REALTIME_TIMESTAMP="99999999999999999999"),
    _entry(__REALTIME_TIMESTAMP=" 1413840805123456"),
    _entry(__REALTIME_TIMESTAMP="+1413840805123456"),
    _entry(__REALTIME_TIMESTAMP=""),
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "lone \\ud800 half"}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "nul \\u0000 and \\u00e9"}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "first", "MESSAGE": "last"}',
    '{"__REALTIME_TIMESTAMP": "1", "\\u005f_REALTIME_TIMESTAMP": "2", "MESSAGE": "escaped key"}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "trailing comma",}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": [1, 2,]}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": nan}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": -Infinity}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": inf}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": [1,' + " " * 40 + '-Inf, -NaN]}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "Info: NaN, Infinity", "n": NaN}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "level: info, nan , inf"}',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x", "n": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "x"} trailing',
    '{"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "tab\tinside"}',
    '  {"__REALTIME_TIMESTAMP": "1413840805000000", "MESSAGE": "indented"}',
    '{ "__REALTIME_TIMESTAMP" : "1413840805000000" , "MESSAGE" : "journalctl spacing" }',
    '{}', '[1]', '"text"', '{"MESSAGE": "cut', "", "   ", "\x0c", "\u2003", "not json at all",
]


def per_line(monkeypatch) -> list[int]:
    """The record numbers the column-wise reader leaves to the per-line code."""
    left: list[int] = []
    entry = journald_columns.entry
    monkeypatch.setattr(journald_columns, "entry", lambda line, no, ctx: left.append(no) or entry(line, no, ctx))
    return left


def test_synthetic_corpus_same(tmp_path, monkeypatch):
    from synth.corpus import write_corpus

    left = per_line(monkeypatch)
    truth = write_corpus(tmp_path / "c", 3, 6_000, formats=["journald"], incident=False, faults=0.5, seed=4)
    files = sorted(p for p in Path(truth.root).rglob("*") if p.is_file() and p.name != "case.yml")
    assert sum(len(assert_same(p)) for p in files) == truth.events
    assert left == []  # journalctl's usual lines are read by Arrow, none one by one


def test_every_shape_alone_and_together(tmp_path, monkeypatch):
    left = per_line(monkeypatch)
    for k, line in enumerate(SHAPES):
        p = tmp_path / f"s{k}.json"
        p.write_text(line + "\n", encoding="utf-8")
        assert_same(p)
    p = tmp_path / "all.json"
    p.write_text("\n".join(SHAPES) + "\n", encoding="utf-8")
    # every refused line skipped alone, halved down to single lines (not the rest or
    # parts of _FEWEST left to entry() whole), so that what Arrow reads shows line by line
    monkeypatch.setattr(journald_columns, "_FEWEST", 1)
    monkeypatch.setattr(journald_columns, "_REFUSALS", len(SHAPES))
    left.clear()
    rows = assert_same(p)
    assert len(rows) > 20 and rows[0]["data"] == '{"pid": 611, "severity": "info"}'
    # Arrow reads the plain shapes (ASCII data, the last instant, NUL, journalctl's
    # spacing, a message that reads like nan and inf) and leaves the rest
    fast = {k for k in range(len(SHAPES) - 6) if k not in left}
    assert fast == {0, 1, 2, 3, 4, 5, 7, 9, 15, 22, 32, 37}, sorted(fast)


@pytest.mark.parametrize("how", ["crlf", "utf-16", "bom", "no final newline"])
def test_encodings_and_line_ends(tmp_path, how):
    text = "\n".join(SHAPES[:12]) + "\n"
    data = {"crlf": text.replace("\n", "\r\n").encode(), "utf-16": text.replace("\n", "\r\n").encode("utf-16"),
            "bom": b"\xef\xbb\xbf" + text.encode(), "no final newline": text.rstrip("\n").encode()}[how]
    p = tmp_path / "j.json"
    p.write_bytes(data)
    assert len(assert_same(p)) == 12


def test_groups_of_blocks(tmp_path, monkeypatch):
    """Lines across block and group edges, and a group of one block each."""
    from skewsleuth.sources import textinput

    monkeypatch.setattr(textinput, "BLOCK", 1000)
    lines = [_entry(MESSAGE=f"m{i} " + "x" * (i % 50)) for i in range(300)] + SHAPES
    p = tmp_path / "j.json"
    p.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    for group in (1, 3):
        monkeypatch.setattr(journald_columns, "_GROUP", group)
        assert len(assert_same(p)) > 300


def test_a_small_file_is_read_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(journald, "COLUMNAR_MIN_BYTES", 4096)
    lines: list[int] = []
    entry = journald.entry
    monkeypatch.setattr(journald, "entry", lambda line, no, ctx: lines.append(no) or entry(line, no, ctx))
    left = per_line(monkeypatch)
    p = tmp_path / "j.json"
    for n, small in ((5, True), (100, False)):
        lines.clear()
        p.write_text("\n".join(_entry(MESSAGE=f"m{i}") for i in range(n)) + "\n")
        assert len(assert_same(p)) == n
        # the reference reads every line; the default too where the file is small
        assert len(lines) == (2 * n if small else n) and left == []


def test_byte_arrays_go_to_entry_without_halving(tmp_path, monkeypatch):
    """journalctl writes a message that is not UTF-8 as an array of bytes: such lines
    are told before the parse, which then reads the others in one go."""
    import pyarrow.json as pj

    left = per_line(monkeypatch)
    parses = []
    read_json = pj.read_json
    monkeypatch.setattr(pj, "read_json", lambda *a, **kw: parses.append(1) or read_json(*a, **kw))
    p = tmp_path / "j.json"
    p.write_text("\n".join(_entry(MESSAGE=list(b"caf\xe9") if i % 10 == 0 else f"m{i}", _PID=str(i))
                           for i in range(500)) + "\n")
    assert len(assert_same(p)) == 500
    assert left == list(range(0, 500, 10)) and len(parses) == 1


def test_blank_file_is_unusable_either_way(tmp_path):
    p = tmp_path / "blank.json"
    p.write_text("\n  \n\n")
    assert outcome(True, p)[0] == outcome(False, p)[0] == ("unusable", "no journal entries (blank file)")


_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**21), st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.sampled_from(list("09aZ é\"\\\t\n\r\x00\x1f\x7f\u2028:,{}[]\ud800") + ["nan", "inf"]),
             max_size=12).map("".join),
    st.from_regex(r"[0-9]{1,22}", fullmatch=True), st.lists(st.integers(0, 300), max_size=4))
_KEY = st.sampled_from(journald_columns._FIELDS + ("other", "_comm", ""))


@settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(st.lists(st.tuples(_KEY, _VALUE), max_size=8), st.sampled_from(SHAPES)), max_size=25),
       st.sampled_from(["\n", "\r\n"]), st.sampled_from([1, 16]), st.sampled_from([0, 2, 32]))
def test_hostile_lines_same(tmp_path_factory, monkeypatch, entries, newline, fewest, refusals):
    monkeypatch.setattr(journald_columns, "_FEWEST", fewest)
    monkeypatch.setattr(journald_columns, "_REFUSALS", refusals)
    lines = json_lines(entries, ("__REALTIME_TIMESTAMP", "1413840805000000"))
    p = tmp_path_factory.mktemp("h") / "h.json"
    p.write_bytes(newline.join(lines).encode("utf-8", "surrogatepass"))
    assert_same(p)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.sampled_from(["Inf", "NaN", "In", "Na", "I", "N", "nf", "aN", "f", ": ", "-", "\n", "x", "é"]),
                max_size=40).map("".join))
def test_inf_and_nan_found_at_every_offset(text):
    """The two-bytes-at-a-time search finds what bytes.find finds, at even and odd
    offsets and against the block's end."""
    import re

    from skewsleuth.sources.textcols import Block

    block = Block(text)
    want = [m.start() for m in re.finditer(rb"(?=Inf|NaN)", block.raw)]
    assert sorted(journald_columns._words(block.buf, block.size).tolist()) == want
