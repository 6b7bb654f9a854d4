"""Text sources: SIPStack traces, syslog (RFC 3164 / 5424 / krb5kdc), journald JSON.

Each parser is checked on realistic evidence (written by tests/synth, skewsleuth.demo and
by hand in the shapes real tools write), on damaged input (read as far as possible,
every record either ingested or quarantined), on its sniffer, and by property tests
(random and mutated input never raises anything but UnusableFile).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.properties import examples

from skewsleuth.schema import EVENTS
from skewsleuth.sources import base, journald, sipstack, syslog, syslog_lines
from skewsleuth.errors import UnusableFile
from skewsleuth.sources.base import FileContext
from skewsleuth.demo.sipstack import format_diag_record, format_protocol_record
from synth.syslog import (journald_line, krb5kdc_line, krb5kdc_skew_message, rfc3164_line,
                                     rfc5424_line)
from conftest import mutate


UTC = timezone.utc


CHICAGO = ZoneInfo("America/Chicago")


SOURCES = (sipstack, syslog, journald)


# RFC 3164 lines carry no year: the files here were last modified as late as a line of
# Dec 31, and no later than a line of Jan 1, can still be 2014's, whatever its zone.
END_OF_2014 = datetime(2015, 1, 1, tzinfo=UTC) - syslog_lines.ZONE_SLACK - timedelta(microseconds=1)


def make_ctx(path: Path, **kw) -> FileContext:
    args = dict(path=path, file_id=0, default_host="srv-lyncfe01", timezone=CHICAGO, modified=END_OF_2014)
    args.update(kw)
    return FileContext(**args)


def read_all(module, path: Path, **kw):
    """(rows with data decoded, quarantined) after checking what every source owes."""
    ctx = make_ctx(path, **kw)
    rows = []
    for batch in module.read(ctx):
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema.equals(EVENTS)
        assert 0 < batch.num_rows <= base.BATCH_ROWS
        rows.extend(batch.to_pylist())
    for row in rows:
        assert row["format"] == module.FORMAT
        assert row["logged"].tzinfo is not None
        assert row["file_id"] == 0
        row["data"] = json.loads(row["data"]) if row["data"] is not None else None
    assert_counts(rows, ctx.quarantined)
    return rows, ctx.quarantined


def assert_counts(rows, quarantined) -> None:
    """Records seen == ingested + quarantined: the ordinals of both together are
    0..N-1, each exactly once."""
    nos = [r["record_no"] for r in rows] + [q.record_no for q in quarantined if q.record_no is not None]
    assert sorted(nos) == list(range(len(nos)))
    assert [r["record_no"] for r in rows] == sorted(r["record_no"] for r in rows)


def write(tmp_path: Path, text: str | bytes, name: str = "evidence.log") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


EDGE = "srv-lyncedge01.domain.com"


DIAG_1020 = ('1020;reason="Identity of the referrer could not be verified with the ms-identity parameter";'
             'ErrorType="Invalid signature";HRESULT="0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)";'
             f'source="{EDGE}"')


TRUST = f"ms-source-type=EdgeProxyGenerated;ms-ep-fqdn={EDGE};ms-source-network=federation"


def referrer_429(logged: datetime, call_id: str = "1f2e3d4c5b6a", body: str = "") -> str:
    return format_protocol_record(
        logged, direction="incoming", peer=f"{EDGE}:5061", message_type="response",
        start_line="SIP/2.0 429 Provide Referrer Identity",
        headers={"From": "<sip:alice@domain.com>;tag=8d1b2e;epid=1a2b3c", "To": "<sip:+13125550100@domain.com;user=phone>;tag=99",
                 "CSeq": "1 INVITE", "Call-ID": call_id, "ms-diagnostics": DIAG_1020,
                 "ms-edge-proxy-message-trust": TRUST, "Content-Length": "0"},
        body=body)


def skew_diag(logged: datetime) -> str:
    return format_diag_record(
        logged, text="The message could not be verified because the referrer date is skewed",
        result_code="0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED", peer=f"{EDGE}:5061",
        sip_start_line="INVITE sip:exum@exap.um.outlook.com SIP/2.0", call_id="1f2e3d4c5b6a", cseq="1 INVITE")


def test_sipstack_protocol_record(tmp_path):
    t = datetime(2014, 10, 20, 23, 19, 5, 123000, tzinfo=UTC)
    rows, quarantined = read_all(sipstack, write(tmp_path, referrer_429(t)))
    assert not quarantined
    (row,) = rows
    assert row["logged"] == t
    assert (row["host"], row["channel"], row["provider"], row["event_id"]) == ("srv-lyncfe01", "SIPStack", "SIPStack", None)
    d = row["data"]
    assert d["level"] == "TL_INFO" and d["flag"] == "TF_PROTOCOL"
    assert d["direction"] == "incoming"
    assert d["peer"] == f"{EDGE}:5061"
    assert d["message_type"] == "response"
    assert d["start_line"] == "SIP/2.0 429 Provide Referrer Identity"
    assert d["call_id"] == "1f2e3d4c5b6a" and d["cseq"] == "1 INVITE"
    assert d["from"].startswith("<sip:alice@domain.com>") and d["to"].startswith("<sip:+13125550100")
    # The HRESULT in ms-diagnostics gives the same code a diagnostic record carries.
    assert d["result_code"] == "0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED"
    h = d["headers"]
    assert h["ms-diagnostics"] == DIAG_1020
    assert h["ms-edge-proxy-message-trust"] == TRUST
    assert h["content-length"] == "0" and h["call-id"] == "1f2e3d4c5b6a"
    assert "direction" not in h and "start-line" not in h
    assert "SIP/2.0 429 Provide Referrer Identity" in row["message"]
    assert "SIP_E_CRYPT_REFERRER_DATE_SKEWED" in row["message"]
    assert "$$" not in row["message"] and "TL_INFO" not in row["message"]


def test_sipstack_diag_record(tmp_path):
    t = datetime(2014, 10, 20, 23, 19, 5, 456000, tzinfo=UTC)
    rows, quarantined = read_all(sipstack, write(tmp_path, skew_diag(t)))
    assert not quarantined
    (row,) = rows
    d = row["data"]
    assert row["logged"] == t
    assert (d["level"], d["flag"]) == ("TL_WARN", "TF_DIAG")
    assert d["result_code"] == "0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED"
    assert d["start_line"] == "INVITE sip:exum@exap.um.outlook.com SIP/2.0"
    assert (d["call_id"], d["cseq"], d["peer"]) == ("1f2e3d4c5b6a", "1 INVITE", f"{EDGE}:5061")
    assert d["headers"] == {"logtype": "diagnostic", "severity": "warning",
                            "text": "The message could not be verified because the referrer date is skewed"}
    assert "Result-Code: 0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED" in row["message"]


# Shapes seen in traces from the field, written here by hand: a "[machine\instance]"
# prefix, a request id before $$begin_record, extra spaces, upper-case header names,
# a Direction with parameters, a folded header, a diagnostic whose Result-Code got
# onto the Text line, TL_VERBOSE, CRLF line ends, a one-line trace, a body.
FIELD_TRACE = """\
TL_INFO(TF_PROTOCOL) [edge01\\edge01]0B2C.0D10::10/20/2014-21:19:05.250.00001F3A (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))  [2783411] $$begin_record
Trace-Correlation-Id:   1298711
Instance-Id: 000A1B2C
Direction: outgoing;source="internal edge";destination="external edge"
Peer: sipfed.online.lync.com:5061
Message-Type: request
Start-Line: INVITE sip:exum@exap.um.outlook.com SIP/2.0
FROM: <sip:bob@domain.com>;tag=aa11
TO: <sip:exum@exap.um.outlook.com>
CSEQ: 7 INVITE
CALL-ID: 77aa88bb
VIA: SIP/2.0/TLS 10.1.1.5:51034;branch=z9hG4bK1
VIA: SIP/2.0/TLS 10.1.1.6:5061;branch=z9hG4bK2
ms-split-header: first part
  second part
