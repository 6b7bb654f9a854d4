"""The audit log of ``skewsleuth fix --apply``: append-only JSON Lines, one object per event.

Every line carries ``run`` (one id per fix run), ``at`` (UTC, this machine's clock),
``who`` (the local user), ``host`` and ``event``:

* ``refused``: nothing ran, and why (no confirmation, no terminal, unknown platform).
* ``confirmed``: how (``interactive`` at the prompt, or ``--yes``), the transport and
  the runbook (its basis: offset ± uncertainty, when, which target).
* ``command``: one command run on the host: ``command``, ``changes_state``,
  ``exit_status`` (null when it did not finish), ``duration_s``, ``stdout`` /
  ``stderr`` excerpts with control characters escaped (a hostile host cannot forge
  lines or terminal escapes in the log), ``error`` (timeout, lost connection).
* ``skipped``: a command not run because an earlier state-changing one failed.
* ``unreachable``: the transport could not connect (``error``).
* ``verified``: the fresh measurement after the run and whether it is within the limit.

Lines are written with O_APPEND and flushed one by one, so a run that dies midway
leaves what it did; the file is never rewritten.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..sources.base import excerpt

DEFAULT_AUDIT = "skewsleuth-audit.jsonl"
OUTPUT_EXCERPT = 2000


def escaped(text: str | bytes | None, limit: int = OUTPUT_EXCERPT) -> str:
    """Output of a remote command, safe to print or log: control characters (ANSI
    escapes, CR, newlines) escaped, at most ``limit`` characters."""
    if text is None:
        return ""
    return excerpt(text, limit)


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):     # no passwd entry (containers)
        return str(os.getuid())


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Appends events of one run to ``path``."""

    def __init__(self, path: str | Path, host: str) -> None:
        self.path = Path(path)
        self.host = host
        self.run = uuid.uuid4().hex[:12]
        self.who = local_user()
        # Fail before anything runs if the log cannot be written.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"run": self.run, "at": utc_now(), "who": self.who, "host": self.host, "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        return record


def read_audit(path: str | Path) -> list[dict[str, Any]]:
    """Every event in an audit log, oldest first."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
