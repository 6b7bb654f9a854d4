"""Syslog text files (RFC 3164 / BSD, RFC 5424, rsyslog ISO, krb5kdc) as events.

Yields one event per syslog line, ``format="syslog"``, ``channel="syslog"``,
``provider`` = the program (APP-NAME / TAG: ``chronyd``, ``ntpd``,
``systemd-timesyncd``, ``krb5kdc``, ...), ``host`` = the HOSTNAME field (the file's
default host when it is ``-`` or missing), ``message`` = MSG, and ``data`` a JSON
object with only the keys that apply: ``facility``, ``severity`` (keyword names:
``auth``, ``err``, ...), ``pid`` (int when numeric), ``msgid``, ``structured_data``
(``{sd_id: {param: value}}``), ``tz_resolution`` (``"ambiguous"`` / ``"nonexistent"``)
and ``tz_fold`` (which occurrence of an ambiguous local time was chosen).

Accepted line shapes::

    <34>Oct 20 18:19:05 host app[123]: msg            RFC 3164 (PRI optional, as in /var/log)
    Oct 20 18:19:05 kdc krb5kdc[1234](info): AS_REQ ...   MIT krb5kdc log file (level after the pid)
    <165>1 2014-10-20T18:19:05.003Z host app 123 ID47 [sd ...] msg   RFC 5424 (NILVALUE ``-``)
    2014-10-20T18:19:05.003+02:00 host app[123]: msg  rsyslog RSYSLOG_FileFormat (RFC 3339 time)

``journalctl -o short``, ``short-precise`` and ``short-iso`` output has these shapes too.

A line starting with whitespace continues the previous record's message (multi-line
messages written by some daemons); blank lines are skipped; any other line that does
not parse is quarantined with a reason, and reading carries on.

Time. RFC 5424 and ISO times carry their offset and are converted to UTC. RFC 3164
times carry neither year nor zone:

* Zone: ``ctx.timezone``. A local time that a daylight-saving change makes ambiguous
  is resolved to its first occurrence (``fold=0``) until the file's local times go
  back by more than ten minutes inside the ambiguous hour, from which point the
  second occurrence (``fold=1``) is used, so the repeated hour does not look like a
  clock step; a non-existent local time (spring-forward gap) uses the offset in force
  before the change (PEP 495 ``fold=0``). Both are recorded in ``tz_resolution``.
* Year: the newest line of the file is taken to be in the last year that puts it no
  later than the file's modification time (``ctx.modified``): a file modified on 2
  December whose lines reach Dec 10 ends in the previous year. The lines are local wall
  time and the modification time an instant, and a host may write in another zone than
  the case's, so the modification time is read on the clock of the zone furthest ahead
  (UTC+14). Years are counted back from the newest line. A year given instead
  (``ctx.year``, ``--year``) is the first line's, and years are counted forward from
  it, as with plaso's ``--preferred-year``. The verdict's notes say which was done.

  Each 3164 line's day of the year is compared with the newest day seen so far (the
  anchor): a jump *backwards* by more than half a year (Dec 31 -> Jan 1) crosses a New
  Year, so everything before it belongs to the previous year; a line dated in the month
  before the anchor's New Year (a late Dec 31 line among Jan 1 lines) is a straggler
  from the previous year and leaves the anchor where it is. Any other forward jump (a
  gap in logging, however long) and any backward jump under half a year (out-of-order
  lines, a clock stepped back) stay in the same year. Because the year of the first
  line depends on the crossings and the newest line further down, the file is scanned
  twice when it holds 3164 lines and no year is given (the first pass only counts
  crossings and finds the newest line; memory stays bounded). A clock set back by more
  than half a year (a CMOS reset) reads as a New Year crossing, and a line from a clock
  that ran ahead past the modification time (and those 14 hours) puts the file a year
  back: the text alone cannot tell them apart.

Reading. The lines of the common shapes are read column-wise (:mod:`.syslog_columns`),
every other line by the per-line grammar (:mod:`.syslog_lines`), in file order, and the
output is the same as the grammar alone gives: ``read(ctx, columnar=False)`` reads every
line with the grammar, the reference the column-wise reader is tested against.

References: RFC 3164 "The BSD syslog Protocol"; RFC 5424 "The Syslog Protocol"
(sections 6.2 HEADER, 6.3 STRUCTURED-DATA); RFC 3339; rsyslog "RSYSLOG_FileFormat"
template; MIT Kerberos ``kdc.conf`` [logging]; PEP 495 (local time disambiguation).
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from .base import FileContext
from .contract import Source
from .syslog_columns import read_columns
# FORMAT and CHANNEL live with the grammar, which writes them into every event.
from .syslog_lines import CHANNEL, FORMAT, looks_like_syslog, read_lines  # noqa: F401
from .textinput import EVTX_MAGIC, XML_STARTS, decode_head, first_line


def sniff(head: bytes) -> bool:
    if head.startswith(EVTX_MAGIC):
        return False
    line, _ = first_line(decode_head(head))
    if line is None or line.lstrip().startswith(XML_STARTS):
        return False
    return looks_like_syslog(line)


def read(ctx: FileContext, *, columnar: bool = True) -> Iterator[pa.RecordBatch]:
    """The file's events. ``columnar=False``: every line through the per-line grammar
    (``syslog_lines.read_lines``), the reference the column-wise reader must equal."""
    return read_columns(ctx) if columnar else read_lines(ctx)


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="linux", messages="text")
