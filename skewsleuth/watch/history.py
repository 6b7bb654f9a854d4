"""The watch history: every measurement and every alert, in a DuckDB file (``--db``).

Tables (the schema other commands read; columns may be added, never renamed):

``measurements``  one row per target per round: measured_at TIMESTAMPTZ, target, host,
                  protocol, offset_s, uncertainty_s, rtt_s, ok, error, tolerance_s, roles
``alerts``        one row per alert raised or resolved (``alerts.Alert``)

A round is appended as one Arrow table per table (one ``INSERT ... SELECT`` each), not
row by row. The file is opened for the append and closed again: DuckDB lets one process
write a file *or* several read it, so a ``skewsleuth fix`` (``last_measurements``) or a
``duckdb -readonly`` shell can read the history between two rounds of a running watch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import duckdb
import pyarrow as pa

from ..errors import HistoryError
from ..probe import Measurement
from .alerts import Alert

MEASUREMENTS_DDL = """
CREATE TABLE IF NOT EXISTS measurements (
  measured_at TIMESTAMPTZ, target VARCHAR, host VARCHAR, protocol VARCHAR, offset_s DOUBLE,
  uncertainty_s DOUBLE, rtt_s DOUBLE, ok BOOLEAN, error VARCHAR, tolerance_s DOUBLE, roles VARCHAR[])
"""
ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
  raised_at TIMESTAMPTZ, kind VARCHAR, status VARCHAR, severity VARCHAR, target VARCHAR, host VARCHAR,
  protocol VARCHAR, offset_s DOUBLE, uncertainty_s DOUBLE, tolerance_s DOUBLE, jump_s DOUBLE,
  message VARCHAR)
"""

_TS = pa.timestamp("us", tz="UTC")
MEASUREMENTS = pa.schema([
    ("measured_at", _TS), ("target", pa.string()), ("host", pa.string()), ("protocol", pa.string()),
    ("offset_s", pa.float64()), ("uncertainty_s", pa.float64()), ("rtt_s", pa.float64()), ("ok", pa.bool_()),
    ("error", pa.string()), ("tolerance_s", pa.float64()), ("roles", pa.list_(pa.string())),
])
ALERTS = pa.schema([
    ("raised_at", _TS), ("kind", pa.string()), ("status", pa.string()), ("severity", pa.string()),
    ("target", pa.string()), ("host", pa.string()), ("protocol", pa.string()), ("offset_s", pa.float64()),
    ("uncertainty_s", pa.float64()), ("tolerance_s", pa.float64()), ("jump_s", pa.float64()),
    ("message", pa.string()),
])
# How long a reader waits for a round's append to finish (the writer holds the file
# for milliseconds).
LOCK_WAIT_S = 5.0


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)


def measurements_table(measurements: Sequence[Measurement]) -> pa.Table:
    """A round as one Arrow table, column by column."""
    ms = list(measurements)
    return pa.table({
        "measured_at": [_instant(m.measured_at) if m.measured_at else None for m in ms],
        "target": [m.target for m in ms], "host": [m.host for m in ms], "protocol": [m.protocol for m in ms],
        "offset_s": [m.offset_s for m in ms], "uncertainty_s": [m.uncertainty_s for m in ms],
        "rtt_s": [m.rtt_s for m in ms], "ok": [m.ok for m in ms], "error": [m.error for m in ms],
        "tolerance_s": [m.tolerance_s for m in ms], "roles": [list(m.roles) for m in ms],
    }, schema=MEASUREMENTS)


def alerts_table(alerts: Sequence[Alert]) -> pa.Table:
    al = list(alerts)
    return pa.table({
        "raised_at": [_instant(a.at) for a in al], "kind": [a.kind for a in al], "status": [a.status for a in al],
        "severity": [a.severity for a in al], "target": [a.target for a in al], "host": [a.host for a in al],
        "protocol": [a.protocol for a in al], "offset_s": [a.offset_s for a in al],
        "uncertainty_s": [a.uncertainty_s for a in al], "tolerance_s": [a.tolerance_s for a in al],
        "jump_s": [a.jump_s for a in al], "message": [a.message for a in al],
    }, schema=ALERTS)


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    end = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            # Another process holds the file (a round being appended): wait a little.
            if "lock" not in str(exc).lower() or time.monotonic() > end:
                raise HistoryError(f"cannot open history {path}: {str(exc).splitlines()[0]}") from None
            time.sleep(0.05)


