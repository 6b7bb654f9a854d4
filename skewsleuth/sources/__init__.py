"""Input formats, one module each; every module yields EVENTS record batches.

``sniff(head)`` names the format of a file from its first bytes, never from its name.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa

from . import applog, eventxml, evtx, journald, krb5trace, sipstack, syslog
from .base import FileContext

# Most specific first: binary magic, then XML, then the text formats (JSON Lines
# before syslog).
MODULES = (evtx, eventxml, sipstack, journald, applog, krb5trace, syslog)
READERS: dict[str, Callable[[FileContext], Iterator[pa.RecordBatch]]] = {m.FORMAT: m.read for m in MODULES}
# Formats whose rendered records a reader of many files can normalise together
# (:class:`.winevent.Pending`): ``read_raw(ctx)`` yields (record_nos, record_ids, jsons).
RAW_READERS = {evtx.FORMAT: evtx.read_raw}


def sniff(head: bytes) -> str | None:
    for module in MODULES:
        if module.sniff(head):
            return module.FORMAT
    return None
