"""EVTX throughput: raw `evtx` iteration (the floor) vs skewsleuth's ingest and a whole
investigation, on the same files, in one run.

    python benchmarks/evtx_ingest.py [EVTX_DIR] [--repeat N]

Defaults to ../shared/data/evtx. Prints one line per stage and the machine it ran on;
copy the output into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
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


def best_of(repeat: int, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evtx_dir", nargs="?", default=str(ROOT.parent / "shared" / "data" / "evtx"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = sorted(Path(args.evtx_dir).glob("*.evtx"))
    if not files:
        sys.exit(f"no .evtx files in {args.evtx_dir}")

    import skewsleuth
    from skewsleuth.case import Case
    from skewsleuth.ingest import ingest
    from skewsleuth.store import Store

    size = sum(f.stat().st_size for f in files)
    t_raw, n = best_of(args.repeat, lambda: raw_iteration(files))
    t_ingest, summary = best_of(args.repeat, lambda: ingest(Store(), [Path(args.evtx_dir)], Case()))
    t_inv, _ = best_of(args.repeat, lambda: skewsleuth.investigate([args.evtx_dir]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"corpus: {len(files)} files, {size / 1e6:.1f} MB, {n} records")
    print(f"raw evtx iteration (1 core): {t_raw:.3f} s  {n / t_raw:,.0f} records/s  (floor)")
    print(f"skewsleuth ingest:           {t_ingest:.3f} s  {summary.records / t_ingest:,.0f} records/s  "
          f"x{t_ingest / t_raw:.1f} the floor")
    print(f"skewsleuth investigate:      {t_inv:.3f} s  x{t_inv / t_raw:.1f} the floor")


if __name__ == "__main__":
    main()
