"""MIT Kerberos client traces (``KRB5_TRACE=/path kinit ...``) as events.

Each line is ``[pid] seconds.microseconds: text``, the time read from the client's own
clock (so a client under ``faketime -f +10m`` writes times ten minutes ahead)::

    [22059] 1795979665.633586: Sending request (185 bytes) to EXAMPLE.TEST
    [22059] 1795979665.633608: Received error from KDC: -1765328347/Clock skew too great

Yields one event per line, ``format="krb5trace"``, ``provider="krb5"``, ``host`` = the
file's default host (traces do not name their host), ``message`` = the text, and
``data`` with ``pid`` and, for the lines of an exchange with a KDC, ``principal`` (the
client principal the process is getting credentials for), ``exchange`` (its number
within the process) and ``step``: ``request`` ("Sending request ... to REALM") or
``error`` ("Received error from KDC: code/text", with ``error``: the text). The clock
model pairs these with the KDC's own records of the same requests
(:mod:`skewsleuth.clock.krb5`).

Reference: MIT Kerberos documentation, "Trace logging" (KRB5_TRACE).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Iterator

import pyarrow as pa

from .base import EventBatchBuilder, FileContext
from .contract import Source
from .textinput import decode_head, line_blocks
from .timeparse import EPOCH, micros

FORMAT = "krb5trace"
CHANNEL = "krb5trace"
PROVIDER = "krb5"

_LINE = re.compile(r"^\[(\d{1,10})\] (\d{1,12})\.(\d{1,6}): (.*)$")
_HEAD = re.compile(r"^\[\d{1,10}\] \d{9,12}\.\d{1,6}: \S")
_PRINCIPAL = re.compile(r"^Getting (?:initial credentials for|credentials) (\S+)")
_REQUEST = re.compile(r"^Sending request \(\d+ bytes\) to ")
_ERROR = re.compile(r"^Received error from KDC: (-?\d+)/(.*)$")


def sniff(head: bytes) -> bool:
    text = decode_head(head)
    lines = [ln for ln in text.splitlines()[:3] if ln.strip()]
    return bool(lines) and all(_HEAD.match(ln) for ln in lines[:2])


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    no = 0
    principal: dict[str, str] = {}      # pid -> the principal it is getting credentials for
    exchange: dict[str, int] = {}       # pid -> number of requests sent so far
    for lines in line_blocks(ctx):
        for line in lines:
            if not line.strip():
                continue
            record_no = no
            no += 1
            m = _LINE.match(line)
            if not m:
                ctx.quarantine(record_no, "not a krb5 trace line ([pid] seconds.microseconds: text)", line)
                continue
            pid, secs, frac, text = m.groups()
            try:
                logged = EPOCH + timedelta(seconds=int(secs), microseconds=micros(frac))
            except OverflowError:
                ctx.quarantine(record_no, f"time out of range: {secs}", line)
                continue
            data: dict = {"pid": int(pid)}
            if (p := _PRINCIPAL.match(text)) is not None:
                principal[pid] = p.group(1)
            if _REQUEST.match(text):
                exchange[pid] = exchange.get(pid, 0) + 1
                data.update(step="request", exchange=exchange[pid])
            elif (e := _ERROR.match(text)) is not None and pid in exchange:
                data.update(step="error", exchange=exchange[pid], code=int(e.group(1)), error=e.group(2).strip())
            if "step" in data and pid in principal:
                data["principal"] = principal[pid]
            builder.add(record_no=record_no, host=ctx.default_host, logged=logged, format=FORMAT,
                        channel=CHANNEL, provider=PROVIDER, message=text, data=data)
            if builder.full():
                yield builder.flush()  # type: ignore[misc]
    batch = builder.flush()
    if batch is not None:
        yield batch


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="linux", messages="kerberos")
