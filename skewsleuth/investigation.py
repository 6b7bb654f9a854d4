"""The investigation pipeline: sources -> store -> normalise -> clock -> rules ->
incidents -> root causes -> verdict.

``investigate(paths, case=...)`` is the library's main verb; the CLI's
``skewsleuth investigate`` only parses arguments, calls it and renders the verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from .case import Case, load_case
from .clock.krb5 import map_kdc_addresses
from .clock.model import build_clock_model
from .errors import CaseError, CaseKeyError, InputError, NothingRead, SchedulerError, StoreError
from .findings import find_clock_changes
from .incident import find_incidents
from .normalise import canonicalise, drop_duplicates, host_roles
from .rca import diagnose
from .reading.discovery import HIDDEN, find_case_files
from .reading.files import PLACEABLE_FROM, PLACEABLE_UNTIL
from .reading.ingest import IngestSummary, ingest, unread_files
from .rules import load_rules
from .rules.matcher import match_rules
from .store import Store
from .timefmt import clockface
from .verdict import Verdict


def _nothing_found(summary: IngestSummary) -> str:
    """Why there was no evidence file to read from."""
    if summary.files:
        return "only case files, with no change in them"
    if summary.aside:
        named = ", ".join(f"{p} ({'hidden' if w == HIDDEN else 'a link to a folder'})" for p, w in summary.aside[:3])
        more = len(summary.aside) - 3
        return (f"no evidence file, only what is not read as evidence: {named}"
                + (f" and {more:,} more" if more > 0 else ""))
    return "no files in it"


def investigate(paths: list[str | Path], case: str | Path | Case | None = None, *, db: str | Path | None = None,
                host: str | None = None, rules: list[Path] | None = None, timezone: str | None = None,
                progress: Callable[[Path], None] | None = None, workers: int | None = None,
                scheduler: str | None = None, year: int | None = None) -> Verdict:
    """Investigate the evidence under ``paths`` and return the verdict.

    ``case`` is a case file (YAML) or a :class:`Case`; case files and change logs found
    among the evidence are used too. ``db`` keeps the case database in a file, written
    whole once the verdict is reached (a run stopped part-way leaves it as it was), and
    beside it (``<db>.parsed/``) every file as parsed, so that investigating again
    parses only the files that changed. ``workers`` processes read the files (default:
    every core for large inputs), or the Dask cluster at ``scheduler`` does; the
    verdict is the same. RFC 3164 syslog times carry no year: each file's newest line is
    taken to be no later than the file's modification time, unless ``year`` says the
    year of every such file's first line. Raises :class:`InputError` for unusable input
    (a case file with a key it does not define among them), :class:`NothingRead` (one)
    when not one record could be read, naming the files and why.
    """
    if year is not None and not PLACEABLE_FROM.year <= year < PLACEABLE_UNTIL.year:
        raise InputError(f"year {year} is outside the years a timeline can hold "
                         f"({PLACEABLE_FROM.year}-{PLACEABLE_UNTIL.year - 1})")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {timezone!r} (expected an IANA name like America/Chicago)") from None
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise InputError(f"no such file or folder: {missing[0]}")
    if isinstance(case, Case):
        the_case = case
    elif case is not None:
        try:
            the_case = load_case(Path(case), default_zone=timezone)
        except CaseError as exc:
            raise InputError(str(exc)) from None
    else:
        the_case = Case()
        # The zone must be known before text logs are read: look for a case file first.
        for found in find_case_files(files)[:1]:
            try:
                the_case = load_case(found, default_zone=timezone)
            except CaseKeyError as exc:
                raise InputError(str(exc)) from None
            except CaseError:
                pass
    if timezone and the_case.timezone_name == "UTC":
        try:
            the_case.timezone, the_case.timezone_name = ZoneInfo(timezone), timezone
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {timezone!r} (expected an IANA name like America/Chicago)") from None
    try:
        skipped_rules: list[str] = []
        rule_pack = load_rules(rules, skipped=skipped_rules)
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from None
    try:
        store = Store(db)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    cache = Path(f"{db}.parsed") if db else None
    # Our own outputs are not evidence, even when kept inside the evidence folder.
    own = {Path(f"{db}{suffix}") for suffix in ("", ".wal", ".parsed", ".partial", ".partial.wal")} if db else set()
    try:
        summary = ingest(store, files, the_case, host=host, progress=progress, workers=workers,
                         scheduler=scheduler, cache=cache, exclude=own, year=year)
    except (SchedulerError, CaseKeyError) as exc:
        raise InputError(str(exc)) from None
    if summary.records - summary.quarantined == 0 and not the_case.changes:
        raise NothingRead(unread_files(store), _nothing_found(summary))
    try:
        canonicalise(store, the_case)
        map_kdc_addresses(store, the_case.addresses)
        summary.duplicates = drop_duplicates(store)
        model = build_clock_model(store, the_case, [shape for rule in rule_pack for shape in rule.measure])
        match_rules(store, rule_pack, the_case.addresses)
        when = clockface(the_case.timezone)
        incidents = find_incidents(store, when=when)
    except duckdb.OutOfMemoryException:
        raise InputError(f"the case database needed more than its memory limit ({store.memory_limit}): set "
                         f"SKEWSLEUTH_MEMORY_LIMIT higher (e.g. 4GB)") from None
    roles = host_roles(store)
    diagnoses = [diagnose(inc, model, the_case, roles, when) for inc in incidents]
    findings = find_clock_changes(store, model)
    notes = [f"observation of {o.host} not used: {why}" for o, why in model.unmatched_observations]
    notes += [f"case entry not used ({src}): {why}" for src, _, why in the_case.rejected]
    notes += model.notes
    notes += the_case.notes + summary.notes
    notes += [f"rule skipped: {why}" for why in skipped_rules]
    try:
        store.save()    # --db: written whole now, or left as it was
    except StoreError as exc:
        raise InputError(str(exc)) from None
    return Verdict(summary, model, incidents, diagnoses, the_case, store, notes, findings, skipped_rules)
