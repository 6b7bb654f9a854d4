"""Start-up: what a person waits for on a small job (issue 22). The command line as
its console script runs it, for ``--version``, ``--help`` and investigating one small
file of each kind (a real EVTX sample, syslog, Windows event XML, a journald export;
the text files written by tests/synth, ~200 records each), with and without
``--json -``.

    python benchmarks/startup.py [--repeat 7] [--checkout PATH] [--keep DIR]

Each command runs ``--repeat`` times, every command in turn on each round so that a
busy machine slows all alike; the best wall time is kept, with the CPU time (user +
system) of that run, which a shared machine disturbs less. ``python -c pass`` is timed
beside them: no command can start faster than the interpreter does.

Targets (issue 22): ``--version`` under 0.15 s, investigating one small file under
0.5 s, wall.

``--checkout PATH`` times another checkout of skewsleuth in the same rounds (the
figures before a change), and checks that both print the same bytes with the same
exit status for every command. Both checkouts are compiled to bytecode first, as an
installation is (a run with PYTHONDONTWRITEBYTECODE set would otherwise compile every
module on every start). Prints the machine and its load; copy the output into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from scale import machine  # noqa: E402
from synth.small import small_files  # noqa: E402

TARGETS = {"version": 0.15, "investigate": 0.5}
# What the console script pip writes does, less its argv[0] rewriting.
ENTRY = "import sys\nfrom skewsleuth.cli import main\nsys.exit(main())\n"


@dataclass
class Timing:
    wall: float = float("inf")
    cpu: float = 0.0
    outputs: set = field(default_factory=set)   # (status, stdout) of every run


def commands(files: dict[str, Path]) -> list[tuple[str, str, list[str]]]:
    """(label, target key, arguments after the interpreter)."""
    cmds = [("python -c pass", "", ["-c", "pass"]),
            ("skewsleuth --version", "version", ["{entry}", "--version"]),
            ("skewsleuth --help", "", ["{entry}", "--help"])]
    for kind, path in files.items():
        cmds.append((f"investigate {kind}", "investigate", ["{entry}", "investigate", str(path)]))
        cmds.append((f"investigate {kind} --json -", "investigate", ["{entry}", "investigate", str(path), "--json", "-"]))
    return cmds


def run_once(args: list[str], checkout: Path, cwd: Path) -> tuple[float, float, int, bytes]:
    """Wall time, CPU time (user + system, its own child processes included), exit
    status and stdout of one run."""
    env = dict(os.environ, PYTHONPATH=str(checkout), COLUMNS="100")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r.returncode, r.stdout


def run(a: argparse.Namespace, tmp: Path) -> None:
    checkouts = {"this": ROOT} | ({"reference": a.checkout.resolve()} if a.checkout else {})
    for checkout in checkouts.values():
        compileall.compile_dir(checkout / "skewsleuth", quiet=1)
    (tmp / "entry.py").write_text(ENTRY)
    files = small_files(tmp / "corpus")
    cmds = commands(files)
    print(f"# skewsleuth start-up, best of {a.repeat}")
    print(f"machine: {machine()}")
    for name, path in files.items():
        print(f"  {name}: {path.name}, {path.stat().st_size:,} bytes")
    timings = {(label, which): Timing() for label, _, _ in cmds for which in checkouts}
    for _ in range(a.repeat):
        for label, _, args in cmds:
            for which, checkout in checkouts.items():
                wall, cpu, status, out = run_once([x.format(entry=tmp / "entry.py") for x in args], checkout, tmp)
                t = timings[label, which]
                if wall < t.wall:
                    t.wall, t.cpu = wall, cpu
                t.outputs.add((status, out.replace(str(tmp).encode(), b"<tmp>")))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print()
    head = "| command | target | wall | cpu |" + (" reference wall | reference cpu | same output |" if a.checkout else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for label, key, _ in cmds:
        t = timings[label, "this"]
        target = TARGETS.get(key)
        mark = "" if target is None else (f"< {target:.2f} s " + ("met" if t.wall < target else "**not met**"))
        row = f"| {label} | {mark} | {t.wall:.3f} s | {t.cpu:.3f} s |"
        if a.checkout:
            ref = timings[label, "reference"]
            same = "yes" if t.outputs == ref.outputs and len(t.outputs) == 1 else "**no**"
            row += f" {ref.wall:.3f} s | {ref.cpu:.3f} s | {same} |"
        print(row)
    unstable = [label for label, _, _ in cmds if len(timings[label, "this"].outputs) != 1]
    if unstable:
        print(f"\noutput differed between runs of: {', '.join(unstable)}")
    where_the_time_goes(tmp, files["evtx"])


# Top-level packages counted together in the import breakdown.
GROUPS = {"pyarrow": "pyarrow + numpy", "numpy": "pyarrow + numpy", "cloudpickle": "pyarrow + numpy",
          "typer": "typer + rich", "rich": "typer + rich", "click": "typer + rich",
          "pydantic": "pydantic (typer's coercion)", "pydantic_core": "pydantic (typer's coercion)",
          "annotated_types": "pydantic (typer's coercion)", "typing_inspection": "pydantic (typer's coercion)",
          "duckdb": "duckdb", "_duckdb": "duckdb", "skewsleuth": "skewsleuth", "yaml": "yaml", "_yaml": "yaml"}


def where_the_time_goes(tmp: Path, path: Path) -> None:
    """One run of investigating ``path`` under ``-X importtime``: the import time of
    each group of packages (their own time, summed), and the rest of the run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-X", "importtime", str(tmp / "entry.py"), "investigate", str(path), "-q"],
                       capture_output=True, text=True, env=env, cwd=tmp)
    wall = time.perf_counter() - start
    spent: dict[str, float] = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line[len("import time:"):].split("|"))
        group = GROUPS.get(name.split(".")[0], "the rest (standard library, site, evtx, ...)")
        spent[group] = spent.get(group, 0.0) + int(own) / 1e6
    print(f"\nwhere the time goes: one run of investigate {path.name} -q under -X importtime, {wall:.3f} s wall "
          f"(importtime's own cost included)")
    for group, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  import {group}: {seconds:.3f} s")
    print(f"  everything but imports (interpreter start, parsing, the investigation, output): "
          f"{wall - sum(spent.values()):.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--checkout", type=Path, help="another checkout of skewsleuth, timed beside this one")
    ap.add_argument("--keep", type=Path, help="write the small files here and keep them")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skewsleuth-startup-")) if a.keep is None else a.keep
    try:
        run(a, tmp)
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
