"""Alert rules over successive measurements of the same targets, and where alerts go.

Kinds (one state per target and kind, so a skewed host alerts once, not every round):

``tolerance``       critical: the offset is *certainly* beyond the target's limit,
                    ``|offset| − uncertainty > limit``; resolved when it no longer is.
``near_tolerance``  warning, before the limit is crossed: ``|offset| > warn_fraction ×
                    limit`` (default 50 %) but not certainly beyond it.
``jump``            critical, an event (never resolved): between two consecutive good
                    probes of a target the offset moved by more than
                    ``max(jump_min_s, jump_k × (u₁ + u₂))``. The two readings' sure
                    intervals (``offset ± uncertainty``) bound the change by u₁ + u₂, so
                    k > 1 leaves room for drift and noise. Failed probes in between do
                    not break the pair: a host that reboots, is unreachable for a while
                    and comes back five hours off (the seed's Edge) is a jump.
``unreachable``     warning: ``unreachable_after`` failed probes in a row; resolved by the
                    next good one.

A level drops (``tolerance`` → ``near_tolerance`` → none) only once the offset is 10 %
inside the threshold it crossed, so an offset sitting on a threshold does not flap.
The limit is the target's tolerance from the inventory (its roles'), else ``max_offset_s``.

Sinks: a structured log line per alert (logfmt, on stderr) and a JSON POST per round to
each ``--webhook``, in the shape of Alertmanager's webhook (version 4,
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), so receivers
written for Alertmanager take it; each alert adds a ``skewsleuth`` object with the
numbers (offset_s, jump_s, ...). Webhooks are posted by a task of their own with a
timeout and retries: a slow or dead receiver never delays a probe round.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from ..probe import Measurement

KINDS = ("tolerance", "near_tolerance", "jump", "unreachable")
ALERT_NAMES = {"tolerance": "ClockBeyondTolerance", "near_tolerance": "ClockNearTolerance",
               "jump": "ClockJump", "unreachable": "ClockProbeUnreachable"}
SEVERITY = {"tolerance": "critical", "near_tolerance": "warning", "jump": "critical", "unreachable": "warning"}
# A level is left only this far inside the threshold that raised it (no flapping).
HYSTERESIS = 0.9
_LEVELS = (None, "near_tolerance", "tolerance")


@dataclass(frozen=True)
class AlertRules:
    max_offset_s: float = 1.0        # limit of targets whose inventory entry sets no tolerance
    warn_fraction: float = 0.5       # near_tolerance from this fraction of the limit
    jump_min_s: float = 1.0          # a jump is at least this large ...
    jump_k: float = 3.0              # ... and this many times the two readings' uncertainties
    unreachable_after: int = 3       # failed probes in a row before an unreachable alert

    def __post_init__(self) -> None:
        if not (self.max_offset_s > 0 and 0 < self.warn_fraction < 1 and self.jump_min_s > 0
                and self.jump_k >= 1 and self.unreachable_after >= 1):
            raise ValueError("max_offset_s and jump_min_s must be > 0, warn_fraction in (0, 1), "
                             "jump_k >= 1, unreachable_after >= 1")

    def limit(self, m: Measurement) -> float:
        return m.tolerance_s if m.tolerance_s is not None else self.max_offset_s

    def jump_threshold(self, before: Measurement, after: Measurement) -> float:
        return max(self.jump_min_s, self.jump_k * ((before.uncertainty_s or 0.0) + (after.uncertainty_s or 0.0)))

    def level(self, m: Measurement, scale: float = 1.0) -> str | None:
        """``tolerance``, ``near_tolerance`` or None for a good measurement, thresholds × scale."""
        assert m.ok and m.offset_s is not None
        limit = self.limit(m) * scale
        size = abs(m.offset_s)
        if size - (m.uncertainty_s or 0.0) > limit:
            return "tolerance"
        if size > self.warn_fraction * limit:
            return "near_tolerance"
        return None


@dataclass(frozen=True)
class Alert:
    kind: str                        # one of KINDS
    status: str                      # firing | resolved
    target: str
    host: str
    protocol: str
    at: str                          # UTC ISO: the measurement that raised or resolved it
    message: str
    offset_s: float | None = None
    uncertainty_s: float | None = None
    tolerance_s: float | None = None  # the limit the target is held to
    jump_s: float | None = None       # jump: new offset − previous offset
    previous_offset_s: float | None = None
    previous_at: str | None = None
    failures: int | None = None       # unreachable: failed probes in a row
    error: str | None = None
    since: str | None = None          # resolved: when it fired

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    @property
    def labels(self) -> dict[str, str]:
        """The alert's identity as Alertmanager keys it. ``instance`` is the host, the label
        node_exporter's and chrony_exporter's series are joined on; a jump is an event, so
        each one is its own alert (``jump_at``), never an update of the last."""
        labels = {"alertname": ALERT_NAMES[self.kind], "kind": self.kind, "severity": self.severity,
                  "target": self.target, "host": self.host, "instance": self.host, "protocol": self.protocol}
        if self.kind == "jump":
            labels["jump_at"] = self.at
        return labels

    @property
    def fingerprint(self) -> str:
        """One per alert instance: a hash of its labels, as Alertmanager fingerprints them."""
        text = "\0".join(f"{k}\0{v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity}

    def to_alertmanager(self, generator_url: str = "") -> dict[str, Any]:
        """One entry of an Alertmanager webhook's ``alerts`` list, plus ``skewsleuth``."""
        firing = self.status == "firing"
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": {"summary": self.message},
            "startsAt": self.at if firing else (self.since or self.at),
            "endsAt": self.at if (not firing or self.kind == "jump") else "0001-01-01T00:00:00Z",
            "generatorURL": generator_url,
            "fingerprint": self.fingerprint,
            "skewsleuth": self.to_dict(),
        }


