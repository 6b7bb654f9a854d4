"""The HTML report opened in a real browser: Debian's chromium, headless, driven by
Playwright. The page must work offline (no request but itself), draw the clocks, show
the verdict, and run nothing that comes from the evidence."""

from __future__ import annotations

import base64
from html import unescape
import hashlib
import json
import re
import shutil
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli
from synth.reportcases import STEPS_4616, security_4616_steps, sparse_collection
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

    def __init__(self, browser, path: Path, width: int = 1280) -> None:
        self.url = path.resolve().as_uri()
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 1000})
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
    seg.scroll_into_view_if_needed()       # the clock changes listed above may push the chart down
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


# -- readable on real collections (issue 20) ------------------------------------------------

# Everything drawn in the chart, as the browser lays it out: every visible text's box, the
# drawn width of every step, segment and interval, and the page's width.
_LAYOUT = """() => {
  const svg = document.querySelector('#chart svg');
  const shown = e => {
    for (let n = e; n && n !== svg.parentNode; n = n.parentNode) {
      if (n.getAttribute && n.getAttribute('opacity') === '0') return false;
      const s = getComputedStyle(n);
      if (s.display === 'none' || s.visibility === 'hidden' || +s.opacity === 0) return false;
    }
    return true;
  };
  const box = e => { const b = e.getBoundingClientRect(); return {x: b.left, y: b.top, r: b.right, b: b.bottom, w: b.width, h: b.height}; };
  const axis = t => { const a = t.closest('[aria-roledescription=axis]'); return a ? a.getAttribute('aria-label') : ''; };
  const texts = Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim() && shown(t))
    .map(t => Object.assign(box(t), {text: t.textContent, cls: t.parentNode.getAttribute('class') || '', axis: axis(t),
                                     label: t.getAttribute('aria-label') || ''}));
  /* a vertical rule's box has no width: it is drawn as wide as its stroke */
  const drawn = sel => Array.from(svg.querySelectorAll(sel)).map(e => { const b = box(e);
    return Object.assign(b, {drawn: b.w >= 1 ? b.w : b.w + (+e.getAttribute('stroke-width') || 0), label: e.getAttribute('aria-label') || ''}); });
  return {chart: box(svg), texts, steps: drawn('.step_marks line'), boots: drawn('.boot_marks line'),
          segments: drawn('.offset_marks line'), intervals: drawn('.interval_marks path'),
          page: document.documentElement.scrollWidth, viewport: window.innerWidth};
}"""


