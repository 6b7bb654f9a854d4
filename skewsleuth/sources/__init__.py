"""Input formats, one module each; every module yields EVENTS record batches.

``sniff(head)`` names the format of a file from its first bytes, never from its name.
Each module declares what later stages need of its records in a :class:`.contract.Source`
(``SOURCE``); :data:`SOURCES` lists them, and the functions below build from them the
SQL those stages run.
"""

from __future__ import annotations

from typing import Callable, Iterator, get_args

import pyarrow as pa

from . import applog, containers, eventxml, evtx, journald, krb5trace, sipstack, syslog, textlog, w32tm
from .base import FileContext
from .contract import Platform, Source

# Most specific first: binary magic, then XML, then the text formats (container runtime
# lines before JSON Lines and syslog, which would take them; plain timestamped text last).
MODULES = (evtx, eventxml, sipstack, journald, containers, applog, krb5trace, w32tm, syslog, textlog)
READERS: dict[str, Callable[[FileContext], Iterator[pa.RecordBatch]]] = {m.FORMAT: m.read for m in MODULES}
# Formats whose rendered records a reader of many files can normalise together
# (:class:`.winevent.Pending`): ``read_raw(ctx)`` yields (record_nos, record_ids, jsons).
RAW_READERS = {evtx.FORMAT: evtx.read_raw}
# Formats whose readers read less than the whole file: ``bytes_to_read(head, size)``.
_BYTES_TO_READ = {evtx.FORMAT: evtx.bytes_to_read}

SOURCES: tuple[Source, ...] = tuple(m.SOURCE for m in MODULES)

# The words any source reads as a message's direction ('incoming' / 'outgoing').
DIRECTION_WORDS: dict[str, str] = {w: d for s in SOURCES for w, d in s.direction_words}


def sniff(head: bytes) -> str | None:
    for module in MODULES:
        if module.sniff(head):
            return module.FORMAT
    return None


def bytes_to_read(format: str, head: bytes, size: int) -> int:
    """About how much of a file its format's reader reads (the whole file for most)."""
    guess = _BYTES_TO_READ.get(format)
    return size if guess is None else guess(head, size)


def formats(test: Callable[[Source], bool]) -> tuple[str, ...]:
    """The formats of the sources that pass ``test``."""
    return tuple(s.format for s in SOURCES if test(s))


def format_in(test: Callable[[Source], bool]) -> str:
    """SQL: the record is of a source that passes ``test``."""
    names = formats(test)
    return f"format IN ({', '.join(_literal(n) for n in names)})" if names else "FALSE"


def platform_sql() -> str:
    """SQL aggregate over one host's records: the platform its logs show ('unknown'
    when none says); Windows wins, as it is named first."""
    whens = " ".join(f"WHEN bool_or({format_in(lambda s, p=p: s.platform == p)}) THEN {_literal(p)}"
                     for p in get_args(Platform))
    return f"CASE {whens} ELSE 'unknown' END"


def per_source_sql(pick: Callable[[Source], str | None], default: str = "NULL") -> str:
    """SQL: what ``pick`` gives of the record's source (an expression over the record),
    ``default`` where it gives None."""
    whens = [f"WHEN format = {_literal(s.format)} THEN {expr}" for s in SOURCES if (expr := pick(s)) is not None]
    return f"CASE {' '.join(whens)} ELSE {default} END" if whens else default


def message_sql() -> str:
    """SQL: a record's message as a person reads it: as logged, else what its source
    builds from its other fields (:attr:`.contract.Source.message_sql`)."""
    built = per_source_sql(lambda src: src.message_sql, default="message")
    return f"CASE WHEN coalesce(message, '') <> '' THEN message ELSE {built} END"


def host_names_sql() -> str | None:
    """SQL: a column ``n`` of the names records give other hosts
    (:attr:`.contract.Source.host_names_sql`); None when no source gives any."""
    return " UNION ALL ".join(f"SELECT {expr} AS n FROM events WHERE format = {_literal(s.format)}"
                              for s in SOURCES for expr in s.host_names_sql) or None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
