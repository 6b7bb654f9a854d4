"""Issue 22, text formats: event XML whatever its line ends, journald and JSON Lines column-wise.

    python benchmarks/text_formats.py [--events 2000] [--lines 200000] [--repeat 5] [--store 1000000 [--only-store]]

(a) An Event Viewer export of ``--events`` Security 4624 events, each with a message
of its own over several lines, written with LF, CRLF, and as UTF-16 with CRLF (as
Event Viewer and PowerShell write it): ``eventxml.read`` on each, and how many events
went through the XML parser rather than a template (``read(ctx, templates=False)``,
every event parsed, is the peer).

(b) A journald corpus of about ``--lines`` lines, an RFC 3164 and a JSON Lines one of
as many (tests/synth/corpus.py, 10 hosts): each format's reader column-wise (the default)
and per line (``columnar=False``, the reference it must equal), side by side.

(c) Half as many journal entries as ``journalctl -o json`` writes them (the trusted
fields, the cursor, the command line: 25 fields, about 1 KB a line, where the corpus
writes 9 fields in 360 bytes), column-wise and per line.

(d) Half as many JSON lines as five real loggers write them (zap, logback's logstash
encoder, bunyan, python-json-logger, pino with a nested object), column-wise and per
line.

(e) With ``--store N``: a journald corpus of N lines read, then its batches appended
to a fresh case database as ingest appends them, with DuckDB's checkpoints as they
come (each compresses the rows appended since the one before: what an ingest of a
million lines pays and one of 200,000 does not) and with them put off until one
checkpoint at the end; the database's memory before and after that checkpoint.

One CPU (``sched_setaffinity``), best of ``--repeat``, readers only (no case
database) but in (e); prints the machine and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scale import machine  # noqa: E402
from synth.corpus import write_corpus  # noqa: E402

from skewsleuth.sources import applog, eventxml, journald, syslog  # noqa: E402
from skewsleuth.sources.base import FileContext  # noqa: E402


def _ctx(path: Path) -> FileContext:
    return FileContext(path=path, file_id=1, default_host="h", timezone=ZoneInfo("UTC"))


def _rows(read, paths: list[Path], **kw) -> int:
    return sum(b.num_rows for p in paths for b in read(_ctx(p), **kw))


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def line_ends(base: Path, events: int, repeat: int) -> None:
    # the second host of a corpus keeps its Security log, with about half its events
    truth = write_corpus(base / "x", 2, 2 * events, formats=["eventxml"], incident=False, faults=0.0, seed=3)
    security = next(Path(truth.root).rglob("Security.xml"))
    n = iter(range(10**9))
    text = re.sub("&#10;", lambda m: f"\nLogon ID:\t0x{next(n):x}\n", security.read_text())
    files = {"LF": text.encode(), "CRLF": text.replace("\n", "\r\n").encode(),
             "UTF-16 CRLF": text.replace("\n", "\r\n").encode("utf-16")}
    print(f"(a) event XML, {text.count('</Event>'):,} Security events, messages over several lines, each its own")
    print(f"{'line ends':12} {'templates s':>11} {'parsed':>7} {'parser only s':>13} {'ratio':>6}")
    render = eventxml._render_json
    for name, data in files.items():
        p = base / f"{name.replace(' ', '-')}.xml"
        p.write_bytes(data)
        parsed = []
        eventxml._render_json = lambda t: parsed.append(1) or render(t)
        try:
            fast = _best(lambda: _rows(eventxml.read, [p]), repeat)
            parses = len(parsed) // repeat
        finally:
            eventxml._render_json = render
        ref = _best(lambda: _rows(eventxml.read, [p], templates=False), repeat)
        print(f"{name:12} {fast:>11.3f} {parses:>7,} {ref:>13.3f} {ref / fast:>5.1f}x", flush=True)


def columnar(base: Path, lines: int, repeat: int) -> None:
    print(f"(b) column-wise against per-line readers, about {lines:,} lines, 10 hosts")
    print(f"{'format':10} {'lines':>9} {'column-wise s':>13} {'lines/s':>10} {'per line s':>10} {'lines/s':>10} {'ratio':>6}")
    for fmt, module in (("rfc3164", syslog), ("journald", journald), ("applog", applog)):
        truth = write_corpus(base / fmt, 10, lines, formats=[fmt], incident=False, faults=0.1, seed=2)
        paths = sorted(p for p in Path(truth.root).rglob("*") if p.is_file() and p.name != "case.yml")
        fast = _best(lambda: _rows(module.read, paths), repeat)
        ref = _best(lambda: _rows(module.read, paths, columnar=False), repeat)
        print(f"{fmt:10} {truth.lines:>9,} {fast:>13.3f} {truth.lines / fast:>10,.0f} {ref:>10.3f} "
              f"{truth.lines / ref:>10,.0f} {ref / fast:>5.1f}x", flush=True)


def journalctl_lines(n: int) -> str:
    """``n`` entries with the fields journalctl writes for a service's message."""
    rnd = random.Random(1)
    boot, machine_id = f"{rnd.getrandbits(128):032x}", f"{rnd.getrandbits(128):032x}"
    units = ("sshd.service", "cron.service", "chronyd.service", "systemd-logind.service", "NetworkManager.service")
    t, mono, out = 1709535569982019, 567164326567, []
    for i in range(n):
        t += rnd.randint(1000, 3_000_000)
        mono += rnd.randint(1000, 3_000_000)
        unit = rnd.choice(units)
        comm = unit.split(".")[0]
        out.append(json.dumps({
            "__CURSOR": f"s={boot};i={i:x};b={boot};m={mono:x};t={t:x};x={rnd.getrandbits(64):x}",
            "__REALTIME_TIMESTAMP": str(t), "__MONOTONIC_TIMESTAMP": str(mono), "_BOOT_ID": boot,
            "_MACHINE_ID": machine_id, "_HOSTNAME": "web01", "PRIORITY": str(rnd.choice((3, 4, 5, 6, 6, 6, 7))),
            "SYSLOG_FACILITY": str(rnd.choice((3, 4, 10))), "SYSLOG_IDENTIFIER": comm,
            "_PID": str(rnd.randint(300, 40000)), "_UID": "0", "_GID": "0", "_COMM": comm, "_EXE": f"/usr/sbin/{comm}",
            "_CMDLINE": f"/usr/sbin/{comm} -D", "_CAP_EFFECTIVE": "1ffffffffff", "_SELINUX_CONTEXT": "unconfined\n",
            "_SYSTEMD_CGROUP": f"/system.slice/{unit}", "_SYSTEMD_UNIT": unit, "_SYSTEMD_SLICE": "system.slice",
            "_SYSTEMD_INVOCATION_ID": f"{rnd.getrandbits(128):032x}",
            "_TRANSPORT": rnd.choice(("syslog", "journal", "stdout")), "_STREAM_ID": f"{rnd.getrandbits(128):032x}",
            "MESSAGE": f"Accepted publickey for deploy from 10.0.{rnd.randint(0, 255)}.{rnd.randint(0, 255)} port "
                       f"{rnd.randint(1024, 65535)} ssh2: ED25519 SHA256:{rnd.getrandbits(128):x}",
            "_SOURCE_REALTIME_TIMESTAMP": str(t - rnd.randint(0, 500))}, separators=(",", ":")))
    return "\n".join(out) + "\n"