Message-Body: v=0
o=- 0 0 IN IP4 10.1.1.5
s=session
$$end_record
TL_ERROR(TF_DIAG) [edge01\\edge01]0B2C.0D10::10/20/2014-21:19:06.001.00001F3B (SIPStack,SIPAdminLog::WriteDiagnosticEvent:SIPAdminLog.cpp(833)) [99812] $$begin_record
Severity: error
Text: Referrer date skewed Result-Code: 0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED
SIP-Start-Line: INVITE sip:exum@exap.um.outlook.com SIP/2.0
SIP-Call-ID: 77aa88bb
SIP-CSeq: 7 INVITE
Peer: sipfed.online.lync.com:5061
Data: fqdn="sipfed.online.lync.com"
$$end_record
  TL_VERBOSE(TF_CONNECTION)  [0]0B2C.0D10::10/20/2014-21:19:07.500.00001F3C (SIPStack,TransportLayer::Send:transport.cpp(88)) Sent 1024 bytes to 10.1.1.7:5061
""".replace("\n", "\r\n")


def test_sipstack_field_variants(tmp_path):
    p = write(tmp_path, FIELD_TRACE)
    assert sipstack.sniff(p.read_bytes())
    rows, quarantined = read_all(sipstack, p)
    assert not quarantined
    request, diag, verbose = rows
    assert request["logged"] == datetime(2014, 10, 20, 21, 19, 5, 250000, tzinfo=UTC)
    d = request["data"]
    assert d["direction"] == "outgoing"
    assert (d["call_id"], d["cseq"], d["from"], d["to"]) == (
        "77aa88bb", "7 INVITE", "<sip:bob@domain.com>;tag=aa11", "<sip:exum@exap.um.outlook.com>")
    assert d["headers"]["via"] == "SIP/2.0/TLS 10.1.1.5:51034;branch=z9hG4bK1, SIP/2.0/TLS 10.1.1.6:5061;branch=z9hG4bK2"
    assert d["headers"]["ms-split-header"] == "first part second part"
    assert d["headers"]["trace-correlation-id"] == "1298711"
    assert "\r" not in request["message"]
    assert request["message"].endswith("Message-Body: v=0\no=- 0 0 IN IP4 10.1.1.5\ns=session")
    assert "message-body" not in d["headers"]
    assert diag["data"]["level"] == "TL_ERROR"
    assert diag["data"]["result_code"] == "0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED"
    assert diag["data"]["headers"]["data"] == 'fqdn="sipfed.online.lync.com"'
    assert verbose["logged"] == datetime(2014, 10, 20, 21, 19, 7, 500000, tzinfo=UTC)
    assert verbose["provider"] == "SIPStack"
    assert verbose["message"] == "Sent 1024 bytes to 10.1.1.7:5061"
    assert verbose["data"] == {"level": "TL_VERBOSE", "flag": "TF_CONNECTION"}


def test_sipstack_body_is_truncated(tmp_path):
    body = "\n".join(f"a=candidate:{i} 1 TCP-PASS 2120613887 10.1.1.5 {50000 + i} typ host" for i in range(2000))
    rows, _ = read_all(sipstack, write(tmp_path, referrer_429(datetime(2014, 10, 20, 23, 0, tzinfo=UTC), body=body)))
    (row,) = rows
    assert len(row["message"]) < sipstack.BODY_LIMIT + 3000
    assert "Message-Body: a=candidate:0 " in row["message"]
    assert "a=candidate:1999 " not in row["message"]


def test_sipstack_utf16_with_bom(tmp_path):
    text = referrer_429(datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)) + skew_diag(datetime(2014, 10, 20, 23, 19, 6, tzinfo=UTC))
    p = write(tmp_path, b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"))
    assert sipstack.sniff(p.read_bytes()[:4096])
    assert not syslog.sniff(p.read_bytes()[:4096]) and not journald.sniff(p.read_bytes()[:4096])
    rows, quarantined = read_all(sipstack, p)
    assert len(rows) == 2 and not quarantined


def test_sipstack_damaged(tmp_path):
    t = datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)
    good1, good2, good3 = (referrer_429(t + timedelta(seconds=i), call_id=f"good{i}") for i in range(3))
    bad_time = referrer_429(t).replace("10/20/2014-23:19:05", "13/45/2014-23:19:05", 1)
    no_time = referrer_429(t).replace("10/20/2014-23:19:05.000", "garbled-time", 1)
    truncated = referrer_429(t, call_id="cut").split("Call-ID")[0]   # no $$end_record
    parts = [
        "Trace started by an operator\nsecond line of preamble\n\n",   # garbage run 0
        good1,                                                          # 1
        bad_time,                                                       # 2 quarantined
        truncated,                                                      # 3 quarantined (next begin)
        good2,                                                          # 4
        "\x00\x01\x02\xff\xfe binary junk \x00\n\x07\x08\n",            # 5 one binary run
        no_time,                                                        # 6 quarantined
        good3,                                                          # 7
        truncated,                                                      # 8 quarantined (EOF)
    ]
    p = write(tmp_path, "".join(parts).encode("utf-8", "surrogateescape"))
    rows, quarantined = read_all(sipstack, p)
    assert [r["record_no"] for r in rows] == [1, 4, 7]
    assert [r["data"]["call_id"] for r in rows] == ["good0", "good1", "good2"]
    reasons = {q.record_no: q.reason for q in quarantined}
    assert set(reasons) == {0, 2, 3, 5, 6, 8}
    assert "outside any record (2 lines)" in reasons[0]
    assert "invalid time" in reasons[2]
    assert "not closed" in reasons[3] and "next record" in reasons[3]
    assert reasons[5].startswith("binary data")
    assert "no MM/DD/YYYY" in reasons[6]
    assert "end of file" in reasons[8]
    assert all(q.excerpt.isprintable() for q in quarantined)


def test_sipstack_nul_inside_record_is_quarantined(tmp_path):
    t = datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)
    damaged = referrer_429(t).replace("CSeq: 1 INVITE", "CSeq: 1 IN\x00\x00VITE")
    rows, quarantined = read_all(sipstack, write(tmp_path, damaged + referrer_429(t, call_id="ok")))
    assert [r["data"]["call_id"] for r in rows] == ["ok"]
    assert quarantined[0].record_no == 0 and "NUL" in quarantined[0].reason


def test_sipstack_many_records_flush_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "BATCH_ROWS", 7)
    t = datetime(2014, 10, 20, 23, 0, tzinfo=UTC)
    p = write(tmp_path, "".join(referrer_429(t + timedelta(seconds=i), call_id=str(i)) for i in range(30)))
    batches = list(sipstack.read(make_ctx(p)))
    assert [b.num_rows for b in batches] == [7, 7, 7, 7, 2]
    assert [n for b in batches for n in b.column("record_no").to_pylist()] == list(range(30))


def syslog_rows(tmp_path, lines, **kw):
    return read_all(syslog, write(tmp_path, "\n".join(lines) + "\n"), **kw)


def test_rfc3164_fields_and_utc(tmp_path):
    rows, quarantined = syslog_rows(tmp_path, [
        rfc3164_line(datetime(2014, 10, 20, 18, 19, 5), "srv-lyncedge01", "ntpd", 812, "synchronized to 10.0.0.1, stratum 2"),
        rfc3164_line(datetime(2014, 10, 20, 18, 19, 6), "srv-lyncedge01", "ntpd", 812, "kernel time sync", pri=30),
        rfc3164_line(datetime(2014, 10, 5, 1, 2, 3), "dc01", "kernel", None, "[    0.000000] Linux version"),
    ])
    assert not quarantined
    a, b, c = rows
    # America/Chicago in October is CDT, UTC-5.
    assert a["logged"] == datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)
    assert (a["host"], a["provider"], a["channel"], a["message"]) == (
        "srv-lyncedge01", "ntpd", "syslog", "synchronized to 10.0.0.1, stratum 2")
    assert a["data"] == {"pid": 812}
    assert b["data"] == {"pid": 812, "facility": "daemon", "severity": "info"}
    assert c["logged"] == datetime(2014, 10, 5, 6, 2, 3, tzinfo=UTC)
    assert c["provider"] == "kernel" and c["data"] is None and c["message"] == "[    0.000000] Linux version"


def test_rfc3164_in_winter_uses_standard_time(tmp_path):
    rows, _ = syslog_rows(tmp_path, [rfc3164_line(datetime(2014, 1, 15, 12, 0, 0), "h", "cron", 1, "x")])
    assert rows[0]["logged"] == datetime(2014, 1, 15, 18, 0, tzinfo=UTC)


def test_chronyd_step_lines_are_kept(tmp_path):
    rows, _ = syslog_rows(tmp_path, [
        rfc3164_line(datetime(2014, 10, 20, 16, 21, 4), "srv-lyncedge01", "chronyd", 611, "System clock wrong by -18000.123456 seconds"),
        rfc3164_line(datetime(2014, 10, 20, 21, 33, 25), "srv-lyncedge01", "chronyd", 611, "System clock was stepped by 18000.000123 seconds"),
    ])
    assert [r["message"] for r in rows] == ["System clock wrong by -18000.123456 seconds",
                                            "System clock was stepped by 18000.000123 seconds"]
    assert {r["provider"] for r in rows} == {"chronyd"}


def test_rfc3164_year_rolls_back_across_new_year(tmp_path):
    rows, _ = syslog_rows(tmp_path, [
        rfc3164_line(datetime(2013, 12, 31, 23, 59, 58), "h", "app", 1, "a"),
        rfc3164_line(datetime(2014, 1, 1, 0, 0, 1), "h", "app", 1, "b"),
        rfc3164_line(datetime(2013, 12, 31, 23, 59, 59), "h", "app", 1, "straggler"),
        rfc3164_line(datetime(2014, 1, 1, 0, 0, 2), "h", "app", 1, "c"),
        rfc3164_line(datetime(2014, 3, 1, 8, 0, 0), "h", "app", 1, "d"),
    ])
    years = [(r["message"], (r["logged"] - timedelta(hours=6)).year) for r in rows]
    assert years == [("a", 2013), ("b", 2014), ("straggler", 2013), ("c", 2014), ("d", 2014)]


def test_rfc3164_two_new_years_and_long_gap(tmp_path):
    rows, _ = syslog_rows(tmp_path, [
        rfc3164_line(datetime(2012, 12, 30, 12, 0), "h", "app", 1, "2012"),
        rfc3164_line(datetime(2013, 1, 2, 12, 0), "h", "app", 1, "2013a"),
        rfc3164_line(datetime(2013, 11, 2, 12, 0), "h", "app", 1, "2013b"),   # ten months later
        rfc3164_line(datetime(2014, 1, 2, 12, 0), "h", "app", 1, "2014"),
    ])
    assert [r["logged"].year for r in rows] == [2012, 2013, 2013, 2014]
    assert [r["message"] for r in rows] == ["2012", "2013a", "2013b", "2014"]


def test_rfc3164_year_is_the_modification_times(tmp_path):
    lines = [rfc3164_line(datetime(2014, 10, 20, 18, 0, i), "h", "app", 1, "x") for i in range(3)]
    rows, _ = syslog_rows(tmp_path, lines, modified=datetime(2009, 11, 1, tzinfo=UTC))
    assert {r["logged"].year for r in rows} == {2009}


def _years(tmp_path, lines, **kw):
    """(local date of each line, the notes), read column-wise and line by line (which
    must agree)."""
    path = write(tmp_path, "\n".join(lines) + "\n")
    seen = []
    for columnar in (True, False):
        ctx = make_ctx(path, timezone=UTC, **kw)
        rows = [r for batch in syslog.read(ctx, columnar=columnar) for r in batch.to_pylist()]
        seen.append(([r["logged"].date().isoformat() for r in rows], ctx.notes))
    assert seen[0] == seen[1]
    return seen[0]


def test_rfc3164_lines_later_than_the_modification_time_are_last_years(tmp_path):
    """OpenSSH lines of Dec 10 in a file last modified on 2 December: the lines cannot
    be later than the file, so they are of the year before (they used to be put on 10
    December of the modification year)."""
    lines = [rfc3164_line(datetime(2025, 12, 10, 8, 15, i), "bastion", "sshd", 4242,
                          f"Accepted publickey for ops from 10.0.0.{i} port 50022 ssh2") for i in range(3)]
    dates, notes = _years(tmp_path, lines, modified=datetime(2026, 12, 2, 9, 30, tzinfo=UTC))
    assert dates == ["2025-12-10"] * 3
    assert notes == ["evidence.log: RFC 3164 times carry no year; the newest line was taken to be no later than "
                     "the file's modification time, 2026-12-02 09:30:00 UTC (whatever zone it was written in), so "
                     "in 2025, and years counted back from it"]
    # Written on the day it was modified: that year.
    dates, notes = _years(tmp_path, lines, modified=datetime(2026, 12, 10, 8, 16, tzinfo=UTC))
    assert dates == ["2026-12-10"] * 3 and "so in 2026," in notes[0]


def test_rfc3164_lines_spanning_new_year_end_in_the_modification_year(tmp_path):
    lines = [rfc3164_line(datetime(2026, 12, 30, 22, 0), "h", "app", 1, "a"),
             rfc3164_line(datetime(2026, 12, 31, 23, 59, 59), "h", "app", 1, "b"),
             rfc3164_line(datetime(2027, 1, 1, 0, 0, 1), "h", "app", 1, "c"),
             rfc3164_line(datetime(2027, 1, 2, 7, 0), "h", "app", 1, "d")]
    dates, notes = _years(tmp_path, lines, modified=datetime(2027, 1, 3, 12, 0, tzinfo=UTC))
    assert dates == ["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"]
    assert "2027-01-03 12:00:00 UTC" in notes[0] and "so in 2027," in notes[0]
    # A day earlier, the lines of Jan 2 cannot be this year's: the span ends a year sooner.
    dates, _ = _years(tmp_path, lines, modified=datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    assert dates == ["2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02"]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Pacific/Kiritimati", "America/Chicago"])
def test_rfc3164_a_host_in_another_zone_than_the_cases_keeps_its_year(tmp_path, zone):
    """The case's zone is UTC, the host writes its wall time in another zone and the file
    was modified right after its last line: the line's wall time is later than the
    modification time read in UTC, yet it was written before it."""
    written = datetime(2026, 12, 2, 23, 30, tzinfo=ZoneInfo(zone))
    lines = [rfc3164_line(written.replace(tzinfo=None), "h", "app", 1, "last")]
    dates, _ = _years(tmp_path, lines, modified=written.astimezone(UTC) + timedelta(seconds=1))
    assert dates == ["2026-12-02"]


def test_rfc3164_the_zone_slack_is_fourteen_hours_and_no_more(tmp_path):
    lines = [rfc3164_line(datetime(2026, 12, 2, 23, 0, 0), "h", "app", 1, "x")]
    assert _years(tmp_path, lines, modified=datetime(2026, 12, 2, 9, 0, tzinfo=UTC))[0] == ["2026-12-02"]
    assert _years(tmp_path, lines, modified=datetime(2026, 12, 2, 8, 59, 59, tzinfo=UTC))[0] == ["2025-12-02"]


def test_rfc3164_a_year_given_is_the_first_lines(tmp_path):
    """--year overrides the modification time, and years count forward from it (as
    plaso's --preferred-year)."""
    lines = [rfc3164_line(datetime(2026, 12, 10, 8, 0), "h", "sshd", 1, "a"),
             rfc3164_line(datetime(2027, 1, 2, 7, 0), "h", "sshd", 1, "b")]
    dates, notes = _years(tmp_path, lines, modified=datetime(2026, 12, 2, tzinfo=UTC), year=2026)
    assert dates == ["2026-12-10", "2027-01-02"]
    assert notes == ["evidence.log: RFC 3164 times carry no year; the first line was taken to be in 2026 (given "
                     "with --year) and years counted forward from it"]


def test_rfc3164_without_a_modification_time_nothing_is_later_than_now(tmp_path):
    now = datetime.now(UTC).replace(tzinfo=None)
    later = now + timedelta(days=2)   # past any zone's wall clock
    ctx = make_ctx(write(tmp_path, rfc3164_line(later, "h", "app", 1, "x") + "\n"), modified=None, timezone=UTC)
    (row,) = [r for batch in syslog.read(ctx) for r in batch.to_pylist()]
    assert row["logged"].year == later.year - 1
    assert "no later than the time it was read" in ctx.notes[0]


def test_rfc3164_no_note_without_rfc3164_lines(tmp_path):
    lines = [rfc5424_line(datetime(2014, 10, 20, tzinfo=UTC), "h", "app", 1, "x")]
    assert _years(tmp_path, lines, modified=datetime(2020, 1, 1, tzinfo=UTC)) == (["2014-10-20"], [])


@pytest.mark.parametrize("zone", ["zoneinfo", "pytz"])
def test_rfc3164_dst_ambiguous_hour_is_flagged_and_kept_monotonic(tmp_path, zone):
    tz = CHICAGO if zone == "zoneinfo" else pytest.importorskip("pytz").timezone("America/Chicago")
    # 2014-11-02: America/Chicago falls back from CDT to CST at 02:00, 01:00-01:59 repeats.
    local = [(0, 59), (1, 10), (1, 50), (1, 5), (1, 55), (2, 5)]
    rows, _ = syslog_rows(tmp_path, [rfc3164_line(datetime(2014, 11, 2, h, m), "h", "app", 1, f"{h}:{m}") for h, m in local],
                          timezone=tz)
    assert [r["logged"].strftime("%H:%M") for r in rows] == ["05:59", "06:10", "06:50", "07:05", "07:55", "08:05"]
    assert [(r["data"] or {}).get("tz_resolution") for r in rows] == [None, "ambiguous", "ambiguous", "ambiguous", "ambiguous", None]
    assert [(r["data"] or {}).get("tz_fold") for r in rows] == [None, 0, 0, 1, 1, None]


@pytest.mark.parametrize("zone", ["zoneinfo", "pytz"])
def test_rfc3164_dst_nonexistent_time_is_flagged(tmp_path, zone):
    tz = CHICAGO if zone == "zoneinfo" else pytest.importorskip("pytz").timezone("America/Chicago")
    # 2014-03-09 02:30 does not exist in America/Chicago; fold=0 uses the offset before the change.
    rows, _ = syslog_rows(tmp_path, [rfc3164_line(datetime(2014, 3, 9, 2, 30), "h", "app", 1, "gap")], timezone=tz)
    assert rows[0]["logged"] == datetime(2014, 3, 9, 8, 30, tzinfo=UTC)
    assert rows[0]["data"]["tz_resolution"] == "nonexistent"


def test_krb5kdc_line(tmp_path):
    msg = krb5kdc_skew_message("user@EXAMPLE.COM", "krbtgt/EXAMPLE.COM@EXAMPLE.COM")
    rows, _ = syslog_rows(tmp_path, [krb5kdc_line(datetime(2014, 10, 20, 18, 19, 5), "kdc.example.com", 1234, msg)])
    (row,) = rows
    assert (row["host"], row["provider"]) == ("kdc.example.com", "krb5kdc")
    assert row["data"] == {"pid": 1234, "severity": "info"}
    assert row["message"] == msg
    assert row["message"].endswith("PREAUTH_FAILED: user@EXAMPLE.COM for krbtgt/EXAMPLE.COM@EXAMPLE.COM, Clock skew too great")
    assert row["logged"] == datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)


