"""Symptom rules: which records are skew-sensitive failures, and whose clock they accuse.

Rules are Sigma YAML (https://sigmahq.io/docs/basics/rules.html), valid for pySigma so
that ``sigma convert`` takes them to a SIEM, with skewsleuth's own block::

    skewsleuth:
      signature: SIP_E_CRYPT_REFERRER_DATE_SKEWED  # what the verdict calls it
      protocol: sip-ms-identity                    # the protocol that failed
      tolerance_s: 300                             # the skew it tolerates (null: n/a)
      role: symptom | consequence | clock_evidence
      skew_signature: true     # the failure itself says a time was out of bounds
      suspect: ['ms-ep-fqdn=([^;]+)', peer, self]  # whose clock, first that applies
      tests:                   # real messages it must (not) match
        match: ['...']
        no_match: ['...']
        source: where the messages come from

``suspect`` entries: ``self`` (the host that logged the record: the receiver of a
rejected request), ``peer`` (the host a SIP record names as its peer: the sender of an
incoming message), or a regular expression whose first group captures a host name or
address from the record's text (the client a KDC names, the Edge an ms-ep-fqdn names).
An address is turned into its host by the case file's ``hosts:`` mapping.

Detection: named search identifiers (a mapping: every field must match; a list of
mappings: any; a list of strings: keywords anywhere in the message) and a Sigma
``condition`` over them with ``and``, ``or``, ``not``, parentheses and ``1 of`` /
``all of`` (``them`` or ``name*``). Fields: ``Provider``, ``EventID``, ``Channel``,
``Format``, ``Host`` and ``Message`` (the record's text and its structured data); any
other name is a field of the record's data (Windows EventData such as ``Status``, a
JSON log's top-level field). Values match case-insensitively with Sigma's ``*`` / ``?``
wildcards; modifiers ``contains``, ``startswith``, ``endswith``, ``re`` (with ``i``,
``m``, ``s``), ``all``. Every rule is matched by one SQL statement over the whole
``timeline`` in DuckDB, never record by record in Python.

``measure`` (optional, in the same block): shapes of records that state a difference
between two clocks (:mod:`skewsleuth.clock.measured`), each a mapping whose
``captures`` are RE2 patterns with one group; they go to the clock model, which runs
before the rules match, as plain data.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from ..clock.measured import Shape, shape_from_mapping, time_formats_problem
from ..errors import RuleError

FIELDS = {
    "provider": "provider",
    "eventid": "event_id",
    "channel": "channel",
    "format": "format",
    "host": "host",
    "message": "(coalesce(message, '') || chr(10) || coalesce(data, ''))",
}
MESSAGE = FIELDS["message"]
# Rules search the message text case-insensitively, many patterns per record: the
# text is lowered once per record (a column every query running rules provides, see
# ``with_message_lower``) rather than once per pattern.
MESSAGE_LOWER = "_message_lower"


def with_message_lower(relation: str) -> str:
    """``relation`` (a table or view name) with the column rules' patterns read."""
    return f"(SELECT *, lower({MESSAGE}) AS {MESSAGE_LOWER} FROM {relation})"
ROLES = ("symptom", "consequence", "clock_evidence")
SUSPECTS = ("self", "peer")
_RE2: "duckdb.DuckDBPyConnection | None" = None


@functools.lru_cache(maxsize=1024)
def _re2_problem(pattern: str) -> str | None:
    """Why DuckDB's regular expressions (RE2, not Python's ``re``: no look-arounds or
    back-references) refuse ``pattern``; None when they take it. Checked when rules
    load, so that a bad user rule is a one-line error, not a failed investigation
    (not for the built-in pack, whose every rule the test suite runs: the check's own
    DuckDB connection took 30 ms of every investigation)."""
    global _RE2
    if _RE2 is None:
        import duckdb

        _RE2 = duckdb.connect()
    try:
        _RE2.execute("SELECT regexp_matches('', ?)", [pattern])
    except Exception as exc:  # noqa: BLE001 - DuckDB reports RE2's refusal as InvalidInputException
        return str(exc).splitlines()[0]
    return None


_DATA_FIELD = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@-]{0,127}$")
_MODIFIERS = {"contains", "startswith", "endswith", "re", "all", "i", "m", "s"}


