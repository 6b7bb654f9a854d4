"""The Grafana dashboard shipped with watch: what Grafana's Foundation SDK builds
(scripts/build_grafana_dashboard.py), readable back into the SDK's typed model, and
querying only series watch exports (the queries run against a real Prometheus in
tests/integration/test_watch_service.py)."""

from __future__ import annotations

import importlib.util
import json
import re

from grafana_foundation_sdk.models import dashboard as model

from conftest import ROOT
from skewsleuth.watch.assets import asset_text
from skewsleuth.watch.metrics import HELP

BUILDER = ROOT / "scripts" / "build_grafana_dashboard.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_grafana_dashboard", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exprs(doc: dict) -> list[str]:
    return [t["expr"] for p in doc["panels"] for t in p.get("targets") or []]


def test_shipped_dashboard_is_what_the_sdk_builds_and_reads_back():
    shipped = asset_text("grafana-dashboard")
    assert shipped == _builder().render(), "run: python scripts/build_grafana_dashboard.py"
    doc = json.loads(shipped)
    back = model.Dashboard.from_json(doc)
    assert back.uid == "skewsleuth-clocks" and len(back.panels) == len(doc["panels"])
    assert [v["name"] for v in doc["templating"]["list"]] == ["datasource", "host"]


def test_dashboard_queries_only_what_watch_exports():
    doc = json.loads(asset_text("grafana-dashboard"))
    exported = {n for n in HELP}
    names = {n for e in exprs(doc) for n in re.findall(r"\b(skewsleuth_[a-z_]+)\b", e)}
    assert names and names <= exported, names - exported
    assert any("skewsleuth_clock_tolerance_seconds" in e for e in exprs(doc))    # the tolerance bands
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
               for p in doc["panels"] if p.get("targets"))
    assert any('ALERTS{alertstate="firing"' in e for e in exprs(doc))
    titles = [p["title"] for p in doc["panels"]]
    assert len(titles) == len(set(titles))