def test_rfc5424_with_structured_data(tmp_path):
    t = datetime(2014, 10, 20, 18, 19, 5, 3000, tzinfo=UTC)
    sd = {"exampleSDID@32473": {"iut": "3", "eventSource": 'App "x" [1] \\ y'}, "timeQuality": {"tzKnown": "1", "isSynced": "0"}}
    rows, quarantined = syslog_rows(tmp_path, [
        rfc5424_line(t, "mymachine.example.com", "evntslog", 123, "An application event log entry", msgid="ID47", structured_data=sd),
        "<165>1 2014-10-20T13:19:05.000123-05:00 - chronyd - - - \ufeffSelected source 10.0.0.1",
        "<34>1 2014-10-20T22:14:15.003Z mymachine.example.com su - ID47 [a@1 x=\"1\"][b@1] 'su root' failed",
        "<165>1 - mymachine.example.com app - - - no time",
    ])
    a, b, c = rows
    assert a["logged"] == t
    assert (a["host"], a["provider"], a["message"]) == ("mymachine.example.com", "evntslog", "An application event log entry")
    assert a["data"] == {"pid": 123, "msgid": "ID47", "structured_data": sd, "facility": "local4", "severity": "notice"}
    assert b["host"] == "srv-lyncfe01"  # NILVALUE hostname
    assert b["logged"] == datetime(2014, 10, 20, 18, 19, 5, 123, tzinfo=UTC)
    assert b["message"] == "Selected source 10.0.0.1"
    assert "pid" not in b["data"] and "msgid" not in b["data"]
    assert c["data"]["structured_data"] == {"a@1": {"x": "1"}, "b@1": {}}
    assert c["data"]["facility"] == "auth" and c["data"]["severity"] == "crit"
    assert c["message"] == "'su root' failed"
    assert len(quarantined) == 1 and "NILVALUE" in quarantined[0].reason


