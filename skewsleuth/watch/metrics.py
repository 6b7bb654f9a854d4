"""Prometheus metrics of the watched clocks, served over HTTP for a Prometheus to scrape.

Names follow the Prometheus naming practices (https://prometheus.io/docs/practices/naming/):
an application prefix (``skewsleuth_``), base units (seconds) named in the suffix,
``_total`` for counters, ``_timestamp_seconds`` for Unix times. Served in the text
exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/) by
prometheus-client, from a registry of our own holding one custom collector, so that
several watches (and tests) can run in one process and nothing else leaks in.

Per target (labels ``target``, ``host``, ``protocol``):

- ``skewsleuth_clock_offset_seconds``                 the target's clock − the watching host's,
                                                      positive when the target is ahead (the
                                                      opposite sign of chrony_exporter's
                                                      ``chrony_tracking_system_time_seconds``)
- ``skewsleuth_clock_offset_uncertainty_seconds``     half-width of the sure interval
- ``skewsleuth_probe_rtt_seconds``                    round trip of the kept reading
- ``skewsleuth_clock_tolerance_seconds``              the limit the target is held to
- ``skewsleuth_probe_up``                              1 when the last probe measured it
- ``skewsleuth_probe_last_success_timestamp_seconds`` when it was last measured

The first three are present only while the last probe succeeded, as the blackbox
exporter does: a stale offset must not pass for a current one (``up`` is 0 then, and
``last_success_timestamp`` says how old the last good reading is).

Watch-wide: ``skewsleuth_build_info{version, python}`` (always 1, as the Prometheus
convention for build information has it), ``skewsleuth_alerts_total{kind}`` (alerts fired, per kind),
``skewsleuth_watch_rounds_total``, ``skewsleuth_watch_round_duration_seconds``,
``skewsleuth_watch_last_round_timestamp_seconds``.
"""

from __future__ import annotations

import importlib.metadata
import platform
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..probe import Measurement
from .alerts import KINDS, Alert

LABELS = ("target", "host", "protocol")



def _version() -> str:
    # the package's own __init__ is a later stage (tests/unit/test_layout.py): ask the
    # installed distribution
    try:
        return importlib.metadata.version("skewsleuth")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"

HELP = {
    "skewsleuth_clock_offset_seconds": ("The target's clock minus the watching host's at the probe; positive when the "
                                        "target is ahead (opposite sign to chrony_tracking_system_time_seconds)."),
    "skewsleuth_clock_offset_uncertainty_seconds": "Half-width of the interval that surely holds the offset (half the round trip and more).",
    "skewsleuth_probe_rtt_seconds": "Round trip time of the reading the offset was taken from.",
    "skewsleuth_clock_tolerance_seconds": "Offset the target is held to (its roles' tolerance, else --max-offset).",
    "skewsleuth_probe_up": "1 if the last probe of the target measured its clock, 0 if not.",
    "skewsleuth_probe_last_success_timestamp_seconds": "Unix time of the last probe that measured the target's clock.",
    "skewsleuth_alerts_total": "Alerts fired, by kind (tolerance, near_tolerance, jump, unreachable).",
    "skewsleuth_build_info": "Always 1: the skewsleuth version that exports these metrics, and its Python.",
    "skewsleuth_watch_rounds_total": "Probe rounds completed.",
    "skewsleuth_watch_round_duration_seconds": "Duration of the last probe round.",
    "skewsleuth_watch_last_round_timestamp_seconds": "Unix time at which the last probe round ended.",
}


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class _Seen:
    last: Measurement
    limit: float
    last_success: float | None


class WatchCollector(Collector):
    """The latest state of every target, exposed on each scrape. ``update`` is called by
    the probe loop, ``collect`` by the HTTP server's thread: a lock keeps them apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[str, _Seen] = {}
        self._alerts = {k: 0 for k in KINDS}
        self._rounds = 0
        self._round_duration: float | None = None
        self._round_end: float | None = None

    def update(self, measurements: Iterable[Measurement], limits: Iterable[float], alerts: Iterable[Alert],
               *, duration_s: float, ended_at: float) -> None:
        with self._lock:
            for m, limit in zip(measurements, limits):
                prev = self._targets.get(m.target)
                success = _unix(m.measured_at) if m.ok and m.measured_at else (prev.last_success if prev else None)
                self._targets[m.target] = _Seen(m, limit, success)
            for a in alerts:
                if a.status == "firing":
                    self._alerts[a.kind] += 1
            self._rounds += 1
            self._round_duration = duration_s
            self._round_end = ended_at

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            seen = sorted(self._targets.values(), key=lambda s: (s.last.host, s.last.target))
            alerts, rounds = dict(self._alerts), self._rounds
            duration, ended = self._round_duration, self._round_end

        def gauge(name: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, HELP[name], labels=LABELS)

        offset, unc, rtt = (gauge("skewsleuth_clock_offset_seconds"),
                            gauge("skewsleuth_clock_offset_uncertainty_seconds"), gauge("skewsleuth_probe_rtt_seconds"))
        tol, up, success = (gauge("skewsleuth_clock_tolerance_seconds"), gauge("skewsleuth_probe_up"),
                            gauge("skewsleuth_probe_last_success_timestamp_seconds"))
        for s in seen:
            m = s.last
            labels = [m.target, m.host, m.protocol]
            if m.ok and m.offset_s is not None:
                offset.add_metric(labels, m.offset_s)
                unc.add_metric(labels, m.uncertainty_s or 0.0)
                rtt.add_metric(labels, m.rtt_s or 0.0)
            tol.add_metric(labels, s.limit)
            up.add_metric(labels, 1.0 if m.ok else 0.0)
            if s.last_success is not None:
                success.add_metric(labels, s.last_success)
        yield from (offset, unc, rtt, tol, up, success)
        info = GaugeMetricFamily("skewsleuth_build_info", HELP["skewsleuth_build_info"], labels=("version", "python"))
        info.add_metric([_version(), platform.python_version()], 1.0)
        yield info
        total = CounterMetricFamily("skewsleuth_alerts", HELP["skewsleuth_alerts_total"], labels=("kind",))
        for kind, n in alerts.items():
            total.add_metric([kind], n)
        yield total
        yield CounterMetricFamily("skewsleuth_watch_rounds", HELP["skewsleuth_watch_rounds_total"], value=rounds)
        if duration is not None and ended is not None:
            yield GaugeMetricFamily("skewsleuth_watch_round_duration_seconds",
                                    HELP["skewsleuth_watch_round_duration_seconds"], value=duration)
            yield GaugeMetricFamily("skewsleuth_watch_last_round_timestamp_seconds",
                                    HELP["skewsleuth_watch_last_round_timestamp_seconds"], value=ended)


class MetricsServer:
    """``/metrics`` on ``host:port`` from a registry holding only ``collector``."""

    def __init__(self, collector: WatchCollector, host: str, port: int):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.host, self.port = host, port
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve from a thread (OSError when the address cannot be bound)."""
        self._server, self._thread = start_http_server(self.port, self.host, registry=self.registry)
        self.port = self._server.server_address[1]    # the real one when 0 was asked for

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
