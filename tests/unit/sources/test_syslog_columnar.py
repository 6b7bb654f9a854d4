"""The column-wise syslog reader equals the per-line grammar, exactly.

``syslog.read(ctx, columnar=False)`` reads every line with the per-line grammar
(``syslog_lines.read_lines``, one Python loop per line); the default reads the common
shapes column-wise. Both read the same files; their EVENTS tables (every column,
every row, in order), their quarantine (record number, reason, excerpt, in order),
their notes and their UnusableFile must be equal, and so must the year each chooses
for RFC 3164 lines (from the file's modification time, or given).
Inputs: synthetic corpora (RFC 3164 with krb5kdc lines, RFC 5424 with structured
data), hand-written files of every shape the reader knows, and generated files of
hostile lines (controls, quotes, backslashes, non-UTF-8, NUL, long lines, DST
boundaries in Europe/Berlin and America/Chicago, New Year crossings, continuations,
BOMs, UTF-16), each against modification times that put the newest line on either
side of the year's choice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.properties import examples

from skewsleuth.schema import EVENTS
from skewsleuth.sources import base, syslog, syslog_lines, textinput
from skewsleuth.errors import UnusableFile
from skewsleuth.sources.base import FileContext
from synth.corpus import write_corpus
from synth.syslog import krb5kdc_line, rfc3164_line, rfc5424_line

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
CHICAGO = ZoneInfo("America/Chicago")


# RFC 3164 lines carry no year: by default the files were last modified in 2014.
MODIFIED = datetime(2014, 12, 31, tzinfo=UTC)


def outcome(columnar: bool, path: Path, tz=UTC, modified: datetime | None = MODIFIED, year: int | None = None):
    ctx = FileContext(path=path, file_id=3, default_host="dflt", timezone=tz, modified=modified, year=year)
    error = None
    batches = []
    try:
        for batch in syslog.read(ctx, columnar=columnar):
            assert batch.schema.equals(EVENTS)
            batches.append(batch)
    except UnusableFile as exc:
        error = str(exc)
    table = pa.Table.from_batches(batches, schema=EVENTS)
    quarantined = [(q.record_no, q.reason, q.excerpt) for q in ctx.quarantined]
    return table, quarantined, ctx.notes, error


def assert_same(path: Path, tz=UTC, modified: datetime | None = MODIFIED, year: int | None = None) -> int:
    want = outcome(False, path, tz, modified, year)
    got = outcome(True, path, tz, modified, year)
    if not got[0].equals(want[0]):
        for i, (a, b) in enumerate(zip(want[0].to_pylist(), got[0].to_pylist())):
            assert b == a, f"row {i}"
        assert got[0].num_rows == want[0].num_rows
        assert got[0].equals(want[0])   # types, nulls: what to_pylist does not show
    assert got[1] == want[1]
    assert got[2] == want[2]
    assert got[3] == want[3]
    return want[0].num_rows + len(want[1])


@pytest.mark.parametrize("fmt", ["rfc3164", "rfc5424"])
def test_synthetic_corpus_same(tmp_path, fmt):
    truth = write_corpus(tmp_path / fmt, 4, 40_000, formats=[fmt], incident=True, faults=0.5, seed=7)
    files = [f for f in sorted(truth.root.rglob("*")) if f.is_file() and f.name != "case.yml"]
    assert files
    for f in files:
        assert assert_same(f) > 0
        assert assert_same(f, tz=BERLIN, year=2025) > 0
        assert assert_same(f, modified=datetime(2014, 10, 20, 12, 0, tzinfo=UTC)) > 0


def write(tmp_path: Path, lines: list[str] | bytes, name: str = "syslog") -> Path:
    p = tmp_path / name
    p.write_bytes(lines if isinstance(lines, bytes) else "\n".join(lines).encode("utf-8", "surrogatepass"))
    return p


SHAPES = [
    "Oct 20 18:19:05 host app[123]: msg",
    "<34>Oct 20 18:19:05 host app[123]: msg with PRI",
    "<13>Oct  2 08:09:10 host app: no pid",
    "Oct 20 18:19:05 kdc krb5kdc[1234](info): AS_REQ ...",
    "Oct 20 18:19:05 kdc krb5kdc[1234](INFO): upper level",
    "<30>Oct 20 18:19:05 kdc krb5kdc[1234](warning): PRI wins over level",
    "Oct 20 18:19:05 kdc app(err): level without pid",
    "Oct 20 18:19:05 host app[]: empty pid",
    "Oct 20 18:19:05 host app[007]: leading zeros",
    "Oct 20 18:19:05 host app[1234567890]: ten digits",
    "Oct 20 18:19:05 host app[abc]: text pid",
    "Oct 20 18:19:05 host app[12 x]: broken pid",
    "Oct 20 18:19:05 host app[12] no colon",
    "Oct 20 18:19:05 host last message repeated 3 times",
    "Oct 20 18:19:05 host",
    "Oct 20 18:19:05 host ",
    "Oct 20 18:19:05 host app:",
    "Oct 20 18:19:05 host app:msg without space",
    "Oct 20 18:19:05 host app:  two spaces",
    "Oct 20 18:19:05 host  two spaces before tag",
    "Oct 20 18:19:05  host two spaces before host",
    "Oct 20 18:19:05 sshd[99]: no hostname",
    "Oct 20 18:19:05 host: no hostname either",
    "Oct 20 18:19:05 fe80::1 app: ipv6 host",
    "Oct 20 18:19:05 h(o)st] app: odd host",
    "Oct 20 18:19:05 host a]pp: odd tag",
    "Oct 20 18:19:05 host app)x: odd tag",
    "Oct 20 18:19:05 host (app): paren tag",
    "Oct 20 18:19:05 host\tapp: tab after host",
    "Oct 20 18:19:05 host app\t: tab in tag",
    "Oct 20 18:19:05 hóst app: non-ASCII host",
    "Oct 20 18:19:05 host äpp[1]: non-ASCII tag",
    "Oct 20 18:19:05 host app[1]: non-ASCII message ü € 😀",
    "Oct 20 18:19:05 host\u00a0app: NBSP",
    "Oct 20 18:19:05 host\x01x app: control in host",
    "Oct 20 18:19:05.123456 host app[1]: fraction",
    "Oct 20 8:19:05 host app[1]: one-digit hour",
    "Oct 2 18:19:05 host app[1]: one space one digit",
    "oct 20 18:19:05 host app[1]: lower-case month",
    "OCT 20 18:19:05 host app[1]: upper-case month",
    "Foo 20 18:19:05 host app[1]: no month",
    "Feb 30 18:19:05 host app[1]: no such day",
    "Feb 29 18:19:05 host app[1]: leap day",
    "Oct 20 24:19:05 host app[1]: hour 24",
    "Oct 20 18:60:05 host app[1]: minute 60",
    "Oct 20 18:19:60 host app[1]: second 60",
    "Oct 00 18:19:05 host app[1]: day 0",
    "<192>Oct 20 18:19:05 host app[1]: PRI out of range",
    "<191>Oct 20 18:19:05 host app[1]: PRI 191",
    "<0>Oct 20 18:19:05 host app[1]: PRI 0",
    "<1234>Oct 20 18:19:05 host app[1]: four-digit PRI",
    "<\u0661\u0662>Oct 20 18:19:05 host app[1]: Arabic-Indic PRI",
    "Oct \u0661\u0662 18:19:05 host app[1]: Arabic-Indic day",
    "\ufeffOct 20 18:19:05 host app[1]: BOM",
    "\ufeff",
    "  continued",
    "\tcontinued with a tab",
    "   ",
    "\r",
    "\r  ",
    "",
    "random words",
    "\x00\x01\x02 binary",
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1" b="2"] msg',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1"][sd@2 b="x\\"y\\]z\\\\"] escapes',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1"][sd@1 b="2"] repeated id',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1" a="2"] repeated param',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1] no params',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1"]no space',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="1"]',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="v\x01"] control in value',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd@1 a="ü ] = ["] non-ASCII value',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [bad',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 not sd',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 - \ufeffBOM message',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 -',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 ',
    '<165>1 2014-10-20T18:19:05.003Z host app 123 ID47 -x',
    '<165>1 2014-10-20T18:19:05Z - - - - - nil everything',
    '<165>1 2014-10-20T18:19:05.123456789+02:00 host app proc-id "msg\\id" - quote in msgid',
    '<165>1 2014-10-20t18:19:05z host app 0123 - - lower t and z, leading zero pid',
    '<165>1 2014-10-20T18:19:60.5-05:30 host app 1 - - leap second',
    '<165>1 2014-02-30T18:19:05Z host app 1 - - no such day',
    '<165>1 2014-10-20T18:19:05+99:99 host app 1 - - odd offset',
    '<165>1 0001-01-01T00:00:00+01:00 host app 1 - - before year 1',
    '<165>1 2014-10-20T18:19:05.1234567890Z host app 1 - - ten fraction digits',
    '<165>1 2014-10-20 18:19:05Z host app 1 - - no T',
    '<165>1 - host app 1 - - no time',
    '<999>1 2014-10-20T18:19:05Z host app 1 - - PRI out of range',
    '<165>1 2014-10-20T18:19:05Z hóst äpp 1 - - non-ASCII header',
    '<165>1 2014-10-20T18:19:05Z host app 1 - -  two spaces',
    '<165>1  2014-10-20T18:19:05Z host app 1 - - two spaces in header',
    "2014-10-20T18:19:05.003+02:00 host app[123]: rsyslog ISO",
    "2014-10-20T18:19:05 host app[123]: ISO without zone",
    "<13>2014-10-20T18:19:05,5Z host app: ISO with PRI",
]


def test_every_shape_alone_and_together(tmp_path):
    for i, line in enumerate(SHAPES):
        assert_same(write(tmp_path, [line], f"one{i}"), tz=CHICAGO)
    rng = random.Random(5)
    for k in range(20):
        lines = [rng.choice(SHAPES) for _ in range(rng.randrange(1, 200))]
        assert_same(write(tmp_path, lines, f"mix{k}"), tz=BERLIN)


def test_encodings_and_line_ends(tmp_path):
    lines = [rfc3164_line(datetime(2014, 10, 20, 18, i), "h", "app", i, f"m{i} ü") for i in range(30)]
    text = "\r\n".join(lines) + "\r\n"
    for enc, bom in (("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b""),
                     ("utf-16-le", b"")):
        assert_same(write(tmp_path, bom + text.encode(enc), f"f-{enc}-{len(bom)}"))
    raw = "\n".join(lines).encode() + b"\n\xff\xfe bad bytes \xc3\n" + lines[0].encode() + b"\r"
    assert_same(write(tmp_path, raw, "latin"))
    assert_same(write(tmp_path, b"", "empty"))
    assert_same(write(tmp_path, b"\n\n  \n", "blank"))


def test_long_lines_and_block_edges(tmp_path, monkeypatch):
    monkeypatch.setattr(textinput, "BLOCK", 4096)
    monkeypatch.setattr(base, "BATCH_ROWS", 7)
    lines = []
    for i in range(300):
        lines.append(rfc3164_line(datetime(2014, 10, 20, 18, i % 60), "h" * (i % 120 + 1), "a" * (i % 50 + 1), i,
                                  "x" * (i * 37 % 9000)))
        if i % 7 == 0:
            lines.append("  continuation " + "y" * (i * 101 % 70000))
    assert_same(write(tmp_path, lines))
    assert_same(write(tmp_path, ["z" * 9000] * 3, "junk"))


def test_year_inference_and_dst(tmp_path):
    # Two New Year crossings, stragglers, and the autumn and spring DST changes.
    t = datetime(2012, 12, 30, 22, 0)
    lines = []
    while t < datetime(2014, 1, 3):
        lines.append(rfc3164_line(t, "h", "app", 1, t.isoformat()))
        t += timedelta(hours=7, minutes=13)
    lines.insert(300, rfc3164_line(datetime(2013, 12, 31, 23, 59), "h", "app", 1, "straggler"))
    for tz in (BERLIN, CHICAGO, UTC):
        assert_same(write(tmp_path, lines, "years"), tz=tz, modified=datetime(2015, 1, 2, 22, tzinfo=UTC))
        assert_same(write(tmp_path, lines, "years"), tz=tz, modified=datetime(2015, 1, 3, 22, tzinfo=UTC))
        assert_same(write(tmp_path, lines, "years"), tz=tz, year=2012)
    # The repeated hour of autumn, twice, and the spring gap, minute by minute.
    lines = []
    for day, hours in ((27, (1, 2, 3)), (30, (1, 2, 3))):
        for h in hours:
            for mi in range(0, 60, 7):
                lines.append(rfc3164_line(datetime(2013, 10, day, h, mi), "h", "app", 1, "x"))
        for mi in range(0, 60, 11):
            lines.append(rfc3164_line(datetime(2013, 10, day, 2, mi), "h", "app", 1, "again"))
    for mi in range(0, 60, 5):
        lines.append(rfc3164_line(datetime(2014, 3, 30, 2, mi), "h", "app", 1, "gap"))
        lines.append(f"2014-03-30T02:{mi:02d}:00 h app: ISO in the gap")
    for tz in (BERLIN, CHICAGO):
        assert_same(write(tmp_path, lines, "dst"), tz=tz)
        assert_same(write(tmp_path, lines, "dst"), tz=tz, year=2013)


# The newest line, in each shape the column-wise first pass reads itself or asks the
# grammar about, at Dec 31 23:59:58 (.25 where a fraction can say it), among older lines.
_NEWEST = ["Dec 31 23:59:58 host app[1]: common shape",
           "<13>Dec 31 23:59:58 host app: PRI",
           "Dec 31 23:59:58.250 host app[1]: fraction",
           "Dec 31 23:59:58  host app[1]: two spaces before the host",
           "DEC 31 23:59:58 host app[1]: upper-case month",
           "Dec 31 23:59:58 kdc krb5kdc[1234](info): kdc"]


@pytest.mark.parametrize("newest", _NEWEST)
def test_the_newest_line_decides_the_year_the_same_whatever_its_shape(tmp_path, newest):
    """Modification times a quarter second apart around the newest line's wall time
    (less ZONE_SLACK): both readers flip to the previous year at the same one."""
    lines = ["Dec 30 08:00:00 host app[1]: older", "Dec 31 9:00:00 host app[1]: one-digit hour", newest,
             "Dec 31 10:00:00 host app[1]: older again"]
    path = write(tmp_path, lines)
    wall = datetime(2014, 12, 31, 23, 59, 58, 250_000 if ".250" in newest else 0, tzinfo=UTC)
    years = set()
    for k in range(-4, 5):
        modified = wall - syslog_lines.ZONE_SLACK + timedelta(microseconds=250_000 * k)
        assert_same(path, modified=modified)
        (note,) = outcome(False, path, modified=modified)[2]
        years.add((k >= 0, note.split("so in ")[1][:4]))
    assert years == {(True, "2014"), (False, "2013")}


# Hostile lines: pieces of every shape, glued with hostile characters.
_PIECES = st.sampled_from(["<34>", "<191>", "<192>", "<1>", "Oct", "oct", "Dec", "Jan", "Feb", " ", "  ", "\t",
                           "20", " 2", "31", "29", "18:19:05", "02:30:00", "23:59:59", ".123", "host", "h[", "h:",
                           "app", "[123]", "[]", "[x]", "(info)", ":", ": ", "\"", "\\", "]", "[", "=", "-", "\x00",
                           "\x01", "\x1c", "\x7f", "\x85", "\u00a0", "\u2028", "é", "😀", "\ufeff", "\r",
                           '<165>1 2014-10-20T18:19:05.003Z ', "2014-10-26T02:30:00 ", '[sd a="1"]',
                           '[sd a="\\"]"]', "x" * 300])
_LINE = st.lists(_PIECES, max_size=14).map("".join)
_BSD_LINE = st.builds(
    lambda mon, day, h, mi, host, tag, msg: f"{mon} {day:2d} {h:02d}:{mi:02d}:05 {host} {tag}: {msg}",
    st.sampled_from(["Jan", "Mar", "Oct", "Dec", "Feb"]), st.integers(0, 31), st.sampled_from([0, 1, 2, 3, 23, 24]),
    st.integers(0, 60), st.sampled_from(["h", "h.example", "-", "x:"]),
    st.sampled_from(["app", "app[1]", "app[1](info)", "krb5kdc[9](err)", "a b"]), _LINE)
_GOOD_TOKEN = st.sampled_from(["-", "h", "host.example", "app", "0", "007", "123", "1234567890", "p-1", 'q"x',
                               "b\\s", "ID47"])
_TOKEN = st.one_of(_GOOD_TOKEN, _GOOD_TOKEN, _GOOD_TOKEN, st.sampled_from(["é", "a\tb", ""]))
_VALUE = st.one_of(st.sampled_from(["", "a", "a b=c] [d", "é€😀\x7f\u2028", "x" * 90]),
                   st.lists(st.sampled_from(["a", " ", "]", "[", "=", '\\"', "\\\\", "\\]", "é", "\x01", "\x7f",
                                             "\u2028", "x" * 90]), max_size=5).map("".join))
_SD = st.one_of(st.just("-"), st.lists(st.builds(
    lambda sd_id, params: f"[{sd_id}" + "".join(f' {k}="{v}"' for k, v in params) + "]",
    st.sampled_from(["req@1", "sd", "x=y", "a b", "é"]),
    st.lists(st.tuples(st.sampled_from(["k", "id", "peer", "k"]), _VALUE), max_size=4)), min_size=1, max_size=2)
    .map("".join))
_5424_LINE = st.builds(
    lambda pri, ts, fields, sd, sep, msg: f"<{pri}>1 {ts} {' '.join(fields)}{sep}{sd}{sep}{msg}",
    st.sampled_from([0, 13, 165, 191, 192]),
    st.sampled_from(["2014-10-20T18:19:05.003Z", "2014-10-26T01:30:00+02:00", "2014-10-20t18:19:60.123456789z",
                     "2014-02-29T00:00:00Z", "2014-10-20T18:19:05", "-", "1970-01-01T00:00:00-23:59"]),
    st.lists(_TOKEN, min_size=4, max_size=4), _SD, st.sampled_from([" ", " ", " ", "", "  "]), _LINE)


# Modification times near the hostile lines' dates (which straddle New Year), so that
# the newest line falls on either side of the year's choice; or a year given.
_MODIFIED = st.one_of(st.sampled_from([datetime(2014, 12, 31, 9, 59, 5, tzinfo=UTC), datetime(2015, 1, 1, tzinfo=UTC),
                                       datetime(2014, 10, 20, 4, 19, 5, tzinfo=UTC),
                                       datetime(2014, 2, 28, 10, 0, 5, tzinfo=UTC)]),
                      st.datetimes(datetime(2013, 12, 1), datetime(2015, 2, 1), timezones=st.just(UTC)))


@settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(_LINE, _BSD_LINE, _BSD_LINE, _5424_LINE, _5424_LINE), max_size=40),
       st.sampled_from([UTC, BERLIN, CHICAGO]),
       st.sampled_from([b"", b"\xff\xfe\x00", b"\xc3"]), _MODIFIED, st.none() | st.just(2014))
def test_hostile_lines_same(tmp_path_factory, lines, tz, junk, modified, year):
    path = tmp_path_factory.mktemp("h") / "syslog"
    path.write_bytes("\n".join(lines).encode("utf-8", "replace") + junk)
    assert_same(path, tz=tz, modified=modified, year=year)


def test_kdc_and_5424_writers(tmp_path):
    lines = []
    for i in range(500):
        t = datetime(2014, 10, 20, 18, 0) + timedelta(seconds=37 * i)
        lines.append(krb5kdc_line(t, "kdc", 1000 + i % 3, f"AS_REQ {i}", level=("info", "err", "NOTICE")[i % 3]))
        lines.append(rfc5424_line(t.replace(tzinfo=UTC), f"h{i % 4}", "app", (None, 5, "p-1")[i % 3], f"msg {i}",
                                  msgid=("-", "ID47")[i % 2], pri=i % 200,
                                  structured_data=({"req@1": {"id": str(i), "peer": "a b=c]"}} if i % 4 else None)))
    assert_same(write(tmp_path, lines), tz=CHICAGO)


# Mostly well-formed 5424 lines with structured data, so that most take the
# column-wise path: values with any character but escapes and controls, often.
_PARAMS = st.lists(st.tuples(st.sampled_from(["id", "peer", "a", "b.c", "x-y", "k@1", "i", "p", "z"]), st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\x00\n\r'), max_size=30),
    _VALUE)), max_size=5)
_GOOD_5424 = st.builds(
    lambda pri, ts, fields, sd_id, params, extra, msg: (
        f"<{pri}>1 {ts} {' '.join(fields)} [{sd_id}" + "".join(f' {k}="{v}"' for k, v in params) + "]"
        + extra + (" " + msg if msg else "")),
    st.integers(0, 191), st.sampled_from(["2014-10-20T18:19:05.003Z", "2014-10-26T01:30:00.5+02:00",
                                         "2016-12-31T23:59:60Z", "2014-10-20T18:19:05.123456789-05:30"]),
    st.lists(_GOOD_TOKEN, min_size=4, max_size=4), st.sampled_from(["req@1", "sd", "origin"]), _PARAMS,
    st.sampled_from(["", "", "", '[meta seq="1"]', "x"]), st.text(max_size=20))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(_GOOD_5424, _GOOD_5424, _5424_LINE), min_size=1, max_size=40))
def test_structured_data_same(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("sd") / "messages.log"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    assert_same(path)
