"""What was not read, said: quarantined records counted by reason with an example each,
every failed file with its reason, what discovery sets aside as not evidence, EVTX files
cut short read up to the cut, and the one line when nothing could be read (issue 20)."""

from __future__ import annotations

import os
from datetime import timezone
from pathlib import Path

import pytest

import skewsleuth
from skewsleuth.errors import NothingRead, UnusableFile
from skewsleuth.reading.discovery import HIDDEN, LINKED, discover, head_of
from skewsleuth.reading.files import FileTask, read_file
from skewsleuth.reading.ingest import quarantine_by_reason
from skewsleuth.schema import quarantine_table
from skewsleuth.store import Store

UTC = timezone.utc


def _store(*files: tuple[str, list[tuple]]) -> Store:
    """A store whose quarantine holds, per file, rows of (record_no, reason, excerpt, record_id)."""
    store = Store()
    store.add_files([(k, path, "x", "h", len(rows), 0, len(rows), "ok", None)
                     for k, (path, rows) in enumerate(files, 1)])
    for k, (_, rows) in enumerate(files, 1):
        store.append_quarantine(quarantine_table(k, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                                 [r[3] for r in rows]))
    return store


def test_reasons_are_counted_most_first_with_their_first_record_and_add_up():
    store = _store(
        ("h1/sys.log", [(3, "PRI out of range: <999>", "<999>Oct 20 x", None),
                        (7, "PRI out of range: <1000>", "<1000>Oct 20 y", None),
                        (9, "not a syslog line (RFC 3164, RFC 5424 or ISO timestamp)", "junk", None)]),
        ("h2/System.evtx", [(None, "file ends inside chunk 4: its records after EventRecordID 509 are lost "
                                   "(the file was cut short)", "", None),
                            (12, "TimeCreated is FILETIME 0 (1601-01-01): no time recorded", "{}", 4711),
                            (40, "EVTX parser: Failed to parse record number 6335011: buffer too small at offset "
                                 "78404 (need 0 bytes, have 0)", "", 6335011),
                            (41, "EVTX parser: Failed to parse record number 6335012: buffer too small at offset "
                                 "79000 (need 8 bytes, have 2)", "", 6335012),
                            (42, "PRI out of range: <1234>", "x", None)]))
    got = quarantine_by_reason(store)
    assert [(q["reason"], q["count"]) for q in got] == [
        ("PRI out of range: …", 3),
        ("EVTX parser: Failed to parse record number …: buffer too small at offset … (need … bytes, have …)", 2),
        ("TimeCreated is FILETIME 0 (1601-01-01): no time recorded", 1),
        ("file ends inside chunk …: its records after EventRecordID … are lost (the file was cut short)", 1),
        ("not a syslog line (RFC 3164, RFC 5424 or ISO timestamp)", 1),
    ]
    assert sum(q["count"] for q in got) == store.rows("SELECT count(*) AS n FROM quarantine")[0]["n"]
    by = {q["reason"]: q["example"] for q in got}
    # the first record of each reason; its EventRecordID where it has one, else its record_no
    assert by["PRI out of range: …"] == {"path": "h1/sys.log", "record": 3, "record_kind": "record_no",
                                         "excerpt": "<999>Oct 20 x"}
    assert by["TimeCreated is FILETIME 0 (1601-01-01): no time recorded"]["record"] == 4711
    assert by["TimeCreated is FILETIME 0 (1601-01-01): no time recorded"]["record_kind"] == "EventRecordID"
    assert by[got[1]["reason"]]["record"] == 6335011
    cut = by[got[3]["reason"]]
    assert cut == {"path": "h2/System.evtx", "record": None, "record_kind": None, "excerpt": ""}


def test_an_example_excerpt_is_escaped_and_bounded():
    hostile = "\x1b[31m<script>alert(1)</script>\r\n" + "A" * 5000
    store = _store(("h1/app.log", [(0, "not JSON: Expecting value: line 1 column 1 (char 0)", hostile, None)]))
    (q,) = quarantine_by_reason(store)
    ex = q["example"]["excerpt"]
    assert "\x1b" not in ex and "\r" not in ex and "\n" not in ex and "\\x1b" in ex
    # 200 characters of the record, the control characters among them written out
    assert ex.endswith("A…") and len(ex) == 200 + len("\\x1b\\r\\n") - 3 + 1
    assert q["reason"] == "not JSON: Expecting value: line … column … (char …)"