class History:
    """Appends rounds to the history file; ``create()`` checks it can be written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def create(self) -> None:
        """Create the file and its tables (HistoryError when it cannot be)."""
        if not self.path.expanduser().resolve().parent.is_dir():
            raise HistoryError(f"cannot write history {self.path}: folder {self.path.parent} does not exist")
        try:
            con = _connect(self.path, read_only=False)
            try:
                con.execute(MEASUREMENTS_DDL)
                con.execute(ALERTS_DDL)
            finally:
                con.close()
        except duckdb.Error as exc:
            raise HistoryError(f"cannot open history {self.path}: {str(exc).splitlines()[0]}") from None

    def append(self, measurements: Sequence[Measurement], alerts: Sequence[Alert] = ()) -> None:
        """One round, in one transaction (HistoryError when the file is unusable)."""
        rows = measurements_table(measurements)          # noqa: F841 - read by the SQL below
        raised = alerts_table(alerts)                     # noqa: F841
        try:
            con = _connect(self.path, read_only=False)
            try:
                con.execute(MEASUREMENTS_DDL)
                con.execute(ALERTS_DDL)
                con.execute("BEGIN")
                con.execute("INSERT INTO measurements SELECT * FROM rows")
                if alerts:
                    con.execute("INSERT INTO alerts SELECT * FROM raised")
                con.execute("COMMIT")
            finally:
                con.close()
        except duckdb.Error as exc:
            raise HistoryError(f"cannot append to history {self.path}: {str(exc).splitlines()[0]}") from None


@dataclass
class ResumeState:
    """What a watch killed mid-run left in its history, for the next one to go on from:
    per target its last good measurement, the failed probes since, and the alerts
    firing (kind -> the alert as raised, its ``at`` when it fired)."""

    last_good: dict[str, Measurement]
    failures: dict[str, int]
    firing: dict[str, dict[str, Alert]]


def resume_state(db_path: str | Path) -> ResumeState:
    """Read :class:`ResumeState` from an existing history (empty for a new one)."""
    try:
        con = _connect(Path(db_path), read_only=True)
    except duckdb.Error as exc:
        raise HistoryError(f"cannot read history {db_path}: {str(exc).splitlines()[0]}") from None
    try:
        good = con.execute(
            f"SELECT {_ROW} FROM measurements WHERE ok "
            "QUALIFY row_number() OVER (PARTITION BY target ORDER BY measured_at DESC) = 1").fetchall()
        failed = con.execute(
            """SELECT m.target, count(*) FROM measurements m
               LEFT JOIN (SELECT target, max(measured_at) AS at FROM measurements WHERE ok GROUP BY target) g
                 USING (target)
               WHERE NOT m.ok AND (g.at IS NULL OR m.measured_at > g.at) GROUP BY m.target""").fetchall()
        # The last word on each (kind, target): firing, unless resolved since. A jump
        # is an event, never left firing.
        firing = con.execute(
            """SELECT target, kind, raised_at, host, protocol, offset_s, uncertainty_s, tolerance_s, message
               FROM alerts WHERE kind <> 'jump'
               QUALIFY row_number() OVER (PARTITION BY target, kind ORDER BY raised_at DESC,
                                          status = 'firing') = 1 AND status = 'firing'""").fetchall()
    except duckdb.CatalogException:
        return ResumeState({}, {}, {})
    finally:
        con.close()
    state = ResumeState({r[1]: _from_row(r) for r in good}, dict(failed), {})
    for target, kind, at, host, protocol, offset, unc, tol, message in firing:
        state.firing.setdefault(target, {})[kind] = Alert(kind, "firing", target, host, protocol, _iso(at), message,
                                                          offset_s=offset, uncertainty_s=unc, tolerance_s=tol)
    return state


# The columns _from_row reads, in its order.
_ROW = "measured_at, target, host, protocol, offset_s, uncertainty_s, rtt_s, ok, error, tolerance_s, roles"


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_row(row: tuple) -> Measurement:
    at, target, host, protocol, offset, unc, rtt, ok, error, tol, roles = row
    iso = _iso(at) if at else ""
    return Measurement(target=target, protocol=protocol, host=host, offset_s=offset, uncertainty_s=unc,
                       rtt_s=rtt, ok=bool(ok), error=error, measured_at=iso, roles=tuple(roles or ()),
                       tolerance_s=tol)


def last_measurements(db_path: str | Path, host: str | None = None) -> list[Measurement]:
    """The latest measurement of every target in the history at ``db_path`` (ordered by
    host, then target), of ``host`` alone when given (case-insensitive; a short name
    matches its FQDN). A failed latest probe is returned as it is (``ok=False``, with
    its ``error``); ``measured_at`` says how fresh each one is. FileNotFoundError when
    there is no such file, HistoryError when it is not a watch history."""
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no watch history at {path}")
    try:
        con = _connect(path, read_only=True)
    except duckdb.Error as exc:
        raise HistoryError(f"cannot read history {path}: {str(exc).splitlines()[0]}") from None
    try:
        where, params = "", []
        if host:
            name = host.strip().lower()
            where = "WHERE lower(host) = ? OR (? NOT LIKE '%.%' AND split_part(lower(host), '.', 1) = ?)"
            params = [name, name, name]
        rows = con.execute(
            f"SELECT {_ROW} FROM measurements {where} "
            "QUALIFY row_number() OVER (PARTITION BY target ORDER BY measured_at DESC) = 1 "
            "ORDER BY lower(host), target", params).fetchall()
    except duckdb.CatalogException:
        raise HistoryError(f"{path} is not a skewsleuth watch history (no measurements table)") from None
    finally:
        con.close()
    return [_from_row(r) for r in rows]