def one_file(base: Path, name: str, text: str, module, title: str, lines: int, repeat: int) -> None:
    """A file of ``lines`` lines read column-wise and per line, side by side."""
    p = base / name
    p.write_text(text)
    fast = _best(lambda: _rows(module.read, [p]), repeat)
    ref = _best(lambda: _rows(module.read, [p], columnar=False), repeat)
    print(f"{title}, {p.stat().st_size / lines:,.0f} bytes a line")
    print(f"{module.FORMAT:10} {lines:>9,} {fast:>13.3f} {lines / fast:>10,.0f} {ref:>10.3f} {lines / ref:>10,.0f} "
          f"{ref / fast:>5.1f}x", flush=True)


def store_share(base: Path, lines: int, repeat: int) -> None:
    from skewsleuth.store import Store

    truth = write_corpus(base / "store", 10, lines, formats=["journald"], incident=False, faults=0.1, seed=2)
    paths = sorted(p for p in Path(truth.root).rglob("*") if p.is_file() and p.name != "case.yml")
    batches: list = []
    read_s = _best(lambda: batches.__setitem__(slice(None), [b for p in paths for b in journald.read(_ctx(p))]),
                   repeat)

    def append(put_off: bool) -> tuple[float, float, float, float]:
        store = Store()
        if put_off:
            store.con.execute("SET checkpoint_threshold = '1TB'")

        def mb() -> float:
            return store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] / 1e6

        start = time.perf_counter()
        for b in batches:
            store.append_events(b)
        appended = time.perf_counter()
        before = mb()
        checkpoint = time.perf_counter()
        store.con.execute("CHECKPOINT")
        done = time.perf_counter()
        after = mb()
        store.close()
        return appended - start, done - checkpoint, before, after

    print(f"(e) journald, {truth.lines:,} lines: the reader, then its batches appended to a case database")
    print(f"{'':34} {'append s':>9} {'then CHECKPOINT s':>17} {'memory MB before, after it':>26}")
    print(f"{'reader, its batches kept':34} {read_s:>9.3f} ({truth.lines / read_s:,.0f} lines/s)")
    for label, put_off in (("checkpoints as DuckDB makes them", False), ("checkpoints put off to the end", True)):
        runs = [append(put_off) for _ in range(repeat)]
        print(f"{label:34} {min(r[0] for r in runs):>9.3f} {min(r[1] for r in runs):>17.3f} "
              f"{runs[-1][2]:>19.0f}, {runs[-1][3]:.0f}", flush=True)


