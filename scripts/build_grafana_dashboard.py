"""Build the Grafana dashboard shipped with skewsleuth watch, with Grafana's own
Foundation SDK (its typed builders for dashboards, panels and Prometheus queries).

    python scripts/build_grafana_dashboard.py          # rewrites the shipped JSON
    python scripts/build_grafana_dashboard.py --check  # exit 1 if it differs

The JSON is package data (``skewsleuth watch --print grafana-dashboard``), so users need
no SDK; tests/integration/test_grafana_dashboard.py checks it is what this builds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import (Dashboard, DatasourceVariable, QueryVariable, Row,
                                                       ThresholdsConfig)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LineStyle, TimeZoneBrowser
from grafana_foundation_sdk.models.dashboard import (DataSourceRef, DynamicConfigValue, GridPos, Threshold,
                                                     ThresholdsMode)

OUT = Path(__file__).resolve().parent.parent / "skewsleuth" / "watch" / "assets" / "grafana-dashboard.json"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
HOSTS = 'host=~"$host"'


def query(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False) -> Dataquery:
    q = Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant().format("table")
    return q


def _band() -> list[DynamicConfigValue]:
    """The tolerance drawn as a dashed red line."""
    return [DynamicConfigValue(id_val="custom.lineStyle", value=LineStyle(fill="dash", dash=[10, 10])),
            DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"}),
            DynamicConfigValue(id_val="custom.fillOpacity", value=0)]


def build() -> Dashboard:
    offsets = (
        Timeseries().title("Clock offset per host").datasource(DS)
        .description("The target's clock minus the watching host's (positive: ahead), with each host's tolerance "
                     "(dashed): beyond it, Kerberos, TLS, SAML and SIP fail.")
        .unit("s").grid_pos(GridPos(h=10, w=24, x=0, y=1))
        .with_target(query(f"skewsleuth_clock_offset_seconds{{{HOSTS}}}", "{{host}} ({{protocol}})"))
        .with_target(query(f"skewsleuth_clock_tolerance_seconds{{{HOSTS}}}", "+tolerance {{host}}", "B"))
        .with_target(query(f"-skewsleuth_clock_tolerance_seconds{{{HOSTS}}}", "-tolerance {{host}}", "C"))
        .override_by_query("B", _band())
        .override_by_query("C", _band())
    )
    beyond = (
        Stat().title("Hosts beyond tolerance").datasource(DS).grid_pos(GridPos(h=5, w=6, x=0, y=12))
        .with_target(query("count(abs(skewsleuth_clock_offset_seconds) - skewsleuth_clock_offset_uncertainty_seconds"
                           " > skewsleuth_clock_tolerance_seconds) or vector(0)"))
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
            [Threshold(value=None, color="green"), Threshold(value=1, color="red")]))
    )
    unreachable_count = (
        Stat().title("Targets not measured").datasource(DS).grid_pos(GridPos(h=5, w=6, x=6, y=12))
        .with_target(query("count(skewsleuth_probe_up == 0) or vector(0)"))
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
            [Threshold(value=None, color="green"), Threshold(value=1, color="orange")]))
    )
    round_age = (
        Stat().title("Since the last probe round").datasource(DS).unit("s").grid_pos(GridPos(h=5, w=6, x=12, y=12))
        .with_target(query("time() - max(skewsleuth_watch_last_round_timestamp_seconds)"))
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
            [Threshold(value=None, color="green"), Threshold(value=300, color="red")]))
    )
    alerts_fired = (
        Stat().title("Alerts fired (watch)").datasource(DS).grid_pos(GridPos(h=5, w=6, x=18, y=12))
        .with_target(query("sum by (kind) (increase(skewsleuth_alerts_total[$__range]))", "{{kind}}"))
    )
    firing = (
        Table().title("Alerts firing").datasource(DS).grid_pos(GridPos(h=8, w=12, x=0, y=18))
        .description("Prometheus's ALERTS series for the rules shipped with skewsleuth "
                     "(skewsleuth watch --print prometheus-rules).")
        .with_target(query('ALERTS{alertstate="firing", alertname=~"Clock.*|Skewsleuth.*"}', instant=True))
    )
    unreachable = (
        Table().title("Unreachable targets").datasource(DS).grid_pos(GridPos(h=8, w=12, x=12, y=18))
        .with_target(query(f"skewsleuth_probe_up{{{HOSTS}}} == 0", instant=True))
    )
    return (
        Dashboard("skewsleuth: clocks").uid("skewsleuth-clocks").tags(["skewsleuth", "time", "ntp"])
        .description("Clock offsets skewsleuth watch measures, the tolerance each host is held to, and its alerts.")
        .refresh("1m").time("now-6h", "now").timezone(TimeZoneBrowser).editable()
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(QueryVariable("host").label("Host").datasource(DS)
                       .query("label_values(skewsleuth_clock_offset_seconds, host)")
                       .multi(True).include_all(True).all_value(".*"))
        .with_row(Row("Offsets").grid_pos(GridPos(h=1, w=24, x=0, y=0)))
        .with_panel(offsets)
        .with_row(Row("Now").grid_pos(GridPos(h=1, w=24, x=0, y=11)))
        .with_panel(beyond).with_panel(unreachable_count).with_panel(round_age).with_panel(alerts_fired)
        .with_row(Row("Alerts").grid_pos(GridPos(h=1, w=24, x=0, y=17)))
        .with_panel(firing).with_panel(unreachable)
    )


def render() -> str:
    return json.dumps(json.loads(JSONEncoder(sort_keys=True, indent=2).encode(build().build())), indent=2,
                      sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        return 0 if OUT.read_text() == text else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