def test_iso_timestamp_file_format(tmp_path):
    rows, _ = syslog_rows(tmp_path, [
        "2014-10-20T18:19:05.003456+02:00 web01 systemd-timesyncd[402]: Synchronized to time server 10.0.0.1:123 (ntp).",
        "2014-10-20T18:19:06 web01 CRON[9]: local time, no offset",
    ])
    a, b = rows
    assert a["logged"] == datetime(2014, 10, 20, 16, 19, 5, 3456, tzinfo=UTC)
    assert (a["provider"], a["data"]["pid"]) == ("systemd-timesyncd", 402)
    assert b["logged"] == datetime(2014, 10, 20, 23, 19, 6, tzinfo=UTC)


def test_syslog_continuation_and_missing_hostname(tmp_path):
    rows, quarantined = syslog_rows(tmp_path, [
        "    orphan continuation",
        rfc3164_line(datetime(2014, 10, 20, 18, 0, 0), "h", "java", 77, "Exception in thread main"),
        "\tat com.example.Main.run(Main.java:10)",
        "Oct 20 18:00:01 sshd[5]: no hostname field",
    ])
    assert rows[0]["message"] == "Exception in thread main\nat com.example.Main.run(Main.java:10)"
    assert (rows[1]["host"], rows[1]["provider"], rows[1]["message"]) == ("srv-lyncfe01", "sshd", "no hostname field")
    assert quarantined[0].record_no == 0 and "continuation" in quarantined[0].reason


