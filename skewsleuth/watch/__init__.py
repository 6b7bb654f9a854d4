"""Watch: probe on a schedule, keep the history, serve Prometheus metrics, raise alerts.

    >>> from skewsleuth.probe import Inventory
    >>> from skewsleuth.watch import WatchOptions, run_watch, last_measurements
    >>> run_watch(Inventory.load("hosts.yml").targets(), "watch.duckdb", listen=("127.0.0.1", 9393),
    ...           options=WatchOptions(interval_s=60, webhooks=("http://127.0.0.1:5001/hook",)))
    >>> [m.offset_s for m in last_measurements("watch.duckdb", host="srv-lyncedge01")]

``last_measurements`` reads a history that a running watch is writing (it holds the
file only while it appends a round).
"""

from ..errors import HistoryError, WatchError
from .alerts import Alert, Alerter, AlertRules
from .history import History, last_measurements
from .service import Watch, WatchOptions, parse_listen, run_watch

__all__ = ["Alert", "AlertRules", "Alerter", "History", "HistoryError", "Watch", "WatchError", "WatchOptions",
           "last_measurements", "parse_listen", "run_watch"]
