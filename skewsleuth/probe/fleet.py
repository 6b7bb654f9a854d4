"""Many targets at once: asyncio, a bound on concurrency and a timeout per target.

Every target gives exactly one Measurement, in the order given: a target that cannot be
reached, resolved or understood gives ``ok=False`` with the reason, never an
exception (only a target string that does not parse raises, as TargetError, before any
probe starts). NTP targets share one UDP socket per address family (``ntp.NtpClients``).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Iterable

from .base import Measurement, Target, failed, parse_target
from .http import measure_http
from .ntp import NtpClients, measure_ntp
from .smtp import measure_smtp

DEFAULT_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 256
DEFAULT_SAMPLES = 4
DEFAULT_INTERVAL = 0.25
# The timeout is enforced again this much later, in case a probe overruns its deadline.
GRACE = 0.5
# Readings of a second-resolution clock per round, whatever --samples says: each is a
# connection to the server, and more than this narrows the interval little.
MAX_PER_ROUND = 16

Progress = Callable[[int, int], None]


def as_targets(targets: Iterable[str | Target]) -> list[Target]:
    """Targets as given, strings parsed (TargetError for the first bad one)."""
    return [t if isinstance(t, Target) else parse_target(t) for t in targets]


async def measure(targets: Iterable[str | Target], *, timeout: float = DEFAULT_TIMEOUT,
                  concurrency: int = DEFAULT_CONCURRENCY, samples: int = DEFAULT_SAMPLES,
                  interval: float = DEFAULT_INTERVAL, insecure: bool = False,
                  progress: Progress | None = None) -> list[Measurement]:
    """Measure every target's clock against this machine's, at most ``concurrency`` at a
    time and each within ``timeout`` seconds. ``samples`` NTP requests ``interval`` s
    apart per NTP target (the least-delay reply is kept); HTTP and SMTP targets take
    ``2 × samples`` readings (at most 16) per round across the second boundary."""
    todo = as_targets(targets)
    if timeout <= 0 or concurrency < 1 or samples < 1 or interval < 0:
        raise ValueError("timeout must be > 0, concurrency and samples >= 1, interval >= 0")
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients = NtpClients()
    done = 0
    per_round = min(2 * samples, MAX_PER_ROUND)

    async def one(target: Target) -> Measurement:
        nonlocal done
        async with gate:
            deadline = loop.time() + timeout
            try:
                async with asyncio.timeout(timeout + GRACE):
                    if target.protocol == "ntp":
                        m = await measure_ntp(target, clients, deadline=deadline, samples=samples, interval=interval)
                    elif target.protocol in ("http", "https"):
                        m = await measure_http(target, deadline=deadline, per_round=per_round, insecure=insecure)
                    else:
                        m = await measure_smtp(target, deadline=deadline, per_round=per_round)
            except TimeoutError:
                m = failed(target, f"no answer within {timeout:g} s")
            except Exception as exc:  # noqa: BLE001 - one target's failure must not end the run
                m = failed(target, f"{type(exc).__name__}: {exc}")
        done += 1
        if progress is not None:
            progress(done, len(todo))
        return m

    try:
        return list(await asyncio.gather(*(one(t) for t in todo)))
    finally:
        clients.close()


def probe(targets: Iterable[str | Target], *, timeout: float = DEFAULT_TIMEOUT,
          concurrency: int = DEFAULT_CONCURRENCY, samples: int = DEFAULT_SAMPLES, interval: float = DEFAULT_INTERVAL,
          insecure: bool = False, progress: Progress | None = None) -> list[Measurement]:
    """``measure`` for callers without an event loop."""
    return asyncio.run(measure(targets, timeout=timeout, concurrency=concurrency, samples=samples, interval=interval,
                               insecure=insecure, progress=progress))
