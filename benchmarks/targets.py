"""Every speed target of issue 22 (and those it keeps from issues 3 and 6), measured side
by side in one run, so that their figures share one machine and one load.

    python benchmarks/targets.py OUT [--quick] [--with-10m] [--plaso PATH]

Runs, one after another, each benchmark script of this folder with the arguments below
and keeps its report verbatim in ``OUT/<name>.txt``; prints the machine, the load
average before and after each, and how long each took. The figures are read from the
reports (each script prints its targets beside its figures); docs/benchmarks.md
quotes them.

- ``startup``: ``--version``, ``--help`` and one small file of each kind (startup.py).
- ``collection``: 4,000 EVTX files of 10 hosts against raw ``evtx`` iteration, one
  400-file host and the 23 samples against plaso's log2timeline (collection.py).
- ``text``: event XML with LF and CRLF, journald, JSON Lines and RFC 3164
  column-wise (text_formats.py).
- ``scale-text``: lines per second of event XML, JSON Lines (applog), journald, RFC 3164 and
  SIPStack (scale.py text).
- ``db-rerun``: a ``--db`` rerun against the first run and no ``--db`` (db_rerun.py).
- ``solver``: 1,000,000 message pairs on 10,000 segments (solve_pairs.py).
- ``scale-10m`` (``--with-10m``): 10 M events from 1,000 hosts, peak memory (scale.py
  whole; about 5 minutes more).

``--quick`` runs each with fewer repeats and smaller corpora, to try the harness.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import machine  # noqa: E402

SAMPLES = HERE.parent.parent / "shared" / "data" / "evtx"


def plan(out: Path, quick: bool, with_10m: bool, plaso: str | None) -> list[tuple[str, list[str]]]:
    repeat = "1" if quick else "3"
    runs = [
        ("startup", ["startup.py", "--repeat", "2" if quick else "7"]),
        ("collection", ["collection.py", str(out / "collection"), "--bench", "--repeat", repeat]
         + (["--hosts", "2"] if quick else []) + (["--plaso", plaso] if plaso else [])),
        ("text", ["text_formats.py", "--repeat", repeat, "--tmp", str(out / "text"),
                  "--lines", "20000" if quick else "200000", "--events", "300" if quick else "2000"]),
        ("scale-text", ["scale.py", "text", "--formats", "eventxml,applog,journald,rfc3164,sipstack",
                        "--lines", "50000" if quick else "1000000"]),
        ("db-rerun", ["db_rerun.py", str(SAMPLES), "--repeat", repeat, "--hosts", "4" if quick else "38"]),
        ("solver", ["solve_pairs.py"]),
    ]
    if with_10m:
        runs.append(("scale-10m", ["scale.py", "whole"]))
    return runs


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("out", type=Path, help="folder for the corpora and the reports (made if missing)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller corpora")
    p.add_argument("--with-10m", action="store_true", help="also 10 M events from 1,000 hosts")
    p.add_argument("--plaso", default=shutil.which("log2timeline.py") or shutil.which("log2timeline")
                   or ("/opt/plaso-venv/bin/log2timeline" if Path("/opt/plaso-venv/bin/log2timeline").exists() else None),
                   help="plaso's log2timeline (default: on PATH, else /opt/plaso-venv)")
    p.add_argument("--only", help="comma-separated names of the runs to do")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "text").mkdir(exist_ok=True)
    print(f"machine: {machine()}")
    print(f"commit: {_commit()}")
    runs = plan(args.out, args.quick, args.with_10m, args.plaso)
    if args.only:
        runs = [r for r in runs if r[0] in args.only.split(",")]
    failed = []
    for name, argv in runs:
        report = args.out / f"{name}.txt"
        before, t0 = load(), time.perf_counter()
        with open(report, "w") as fh:
            r = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], stdout=fh, stderr=subprocess.STDOUT,
                               cwd=HERE.parent)
        took = time.perf_counter() - t0
        print(f"{name:11} {took:7.1f} s  exit {r.returncode}  load before {before}, after {load()}  -> {report}")
        if r.returncode:
            failed.append(name)
    sys.exit(1 if failed else 0)


def _commit() -> str:
    r = subprocess.run(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
