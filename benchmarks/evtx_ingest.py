"""EVTX throughput, every stage on the same files in one run: raw `evtx` iteration on one
core (the floor), skewsleuth's ingest (in this process and in worker processes), the
whole investigation, and for reference the pure-Python python-evtx on a subset and
plaso's log2timeline when installed.

    python benchmarks/evtx_ingest.py [EVTX_DIR] [--copies N] [--repeat N]
                                     [--plaso PATH_TO_log2timeline.py]

Defaults to tests/data/evtx. ``--copies N`` lays the files out N times, one
folder per host (as collected from N machines), so that fixed costs are spread as on
a real collection. Prints one line per stage and the machine it ran on; copy the
output into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from importlib import metadata
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def raw_iteration(files: list[Path]) -> int:
    import evtx

    n = 0
    for f in files:
        records = evtx.PyEvtxParser(str(f)).records_json()
        while True:
            try:
                next(records)
                n += 1
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - damaged records count as seen, like ingest
                n += 1
    return n


def python_evtx(files: list[Path], limit: int) -> int:
    """python-evtx (pure Python) over the first ``limit`` records of each file, as XML."""
    from Evtx.Evtx import Evtx

    n = 0
    for f in files:
        try:
            with Evtx(str(f)) as log:
                for k, record in enumerate(log.records()):
                    if k >= limit:
                        break
                    try:
                        record.xml()
                    except Exception:  # noqa: BLE001 - damaged records count as seen
                        pass
                    n += 1
        except Exception:  # noqa: BLE001 - a file python-evtx cannot open at all
            continue
    return n


def best_of(repeat: int, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evtx_dir", nargs="?", default=str(ROOT / "tests" / "data" / "evtx"))
    parser.add_argument("--copies", type=int, default=1, help="lay the files out N times, one folder per host")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python-evtx-records", type=int, default=200,
                        help="records per file for python-evtx (it runs at a few hundred records/s)")
    parser.add_argument("--plaso", default=shutil.which("log2timeline.py") or shutil.which("log2timeline"),
                        help="log2timeline.py to compare with (default: on PATH)")
    args = parser.parse_args()
    samples = sorted(Path(args.evtx_dir).glob("*.evtx"))
    if not samples:
        sys.exit(f"no .evtx files in {args.evtx_dir}")

    import duckdb

    import skewsleuth
    from skewsleuth.case import Case
    from skewsleuth.reading.ingest import ingest
    from skewsleuth.store import Store

    with tempfile.TemporaryDirectory(prefix="evtx-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        for k in range(args.copies):
            shutil.copytree(samples[0].parent, corpus / f"win{k:04d}", ignore=lambda d, names: [
                n for n in names if not n.endswith(".evtx")])
        files = sorted(corpus.rglob("*.evtx"))
        size = sum(f.stat().st_size for f in files)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
              f"evtx {metadata.version('evtx')}, DuckDB {duckdb.__version__}")
        t_raw, n = best_of(args.repeat, lambda: raw_iteration(files))
        print(f"corpus: {len(files)} files ({len(samples)} samples x {args.copies}), {size / 1e6:.1f} MB, "
              f"{n:,} records")
        print(f"raw evtx iteration (1 core):        {t_raw:7.3f} s  {n / t_raw:10,.0f} records/s  (floor)")
        for workers in (1, os.cpu_count() or 1):
            t, summary = best_of(args.repeat, lambda: ingest(Store(), [corpus], Case(), workers=workers))
            print(f"skewsleuth ingest, {workers} worker{'s' if workers > 1 else ' '}:       {t:7.3f} s  "
                  f"{summary.records / t:10,.0f} records/s  x{t / t_raw:.2f} the floor")
        t_inv, _ = best_of(args.repeat, lambda: skewsleuth.investigate([corpus]))
        print(f"skewsleuth investigate (default):   {t_inv:7.3f} s  {n / t_inv:10,.0f} records/s  "
              f"x{t_inv / t_raw:.2f} the floor")
        t_cli, cpu_cli = min(_cli(corpus) for _ in range(args.repeat))
        print(f"skewsleuth investigate, CLI:        {t_cli:7.3f} s  (with interpreter start and JSON; "
              f"the machine busy for {cpu_cli:.2f} s of CPU)")
        try:
            t_py, n_py = best_of(1, lambda: python_evtx(files[:len(samples)], args.python_evtx_records))
            print(f"python-evtx (subset: {n_py:,} records): {t_py:7.3f} s  {n_py / t_py:10,.0f} records/s  "
                  f"-> skewsleuth ingest is x{(n_py / t_py) and (n / t_inv) / (n_py / t_py):,.0f} faster per record")
        except ImportError:
            print("python-evtx: not installed (pip install python-evtx)")
        if args.plaso:
            t_plaso = _plaso(args.plaso, corpus, Path(tmp))
            print(f"plaso log2timeline.py:              {t_plaso:7.3f} s  -> skewsleuth investigate (CLI) "
                  f"x{t_plaso / t_cli:.1f} faster")
        else:
            print("plaso: log2timeline.py not found (--plaso PATH)")


def _cli(corpus: Path) -> tuple[float, float]:
    """Wall time of the CLI, and the CPU time the machine was busy for meanwhile: its
    worker processes are forked by a server process, which no rusage of ours counts (on
    an idle machine this is the CLI's own; a busy one shows in both figures)."""
    before = _busy_cpu()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "skewsleuth", "investigate", str(corpus), "-q", "--json", os.devnull],
                   check=False, capture_output=True)
    took = time.perf_counter() - start
    return took, _busy_cpu() - before


def _busy_cpu() -> float:
    """CPU seconds this machine has been busy since boot (Linux's /proc/stat), or this
    process's children's where there is none."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(x) for x in fh.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime


def _plaso(log2timeline: str, corpus: Path, tmp: Path) -> float:
    out = tmp / "plaso.plaso"
    start = time.perf_counter()
    # In the temporary folder: log2timeline leaves its own log where it runs.
    r = subprocess.run([log2timeline, "--quiet", "--status_view", "none", "--parsers", "winevtx",
                        "--storage_file", str(out), str(corpus)], check=False, capture_output=True, cwd=tmp)
    took = time.perf_counter() - start
    if r.returncode != 0 or not out.exists():
        sys.exit(f"log2timeline failed (exit {r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")
    return took


if __name__ == "__main__":
    main()
