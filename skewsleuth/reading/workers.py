"""Where files are read: this process, worker processes of this machine, or a Dask
cluster (``--scheduler tcp://HOST:PORT``).

:func:`ordered_map` runs one function over many tasks and yields the results in the
order of the tasks, whatever finished first, so that the case database is loaded in
the same order, and the verdict is the same, however the reading was spread. At most
``window`` tasks are in flight or waiting to be yielded: memory holds that many
files' results, never the whole input.

Worker processes are forked from a fresh server process (``forkserver``; ``spawn``
where there is none), never from this one: the parent holds DuckDB and Arrow thread
pools, which a forked child would inherit mid-lock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections import deque
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

from ..errors import SchedulerError, WorkerDied
from ..without_pandas import leave_out_pandas

T = TypeVar("T")
R = TypeVar("R")

# Below this much input, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
# How long a worker told to end may take before the pool is shut down all the same.
_ENDED_WITHIN_S = 5.0


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
    wins over ``workers``; ``workers=1`` runs in this process. In worker processes, a
    task whose process died is a :class:`WorkerDied` in its place."""
    if scheduler:
        yield from _dask(fn, tasks, scheduler, window)
    elif workers <= 1 or not _spawnable():
        for task in tasks:
            yield fn(task)
    else:
        yield from _processes(fn, list(tasks), workers, window or 2 * workers)


# Set once a worker process with nothing to do could not start: from then on this
# process reads files itself.
_cannot_spawn = False


def _processes(fn, tasks: list, workers: int, window: int) -> Iterator:
    """The task pool. A process that dies breaks the whole pool and every task in
    flight with it, without saying which task killed it: each of those is run again
    alone in a process of its own, the one that dies again is yielded as
    :class:`WorkerDied`, and a new pool takes the rest. When not even a process given
    nothing to do survives its start, no task is to blame: the rest run here."""
    global _cannot_spawn
    ctx = _start_method()
    done = 0
    while done < len(tasks):
        try:
            with _pool(workers, ctx) as pool:
                for result in _windowed(lambda t: _submit(pool, fn, t), tasks[done:], window, lambda f: f.result()):
                    yield result
                    done += 1
        except BrokenProcessPool:
            if not _starts(ctx):
                _cannot_spawn = True
                warnings.warn("worker processes die as they start, so files are read in this process; "
                              "a script that calls skewsleuth must do so under "
                              "`if __name__ == \"__main__\":` (or pass workers=1)", RuntimeWarning, stacklevel=2)
                for task in tasks[done:]:
                    yield fn(task)
                return
            # The head task and those after it in the window are suspects: alone, each
            # either completes or shows itself the cause.
            for task in tasks[done:done + window]:
                try:
                    with _pool(1, ctx) as alone:
                        yield _submit(alone, fn, task).result()
                except BrokenProcessPool:
                    yield WorkerDied("the reader process died reading it (a crash in a parser, or killed)")
                done += 1


@contextmanager
def _pool(workers: int, ctx) -> Iterator[ProcessPoolExecutor]:
    """A pool of reader processes that leave SIGINT to this process. Left early (an
    interrupt, an error, the caller stopping), it ends its processes at once rather
    than wait for the files in flight: Ctrl-C stops the reading within moments, and
    no worker prints a traceback of its own."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_reader_process)
    try:
        yield pool
    except BrokenProcessPool:
        pool.shutdown(wait=True)
        raise
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def _reader_process() -> None:
    """In each worker: Ctrl-C reaches the whole process group, and the parent decides;
    pandas is left out, as in the command (each worker had imported it, ~0.3 s)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    leave_out_pandas()


def _submit(pool: ProcessPoolExecutor, fn, task):
    """``pool.submit``, which starts the pool's processes (and the fork server) as it
    needs them, with Ctrl-C held back until it returns (see :func:`_sigint_held`)."""
    with _sigint_held():
        return pool.submit(fn, task)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Ctrl-C held back while processes are started. A process started meanwhile
    inherits the blocked signal and never sees Ctrl-C, not even while Python starts in
    it, before it could ignore it (as multiprocessing starts its resource tracker);
    and this process learns of it only once the pool knows every process it started,
    so that :func:`_terminate` ends them all."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()     # started first: starting, it lets SIGINT through again
    held: list = []
    handler = signal.signal(signal.SIGINT, lambda *args: held.append(args))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, handler)
        if held:
            signal.raise_signal(signal.SIGINT)     # now, to whatever handles it here


def warm_up() -> None:
    """Start the server worker processes are forked from now, so that it imports the
    readers while this process still finds and sniffs files: the first worker had
    waited for it, and this process with it (0.3 s on an idle machine, over a second
    on a busy one, of a 4,000-file collection). Nothing where workers are not forked
    from a server."""
    if _cannot_spawn or not _spawnable():
        return
    ctx = _start_method()
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    with _sigint_held():
        forkserver.ensure_running()


def _terminate(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)     # Python 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):
            pass
    for process in processes:
        try:
            process.join(_ENDED_WITHIN_S)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass
    # A worker ended while it wrote its result leaves part of a message in the result
    # pipe, and the pool's own thread, reading it, waits for the rest for ever: the
    # shutdown below would wait for that thread, and so would Python at exit (a Ctrl-C
    # that hung the command 1 time in 10). With the workers gone, this process holds
    # the pipe's last writing end: closed, the reader gets an end of file instead.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None and not any(p.is_alive() for p in processes):
        try:
            writer.close()
        except OSError:
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def _start_method():
    """Fork each worker from a server process that has imported the readers, where the
    platform has one: started afresh, each worker spent about 0.3 s of CPU on Python and
    imports before reading a file. The server is itself started afresh, so it holds none
    of this process's threads or connections."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["skewsleuth.reading.files"])
    return ctx


def _spawnable() -> bool:
    """A spawned worker re-imports the parent's ``__main__`` from its file: a program
    read from standard input names a file that is not there (``<stdin>``), and every
    worker would die. Such a parent reads in its own process, as does one whose
    workers could not start before (a script calling skewsleuth outside its
    ``if __name__ == "__main__":`` block starts it again in each worker)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return not _cannot_spawn and (path is None or os.path.exists(path))


def _idle() -> bool:
    return True


def _starts(ctx) -> bool:
    """Whether a worker process given nothing to do starts and answers."""
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(_idle).result()
    except BrokenProcessPool:
        return False


def _windowed(submit, tasks: Iterable, window: int, result) -> Iterator:
    pending: deque = deque()
    for task in tasks:
        pending.append(submit(task))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


def _dask_result(future):
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        # Dask retried it on other workers and each died: the task is the cause.
        return WorkerDied("every Dask worker that read it died (a crash in a parser, or killed)")


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
        yield from _windowed(lambda t: client.submit(fn, t, pure=False), tasks, window or 2 * n, _dask_result)
    finally:
        client.close()
