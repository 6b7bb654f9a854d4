"""The clocks drawn: which hosts get a lane, the marks, and the chart as a Vega spec.

One lane per host over true time: the host's offset with its interval, its steps and
reboots, the incident band, the rate of the symptoms it logged, and the case file's
changes. The same spec is drawn in the HTML report (Vega in the browser, zoomable) and
written as the PNG (vl-convert, no browser).

Which hosts are drawn (:func:`choose_lanes`): the hosts the evidence says something
about the clock of come first: the root causes, then the hosts whose clock was changed
by a person, an agent or something unknown or was beyond the tolerance, then the hosts
the incidents involve or the case file's changes name, then the other hosts with
steps, reboots or resumes, then the hosts whose offset the evidence bounds. At most
``MAX_LANES`` of them; the hosts with no clock evidence at all are not drawn, and the
page (and the PNG) says how many and which were left out. ``all_hosts`` draws every host.

Readable on real collections whatever the zoom, in the browser and in the PNG:

* labels never overprint: each kind of label (steps, reboots, changes, offsets) has a
  row of its own in the lane (two lines, taken in turn, where the lane has room);
  labels too close to tell apart at the current zoom are collapsed into one ("5 steps")
  whose tooltip lists them, and a label is limited to the room before the next one on
  its line (Vega ends it with an ellipsis; the tooltip holds it whole). A label near the
  chart's right edge is moved left to end inside it, never cut. This is computed in the
  chart's dataflow from the visible time span and the chart's width, so it holds at
  every zoom and width. Text widths come from the page's own measure (report.js, with
  the font it draws in) or, for the PNG, Liberation Sans' metrics (vl-convert's font);
* tick labels are distinct: the tick step is chosen from the visible span (milliseconds
  to years) so that labels of the step's format fit, and the format is fine enough for
  the step (a time in seconds for second steps, a date with the time when the span
  holds more than one day, ...);
* a segment, an interval or a band however short is drawn at least ``MIN_PX`` wide, and
  steps and reboots are rules ``RULE_PX`` wide;
* the chart is as wide as its container (Vega's ``fit-x`` autosize on the container's
  width, again on every window resize); the PNG is drawn ``PNG_WIDTH`` wide.

Vega runs in the page with its CSP-safe expression interpreter, so everything here is
an expression Vega knows (no custom function), and vl-convert draws the same spec.

References: Vega documentation: "Autosize" (fit-x, contains padding), "Axes" (tickCount
as a time interval with a step), "Aggregate Transform" (argmin, values), "Window
Transform" (lag, running sum), the "Zoomable Scatter Plot" example (wheel zoom, drag pan).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..verdict import Verdict
from .common import bounded, local, offset, plural

UTC = timezone.utc
MAX_LANES = 40           # lanes drawn unless all_hosts; the tables list every host
MAX_NAMED = 100          # hosts named in the line that says which were left out
MAX_BINS = 240           # bins of the symptom rate over the whole evidence
LANE_HEIGHT = 86         # a lane's plot
HEADER_H = 20            # the host's name above its lane
LANE_GAP = 16            # between a lane and the next one's name
TOP_AXIS_LANES = 4       # more lanes than this: a time axis on top as well
TOP_PAD = 10             # room between the top axis and the first lane's name
PNG_WIDTH = 1100         # the PNG's width (CSS px; scaled)
PNG_MAX_PX = 16000       # the PNG's longer side at most (the scale shrinks for tall charts)
FALLBACK_WIDTH = 1100    # when the page gives no container width
MIN_PX = 4               # narrowest segment, interval or band drawn
RULE_PX = 2              # steps, reboots and changes are rules this wide
LABEL_SIZE = 11          # font size of the labels in a lane
LABEL_ROW_PX = 14        # between two label rows
LABEL_GAP_PX = 6         # at least this between two labels of a row
LABEL_DX_PX = 4          # a label starts this far right of its mark
LABEL_SHIFT_PX = 200     # ... or up to this far left of it, to end inside the chart
MAX_LABEL_LINES = 4      # lines of labels in a lane, at most
TICK_SIZE = 10           # font size of the time axis' labels
TICK_GAP_PX = 14         # at least this between two tick labels
_NICE_BINS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)

RED, BLUE, GREY, ORANGE, PURPLE, BLACK = "#c62828", "#1565c0", "#9e9e9e", "#ef6c00", "#6a1b9a", "#212121"
FONT = "sans-serif"

# Label rows, in the order they are stacked from the top of a lane, and the word for
# several labels of the row collapsed into a count.
ROWS = {"step": (0, "steps"), "boot": (1, "reboots"), "change": (2, "changes"), "segment": (3, "segments")}


# -- text widths ---------------------------------------------------------------------

# Advance widths of ASCII 32..126, in 1/100 em, regular and bold, measured with a canvas
# in Chromium. Liberation Sans (metric-compatible with Arial and Helvetica) is what
# vl-convert draws and measures sans-serif with, so the PNG's layout is exact; a text
# with a character Liberation Sans lacks (a dingbat, CJK) it draws and measures all in
# its fallback, DejaVu Sans. The page measures its labels itself (report.js); a font
# wider than estimated is still held to each label's room by Vega's ``limit``, never
# overprinted.
_LIBERATION = {
    False: (28, 28, 35, 56, 56, 89, 67, 19, 33, 33, 39, 58, 28, 33, 28, 28, 56, 56, 56, 56, 56, 56, 56, 56, 56,
            56, 28, 28, 58, 58, 58, 56, 102, 67, 67, 72, 72, 67, 61, 78, 72, 28, 50, 67, 56, 83, 72, 78, 67, 78,
            72, 67, 61, 72, 67, 94, 67, 67, 61, 28, 28, 28, 47, 56, 33, 56, 56, 50, 56, 56, 28, 56, 56, 22, 22,
            50, 22, 83, 56, 56, 56, 56, 33, 50, 28, 56, 50, 72, 50, 50, 50, 33, 26, 33, 58),
    True: (28, 33, 47, 56, 56, 89, 72, 24, 33, 33, 39, 58, 28, 33, 28, 28, 56, 56, 56, 56, 56, 56, 56, 56, 56,
           56, 33, 33, 58, 58, 58, 61, 98, 72, 72, 72, 72, 67, 61, 78, 72, 28, 56, 72, 61, 83, 72, 78, 67, 78,
           72, 67, 61, 72, 67, 94, 67, 67, 61, 33, 28, 33, 58, 56, 33, 56, 61, 56, 61, 56, 33, 61, 61, 28, 28,
           56, 28, 89, 61, 61, 61, 61, 39, 56, 33, 61, 56, 78, 56, 56, 50, 39, 28, 39, 58),
}
_DEJAVU = {
    False: (32, 40, 46, 84, 64, 95, 78, 27, 39, 39, 50, 84, 32, 36, 32, 34, 64, 64, 64, 64, 64, 64, 64, 64, 64,
            64, 34, 34, 84, 84, 84, 53, 100, 68, 69, 70, 77, 63, 58, 77, 75, 29, 29, 66, 56, 86, 75, 79, 60, 79,
            69, 63, 61, 73, 68, 99, 69, 61, 69, 39, 34, 39, 84, 50, 50, 61, 63, 55, 63, 62, 35, 63, 63, 28, 28,
            58, 28, 97, 63, 61, 63, 63, 41, 52, 39, 63, 59, 82, 59, 59, 52, 64, 34, 64, 84),
    True: (35, 46, 52, 84, 70, 100, 87, 31, 46, 46, 52, 84, 38, 42, 38, 37, 70, 70, 70, 70, 70, 70, 70, 70, 70,
           70, 40, 40, 84, 84, 84, 58, 100, 77, 76, 73, 83, 68, 68, 82, 84, 37, 37, 77, 64, 100, 84, 85, 73, 85,
           77, 72, 68, 81, 77, 110, 77, 72, 73, 46, 37, 46, 84, 50, 50, 67, 72, 59, 72, 68, 44, 72, 71, 34, 34,
           67, 34, 104, 71, 69, 72, 72, 49, 60, 48, 71, 65, 92, 65, 65, 58, 71, 37, 71, 84),
}


def _latin(ch: str) -> bool:
    """A character Liberation Sans draws (Latin-1, the Latin Extended blocks, general
    punctuation such as '…' and '−')."""
    o = ord(ch)
    return o < 0x250 or 0x2000 <= o < 0x2070 or o == 0x2212


def text_width(text: str, size: float, bold: bool = False) -> float:
    """``text``'s width in px at ``size`` px as vl-convert measures it (see ``_LIBERATION``),
    rounded up; a character out of ASCII counts as wide as the widest ASCII one."""
    adv = (_LIBERATION if all(_latin(ch) for ch in text) else _DEJAVU)[bold]
    em = 0
    for ch in text:
        o = ord(ch)
        if 32 <= o < 127:
            em += adv[o - 32]
        elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        else:
            em += 100 if unicodedata.east_asian_width(ch) in ("W", "F") else 90
    return math.ceil(em * size / 100 * 1.02) + 1


# -- times ----------------------------------------------------------------------------

def _wall_ms(dt: datetime | None, zone) -> float | None:
    """An instant as the case's wall clock, for a chart drawn on a UTC scale: Vega knows
    only UTC and the browser's zone, and the reader thinks in the case's."""
    if dt is None:
        return None
    wall = dt.astimezone(zone).replace(tzinfo=UTC)
    return round(wall.timestamp() * 1000, 3)


def _bin_seconds(span_s: float) -> int:
    for b in _NICE_BINS_S:
        if span_s / b <= MAX_BINS:
            return b
    return _NICE_BINS_S[-1]


def _bin_words(b: int) -> str:
    return f"{b // 3600} h" if b % 3600 == 0 else f"{b // 60} min"


# -- what the evidence says of a clock (shared with the page's tables) ----------------------

def _fin(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _step_delta(b) -> str:
    d = next((x for x in (b.delta_s, b.measured_s) if x is not None), None)
    if d is not None:
        return offset(d)
    if b.delta_max_s is not None:
        return f"at most {offset(b.delta_max_s)}"
    return "unknown"


def _change_what(c) -> str:
    """A change as rca names it in ``ruled_out``."""
    return f"change: {c.what}" + (f" on {c.host}" if c.host else "")


def _tolerance(v: Verdict) -> float:
    return min((i.tolerance_s for i in v.incidents), default=300.0)


def _skewed(v: Verdict, e) -> bool:
    lo, hi = e.interval.low, e.interval.high
    tol = _tolerance(v)
    return (math.isfinite(lo) and lo > tol) or (math.isfinite(hi) and hi < -tol)


# -- which hosts get a lane -------------------------------------------------------------

# Why a host is drawn, most telling first; NO_EVIDENCE hosts are drawn only with all_hosts.
CAUSE, FINDING, INVOLVED, CHANGED, BOUNDED, NO_EVIDENCE = range(6)
FINDING_SETTERS = ("user", "agent", "unknown")   # a step by one of these is a finding


@dataclass
class Lanes:
    """The hosts drawn, in order, and those left out, grouped by why."""
    drawn: list[str]
    left_out: list[dict] = field(default_factory=list)   # {"count", "why", "hosts", "more"}

    @property
    def left_out_count(self) -> int:
        return sum(g["count"] for g in self.left_out)

    def summary(self, names: int = MAX_NAMED) -> list[str]:
        """One sentence per group of hosts left out, naming at most ``names`` of them."""
        out = []
        for g in self.left_out:
            shown = g["hosts"][:names]
            more = g["count"] - len(shown)
            out.append(f"{plural(g['count'], 'host')} {g['why']} not drawn: {', '.join(shown)}"
                       + (f" and {more:,} more" if more else "") + ".")
        return out


def _rank(v: Verdict) -> dict[str, tuple]:
    """Every host (and the lanes of changes no host of the evidence logged) with the key
    its lane is ordered by: (why it is drawn, then within that)."""
    # The first cause of every incident, then the second of every incident, ...
    causes: dict[str, tuple[int, int]] = {}
    for k, dg in enumerate(v.diagnoses):
        for r, c in enumerate(x for x in dg.root_causes if x.kind == "clock_skew" and x.host):
            causes[c.host] = min(causes.get(c.host, (r, k)), (r, k))
    involved = {h for i in v.incidents for h in i.involved}
    changed = {c.host or "case file" for c in v.case.changes}
    key: dict[str, tuple] = {}
    for name, hc in v.model.hosts.items():
        segs = [e for e in hc.segments if e.segment.events]
        bounded_ = [e for e in segs if math.isfinite(e.interval.low) or math.isfinite(e.interval.high)]
        worst = max((abs(e.offset_s) for e in bounded_ if e.offset_s is not None), default=0.0)
        if name in causes:
            why, sub = CAUSE, causes[name]
        elif any(b.setter in FINDING_SETTERS for b in hc.steps) or any(_skewed(v, e) for e in segs):
            why, sub = FINDING, -worst
        elif name in involved or name in changed:
            why, sub = INVOLVED, -worst
        elif hc.steps or hc.boots or hc.resumes:
            why, sub = CHANGED, -worst
        elif bounded_:
            why, sub = BOUNDED, -worst
        else:
            why, sub = NO_EVIDENCE, 0.0
        key[name] = (why, sub, name)
    for name in changed:
        if name not in key:
            key[name] = (INVOLVED, 0.0, name)
    return key


def choose_lanes(v: Verdict, all_hosts: bool = False, max_lanes: int = MAX_LANES) -> Lanes:
    """The hosts to draw, in order (see the module's doc), and the ones left out."""
    key = _rank(v)
    order = sorted(key, key=lambda h: key[h])
    if all_hosts:
        return Lanes(order)
    candidates = [h for h in order if key[h][0] != NO_EVIDENCE]
    drawn = candidates[:max_lanes]
    left_out = []
    over = candidates[max_lanes:]
    if over:
        left_out.append({"count": len(over), "why": f"with clock evidence (at most {max_lanes} lanes are drawn)",
                         "hosts": sorted(over)})
    none = sorted(h for h in order if key[h][0] == NO_EVIDENCE)
    if none:
        left_out.append({"count": len(none), "why": "without clock evidence", "hosts": none})
    for g in left_out:
        g["more"] = max(0, g["count"] - MAX_NAMED)
    return Lanes(drawn, left_out)


# -- the marks ----------------------------------------------------------------------------

def chart_data(v: Verdict, all_hosts: bool = False) -> tuple[list[dict], dict]:
    """The marks of the chart (one flat list, one row per mark or label) and facts about it."""
    zone = v.case.timezone
    when = lambda t: local(t, zone)  # noqa: E731
    lanes = choose_lanes(v, all_hosts)
    index = {h: k for k, h in enumerate(lanes.drawn)}
    lo_t, hi_t = v.store.con.execute("SELECT min(true_time), max(true_time) FROM timeline").fetchall()[0]
    rows: list[dict] = []
    labels: dict[str, list[dict]] = {h: [] for h in lanes.drawn}

    def add(lane: str, kind: str, t0, t1=None, y=None, y2=None, *, tip: str = "", color: str = BLUE,
            anchor: str | None = None) -> None:
        if lane not in index or t0 is None:
            return
        rows.append({"lane": lane, "li": index[lane], "kind": kind, "x": _wall_ms(t0, zone),
                     "x2": _wall_ms(t1, zone) if t1 else None, "y": y, "y2": y2, "tip": tip, "color": color,
                     "anchor": anchor or ""})

    def label(lane: str, row: str, t0, text: str, *, t1=None, tip: str = "", tipline: str = "", color: str = BLACK,
              anchor: str | None = None, bold: bool = False, italic: bool = False, hot: bool = False) -> None:
        if lane not in index or t0 is None or not text:
            return
        many = ROWS[row][1]
        w = text_width(text, LABEL_SIZE, bold)
        labels[lane].append({"lane": lane, "li": index[lane], "kind": "label", "row": ROWS[row][0], "many": many,
                             "x": _wall_ms(t0, zone), "x2": _wall_ms(t1, zone) if t1 else None,
                             "label": text, "w": w,
                             "tip": tip or text, "tipline": tipline or text, "color": color, "anchor": anchor or "",
                             "weight": "bold" if bold else "normal", "style": "italic" if italic else "normal",
                             "hot": 1 if hot else 0})

    for lane in lanes.drawn:
        rows.append({"lane": lane, "li": index[lane], "kind": "lane"})
    # Incidents: a band across every lane.
    for n, inc in enumerate(v.incidents, 1):
        end = inc.end or hi_t or inc.last
        tip = (f"incident {n}: {plural(inc.symptoms, 'symptom')} from {when(inc.onset)} to "
               f"{when(inc.end) if inc.end else 'the end of the evidence'}\n"
               + "\n".join(f"{s} ({inc.signature_counts[s]})" for s in inc.signatures[:6]))
        for lane in lanes.drawn:
            add(lane, "incident", inc.onset, end, tip=tip, color=RED, anchor=f"incident-{n}")
    # Offsets: one bar per segment with its interval, clipped to the lane's scale.
    tol = _tolerance(v)
    causes = {c.host for dg in v.diagnoses for c in dg.root_causes if c.kind == "clock_skew"}
    for host in lanes.drawn:
        hc = v.model.hosts.get(host)
        if hc is None:
            label(host, "segment", lo_t, "no logs from this host: the case file names it", color=GREY, italic=True)
            continue
        segs = [e for e in hc.segments if e.segment.events and e.offset_s is not None and e.known_true_from is not None]
        for e in hc.segments:
            if e.segment.events and e.offset_s is None:
                text = f"offset unknown: no clock evidence ({plural(e.segment.events, 'event')})"
                label(host, "segment", e.true_from or lo_t, text, t1=e.true_to, color=GREY, italic=True,
                      anchor=f"seg-{e.segment.segment_id}",
                      tipline=f"{when(e.true_from or lo_t)}: {text}")
            elif e.segment.events:
                # the parts of a segment beyond the reach of its evidence (clock.model)
                for k, (a, b, n, known) in enumerate(e.parts()):
                    if not known:
                        text = f"offset unknown: beyond the evidence ({plural(n, 'event')})"
                        label(host, "segment", a or lo_t, text, t1=b, color=GREY, italic=True,
                              anchor=f"seg-{e.segment.segment_id}-{'before' if k == 0 else 'after'}",
                              tipline=f"{when(a or lo_t)}: {text}")
        if segs:
            ests = [e.offset_s for e in segs]
            halves = [(e.interval.high - e.interval.low) / 2 for e in segs
                      if math.isfinite(e.interval.high - e.interval.low)]
            pad = max(1.0, 0.25 * (max(ests) - min(ests)), 2 * min(halves, default=0.0))
            floor, ceil = min(ests) - pad, max(ests) + pad
            # The lane's scale: a little room around the offsets and their intervals.
            add(host, "extent", lo_t, y=floor, y2=ceil)
        for e in segs:
            lo, hi = _fin(e.interval.low), _fin(e.interval.high)
            skewed = _skewed(v, e)
            color = RED if skewed else (GREY if lo is None or hi is None else BLUE)
            anchor = f"seg-{e.segment.segment_id}"
            tip = (f"{host}: offset {bounded(e.offset_s, lo, hi)}\n"
                   f"true {when(e.known_true_from)} → {when(e.known_true_to)}\n"
                   f"logged {when(e.known_from)} → {when(e.known_to)}\n"
                   f"basis: {', '.join(e.interval.basis or ['no clock evidence'])}; {plural(e.segment.events, 'event')}"
                   + (f"\nbeyond the {tol:g} s tolerance" if skewed else ""))
            start = e.known_true_from
            end = e.known_true_to if e.known_true_to and e.known_true_to > start else start
            add(host, "interval", start, end, max(floor, lo if lo is not None else floor),
                min(ceil, hi if hi is not None else ceil), tip=tip, color=color, anchor=anchor)
            add(host, "offset", start, end, e.offset_s, tip=tip, color=color, anchor=anchor)
            if (skewed or host in causes) and abs(e.offset_s) >= 1:
                label(host, "segment", start, offset(e.offset_s), t1=end, tip=tip, color=color, anchor=anchor,
                      bold=True, hot=skewed, tipline=f"{when(start)}: offset {offset(e.offset_s)}")
        for b in hc.steps:
            e = next((s for s in hc.segments if s.segment.opened_by is b), None)
            at = e.true_from if e is not None else None
            anchor = f"step-{e.segment.segment_id}" if e is not None else None
            tip = (f"{host}: clock stepped {_step_delta(b)} ({b.source}, set by {b.setter})\nat {when(at)} (true), "
                   f"logged {when(b.before or b.after)} → {when(b.after)}")
            add(host, "step", at, tip=tip, color=BLACK, anchor=anchor)
            label(host, "step", at, f"step {_step_delta(b)}", tip=tip, color=BLACK, anchor=anchor,
                  tipline=f"{when(at)}: step {_step_delta(b)} ({b.source}, set by {b.setter})")
        for b in hc.boots:
            e = next((s for s in hc.segments if s.segment.opened_by is b), None)
            at = e.true_from if e is not None else None
            anchor = f"boot-{e.segment.segment_id}" if e is not None else None
            tip = f"{host}: rebooted at {when(at)} (true), logged {when(b.after)} ({b.source})"
            add(host, "boot", at, tip=tip, color=PURPLE, anchor=anchor)
            label(host, "boot", at, "reboot", tip=tip, color=PURPLE, anchor=anchor,
                  tipline=f"{when(at)}: reboot ({b.source})")
    # Symptom rate: binned in DuckDB, per host that logged them.
    if lo_t is not None and hi_t is not None:
        b = _bin_seconds(max(60.0, (hi_t - lo_t).total_seconds()))
        rate = v.store.con.execute(f"""
            SELECT host, time_bucket(INTERVAL '{b} seconds', true_time) AS t, count(*) AS n
            FROM symptoms WHERE role IN ('symptom', 'consequence') GROUP BY ALL ORDER BY host, t""").fetchall()
        for host, t, n in rate:
            add(host, "rate", t, t + timedelta(seconds=b), n, color=ORANGE,
                tip=f"{host}: {plural(n, 'symptom')} logged in the {_bin_words(b)} from {when(t)}")
    else:
        b = 60
    # Changes from the case file, in their host's lane, with why they were ruled out.
    ruled = {(r.at, r.what): r.reason for dg in v.diagnoses for r in dg.ruled_out if r.kind == "change"}
    for k, c in enumerate(v.case.changes):
        what = _change_what(c)
        reason = ruled.get((c.at, what))
        suspect = any(x.kind == "change" and x.at == c.at and x.what == c.what for dg in v.diagnoses
                      for x in dg.root_causes)
        status = "ruled out" if reason else ("candidate" if suspect else "not near an incident")
        color = GREY if reason else ORANGE
        tip = f"{what} at {when(c.at)}: {status}" + (f"\n{reason}" if reason else "")
        add(c.host or "case file", "change", c.at, tip=tip, color=color, anchor=f"case-{k + 1}")
        label(c.host or "case file", "change", c.at, f"{'✗ ' if reason else ''}{c.what} ({status})", tip=tip,
              color=color, anchor=f"case-{k + 1}", hot=not reason, tipline=f"{when(c.at)}: {c.what} ({status})")
    # Each lane's label rows stacked from its top, the rows it has only; a row of several
    # labels has two lines to stagger them over while the lane has room for them.
    for lane, items in labels.items():
        counts = Counter(x["row"] for x in items)
        lines = {r: 1 for r in counts}
        for r in sorted(counts):
            if counts[r] > 1 and sum(lines.values()) < MAX_LABEL_LINES:
                lines[r] = 2
        top = {}
        for r in sorted(counts):
            top[r] = 3 + LABEL_ROW_PX * sum(lines[q] for q in counts if q < r)
        for x in sorted(items, key=lambda x: (x["x"], x["row"])):
            x["mtext"] = f"{counts[x['row']]:,} {x['many']}"
            x["mw"] = text_width(x["mtext"], LABEL_SIZE)
            x["ly"], x["lines"] = top[x["row"]], lines[x["row"]]
            rows.append(x)
    xs = [r[f] for r in rows for f in ("x", "x2") if r.get(f) is not None]
    xs += [_wall_ms(t, zone) for t in (lo_t, hi_t) if t is not None]
    if xs:
        lo_ms, hi_ms = min(xs), max(xs)
    else:
        lo_ms = hi_ms = _wall_ms(datetime.now(UTC), zone)
    pad = max(1000.0, 0.015 * (hi_ms - lo_ms))
    days = sorted({t.astimezone(zone).strftime("%Y-%m-%d") for t in (lo_t, hi_t) if t is not None})
    facts = {"lanes": lanes.drawn, "left_out": lanes.left_out, "left_out_count": lanes.left_out_count,
             "summary": lanes.summary(), "bin": _bin_words(b), "zone": v.case.timezone_name,
             "days": " to ".join(days), "domain": [round(lo_ms - pad, 3), round(hi_ms + pad, 3)]}
    return rows, facts


# -- the spec -------------------------------------------------------------------------------

# Tick steps from a millisecond to a century: (Vega time unit, step, its length in ms
# (months and years at their longest), format). Formats: "hm" is %H:%M, a date at
# midnight, and the date with the time when the visible span is a day or longer.
_DAY_MS = 86_400_000
_TICKS = ([("milliseconds", s, s, "%H:%M:%S.%L") for s in (1, 2, 5, 10, 20, 50, 100, 200, 500)]
          + [("seconds", s, s * 1000, "%H:%M:%S") for s in (1, 2, 5, 10, 15, 30)]
          + [("minutes", s, s * 60_000, "hm") for s in (1, 2, 5, 10, 15, 30)]
          + [("hours", s, s * 3_600_000, "hm") for s in (1, 2, 3, 6, 12)]
          + [("day", 1, _DAY_MS, "%b %d"), ("day", 2, 2 * _DAY_MS, "%b %d"), ("week", 1, 7 * _DAY_MS, "%b %d"),
             ("week", 2, 14 * _DAY_MS, "%b %d")]
          + [("month", s, s * 31 * _DAY_MS, "%b %Y") for s in (1, 2, 3, 6)]
          + [("year", s, s * 366 * _DAY_MS, "%Y") for s in (1, 2, 5, 10, 20, 50, 100)])
# The widest label of each format (digits are of one width in Liberation Sans; "May" is
# as wide as any month's name there).
_SAMPLES = {"%H:%M:%S.%L": "00:00:00.000", "%H:%M:%S": "00:00:00", "hm": "May 00", "hm-long": "May 00 00:00",
            "%b %d": "May 00", "%b %Y": "May 0000", "%Y": "0000"}


def _tick_signals() -> list[dict]:
    """Signals choosing the time axis' step and format from the visible span: the finest
    step whose labels fit the width (each label's width plus a gap)."""
    def fits(k: int, long: bool) -> str:
        unit, step, ms, fmt = _TICKS[k]
        w = text_width(_SAMPLES["hm-long" if fmt == "hm" and long else fmt], TICK_SIZE) + TICK_GAP_PX
        return f"xspan / {ms} * {w} <= width"

    def chain(long: bool) -> str:
        expr = str(len(_TICKS) - 1)
        for k in reversed(range(len(_TICKS) - 1)):
            expr = f"({fits(k, long)} ? {k} : {expr})"
        return expr

    ticks = [{"interval": u, "step": s, "ms": ms, "fmt": f} for u, s, ms, f in _TICKS]
    return [
        {"name": "xspan", "update": "max(1, xdom[1] - xdom[0])"},
        {"name": "xlong", "update": f"xspan >= {_DAY_MS}"},
        {"name": "ticks", "value": ticks},
        {"name": "tickstep", "update": f"ticks[xlong ? {chain(True)} : {chain(False)}]"},
        {"name": "tickcount", "update": "{interval: tickstep.interval, step: tickstep.step}"},
        # Up to a day, the ticks are the step's multiples (the chart's times are wall-clock
        # times on a UTC scale, so they fall on the wall clock's round times); Vega's own
        # millisecond intervals skip ticks. Weeks, months and years: Vega's calendar.
        {"name": "tickvalues",
         "update": (f"tickstep.ms <= {_DAY_MS} ? sequence(ceil(xdom[0] / tickstep.ms) * tickstep.ms, "
                    "xdom[1] + 0.001, tickstep.ms) : null")},
    ]


_TICK_TEXT = ("tickstep.fmt === 'hm' ? (utchours(datum.value) === 0 && utcminutes(datum.value) === 0 "
              "? utcFormat(datum.value, '%b %d') : utcFormat(datum.value, xlong ? '%b %d %H:%M' : '%H:%M')) "
              ": utcFormat(datum.value, tickstep.fmt)")


def _span_x(min_px: float) -> dict:
    """x and x2 of a mark from datum.x to datum.x2, at least ``min_px`` wide (centred)."""
    a, b = "scale('x', datum.x)", "scale('x', datum.x2 == null ? datum.x : datum.x2)"
    return {"x": {"signal": f"{b} - {a} < {min_px} ? ({a} + {b}) / 2 - {min_px / 2} : {a}"},
            "x2": {"signal": f"{b} - {a} < {min_px} ? ({a} + {b}) / 2 + {min_px / 2} : {b}"}}


# A mark's aria-label: what its tooltip says, and the finding a click goes to.
_DESCRIPTION = {"signal": "datum.tip + (datum.anchor ? '; anchor: ' + datum.anchor : '')"}


def _of(kind: str) -> dict:
    return {"type": "filter", "expr": f"datum.kind === '{kind}'"}


def _marks_of(kind: str, mark: str, encode: dict, *, cursor: bool = True, interactive: bool = True) -> dict:
    enc = dict(encode)
    if interactive:
        enc.update({"tooltip": {"field": "tip"}, "description": _DESCRIPTION})
        if cursor:
            enc["cursor"] = {"value": "pointer"}
    return {"type": mark, "name": f"{kind}_marks", "from": {"data": f"lane_{kind}"}, "clip": True,
            "interactive": interactive, "encode": {"update": enc}}


def _label_transforms() -> list[dict]:
    """A lane's labels laid out at the current zoom, each row's left to right.

    A label starts LABEL_DX_PX right of its mark, moved left where needed (by up to
    LABEL_SHIFT_PX) to end before the chart's right edge, and at least to leave room
    there for ``mw``, the width of the widest count its row can show ("12 steps").
    Labels whose starts come closer than ``mw`` + LABEL_GAP_PX to the previous one's
    form a cluster, drawn as one label: the label itself when alone, its count otherwise
    ("5 steps", its tooltip listing them). Clusters take the row's lines in turn (two
    lines where the lane has room, see chart_data), and each is limited to the room
    before the next cluster on its line (Vega ends a longer text with an ellipsis; the
    tooltip holds it whole). Clusters start at least ``mw`` + gap apart, so that room
    is never less than a count needs; no two labels can overlap."""
    px = "(datum.{f} - xdom[0]) / xspan * width"
    gap, more = LABEL_GAP_PX, 15
    return [
        _of("label"),
        {"type": "formula", "as": "p0", "expr": px.format(f="x")},
        {"type": "formula", "as": "p1", "expr": f"datum.x2 == null ? datum.p0 : {px.format(f='x2')}"},
        {"type": "filter", "expr": "datum.p1 >= 0 && datum.p0 <= width"},
        {"type": "formula", "as": "xl",
         "expr": (f"max(0, min(max(0, datum.p0) + {LABEL_DX_PX}, "
                  f"width - max(datum.mw, min(datum.w, {LABEL_SHIFT_PX}))))")},
        {"type": "window", "groupby": ["row"], "sort": {"field": ["xl", "x"]}, "ops": ["lag"], "fields": ["xl"],
         "as": ["before"]},
        {"type": "formula", "as": "brk",
         "expr": f"datum.before == null || datum.xl >= datum.before + datum.mw + {gap} ? 1 : 0"},
        {"type": "window", "groupby": ["row"], "sort": {"field": ["xl", "x"]}, "ops": ["sum"], "fields": ["brk"],
         "as": ["cluster"], "frame": [None, 0]},
        {"type": "aggregate", "groupby": ["row", "ly", "lines", "cluster"],
         "ops": ["count", "min", "argmin", "max", "values"], "fields": [None, "xl", "xl", "hot", "x"],
         "as": ["n", "xl", "first", "hot", "items"]},
        {"type": "window", "groupby": ["row"], "sort": {"field": "xl"}, "ops": ["row_number", "lead", "lead"],
         "fields": [None, "xl", "xl"], "params": [None, 1, 2], "as": ["k", "next1", "next2"]},
        {"type": "formula", "as": "line", "expr": "datum.lines > 1 ? (datum.k - 1) % 2 : 0"},
        {"type": "formula", "as": "next", "expr": "datum.lines > 1 ? datum.next2 : datum.next1"},
        {"type": "formula", "as": "room", "expr": f"(datum.next == null ? width : datum.next - {gap}) - datum.xl"},
        {"type": "formula", "as": "y", "expr": f"datum.ly + datum.line * {LABEL_ROW_PX}"},
        {"type": "formula", "as": "text",
         "expr": "datum.n == 1 ? datum.first.label : format(datum.n, ',') + ' ' + datum.first.many"},
        {"type": "formula", "as": "w", "expr": "min(datum.room, datum.n == 1 ? datum.first.w : datum.first.mw)"},
        {"type": "formula", "as": "tip",
         "expr": (f"datum.n == 1 ? datum.first.tip : format(datum.n, ',') + ' ' + datum.first.many "
                  f"+ ' too close to tell apart at this zoom (wheel to zoom in):\\n' "
                  f"+ join(pluck(slice(datum.items, 0, {more}), 'tipline'), '\\n') "
                  f"+ (datum.n > {more} ? '\\n… and ' + format(datum.n - {more}, ',') + ' more' : '')")},
        {"type": "formula", "as": "anchor", "expr": "datum.first.anchor"},
        {"type": "formula", "as": "color",
         "expr": (f"datum.n == 1 ? datum.first.color : datum.row == {ROWS['segment'][0]} && datum.hot ? '{RED}' "
                  f": datum.row == {ROWS['change'][0]} && datum.hot ? '{ORANGE}' : datum.first.color")},
    ]


def _lane_group(facts: dict, step: float, top: float) -> dict:
    data = [{"name": f"lane_{k}", "source": "lane_rows", "transform": [_of(k)]}
            for k in ("incident", "rate", "interval", "offset", "step", "boot", "change", "extent")]
    data.append({"name": "lane_labels", "source": "lane_rows", "transform": _label_transforms()})
    scales = [
        {"name": "y", "type": "linear", "zero": False, "nice": True, "range": [LANE_HEIGHT, 0],
         "domain": {"data": "lane_extent", "fields": ["y", "y2"]}},
        {"name": "rate", "type": "linear", "zero": True, "nice": True,
         "range": [LANE_HEIGHT, round(LANE_HEIGHT * 0.6)], "domain": {"data": "lane_rate", "field": "y"}},
    ]
    fill_all = {"y": {"value": 0}, "y2": {"value": LANE_HEIGHT}}
    marks = [
        _marks_of("incident", "rect", {**_span_x(MIN_PX), **fill_all, "fill": {"field": "color"},
                                       "fillOpacity": {"value": 0.12}}),
        _marks_of("rate", "rect", {**_span_x(2), "y": {"scale": "rate", "field": "y"},
                                   "y2": {"scale": "rate", "value": 0}, "fill": {"field": "color"},
                                   "fillOpacity": {"value": 0.35}}, cursor=False),
        _marks_of("interval", "rect", {**_span_x(MIN_PX), "y": {"scale": "y", "field": "y"},
                                       "y2": {"scale": "y", "field": "y2"}, "fill": {"field": "color"},
                                       "fillOpacity": {"value": 0.15}}),
        _marks_of("offset", "rule", {**_span_x(MIN_PX), "y": {"scale": "y", "field": "y"},
                                     "stroke": {"field": "color"}, "strokeWidth": {"value": 3}}),
    ]
    for kind, dash in (("step", []), ("boot", [5, 3]), ("change", [2, 2])):
        marks.append(_marks_of(kind, "rule", {"x": {"scale": "x", "field": "x"}, **fill_all,
                                              "stroke": {"field": "color"}, "strokeWidth": {"value": RULE_PX},
                                              "strokeDash": {"value": dash}}))
    # A label is drawn on a pale ground, so that the lines it crosses do not hide it.
    marks.append({"type": "rect", "name": "label_ground", "from": {"data": "lane_labels"}, "interactive": False,
                  "encode": {"update": {
                      "x": {"signal": "datum.xl - 2"}, "width": {"signal": "datum.w + 3"},
                      "y": {"signal": "datum.y - 1"}, "height": {"value": LABEL_SIZE + 3},
                      "fill": {"value": "white"}, "fillOpacity": {"value": 0.8}}}})
    marks.append({"type": "text", "name": "label_marks", "from": {"data": "lane_labels"}, "interactive": True,
                  "encode": {"update": {
                      "x": {"field": "xl"}, "y": {"field": "y"}, "text": {"field": "text"},
                      "fill": {"field": "color"}, "limit": {"field": "room"}, "baseline": {"value": "top"},
                      "align": {"value": "left"}, "fontSize": {"value": LABEL_SIZE}, "font": {"value": FONT},
                      "fontWeight": {"signal": "datum.n == 1 ? datum.first.weight : 'normal'"},
                      "fontStyle": {"signal": "datum.n == 1 ? datum.first.style : 'normal'"},
                      "tooltip": {"field": "tip"}, "description": _DESCRIPTION, "cursor": {"value": "pointer"}}}})
    # The lane's axes, only where the lane has offsets / symptoms to read them by.
    clock_axis = {"orient": "left", "scale": "y", "title": "offset (s)", "tickCount": 4, "format": ",~f",
                  "grid": False, "labelOverlap": True, "labelFontSize": 10, "titleFontSize": 11,
                  "labelFont": FONT, "titleFont": FONT, "zindex": 1}
    rate_axis = {"orient": "right", "scale": "rate", "title": f"per {facts['bin']}",
                 "values": {"signal": "domain('rate')"}, "format": ",~d", "grid": False, "labelOverlap": True,
                 "labelFontSize": 10, "titleFontSize": 10,
                 "labelColor": ORANGE, "titleColor": ORANGE, "tickColor": ORANGE, "domainColor": ORANGE,
                 "labelFont": FONT, "titleFont": FONT}
    inner = {"width": {"field": {"group": "width"}}, "height": {"field": {"group": "height"}}}
    marks += [
        {"type": "group", "from": {"data": "lane_extent"}, "encode": {"update": inner}, "axes": [clock_axis]},
        {"type": "group", "from": {"data": "lane_rate_axis"}, "encode": {"update": inner}, "axes": [rate_axis]},
        {"type": "text", "name": "lane_title", "interactive": False, "encode": {"update": {
            "x": {"value": 0}, "y": {"value": -6}, "text": {"signal": "parent.lane"}, "baseline": {"value": "bottom"},
            "align": {"value": "left"}, "fontSize": {"value": 12}, "fontWeight": {"value": "bold"},
            "font": {"value": FONT}, "fill": {"value": BLACK}, "limit": {"signal": "width"}}}},
    ]
    data.append({"name": "lane_rate_axis", "source": "lane_rate",
                 "transform": [{"type": "aggregate", "ops": ["count"], "as": ["n"]},
                               {"type": "filter", "expr": "datum.n > 0"}]})
    return {
        "type": "group", "name": "lane",
        "from": {"facet": {"name": "lane_rows", "data": "rows", "groupby": ["li", "lane"]}},
        "encode": {"update": {"x": {"value": 0}, "y": {"signal": f"{top} + datum.li * {step} + {HEADER_H}"},
                              "width": {"signal": "width"}, "height": {"value": LANE_HEIGHT},
                              "stroke": {"value": "#bdbdbd"}, "fill": {"value": "transparent"},
                              "clip": {"value": False}}},
        "data": data, "scales": scales, "marks": marks,
    }


def chart_height(lanes: int) -> int:
    """The height of the lanes (without the time axis under them)."""
    top = TOP_PAD if lanes > TOP_AXIS_LANES else 0
    return top + lanes * (HEADER_H + LANE_HEIGHT + LANE_GAP) - LANE_GAP


def chart_spec(rows: list[dict], facts: dict, *, width: int | None = None, footer: list[str] | None = None) -> dict:
    """The chart as a Vega specification: one lane per drawn host over a shared time axis.
    (No ``$schema``: the page and the PNG run whichever Vega vl-convert bundles, 5 or 6.)

    ``width``: a fixed width in px (the PNG); by default the width of the page's container.
    ``footer``: lines written under the axis (the PNG says there what it left out)."""
    n = len(facts["lanes"])
    step = HEADER_H + LANE_HEIGHT + LANE_GAP
    top_axis = n > TOP_AXIS_LANES
    top = TOP_PAD if top_axis else 0
    height = chart_height(n)
    size = (str(width) if width else f"isFinite(containerSize()[0]) ? containerSize()[0] : {FALLBACK_WIDTH}")
    x_title = (f"true time, {facts['days']} ({facts['zone']})" if facts["days"] else f"true time ({facts['zone']})")
    # Labels that would still touch are hidden one by one (greedy), and so is one that
    # would reach past the chart's end (labelBound): never overprinted, never cut.
    axis = {"scale": "x", "grid": False, "tickCount": {"signal": "tickcount"}, "values": {"signal": "tickvalues"},
            "labelOverlap": "greedy", "labelBound": True, "labelFontSize": TICK_SIZE, "labelFont": FONT,
            "titleFont": FONT, "encode": {"labels": {"update": {"text": {"signal": _TICK_TEXT}}}}}
    axes = [{**axis, "orient": "bottom", "title": x_title, "titleFontSize": 11, "zindex": 1}]
    if top_axis:
        axes.append({**axis, "orient": "top"})
    zoom_ok = "span({d}) >= 10 && span({d}) <= 1e13"   # 10 ms .. 300 years
    zoomed = "[anchor + (xdom[0] - anchor) * zoom, anchor + (xdom[1] - anchor) * zoom]"
    panned = "[xcur[0] + span(xcur) * delta / width, xcur[1] + span(xcur) * delta / width]"
    signals = [
        {"name": "width", "init": size,
         **({} if width else {"on": [{"events": "window:resize", "update": size}]})},
        {"name": "height", "value": height},
        {"name": "xext", "value": facts["domain"]},
        {"name": "down", "value": None, "on": [{"events": "mousedown", "update": "x()"},
                                               {"events": "window:mouseup", "update": "null"}]},
        {"name": "xcur", "value": None, "on": [{"events": "mousedown", "update": "slice(xdom)"}]},
        {"name": "delta", "value": 0, "on": [{
            "events": [{"source": "window", "type": "mousemove", "consume": True,
                        "between": [{"type": "mousedown"}, {"source": "window", "type": "mouseup"}]}],
            "update": "down != null ? down - x() : 0"}]},
        {"name": "anchor", "value": 0, "on": [{"events": "wheel", "update": "time(invert('x', x()))"}]},
        {"name": "zoom", "value": 1, "on": [{"events": "wheel!", "force": True,
                                             "update": "pow(1.001, event.deltaY * pow(16, event.deltaMode))"}]},
        {"name": "xdom", "update": "slice(xext)", "on": [
            {"events": {"signal": "delta"}, "update": f"xcur != null ? {panned} : xdom"},
            {"events": {"signal": "zoom"},
             "update": f"{zoom_ok.format(d=zoomed)} ? {zoomed} : xdom"},
            {"events": "dblclick", "update": "slice(xext)"}]},
        *_tick_signals(),
    ]
    marks: list[dict] = [_lane_group(facts, step, top)]
    if footer:
        marks.append({"type": "text", "name": "footer", "interactive": False, "encode": {"update": {
            "x": {"value": 0}, "y": {"value": height + 46}, "text": {"value": footer}, "baseline": {"value": "top"},
            "align": {"value": "left"}, "fontSize": {"value": 12}, "font": {"value": FONT}, "lineHeight": {"value": 16},
            "fill": {"value": "#424242"}, "limit": {"signal": "width"}}}})
    return {
        "description": "Each host's clock offset over true time, with steps, reboots, incidents, symptom rates "
                       "and changes",
        "autosize": {"type": "fit-x", "contains": "padding"},
        "padding": {"left": 5, "right": 5, "top": 5, "bottom": 5},
        "background": "white",
        "signals": signals,
        "data": [{"name": "rows", "values": rows}],
        "scales": [{"name": "x", "type": "utc", "domain": {"signal": "xdom"}, "range": [0, {"signal": "width"}]}],
        "axes": axes,
        "marks": marks,
    }


def _wrap(text: str, width_px: float, size: float) -> list[str]:
    lines, cur = [], ""
    for word in text.split(" "):
        trial = f"{cur} {word}" if cur else word
        if cur and text_width(trial, size) > width_px:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def png_footer(facts: dict, width: int = PNG_WIDTH) -> list[str]:
    """What the PNG left out, wrapped to its width: the PNG goes into tickets without the page."""
    lines: list[str] = []
    for s in facts["summary"]:
        lines += _wrap(s, width - 40, 12)
    if facts["left_out"]:
        lines.append("skewsleuth investigate --all-hosts draws every host.")
    return lines


def vega_spec(v: Verdict, all_hosts: bool = False, *, width: int | None = None,
              footer: bool = False) -> tuple[dict, dict]:
    """The chart of a verdict as a Vega spec, and the facts about it (lanes drawn and left out, ...)."""
    rows, facts = chart_data(v, all_hosts)
    return chart_spec(rows, facts, width=width, footer=png_footer(facts, width or PNG_WIDTH) if footer else None), facts


def write_png(v: Verdict, path: str | Path, scale: float = 2.0, all_hosts: bool = False) -> dict:
    """The chart alone as a PNG, for a ticket, saying under it which hosts it left out.
    Returns the chart's facts."""
    import vl_convert as vlc

    spec, facts = vega_spec(v, all_hosts, width=PNG_WIDTH, footer=True)
    tall = chart_height(len(facts["lanes"])) + 60 + 16 * len(png_footer(facts))
    scale = max(0.5, min(scale, PNG_MAX_PX / max(PNG_WIDTH, tall)))
    Path(path).write_bytes(vlc.vega_to_png(spec, scale=scale))
    return facts


def render_chart_svg(spec: dict) -> str:
    """The spec drawn as SVG by vl-convert (no browser): for tests and for looking at it."""
    import vl_convert as vlc

    return vlc.vega_to_svg(spec)


__all__ = ["MAX_LANES", "Lanes", "choose_lanes", "chart_data", "chart_spec", "vega_spec", "write_png", "text_width",
           "png_footer", "render_chart_svg"]
