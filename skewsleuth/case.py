"""The case file: what only people know, and change logs exported as CSV.

A case file (YAML) carries the zone for times written without an offset, the hosts
whose clocks are trusted (``references``), the changes made around the incident and
observations of the form "host X showed S when the time was T"::

    timezone: America/Chicago
    references: [srv-lyncfe01.domain.com]
    hosts:                              # addresses (and other names) logs give hosts by
      client01.corp: [10.0.0.5, "fe80::5"]
    correlation_keys:                   # fields naming one message in two hosts' logs
      - order_id
      - {key: job, direction: dir, phase: step}   # their direction / phase in other fields
    changes:
      - at: 2014-10-20 18:30
        host: dirsync01.domain.com      # optional
        what: Password Sync re-enabled
    observations:
      - host: srv-lyncedge01.domain.com
        at: 2014-10-20 21:31            # true time
        shown: 2014-10-20 16:31         # what the host displayed

A key the file does not define, at the top or in an entry of ``changes``,
``observations`` or ``correlation_keys`` (``refrences:``, ``shwon:``), is refused
with the nearest known key (:class:`CaseKeyError`): what it holds would be lost.
``references`` is a list of names; ``hosts`` is keyed by the hosts' own names.

A change log CSV has the header ``time,host,change``.

Times are parsed by this module, not by YAML: PyYAML would read ``2014-10-20 18:30:00``
as UTC, silently, where people mean the case's zone. A local time that daylight saving
makes ambiguous (the repeated hour) or non-existent (the skipped hour) is resolved to
its first reading and flagged, never shifted silently.
"""

from __future__ import annotations

import csv
import difflib
import io
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import CaseError, CaseKeyError

UTC = dt_timezone.utc

CASE_KEYS = ("timezone", "references", "reference_accuracy_s", "hosts", "correlation_keys", "changes",
             "observations")
# The keys of an entry of each list; ``change`` is another name of a change's ``what``.
CHANGE_KEYS = ("at", "host", "what", "change")
OBSERVATION_KEYS = ("host", "at", "shown", "uncertainty_s")
CORRELATION_KEY_KEYS = ("key", "direction", "phase")
# A correlation key names a field of JSON application logs (a nested one by its dotted
# path, ``req.id``), a structured-data parameter of RFC 5424 syslog, or a name=value
# word of a syslog or journal message.
_KEY_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.@-]{0,127}$")
_CASE_HEAD = re.compile(rb"^\s*(?:#[^\n]*\n\s*)*(?:---\s*\n\s*)?(?:" + b"|".join(k.encode() for k in CASE_KEYS) + rb")\s*:", re.S)
_CSV_HEAD = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*time\s*,\s*host\s*,\s*change\s*\r?\n", re.I)
_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*"
    r"(Z|[+-]\d{2}:?\d{2}|UTC)?\s*$", re.I)


@dataclass(frozen=True)
class CorrelationKey:
    """A log field whose value names one message on both of its sides, and the fields
    that say which side a record is (``direction``: in / out, sent / received, ...)
    and whether it is the request or the response (``phase``)."""

    name: str
    direction: str = "direction"
    phase: str = "phase"


@dataclass(frozen=True)
class CaseTime:
    """A time read from the case file, as UTC, with how precisely it was written."""

    utc: datetime
    resolution_s: float  # 60 when written to the minute, 1 to the second, ...
    note: str | None = None  # "ambiguous local time" / "non-existent local time"


@dataclass(frozen=True)
class Change:
    at: datetime  # true time, UTC
    what: str
    host: str | None = None
    source: str = ""
    note: str | None = None


@dataclass(frozen=True)
class Observation:
    host: str
    at: datetime      # true time, UTC
    shown: datetime   # the host's logged time at that moment, UTC
    uncertainty_s: float
    source: str = ""

    @property
    def offset_s(self) -> float:
        return (self.shown - self.at).total_seconds()


@dataclass
class Case:
    timezone: tzinfo = UTC
    timezone_name: str = "UTC"
    references: list[str] = field(default_factory=list)
    # How close to true time a reference clock is trusted to be (a GPS-disciplined
    # server: a millisecond; a domain controller synced over the internet: a second).
    reference_accuracy_s: float = 1.0
    # Fields of application logs that name one message on both its sides (an order
    # id, a job id), beyond the request / trace ids every log is searched for.
    correlation_keys: list[CorrelationKey] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    # Address (or other name) a log gives a host by -> the host: a KDC or a web server
    # names its clients by address, and a symptom naming one accuses that host's clock.
    addresses: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    # Entries that could not be used, with the reason: (source, entry excerpt, reason).
    rejected: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: "Case") -> None:
        """Add another case file's knowledge; the zone of the first one named wins."""
        if self.timezone_name == "UTC" and other.timezone_name != "UTC":
            self.timezone, self.timezone_name = other.timezone, other.timezone_name
        elif other.timezone_name not in ("UTC", self.timezone_name):
            self.notes.append(f"{other.sources[0] if other.sources else 'a case file'} says timezone "
                              f"{other.timezone_name}; {self.timezone_name} is used for times without an offset, "
                              "its own times were read in its zone")
        self.references += [r for r in other.references if r not in self.references]
        self.correlation_keys += [k for k in other.correlation_keys if k not in self.correlation_keys]
        self.changes += other.changes
        self.observations += other.observations
        for addr, host in other.addresses.items():
            if self.addresses.setdefault(addr, host) != host:
                self.notes.append(f"{other.sources[0] if other.sources else 'a case file'} maps {addr} to {host}; "
                                  f"{self.addresses[addr]} is kept")
        self.sources += other.sources
        self.rejected += other.rejected
        self.notes += other.notes


