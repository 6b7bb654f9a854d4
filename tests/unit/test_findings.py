"""Clock changes as findings: every explicit change, graded, in every output.

The tampering case (synth.tampering) has no failure at all: a person's changes must
still come out as high findings, named with their process and account, in the JSON,
the terminal, Markdown and HTML, and "No incident" must not read as all clear.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from skewsleuth import investigate
from skewsleuth.findings import LARGE_STEP_S, grade
from skewsleuth.report.html import render_html
from skewsleuth.report.markdown import render_markdown
from skewsleuth.report.text import render_text
from synth import tampering


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    root = tmp_path_factory.mktemp("tampering")
    truth = tampering.write(root)
    return truth, investigate([root])


def _by_size(d: dict) -> dict[float, dict]:
    return {round(f["delta_s"]): f for f in d["findings"]}


def test_grades_follow_who_set_the_clock_and_by_how_much():
    assert grade("user", 0.5) == ("high", "set_by_person")
    assert grade("unknown", 0.5) == ("high", "set_by_unknown")
    assert grade("time_service", 0.5) == ("informational", "routine")
    assert grade("agent", LARGE_STEP_S - 1) == ("informational", "routine")
    assert grade("time_service", -LARGE_STEP_S) == ("medium", "large_step")
    assert grade("rtc", 3600) == ("medium", "large_step")
    # a step only the journal's clocks show: nobody to blame, its size still matters
    assert grade("unknown", 3600, named=False) == ("medium", "unattributed")
    assert grade("unknown", 5, named=False) == ("low", "unattributed")


def test_every_change_is_one_finding_with_who_and_sizes(tampered):
    truth, v = tampered
    d = v.to_dict()
    host = truth.host("ws07.fleet.test")
    # one finding per change, the Kernel-General 1 and the 4616 of one change merged
    assert sorted(_by_size(d)) == sorted(round(s) for _, s in host.steps)
    found = _by_size(d)
    ps = found[259200]
    assert ps["level"] == "high" and ps["mitre"] == ["T1070.006"] and ps["set_by"] == "user"
    assert ps["process"].endswith("powershell.exe") and ps["user"] == "FLEET\\mallory"
    assert ps["sid"] == tampering.MALLORY[0]
    assert set(ps["sources"]) == {"Security 4616", "Kernel-General 1"} and len(ps["records"]) == 2
    assert {r.split("#")[0].rsplit("/", 1)[-1] for r in ps["records"]} == {"Security.xml", "System.xml"}
    # the true time of the change, from the model's offsets: within its stated uncertainty
    t_true = host.steps[0][0]
    from datetime import datetime
    at = datetime.fromisoformat(ps["true_at"].replace("Z", "+00:00"))
    assert abs((at - t_true).total_seconds()) <= ps["true_uncertainty_s"] + 0.1
    service = found[-259424]
    assert service["level"] == "medium" and service["set_by"] == "time_service" and not service["mitre"]
    assert service["user"] == "NT AUTHORITY\\LOCAL SERVICE"
    for size in (10, -8):   # Settings' Date and Time page, through dllhost.exe, as her
        assert found[size]["level"] == "high" and found[size]["process"].endswith("dllhost.exe")
        assert found[size]["user"] == "FLEET\\mallory"
    orphan = found[66]      # a Kernel-General 1 alone: no process, only the account's SID
    assert orphan["level"] == "high" and orphan["process"] is None and orphan["sid"] == tampering.ORPHAN_SID
    assert orphan["sources"] == ["Kernel-General 1"]
    assert d["findings_summary"]["total"] == {"high": 4, "medium": 1, "low": 0, "informational": 0}
    assert d["findings_summary"]["hosts"] == [{"host": "ws07.fleet.test", "high": 4, "medium": 1, "low": 0,
                                               "informational": 0}]
    assert not d["incidents"]


def test_no_incident_never_reads_as_all_clear_when_a_person_set_the_clock(tampered):
    _, v = tampered
    buf = io.StringIO()
    render_text(v, Console(file=buf, width=220, color_system=None))
    text = buf.getvalue()
    assert "No incident" in text and "4 clock changes by a person or an unknown process are high findings" in text
    assert re.search(r"Clock changes: 4 high, 1 medium", text)
    row = next(line for line in text.splitlines() if "powershell.exe" in line)
    assert row.split()[0] == "high" and "FLEET\\mallory" in row and "T1070.006" in row and "+259,200 s" in row
    md = render_markdown(v)
    assert "## Clock changes" in md and "but **4 clock changes by a person" in md
    assert md.count("| high T1070.006 |") == 4 and "| medium |" in md
    page = render_html(v)
    header = page[page.index('<header class="verdict'):page.index("</header>")]
    assert "calm" not in header.split(">")[0] and "4 clock changes by a person" in header
    table = page[page.index('<table class="changes">'):]
    table = table[:table.index("</table>")]
    assert table.count('<tr class="lvl-high">') == 4 and table.count('<tr class="lvl-medium">') == 1
    assert "powershell.exe" in table and "FLEET\\mallory" in table


def test_hostile_account_names_are_escaped_in_every_report(tmp_path):
    hostile = ("S-1-5-21-1-2-3-1111", "<img src=x onerror=alert(1)>|**x**", "EVIL", "0x1")
    import synth.tampering as t
    saved = t.CHANGES
    t.CHANGES = [(saved[0][0], 600.0, r"C:\Temp\<script>.exe", hostile, hostile[0])]
    try:
        t.write(tmp_path)
    finally:
        t.CHANGES = saved
    v = investigate([tmp_path])
    [f] = v.to_dict()["findings"]
    assert f["user"] == "EVIL\\<img src=x onerror=alert(1)>|**x**"   # the JSON keeps the text as logged
    page = render_html(v)
    assert "<img src=x" not in page and "<script>.exe" not in page and "&lt;img src=x" in page
    md = render_markdown(v)
    assert "<img" not in md and "\\|" in md and "\\*\\*x\\*\\*" in md