def logger_lines(n: int) -> str:
    """``n`` lines as five real loggers write them, by turns: zap (a float time),
    logback's logstash encoder, bunyan, python-json-logger (a local time) and pino with
    a nested request object (read line by line), request ids and statuses varying."""
    rnd = random.Random(2)
    t, out = 1413847145.0, []
    for i in range(n):
        t += rnd.random()
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
        rid = f"{rnd.getrandbits(64):016x}"
        out.append(json.dumps([
            {"level": "info", "ts": t, "logger": "http", "caller": "server/main.go:42", "msg": "request done",
             "request_id": rid, "status": rnd.choice((200, 200, 404, 500)), "bytes": rnd.randint(0, 99999)},
            {"@timestamp": iso, "@version": "1", "message": f"Order {i} accepted", "logger_name": "shop.Orders",
             "thread_name": "http-nio-8080-exec-3", "level": "INFO", "level_value": 20000, "requestId": rid},
            {"name": "api", "hostname": "web02", "pid": 4242, "level": 30, "msg": "listening", "time": iso, "v": 0},
            {"asctime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f",{int(t % 1 * 1000):03d}",
             "name": "billing.api", "levelname": "INFO", "message": "Charge accepted", "order_id": i},
            {"level": 30, "time": int(t * 1000), "pid": 657, "hostname": "web03", "reqId": rid,
             "req": {"method": "GET", "url": f"/api/cart/{i}"}, "msg": "incoming request"},
        ][i % 5], separators=(",", ":")))
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=2000, help="(a) events in the export (default 2,000)")
    p.add_argument("--lines", type=int, default=200_000, help="(b) lines per format (default 200,000)")
    p.add_argument("--repeat", type=int, default=5, help="runs of each, best kept (default 5)")
    p.add_argument("--tmp", help="where corpora are written (default: the temporary folder)")
    p.add_argument("--store", type=int, default=0, metavar="N", help="(e) journald lines read and stored (default: skip)")
    p.add_argument("--only-store", action="store_true", help="(e) alone")
    args = p.parse_args()
    print(machine())
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    base = Path(tempfile.mkdtemp(prefix="skewsleuth-i22-", dir=args.tmp))
    try:
        if not args.only_store:
            line_ends(base, args.events, args.repeat)
            columnar(base, args.lines, args.repeat)
            n = args.lines // 2
            one_file(base, "journal.json", journalctl_lines(n), journald,
                     f"(c) {n:,} journal entries as journalctl writes them", n, args.repeat)
            one_file(base, "app.jsonl", logger_lines(n), applog,
                     f"(d) {n:,} JSON lines of five real loggers by turns", n, args.repeat)
        if args.store:
            store_share(base, args.store, args.repeat)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