@dataclass
class Rule:
    id: str
    title: str
    signature: str
    protocol: str
    tolerance_s: float | None
    role: str
    skew_signature: bool
    suspect: list[str]
    detection: dict[str, Any]
    condition: str
    path: str
    tests: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    builtin: bool = False
    # Shapes of measurement the rule declares (``measure:``): records that state a
    # difference between two clocks, handed to the clock model as plain data.
    measure: list[Shape] = field(default_factory=list)

    @property
    def level(self) -> str:
        return str(self.raw.get("level") or "")

    def where(self) -> tuple[str, list[Any]]:
        """The rule's detection as a SQL condition with parameters."""
        params: list[Any] = []
        sql = _Condition(self, params).parse()
        return sql, params

    def needles(self) -> frozenset[str] | None:
        """Texts one of which a record's lowered message text (``_message_lower``)
        contains whenever the rule matches it; None when the rule can match a record
        without (it tests other fields only, or a regular expression). A cheap test of
        these lets a scan skip most records before the rule's own condition."""
        return _Condition(self, [], _NEEDLES).parse()


# --- values and search identifiers -> SQL ---------------------------------------------

def _like(value: str, op: str) -> str:
    """A Sigma value (``*`` and ``?`` wildcards, ``\\`` escapes) as a LIKE pattern."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append("\\" + value[i + 1] if value[i + 1] == "\\" else value[i + 1])
            i += 2
            continue
        out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_", "\\": "\\\\"}.get(c, c))
        i += 1
    pat = "".join(out)
    return {"contains": f"%{pat}%", "startswith": f"{pat}%", "endswith": f"%{pat}"}.get(op, pat)


def _column(rule: Rule, name: str) -> str:
    column = FIELDS.get(name.lower())
    if column is not None:
        return column
    if not _DATA_FIELD.match(name):
        raise RuleError(f"{rule.path}: unknown field {name!r} (known: {', '.join(FIELDS)}, or a data field name)")
    return "json_extract_string(data, '$.\"" + name + "\"')"


def _field_sql(rule: Rule, key: str, values: Any, params: list) -> str:
    name, *mods = key.split("|")
    bad = [m for m in mods if m not in _MODIFIERS]
    if bad:
        raise RuleError(f"{rule.path}: unknown modifier {bad[0]!r}")
    column = _column(rule, name)
    values = values if isinstance(values, list) else [values]
    every = "all" in mods
    op = next((m for m in mods if m in ("contains", "startswith", "endswith", "re")), "equals")
    parts = []
    for v in values:
        if v is None:
            parts.append(f"{column} IS NULL")
        elif op == "re":
            flags = "".join(f for f in "ims" if f in mods)
            parts.append(f"regexp_matches({column}, ?)")
            params.append((f"(?{flags})" if flags else "") + str(v))
            problem = None if rule.builtin else _re2_problem(params[-1])
            if problem:
                raise RuleError(f"{rule.path}: bad regular expression {str(v)!r}: {problem}")
        elif column == "event_id" and op == "equals" and not isinstance(v, bool) and str(v).isdigit():
            parts.append(f"{column} = ?")
            params.append(int(v))
        elif column == MESSAGE:
            parts.append(f"{MESSAGE_LOWER} LIKE ? ESCAPE '\\'")
            params.append(_like(str(v), op).lower())
        else:
            parts.append(f"lower(CAST({column} AS VARCHAR)) LIKE lower(?) ESCAPE '\\'")
            params.append(_like(str(v), op))
    if not parts:
        raise RuleError(f"{rule.path}: field {name!r} has no values")
    return "(" + (" AND " if every else " OR ").join(parts) + ")"


def _literal_runs(pattern: str) -> list[str]:
    """A LIKE pattern (``\\`` escapes) cut at its wildcards, escapes undone."""
    runs, run, i = [], [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            run.append(pattern[i + 1])
            i += 2
            continue
        if c in "%_":
            runs.append("".join(run))
            run = []
        else:
            run.append(c)
        i += 1
    return runs + ["".join(run)]


def _field_needles(rule: Rule, key: str, values: Any) -> frozenset[str] | None:
    """What ``_field_sql`` tests, as texts the lowered message must contain: for the
    message field, each value's longest run without wildcards."""
    name, *mods = key.split("|")
    op = next((m for m in mods if m in ("contains", "startswith", "endswith", "re")), "equals")
    values = values if isinstance(values, list) else [values]
    if _column(rule, name) != MESSAGE or op == "re" or not values or any(v is None for v in values):
        return None
    runs = [max(_literal_runs(_like(str(v), op).lower()), key=len) for v in values]
    if "all" in mods:
        runs = [max(runs, key=len)]
    return None if not all(runs) else frozenset(runs)


def _identifier(rule: Rule, name: str, params: list, algebra: Any) -> Any:
    item = rule.detection[name]
    if isinstance(item, dict):
        if not item:
            raise RuleError(f"{rule.path}: search identifier {name!r} is empty")
        return algebra.all([algebra.field(rule, k, v, params) for k, v in item.items()])
    if isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
        return algebra.any([algebra.all([algebra.field(rule, k, v, params) for k, v in x.items()]) for x in item])
    if isinstance(item, (list, str, int)) and item != []:
        # keywords: anywhere in the record's text
        return algebra.field(rule, "Message|contains", item if isinstance(item, list) else [item], params)
    raise RuleError(f"{rule.path}: search identifier {name!r} must be a mapping, a list of mappings or keywords")