def test_syslog_damaged(tmp_path):
    good = [rfc3164_line(datetime(2014, 10, 20, 18, 0, i), "h", "app", 1, f"ok{i}") for i in range(4)]
    p = write(tmp_path, "\n".join([
        good[0],
        "random words that are not syslog",
        good[1],
        "\x00\x00\x00\x13\x37 binary",
        "<999>Oct 20 18:19:05 h a: bad pri",
        "Feb 30 18:19:05 h a: no such day",
        "<165>1 2014-10-20T18:19:05Z h a - - [unterminated sd",
        "<165>1 20141020 h a - - - not RFC 3339",
        "<192>1 2014-10-20T18:19:05Z h a - - - PRI too large",
        good[2],
        "",
        "   ",
        good[3],
    ]).encode() + b"\n\xff\xfe\xfd not utf-8 \x80\n")
    rows, quarantined = read_all(syslog, p)
    assert [r["message"] for r in rows] == ["ok0", "ok1", "ok2", "ok3"]
    assert len(quarantined) == 8
    reasons = " | ".join(q.reason for q in quarantined)
    for words in ("not a syslog line", "PRI out of range", "invalid timestamp", "STRUCTURED-DATA", "RFC 3339"):
        assert words in reasons


def test_syslog_continuation_survives_batch_flush(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "BATCH_ROWS", 2)
    lines = []
    for i in range(5):
        lines += [rfc3164_line(datetime(2014, 10, 20, 18, 0, i), "h", "app", 1, f"m{i}"), f"  more{i}"]
    rows, quarantined = syslog_rows(tmp_path, lines)
    assert [r["message"] for r in rows] == [f"m{i}\nmore{i}" for i in range(5)]
    assert not quarantined