def parse_time(value: Any, zone: tzinfo) -> CaseTime:
    """Parse a case-file time; naive times are in ``zone``."""
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    m = _TIME.match(str(value))
    if not m:
        raise ValueError(f"not a time: {str(value)[:60]!r} (expected YYYY-MM-DD HH:MM[:SS][+HH:MM])")
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    frac = m.group(7) or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    resolution = 60.0 if m.group(6) is None else (10.0 ** -len(frac) if frac else 1.0)
    naive = datetime(year, month, day, hour, minute, second, micro)
    suffix = m.group(8)
    if suffix:
        if suffix.upper() in ("Z", "UTC"):
            return CaseTime(naive.replace(tzinfo=UTC), resolution)
        sign = -1 if suffix[0] == "-" else 1
        digits = suffix[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return CaseTime((naive - sign * delta).replace(tzinfo=UTC), resolution)
    return _localize(naive, zone, resolution)


def _localize(naive: datetime, zone: tzinfo, resolution: float) -> CaseTime:
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    note = None
    if first.utcoffset() != second.utcoffset():
        # fold makes a difference only in a repeated or a skipped hour; a time that
        # does not survive the round trip through UTC never existed locally.
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        note = "ambiguous local time (repeated hour), first reading used" if back == naive \
            else "non-existent local time (skipped hour), read with the offset before the change"
    return CaseTime(first.astimezone(UTC), resolution, note)


class _NoTimestampLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as strings for :func:`parse_time`."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def sniff_case(head: bytes) -> bool:
    return bool(_CASE_HEAD.match(head))


def sniff_changes_csv(head: bytes) -> bool:
    return bool(_CSV_HEAD.match(head))


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CaseError(f"unknown time zone {name!r} (expected an IANA name like America/Chicago)") from None


def load_case(path: Path, default_zone: str | None = None) -> Case:
    """Read a YAML case file. Unusable entries are kept in ``Case.rejected``."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        doc = yaml.load(text, Loader=_NoTimestampLoader)  # noqa: S506 - SafeLoader subclass
    except OSError as exc:
        raise CaseError(f"cannot read case file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CaseError(f"case file {path} is not valid YAML{where}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise CaseError(f"case file {path} must be a mapping with keys {', '.join(CASE_KEYS)}")
    src = str(path)
    # A misspelt key (``refrences``) would silently drop what it holds: refused, as
    # the inventory refuses one, before anything else is read.
    _known_keys(doc, CASE_KEYS, src)
    for name, known in (("changes", CHANGE_KEYS), ("observations", OBSERVATION_KEYS),
                        ("correlation_keys", CORRELATION_KEY_KEYS)):
        entries = doc.get(name)
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            if isinstance(entry, dict):
                _known_keys(entry, known, f"{name}[{i}] of {src}" if isinstance(entries, list) else f"{name} of {src}")
    zone_name = str(doc.get("timezone") or default_zone or "UTC")
    case = Case(timezone=_zone(zone_name), timezone_name=zone_name, sources=[src])
    refs = doc.get("references") or []
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or any(isinstance(r, (dict, list)) for r in refs):
        raise CaseError(f"case file {path}: 'references' is a list of host names, like [fe01.corp, dc01.corp]")
    case.references = [str(r).strip() for r in refs if str(r).strip()]
    if doc.get("reference_accuracy_s") is not None:
        try:
            case.reference_accuracy_s = float(doc["reference_accuracy_s"])
            if not case.reference_accuracy_s >= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise CaseError(f"case file {path}: reference_accuracy_s must be a number of seconds >= 0") from None
    _read_hosts(doc.get("hosts"), case, src)
    keys = doc.get("correlation_keys") or []
    for key in [keys] if isinstance(keys, (str, dict)) else keys if isinstance(keys, list) else [keys]:
        parsed = _correlation_key(key)
        if parsed is None:
            case.rejected.append((src, f"correlation_keys: {str(key)[:80]}",
                                  "a correlation key is the name of a log field (letters, digits, _ . @ -), or "
                                  "{key: NAME, direction: FIELD, phase: FIELD}"))
        elif parsed not in case.correlation_keys:
            case.correlation_keys.append(parsed)
    for entry in _entries(doc, "changes", case, src):
        try:
            at = parse_time(entry["at"], case.timezone)
            what = str(entry.get("what") or entry.get("change") or "").strip()
            if not what:
                raise ValueError("a change needs 'what'")
            host = str(entry["host"]).strip() if entry.get("host") else None
            case.changes.append(Change(at.utc, what, host, src, at.note))
        except (KeyError, ValueError) as exc:
            case.rejected.append((src, repr(entry)[:120], _why(exc)))
    for entry in _entries(doc, "observations", case, src):
        try:
            at = parse_time(entry["at"], case.timezone)
            shown = parse_time(entry["shown"], case.timezone)
            unc = float(entry.get("uncertainty_s", at.resolution_s + shown.resolution_s))
            case.observations.append(Observation(str(entry["host"]).strip(), at.utc, shown.utc, unc, src))
        except (KeyError, ValueError, TypeError) as exc:
            case.rejected.append((src, repr(entry)[:120], _why(exc)))
    return case


def normalize_address(text: str) -> str:
    """An address as logs write it, in one spelling: lower case, without a port, brackets
    or the ``::ffff:`` of an IPv4-mapped IPv6 address; IPv6 compressed."""
    a = str(text).strip().strip('"').lower()
    m = re.match(r"^\[([^\]]+)\](?::\d+)?$", a)
    if m:
        a = m.group(1)
    elif re.match(r"^[^:]+:\d+$", a):
        a = a.rsplit(":", 1)[0]
    if a.startswith("::ffff:") and "." in a:
        a = a[7:]
    try:
        return ipaddress.ip_address(a).compressed
    except ValueError:
        return a


def address_rows(raws: Iterable[str], addresses: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(as written, one spelling, host the case maps it to or None) for each address a
    log wrote: the one definition of an address's spelling, in Python, applied to the
    few distinct spellings logs use rather than re-written in SQL."""
    out = []
    for raw in sorted(set(raws)):
        address = normalize_address(raw)
        out.append((raw, address, addresses.get(address)))
    return out


def _read_hosts(entry: Any, case: Case, src: str) -> None:
    """``hosts: {client01.corp: [10.0.0.5, ...]}``: the addresses each host is named by."""
    if entry is None:
        return
    if not isinstance(entry, dict):
        case.rejected.append((src, "hosts", "'hosts' must map host names to lists of addresses"))
        return
    for host, addrs in entry.items():
        host = str(host).strip()
        addrs = [addrs] if isinstance(addrs, (str, int, float)) else addrs
        if not host or not isinstance(addrs, list) or not addrs:
            case.rejected.append((src, f"hosts: {str(host)[:60]}", "a host maps to a list of addresses"))
            continue
        for a in addrs:
            norm = normalize_address(str(a))
            if not norm:
                continue
            if case.addresses.get(norm, host) != host:
                case.rejected.append((src, f"hosts: {host}: {a}",
                                      f"{a} is already the address of {case.addresses[norm]}"))
                continue
            case.addresses[norm] = host


def _known_keys(entry: dict, known: tuple[str, ...], where: str) -> None:
    """Refuse a key ``entry`` does not define, naming the nearest known one."""
    for key in entry:
        if key in known:
            continue
        name = str(key)[:60]
        near = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(known)})"
        raise CaseKeyError(f"unknown key {name!r} in {where}{hint}")


