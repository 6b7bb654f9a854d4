"""One small file of each kind a person may hand the command alone (issue 22's
start-up): the real EVTX sample of 7 records, and one host's syslog, Windows event XML
and journald export of a synthetic fleet (~200 records each, with the leaps and sync
reports the clock model tests)."""

from __future__ import annotations

from pathlib import Path

from synth.corpus import write_corpus

EVTX_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "evtx" / "Security_short_selected.evtx"


def small_files(out: Path) -> dict[str, Path]:
    """kind -> file; the text files are written under ``out`` (which must not exist,
    or be empty)."""
    write_corpus(out, 3, 600, seed=22, formats=("rfc3164", "eventxml", "journald"), incident=False)
    found = {"evtx": EVTX_SAMPLE}
    for kind, pattern in (("syslog", "syslog"), ("event XML", "*.xml"), ("journald", "*.json")):
        found[kind] = next(iter(sorted(out.rglob(pattern))))
    return found
