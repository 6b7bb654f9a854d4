"""Reading spread over processes and a Dask cluster, and re-investigation from the parse
cache: the same verdict, byte for byte, however the files were read."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
import time

import pytest

from skewsleuth import investigate
from skewsleuth.report.json import write_json
from skewsleuth.reading.workers import ordered_map
from conftest import one_line_error, run_cli

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, evtx_dir, seed_evidence):
    """The seed incident's text evidence plus the real EVTX samples (damaged ones
    included) as a third host: every reader, and quarantined records, in one case."""
    folder = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("scale") / "ev"))
    shutil.copytree(evtx_dir, folder / "win01")
    return folder


def _json(verdict, path) -> bytes:
    write_json(verdict.to_dict(), str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def inline_json(evidence, tmp_path_factory):
    return _json(investigate([evidence], workers=1), tmp_path_factory.mktemp("j") / "inline.json")


def test_worker_processes_give_the_same_verdict_byte_for_byte(evidence, inline_json, tmp_path):
    verdict = investigate([evidence], workers=2)
    assert _json(verdict, tmp_path / "w2.json") == inline_json
    d = json.loads(inline_json)
    assert d["ingest"]["files"] > 20 and d["ingest"]["quarantined"] > 0   # the damaged samples were read too
    assert d["incidents"][0]["root_causes"][0]["host"] == "srv-lyncedge01.domain.com"


def _need_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        msg = "Dask distributed not installed (scripts/test-all.sh installs .[scale])"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def test_a_dask_cluster_of_worker_processes_gives_the_same_verdict(evidence, inline_json, tmp_path):
    _need_distributed()
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids     # separate worker processes
        r = run_cli("investigate", str(evidence), "--scheduler", cluster.scheduler_address, "-q",
                    "--json", str(tmp_path / "dask.json"))
    assert r.returncode == 1, r.stderr      # the damaged samples quarantine records
    assert (tmp_path / "dask.json").read_bytes() == inline_json


def test_an_unreachable_scheduler_is_one_line_and_exit_2(evidence):
    line = one_line_error("investigate", str(evidence / "srv-lyncfe01"), "--scheduler", "tcp://127.0.0.1:9")
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line


@pytest.mark.parametrize("args, says", [(["--workers", "0"], "--workers must be 1 or more"),
                                        (["--scheduler", "127.0.0.1:8786"], "tcp://HOST:8786")])
def test_bad_reading_options_are_one_line_and_exit_2(evidence, args, says):
    assert says in one_line_error("investigate", str(evidence), *args)


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


def test_a_damaged_cache_entry_is_parsed_again_not_trusted(evidence, tmp_path):
    ev = tmp_path / "ev"
    shutil.copytree(evidence / "srv-lyncfe01", ev / "srv-lyncfe01")
    db = tmp_path / "case.duckdb"
    fresh = _json(investigate([ev], db=db, workers=1), tmp_path / "a.json")
    for meta in (tmp_path / "case.duckdb.parsed").glob("*.json"):
        meta.write_text("{not json", encoding="utf-8")
    for events in (tmp_path / "case.duckdb.parsed").glob("*.events.parquet"):
        events.unlink()
    assert _json(investigate([ev], db=db, workers=1), tmp_path / "b.json") == fresh


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


def _evtx_tasks(evtx_dir):
    from datetime import timezone

    from skewsleuth.reading.files import FileTask

    return [FileTask(str(f), i, "evtx", f"folder{i}", timezone.utc, 2024)
            for i, f in enumerate(sorted(evtx_dir.glob("*.evtx")), start=1)]


def test_windows_records_of_many_files_normalised_together_are_each_files_own(evtx_dir, tmp_path, monkeypatch):
    """Records of consecutive files share a normalisation query (its fixed cost is more
    than a small file's parse); each file gets back exactly what it gets read alone,
    an unreadable file among them included."""
    from dataclasses import replace

    from skewsleuth.reading.files import read_bundle, read_file
    from skewsleuth.sources import winevent

    tasks = _evtx_tasks(evtx_dir)
    unreadable = tmp_path / "header.evtx"
    unreadable.write_bytes(b"ElfFile\x00" + bytes(30))        # a header cut short: nothing to read
    tasks.insert(5, replace(tasks[0], path=str(unreadable), file_id=99))
    alone = [read_file(t) for t in tasks]
    queries = []
    real = winevent._extract
    monkeypatch.setattr(winevent, "_extract", lambda raw: queries.append(raw.num_rows) or real(raw))
    together = read_bundle(tasks)
    assert [r.task for r in together] == tasks
    for a, b in zip(alone, together):
        assert (a.failed, a.ingested, a.notes) == (b.failed, b.ingested, b.notes), a.task.path
        if a.failed is None:
            assert a.events.equals(b.events) and a.quarantine.equals(b.quarantine), a.task.path
    assert sum(r.quarantined for r in together) > 0 and sum(r.failed is not None for r in together) > 0
    # 23 files, 18,000 records: a few queries (one per 16,384 records or so), not one per file.
    assert len(queries) <= 3 and sum(queries) >= sum(r.ingested for r in alone) > 18_000


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


def test_a_files_result_is_sent_as_its_own_rows_not_the_batch_they_were_cut_from(evtx_dir):
    """Files normalised together are slices of one batch; what a worker sends back of
    each is its own rows (Arrow IPC), not the batch under them, and arrives the same."""
    import pickle

    from skewsleuth.reading.files import read_bundle

    results = read_bundle(_evtx_tasks(evtx_dir))
    small = min((r for r in results if r.failed is None and r.ingested), key=lambda r: r.ingested)
    sent = pickle.dumps(small)
    assert len(sent) < 2 * small.events.nbytes + 100_000
    back = pickle.loads(sent)
    assert back.events.equals(small.events) and back.quarantine.equals(small.quarantine)
    assert (back.task, back.ingested, back.notes, back.failed) == (small.task, small.ingested, small.notes, small.failed)


def test_a_script_that_calls_investigate_without_a_main_guard_still_gets_its_verdict(evtx_dir, tmp_path):
    """Worker processes re-import the calling script; one that calls investigate() at
    its top level starts again in each, and they die. Not a parser's fault: the files
    are read in the script's process instead, with a warning that says why."""
    import subprocess
    import sys

    ev = tmp_path / "ev"
    for k in range(2):      # 42 MB: past the size from which files are read in workers
        shutil.copytree(evtx_dir, ev / f"win{k}")
    script = tmp_path / "unguarded.py"
    script.write_text("import json, skewsleuth\n"
                      f"v = skewsleuth.investigate([{str(ev)!r}])\n"
                      "print(json.dumps(v.ingest.as_dict()))\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    assert counts["files"] == 2 * len(list(evtx_dir.glob("*.evtx"))) and counts["files_failed"] == 0
    assert "if __name__ == \"__main__\":" in r.stderr and "read in this process" in r.stderr
    assert r.stderr.count("Traceback") <= 4      # the workers that died showing it, no more