@dataclass
class _TargetState:
    last_good: Measurement | None = None
    failures: int = 0
    level: str | None = None
    unreachable: bool = False
    firing: dict[str, Alert] = field(default_factory=dict)   # kind -> the alert as raised (its at: when)

    @property
    def since(self) -> dict[str, str]:
        return {k: a.at for k, a in self.firing.items()}


@dataclass
class Alerter:
    """Keeps each target's state between rounds; ``evaluate`` gives the round's alerts
    (only changes: a firing alert once, its resolution once)."""

    rules: AlertRules = field(default_factory=AlertRules)
    states: dict[str, _TargetState] = field(default_factory=dict)

    def active(self) -> list[tuple[str, str]]:
        """(kind, target) of the alerts firing now."""
        out = []
        for target, s in sorted(self.states.items()):
            if s.level:
                out.append((s.level, target))
            if s.unreachable:
                out.append(("unreachable", target))
        return out

    def firing(self) -> list[Alert]:
        """The alerts firing now, as raised (jumps are events: never left firing)."""
        return [a for _, s in sorted(self.states.items()) for _, a in sorted(s.firing.items())]

    def resume(self, last_good: dict[str, Measurement], failures: dict[str, int],
               firing: dict[str, dict[str, Alert]]) -> None:
        """Go on from where an earlier watch stopped (its history): a jump is measured
        from its last offset, and an alert it left firing is not raised again."""
        for target in set(last_good) | set(failures) | set(firing):
            s = self.states.setdefault(target, _TargetState())
            s.last_good = last_good.get(target)
            s.failures = failures.get(target, 0)
            kinds = firing.get(target, {})
            s.firing.update(kinds)
            s.unreachable = "unreachable" in kinds
            levels = [k for k in ("tolerance", "near_tolerance") if k in kinds]
            s.level = levels[0] if levels else None

    def evaluate(self, measurements: Iterable[Measurement]) -> list[Alert]:
        alerts: list[Alert] = []
        for m in measurements:
            s = self.states.setdefault(m.target, _TargetState())
            alerts.extend(self._reachability(m, s))
            if m.ok and m.offset_s is not None:
                alerts.extend(self._jump(m, s))
                alerts.extend(self._level(m, s))
                s.last_good = m
        return alerts

    def _base(self, m: Measurement) -> dict[str, Any]:
        return dict(target=m.target, host=m.host, protocol=m.protocol, at=m.measured_at, offset_s=m.offset_s,
                    uncertainty_s=m.uncertainty_s, tolerance_s=self.rules.limit(m))

    def _reachability(self, m: Measurement, s: _TargetState) -> list[Alert]:
        if not m.ok:
            s.failures += 1
            if s.failures >= self.rules.unreachable_after and not s.unreachable:
                s.unreachable = True
                alert = Alert("unreachable", "firing", **self._base(m), failures=s.failures, error=m.error,
                              message=f"{m.target} ({m.host}) could not be measured in {s.failures} probes in a row: "
                                      f"{m.error}")
                s.firing["unreachable"] = alert
                return [alert]
            return []
        s.failures = 0
        if s.unreachable:
            s.unreachable = False
            return [Alert("unreachable", "resolved", **self._base(m), since=_pop_since(s, "unreachable"),
                          message=f"{m.target} ({m.host}) is measured again")]
        return []

    def _jump(self, m: Measurement, s: _TargetState) -> list[Alert]:
        before = s.last_good
        if before is None or before.offset_s is None:
            return []
        jump = m.offset_s - before.offset_s   # type: ignore[operator]
        if abs(jump) <= self.rules.jump_threshold(before, m):
            return []
        return [Alert("jump", "firing", **self._base(m), jump_s=jump, previous_offset_s=before.offset_s,
                      previous_at=before.measured_at,
                      message=f"{m.target} ({m.host}) clock jumped by {jump:+.3f} s between two probes "
                              f"(offset {before.offset_s:+.3f} s at {before.measured_at}, now {m.offset_s:+.3f} s)")]

    def _level(self, m: Measurement, s: _TargetState) -> list[Alert]:
        new = self.rules.level(m)
        if _LEVELS.index(new) < _LEVELS.index(s.level):
            # Lower only when it is lower with the thresholds 10 % tighter too.
            relaxed = self.rules.level(m, HYSTERESIS)
            new = relaxed if _LEVELS.index(relaxed) < _LEVELS.index(s.level) else s.level
        if new == s.level:
            return []
        out = []
        limit = self.rules.limit(m)
        if s.level:
            out.append(Alert(s.level, "resolved", **self._base(m), since=_pop_since(s, s.level),
                             message=f"{m.target} ({m.host}) offset {m.offset_s:+.3f} s is no longer "
                                     f"{'beyond' if s.level == 'tolerance' else 'near'} its tolerance of {limit:g} s"))
        if new:
            what = (f"beyond its tolerance of {limit:g} s" if new == "tolerance" else
                    f"past {self.rules.warn_fraction:.0%} of its tolerance of {limit:g} s")
            s.firing[new] = Alert(new, "firing", **self._base(m),
                                  message=f"{m.target} ({m.host}) offset {m.offset_s:+.3f} s "
                                          f"± {m.uncertainty_s or 0:.3f} s is {what}")
            out.append(s.firing[new])
        s.level = new
        return out


