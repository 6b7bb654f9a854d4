"""Scale: text throughput per format, and a whole investigation of a large fleet.

    python benchmarks/scale.py text  [--lines 1000000] [--formats sipstack,rfc3164,...] [--profile]
    python benchmarks/scale.py whole [--hosts 1000] [--events 10000000] [--keep DIR] [--stages]
    python benchmarks/scale.py duplicates [--events 10000000]
    python benchmarks/scale.py all   (text and whole, default sizes)

``text`` writes, for each text format alone, a corpus of about ``--lines`` lines
(tests/synth/corpus.py) and times skewsleuth's ingest of it on one core
(``skewsleuth.reading.ingest.ingest`` into a fresh in-memory ``Store`` with ``workers=1``),
next to the time Python takes only to read the same files line by line (the floor of
any pure-Python reader). Target (issue 6): 500,000 lines/s per core.

``whole`` writes a fleet of ``--hosts`` hosts and ``--events`` records (every text
format, clock faults, two incidents) and runs ``skewsleuth investigate DIR --json
FILE`` as a child process: wall time, the child's peak RSS (``ru_maxrss`` of
RUSAGE_CHILDREN, and its RSS sampled every half second from /proc), events/s, and
whether the verdict names the culprits of the truth. Target (issue 6): 10 million
events from 1,000 hosts under 2 GB. ``--stages`` runs the investigation in a child
that times each stage of the pipeline and reads its RSS and high-water mark after it
(VmHWM is reset before each stage through /proc/self/clear_refs).

``duplicates`` times the duplicate check alone on case databases filled in SQL (under
the same 1 GB memory limit, about 300 bytes of text a record): ``--events`` records
with no copies, then as many with a third of them copied into other files, then one
third of them copied 20 times. Where it joins records' text matters more than anything
at this size: a plan that built a join on the events spilled all their text to disk.

Corpora are written under ``--tmp`` (default: the system's temporary folder) and
deleted afterwards unless ``--keep`` names where to write them. Prints the machine it
ran on; copy the output into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synth.corpus import FORMATS, SNIFFED, write_corpus  # noqa: E402


def machine() -> str:
    import duckdb
    import numpy
    import pyarrow

    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 ** 2:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{platform.machine()}, {cpu}, nproc {os.cpu_count()}{mem}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, DuckDB {duckdb.__version__}, pyarrow {pyarrow.__version__}, "
            f"numpy {numpy.__version__}; load average {os.getloadavg()[0]:.2f} at start")


def _rss_mb() -> tuple[float, float]:
    """This process's RSS and high-water mark (VmHWM), MB."""
    rss = hwm = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


# ----------------------------------------------------------------------------------
# (a) text throughput per format


def read_lines(folder: Path) -> int:
    """The floor of a pure-Python reader: read every line, nothing else."""
    n = 0
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != "case.yml":
            with open(f, encoding="utf-8", errors="replace", newline="") as fh:
                for _ in fh:
                    n += 1
    return n


