"""A kept case database (``--db``) on a collection of many real EVTX files: the CLI
without ``--db``, its first run with ``--db`` (every file parsed, the parse cache and the
database written) and a rerun with the same ``--db`` on the unchanged collection
(nothing parsed).

    python benchmarks/db_rerun.py [EVTX_DIR] [--hosts 38] [--repeat 3] [--keep DIR]
                                  [--checkout PATH]

The collection is the real samples (default tests/data/evtx, 23 files) copied into
``--hosts`` host folders (38: 874 files, the size of the collection of issue 20). Each
repeat runs the three in turn (``python -m skewsleuth investigate DIR -q --json FILE``,
as child processes), so that a busy machine slows all three alike. Target (issue 20):
the rerun at least twice as fast as the first ``--db`` run, and that one not much
slower than no ``--db``. Every verdict must be the same, byte for byte.

``--checkout PATH`` runs the CLI of another checkout of skewsleuth (the figures before a
change, on the same machine and collection). Prints the machine it ran on; copy the
output into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from evtx_ingest import _busy_cpu  # noqa: E402
from scale import machine  # noqa: E402


def lay_out(samples: list[Path], hosts: int, corpus: Path) -> list[Path]:
    """The samples copied into ``hosts`` folders, one per host, as collected."""
    for k in range(hosts):
        folder = corpus / f"win{k:04d}"
        folder.mkdir(parents=True)
        for f in samples:
            shutil.copy2(f, folder / f.name)
    return sorted(corpus.rglob("*.evtx"))


def run_cli(checkout: Path, corpus: Path, out: Path, db: Path | None) -> tuple[float, float]:
    """Wall time of one CLI run, and the CPU the machine was busy for meanwhile (worker
    processes included: see evtx_ingest._cli)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    args = [sys.executable, "-m", "skewsleuth", "investigate", str(corpus), "-q", "--json", str(out)]
    if db is not None:
        args += ["--db", str(db)]
    before = _busy_cpu()
    start = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=out.parent)
    took = time.perf_counter() - start
    if r.returncode not in (0, 1):
        sys.exit(f"skewsleuth failed (exit {r.returncode}): {r.stderr[-1000:]}")
    return took, _busy_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evtx_dir", nargs="?", default=str(ROOT / "tests" / "data" / "evtx"))
    parser.add_argument("--hosts", type=int, default=38, help="host folders, each with every sample")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the collection and the databases here, and keep them")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the skewsleuth checkout whose CLI runs")
    args = parser.parse_args()
    samples = sorted(Path(args.evtx_dir).glob("*.evtx"))
    if not samples:
        sys.exit(f"no .evtx files in {args.evtx_dir}")
    checkout = args.checkout.resolve()
    print(f"machine: {machine()}")
    print(f"skewsleuth: {checkout} ({_commit(checkout)})")
    work = args.keep or Path(tempfile.mkdtemp(prefix="db-rerun-bench-"))
    try:
        corpus = work / "corpus"
        if corpus.exists():
            shutil.rmtree(corpus)
        files = lay_out(samples, args.hosts, corpus)
        size = sum(f.stat().st_size for f in files)
        print(f"collection: {len(files)} files ({len(samples)} samples x {args.hosts} hosts), {size / 1e6:.0f} MB")
        runs: dict[str, list[tuple[float, float]]] = {"no --db": [], "--db, first run": [], "--db, rerun": []}
        verdicts: set[str] = set()
        db = work / "case.duckdb"
        for k in range(args.repeat):
            for p in (db, Path(f"{db}.parsed")):
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            for name, kept in (("no --db", None), ("--db, first run", db), ("--db, rerun", db)):
                out = work / f"verdict-{k}-{len(runs[name])}.json"
                runs[name].append(run_cli(checkout, corpus, out, kept))
                verdicts.add(hashlib.sha256(out.read_bytes()).hexdigest())
                out.unlink()
            print(f"repeat {k + 1}: " + ", ".join(f"{n} {r[-1][0]:.2f} s" for n, r in runs.items()), flush=True)
        cache = sum(p.stat().st_size for p in Path(f"{db}.parsed").iterdir())
        print(f"case database {db.stat().st_size / 1e6:.1f} MB, parse cache {cache / 1e6:.1f} MB "
              f"({len(list(Path(f'{db}.parsed').glob('*.json')))} entries)")
        for name, r in runs.items():
            walls = sorted(w for w, _ in r)
            print(f"{name:16s} best {walls[0]:6.2f} s  all {', '.join(f'{w:.2f}' for w, _ in r)} s  "
                  f"(machine busy {min(c for _, c in r):.1f} s of CPU at best)")
        first, rerun, plain = (min(w for w, _ in runs[n]) for n in ("--db, first run", "--db, rerun", "no --db"))
        print(f"rerun: x{first / rerun:.2f} faster than the first --db run (target: 2), "
              f"x{plain / rerun:.2f} than no --db; first --db run x{first / plain:.2f} the time of no --db")
        print(f"verdicts: {'all the same' if len(verdicts) == 1 else f'{len(verdicts)} DIFFERENT'}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _commit(checkout: Path) -> str:
    r = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "not a git checkout"


if __name__ == "__main__":
    main()
