"""NTP probe at fleet scale: 10,000 NTP targets on loopback measured in one run.

    python benchmarks/probe_ntp.py [--targets 10000] [--samples 4] [--concurrency 256]

The targets are not 10,000 chronyds: one process (``python -m synth.ntp`` from tests/)
answers SNTP on as many loopback ports, each a server whose clock is ``--offset``
seconds off, from a separate process so that the prober and the servers do not share a
core. Each target is probed as ``skewsleuth probe`` would (several samples per target,
every reply validated, the least-delay one kept), all through the prober's one shared
socket. Target (issue 4): 10,000 targets in under 10 s on a 2-core machine. The
benchmark checks that every target was measured and that every interval holds the
servers' true offset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=4, help="NTP requests per target")
    ap.add_argument("--interval", type=float, default=0.0, help="pause between one target's requests")
    ap.add_argument("--concurrency", type=int, default=256, help="as the CLI's default")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--offset", type=float, default=-18000.0, help="the servers' clock offset, s")
    args = ap.parse_args()

    from skewsleuth.probe import probe

    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    # synth.ntp is a test-data generator: it lives in tests/, not in the package.
    path = [str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    servers = subprocess.Popen([sys.executable, "-m", "synth.ntp", "--count", str(args.targets),
                                "--offset", str(args.offset)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        t0 = time.perf_counter()
        ports = json.loads(servers.stdout.readline())
        print(f"responders: {len(ports):,} SNTP servers on 127.0.0.1 in one process (pid {servers.pid}), "
              f"clock offset {args.offset:+g} s, ready in {time.perf_counter() - t0:.1f} s")
        targets = [f"ntp://127.0.0.1:{p}" for p in ports]
        t1 = time.perf_counter()
        results = probe(targets, samples=args.samples, interval=args.interval, concurrency=args.concurrency,
                        timeout=args.timeout)
        elapsed = time.perf_counter() - t1
    finally:
        servers.terminate()
        servers.wait(10)
    ok = [m for m in results if m.ok]
    held = sum(abs(m.offset_s - args.offset) <= m.uncertainty_s for m in ok)
    sent = sum(m.samples_sent for m in results)
    unc = sorted(m.uncertainty_s for m in ok)
    errors: dict[str, int] = {}
    for m in results:
        if not m.ok:
            errors[m.error] = errors.get(m.error, 0) + 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"probe: {len(results):,} targets, {args.samples} samples each ({sent:,} requests), concurrency "
          f"{args.concurrency}: {elapsed:.2f} s ({len(results) / elapsed:,.0f} targets/s, {sent / elapsed:,.0f} "
          f"requests/s), peak RSS {peak:,.0f} MB")
    print(f"measured: {len(ok):,}/{len(results):,}; intervals holding the true offset: {held:,}/{len(ok):,}; "
          f"uncertainty median {unc[len(unc) // 2] * 1e3:.2f} ms, max {unc[-1] * 1e3:.2f} ms" if unc else "measured: 0")
    for e, n in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  unmeasured x{n}: {e}")
    print(f"target (10,000 targets under 10 s): {'met' if len(results) >= 10_000 and elapsed < 10 and len(ok) == len(results) else 'NOT met'}")


if __name__ == "__main__":
    main()