def _pop_since(s: _TargetState, kind: str) -> str | None:
    alert = s.firing.pop(kind, None)
    return alert.at if alert else None


# --- sinks -----------------------------------------------------------------------

def _logfmt_value(v: Any) -> str:
    if v is None:
        return '""'
    if isinstance(v, float):
        v = f"{v:.6f}".rstrip("0").rstrip(".") if abs(v) < 1e15 else repr(v)
    text = str(v)
    if text and not any(c in text for c in ' "=\\\n') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


def log_line(level: str, msg: str, stream: TextIO | None = None, **fields: Any) -> None:
    """One logfmt line: ``time=... level=... msg=... key=value ...`` (None values left out)."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = [f"time={now}", f"level={level}", f"msg={_logfmt_value(msg)}"]
    parts += [f"{k}={_logfmt_value(v)}" for k, v in fields.items() if v is not None]
    out = stream or sys.stderr
    out.write(" ".join(parts) + "\n")
    out.flush()


def log_alert(alert: Alert, stream: TextIO | None = None) -> None:
    level = "info" if alert.status == "resolved" else ("error" if alert.severity == "critical" else "warning")
    log_line(level, alert.message, stream, event="alert", kind=alert.kind, status=alert.status,
             severity=alert.severity, target=alert.target, host=alert.host, protocol=alert.protocol,
             offset_s=alert.offset_s, uncertainty_s=alert.uncertainty_s, tolerance_s=alert.tolerance_s,
             jump_s=alert.jump_s, previous_offset_s=alert.previous_offset_s, failures=alert.failures, error=alert.error)


def webhook_payload(alerts: list[Alert], *, external_url: str = "") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for one round's alerts."""
    entries = [a.to_alertmanager(external_url) for a in alerts]
    common = {k: v for k, v in entries[0]["labels"].items()
              if all(e["labels"].get(k) == v for e in entries)} if entries else {}
    # One group, grouped by no label: Alertmanager writes such a group's key as the route's
    # matchers, then the group labels, "{}:{}" (dispatch.go, aggrGroup.GroupKey)
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0,
            "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
            "receiver": "skewsleuth", "groupLabels": {}, "commonLabels": common, "commonAnnotations": {},
            "externalURL": external_url, "alerts": entries}


