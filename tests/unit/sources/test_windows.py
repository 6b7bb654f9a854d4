"""Windows event XML: both export shapes, hostile and damaged input."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skewsleuth.sources import READERS, sniff
from skewsleuth.errors import UnusableFile
from skewsleuth.sources.base import FileContext

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
EVENT = ("<Event xmlns='" + NS + "'><System><Provider Name='Microsoft-Windows-Kernel-General' "
         "Guid='{{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}}'/><EventID>1</EventID><Level>4</Level>"
         "<TimeCreated SystemTime='2014-10-21T02:33:25.1234567Z'/><EventRecordID>{rid}</EventRecordID>"
         "<Execution ProcessID='1308' ThreadID='1488'/><Channel>System</Channel>"
         "<Computer>srv-lyncedge01.domain.com</Computer><Security UserID='S-1-5-19'/></System>"
         "<EventData><Data Name='NewTime'>2014-10-21T02:33:25.000000000Z</Data>"
         "<Data Name='OldTime'>2014-10-20T21:33:25.000000000Z</Data><Data Name='Reason'>1</Data></EventData>"
         "<RenderingInfo Culture='en-US'><Message>The system time has changed to {msg}</Message></RenderingInfo></Event>")


def _read(path: Path):
    ctx = FileContext(path=path, file_id=1, default_host="folder", timezone=ZoneInfo("UTC"))
    fmt = sniff(path.read_bytes()[:8192])
    rows = [r for b in READERS[fmt](ctx) for r in b.to_pylist()] if fmt else []
    return fmt, rows, ctx.quarantined


def test_events_document_and_wevtutil_stream_read_the_same(tmp_path):
    doc = tmp_path / "a.xml"
    doc.write_text("<?xml version='1.0' encoding='utf-8'?>\n<Events>" + EVENT.format(rid=1, msg="x") +
                   EVENT.format(rid=2, msg="y") + "</Events>")
    stream = tmp_path / "b.xml"
    stream.write_text(EVENT.format(rid=1, msg="x") + "\n" + EVENT.format(rid=2, msg="y") + "\n")
    for p in (doc, stream):
        fmt, rows, q = _read(p)
        assert fmt == "eventxml" and len(rows) == 2 and q == []
        r = rows[0]
        assert r["host"] == "srv-lyncedge01.domain.com" and r["provider"] == "Microsoft-Windows-Kernel-General"
        assert r["event_id"] == 1 and r["record_id"] == 1 and r["channel"] == "System"
        assert r["logged"].isoformat() == "2014-10-21T02:33:25.123456+00:00"
        data = json.loads(r["data"])
        assert data["OldTime"] == "2014-10-20T21:33:25.000000000Z" and data["@UserID"] == "S-1-5-19"
        assert r["message"] == "The system time has changed to x"


def test_utf16_export_with_bom(tmp_path):
    p = tmp_path / "u.xml"
    p.write_bytes(("<Events>" + EVENT.format(rid=7, msg="é") + "</Events>").encode("utf-16"))
    fmt, rows, q = _read(p)
    assert fmt == "eventxml" and len(rows) == 1 and rows[0]["message"].endswith("é")


def test_dtd_entities_and_damage_are_quarantined_and_the_rest_is_read(tmp_path):
    p = tmp_path / "evil.xml"
    p.write_text(
        "<?xml version='1.0'?>\n<!DOCTYPE Events [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>"
        "<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>\n<Events>"
        + EVENT.format(rid=1, msg="&xxe;")                 # external entity: refused
        + EVENT.format(rid=2, msg="&lol2;")                # expansion: refused
        + EVENT.format(rid=3, msg="fine")
        + "garbage between events"
        + EVENT.format(rid=4, msg="<b>unclosed")           # malformed XML
        + EVENT.format(rid=5, msg="fine too")
        + EVENT.format(rid=6, msg="truncated")[:200])      # cut off at the end
    fmt, rows, q = _read(p)
    assert fmt == "eventxml"
    assert [r["record_id"] for r in rows] == [3, 5]
    reasons = [x.reason for x in q]
    assert any("DTD or entity declaration refused" in r for r in reasons)
    assert sum("malformed event XML" in r for r in reasons) == 3
    assert any("outside any <Event>" in r for r in reasons)
    assert any("truncated" in r for r in reasons)
    assert "root:" not in json.dumps(rows, default=str)   # nothing from /etc/passwd came in
    ordinals = [x.record_no for x in q] + [r["record_no"] for r in rows]
    assert len(ordinals) == len(set(ordinals)) == 8   # DTD, 6 events, the garbage run


def test_event_without_a_time_is_quarantined(tmp_path):
    p = tmp_path / "t.xml"
    p.write_text(EVENT.format(rid=1, msg="ok") + EVENT.format(rid=2, msg="x").replace(
        "SystemTime='2014-10-21T02:33:25.1234567Z'", "SystemTime='not a time'"))
    _, rows, q = _read(p)
    assert len(rows) == 1 and [x.reason for x in q] == ["no readable TimeCreated/@SystemTime"]


def test_an_event_without_computer_belongs_to_its_folder(tmp_path):
    p = tmp_path / "n.xml"
    p.write_text(EVENT.format(rid=1, msg="ok").replace("<Computer>srv-lyncedge01.domain.com</Computer>", ""))
    _, rows, _ = _read(p)
    assert rows[0]["host"] == "folder"


def test_empty_xml_file_is_unusable(tmp_path):
    from skewsleuth.sources import eventxml
    p = tmp_path / "e.xml"
    p.write_bytes(b"")
    with pytest.raises(UnusableFile):
        list(eventxml.read(FileContext(path=p, file_id=1, default_host="x", timezone=ZoneInfo("UTC"))))


def _rendered(event_data: str) -> str:
    """A record as the evtx parser renders it, with ``event_data`` as its EventData member."""
    return ('{"Event":{"System":{"Provider":{"#attributes":{"Name":"P"}},"EventID":1,'
            '"TimeCreated":{"#attributes":{"SystemTime":"2014-10-21T02:33:25.1234567Z"}},"EventRecordID":9,'
            '"Execution":{"#attributes":{"ProcessID":1308}},"Computer":"h",'
            '"Security":{"#attributes":{"UserID":"S-1-5-19"}}}' + event_data + '}}')


WHO = {"@UserID": "S-1-5-19", "@ProcessID": 1308}


@pytest.mark.parametrize("event_data, expected", [
    (',"EventData":{"Reason":1,"Name":"a\\"b"}', {"Reason": 1, "Name": 'a"b'} | WHO),
    (',"EventData":{}', WHO),
    ("", {"value": None} | WHO),
    (',"EventData":null', {"value": None} | WHO),
    (',"UserData":{"Log":{"x":1}}', {"Log": {"x": 1}} | WHO),
    (',"EventData":[1,2]', {"value": [1, 2]} | WHO),
    # EventData as text that reads as a JSON object is text all the same: its members
    # must not pass for fields of the record
    (',"EventData":"{\\"TargetUserName\\":\\"evil\\",\\"@UserID\\":\\"S-1-5-18\\"}"',
     {"value": '{"TargetUserName":"evil","@UserID":"S-1-5-18"}'} | WHO),
])
def test_event_data_and_who_wrote_it(tmp_path, event_data, expected):
    from skewsleuth.sources.winevent import normalize

    ctx = FileContext(path=tmp_path / "x.evtx", file_id=1, default_host="folder", timezone=ZoneInfo("UTC"))
    batch = normalize([0], [9], [_rendered(event_data)], ctx, "evtx")
    assert ctx.quarantined == [] and batch.num_rows == 1
    assert json.loads(batch.column("data")[0].as_py()) == expected


def _logons(n: int) -> str:
    """Security 4624s as Event Viewer saves them: one per line, each message spread over
    lines and naming its own logon, so no two messages are alike."""
    events = [EVENT.format(rid=100 + k, msg=f"{k}.\n\nNew Logon:\n\tLogon ID:\t\t0x{k:x}\n\tName:\tu&amp;{k}")
              for k in range(n)]
    return "<?xml version='1.0' encoding='utf-8'?>\n<Events>\n" + "\n".join(events) + "\n</Events>\n"


def test_crlf_and_utf16_exports_read_as_lf_through_the_templates(tmp_path, monkeypatch):
    from skewsleuth.sources import eventxml

    text = _logons(300)
    files = {"lf": text.encode(), "crlf": text.replace("\n", "\r\n").encode(),
             "utf16": text.replace("\n", "\r\n").encode("utf-16")}
    parsed = []
    render = eventxml._render_json
    monkeypatch.setattr(eventxml, "_render_json", lambda t: parsed.append(t) or render(t))

    def rows(name: str, templates: bool = True):
        p = tmp_path / f"{name}.xml"
        p.write_bytes(files[name])
        ctx = FileContext(path=p, file_id=1, default_host="folder", timezone=ZoneInfo("UTC"))
        got = [r for b in eventxml.read(ctx, templates=templates) for r in b.to_pylist()]
        assert ctx.quarantined == []
        return got

    reference = rows("crlf", templates=False)
    assert len(reference) == 300 and reference[7]["message"].startswith("The system time has changed to 7.\n\nNew")
    assert "\r" not in "".join(r["message"] for r in reference)
    for name in files:
        parsed.clear()
        assert rows(name) == reference, name
        # The parser makes the one template; the other 299 events are filled into it.
        assert len(parsed) <= 2, (name, len(parsed))


def test_percent_signs_in_a_template_read_as_the_parser_reads_them(tmp_path, monkeypatch):
    """A template's own text (names stay in it) and the values filled in may hold % and
    %s: the fill is a join, not a format, on the plain path and the escaped one."""
    from skewsleuth.sources import eventxml

    def event(k: int, msg: str) -> str:
        return (EVENT.format(rid=100 + k, msg=msg)
                .replace("Microsoft-Windows-Kernel-General", "100%s Kernel %d")
                .replace("Name='Reason'", "Name='Reason%%'"))

    # plain messages, then messages with a quote and a tab (JSON-escaped)
    text = "\n".join([event(k, f"{k} at 50% of %s") for k in range(5)]
                     + [event(5 + k, f"{k} \"q\"\t%(x)s") for k in range(5)])
    parsed = []
    render = eventxml._render_json
    monkeypatch.setattr(eventxml, "_render_json", lambda t: parsed.append(t) or render(t))
    p = tmp_path / "pct.xml"
    p.write_text(text)

    def rows(templates: bool):
        ctx = FileContext(path=p, file_id=1, default_host="folder", timezone=ZoneInfo("UTC"))
        got = [r for b in eventxml.read(ctx, templates=templates) for r in b.to_pylist()]
        assert ctx.quarantined == []
        return got

    reference = rows(False)
    parsed.clear()
    assert rows(True) == reference
    assert len(parsed) <= 2  # the template's first event and its marked skeleton: the rest filled in
    assert reference[0]["provider"] == "100%s Kernel %d" and reference[7]["message"].endswith('2 "q"\t%(x)s')
    assert '"Reason%%":1' in reference[0]["data"]