def _overlapping(texts: list[dict]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if min(a["r"], b["r"]) - max(a["x"], b["x"]) > 0.5 and min(a["b"], b["b"]) - max(a["y"], b["y"]) > 0.5:
                out.append((a["text"], b["text"]))
    return out


def _ticks(layout: dict) -> list[list[str]]:
    """The visible labels of each time axis, left to right."""
    axes: dict[str, list[dict]] = {}
    for t in layout["texts"]:
        if "role-axis-label" in t["cls"] and t["axis"].startswith("X-axis"):
            axes.setdefault(f"{round(t['y'])}", []).append(t)
    return [[t["text"] for t in sorted(v, key=lambda t: t["x"])] for v in axes.values()]


def _assert_readable(layout: dict) -> None:
    """No text over another, none out of the chart, tick labels distinct, every step and
    segment at least 2 px wide, the chart no wider than the window, nor the page from
    800 px up (below that the tables of records are wider)."""
    texts, chart = layout["texts"], layout["chart"]
    assert texts
    assert _overlapping(texts) == []
    out = [t["text"] for t in texts if t["x"] < chart["x"] - 0.5 or t["r"] > chart["r"] + 0.5
           or t["y"] < chart["y"] - 0.5 or t["b"] > chart["b"] + 0.5]
    assert out == []
    ticks = _ticks(layout)
    assert ticks and all(len(set(axis)) == len(axis) >= 2 for axis in ticks), ticks
    for kind in ("steps", "boots", "segments", "intervals"):
        assert all(m["drawn"] >= 2 for m in layout[kind]), (kind, min(m["drawn"] for m in layout[kind]))
    assert chart["w"] <= layout["viewport"]
    assert layout["page"] <= layout["viewport"] or layout["viewport"] < 800


def _layout(page) -> dict:
    return page.evaluate(_LAYOUT)


def _lanes(layout: dict) -> list[str]:
    return [t["text"] for t in sorted((t for t in layout["texts"] if "lane_title" in t["cls"]), key=lambda t: t["y"])]


def _told_steps(layout: dict) -> int:
    """Steps the labels tell, one by one or as a count."""
    n = 0
    for t in layout["texts"]:
        if "label_marks" in t["cls"]:
            m = re.fullmatch(r"([\d,]+) steps", t["text"])
            n += int(m.group(1).replace(",", "")) if m else t["text"].startswith("step ")
    return n


@pytest.fixture(scope="module")
def run4616(tmp_path_factory):
    """A Security log with 4616s minutes apart, two of them 0.1 s apart."""
    out = tmp_path_factory.mktemp("run4616")
    security_4616_steps(out / "ev")
    r = run_cli("investigate", str(out / "ev"), "--html", str(out / "report.html"), "--png", str(out / "chart.png"),
                "--json", str(out / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def fleet75(tmp_path_factory):
    """75 hosts, four with clock evidence; drawn by default and with --all-hosts."""
    out = tmp_path_factory.mktemp("fleet75")
    truth = sparse_collection(out / "ev")
    db = str(out / "case.duckdb")
    r = run_cli("investigate", str(out / "ev"), "--db", db, "--html", str(out / "report.html"),
                "--png", str(out / "chart.png"), "--json", str(out / "v.json"), "-q")
    assert r.returncode == 0, r.stderr
    r = run_cli("investigate", str(out / "ev"), "--db", db, "--all-hosts", "--html", str(out / "all.html"),
                "--png", str(out / "all.png"), "-q")
    assert r.returncode == 0, r.stderr
    return out, truth


def test_a_run_of_4616_steps_is_readable_at_every_zoom(browser, run4616):
    opened = Opened(browser, run4616 / "report.html", width=800)
    page = opened.page
    try:
        assert opened.errors == [] and opened.requests == [opened.url]
        page.locator("#chart").scroll_into_view_if_needed()
        page.locator("#chart").screenshot(path=str(run4616 / "chart-800.png"))
        layout = _layout(page)
        _assert_readable(layout)
        hc = json.loads((run4616 / "v.json").read_text())["hosts"][0]
        assert len(layout["steps"]) == len(hc["steps"]) >= len(STEPS_4616) - 1
        assert _told_steps(layout) == len(hc["steps"])          # every step told, alone or counted
        assert len(layout["segments"]) == len(layout["intervals"]) == len(hc["segments"])
        # the steps 0.1 s apart: a count whose tooltip lists each
        count = next(t for t in layout["texts"] if re.fullmatch(r"\d+ steps", t["text"]))
        assert "too close to tell apart" in count["label"] and count["label"].count(": step ") == int(count["text"][0])
        page.mouse.move(count["x"] + count["w"] / 2, count["y"] + count["h"] / 2)
        page.wait_for_selector("#tip:not([hidden])")
        assert page.inner_text("#tip").count("step ") >= 2
        # Zoom in on the run, step by step, to a few seconds; then out past the whole.
        step = min(layout["steps"], key=lambda m: abs(m["x"] - count["x"]))
        lane = next(t for t in layout["texts"] if "lane_title" in t["cls"])
        seconds = False
        for k in range(9):
            page.mouse.move(step["x"] + 1, lane["b"] + 40)
            page.mouse.wheel(0, -500)
            page.wait_for_timeout(250)
            layout = _layout(page)
            _assert_readable(layout)
            seconds |= all(re.fullmatch(r"\d\d:\d\d:\d\d(\.\d{3})?", t) for t in _ticks(layout)[0])
            if k == 4:
                page.locator("#chart").screenshot(path=str(run4616 / "chart-800-zoomed.png"))
        assert seconds
        assert all(m["drawn"] >= 2 for m in layout["segments"])
        for k in range(14):
            page.mouse.wheel(0, 700)
            page.wait_for_timeout(150)
        _assert_readable(_layout(page))
        assert opened.errors == []
    finally:
        opened.close()


def test_steps_and_segments_however_short_are_drawn_at_every_width(browser, run4616):
    for width in (480, 800, 1280, 1900):
        opened = Opened(browser, run4616 / "report.html", width=width)
        try:
            layout = _layout(opened.page)
            _assert_readable(layout)
            # the segment 0.1 s long is drawn as wide as the others' minimum
            assert min(m["drawn"] for m in layout["segments"]) >= 2
            assert layout["chart"]["w"] <= width - 40 and layout["chart"]["w"] >= min(width, 1180) - 60
        finally:
            opened.close()


def test_the_chart_follows_the_window_width(browser, run4616):
    opened = Opened(browser, run4616 / "report.html", width=1280)
    try:
        wide = _layout(opened.page)["chart"]["w"]
        opened.page.set_viewport_size({"width": 800, "height": 1000})
        opened.page.wait_for_timeout(400)
        layout = _layout(opened.page)
        assert layout["chart"]["w"] < wide and layout["chart"]["w"] <= 800
        _assert_readable(layout)
    finally:
        opened.close()


def test_a_75_host_collection_draws_the_hosts_with_clock_evidence_and_counts_the_rest(browser, fleet75):
    out, truth = fleet75
    opened = Opened(browser, out / "report.html", width=800)
    page = opened.page
    try:
        assert opened.errors == []
        page.locator("#chart").screenshot(path=str(out / "chart-800.png"))
        layout = _layout(page)
        _assert_readable(layout)
        lanes = _lanes(layout)
        # the host a person set two hours ahead first (its name sorts last), then the
        # other hosts whose logs speak of their clock; none of the 71 silent ones
        assert lanes == [truth.culprit, "app02.corp.test", "app01.corp.test", "dc01.corp.test"]
        assert len(truth.healthy) == 71 and not set(lanes) & set(truth.healthy)
        line = page.inner_text("#chart-left-out")
        assert line.startswith(f"71 hosts without clock evidence not drawn: {', '.join(sorted(truth.healthy)[:3])}")
        assert all(h in line for h in truth.healthy) and "--all-hosts" in line
        # the culprit's step is drawn and labelled
        assert any(t["text"].startswith("step +7,200 s") for t in layout["texts"])
        assert len(layout["steps"]) == 2 and len(layout["boots"]) == 1
    finally:
        opened.close()


def test_all_hosts_draws_all_75_lanes_readably(browser, fleet75):
    out, truth = fleet75
    opened = Opened(browser, out / "all.html", width=800)
    page = opened.page
    try:
        assert opened.errors == []
        layout = _layout(page)
        _assert_readable(layout)
        lanes = _lanes(layout)
        assert len(lanes) == len(set(lanes)) == 75 and lanes[0] == truth.culprit
        assert page.locator("#chart-left-out").count() == 0
        assert len(_ticks(layout)) == 2                       # a time axis on top as well
    finally:
        opened.close()


def test_the_png_of_a_75_host_collection_says_what_it_left_out(fleet75):
    from skewsleuth.report.chart import chart_height

    out, _ = fleet75
    w, h = _png_size(out / "chart.png")
    scale = w / 1100
    assert scale == 2 and h / scale > chart_height(4) + 60 + 16 * 6   # the lanes, the axis, the note under it
    w_all, h_all = _png_size(out / "all.png")
    assert h_all / (w_all / 1100) > chart_height(75)
