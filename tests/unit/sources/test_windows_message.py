"""What a person reads of a Windows event that carries no rendered text: its event id and
its EventData or UserData fields (``sources.message_sql``, the timeline's ``message``),
built over the data the Windows readers store, in SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb

from skewsleuth.sources import message_sql
from skewsleuth.sources.winevent import MESSAGE_CHARS
from support.reliability import _read

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _event(record_id: int, event_id: int, provider: str, body: str, rendered: str | None = None) -> str:
    rendering = f"<RenderingInfo Culture='en-US'><Message>{rendered}</Message></RenderingInfo>" if rendered else ""
    return (f"<Event xmlns='{NS}'><System><Provider Name='{provider}'/><EventID>{event_id}</EventID>"
            f"<TimeCreated SystemTime='2024-03-01T10:00:{record_id:02d}.0000000Z'/>"
            f"<EventRecordID>{record_id}</EventRecordID><Execution ProcessID='804' ThreadID='1'/>"
            f"<Channel>Security</Channel><Computer>dc01.corp.example</Computer><Security UserID='S-1-5-18'/>"
            f"</System>{body}{rendering}</Event>")


def _messages(tmp_path: Path, events: list[str]) -> dict[int, str]:
    p = tmp_path / "Security.xml"
    p.write_text("<Events>" + "".join(events) + "</Events>", encoding="utf-8")
    table = _read(p).events
    con = duckdb.connect()
    con.register("events", table)
    return dict(con.execute(f"SELECT record_id, {message_sql()} FROM events").fetchall())


def test_a_windows_event_without_text_reads_as_its_id_and_fields_in_order(tmp_path):
    long = "x" * (2 * MESSAGE_CHARS)
    got = _messages(tmp_path, [
        _event(1, 4616, "Microsoft-Windows-Security-Auditing",
               "<EventData><Data Name='SubjectUserSid'>S-1-5-19</Data><Data Name='SubjectUserName'>LOCAL SERVICE"
               "</Data><Data Name='PreviousTime'>2024-03-01T15:00:01.0000000Z</Data>"
               "<Data Name='NewTime'>2024-03-01T10:00:01.0000000Z</Data><Data Name='ProcessId'>0x3c4</Data>"
               "<Data Name='ProcessName'>C:\\Windows\\System32\\svchost.exe</Data><Data Name='Empty'></Data>"
               "</EventData>"),
        # UserData: the fields of its one element, its namespace left out
        _event(2, 1102, "Microsoft-Windows-Eventlog",
               "<UserData><LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/eventlog'>"
               "<SubjectUserName>tony</SubjectUserName><SubjectDomainName>CORP</SubjectDomainName>"
               "</LogFileCleared></UserData>"),
        # Data without names: the values alone
        _event(3, 6011, "EventLog", "<EventData><Data>WIN-OLD</Data><Data>DC01</Data></EventData>"),
        # no fields at all: where it comes from
        _event(4, 4608, "Microsoft-Windows-Security-Auditing", "<EventData></EventData>"),
        # evidence text verbatim, formula-like and all
        _event(5, 1, "App", "<EventData><Data Name='Note'>=HYPERLINK(\"x\") ; a=b</Data></EventData>"),
        _event(6, 2, "App", f"<EventData><Data Name='Long'>{long}</Data></EventData>"),
        # a rendered message is the message
        _event(7, 37, "Microsoft-Windows-Time-Service", "<EventData><Data Name='A'>1</Data></EventData>",
               rendered="The time provider is currently receiving valid time data."),
    ])
    assert got[1] == ("4616: SubjectUserSid=S-1-5-19; SubjectUserName=LOCAL SERVICE; "
                      "PreviousTime=2024-03-01T15:00:01.0000000Z; NewTime=2024-03-01T10:00:01.0000000Z; "
                      "ProcessId=0x3c4; ProcessName=C:\\Windows\\System32\\svchost.exe; Empty=")
    assert got[2] == "1102: SubjectUserName=tony; SubjectDomainName=CORP"
    assert got[3] == "6011: WIN-OLD; DC01"
    assert got[4] == "Microsoft-Windows-Security-Auditing 4608"
    assert got[5] == '1: Note==HYPERLINK("x") ; a=b'
    assert len(got[6]) == MESSAGE_CHARS and got[6].startswith("2: Long=xxx") and got[6].endswith("…")
    assert got[7] == "The time provider is currently receiving valid time data."
    # who wrote the record is System's, not the event's own: left out
    assert not any("@" in m or "S-1-5-18" in m or "804" in m for m in got.values())


def test_other_records_keep_their_message_as_logged():
    con = duckdb.connect()
    got = con.execute(f"""SELECT {message_sql()} FROM (VALUES ('syslog', 'plain text', NULL, NULL, NULL),
                                                             ('syslog', NULL, '{{"a": 1}}', NULL, NULL))
                          AS events(format, message, data, provider, event_id)""").fetchall()
    assert got == [("plain text",), (None,)]
