"""The watch loop: probe every target each round, keep the history, expose the metrics,
raise the alerts; until SIGINT or SIGTERM (exit 0), or for one round (``once``).

A round is ``probe.measure`` over all targets (a target that cannot be measured is a
row with ``ok=False``, never an error of the loop) -> ``Alerter.evaluate`` -> the
history (appended from a worker thread; a failed append is logged and retried with the
next round) -> the metrics -> the alert sinks (log now, webhooks queued). Rounds start
``interval_s`` apart, each pause spread by ±``jitter`` of it so that several watchers
started together (or a fleet of them behind one NTP server) do not probe in lockstep.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

from ..errors import HistoryError, WatchError
from ..probe import Measurement, Target, measure
from .alertmanager import Alertmanager
from .alerts import Alert, Alerter, AlertRules, Webhooks, log_alert, log_line
from .history import History, resume_state
from .metrics import MetricsServer, WatchCollector

DEFAULT_INTERVAL = 60.0
DEFAULT_LISTEN = "127.0.0.1:9393"
DEFAULT_DB = "skewsleuth-watch.duckdb"
# Rows kept in memory while the history cannot be written, before the oldest go.
MAX_PENDING_ROWS = 1_000_000


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (``:port`` is 127.0.0.1): the metrics address."""
    raw = text.strip()
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise WatchError(f"--listen {text!r}: give host:port, e.g. {DEFAULT_LISTEN}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


@dataclass(frozen=True)
class WatchOptions:
    interval_s: float = DEFAULT_INTERVAL
    jitter: float = 0.1                  # each pause is interval × (1 ± jitter)
    timeout: float = 5.0                 # per target, as in probe
    concurrency: int = 256
    samples: int = 4
    insecure: bool = False
    rules: AlertRules = field(default_factory=AlertRules)
    webhooks: tuple[str, ...] = ()
    alertmanagers: tuple[str, ...] = ()   # base URLs: alerts go to <URL>/api/v2/alerts
    webhook_timeout: float = 5.0
    webhook_retries: int = 2

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and 0 <= self.jitter < 1 and self.timeout > 0 and self.concurrency >= 1
                and self.samples >= 1 and self.webhook_timeout > 0 and self.webhook_retries >= 0):
            raise ValueError("interval and timeouts must be > 0, jitter in [0, 1), concurrency and samples >= 1")
        for what, urls in (("webhook", self.webhooks), ("alertmanager", self.alertmanagers)):
            for url in urls:
                # urllib would also open file:// and ftp:// URLs: only HTTP(S) is a receiver.
                if not url.lower().startswith(("http://", "https://")):
                    raise ValueError(f"{what} {url!r}: give an http:// or https:// URL")


@dataclass
class RoundResult:
    number: int
    measurements: list[Measurement]
    alerts: list[Alert]
    duration_s: float


