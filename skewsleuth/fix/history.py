"""A host's last measurement from a ``skewsleuth watch`` history (DuckDB).

The history's table::

    measurements(measured_at TIMESTAMPTZ, target VARCHAR, host VARCHAR, protocol VARCHAR,
                 offset_s DOUBLE, uncertainty_s DOUBLE, rtt_s DOUBLE, ok BOOLEAN,
                 error VARCHAR, tolerance_s DOUBLE, roles VARCHAR[])

The last *successful* measurement is the basis of a runbook; a host with only failed
ones gets its latest failure (and an offset-unknown runbook). The file is opened
read-only.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from ..errors import FixHistoryError
from ..hosts import same_host
from ..probe import Measurement


def last_measurement(db: str | Path, host: str) -> Measurement | None:
    """The host's latest measurement in the history (the latest ok one first), or None."""
    import duckdb

    path = Path(db)
    if not path.is_file():
        raise FixHistoryError(f"cannot read history {path}: no such file")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise FixHistoryError(f"cannot read history {path}: {' '.join(str(exc).split())[:200]}") from None
    try:
        names = [r[0] for r in con.execute("SELECT DISTINCT host FROM measurements WHERE host IS NOT NULL").fetchall()]
        matches = [n for n in names if n.lower() == host.lower()] or [n for n in names if same_host(n, host)]
        if not matches:
            return None
        row = con.execute(
            "SELECT measured_at, target, host, protocol, offset_s, uncertainty_s, rtt_s, ok, error, tolerance_s, "
            "roles FROM measurements WHERE host IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY coalesce(ok, false) DESC, measured_at DESC LIMIT 1", [matches]).fetchone()
    except duckdb.Error as exc:
        raise FixHistoryError(f"history {path} is not a skewsleuth watch history: "
                           f"{' '.join(str(exc).split())[:200]}") from None
    finally:
        con.close()
    at, target, name, protocol, offset, unc, rtt, ok, error, tol, roles = row
    when = at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") if at else ""
    return Measurement(target=target, protocol=protocol, host=name, offset_s=offset, uncertainty_s=unc, rtt_s=rtt,
                       ok=bool(ok), error=error, measured_at=when, roles=tuple(roles or ()), tolerance_s=tol)
