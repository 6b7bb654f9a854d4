"""Alerts posted to Alertmanager's API, as Prometheus posts them.

Alertmanager forgets an alert at its ``endsAt``: Prometheus re-sends every firing alert
on each evaluation with ``endsAt`` four resend delays ahead (rules/manager.go:
``Alert.needsSending``, ``ResendDelay`` 1 m, ``endsAt = now + 4 × max(resendDelay,
evalInterval)``), so an alert stays up while its rule fires and resolves by itself if
Prometheus dies. Watch does the same each round: every alert firing now, with
``endsAt`` :data:`RESEND_FACTOR` × max(interval, :data:`MIN_RESEND_S`) ahead; an alert
resolved this round once, with ``endsAt`` at its resolution; a jump (an event) with a
fixed ``endsAt`` that far after it, re-sent until then.

The body is a list of PostableAlerts (``labels``, ``annotations``, ``startsAt``,
``endsAt``, ``generatorURL``) POSTed to ``<URL>/api/v2/alerts`` (Alertmanager's OpenAPI
v2: api/v2/openapi.yaml). Posting shares the webhooks' queue, timeout and retries.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from .alerts import Alert, Webhooks

RESEND_FACTOR = 4
MIN_RESEND_S = 60.0
API_PATH = "/api/v2/alerts"


def api_url(url: str) -> str:
    """Alertmanager's base URL (``http://127.0.0.1:9093``, with or without the API path)."""
    base = url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def postable(alert: Alert, starts: str, ends: str, generator_url: str = "") -> dict[str, Any]:
    """One PostableAlert."""
    body: dict[str, Any] = {"labels": alert.labels, "annotations": {"summary": alert.message},
                            "startsAt": starts, "endsAt": ends}
    if alert.offset_s is not None:
        body["annotations"]["offset_seconds"] = f"{alert.offset_s:.6f}"
    if alert.tolerance_s is not None:
        body["annotations"]["tolerance_seconds"] = f"{alert.tolerance_s:g}"
    if alert.jump_s is not None:
        body["annotations"]["jump_seconds"] = f"{alert.jump_s:.6f}"
    if generator_url:
        body["generatorURL"] = generator_url
    return body


class Alertmanager(Webhooks):
    """Each round's state of the alerts, to every Alertmanager (see the module)."""

    event = "alertmanager"

    def __init__(self, urls: Iterable[str], *, interval_s: float, **kw: Any) -> None:
        super().__init__([api_url(u) for u in urls], **kw)
        self.hold = timedelta(seconds=RESEND_FACTOR * max(interval_s, MIN_RESEND_S))
        self.jumps: list[Alert] = []       # jump events still shown

    def body(self, raised: list[Alert], firing: list[Alert], now: datetime) -> list[dict[str, Any]]:
        """The PostableAlerts of one round: ``raised`` is what changed in it, ``firing``
        every alert firing after it."""
        url = self.external_url
        ends = _iso(now + self.hold)
        out = [postable(a, a.at, ends, url) for a in firing]
        for a in raised:
            if a.kind == "jump":
                self.jumps.append(a)
            elif a.status == "resolved":
                out.append(postable(a, a.since or a.at, a.at, url))
        self.jumps = [j for j in self.jumps if _at(j.at) + self.hold > now]
        out += [postable(j, j.at, _iso(_at(j.at) + self.hold), url) for j in self.jumps]
        return out

    def send_round(self, raised: list[Alert], firing: list[Alert], now: datetime | None = None) -> None:
        """Queue the round's alerts for every Alertmanager (nothing when none fires or
        changed: an empty list would tell Alertmanager nothing)."""
        body = self.body(raised, firing, now or datetime.now(timezone.utc))
        if body:
            self.post(body)