def test_journald_fields(tmp_path):
    t = datetime(2014, 10, 20, 21, 33, 25, 123456, tzinfo=UTC)
    lines = [
        journald_line(t, "srv-lyncedge01", "chronyd", 611, "System clock was stepped by 18000.000123 seconds",
                      priority=4, boot_id="6b3c0e2f4a1d4f0e9c8b7a6d5e4f3a2b", monotonic_us=5_000_123),
        journald_line(t, "srv-lyncedge01", "weird", None, b"caf\xe9 \xff bytes"),
        json.dumps({"__REALTIME_TIMESTAMP": "1413840805000000", "_COMM": "systemd", "MESSAGE": ["Time has been changed", "again"],
                    "MESSAGE_ID": "c7a787079b354eaaa9e77b371893cd27", "_PID": "1", "SYSLOG_FACILITY": "3",
                    "_SOURCE_REALTIME_TIMESTAMP": "1413840804999000", "_SYSTEMD_UNIT": "init.scope"}),
        json.dumps({"__REALTIME_TIMESTAMP": "1413840806000000", "MESSAGE": None}),
    ]
    p = write(tmp_path, "\n".join(lines) + "\n")
    rows, quarantined = read_all(journald, p)
    assert not quarantined
    a, b, c, d = rows
    assert a["logged"] == t
    assert (a["host"], a["provider"], a["channel"]) == ("srv-lyncedge01", "chronyd", "journal")
    assert a["message"] == "System clock was stepped by 18000.000123 seconds"
    assert a["data"] == {"pid": 611, "severity": "warning", "boot_id": "6b3c0e2f4a1d4f0e9c8b7a6d5e4f3a2b",
                         "transport": "syslog", "monotonic_us": 5_000_123}
    assert b["message"] == b"caf\xe9 \xff bytes".decode("utf-8", "replace")
    assert c["provider"] == "systemd" and c["host"] == "srv-lyncfe01"
    assert c["message"] == "Time has been changed\nagain"
    assert c["data"] == {"pid": 1, "facility": "daemon", "message_id": "c7a787079b354eaaa9e77b371893cd27",
                         "unit": "init.scope", "source_realtime_us": 1413840804999000}
    assert c["logged"] == datetime(2014, 10, 20, 21, 33, 25, tzinfo=UTC)
    assert d["message"] is None and d["provider"] is None