@pytest.mark.parametrize("reason, normalised", [
    ("logged time 30828-09-14T02:48:05Z is outside the years 1900-8999 a timeline can hold",
     "logged time … is outside the years 1900-8999 a timeline can hold"),
    ("EVTX parser: Failed to parse chunk number 6: Failed to parse chunk header: Invalid EVTX chunk header magic, "
     "expected `ElfChnk0`, found `[ 0,  0,  0,  0,  0,  0,  0,  0]`",
     "EVTX parser: Failed to parse chunk number …: Failed to parse chunk header: Invalid EVTX chunk header magic, "
     "expected `ElfChnk0`, found `…`"),
    ("EVTX parser: Failed to parse record number 463011: An error occurred while trying to deserialize evtx stream.: "
     "Offset 0x00008060: Tried to read an invalid byte `0x73` as binxml token",
     "EVTX parser: Failed to parse record number …: An error occurred while trying to deserialize evtx stream.: "
     "Offset …: Tried to read an invalid byte `…` as binxml token"),
    ("the header lists 3 chunks but the file holds 0 and a partial one (the file was cut short)",
     "the header lists … chunks but the file holds … and a partial one (the file was cut short)"),
    ("RFC 5424 TIMESTAMP not RFC 3339: '2024-13-01T00:00:00Z'", "RFC 5424 TIMESTAMP not RFC 3339: '…'"),
    ("malformed event XML: mismatched tag: line 3, column 2",
     "malformed event XML: mismatched tag: line …, column …"),
    ("invalid timestamp: year 0 is out of range", "invalid timestamp: year … is out of range"),
    ("text outside any record (3 lines)", "text outside any record (… lines)"),
    ("invalid time '13/45/2020-10:00:00.000': month must be in 1..12", "invalid time '…': month must be in 1..12"),
    ("__REALTIME_TIMESTAMP out of range: 99999999999999999", "__REALTIME_TIMESTAMP out of range: …"),
    # reasons without a variable part stay as written, quotes and numbers of their own included
    ("a stripchart sample before any date (the 'The current time is' line)",
     "a stripchart sample before any date (the 'The current time is' line)"),
    ("TimeCreated is FILETIME 0 (1601-01-01): no time recorded",
     "TimeCreated is FILETIME 0 (1601-01-01): no time recorded"),
    ("RFC 5424 record without a timestamp (NILVALUE)", "RFC 5424 record without a timestamp (NILVALUE)"),
])
def test_only_the_variable_parts_of_a_reason_are_written_as_an_ellipsis(reason, normalised):
    (q,) = quarantine_by_reason(_store(("f", [(1, reason, "", None)])))
    assert q["reason"] == normalised


# -- EVTX files cut short ------------------------------------------------------------------

def _evtx(path: Path):
    return read_file(FileTask(str(path), 1, "evtx", "h", UTC, None))


@pytest.fixture(scope="module")
def system_evtx(evtx_dir):
    full = _evtx(evtx_dir / "system.evtx")
    rows = full.events.select(["record_id", "logged", "provider", "event_id", "message", "data"]).to_pylist()
    return (evtx_dir / "system.evtx").read_bytes(), {r["record_id"]: r for r in rows}


# chunk 0 holds records 1-108, chunk 1 109-210, ... chunk 4 445-571 (their headers say so)
@pytest.mark.parametrize("size, ingested, lost", [
    (4096 + 6000, 8, "file ends inside chunk 0: its records after EventRecordID 8 are lost (the file was cut short)"),
    (4096 + 65536 + 3000, 109, "file ends inside chunk 1: its records after EventRecordID 109 are lost"),
    (300_000, 509, "file ends inside chunk 4: its records after EventRecordID 509 are lost"),
    (4096 + 2 * 65536 + 100, 210, "file ends inside chunk 2: its last 100 bytes cannot be read"),
    (4096 + 65536, 108, None),
])
def test_a_cut_evtx_is_read_up_to_the_cut_and_the_loss_said(system_evtx, tmp_path, size, ingested, lost):
    data, full = system_evtx
    (tmp_path / "cut.evtx").write_bytes(data[:size])
    r = _evtx(tmp_path / "cut.evtx")
    assert r.failed is None and r.ingested == ingested
    rows = r.events.select(["record_id", "logged", "provider", "event_id", "message", "data"]).to_pylist()
    # exactly the records before the cut, each as the whole file has it: none half-read
    assert [x["record_id"] for x in rows] == list(range(1, ingested + 1))
    assert all(x == full[x["record_id"]] for x in rows)
    reasons = r.quarantine.column("reason").to_pylist()
    assert (lost is None or any(q.startswith(lost) for q in reasons))
    assert all("the file was cut short" in q for q in reasons) and all(
        n is None for n in r.quarantine.column("record_no").to_pylist())


