"""Container logs as the node keeps them: the CRI format and Docker's json-file.

A container's stdout and stderr are written by its runtime, each line stamped with the
node's clock when the runtime read it:

* CRI (containerd, CRI-O; kubelet's ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/
  <n>.log`` and the ``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` links)::

      2025-05-20T08:00:07.215798Z stderr F I0520 08:00:07.215798       1 server.go:148] ...

  the time (RFC 3339, nanoseconds), the stream, ``F`` for a full line or ``P`` for a
  part the runtime cut (16 KiB), and the line;
* Docker's json-file driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

      {"log":"I0520 08:00:07.215798 ...\\n","stream":"stderr","time":"2025-05-20T08:00:07.215798Z"}

  a line without its ``\\n`` is a part, continued by the next.

Yields one event per line (parts joined, up to ``MAX_LINE`` characters),
``format="container"``, ``host`` = the file's default host (the node's folder: see
:func:`skewsleuth.reading.discovery.host_hint`), ``logged`` = the runtime's time,
``channel`` = the stream, ``message`` = the container's line, ``data`` with ``stream``,
and ``namespace``, ``pod``, ``container`` where the file's path names them. The line
itself is read by the reader of its kind: a JSON logger's line as :mod:`.applog` reads
one (its message, program, and ``corr`` / ``fields`` in ``data``, so that its request
ids pair it with other hosts' records), else as the text logs' shapes (:mod:`.textlog`:
klog, log4j, ...) to keep its level and its program (``provider``: klog's source file).
Its own time is not used: the runtime's is the same clock, with a date and a zone. A line that is neither is
quarantined with its reason.

References: Kubernetes, "CRI logging" (kubernetes/design-proposals, kubelet-cri-logging);
Docker, "JSON File logging driver".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from .base import EventBatchBuilder, FileContext
from .contract import Source
from .textinput import decode_head, line_blocks
from .textlog import klog_program, match_shape
from .applog import is_otlp, parse_json, record_of
from .timeparse import Localizer, rfc3339_utc

FORMAT = "container"
MAX_LINE = 256 * 1024

_CRI = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) "
                  r"(stdout|stderr) ([FP]) ?(.*)$")
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_DOCKER_HEAD = re.compile(r'^\{"log":".*","stream":"(?:stdout|stderr)","time":"\d{4}-\d{2}-\d{2}T')
# /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log
_POD_DIR = re.compile(r"^([a-z0-9-]+)_([a-z0-9.-]+)_([0-9a-f-]{8,})$")
# /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log
_CONTAINER_FILE = re.compile(r"^([a-z0-9.-]+)_([a-z0-9-]+)_(.+)-[0-9a-f]{64}\.log$")


def sniff(head: bytes) -> bool:
    lines = [ln for ln in decode_head(head).splitlines()[:6] if ln.strip()]
    if len(lines) > 1:
        lines = lines[:-1]   # (the head may cut the last line short)
    return bool(lines) and (all(_CRI.match(ln) for ln in lines) or all(_DOCKER_HEAD.match(ln) for ln in lines))


def pod_of(path: Path) -> str | None:
    """The pod a kubelet's ``pods/<namespace>_<pod>_<uid>/<container>/<n>.log`` names."""
    m = _POD_DIR.match(path.parent.parent.name)
    return m.group(2) if m is not None else None


def path_fields(path: Path) -> dict[str, str]:
    """The namespace, pod and container a kubelet's log path names."""
    if (m := _CONTAINER_FILE.match(path.name)) is not None:
        return {"pod": m.group(1), "namespace": m.group(2), "container": m.group(3)}
    if (m := _POD_DIR.match(path.parent.parent.name)) is not None:
        return {"namespace": m.group(1), "pod": m.group(2), "container": path.parent.name}
    return {}


def read(ctx: FileContext) -> Iterator[pa.RecordBatch]:
    builder = EventBatchBuilder(ctx.file_id)
    localizer = Localizer(ctx.timezone)
    fields = path_fields(ctx.path)
    parts: list[str] = []
    size = 0
    no = 0
    for lines in line_blocks(ctx):
        for raw in lines:
            if not raw.strip():
                continue
            got = _parse(raw)
            if isinstance(got, str):
                ctx.quarantine(no, got, raw)
                no += 1
                continue
            when, stream, full, text = got
            if size < MAX_LINE:
                parts.append(text[:MAX_LINE - size])
                size += len(parts[-1])
            if not full:
                continue
            line, parts, size = "".join(parts), [], 0
            data: dict = {"stream": stream, **fields}
            provider = None
            message = line
            inner = _json_record(line, localizer) if line.startswith("{") else None
            if inner is not None:
                # a JSON logger's line: its message, program and fields as applog reads
                # them (request ids and traceparents pair it); the runtime's time stays
                _, _, provider, message, more = inner
                data.update(more)
            elif (shaped := match_shape(line)) is not None:
                data["shape"] = shaped[0]
                if shaped[0] == "klog":
                    provider, data["level"] = klog_program(shaped[1].groupdict())
            builder.add(record_no=no, host=ctx.default_host, logged=when, format=FORMAT, channel=stream,
                        provider=provider, message=message, data=data)
            no += 1
            if builder.full():
                yield builder.flush()  # type: ignore[misc]
    if parts:
        ctx.quarantine(no, "the file ends inside a line the runtime cut (its last part is missing)", "".join(parts))
    batch = builder.flush()
    if batch is not None:
        yield batch


def _json_record(line: str, localizer: Localizer):
    """applog's record of a JSON logger's line, or None (not an object, no time, OTLP)."""
    try:
        obj = parse_json(line)
    except (ValueError, RecursionError):
        return None
    if obj.__class__ is not dict or is_otlp(obj):
        return None
    got = record_of(obj, localizer)
    return None if isinstance(got, str) else got


def _parse(raw: str):
    """(time, stream, full, text) of one runtime line, or why it is not one."""
    if raw.startswith("{"):
        try:
            obj = json.loads(raw)
        except ValueError:
            return "not a JSON object (Docker json-file)"
        if not isinstance(obj, dict) or not isinstance(obj.get("log"), str) or not isinstance(obj.get("time"), str):
            return "a JSON line without Docker's log and time"
        m = _RFC3339.match(obj["time"])
        if m is None:
            return "Docker's time is not RFC 3339"
        try:
            when = rfc3339_utc(*m.groups())
        except (ValueError, OverflowError):
            return "a time that does not exist"
        text = obj["log"]
        full = text.endswith("\n")
        return when, str(obj.get("stream") or "stdout"), full, text.rstrip("\r\n") if full else text
    m = _CRI.match(raw)
    if m is None:
        return "not a CRI log line (time stream F|P line)"
    try:
        when = rfc3339_utc(*m.groups()[:8])
    except (ValueError, OverflowError):
        return "a time that does not exist"
    return when, m.group(9), m.group(10) == "F", m.group(11)


# --- what later stages need of these records (see .contract) ---------------------------------

# A JSON logger's lines carry applog's ``corr`` and ``fields``: paired like applog's.
SOURCE = Source(FORMAT, platform="linux", messages="correlated")
