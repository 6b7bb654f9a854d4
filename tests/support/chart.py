"""The chart as vl-convert draws it (the PNG's renderer, no browser): its SVG read back
into marks with absolute positions, for the unit tier's checks of the layout."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)")


@dataclass
class Mark:
    tag: str            # text | line | path
    group: str          # the class of the <g> that holds it (e.g. "mark-text role-mark label_marks")
    axis: str           # aria-label of the axis it belongs to ("" if none)
    x: float            # absolute position of its origin
    y: float
    text: str = ""
    attrs: dict | None = None
    element: ET.Element | None = None

    @property
    def visible(self) -> bool:
        return (self.attrs or {}).get("opacity", "1") not in ("0", "0.0")


def _shift(el: ET.Element) -> tuple[float, float]:
    m = _TRANSLATE.match((el.get("transform") or "").strip())
    return (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)


def svg_marks(svg: str) -> list[Mark]:
    """Every text, line and path of the SVG with its absolute origin (translations only:
    Vega positions its groups and items by translate)."""
    root = ET.fromstring(svg)
    out: list[Mark] = []

    def walk(el: ET.Element, x: float, y: float, group: str, axis: str) -> None:
        dx, dy = _shift(el)
        x, y = x + dx, y + dy
        tag = el.tag.replace(SVG, "")
        if tag == "g":
            group = el.get("class") or group
            if el.get("aria-roledescription") == "axis":
                axis = el.get("aria-label") or ""
        if tag in ("text", "line", "path"):
            out.append(Mark(tag, group, axis, x, y, "".join(el.itertext()) if tag == "text" else "", dict(el.attrib),
                            el))
        for child in el:
            walk(child, x, y, group, axis)

    walk(root, 0.0, 0.0, "", "")
    return out


def x_tick_labels(marks: list[Mark]) -> list[list[Mark]]:
    """The visible labels of each time axis (top and bottom), left to right."""
    axes: dict[str, list[Mark]] = {}
    for m in marks:
        if m.tag == "text" and "role-axis-label" in m.group and m.axis.startswith("X-axis") and m.visible:
            axes.setdefault(f"{m.axis}@{round(m.y)}", []).append(m)
    return [sorted(v, key=lambda m: m.x) for v in axes.values()]


def of_class(marks: list[Mark], name: str) -> list[Mark]:
    return [m for m in marks if name in m.group.split()]
