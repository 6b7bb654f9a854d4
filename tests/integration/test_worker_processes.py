"""Reading spread over processes and a Dask cluster, and re-investigation from the parse
cache: the same verdict, byte for byte, however the files were read: the part that runs
the command line, a real daemon or another process (the rest is in
tests/unit/reading/test_cache_and_normalising.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time


from skewsleuth import investigate
from skewsleuth.reading.workers import ordered_map
from support.scale import _json, evidence, inline_json  # noqa: F401
from support.worker_processes import _evtx_tasks  # noqa: F401


def test_worker_processes_give_the_same_verdict_byte_for_byte(evidence, inline_json, tmp_path):
    verdict = investigate([evidence], workers=2)
    assert _json(verdict, tmp_path / "w2.json") == inline_json
    d = json.loads(inline_json)
    assert d["ingest"]["files"] > 20 and d["ingest"]["quarantined"] > 0   # the damaged samples were read too
    assert d["incidents"][0]["root_causes"][0]["host"] == "srv-lyncedge01.domain.com"


def test_investigating_again_parses_only_the_files_that_changed(evidence, inline_json, tmp_path, monkeypatch):
    import skewsleuth.reading.ingest as ingest_module

    ev = tmp_path / "ev"
    shutil.copytree(evidence, ev)
    fresh = _json(investigate([ev], workers=1), tmp_path / "fresh.json")
    parsed: list[str] = []
    real = ingest_module.read_files

    def counting(tasks, sink=None):
        tasks = list(tasks)
        parsed.extend(os.path.basename(t.path) for t in tasks)
        return real(tasks, sink)

    monkeypatch.setattr(ingest_module, "read_files", counting)
    db = tmp_path / "case.duckdb"
    first = _json(investigate([ev], db=db, workers=1), tmp_path / "first.json")
    n_files = len(parsed)
    assert n_files > 20 and first == fresh
    assert (tmp_path / "case.duckdb.parsed").is_dir()

    parsed.clear()
    again = _json(investigate([ev], db=db, workers=1), tmp_path / "again.json")
    assert parsed == [] and again == fresh          # nothing parsed, the same verdict

    # One file changes: only it is parsed again, and the verdict follows the change.
    trace = next((ev / "srv-lyncfe01").glob("*.log"))
    text = trace.read_text(encoding="utf-8")
    last = text.rindex("\n", 0, text.rindex("$$begin_record")) + 1
    trace.write_text(text[:last], encoding="utf-8")     # its last record lost
    os.utime(trace, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    parsed.clear()
    changed = investigate([ev], db=db, workers=1)
    assert parsed == [trace.name]
    monkeypatch.setattr(ingest_module, "read_files", real)
    assert _json(changed, tmp_path / "changed.json") == _json(investigate([ev], workers=1), tmp_path / "c2.json")
    assert changed.ingest.records == json.loads(fresh)["ingest"]["records"] - 1
    # The cache holds what the last investigation read: the changed file's old entry is gone.
    assert len(list((tmp_path / "case.duckdb.parsed").glob("*.json"))) == n_files


def _slow_square(x: int) -> int:
    time.sleep(0.05 * (5 - x % 5))      # later tasks finish first
    return x * x


def test_results_come_in_task_order_whatever_finishes_first():
    assert list(ordered_map(_slow_square, range(12), workers=2, window=4)) == [x * x for x in range(12)]
    assert list(ordered_map(_slow_square, [], workers=2)) == []


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(70)            # as a segfault in a parser would: no exception, the process is gone
    return x * 10


def test_a_worker_process_that_dies_fails_its_task_and_the_rest_go_on():
    from skewsleuth.reading.workers import WorkerDied

    out = list(ordered_map(_dies_on_three, range(8), workers=2, window=4))
    assert [x for x in out if not isinstance(x, WorkerDied)] == [x * 10 for x in range(8) if x != 3]
    assert isinstance(out[3], WorkerDied) and "died" in str(out[3])


def test_a_bundle_whose_reader_died_is_read_again_file_by_file(evtx_dir):
    """A worker is given several files at once; when its process dies, each of them is
    read again alone, so that only a file that kills its reader fails."""
    from skewsleuth.reading.ingest import _results_of_bundles
    from skewsleuth.reading.files import read_file
    from skewsleuth.reading.workers import WorkerDied

    tasks = [t for t in _evtx_tasks(evtx_dir) if read_file(t).failed is None][:3]
    out = list(_results_of_bundles(iter([(tasks, WorkerDied("gone"))]), workers=2))
    assert [r.task for r in out] == tasks and all(r.failed is None and r.ingested > 0 for r in out)
    lone = list(_results_of_bundles(iter([(tasks[:1], WorkerDied("the reader process died"))]), workers=2))
    assert [(r.task, r.failed) for r in lone] == [(tasks[0], "the reader process died")]


def _slow_or_sigint(x: int) -> int:
    if x == 0:
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C reaches every process of the group
        return -1
    time.sleep(30)
    return x


def test_workers_leave_ctrl_c_to_this_process_and_end_when_it_stops_early():
    """A worker ignores SIGINT (no KeyboardInterrupt, no traceback of its own); when the
    reading stops early (an interrupt here, an error), the files in flight are not
    waited for: the processes end at once."""
    import multiprocessing

    results = ordered_map(_slow_or_sigint, range(4), workers=2, window=4)
    assert next(results) == -1
    started = time.monotonic()
    results.close()
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []



def test_a_worker_ended_while_sending_its_result_does_not_hang_the_stop():
    """Ctrl-C ends the workers at once, one of them maybe half-way through writing its
    result: the pool's thread then holds a message's length and part of it, and waits
    for the rest. Stopping must not wait with it (it did, about 1 time in 10 a
    Ctrl-C came during a large collection's reading)."""
    import struct
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from skewsleuth.reading import workers

    pool = ProcessPoolExecutor(max_workers=1, mp_context=workers._start_method(),
                               initializer=workers._reader_process)
    assert pool.submit(workers._idle).result() is True     # the worker and the pool's thread run
    writer = pool._result_queue._writer.fileno()
    # What the worker would have left: a message of 1,000 bytes, 10 of them written.
    os.write(writer, struct.pack("!i", 1000) + b"x" * 10)
    time.sleep(0.5)                                        # (the pool's thread reads, then waits)
    stopping = threading.Thread(target=workers._terminate, args=(pool,), daemon=True)
    stopping.start()
    stopping.join(30)
    hung = stopping.is_alive()
    if hung:
        # (let the pool's thread go, or this test process would wait for it at exit)
        os.write(writer, b"x" * 990)
        stopping.join(30)
    assert not hung, "stopping the pool waited for a result no worker will finish"


def _collection_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "collection.py"
    spec = importlib.util.spec_from_file_location("collection_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_collection_of_preallocated_channel_files_reads_the_same_bundled(evtx_dir, tmp_path, monkeypatch):
    """Hosts of many channel files preallocated to 1 MB and holding a few records
    (benchmarks/collection.py): read by worker processes in bundles sized by what is
    read, the verdict is byte for byte the one of reading each whole file, zeros and
    all, in this process."""
    from skewsleuth.reading import ingest as ingest_module
    from skewsleuth.sources import evtx as evtx_source

    ev = tmp_path / "ev"
    files, records, size = _collection_module().make_collection(ev, hosts=3, channels=24, samples=evtx_dir)
    assert files == 72 and size > 60 * 1024 * 1024
    bundles: list[list] = []
    real = ingest_module._bundles

    def counted(tasks):
        bundles.extend(real(tasks))
        return bundles

    monkeypatch.setattr(ingest_module, "_bundles", counted)
    bundled = _json(investigate([ev], workers=2), tmp_path / "w2.json")
    assert len(bundles) <= 3       # by bytes on disk: a bundle of 8 MB, 7 files each, 11 bundles
    monkeypatch.setattr(evtx_source, "_unused_tail", lambda fh, listed, whole: 0)
    whole = _json(investigate([ev], workers=1), tmp_path / "w1.json")
    assert bundled == whole
    assert json.loads(whole)["ingest"]["records"] == records