def test_journald_lone_surrogate_is_stored_not_lost(tmp_path):
    """journalctl may escape a byte sequence as an unpaired UTF-16 surrogate; Python
    decodes it but UTF-8 (Arrow) cannot store it: the batch must survive."""
    lines = ['{"__REALTIME_TIMESTAMP": "1413839000000000", "MESSAGE": "bad \\ud800 half", "_HOSTNAME": "h"}',
             '{"__REALTIME_TIMESTAMP": "1413839001000000", "MESSAGE": "emoji \\ud83d\\ude00", "_HOSTNAME": "h"}']
    rows, quarantined = read_all(journald, write(tmp_path, "\n".join(lines).encode()))
    assert [r["message"] for r in rows] == ["bad \ufffd half", "emoji \U0001f600"] and quarantined == []


def test_journald_damaged(tmp_path):
    good = journald_line(datetime(2014, 10, 20, 21, 0, tzinfo=UTC), "h", "app", 1, "ok")
    p = write(tmp_path, "\n".join([
        good,
        '{"MESSAGE": "truncated',
        "[1, 2, 3]",
        '{"MESSAGE": "no time"}',
        '{"__REALTIME_TIMESTAMP": "12abc", "MESSAGE": "bad time"}',
        '{"__REALTIME_TIMESTAMP": "99999999999999999999", "MESSAGE": "overflow"}',
        "[" * 100_000,
        "",
        good,
    ]).encode() + b"\n\x00\x01\xff garbage\n")
    rows, quarantined = read_all(journald, p)
    assert [r["record_no"] for r in rows] == [0, 7]
    assert len(quarantined) == 7
    reasons = [q.reason for q in quarantined]
    assert reasons[0].startswith("not JSON") and reasons[1] == "JSON line is not an object"
    assert "__REALTIME_TIMESTAMP" in reasons[2] and "__REALTIME_TIMESTAMP" in reasons[3]
    assert "out of range" in reasons[4]


SAMPLES = {
    "sipstack": referrer_429(datetime(2014, 10, 20, 23, 19, 5, tzinfo=UTC)),
    "sipstack-crlf": FIELD_TRACE,
    "sipstack-oneline": "TL_INFO(TF_COMPONENT) [0]0AF0.0C6C::10/20/2014-23:19:05.123.0000a1b2 (SIPStack,X::Y:x.cpp(1)) started\n",
    "sipstack-xml-body": referrer_429(datetime(2014, 10, 20, tzinfo=UTC), body='<?xml version="1.0"?><Event>x</Event>'),
    "syslog-3164": rfc3164_line(datetime(2014, 10, 20, 18, 0), "h", "app", 1, "has $$begin_record and TL_INFO(TF_X) in it") + "\n",
    "syslog-3164-pri": rfc3164_line(datetime(2014, 10, 20, 18, 0), "h", "app", 1, "x", pri=13) + "\n",
    "syslog-5424": rfc5424_line(datetime(2014, 10, 20, tzinfo=UTC), "h", "app", 1, '{"MESSAGE": "json-looking"}') + "\n",
    "syslog-krb5kdc": "\n\n" + krb5kdc_line(datetime(2014, 10, 20, 18, 0), "kdc", 1, "AS_REQ ...") + "\n",
    "syslog-iso": "2014-10-20T18:19:05.003+02:00 host app[1]: iso\n",
    "journald": journald_line(datetime(2014, 10, 20, tzinfo=UTC), "h", "app", 1, "Oct 20 18:00:00 h app: x") + "\n",
    "journald-long": json.dumps({"MESSAGE": "x" * 10_000, "__REALTIME_TIMESTAMP": "1"}) + "\n",
    "xml-events": '<?xml version="1.0" encoding="UTF-8"?>\n<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"></Event></Events>',
    "xml-stream": '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System/></Event>\n<Event/>',
    "xml-events-root": "<Events>\n<Event/>\n</Events>",
    "evtx": b"ElfFile\x00" + bytes(4088),
    "binary": bytes(random.Random(7).randrange(256) for _ in range(4096)),
    "empty": b"",
    "blank": "\n\n   \n",
    "prose": "This is a README.\nIt mentions TL_INFO but not as a trace line.\n",
    "json-other": '{"level": "info", "msg": "structured app log"}\n',
    "applog-log4j": "2014-10-20 18:19:05,123 INFO [main] com.example.App - started\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sniffers_are_exclusive(name):
    head = SAMPLES[name]
    head = (head.encode() if isinstance(head, str) else head)[:4096]
    chosen = {m.FORMAT for m in SOURCES if m.sniff(head)}
    expected = {"sipstack": {"sipstack"}, "syslog": {"syslog"}, "journald": {"journald"}}.get(name.split("-")[0], set())
    assert chosen == expected


@pytest.mark.parametrize("module", SOURCES, ids=lambda m: m.FORMAT)
@pytest.mark.parametrize("content", [b"", b"\n \r\n\t\n"], ids=["empty", "blank"])
def test_nothing_to_read_is_unusable(tmp_path, module, content):
    with pytest.raises(UnusableFile):
        list(module.read(make_ctx(write(tmp_path, content))))


@pytest.mark.parametrize("module", SOURCES, ids=lambda m: m.FORMAT)
def test_missing_file_is_unusable(tmp_path, module):
    with pytest.raises(UnusableFile):
        list(module.read(make_ctx(tmp_path / "gone.log")))


token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-."), min_size=1, max_size=20)


one_line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=80)


when = st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2014, 12, 31, 23, 59, 59))