class _Sql:
    """How a condition's parts combine into SQL."""

    @staticmethod
    def any(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    @staticmethod
    def all(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    @staticmethod
    def negate(part: str) -> str:
        return f"(NOT coalesce({part}, FALSE))"

    field = staticmethod(lambda rule, key, values, params: _field_sql(rule, key, values, params))


class _Needles:
    """How a condition's parts combine into necessary texts (see :meth:`Rule.needles`):
    an OR needs one of its parts' texts, an AND any one part's, a NOT none."""

    @staticmethod
    def any(parts: list[frozenset[str] | None]) -> frozenset[str] | None:
        return None if any(p is None for p in parts) else frozenset().union(*parts)

    @staticmethod
    def all(parts: list[frozenset[str] | None]) -> frozenset[str] | None:
        known = [p for p in parts if p is not None]
        return min(known, key=lambda p: (len(p), sorted(p))) if known else None

    @staticmethod
    def negate(part: frozenset[str] | None) -> None:
        return None

    field = staticmethod(lambda rule, key, values, params: _field_needles(rule, key, values))


_SQL, _NEEDLES = _Sql(), _Needles()


class _Condition:
    """A Sigma condition -> SQL (or, with :class:`_Needles`, the texts it needs): ``or``
    binds loosest, then ``and``, then ``not``."""

    _TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_*]+)")

    def __init__(self, rule: Rule, params: list, algebra: Any = _SQL):
        self.rule, self.params, self.algebra = rule, params, algebra
        text = rule.condition
        self.tokens, pos = [], 0
        while pos < len(text):
            m = self._TOKEN.match(text, pos)
            if not m:
                if text[pos:].strip() == "":
                    break
                raise RuleError(f"{rule.path}: cannot read condition {text!r} at {text[pos:pos + 10]!r}")
            self.tokens.append(m.group(1))
            pos = m.end()
        self.i = 0

    def parse(self) -> Any:
        sql = self._or()
        if self.i != len(self.tokens):
            raise RuleError(f"{self.rule.path}: unexpected {self.tokens[self.i]!r} in condition {self.rule.condition!r}")
        return sql

    def _peek(self) -> str | None:
        return self.tokens[self.i].lower() if self.i < len(self.tokens) else None

    def _take(self) -> str:
        if self.i >= len(self.tokens):
            raise RuleError(f"{self.rule.path}: condition {self.rule.condition!r} ends too early")
        self.i += 1
        return self.tokens[self.i - 1]

    def _or(self) -> Any:
        return self._joined("or", self._and, self.algebra.any)

    def _and(self) -> Any:
        return self._joined("and", self._not, self.algebra.all)

    def _joined(self, word: str, operand: Callable[[], Any], combine: Callable[[list], Any]) -> Any:
        parts = [operand()]
        while self._peek() == word:
            self._take()
            parts.append(operand())
        return combine(parts)

    def _not(self) -> Any:
        if self._peek() == "not":
            self._take()
            return self.algebra.negate(self._not())
        return self._atom()

    def _atom(self) -> Any:
        tok = self._take()
        if tok == "(":
            sql = self._or()
            if self._take() != ")":
                raise RuleError(f"{self.rule.path}: unbalanced parentheses in {self.rule.condition!r}")
            return sql
        if tok.lower() in ("1", "all") and self._peek() == "of":
            self._take()
            pattern = self._take()
            names = [n for n in self.rule.detection if n != "condition" and
                     (pattern == "them" or fnmatch.fnmatchcase(n, pattern))]
            if not names:
                raise RuleError(f"{self.rule.path}: '{tok} of {pattern}' names no search identifier")
            combine = self.algebra.any if tok == "1" else self.algebra.all
            return combine([_identifier(self.rule, n, self.params, self.algebra) for n in names])
        if tok not in self.rule.detection or tok == "condition":
            raise RuleError(f"{self.rule.path}: condition names {tok!r}, which the detection does not define")
        return _identifier(self.rule, tok, self.params, self.algebra)


# --- loading ---------------------------------------------------------------------------

