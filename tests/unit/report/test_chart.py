"""The clock chart of the HTML report and the PNG (issue 20): which hosts get a lane and
what is said of the others, tick labels distinct at every span, short segments drawn
wide enough, labels that never lose a step, and the PNG's note of what it left out.
The chart is drawn here by vl-convert (the PNG's renderer); the browser's drawing is
checked in tests/integration/test_html_report.py."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from skewsleuth import investigate
from skewsleuth.report.chart import (LABEL_GAP_PX, MIN_PX, RULE_PX, TICK_SIZE, chart_data, chart_spec,
                                     choose_lanes, png_footer, render_chart_svg, text_width, vega_spec)
from skewsleuth.report.html import render_html
from support.chart import of_class, svg_marks, x_tick_labels
from synth.reportcases import STEPS_4616, security_4616_steps, sparse_collection

UTC = timezone.utc
WIDTH = 700


@pytest.fixture(scope="module")
def run4616(tmp_path_factory):
    root = tmp_path_factory.mktemp("r4616")
    security_4616_steps(root)
    return investigate([root])


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    root = tmp_path_factory.mktemp("sparse")
    truth = sparse_collection(root, hosts=14)
    return truth, investigate([root])


# -- which hosts get a lane ---------------------------------------------------------------

def test_hosts_with_clock_evidence_are_drawn_first_and_the_rest_counted(sparse):
    truth, v = sparse
    lanes = choose_lanes(v)
    # The host a person set ahead (a finding, with no offset known) first, whatever its
    # name; then the step by W32Time and the reboot; then the sync-only clock.
    assert lanes.drawn == [truth.culprit, "app02.corp.test", "app01.corp.test", "dc01.corp.test"]
    (left,) = lanes.left_out
    assert left["count"] == len(truth.healthy) == 10 and left["hosts"] == sorted(truth.healthy)
    assert lanes.summary() == [f"10 hosts without clock evidence not drawn: {', '.join(sorted(truth.healthy))}."]
    everything = choose_lanes(v, all_hosts=True)
    assert everything.left_out == [] and sorted(everything.drawn) == sorted(v.model.hosts)
    assert everything.drawn[:4] == lanes.drawn


def test_the_root_cause_comes_first_then_the_hosts_the_incident_involves(seed_verdict):
    lanes = choose_lanes(seed_verdict)
    # the Edge, five hours behind; the Front End its failures involve; the case file's
    # change on a host that sent no logs
    assert lanes.drawn[0] == "srv-lyncedge01.domain.com" and lanes.left_out == []
    assert set(lanes.drawn) == {"srv-lyncedge01.domain.com", "srv-lyncfe01.domain.com", "dirsync01.domain.com"}


def test_a_host_with_a_real_clock_step_is_never_left_out_for_an_empty_lane(sparse):
    truth, v = sparse
    for cap in (1, 2, 3):
        lanes = choose_lanes(v, max_lanes=cap)
        assert lanes.drawn[0] == truth.culprit and len(lanes.drawn) == cap
        assert not set(lanes.drawn) & set(truth.healthy)
        over = next(g for g in lanes.left_out if g["why"].startswith("with clock evidence"))
        assert over["count"] == 4 - cap and truth.culprit not in over["hosts"]
        assert lanes.left_out_count == 4 - cap + 10


def test_the_page_says_which_hosts_it_left_out(sparse):
    truth, v = sparse
    html = render_html(v)
    line = re.search(r'<p class="muted" id="chart-left-out">(.*?)</p>', html, re.S).group(1)
    assert line.startswith("10 hosts without clock evidence not drawn: ws000.corp.test, ws001.corp.test")
    assert "--all-hosts" in line
    assert 'id="chart-left-out"' not in render_html(v, all_hosts=True)


def test_the_png_notes_what_it_left_out(sparse):
    truth, v = sparse
    spec, facts = vega_spec(v, width=1100, footer=True)
    (footer,) = [m for m in of_class(svg_marks(render_chart_svg(spec)), "footer") if m.tag == "text"]
    lines = [t.text for t in footer.element]      # one tspan per line
    assert " ".join(lines[:-1]) == f"10 hosts without clock evidence not drawn: {', '.join(sorted(truth.healthy))}."
    assert lines[-1] == "skewsleuth investigate --all-hosts draws every host."
    lanes = max(m.y for m in svg_marks(render_chart_svg(spec)) if "lane_title" in m.group.split())
    assert footer.y > lanes + 100      # under the last lane and the time axis
    assert png_footer(vega_spec(v, all_hosts=True)[1]) == []


def test_the_png_names_the_hosts_it_left_out_within_its_width():
    facts = {"summary": [f"58 hosts without clock evidence not drawn: {', '.join(f'ws{k:03d}.corp.test' for k in range(58))}."],
             "left_out": [{"count": 58}]}
    lines = png_footer(facts, 1100)
    assert len(lines) > 5 and all(text_width(line, 12) <= 1100 - 40 for line in lines)
    assert " ".join(lines[:-1]) == facts["summary"][0]


# -- ticks --------------------------------------------------------------------------------

_T0 = datetime(2024, 12, 30, 21, 17, 3, 250000, tzinfo=UTC).timestamp() * 1000


def _axis_spec(span_ms: float, width: int = WIDTH, lanes: int = 1) -> dict:
    rows = [{"lane": f"h{k}", "li": k, "kind": "lane"} for k in range(lanes)]
    facts = {"lanes": [r["lane"] for r in rows], "bin": "1 min", "zone": "UTC", "days": "",
             "domain": [_T0, _T0 + span_ms]}
    return chart_spec(rows, facts, width=width)


SPANS = {"0.3 s": 300, "4 s": 4000, "50 s": 50_000, "7 min": 420_000, "50 min": 3_000_000,
         "5 h": 18_000_000, "23 h": 82_800_000, "30 h": 108_000_000, "4 d": 345_600_000, "20 d": 1_728_000_000,
         "100 d": 8_640_000_000, "2 y": 63_072_000_000, "30 y": 946_080_000_000}


@pytest.mark.parametrize("width", [360, WIDTH, 1400])
@pytest.mark.parametrize("span", list(SPANS))
def test_tick_labels_are_distinct_and_apart_at_every_span(span, width):
    (axis,) = x_tick_labels(svg_marks(render_chart_svg(_axis_spec(SPANS[span], width))))
    labels = [m.text for m in axis]
    assert len(labels) >= 2, labels
    assert len(set(labels)) == len(labels), labels
    for a, b in zip(axis, axis[1:]):   # centred labels: half of each between the ticks, and a gap
        assert b.x - a.x >= (text_width(a.text, TICK_SIZE) + text_width(b.text, TICK_SIZE)) / 2 + 4, (a.text, b.text)
    assert all(0 <= m.x <= width for m in axis)


def test_tick_labels_say_as_much_as_the_span_needs():
    def labels(span):
        (axis,) = x_tick_labels(svg_marks(render_chart_svg(_axis_spec(SPANS[span]))))
        return [m.text for m in axis]

    assert all(re.fullmatch(r"21:17:0\d\.\d{3}", t) for t in labels("0.3 s"))
    assert all(re.fullmatch(r"21:1[78]:\d\d", t) for t in labels("50 s"))
    assert all(re.fullmatch(r"2[12]:\d\d", t) for t in labels("50 min"))
    # Past a day, a time carries its date; midnight is the date alone.
    assert all(re.fullmatch(r"(Dec|Jan) \d\d( \d\d:\d\d)?", t) for t in labels("30 h"))
    assert any(re.fullmatch(r"Dec \d\d \d\d:\d\d", t) for t in labels("30 h"))
    assert all(re.fullmatch(r"(Dec|Jan) \d\d( 12:00)?", t) for t in labels("4 d"))
    assert all(re.fullmatch(r"(Dec|Jan) \d\d", t) for t in labels("20 d"))
    assert all(re.fullmatch(r"[A-Z][a-z]{2} 20\d\d", t) for t in labels("2 y"))
    assert all(re.fullmatch(r"20\d\d", t) for t in labels("30 y"))


def test_a_time_axis_on_top_as_well_when_the_lanes_are_many():
    assert len(x_tick_labels(svg_marks(render_chart_svg(_axis_spec(SPANS["5 h"], lanes=2))))) == 1
    top, bottom = sorted(x_tick_labels(svg_marks(render_chart_svg(_axis_spec(SPANS["5 h"], lanes=6)))),
                         key=lambda axis: axis[0].y)
    assert [m.text for m in top] == [m.text for m in bottom]


# -- marks and labels -----------------------------------------------------------------------

def _spec_svg(v, width: int = WIDTH):
    spec, facts = vega_spec(v, width=width)
    return svg_marks(render_chart_svg(spec)), facts


def test_a_segment_of_a_tenth_of_a_second_and_every_step_are_drawn_wide_enough(run4616):
    rows, _ = chart_data(run4616)
    segs = [r for r in rows if r["kind"] == "offset"]
    assert min(r["x2"] - r["x"] for r in segs) <= 100              # the 0.1 s segment is there
    marks, _ = _spec_svg(run4616)
    lines = [m for m in of_class(marks, "offset_marks") if m.tag == "line"]
    assert len(lines) == len(segs)
    assert min(abs(float(m.attrs["x2"])) for m in lines) >= MIN_PX
    steps = [m for m in of_class(marks, "step_marks") if m.tag == "line"]
    assert len(steps) == len([r for r in rows if r["kind"] == "step"]) == len(run4616.model.hosts["ws01.corp.test"].steps)
    assert all(float(m.attrs["stroke-width"]) >= RULE_PX >= 2 for m in steps)
    intervals = [m for m in of_class(marks, "interval_marks") if m.tag == "path"]
    widths = [float(re.match(r"M[-\d.e]+,[-\d.e]+h([-\d.e]+)", m.attrs["d"]).group(1)) for m in intervals]
    assert len(widths) == len(segs) and min(widths) >= MIN_PX


def _step_count(texts: list[str]) -> int:
    n = 0
    for t in texts:
        m = re.fullmatch(r"([\d,]+) steps", t)
        n += int(m.group(1).replace(",", "")) if m else t.startswith("step ")
    return n


@pytest.mark.parametrize("width", [300, 500, WIDTH, 1400])
def test_step_labels_stack_or_collapse_and_lose_no_step(run4616, width):
    marks, _ = _spec_svg(run4616, width)
    labels = [m for m in of_class(marks, "label_marks") if m.tag == "text"]
    steps = [m for m in labels if m.text.startswith("step ") or m.text.endswith(" steps")]
    # every step is told, alone or in a count, and the count's tooltip lists them
    assert _step_count([m.text for m in steps]) == len(run4616.model.hosts["ws01.corp.test"].steps)
    for m in steps:
        if m.text.endswith(" steps"):
            assert "too close to tell apart at this zoom" in m.attrs["aria-label"]
            assert m.attrs["aria-label"].count(": step ") == int(m.text.split()[0])
    # a row's labels start apart by at least the widest count it can show, and inside the chart
    left = min(m.x for m in marks if "lane_title" in m.group.split())
    by_line: dict[float, list[float]] = {}
    for m in labels:
        by_line.setdefault(m.y, []).append(m.x - left)
    for xs in by_line.values():
        xs.sort()
        assert xs[0] >= 0 and xs[-1] <= width - text_width("7 steps", 11)
        assert all(b - a >= text_width("7 steps", 11) + LABEL_GAP_PX - 0.01 for a, b in zip(xs, xs[1:]))
    if width <= 500:
        assert any(m.text.endswith(" steps") for m in steps)


def test_zoomed_in_every_step_has_its_own_label_but_those_a_tenth_of_a_second_apart(run4616):
    spec, _ = vega_spec(run4616, width=1400)
    xext = next(s for s in spec["signals"] if s["name"] == "xext")
    xext["value"] = [datetime(2024, 5, 6, 15, 42, 30, tzinfo=UTC).timestamp() * 1000,
                     datetime(2024, 5, 6, 15, 45, tzinfo=UTC).timestamp() * 1000]
    marks = svg_marks(render_chart_svg(spec))
    texts = [m.text for m in of_class(marks, "label_marks") if m.tag == "text"]
    assert texts[:1] == ["step -3.50 s"] and "2 steps" in texts and "step +120.0 s (+2.0 min)" in texts
    assert _step_count(texts) == 4
    ticks = [m.text for m in x_tick_labels(marks)[0]]
    assert all(re.fullmatch(r"15:4[2-5]:\d\d", t) for t in ticks) and len(set(ticks)) == len(ticks) >= 5


def test_the_first_steps_labels_are_wide_apart_not_heaped(run4616):
    """The labels of a row take two lines in turn where the lane has room."""
    marks, _ = _spec_svg(run4616, 1400)
    steps = [m for m in of_class(marks, "label_marks") if m.tag == "text" and m.text.startswith("step ")]
    assert len({m.y for m in steps}) == 2


def test_text_width_is_liberation_sans_rounded_up():
    # Liberation Sans (vl-convert's sans-serif) at 11 px: "step -120.0 s (-2.0 min)" is 114.07 px
    assert 114 < text_width("step -120.0 s (-2.0 min)", 11) <= 118
    assert text_width("step +7.00 s", 11, bold=True) > text_width("step +7.00 s", 11)
    assert text_width("时钟", 11) >= 22
    assert text_width("e\u0301", 11) == text_width("e", 11)     # a combining accent takes no room
    assert text_width("", 11) == 1


def test_the_png_measures_labels_as_vl_convert_draws_them():
    """vl-convert ends a label longer than its limit with an ellipsis: a label exactly as
    wide as text_width says is drawn whole, one 8 px narrower is not."""
    text = "✗ Password Sync re-enabled (ruled out)"
    rows = [{"lane": "h", "li": 0, "kind": "lane"}]
    facts = {"lanes": ["h"], "bin": "1 min", "zone": "UTC", "days": "", "domain": [_T0, _T0 + 60_000]}
    spec = chart_spec(rows, facts, width=WIDTH)
    for limit, whole in ((text_width(text, 11), True), (text_width(text, 11) - 8, False)):
        spec["marks"].append({"type": "text", "name": f"probe{limit}", "encode": {"update": {
            "x": {"value": 0}, "y": {"value": 0}, "text": {"value": text}, "fontSize": {"value": 11},
            "limit": {"value": limit}}}})
    drawn = [m.text for m in svg_marks(render_chart_svg(spec)) if "probe" in m.group]
    assert drawn[0] == text and drawn[1] != text and drawn[1].endswith("…")