class Watch:
    """One watch over ``targets``: its alert state, history, metrics and webhooks."""

    def __init__(self, targets: Sequence[Target], db: str | Path, *, options: WatchOptions | None = None,
                 listen: tuple[str, int] | None = None, stream: TextIO | None = None):
        self.targets = list(targets)
        self.options = options or WatchOptions()
        self.history = History(db)
        self.alerter = Alerter(self.options.rules)
        self.collector = WatchCollector()
        self.server = MetricsServer(self.collector, *listen) if listen else None
        self.stream = stream
        self.rounds = 0
        self._pending_m: list[Measurement] = []
        self._pending_a: list[Alert] = []
        self.webhooks: Webhooks | None = None
        self.alertmanager: Alertmanager | None = None

    def start(self) -> None:
        """Open the history and bind the metrics address (WatchError if either fails)."""
        try:
            self.history.create()
            # A watch killed mid-run (even by SIGKILL) lost no completed round: each is
            # committed before it is logged. Go on from the state it left.
            state = resume_state(self.history.path)
        except HistoryError as exc:
            raise WatchError(str(exc)) from None
        watched = {t.url for t in self.targets}
        self.alerter.resume({k: v for k, v in state.last_good.items() if k in watched},
                            {k: v for k, v in state.failures.items() if k in watched},
                            {k: v for k, v in state.firing.items() if k in watched})
        if self.server is not None:
            try:
                self.server.start()
            except OSError as exc:
                raise WatchError(f"cannot listen on {self.server.host}:{self.server.port}: "
                                 f"{exc.strerror or exc}") from None

    async def round(self) -> RoundResult:
        o = self.options
        began = time.monotonic()
        ms = await measure(self.targets, timeout=o.timeout, concurrency=o.concurrency, samples=o.samples,
                           insecure=o.insecure)
        alerts = self.alerter.evaluate(ms)
        self.rounds += 1
        await self._keep(ms, alerts)
        duration = time.monotonic() - began
        self.collector.update(ms, [o.rules.limit(m) for m in ms], alerts, duration_s=duration, ended_at=time.time())
        for m in ms:
            if not m.ok and self.alerter.states[m.target].failures == 1:   # the first of a streak
                log_line("warning", "probe failed", self.stream, event="probe", target=m.target, host=m.host,
                         protocol=m.protocol, error=m.error)
        for a in alerts:
            log_alert(a, self.stream)
        if self.webhooks is not None:
            self.webhooks.send(alerts)
        if self.alertmanager is not None:
            self.alertmanager.send_round(alerts, self.alerter.firing())
        bad = sum(1 for m in ms if not m.ok)
        beyond = sum(1 for m in ms if m.ok and abs(m.offset_s or 0.0) > o.rules.limit(m))
        log_line("info", "round", self.stream, event="round", round=self.rounds, targets=len(ms), ok=len(ms) - bad,
                 failed=bad, beyond=beyond, alerts=len(alerts), duration_s=round(duration, 3))
        return RoundResult(self.rounds, ms, alerts, duration)

    async def _keep(self, ms: list[Measurement], alerts: list[Alert]) -> None:
        self._pending_m.extend(ms)
        self._pending_a.extend(alerts)
        try:
            await asyncio.to_thread(self.history.append, self._pending_m, self._pending_a)
        except HistoryError as exc:
            log_line("error", "history not written; kept for the next round", self.stream, event="history",
                     error=str(exc), pending=len(self._pending_m))
            del self._pending_m[:-MAX_PENDING_ROWS]
            return
        self._pending_m, self._pending_a = [], []

    def exit_status(self, ms: Sequence[Measurement]) -> int:
        """probe's contract: 2 some not measured, 1 some beyond their limit, else 0."""
        if not all(m.ok for m in ms):
            return 2
        return 1 if any(abs(m.offset_s or 0.0) > self.options.rules.limit(m) for m in ms) else 0

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> int:
        """Rounds until ``stop`` is set (0), or one round (probe's exit statuses)."""
        stop = stop or asyncio.Event()
        self.start()
        o = self.options
        self.webhooks = Webhooks(o.webhooks, timeout=o.webhook_timeout, retries=o.webhook_retries,
                                 external_url=self.server.url if self.server else "", stream=self.stream)
        self.webhooks.start()
        self.alertmanager = Alertmanager(o.alertmanagers, interval_s=o.interval_s, timeout=o.webhook_timeout,
                                         retries=o.webhook_retries, stream=self.stream,
                                         external_url=self.server.url if self.server else "")
        self.alertmanager.start()
        log_line("info", "watch started", self.stream, event="start", targets=len(self.targets),
                 interval_s=o.interval_s, db=str(self.history.path), metrics=self.server.url if self.server else None,
                 webhooks=len(o.webhooks), alertmanagers=len(o.alertmanagers))
        status = 0
        try:
            while not stop.is_set():
                began = time.monotonic()
                task = asyncio.create_task(self.round())
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not task.done():          # stopped mid-round: that round is abandoned
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    break
                result = task.result()
                if once:
                    status = self.exit_status(result.measurements)
                    break
                pause = o.interval_s * (1 + random.uniform(-o.jitter, o.jitter)) - (time.monotonic() - began)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=max(pause, 0.0))
                except TimeoutError:
                    pass
        finally:
            await self.webhooks.close(wait=o.webhook_timeout)
            await self.alertmanager.close(wait=o.webhook_timeout)
            if self.server is not None:
                self.server.stop()
            log_line("info", "watch stopped", self.stream, event="stop", rounds=self.rounds)
        return status


def run_watch(targets: Sequence[Target], db: str | Path, *, options: WatchOptions | None = None,
              listen: tuple[str, int] | None = None, once: bool = False, stream: TextIO | None = None) -> int:
    """``Watch.run`` in a new event loop, stopped cleanly by SIGINT or SIGTERM (exit 0)."""
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await Watch(targets, db, options=options, listen=listen, stream=stream).run(once=once, stop=stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())