@pytest.mark.parametrize("size, reason", [
    (100, "the file was cut short inside its header block (100 of 4,096 bytes): it holds no record"),
    (4096, "the file holds its header and no chunk of records (the header lists 3: the file was cut short)"),
    (5000, "the file was cut short inside its first chunk (904 of 65,536 bytes): not one record in it is whole"),
])
def test_a_cut_evtx_with_no_whole_record_fails_with_the_reason(system_evtx, tmp_path, size, reason):
    data, _ = system_evtx
    (tmp_path / "cut.evtx").write_bytes(data[:size])
    r = _evtx(tmp_path / "cut.evtx")
    assert r.failed == reason and r.ingested == 0 and r.quarantined == 0


def test_a_cut_evtx_every_few_bytes_never_yields_a_half_read_record(system_evtx, tmp_path):
    data, full = system_evtx
    for size in range(4096, 4096 + 2 * 65536, 4093):
        (tmp_path / "cut.evtx").write_bytes(data[:size])
        r = _evtx(tmp_path / "cut.evtx")
        if r.failed is not None:     # only before the end of the first record
            assert size < 4096 + 2048 and ("not one record in it is whole" in r.failed or "no chunk" in r.failed)
            continue
        rows = r.events.select(["record_id", "logged", "provider", "event_id", "message", "data"]).to_pylist()
        assert rows and all(x == full[x["record_id"]] for x in rows), size
        assert [x["record_id"] for x in rows] == list(range(1, len(rows) + 1)), size


def test_a_damaged_windows_event_is_quarantined_with_its_event_record_id(tmp_path):
    from datetime import datetime

    from skewsleuth.demo.eventxml import event_stream, event_xml
    events = [event_xml(provider="P", event_id=7, logged=datetime(2020, 1, 1, 0, k, tzinfo=UTC), computer="h1",
                        channel="System", record_id=100 + k, data={"a": "b"}) for k in range(3)]
    text = event_stream(events)
    cut = text.index("</Event>") + len("</Event>")
    cut = text.index("</Event>", cut)                      # the second event loses its end
    (tmp_path / "events.xml").write_text(text[:cut] + text[cut + len("</Event>"):])
    r = read_file(FileTask(str(tmp_path / "events.xml"), 1, "eventxml", "h", UTC, None))
    (q,) = r.quarantine.to_pylist()
    assert q["reason"] == "truncated <Event> element (no </Event>)" and q["record_id"] == 101
    assert r.events.column("record_id").to_pylist() == [100, 102]


# -- discovery: nothing left out without a word ----------------------------------------------

def test_discovery_sets_aside_hidden_entries_and_links_to_folders_and_says_so(tmp_path):
    ev = tmp_path / "ev"
    (ev / "h1" / ".git").mkdir(parents=True)
    (ev / "h1" / ".git" / "config").write_text("x")
    (ev / "h1" / ".DS_Store").write_bytes(b"\0")
    (ev / "h1" / "sys.log").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "app.log").write_text("x")
    (ev / "h1" / "linked").symlink_to(tmp_path / "elsewhere")
    aside: list = []
    found = [p for p, _, _ in discover([ev], aside=aside)]
    assert found == [ev / "h1" / "sys.log"]
    assert aside == [(ev / "h1" / ".DS_Store", HIDDEN), (ev / "h1" / ".git", HIDDEN), (ev / "h1" / "linked", LINKED)]


def test_a_named_pipe_is_not_opened_but_failed_with_the_reason(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UnusableFile, match=r"not a regular file \(a named pipe\)"):
        head_of(tmp_path / "pipe")    # opening it would block until a writer came