def _why(exc: Exception) -> str:
    return f"missing '{exc.args[0]}'" if isinstance(exc, KeyError) else str(exc)


def _correlation_key(entry: Any) -> CorrelationKey | None:
    """A ``correlation_keys`` entry: a field name, or a mapping naming the key and the
    fields that give its direction and phase. None when it names no usable field."""
    if isinstance(entry, str):
        entry = {"key": entry}
    if not isinstance(entry, dict) or set(entry) - {"key", "direction", "phase"}:
        return None
    names = {k: str(v).strip() for k, v in entry.items() if isinstance(v, str)}
    if len(names) != len(entry) or "key" not in names or not all(_KEY_NAME.match(v) for v in names.values()):
        return None
    return CorrelationKey(names["key"], names.get("direction", "direction"), names.get("phase", "phase"))


def _entries(doc: dict, key: str, case: Case, src: str) -> list[dict]:
    items = doc.get(key) or []
    if not isinstance(items, list):
        case.rejected.append((src, key, f"'{key}' must be a list"))
        return []
    good = []
    for item in items:
        if isinstance(item, dict):
            good.append(item)
        else:
            case.rejected.append((src, repr(item)[:120], f"an entry of '{key}' must be a mapping"))
    return good


def load_changes_csv(path: Path, zone: tzinfo, zone_name: str = "UTC") -> Case:
    """Read a change log exported as CSV with the header ``time,host,change``."""
    src = str(path)
    case = Case(timezone=zone, timezone_name=zone_name, sources=[src])
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for row in csv.DictReader(io.StringIO(text)):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str) or v is None}
        try:
            at = parse_time(row.get("time", ""), zone)
            if not row.get("change"):
                raise ValueError("empty 'change'")
            case.changes.append(Change(at.utc, row["change"], row.get("host") or None, src, at.note))
        except ValueError as exc:
            case.rejected.append((src, repr(row)[:120], str(exc)))
    return case
