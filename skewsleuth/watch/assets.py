"""The files shipped for the tools that watch feeds: Prometheus's alerting and recording
rules, Grafana's dashboard. ``skewsleuth watch --print NAME`` writes one to stdout."""

from __future__ import annotations

from importlib import resources

ASSETS = {"prometheus-rules": "prometheus-rules.yml", "grafana-dashboard": "grafana-dashboard.json"}


def asset_text(name: str) -> str:
    """The text of the shipped file ``name`` (a key of :data:`ASSETS`)."""
    return resources.files(__package__).joinpath("assets", ASSETS[name]).read_text(encoding="utf-8")
