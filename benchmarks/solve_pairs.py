"""Clock reconstruction at fleet scale: segments and message pairs solved in one run.

    python benchmarks/solve_pairs.py [--hosts 2000] [--round-trips 500000] [--steps 4] [--undirected]

A synthetic fleet (tests/synth/fleet.py) with known clocks is loaded into a case
database; the benchmark times the clock model (segments, pair matching and reduction,
the cuts where pairs disagree, the difference-constraint solve), reports peak memory,
and checks every interval against the truth. With ``--undirected`` the same calls are
application log lines sharing a request id, none saying its direction: paired by
nesting (the client's two records bracket the server's) instead of by SIP direction. Targets: 10,000 segments and 1,000,000
message pairs in under 5 s and 2 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--round-trips", type=int, default=500_000, help="each is two message pairs")
    ap.add_argument("--steps", type=float, default=4.0, help="mean clock steps per host")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--undirected", action="store_true",
                    help="request ids with no direction (paired by nesting) instead of SIP transactions")
    args = ap.parse_args()

    from skewsleuth.case import Case
    from skewsleuth.clock.model import build_clock_model
    from skewsleuth.store import Store
    from synth.fleet import load_fleet, make_fleet

    t0 = time.perf_counter()
    fleet, events, truth = make_fleet(args.hosts, args.round_trips, steps_per_host=args.steps, seed=args.seed)
    store = Store()
    load_fleet(store, events, undirected=args.undirected)
    t_gen = time.perf_counter() - t0
    del events
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t1 = time.perf_counter()
    model = build_clock_model(store, Case(references=[fleet.hosts[0]], reference_accuracy_s=0.001))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_model = time.perf_counter() - t1

    # The solver alone on the final system: pairs reduced per segment pair, then every
    # interval from shortest paths (what the model did last, timed on its own).
    from skewsleuth.clock.model import _base_constraints
    from skewsleuth.clock.solve import solve
    from skewsleuth.timefmt import UTC_FORMAT
    case = Case(references=[fleet.hosts[0]], reference_accuracy_s=0.001)
    segs = [e.segment for e in model.segments]
    held_before = _reset_peak_rss()
    t2 = time.perf_counter()
    cons = _base_constraints(model.chains, segs, model.facts, store, case, UTC_FORMAT)
    t_reduce = time.perf_counter() - t2
    sol = solve(len(segs), cons)
    t_solve = time.perf_counter() - t2 - t_reduce
    solver_peak = _vm("VmHWM") - held_before

    store.con.register("truth", truth)
    rows = store.con.execute("""SELECT s.segment_id, min(t.offset_s), max(t.offset_s)
                                FROM event_segments s JOIN truth t USING (file_id, record_no) GROUP BY 1""").fetchall()
    held = sum(1 for seg, lo, hi in rows
               if model.segments[seg].interval.low - 1e-6 <= lo and hi <= model.segments[seg].interval.high + 1e-6)
    widths = sorted(model.segments[seg].interval.high - model.segments[seg].interval.low for seg, _, _ in rows)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    print(f"fleet: {args.hosts} hosts, {fleet.records:,} records, {2 * args.round_trips:,} message pairs, "
          f"{len(model.segments):,} segments (generated and loaded in {t_gen:.1f} s)"
          + (", request ids with no direction" if args.undirected else ", SIP"))
    print(f"clock model: {t_model:.2f} s, peak RSS {peak:,.0f} MB (before: {rss_before:,.0f} MB)")
    print(f"solver on the final system: {len(cons):,} constraints from the pairs reduced in {t_reduce:.2f} s, "
          f"solved in {t_solve:.2f} s ({len(sol.contradictions)} contradictions); "
          f"peak memory of the solver {solver_peak:,.0f} MB above the {held_before:,.0f} MB held")
    print(f"intervals holding the true offset: {held}/{len(rows)}; median width {widths[len(widths) // 2] * 1e3:.1f} ms; "
          f"contradictions {len(model.contradictions)}")


def _vm(field: str) -> float:
    """A /proc/self/status memory figure, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> float:
    """Reset the peak RSS (VmHWM) to the current RSS (Linux >= 4.0), and return it."""
    Path("/proc/self/clear_refs").write_text("5")
    return _vm("VmRSS")


if __name__ == "__main__":
    main()
