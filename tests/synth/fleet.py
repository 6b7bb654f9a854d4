"""Synthetic fleets with known clocks: hosts exchanging SIP transactions.

For tests and benchmarks of the clock reconstruction: every host has a true offset
that changes only at its steps; every transaction is a request and its response, each
logged by sender and receiver on their own clocks (logged = true + offset), with
random network delays. The result goes straight into a case database as EVENTS rows,
built column-wise (numpy, DuckDB), so a million messages take seconds, and the truth
(every record's real offset) comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from skewsleuth.store import Store

EPOCH_US = int(datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp() * 1e6)


@dataclass
class Fleet:
    hosts: list[str]
    # per host: sorted true times (µs) where the offset changes, and the offsets (s)
    # holding from each of them (the first from the start).
    step_at_us: list[np.ndarray]
    offsets_s: list[np.ndarray]
    records: int
    round_trips: int
    # per host: the clock's rate (s/s, positive: it gains), the offsets holding at
    # mid_us and changing at this rate in between steps
    rates: np.ndarray | None = None
    mid_us: int = 0

    def offset_at(self, host: int, true_us: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.step_at_us[host], true_us, side="right")
        drift = 0.0 if self.rates is None else self.rates[host] * (true_us - self.mid_us) / 1e6
        return self.offsets_s[host][idx] + drift


def make_fleet(n_hosts: int, round_trips: int, *, steps_per_host: float = 0.0, span_s: float = 8 * 3600,
               max_offset_s: float = 7200.0, min_step_s: float = 1000.0, max_step_s: float = 20000.0,
               min_delay_s: float = 0.001, max_delay_s: float = 0.05, max_think_s: float = 0.5,
               drift_ppm: float = 0.0, seed: int = 1) -> tuple[Fleet, pa.Table, pa.Table]:
    """A fleet, its EVENTS table and the truth table (file_id, record_no, offset_s).

    Host 0 keeps true time (offset 0, no steps, no drift): make it the reference.
    The others' clocks run at rates drawn from +-``drift_ppm``.
    """
    rng = np.random.default_rng(seed)
    span_us = int(span_s * 1e6)
    hosts = [f"h{i:05d}.fleet.test" for i in range(n_hosts)]
    steps, offs = [], []
    for h in range(n_hosts):
        k = 0 if h == 0 else rng.poisson(steps_per_host)
        at = np.sort(rng.integers(span_us // 10, span_us - span_us // 10, size=k)) + EPOCH_US
        first = 0.0 if h == 0 else rng.uniform(-max_offset_s, max_offset_s)
        jumps = rng.uniform(min_step_s, max_step_s, size=k) * rng.choice([-1.0, 1.0], size=k)
        steps.append(at)
        offs.append(np.concatenate(([first], first + np.cumsum(jumps))))
    rates = rng.uniform(-drift_ppm, drift_ppm, size=n_hosts) * 1e-6 if drift_ppm else np.zeros(n_hosts)
    rates[0] = 0.0
    fleet = Fleet(hosts, steps, offs, 4 * round_trips, round_trips, rates if drift_ppm else None,
                  EPOCH_US + span_us // 2)

    client = rng.integers(0, n_hosts, size=round_trips)
    server = (client + rng.integers(1, n_hosts, size=round_trips)) % n_hosts
    t0 = EPOCH_US + rng.integers(0, span_us, size=round_trips)
    d1 = (rng.uniform(min_delay_s, max_delay_s, size=round_trips) * 1e6).astype(np.int64)
    think = (rng.uniform(0, max_think_s, size=round_trips) * 1e6).astype(np.int64)
    d2 = (rng.uniform(min_delay_s, max_delay_s, size=round_trips) * 1e6).astype(np.int64)
    # four records per transaction: request out/in, response out/in
    host = np.concatenate([client, server, server, client])
    peer = np.concatenate([server, client, client, server])
    true_us = np.concatenate([t0, t0 + d1, t0 + d1 + think, t0 + d1 + think + d2])
    direction = np.repeat(np.array(["outgoing", "incoming", "outgoing", "incoming"]), round_trips)
    start_line = np.repeat(np.array(["INVITE sip:u@fleet.test SIP/2.0", "INVITE sip:u@fleet.test SIP/2.0",
                                     "SIP/2.0 200 OK", "SIP/2.0 200 OK"]), round_trips)
    call = np.tile(np.arange(round_trips), 4)
    offset = np.empty(len(host))
    for h in range(n_hosts):
        m = host == h
        offset[m] = fleet.offset_at(h, true_us[m])
    logged_us = true_us + np.round(offset * 1e6).astype(np.int64)
    # each host writes its records in true-time order
    order = np.lexsort((true_us, host))
    host, peer, true_us, logged_us, direction, start_line, call, offset = (
        a[order] for a in (host, peer, true_us, logged_us, direction, start_line, call, offset))
    first = np.r_[0, np.flatnonzero(np.diff(host)) + 1]
    counts = np.diff(np.r_[first, len(host)])
    record_no = np.arange(len(host)) - np.repeat(first, counts)
    names = np.array(hosts)
    events = pa.table({
        "file_id": pa.array(host + 1, pa.int32()),
        "record_no": pa.array(record_no, pa.int64()),
        "record_id": pa.nulls(len(host), pa.int64()),
        "host": pa.array(names[host]),
        "logged": pa.array(logged_us, pa.timestamp("us", tz="UTC")),
        "format": pa.array(np.full(len(host), "sipstack")),
        "channel": pa.array(np.full(len(host), "SIPStack")),
        "provider": pa.array(np.full(len(host), "SIPStack")),
        "event_id": pa.nulls(len(host), pa.int32()),
        "message": pa.nulls(len(host), pa.string()),
        "direction": pa.array(direction), "call_id": pa.array(call), "start_line": pa.array(start_line),
        "peer": pa.array(names[peer]),
    })
    truth = pa.table({"file_id": pa.array(host + 1, pa.int32()), "record_no": pa.array(record_no, pa.int64()),
                      "offset_s": pa.array(offset)})
    return fleet, events, truth


def load_fleet(store: Store, events: pa.Table, *, undirected: bool = False) -> None:
    """Insert a fleet's records into ``store.events`` (data as SIPStack's JSON).

    ``undirected``: as application log lines instead, each transaction's four records
    sharing a request id and none saying its direction (paired by nesting: the
    client's request and response bracket the server's)."""
    store.con.register("_fleet", events)
    try:
        if undirected:
            store.con.execute("""
                INSERT INTO events
                SELECT file_id, record_no, record_id, host, logged, 'applog', 'applog', NULL, NULL,
                       CASE WHEN start_line LIKE 'SIP/2.0%' THEN 'request finished' ELSE 'request started' END,
                       json_object('corr', json_object('request_id', 'rq' || call_id::VARCHAR),
                                   'fields', json_object())::VARCHAR
                FROM _fleet""")
        else:
            store.con.execute("""
                INSERT INTO events
                SELECT file_id, record_no, record_id, host, logged, format, channel, provider, event_id, message,
                       json_object('direction', direction, 'call_id', 'c' || call_id::VARCHAR, 'cseq', '1 INVITE',
                                   'start_line', start_line, 'peer', peer || ':5061')::VARCHAR
                FROM _fleet""")
        store.con.execute(f"""INSERT INTO files SELECT DISTINCT file_id, 'fleet/' || host,
                             '{"applog" if undirected else "sipstack"}', host, 0, 0, 0, 'ok', NULL FROM _fleet""")
    finally:
        store.con.unregister("_fleet")