def post_json(url: str, body: Any, timeout: float) -> int:
    """POST ``body`` as JSON; the HTTP status (raises on a network error or a 4xx/5xx)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "skewsleuth-watch"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:   # noqa: S310 - the user's own webhook URL
        return resp.status


def _why(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return f"{type(reason).__name__}: {reason}" if isinstance(reason, Exception) else str(reason)


class Webhooks:
    """Posts each round's alerts to every URL from a task of its own: ``timeout`` per
    attempt, ``retries`` more attempts ``backoff`` s apart (doubling), then the round's
    alerts are logged as not delivered. At most ``queue_size`` rounds wait per URL; past
    that the oldest is dropped (and logged), so memory stays bounded when a receiver is
    down for days."""

    def __init__(self, urls: Iterable[str], *, timeout: float = 5.0, retries: int = 2, backoff: float = 1.0,
                 queue_size: int = 100, external_url: str = "", stream: TextIO | None = None):
        self.urls = list(urls)
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.external_url = external_url
        self.stream = stream
        self.queues: dict[str, asyncio.Queue[Any]] = {u: asyncio.Queue(queue_size) for u in self.urls}
        self.tasks: list[asyncio.Task[None]] = []
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._worker(u), name=f"webhook {u}") for u in self.urls]

    # what the log lines call a receiver
    event = "webhook"

    def send(self, alerts: list[Alert]) -> None:
        """Queue one round's alerts for every URL; returns at once."""
        if alerts:
            self.post(webhook_payload(alerts, external_url=self.external_url))

    def post(self, body: Any) -> None:
        """Queue ``body`` for every URL; returns at once."""
        for url, q in self.queues.items():
            if q.full():
                q.get_nowait()
                q.task_done()
                log_line("warning", f"{self.event} queue full: oldest alerts dropped", self.stream, event=self.event,
                         url=url)
            q.put_nowait(body)

    async def _worker(self, url: str) -> None:
        q = self.queues[url]
        while True:
            body = await q.get()
            try:
                await self._deliver(url, body)
            finally:
                q.task_done()

    async def _deliver(self, url: str, body: Any) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                await asyncio.to_thread(post_json, url, body, self.timeout)
                self.delivered += 1
                return
            except (OSError, ValueError) as exc:   # URLError and HTTPError are OSErrors
                if attempt == self.retries:
                    self.failed += 1
                    log_line("error", f"{self.event} not delivered", self.stream, event=self.event, url=url,
                             attempts=attempt + 1, error=_why(exc),
                             alerts=len(body["alerts"] if isinstance(body, dict) else body))
                    return
                await asyncio.sleep(delay)
                delay *= 2

    async def close(self, wait: float = 5.0) -> None:
        """Give queued alerts up to ``wait`` seconds to go out, then stop the workers."""
        try:
            async with asyncio.timeout(wait):
                await asyncio.gather(*(q.join() for q in self.queues.values()))
        except TimeoutError:
            pending = sum(q.qsize() for q in self.queues.values())
            log_line("warning", f"{self.event}s still pending at shutdown", self.stream, event=self.event,
                     rounds=pending)
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
