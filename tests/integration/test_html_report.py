"""The HTML report opened in a real browser: Debian's chromium, headless, driven by
Playwright. The page must work offline (no request but itself), draw the clocks, show
the verdict, and run nothing that comes from the evidence."""

from __future__ import annotations

import base64
from html import unescape
import hashlib
import re
import shutil
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli
from synth.syslog import rfc5424_line
from support.probe_helpers import need

UTC = timezone.utc
EDGE = "srv-lyncedge01.domain.com"
RED, PURPLE, BLACK = "#c62828", "#6a1b9a", "#212121"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    need("chromium")   # a failure in CI, where test-all.sh installs it
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=LAUNCH_ARGS)
        yield b
        b.close()


class Opened:
    """A report open in a fresh page, with everything the page tried to do recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            self.requests.append(r.request.url)
            if r.request.url == self.url:
                r.continue_()
            else:
                r.abort()
        self.page.route("**/*", route)
        self.page.goto(self.url)
        self.page.wait_for_selector("#chart[data-ready=true]", state="attached", timeout=20000)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [m for m in self.console if m[0] in ("error", "pageerror", "warning")]

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    r = run_cli("demo", "--out", str(out / "ev"), "--html", str(out / "report.html"), "--png", str(out / "chart.png"),
                "--json", str(out / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def opened(browser, demo):
    page = Opened(browser, demo / "report.html")
    yield page
    page.close()


def _marks(page) -> list[dict]:
    """Every drawn mark of the chart with its colour, its box and its text."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '#chart svg path, #chart svg line, #chart svg rect, #chart svg text')).map(e => {
          const b = e.getBoundingClientRect();
          return {tag: e.tagName, stroke: e.getAttribute('stroke'), fill: e.getAttribute('fill'),
                  opacity: e.getAttribute('opacity') || e.getAttribute('fill-opacity'),
                  text: e.tagName === 'text' ? e.textContent : '', x: b.left, y: b.top, w: b.width, h: b.height,
                  label: e.getAttribute('aria-label') || ''};
        })""")


def test_demo_report_opens_offline_without_errors_and_shows_the_verdict(opened):
    assert opened.requests == [opened.url]               # nothing fetched but the page itself
    assert opened.errors == [] and opened.dialogs == []
    verdict = opened.page.inner_text("header.verdict h1")
    assert EDGE in verdict and "-18,000 s (-5.00 h)" in verdict
    assert opened.page.is_visible("header.verdict .host")
    when = opened.page.inner_text("header.verdict .when")
    assert "2014-10-20 18:19:47 CDT" in when and "2014-10-20 21:33:25 CDT" in when
    fix = opened.page.inner_text("header.verdict ol.fix")
    assert "w32tm /resync" in fix and "RTCSRV" in fix
    assert "Password Sync re-enabled" in opened.page.inner_text("header.verdict ul.out")


def test_demo_chart_is_drawn(opened):
    marks = _marks(opened.page)
    drawn = [m for m in marks if m["tag"] != "text" and m["w"] * m["h"] > 0 or (m["tag"] == "line" and m["w"] + m["h"] > 0)]
    assert len(drawn) > 50
    texts = {m["text"] for m in marks}
    assert {EDGE, "srv-lyncfe01.domain.com", "dirsync01.domain.com"} <= texts     # one lane per host
    box = opened.page.locator("#chart svg").bounding_box()
    assert box["width"] > 800 and box["height"] > 300


def test_csp_is_strict_and_every_inline_script_is_hashed(opened, demo):
    html = (demo / "report.html").read_text()
    (csp,) = map(unescape, re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html))
    rules = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert rules["default-src"] == "'none'"
    assert "unsafe" not in csp and "*" not in csp and "http" not in csp and "data:" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts}
    assert set(rules["script-src"].split()) == hashes and len(scripts) == 3
    assert re.findall(r"<script(?: [^>]*)?>", html).count('<script type="application/json" id="chart-spec">') == 1


def test_the_browser_enforces_the_policy(browser, demo):
    """Script the page did not bring never runs: an inline script or event handler added
    later is refused, and the refusal is reported as a violation."""
    opened = Opened(browser, demo / "report.html")
    page = opened.page
    try:
        page.evaluate("""() => {
            window.__violations = [];
            document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.effectiveDirective));
            const s = document.createElement('script');
            s.textContent = 'window.__injected = 1';
            document.body.appendChild(s);
            document.body.insertAdjacentHTML('beforeend', '<img src="x.png" onerror="window.__injected = 2">');
        }""")
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__injected") is None
        violations = set(page.evaluate("() => window.__violations"))
        assert {"script-src-elem", "img-src"} <= violations, violations
        assert all(u == opened.url for u in opened.requests)   # the image was never requested
    finally:
        opened.close()


def test_hover_shows_a_mark_and_the_wheel_zooms(opened):
    page = opened.page
    seg = page.locator(f'#chart svg path[aria-label*="anchor: seg-"][fill="{RED}"]').first
    box = seg.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#tip:not([hidden])")
    assert "offset -18,000 s (-5.00 h)" in page.inner_text("#tip") and EDGE in page.inner_text("#tip")
    before = page.evaluate("() => Array.from(document.querySelectorAll('#chart svg text')).map(t => t.textContent).join('|')")
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(300)
    after = page.evaluate("() => Array.from(document.querySelectorAll('#chart svg text')).map(t => t.textContent).join('|')")
    assert after != before                                # the time axis changed
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(100)
    assert re.fullmatch(r"#(seg|incident)-\d+", page.evaluate("() => location.hash"))
    page.mouse.dblclick(box["x"] + 2, box["y"] + box["height"] / 2)


def test_every_finding_links_to_records_that_are_on_the_page(opened):
    page = opened.page
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("#") for h in hrefs)
    ids = set(page.evaluate("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    assert {h[1:] for h in hrefs} <= ids
    records = page.locator("table.records tbody tr")
    assert 10 <= records.count() <= 60
    assert "847 symptoms (rule matches) in 726 records" in page.inner_text("#incident-1")
    assert "and 716 more" in page.inner_text("#incident-1")
    ruled = page.inner_text("header.verdict ul.out")
    assert "case-1" in ruled and "Password Sync re-enabled" in page.inner_text("#case-1")
    # The Edge's reboot and its resync link to the records that logged them.
    boot_row = page.inner_text("table.clocks tr[id^=boot-]")
    assert EDGE in boot_row and "rec-" in boot_row


def test_demo_report_as_a_picture(browser, demo):
    """What a responder sees: the Edge five hours off between its reboot and its resync,
    the incident band, Password Sync marked as ruled out (a fresh page: not zoomed)."""
    opened = Opened(browser, demo / "report.html")
    try:
        _picture(opened.page, demo)
    finally:
        opened.close()


def _picture(page, demo: Path) -> None:
    page.locator("#chart").screenshot(path=str(demo / "chart-in-browser.png"))
    marks = _marks(page)
    head = {m["text"]: m for m in marks if m["text"] in (EDGE, "srv-lyncfe01.domain.com", "dirsync01.domain.com")}
    top, bottom = head[EDGE]["y"], head["srv-lyncfe01.domain.com"]["y"]
    lane = [m for m in marks if top <= m["y"] < bottom]
    boot = next(m for m in lane if m["stroke"] == PURPLE)
    step = next(m for m in lane if m["stroke"] == BLACK and m["tag"] == "line")
    skewed = [m for m in lane if m["stroke"] == RED and m["tag"] == "line" and m["w"] > 100]
    assert len(skewed) == 1
    red = skewed[0]
    assert abs(red["x"] - boot["x"]) < 3 and abs(red["x"] + red["w"] - step["x"]) < 3
    within = [m for m in lane if m["tag"] == "line" and m["w"] > 100 and m["stroke"] != RED]
    assert within and all(m["y"] < red["y"] - 20 for m in within)   # drawn far below the right clock
    label = next(m for m in lane if m["text"] == "-18,000 s (-5.00 h)")
    assert label["w"] > 0 and abs(label["x"] - boot["x"]) < 10
    # The incident band crosses every lane, from the first failure to the resync.
    bands = [m for m in marks if 'anchor: incident-1' in m["label"] and m["w"] > 100]
    assert len(bands) == 3 and all(abs(b["x"] - boot["x"]) < 10 and abs(b["x"] + b["w"] - step["x"]) < 5 for b in bands)
    # Password Sync, in its host's lane, marked ruled out, inside the band.
    ps = next(m for m in marks if m["text"].startswith("✗ Password Sync re-enabled"))
    assert "ruled out" in ps["text"] and ps["y"] > head["dirsync01.domain.com"]["y"] and ps["w"] > 0
    assert bands[0]["x"] < ps["x"] < bands[0]["x"] + bands[0]["w"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_holds_the_chart(demo):
    w, h = _png_size(demo / "chart.png")
    assert w > 1500 and h > 600


# -- hostile evidence ---------------------------------------------------------------------

PAYLOADS = [
    "<script>window.__pwned = 1; alert(1)</script>",
    '<img src=x onerror="window.__pwned = 2; alert(2)">',
    '<a href="javascript:window.__pwned = 3">click me</a>',
    "</script><script>window.__pwned = 4</script>",
    '"><svg onload="window.__pwned = 5">',
    "{{7*7}} ${window.__pwned = 6} <style>body{display:none}</style>",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    ev = root / "ev"
    kdc = ev / "kdc01"
    kdc.mkdir(parents=True)
    t0 = datetime(2014, 10, 20, 18, 10, 5, tzinfo=UTC)
    lines = []
    clients = PAYLOADS + ["A" * 100_000 + PAYLOADS[0]]
    for k, client in enumerate(clients):
        t = t0 + timedelta(minutes=k)
        lines.append(rfc5424_line(t, "kdc01", "krb5kdc", 1234, "AS_REQ (2 etypes {aes256-cts(18)}) 10.0.0.5: "
                                  f"PREAUTH_FAILED: {client}@EXAMPLE.TEST for krbtgt/EXAMPLE.TEST@EXAMPLE.TEST, "
                                  "Clock skew too great"))
    (kdc / "krb5kdc.log").write_text("\n".join(lines) + "\n")
    (ev / "case.yml").write_text(
        "timezone: UTC\n"
        "changes:\n"
        f"  - at: 2014-10-20 18:12\n    host: '{PAYLOADS[1]}'\n    what: '{PAYLOADS[0]} {PAYLOADS[2]}'\n")
    r = run_cli("investigate", str(ev), "--html", str(root / "report.html"), "--png", str(root / "chart.png"),
                "--json", str(root / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    return root


def test_hostile_evidence_runs_nothing_and_is_shown_as_text(browser, hostile):
    opened = Opened(browser, hostile / "report.html")
    page = opened.page
    try:
        page.wait_for_timeout(300)
        assert opened.dialogs == [] and opened.requests == [opened.url] and opened.errors == []
        assert page.evaluate("() => window.__pwned") is None
        # Nothing from the evidence became an element.
        assert page.locator("img, iframe, object, embed, svg svg, a[href^='javascript'], style").count() == 1  # our style
        assert page.locator("script").count() == 4                            # the spec and our three
        text = page.inner_text("body")
        for p in PAYLOADS[:3]:
            assert p in text                                                   # shown as text
        assert "more characters" in text and "A" * 1000 in text and "A" * 3000 not in text
        # The chart drew the hostile host's lane with its name as text, and the tip is text.
        lanes = page.evaluate("() => Array.from(document.querySelectorAll('#chart svg text')).map(t => t.textContent)")
        assert PAYLOADS[1].lower() in lanes or PAYLOADS[1] in lanes
        mark = page.locator('#chart svg text[aria-label*="anchor: case-1"]').first
        mark.scroll_into_view_if_needed()
        box = mark.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#tip:not([hidden])")
        assert PAYLOADS[0] in page.inner_text("#tip") and page.locator("#tip *").count() == 0
        assert page.evaluate("() => window.__pwned") is None and opened.dialogs == []
    finally:
        opened.close()


def test_hostile_strings_are_escaped_in_the_file(hostile):
    html = (hostile / "report.html").read_text()
    for p in PAYLOADS:
        assert p not in html
    spec = re.search(r'<script type="application/json" id="chart-spec">(.*?)</script>', html, re.S).group(1)
    assert "<" not in spec and ">" not in spec and "\\u003cscript\\u003e" in spec
    assert _png_size(hostile / "chart.png")[0] > 500


def test_html_and_png_need_a_file(tmp_path):
    from conftest import one_line_error

    assert "--html" in one_line_error("investigate", str(tmp_path), "--html", "-")
    assert "--png" in one_line_error("demo", "--out", str(tmp_path / "d"), "--png", "-")
    assert "does not exist" in one_line_error("investigate", str(tmp_path), "--html", str(tmp_path / "no" / "r.html"))