# libyaml's safe loader when PyYAML was built with it: the pure-Python one took 90 ms
# for the 19 built-in rules, a fifth of a small investigation.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_file(path: Path, text: str, builtin: bool = False) -> Rule:
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise RuleError(f"{path}: a rule is a YAML mapping")
    det = doc.get("detection")
    if not isinstance(det, dict) or not isinstance(det.get("condition"), str):
        raise RuleError(f"{path}: detection needs search identifiers and a 'condition'")
    if not isinstance(doc.get("logsource"), dict):
        raise RuleError(f"{path}: a Sigma rule needs a 'logsource' mapping")
    own = doc.get("skewsleuth") or {}
    if not isinstance(own, dict):
        raise RuleError(f"{path}: 'skewsleuth' must be a mapping")
    role = own.get("role", "symptom")
    if role not in ROLES:
        raise RuleError(f"{path}: role must be one of {', '.join(ROLES)}")
    suspect = own.get("suspect") or ["self"]
    if isinstance(suspect, str):
        suspect = [suspect]
    for s in suspect:
        if not isinstance(s, str):
            raise RuleError(f"{path}: suspect entries are self, peer or a pattern, not {s!r}")
        if s not in SUSPECTS:
            problem = None if builtin else _re2_problem(s)
            if problem:
                raise RuleError(f"{path}: bad suspect pattern {s!r}: {problem}")
            if re.compile(s).groups < 1:
                raise RuleError(f"{path}: suspect pattern {s!r} needs a capture group")
    tol = own.get("tolerance_s")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0):
        raise RuleError(f"{path}: skewsleuth.tolerance_s must be a number of seconds, not {tol!r}")
    tests = own.get("tests") or {}
    if not isinstance(tests, dict):
        raise RuleError(f"{path}: skewsleuth.tests must be a mapping (match / no_match lists)")
    measure = _measure(path, own.get("measure"), str(doc.get("title") or path.stem), builtin)
    rule = Rule(
        id=str(doc.get("id") or path.stem), title=str(doc.get("title") or path.stem),
        signature=str(own.get("signature") or path.stem.upper()), protocol=str(own.get("protocol") or "unknown"),
        tolerance_s=float(tol) if tol is not None else None, role=role,
        skew_signature=bool(own.get("skew_signature", False)), suspect=list(suspect),
        detection={k: v for k, v in det.items() if k != "condition"}, condition=det["condition"],
        path=str(path), tests=tests, raw=doc, builtin=builtin, measure=measure)
    rule.where()  # validate fields, modifiers and the condition now, not at match time
    return rule


def _measure(path: Path, entries: Any, title: str, builtin: bool) -> list[Shape]:
    """The rule's ``measure:`` entries as shapes (a mapping or a list of them); each
    capture an RE2 pattern with one group, checked like suspect patterns."""
    if entries is None:
        return []
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list):
        raise RuleError(f"{path}: skewsleuth.measure must be a mapping or a list of mappings")
    shapes = []
    for spec in entries:
        try:
            shape = shape_from_mapping(spec, title)
        except ValueError as exc:
            raise RuleError(f"{path}: bad measure: {exc}") from None
        for name, pattern in shape.captures:
            problem = None if builtin else _re2_problem(pattern)
            if problem:
                raise RuleError(f"{path}: bad measure pattern {pattern!r} ({name}): {problem}")
            try:
                groups = re.compile(pattern).groups
            except re.error:
                groups = 1   # RE2 took it; Python's re reads some of its syntax otherwise
            if groups != 1:
                raise RuleError(f"{path}: measure pattern {pattern!r} ({name}) needs exactly one capture group")
        problem = None if builtin or "self_time" not in shape.names else time_formats_problem(shape.time_formats)
        if problem:
            raise RuleError(f"{path}: bad measure time_formats {list(shape.time_formats)!r}: {problem}")
        shapes.append(shape)
    return shapes


def builtin_files() -> list[tuple[str, str]]:
    """(file name, text) of every rule of the built-in pack."""
    builtin = resources.files(__package__) / "builtin"
    return [(e.name, e.read_text(encoding="utf-8")) for e in sorted(builtin.iterdir(), key=lambda e: e.name)
            if e.name.endswith((".yml", ".yaml"))]


def load_rules(extra_dirs: list[Path] | None = None, *, builtin: bool = True) -> list[Rule]:
    """The built-in pack (unless ``builtin=False``) plus every ``*.yml`` / ``*.yaml`` in
    ``extra_dirs``."""
    rules = [_load_file(Path(name), text, builtin=True) for name, text in builtin_files()] if builtin else []
    for d in extra_dirs or []:
        d = Path(d)
        if not d.is_dir():
            raise RuleError(f"rules folder {d} does not exist")
        files = sorted(list(d.glob("*.yml")) + list(d.glob("*.yaml")))
        if not files:
            # Likely a wrong path: the user meant some rules to apply and none would.
            raise RuleError(f"rules folder {d} holds no *.yml or *.yaml rule files")
        for p in files:
            rules.append(_load_file(p, p.read_text(encoding="utf-8")))
    ids = [r.id for r in rules]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise RuleError(f"duplicate rule ids: {', '.join(sorted(dup))}")
    return rules
