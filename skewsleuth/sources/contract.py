"""What the stages after reading need to know of an input format: one :class:`Source`.

Each reader module ends with its ``SOURCE``; :data:`skewsleuth.sources.SOURCES` lists
them and builds from them the SQL later stages use (the platform a host's logs show,
which records carry which message keys, what a person is shown of a record), so that no
stage after reading names a format and adding one touches ``sources/`` only
(``tests/test_layout.py`` holds this).

The message keys a record may carry are a few known shapes of its ``data``, each read by
the pairing in :mod:`skewsleuth.clock.pairs` (and :mod:`skewsleuth.clock.krb5`):

``"sip"``
    one SIP message per record: ``direction`` (``incoming`` / ``outgoing``), ``call_id``,
    ``cseq``, ``start_line`` and ``peer`` (the other end, ``host[:port]``).
``"correlated"``
    a structured log line: ``corr`` holds what names a message or span (``request_id``,
    ``trace_id``, ``span_id``, ``parent_span_id``, ``kind``, ``direction``, ``phase``,
    ``peer``, ``end_us``) and ``fields`` the line's own fields by name, nested ones by
    their dotted path as one key (``"err.stack"``), for the case file's correlation keys
    and rules' data fields.
``"text"``
    a line of text: keys are RFC 5424 structured-data parameters
    (``structured_data.<element>.<name>``) or ``name=value`` words of the message.
``"kerberos"``
    a Kerberos client trace: ``pid``, ``exchange``, ``step`` (``request`` / ``error``),
    ``principal`` and ``error``, paired in order with the KDC's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Platform = Literal["windows", "linux"]
Messages = Literal["sip", "correlated", "text", "kerberos"]
Direction = Literal["incoming", "outgoing"]


@dataclass(frozen=True)
class Source:
    """One input format as the stages after reading see it. SQL expressions are read
    over one row of ``events``."""

    format: str
    """The ``format`` its records are stored with (the module's ``FORMAT``)."""
    platform: Platform | None = None
    """The operating system its logs come from; None when it may be any."""
    windows_events: bool = False
    """Its records are Windows events: ``data`` holds the EventData (or UserData) fields
    and who wrote the record (``@UserID``, ``@ProcessID``), where the clock facts of
    Windows events are read."""
    messages: Messages | None = None
    """The shape in which its records name the messages they send or receive (see the
    module's documentation); None when they name none."""
    direction_words: tuple[tuple[str, Direction], ...] = ()
    """The words its logs use for a message's direction: a field the case file names as
    a direction is read with them too."""
    peer_sql: str | None = None
    """The host a record names as its peer (the sender of an incoming message): a
    rule's ``peer`` suspect. None: its records name none."""
    host_names_sql: tuple[str, ...] = ()
    """Names of other hosts its records give, spelled as those hosts spell themselves
    (NULL or '' when a record gives none): with them a short host name finds its FQDN."""
    excerpt_sql: str | None = None
    """What a person is shown of a record; None: its message, else its data."""
    message_sql: str | None = None
    """What a person reads of a record that carries no message, built from its other
    fields (Windows events: the event id and the EventData or UserData fields); None:
    its message as logged, even empty."""
    boot_sql: str | None = None
    """The boot a record was written in (an id the host gives each boot), NULL when the
    record does not say; None: its records never say."""
    monotonic_us_sql: str | None = None
    """The host's monotonic clock when the record was written, in microseconds since
    that boot (:attr:`boot_sql`), NULL when the record does not say; None: its records
    carry none. It does not count suspend and is never set: within one boot, logged
    time minus it changes only where the clock was stepped or the host slept."""


def peer_host_sql(expr: str) -> str:
    """SQL for the host a peer value names: brackets and port stripped
    (``[fe80::1]:5061``, ``fe01.corp:5061``), NULL when nothing is left."""
    return rf"nullif(regexp_replace({expr}, '^\[?([^\]]*?)\]?(:\d+)?$', '\1'), '')"
