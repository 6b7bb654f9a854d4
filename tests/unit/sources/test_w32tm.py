"""w32tm /stripchart output as users save it: each Windows version's line forms, the
locale's date, UTF-16 from PowerShell's ``>``, CRLF, samples that time out.

The texts are as users posted them: Icinga/icinga-powershell-plugins issue 176 (en-AU
date, /dataonly), MicrosoftDocs/windowsserverdocs issue 2065 (``20-Feb-19``, /rdtsc),
a Windows Server 2003 run without the comma after the time (pastebin 1gMXNe08).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skewsleuth import sources
from skewsleuth.sources import w32tm
from skewsleuth.sources.base import FileContext

UTC = timezone.utc

EN_US_MIDNIGHT = """\
Tracking dc01.corp.example [10.0.0.1:123].
Collecting 4 samples.
The current time is 9/30/2026 11:59:58 PM.
23:59:58, d:+00.0541615s o:-00.0031265s  [*                  |                  ]
23:59:59, d:+00.0540000s o:-00.0031000s  [*                  |                  ]
00:00:00, error: 0x800705B4
00:00:01, d:+00.0539000s o:-00.0030000s  [*                  |                  ]
"""

EN_AU_DATAONLY = """\
Tracking 172.30.60.1 [172.30.60.1:123].
Collecting 4 samples.
The current time is 28/05/2021 6:39:15 AM.
06:39:15, -43149.7350583s
06:39:17, -43149.7349657s
06:39:19, -43149.7347674s
06:39:21, -43149.7346532s
"""

SERVER_2003 = """\
Tracking foo [1.2.3.4].
The current time is 19/07/2012 17:39:48 (local time).
17:39:48 d:-00.0000840s o:-25.3004160s [@ | ]
17:39:50 d:-00.0000680s o:-25.3070080s [@ | ]
"""

RDTSC = """\
Tracking ntp0.as34288.net [81.94.123.16:123].
Collecting 300 samples.
The current time is 20-Feb-19 09:08:17.
RdtscStart, RdtscEnd, FileTime, RoundtripDelay, NtpOffset
841651218510604, 841651276865480, 131951236975542534, +00.0240255, -00.0111940
841680774439669, 841683170269664, 131951237098903116, error: 0x800705B4
"""


def _read(tmp_path: Path, text: str, *, encoding: str = "utf-8", newline: str = "\n", tz=UTC,
          mtime: datetime | None = None) -> tuple[list[dict], FileContext]:
    path = tmp_path / "stripchart.txt"
    body = text.replace("\n", newline)
    path.write_bytes(b"\xff\xfe" + body.encode("utf-16-le") if encoding == "utf-16" else body.encode(encoding))
    if mtime is not None:
        mtime = mtime.replace(tzinfo=tz)
    assert sources.sniff(path.read_bytes()[:4096]) == w32tm.FORMAT
    ctx = FileContext(path, 0, "ws01", tz, modified=mtime)
    rows = [r for b in w32tm.read(ctx) for r in b.to_pylist()]
    for r in rows:
        r["data"] = json.loads(r["data"])
    return rows, ctx


def test_en_us_run_across_midnight_reads_the_offsets_and_the_next_day(tmp_path):
    rows, ctx = _read(tmp_path, EN_US_MIDNIGHT, encoding="utf-16", newline="\r\n")
    assert [r["logged"] for r in rows] == [datetime(2026, 9, 30, 23, 59, 58, tzinfo=UTC),
                                           datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC),
                                           datetime(2026, 10, 1, 0, 0, 0, tzinfo=UTC),
                                           datetime(2026, 10, 1, 0, 0, 1, tzinfo=UTC)]
    assert rows[0]["data"] == {"w32tm_target": "dc01.corp.example", "w32tm_address": "10.0.0.1",
                               "w32tm_delay_s": 0.0541615, "w32tm_offset_s": -0.0031265}
    assert rows[2]["data"]["w32tm_error"] == "0x800705B4" and "w32tm_offset_s" not in rows[2]["data"]
    assert {r["host"] for r in rows} == {"ws01"} and {r["provider"] for r in rows} == {"w32tm"}
    assert not ctx.quarantined and not ctx.notes


def test_dataonly_with_a_day_first_date_and_pm_less_hours(tmp_path):
    rows, ctx = _read(tmp_path, EN_AU_DATAONLY, tz=ZoneInfo("Australia/Brisbane"))
    # 28/05/2021 is day first (no month 28); Brisbane is UTC+10 all year
    assert rows[0]["logged"] == datetime(2021, 5, 27, 20, 39, 15, tzinfo=UTC)
    assert [r["data"]["w32tm_offset_s"] for r in rows] == [-43149.7350583, -43149.7349657, -43149.7347674,
                                                           -43149.7346532]
    assert "w32tm_delay_s" not in rows[0]["data"] and rows[0]["data"]["w32tm_target"] == "172.30.60.1"
    assert not ctx.quarantined


def test_windows_2003_lines_without_a_comma(tmp_path):
    rows, _ = _read(tmp_path, SERVER_2003)
    assert [r["logged"].second for r in rows] == [48, 50]
    assert rows[0]["data"]["w32tm_offset_s"] == -25.300416 and rows[0]["data"]["w32tm_address"] == "1.2.3.4"


def test_rdtsc_lines_carry_their_own_filetime(tmp_path):
    rows, ctx = _read(tmp_path, RDTSC)
    # FILETIME: 100 ns ticks since 1601-01-01 UTC
    assert rows[0]["logged"] == datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=131951236975542534 // 10)
    assert rows[0]["logged"].date() == datetime(2019, 2, 20).date()
    assert rows[0]["data"]["w32tm_offset_s"] == -0.011194 and rows[0]["data"]["w32tm_delay_s"] == 0.0240255
    assert rows[1]["data"]["w32tm_error"] == "0x800705B4"
    assert not ctx.quarantined


@pytest.mark.parametrize("mtime, expected", [(datetime(2021, 6, 5, 12), datetime(2021, 6, 5)),
                                             (datetime(2021, 5, 6, 12), datetime(2021, 5, 6))])
def test_a_date_either_way_round_is_read_as_the_one_nearer_the_files_time(tmp_path, mtime, expected):
    text = "Tracking dc01 [10.0.0.1:123].\nThe current time is 05/06/2021 10:00:00.\n10:00:00, +01.0000000s\n"
    rows, ctx = _read(tmp_path, text, mtime=mtime)
    assert rows[0]["logged"].date() == expected.date()
    assert any("05/06/2021" in n and expected.date().isoformat() in n for n in ctx.notes), ctx.notes


def test_every_line_is_a_record_or_quarantined_with_a_reason(tmp_path):
    text = ("12:00:00, d:+00.0004000s o:+01.0000000s  [*  |  ]\n"      # before any date
            "Tracking dc01 [10.0.0.1:123].\nThe current time is 2026-12-03 12:00:02.\n"
            "12:00:02, d:+00.0004000s o:+01.0000000s  [*  |  ]\n"
            "<script>alert(1)</script>\n"
            "12:00:04, d:+00.0004000s o:+01.0000000s  [*  |  ]\n")
    path = tmp_path / "s.txt"
    path.write_text(text)
    ctx = FileContext(path, 0, "ws01", UTC)
    rows = [r for b in w32tm.read(ctx) for r in b.to_pylist()]
    assert len(rows) == 2 and [r["logged"].second for r in rows] == [2, 4]
    reasons = [q.reason for q in ctx.quarantined]
    assert len(reasons) == 2 and "before any date" in reasons[0] and "not a w32tm" in reasons[1]
    assert ctx.quarantined[1].excerpt == "<script>alert(1)</script>"


@pytest.mark.parametrize("text", [EN_US_MIDNIGHT, EN_AU_DATAONLY, SERVER_2003, RDTSC])
def test_only_the_w32tm_source_claims_stripchart_output(text):
    for head in (text.encode(), b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")):
        assert [m.FORMAT for m in sources.MODULES if m.sniff(head)] == [w32tm.FORMAT]


def test_syslog_with_times_of_day_is_not_taken_for_a_stripchart():
    head = b"Dec  3 12:00:00 ws01 sshd[12]: Accepted publickey for root\n12:00:01, not a sample\n"
    assert not w32tm.sniff(head)