# The deadline bounds a hang, not speed: generous so a loaded CI machine does not flake.
PROPERTY = settings(max_examples=examples(200), deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(local=when, host=token.filter(lambda s: s != "-"), app=token.filter(lambda s: s != "-"), pid=st.none() | st.integers(0, 10**6),
       msg=one_line, pri=st.none() | st.integers(0, 191))
def test_rfc3164_round_trip(tmp_path, local, host, app, pid, msg, pri):
    assume(not host.endswith(":"))
    p = write(tmp_path, rfc3164_line(local, host, app, pid, msg, pri=pri) + "\n")
    (row,), _ = read_all(syslog, p)
    assert row["logged"] == local.replace(microsecond=0, tzinfo=CHICAGO, fold=0).astimezone(UTC)
    assert (row["host"], row["provider"], row["message"]) == (host, app, msg)
    assert (row["data"] or {}).get("pid") == pid
    if pri is not None:
        assert row["data"]["facility"] == syslog_lines.FACILITIES[pri >> 3]


sd_name = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789@.-_"), min_size=1, max_size=12)


@PROPERTY
@given(t=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       host=token.filter(lambda s: s != "-"), app=token.filter(lambda s: s != "-"), pid=st.none() | st.integers(0, 10**6),
       msg=one_line.filter(lambda s: not s.startswith("\ufeff")),
       msgid=st.just("-") | token, sd=st.dictionaries(sd_name, st.dictionaries(sd_name, one_line, max_size=3), max_size=3))
def test_rfc5424_round_trip(tmp_path, t, host, app, pid, msg, msgid, sd):
    p = write(tmp_path, rfc5424_line(t, host, app, pid, msg, msgid=msgid, structured_data=sd) + "\n")
    (row,), q = read_all(syslog, p)
    assert row["logged"] == t and (row["host"], row["provider"], row["message"]) == (host, app, msg)
    assert row["data"].get("structured_data", {}) == {k: v for k, v in sd.items()}
    assert row["data"].get("msgid", "-") == msgid


@PROPERTY
@given(t=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       host=token, ident=token, pid=st.none() | st.integers(0, 10**6), msg=st.text(max_size=200) | st.binary(max_size=50))
def test_journald_round_trip(tmp_path, t, host, ident, pid, msg):
    (row,), _ = read_all(journald, write(tmp_path, journald_line(t, host, ident, pid, msg) + "\n"))
    assert row["logged"] == t and (row["host"], row["provider"]) == (host, ident)
    assert row["message"] == (msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg)


header_name = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"), min_size=1, max_size=16).filter(
    lambda s: s.lower() not in sipstack._RECORD_FIELDS | {"message-body", "from", "to", "cseq", "call-id", "i", "f", "t",
                                                          "trace-correlation-id", "instance-id"})


header_value = one_line.map(str.strip).filter(lambda s: s and "$$" not in s)


@PROPERTY
@given(t=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       headers=st.dictionaries(header_name, header_value, max_size=6), start=header_value,
       direction=st.sampled_from(["incoming", "outgoing"]))
def test_sipstack_round_trip(tmp_path, t, headers, start, direction):
    headers = {k: v for k, v in {k.lower(): (k, v) for k, v in headers.items()}.values()}  # unique case-insensitively
    t = t.replace(microsecond=t.microsecond // 1000 * 1000)
    rec = format_protocol_record(t, direction=direction, peer="peer:5061", message_type="request", start_line=start, headers=headers)
    (row,), _ = read_all(sipstack, write(tmp_path, rec))
    assert row["logged"] == t
    assert row["data"]["start_line"] == start and row["data"]["direction"] == direction
    for k, v in headers.items():
        assert row["data"]["headers"][k.lower()] == v


def _read_anything(module, path: Path) -> None:
    """Read whatever is there: only UnusableFile may come out, and counts add up."""
    try:
        read_all(module, path)
    except UnusableFile:
        pass


# What the SIPStack and syslog parsers key on, for mutate().
TOKENS = [b"\n", b"\r\n", b"$$begin_record\n", b"$$end_record\n", b"\x00", b"<", b"{", b"  ",
          b"TL_INFO(TF_X) ", b"Dec 31 ", b"Jan  1 ", b"[x@1 a=\"", b"\xff\xfe"]


_T = datetime(2014, 12, 31, 23, 58, tzinfo=UTC)


VALID = {
    "sipstack": (referrer_429(_T) + skew_diag(_T) + FIELD_TRACE + SAMPLES["sipstack-oneline"]).encode(),
    "syslog": "\n".join([
        rfc3164_line(datetime(2014, 12, 31, 23, 59, 59), "h", "chronyd", 1, "System clock wrong by -18000.123456 seconds"),
        rfc3164_line(datetime(2015, 1, 1, 0, 0, 1), "h", "chronyd", 1, "x", pri=30),
        "  continued",
        krb5kdc_line(datetime(2014, 11, 2, 1, 30), "kdc", 7, krb5kdc_skew_message("a@B", "krbtgt/B@B")),
        rfc5424_line(_T, "h", "app", 1, "m", structured_data={"a@1": {"k": 'v"]'}}),
        "2014-10-20T18:19:05.003+02:00 host app[1]: iso",
    ]).encode() + b"\n",
    "journald": "\n".join(journald_line(_T + timedelta(seconds=i), "h", "app", i, f"m{i}", boot_id="b", monotonic_us=i)
                          for i in range(4)).encode() + b"\n",
}


MODULES = {"sipstack": sipstack, "syslog": syslog, "journald": journald}


@pytest.mark.parametrize("fmt", sorted(MODULES))
@PROPERTY
@given(data=st.binary(max_size=3000))
def test_random_bytes_never_crash(tmp_path, fmt, data):
    _read_anything(MODULES[fmt], write(tmp_path, data))
    head = data[:4096]
    assert sum(m.sniff(head) for m in SOURCES) <= 1


@pytest.mark.parametrize("fmt", sorted(MODULES))
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 12))
def test_mutated_input_never_crashes(tmp_path, fmt, seed, steps):
    data = mutate(VALID[fmt], random.Random(seed), steps, TOKENS)
    _read_anything(MODULES[fmt], write(tmp_path, data))
    assert sum(m.sniff(data[:4096]) for m in SOURCES) <= 1


@pytest.mark.parametrize("fmt", sorted(MODULES))
def test_valid_samples_read_clean(tmp_path, fmt):
    p = write(tmp_path, VALID[fmt])
    assert {m.FORMAT for m in SOURCES if m.sniff(VALID[fmt][:4096])} == {fmt}
    rows, quarantined = read_all(MODULES[fmt], p)
    assert rows and not quarantined
