"""Where files are read: this process, worker processes of this machine, or a Dask
cluster (``--scheduler tcp://HOST:PORT``).

:func:`ordered_map` runs one function over many tasks and yields the results in the
order of the tasks, whatever finished first, so that the case database is loaded in
the same order, and the verdict is the same, however the reading was spread. At most
``window`` tasks are in flight or waiting to be yielded: memory holds that many
files' results, never the whole input.

Worker processes are started with ``spawn`` (not ``fork``): the parent holds DuckDB
and Arrow thread pools, which a forked child would inherit mid-lock.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this much input, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024


class SchedulerError(Exception):
    """The Dask scheduler cannot be used (not installed, not reachable)."""


def default_workers(n_tasks: int, total_bytes: int) -> int:
    """Every core for inputs large enough to pay for the workers' start, else one."""
    if n_tasks < 2 or total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(usable_cores(), n_tasks))


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def ordered_map(fn: Callable[[T], R], tasks: Iterable[T], *, workers: int = 1, scheduler: str | None = None,
                window: int | None = None) -> Iterator[R]:
    """``fn`` over ``tasks``, results in task order; ``scheduler`` (a Dask address)
    wins over ``workers``; ``workers=1`` runs in this process."""
    if scheduler:
        yield from _dask(fn, tasks, scheduler, window)
    elif workers <= 1 or not _spawnable():
        for task in tasks:
            yield fn(task)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            yield from _windowed(lambda t: pool.submit(fn, t), tasks, window or 2 * workers, lambda f: f.result())


def _spawnable() -> bool:
    """A spawned worker re-imports the parent's ``__main__`` from its file: a program
    read from standard input names a file that is not there (``<stdin>``), and every
    worker would die. Such a parent reads in its own process."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.exists(path)


def _windowed(submit, tasks: Iterable, window: int, result) -> Iterator:
    pending: deque = deque()
    for task in tasks:
        pending.append(submit(task))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


def _dask(fn, tasks, scheduler: str, window: int | None) -> Iterator:
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerError("--scheduler needs Dask distributed: pip install 'skewsleuth[scale]'") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        n = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()))
        # pure=False: two files may well have equal tasks (same name, other folder read
        # later); each is read on its own.
        yield from _windowed(lambda t: client.submit(fn, t, pure=False), tasks, window or 2 * n,
                             lambda f: f.result())
    finally:
        client.close()