def text_throughput(args) -> list[dict]:
    from skewsleuth.case import Case
    from skewsleuth.reading.ingest import ingest
    from skewsleuth.store import Store

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    rows = []
    # Per core means one core: DuckDB's and Arrow's thread pools would otherwise use
    # the others. The process is held to one CPU while it measures.
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    print(f"(a) text throughput per format, about {args.lines:,} lines each, ingest with workers=1, "
          f"pinned to one CPU, best of {args.repeat}")
    print(f"{'format':10} {'records':>10} {'lines':>10} {'MB':>7} {'ingest s':>9} {'lines/s':>10} "
          f"{'records/s':>10} {'MB/s':>6} {'read-only lines/s':>18} {'vs target':>9}")
    for fmt in formats:
        base = Path(tempfile.mkdtemp(prefix=f"skewsleuth-text-{fmt}-", dir=args.tmp))
        try:
            probe = write_corpus(base / "probe", 2, 4_000, formats=[fmt], incident=False, faults=0.0)
            per_event = probe.lines / probe.events
            events = max(1_000, int(args.lines / per_event))
            truth = write_corpus(base / "c", args.text_hosts, events, formats=[fmt], incident=False,
                                 faults=args.faults, seed=2)
            folder = truth.root
            t_read = min(_timed(lambda: read_lines(folder))[0] for _ in range(args.repeat))
            best, summary, prof = float("inf"), None, None
            for _ in range(args.repeat):
                store = Store()
                if args.profile:
                    import cProfile

                    prof = cProfile.Profile()
                    prof.enable()
                t, summary = _timed(lambda: ingest(store, [folder], Case(), workers=1))
                if args.profile:
                    prof.disable()
                best = min(best, t)
                got = store.con.execute("SELECT DISTINCT format FROM files WHERE format <> 'case'").fetchall()
                store.con.close()
            assert got == [(SNIFFED[fmt],)], got
            assert summary.records == truth.events + 0 and summary.quarantined == 0, summary
            row = {"format": fmt, "records": truth.events, "lines": truth.lines, "mb": truth.bytes / 1e6,
                   "seconds": best, "lines_s": truth.lines / best, "records_s": truth.events / best,
                   "read_lines_s": truth.lines / t_read}
            rows.append(row)
            print(f"{fmt:10} {truth.events:>10,} {truth.lines:>10,} {row['mb']:>7.1f} {best:>9.2f} "
                  f"{row['lines_s']:>10,.0f} {row['records_s']:>10,.0f} {row['mb'] / best:>6.1f} "
                  f"{row['read_lines_s']:>18,.0f} {row['lines_s'] / 500_000:>8.2f}x", flush=True)
            if prof is not None:
                import pstats

                pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    os.sched_setaffinity(0, cores)
    return rows


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ----------------------------------------------------------------------------------
# (b) the whole investigation


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (its worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def _rss_of(pid: int) -> float | None:
    """A process's RSS in MB; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class _Sampler(threading.Thread):
    """The child's RSS every ``every`` seconds, from /proc/PID/status, and the sum over
    it and its worker processes (``tree``; shared pages counted in each)."""

    def __init__(self, pid: int, every: float = 0.5, kill_above_mb: float | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.kill_above_mb = pid, every, kill_above_mb
        self.samples: list[tuple[float, float]] = []
        self.tree: list[float] = []
        self.killed: tuple[float, float] | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop.is_set():
            try:
                rss = _rss_of(self.pid)
                if rss is not None:
                    self.samples.append((time.perf_counter() - start, rss))
                self.tree.append(sum(_rss_of(p) or 0.0 for p in _tree(self.pid)))
                if self.kill_above_mb and self.samples and self.samples[-1][1] > self.kill_above_mb:
                    self.killed = self.samples[-1]
                    os.kill(self.pid, 9)
                    return
            except OSError:
                pass
            self.stop.wait(self.every)


def whole(args) -> dict:
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="skewsleuth-scale-", dir=args.tmp))
    corpus = base / "fleet"
    try:
        if corpus.exists() and (base / "truth.json").exists():
            truth = json.loads((base / "truth.json").read_text())
            print(f"(b) reusing {corpus}: {truth['events']:,} events, {len(truth['hosts']):,} hosts")
        else:
            print(f"(b) writing {args.events:,} events from {args.hosts:,} hosts to {corpus} ...", flush=True)
            t = write_corpus(corpus, args.hosts, args.events, seed=args.seed, faults=args.faults)
            truth = t.to_dict()
            (base / "truth.json").write_text(json.dumps(truth))
            print(f"    written in {t.seconds:.1f} s: {t.lines:,} lines, {t.bytes / 1e9:.2f} GB "
                  f"({t.lines / t.seconds:,.0f} lines/s, {t.events / t.seconds:,.0f} events/s)", flush=True)
        verdict_path = base / "verdict.json"
        if args.stages:
            cmd = [sys.executable, str(Path(__file__).resolve()), "_stages", str(corpus), str(verdict_path)]
        else:
            cmd = [sys.executable, "-m", "skewsleuth", "investigate", str(corpus), "--json", str(verdict_path)]
        cmd_text = " ".join(cmd)
        print(f"    $ {cmd_text}", flush=True)
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sampler = _Sampler(child.pid, kill_above_mb=args.max_rss_mb)
        sampler.start()
        lines: list[str] = []

        def echo() -> None:
            # the stages as they end, and whatever the child says on stderr
            assert child.stderr is not None
            for line in child.stderr:
                lines.append(line)
                if args.stages:
                    print(line.rstrip(), flush=True)
        reader = threading.Thread(target=echo, daemon=True)
        reader.start()
        try:
            child.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            print(f"    stopped after --timeout {args.timeout:.0f} s")
        reader.join()
        err = "".join(lines)
        wall = time.perf_counter() - start
        if sampler.killed:
            print(f"    stopped at {sampler.killed[0]:.0f} s: RSS {sampler.killed[1]:,.0f} MB above "
                  f"--max-rss-mb {args.max_rss_mb:,.0f}")
        sampler.stop.set()
        sampler.join()
        # --stages resets the child's high-water mark before each stage: then the samples
        # and the stages' own peaks tell the peak.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        peak = max([peak] + [mb for _, mb in sampler.samples])
        if args.stages and err:
            peak = max([peak] + [float(w.replace(",", "")) for line in err.splitlines() if "peak during" in line
                                 for w in [line.split("peak during")[1].split()[0]]])
        tree = max(sampler.tree, default=0.0)
        result = {"events": truth["events"], "hosts": len(truth["hosts"]), "seconds": wall,
                  "peak_rss_mb": peak, "peak_tree_rss_mb": tree, "exit": child.returncode}
        print(f"    exit {child.returncode} in {wall:.1f} s, peak RSS {peak:,.0f} MB "
              f"(target 2,048 MB), with its worker processes {tree:,.0f} MB (sampled), "
              f"{truth['events'] / wall:,.0f} events/s")
        if child.returncode not in (0, 1):
            print("    stderr: " + (err or "")[-2000:])
            return result
        if sampler.samples:
            step = max(1, len(sampler.samples) // 24)
            trace = ", ".join(f"{t:.0f}s {mb:,.0f}" for t, mb in sampler.samples[::step])
            print(f"    RSS over time (MB): {trace}")
        _check(truth, json.loads(verdict_path.read_text()))
        return result
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def _check(truth: dict, verdict: dict) -> None:
    """How the verdict compares with the truth."""
    print(f"    ingest: {verdict['ingest']}")
    hosts = {h["host"]: h for h in verdict["hosts"]}
    held = missed = unbounded = 0
    for h in truth["hosts"]:
        if h["fault"] == "none":
            continue
        segs = hosts.get(h["host"], {}).get("segments", [])
        finite = [s for s in segs if s["offset_low_s"] is not None and s["offset_high_s"] is not None]
        if not finite:
            unbounded += 1
            continue
        offs = [o["offset_s"] for o in h["offsets"]]
        ok = all(any(s["offset_low_s"] - 1e-3 <= o <= s["offset_high_s"] + 1e-3 for o in offs) for s in finite)
        held += ok
        missed += not ok
    print(f"    faulted hosts: {held} with every bounded segment holding one of their true offsets, "
          f"{missed} not, {unbounded} unbounded (no evidence)")
    for want in truth["incidents"]:
        inc = next((i for i in verdict["incidents"] if want["signature"] in i["signatures"]), None)
        top = inc["root_causes"][0] if inc and inc["root_causes"] else None
        print(f"    incident {want['signature']}: expected {want['host']} {want['offset_s']:+.0f} s; "
              + (f"found onset {inc['onset']}, {inc['symptoms']} symptoms, rank 1 {top['host']} "
                 f"{top['offset_s']:+.1f} s" if top else "NOT FOUND"))
    print(f"    incidents in the verdict: {len(verdict['incidents'])}")


def _stages(corpus: str, verdict_path: str) -> None:
    """Child process: investigate with every pipeline stage timed and measured."""
    import skewsleuth.investigation as inv
    from skewsleuth.report.json import write_json

    marks: list[tuple[str, float, float, float, float]] = []

    def wrap(name: str):
        fn = getattr(inv, name)

        def timed(*a, **kw):
            _reset_hwm()
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                rss, hwm = _rss_mb()
                marks.append((name, time.perf_counter() - start, rss, hwm, _duckdb_mb(a)))
                print(f"    stage {name:20} {marks[-1][1]:8.1f} s   RSS after {rss:8,.0f} MB   "
                      f"peak during {hwm:8,.0f} MB   DuckDB {marks[-1][4]:8,.0f} MB", file=sys.stderr, flush=True)
        setattr(inv, name, timed)

    for name in ("ingest", "canonicalise", "drop_duplicates", "build_clock_model", "match_rules",
                 "find_incidents", "diagnose"):
        if hasattr(inv, name):
            wrap(name)
    v = inv.investigate([corpus])
    write_json(v.to_dict(), verdict_path)
    con = v.store.con
    rows = con.execute("SELECT count(*), sum(length(message)), sum(length(data)) FROM events").fetchall()[0]
    print(f"    events table: {rows[0]:,} rows, message {rows[1] / 1e6 if rows[1] else 0:,.0f} MB of text, "
          f"data {rows[2] / 1e6 if rows[2] else 0:,.0f} MB of JSON text", file=sys.stderr)
    for tag, mb in con.execute("SELECT tag, memory_usage_bytes / 1e6 FROM duckdb_memory() "
                               "WHERE memory_usage_bytes > 1e6 ORDER BY 2 DESC").fetchall():
        print(f"    duckdb_memory {tag:20} {mb:8,.0f} MB", file=sys.stderr)


def _duckdb_mb(args) -> float:
    for a in args:
        con = getattr(a, "con", None)
        if con is not None:
            try:
                return con.execute("SELECT sum(memory_usage_bytes) / 1e6 FROM duckdb_memory()").fetchall()[0][0]
            except Exception:  # noqa: BLE001 - a measurement, not the pipeline
                return float("nan")
    return float("nan")


def duplicates(args) -> None:
    from skewsleuth.normalise import drop_duplicates
    from skewsleuth.store import Store

    n = args.events
    for label, copies, share in (("no copies", 0, 0.0), ("a third copied once", 1, 1 / 3),
                                 ("a twentieth copied 20 times", 20, 1 / 20)):
        store = Store()
        try:
            # Records of 10,000 per file; the copies go to files of their own, as a log
            # collected twice would.
            originals = n if not copies else int(n / (1 + copies * share))
            store.con.execute(f"""
                INSERT INTO events BY NAME
                SELECT (i // 10000)::INTEGER AS file_id, i % 10000 AS record_no, NULL AS record_id,
                       'host' || (i // 10000) AS host, TIMESTAMPTZ '2024-01-01' + to_microseconds(i) AS logged,
                       'syslog' AS format, 'app' AS channel, NULL AS provider, NULL AS event_id,
                       'message number ' || i || repeat(' padding', 12) AS message,
                       '{{"k":' || i || ',"pad":"' || repeat('y', 180) || '"}}' AS data
                FROM range({originals}) t(i)""")
            for c in range(1, copies + 1):
                store.con.execute(f"""INSERT INTO events BY NAME SELECT * REPLACE (file_id + {c * 1_000_000} AS file_id)
                                      FROM events WHERE file_id < 1000000 AND hash(file_id) % 1000 < {share * 1000}""")
            total = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
            _reset_hwm()
            took, dropped = _timed(lambda: drop_duplicates(store))
            print(f"    {label:28s} {total:>12,} records: {dropped:>11,} dropped in {took:6.2f} s, "
                  f"peak RSS during it {_rss_mb()[1]:,.0f} MB", flush=True)
        finally:
            store.close()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_stages":
        _stages(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("text", "whole", "duplicates", "all"), nargs="?", default="all")
    p.add_argument("--lines", type=int, default=1_000_000, help="(text) lines per format (default 1,000,000)")
    p.add_argument("--formats", default=",".join(FORMATS), help="(text) comma-separated formats")
    p.add_argument("--text-hosts", type=int, default=10, help="(text) hosts per format corpus (default 10)")
    p.add_argument("--repeat", type=int, default=1, help="(text) runs per format, best kept (default 1)")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="(text) print the N costliest functions")
    p.add_argument("--hosts", type=int, default=1_000, help="(whole) hosts (default 1,000)")
    p.add_argument("--events", type=int, default=10_000_000,
                   help="(whole, duplicates) records in all (default 10,000,000)")
    p.add_argument("--faults", type=float, default=0.1, help="share of hosts with a wrong clock (default 0.1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stages", action="store_true", help="(whole) time and measure each pipeline stage")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="(whole) seconds before giving up")
    p.add_argument("--max-rss-mb", type=float, default=None, help="(whole) stop the child above this RSS")
    p.add_argument("--keep", help="(whole) write the corpus under this folder and keep it (reused if there)")
    p.add_argument("--tmp", default=None, help="where corpora are written (default: the temporary folder)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    if args.what in ("text", "all"):
        text_throughput(args)
    if args.what in ("whole", "all"):
        whole(args)
    if args.what == "duplicates":
        duplicates(args)


if __name__ == "__main__":
    main()