def test_every_file_of_a_junk_folder_next_to_evidence_fails_with_its_reason(evtx_dir, tmp_path):
    ev = tmp_path / "ev"
    junk = ev / "junk"
    junk.mkdir(parents=True)
    (ev / "win01").mkdir()
    (ev / "win01" / "Application.evtx").write_bytes((evtx_dir / "Application_no_crc32.evtx").read_bytes())
    (junk / "cut.evtx").write_bytes((evtx_dir / "system.evtx").read_bytes()[:5000])
    (junk / "empty.log").write_bytes(b"")
    (junk / "random.bin").write_bytes(bytes(range(256)) * 8)
    (junk / "notes.txt").write_text("hello\nthis is not a log\n")
    (junk / "broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(junk / "pipe")
    (junk / ".hidden").write_text("x")
    v = skewsleuth.investigate([ev])
    failures = dict(v.ingest.failures)
    assert sorted(failures) == [str(junk / n) for n in ("broken", "cut.evtx", "empty.log", "notes.txt", "pipe",
                                                        "random.bin")]
    assert v.ingest.files_failed == 6 and v.ingest.files == 7
    assert failures[str(junk / "cut.evtx")].startswith("the file was cut short inside its first chunk")
    assert failures[str(junk / "empty.log")] == "empty file (0 bytes)"
    assert failures[str(junk / "notes.txt")].startswith("unrecognised format")
    assert failures[str(junk / "random.bin")].startswith("unrecognised format")
    assert failures[str(junk / "broken")] == f"a link to {tmp_path / 'nowhere'}, which does not exist"
    assert failures[str(junk / "pipe")].startswith("not a regular file (a named pipe)")
    assert [f["path"] for f in v.to_dict()["ingest"]["failures"]] == list(failures)
    assert f"not read as evidence: 1 hidden file or folder (names starting with '.'): {junk / '.hidden'}" in v.notes


# -- nothing could be read: one line naming the files ---------------------------------------

def test_nothing_read_names_the_files_and_their_reasons_on_one_line():
    one = NothingRead([("cut.evtx", "the file was cut short\ninside chunk 0")])
    assert str(one) == "nothing could be read from the input: cut.evtx: the file was cut short inside chunk 0"
    many = NothingRead([("a.evtx", "cut"), ("b.txt", "unrecognised format"), ("c.bin", "unrecognised format"),
                        ("d.log", "empty file (0 bytes)"), ("e.xml", "malformed"), ("f.txt", "unrecognised format"),
                        ("g.txt", "unrecognised format")])
    assert str(many) == ("nothing could be read from the input: a.evtx: cut; b.txt, c.bin, f.txt: unrecognised "
                         "format; d.log: empty file (0 bytes); and 2 more")
    assert many.unread[-1] == ("g.txt", "unrecognised format") and "\n" not in str(many)
    assert str(NothingRead([], "no files in it")) == "nothing could be read from the input: no files in it"


def test_a_truncated_evtx_alone_is_nothing_read_naming_it(evtx_dir, tmp_path):
    (tmp_path / "cut.evtx").write_bytes((evtx_dir / "system.evtx").read_bytes()[:5000])
    with pytest.raises(NothingRead) as info:
        skewsleuth.investigate([tmp_path / "cut.evtx"])
    assert info.value.unread == [(str(tmp_path / "cut.evtx"), "the file was cut short inside its first chunk "
                                  "(904 of 65,536 bytes): not one record in it is whole")]


def test_a_file_whose_every_record_is_quarantined_is_named_with_the_reason(tmp_path):
    (tmp_path / "h1").mkdir()
    (tmp_path / "h1" / "sys.log").write_text("<999>Oct 20 10:00:00 h1 app: a\n<998>Oct 20 10:00:01 h1 app: b\n")
    with pytest.raises(NothingRead, match=r"h1/sys.log: all 2 records quarantined: PRI out of range: …$"):
        skewsleuth.investigate([tmp_path])

    (tmp_path / "h1" / "sys.log").write_text("<999>Oct 20 10:00:00 h1 app: a\nnot a line\n<998>Oct 20 10:00:01 h1 b\n")
    with pytest.raises(NothingRead, match=r"sys.log: all 3 records quarantined: PRI out of range: …, and 1 other "
                                          r"reason$"):
        skewsleuth.investigate([tmp_path])
