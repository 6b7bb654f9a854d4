"""Symptom rules: which records are skew-sensitive failures, and which two clocks they involve.

Rules are Sigma YAML (https://sigmahq.io/docs/basics/rules.html), valid for pySigma so
that ``sigma convert`` takes them to a SIEM, with skewsleuth's own block::

    skewsleuth:
      signature: SIP_E_CRYPT_REFERRER_DATE_SKEWED  # what the verdict calls it
      protocol: sip-ms-identity                    # the protocol that failed
      tolerance_s: 300                             # the skew it tolerates (null: n/a)
      role: symptom | consequence | clock_evidence
      skew_signature: true     # the failure itself says a time was out of bounds
      clocks:                  # the two clocks it involves (see below)
        logged_by: judge       # judge | writer | either
        other: ['ms-ep-fqdn=([^;]+)', peer]  # the other clock's host, first that applies
        writer: Edge that signed the referrer identity
        judge: receiving server
      tests:                   # real messages it must (not) match
        match: ['...']
        no_match: ['...']
        source: where the messages come from

``clocks``: every skew failure involves two clocks, the *writer*'s (whose time the
record carries: a token's issuer, a Kerberos client, a request's signer) and the
*judge*'s (whose clock found it out of bounds: the verifier, the KDC, the server). A rule
says which of the two logged the record (``logged_by``: judge, writer, or either when
both sides measure each other, as etcd peers do), how the record names the other one's
host (``other``: ``peer``, the host a SIP record names, or regular expressions whose
first group captures a host name or address: the client a KDC names), what the two are
in prose, and whether one is a service presumed to keep true time (``trusted``: AWS,
Entra ID). The rule names no suspect: which of the two clocks is wrong is the verdict's
to decide, from the clock evidence and the pattern of failures (rca.py). An address is
turned into its host by the case file's ``hosts:`` mapping. A rule written for an older
skewsleuth with ``suspect: [pattern, ..., self]`` still loads: its patterns name the
writer, and the host that logged it is the judge (``suspect: [self]``: the writer
logged it).

Detection: named search identifiers (a mapping: every field must match; a list of
mappings: any; a list of strings: keywords anywhere in the message) and a Sigma
``condition`` over them with ``and``, ``or``, ``not``, parentheses and ``1 of`` /
``all of`` (``them`` or ``name*``). Fields: ``Provider``, ``EventID``, ``Channel``,
``Format``, ``Host`` and ``Message`` (the record's text and its structured data); any
other name is a field of the record's data (Windows EventData such as ``Status``, a
JSON log's field, a nested one by its dotted path: ``err.stack``, ``http.request.id``).
SigmaHQ's names load too (``Provider_Name``, ``Computer``), so its Windows rules match
as the built-in form does. Values match case-insensitively with Sigma's ``*`` / ``?``
wildcards; modifiers ``contains``, ``startswith``, ``endswith``, ``re`` (with ``i``,
``m``, ``s``), ``all`` (on keywords too: ``'|all'``), ``cidr``, ``windash``, ``base64``,
``base64offset`` (with ``wide`` / ``utf16*``), ``fieldref``, ``gt``/``gte``/``lt``/``lte``,
``exists``, ``cased``. Every rule is matched by one SQL statement over the whole
``timeline`` in DuckDB, never record by record in Python. What one statement over single
records cannot express (a correlation, ``| count()``, ``expand``) raises
:class:`RuleInexpressible`, which a rule folder skips with the reason.

``measure`` (optional, in the same block): shapes of records that state a difference
between two clocks (:mod:`skewsleuth.clock.measured`), each a mapping whose
``captures`` are RE2 patterns with one group; they go to the clock model, which runs
before the rules match, as plain data.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import ipaddress
import itertools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from ..clock.measured import Shape, shape_from_mapping, time_formats_problem
from ..errors import RuleError, RuleInexpressible
from ..sources import per_source_sql

FIELDS = {
    "provider": "provider",
    "eventid": "event_id",
    "channel": "channel",
    "format": "format",
    "host": "host",
    "message": "(coalesce(message, '') || chr(10) || coalesce(data, ''))",
}
MESSAGE = FIELDS["message"]
# SigmaHQ's Windows taxonomy names for the same columns, so that a rule written as
# SigmaHQ writes it (Provider_Name, Computer) matches what the built-in form does.
TAXONOMY = {"provider_name": "provider", "computer": "host", "hostname": "host"}
# Rules search the message text case-insensitively, many patterns per record: the
# text is lowered once per record (a column every query running rules provides, see
# ``with_message_lower``) rather than once per pattern.
MESSAGE_LOWER = "_message_lower"


def with_message_lower(relation: str) -> str:
    """``relation`` (a table or view name) with the column rules' patterns read."""
    return f"(SELECT *, lower({MESSAGE}) AS {MESSAGE_LOWER} FROM {relation})"
ROLES = ("symptom", "consequence", "clock_evidence")
LOGGED_BY = ("judge", "writer", "either")
PEER = "peer"


@dataclass(frozen=True)
class Clocks:
    """The two clocks a rule's records involve (see the module docstring)."""

    logged_by: str = "writer"          # judge | writer | either
    other: tuple[str, ...] = ()        # how a record names the other clock's host: 'peer', patterns
    writer: str = "writer"             # what they are, in prose
    judge: str = "judge"
    trusted: str | None = None         # 'judge' | 'writer': presumed to keep true time
    # A search identifier (a mapping, as in ``detection``) for the judge's records of
    # the same exchange that succeeded: a DC's 4768 with Status 0x0, a KDC's ISSUE line.
    accepted: dict | None = None

    def describe(self) -> str:
        named = "named" if self.other else "not named"
        mine, theirs = (self.judge, self.writer) if self.logged_by == "judge" else (self.writer, self.judge)
        if self.logged_by == "either":
            return f"logged by either {self.writer} or {self.judge}; the other {named}"
        return f"logged by the {mine}; the {theirs} {named}" + \
            (" (trusted)" if self.trusted and self.trusted != self.logged_by else "")
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


_DATA_FIELD = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@.-]{0,127}$")
_OPS = ("contains", "startswith", "endswith", "re", "cidr", "fieldref", "exists", "gt", "gte", "lt", "lte")
_ENCODINGS = {"base64", "base64offset", "wide", "utf16le", "utf16", "utf16be", "windash", "cased", "all"}
_MODIFIERS = set(_OPS) | _ENCODINGS | {"i", "m", "s"}
# Sigma modifiers skewsleuth knows and cannot express in SQL: a rule using one is skipped
# (with the reason), not refused, so that a SigmaHQ folder still loads.
_INEXPRESSIBLE = {"expand": "placeholders (|expand) need values only a SIEM's pipeline supplies",
                  **{m: "time-part modifiers read a time field records do not carry as data"
                     for m in ("minute", "hour", "day", "week", "month", "year")}}


@dataclass
class Rule:
    id: str
    title: str
    signature: str
    protocol: str
    tolerance_s: float | None
    role: str
    skew_signature: bool
    clocks: Clocks
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

    def accepted_where(self) -> tuple[str, list[Any]] | None:
        """``clocks.accepted`` as a SQL condition with parameters (None: not given)."""
        if not self.clocks.accepted:
            return None
        params: list[Any] = []
        parts = [_field_sql(self, k, v, params) for k, v in self.clocks.accepted.items()]
        return _SQL.all(parts), params

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
    column = FIELDS.get(TAXONOMY.get(name.lower(), name.lower()))
    if column is not None:
        return column
    if not _DATA_FIELD.match(name):
        raise RuleError(f"{rule.path}: unknown field {name!r} (known: {', '.join(FIELDS)}, or a data field name)")
    # A structured log line's fields sit under ``fields`` (sources.contract), nested ones
    # by their dotted path as one key: "err.stack" is a name, not a JSON path.
    member = '."' + name + '"'
    return per_source_sql(lambda s: f"json_extract_string(data, '$.fields{member}')" if s.messages == "correlated"
                          else None, default=f"json_extract_string(data, '${member}')")


def _split_key(rule: Rule, key: str) -> tuple[str, list[str], str]:
    """A detection key as (field name, modifiers, operation); an empty name (``'|all'``
    under keywords) is the message, searched for the values anywhere."""
    name, *mods = key.split("|")
    for m in mods:
        if m in _INEXPRESSIBLE:
            raise RuleInexpressible(f"{rule.path}: modifier {m!r}: {_INEXPRESSIBLE[m]}")
    bad = [m for m in mods if m not in _MODIFIERS]
    if bad:
        raise RuleError(f"{rule.path}: unknown modifier {bad[0]!r}")
    ops = [m for m in mods if m in _OPS]
    # fieldref compares with another field, exactly or as contains/startswith/endswith does
    op = "fieldref" if "fieldref" in ops else (ops[0] if ops else ("contains" if not name else "equals"))
    return name or "Message", mods, op


_WINDASH = re.compile(r"\B[-/]\b")
_DASHES = ("-", "/", "\u2013", "\u2014", "\u2015")   # as pySigma's windash: en, em dash, horizontal bar


def _values(rule: Rule, value: str, mods: list[str]) -> list[str]:
    """The texts a Sigma value stands for after its value modifiers: windash's every
    dash of an option, then an encoding (wide/utf16*) and base64 or base64offset."""
    texts = [value]
    if "windash" in mods:
        cuts = _WINDASH.split(value)
        texts = ["".join(a + b for a, b in zip(cuts, dashes + ("",)))
                 for dashes in itertools.product(_DASHES, repeat=len(cuts) - 1)]
    if not {"base64", "base64offset"} & set(mods):
        if {"wide", "utf16le", "utf16", "utf16be"} & set(mods):
            raise RuleInexpressible(f"{rule.path}: an encoding modifier without base64 matches bytes, not text")
        return texts
    if any(c in value for c in "*?"):
        raise RuleError(f"{rule.path}: base64 of a value with wildcards ({value!r}) has no meaning")
    encoding = ("utf-16le" if {"wide", "utf16le"} & set(mods) else "utf-16" if "utf16" in mods
                else "utf-16be" if "utf16be" in mods else "utf-8")
    out = []
    for t in texts:
        raw = t.encode(encoding)
        if "base64" in mods:
            out.append(base64.b64encode(raw).decode())
            continue
        # the three ways the value's bytes fall in a longer base64 text, without the
        # characters that depend on its neighbours (as pySigma's base64offset)
        for i in range(3):
            enc = base64.b64encode(b" " * i + raw).decode()
            out.append(enc[(0, 2, 3)[i]:len(enc) - (0, 3, 2)[(len(raw) + i) % 3]])
    return out


_IPV4 = r"^(?:::ffff:)?[0-9]{1,3}(?:\.[0-9]{1,3}){3}$"


def _cidr_sql(rule: Rule, column: str, value: str, params: list) -> str:
    """A field's address inside a network: IPv4 by number (an IPv4-mapped IPv6 address
    too); IPv6 by the text of its leading groups as RFC 5952 writes them (lower case,
    no leading zeros), which is how Windows and Linux log them."""
    try:
        net = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise RuleError(f"{rule.path}: {value!r} is not a network for |cidr") from None
    text = f"trim(CAST({column} AS VARCHAR))"
    if net.version == 4:
        addr = f"regexp_replace({text}, '^::ffff:', '', 'i')"
        number = " + ".join(f"TRY_CAST(split_part({addr}, '.', {i + 1}) AS UBIGINT) * {256 ** (3 - i)}" for i in range(4))
        params += [_IPV4, int(net.network_address), int(net.broadcast_address)]
        return f"(regexp_matches({text}, ?) AND ({number}) BETWEEN ? AND ?)"
    groups = net.network_address.exploded.split(":")
    whole, bits = divmod(net.prefixlen, 16)
    head = ":".join(format(int(g, 16), "x") for g in groups[:whole])
    if net.prefixlen == 128:
        params.append(net.network_address.compressed)
        return f"(lower({text}) = ?)"
    if not bits:
        prefixes = [head + ":" if head else ""]
    else:
        lo = int(groups[whole], 16)
        hi = lo | ((1 << (16 - bits)) - 1)
        if lo >= 0x1000:   # four digits: the group's leading digits are its leading bits
            shift = 4 * ((16 - bits) // 4)
            firsts = [format(v << shift, "04x")[:4 - shift // 4] for v in range(lo >> shift, (hi >> shift) + 1)]
        elif hi - lo < 256:
            firsts = [format(v, "x") + ":" for v in range(lo, hi + 1)]
        else:
            raise RuleInexpressible(f"{rule.path}: network {value} is not matched on the address text")
        prefixes = [(head + ":" if head else "") + f for f in firsts]
    if any(p == "" for p in prefixes):
        return "TRUE"
    params.extend(p.replace("_", "\\_") + "%" for p in prefixes)
    return "(" + " OR ".join(f"lower({text}) LIKE ? ESCAPE '\\'" for _ in prefixes) + ")"


def _field_sql(rule: Rule, key: str, values: Any, params: list) -> str:
    name, mods, op = _split_key(rule, key)
    column = _column(rule, name)
    values = values if isinstance(values, list) else [values]
    every = "all" in mods
    cased = "cased" in mods
    parts = []
    for v in values:
        if v is None:
            parts.append(f"{column} IS NULL")
        elif op == "exists":
            parts.append(f"({column} IS {'NOT ' if v else ''}NULL)")
        elif op == "re":
            flags = "".join(f for f in "ims" if f in mods)
            parts.append(f"regexp_matches({column}, ?)")
            params.append((f"(?{flags})" if flags else "") + str(v))
            problem = None if rule.builtin else _re2_problem(params[-1])
            if problem:
                raise RuleError(f"{rule.path}: bad regular expression {str(v)!r}: {problem}")
        elif op == "cidr":
            parts.append(_cidr_sql(rule, column, str(v), params))
        elif op == "fieldref":
            other = _column(rule, str(v))
            a, b = ((f"CAST({column} AS VARCHAR)", f"CAST({other} AS VARCHAR)") if cased else
                    (f"lower(CAST({column} AS VARCHAR))", f"lower(CAST({other} AS VARCHAR))"))
            how = next((m for m in mods if m in ("contains", "startswith", "endswith")), None)
            parts.append({"contains": f"contains({a}, {b})", "startswith": f"starts_with({a}, {b})",
                          "endswith": f"ends_with({a}, {b})"}.get(how, f"({a} = {b})"))
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise RuleError(f"{rule.path}: |{op} compares with a number, not {v!r}")
            parts.append(f"(TRY_CAST({column} AS DOUBLE) {dict(gt='>', gte='>=', lt='<', lte='<=')[op]} ?)")
            params.append(float(v))
        elif column == "event_id" and op == "equals" and not isinstance(v, bool) and str(v).isdigit():
            parts.append(f"{column} = ?")
            params.append(int(v))
        else:
            texts = _values(rule, str(v), mods)
            # base64 texts are case-sensitive, and so is |cased
            exact = cased or {"base64", "base64offset"} & set(mods)
            sub = []
            for t in texts:
                if column == MESSAGE and not exact:
                    sub.append(f"{MESSAGE_LOWER} LIKE ? ESCAPE '\\'")
                    params.append(_like(t, op).lower())
                elif exact:
                    sub.append(f"CAST({column} AS VARCHAR) LIKE ? ESCAPE '\\'")
                    params.append(_like(t, op))
                else:
                    sub.append(f"lower(CAST({column} AS VARCHAR)) LIKE lower(?) ESCAPE '\\'")
                    params.append(_like(t, op))
            parts.append(sub[0] if len(sub) == 1 else "(" + " OR ".join(sub) + ")")
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
    name, mods, op = _split_key(rule, key)
    values = values if isinstance(values, list) else [values]
    if _column(rule, name) != MESSAGE or op not in ("contains", "startswith", "endswith", "equals") or \
            set(mods) - {"contains", "startswith", "endswith", "all"} or not values or any(v is None for v in values):
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
    if "correlation" in doc:
        raise RuleInexpressible(f"{path}: a correlation rule counts matches of other rules over time; "
                                f"skewsleuth reads single records")
    det = doc.get("detection")
    condition = det.get("condition") if isinstance(det, dict) else None
    if isinstance(condition, list) and len(condition) == 1:
        condition = det["condition"] = condition[0]
    if isinstance(condition, str) and ("|" in condition or re.search(r"\bnear\b", condition)):
        raise RuleInexpressible(f"{path}: the condition {condition!r} aggregates records (| count(), near); "
                                f"skewsleuth reads single records")
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
    clocks = _clocks(path, own, builtin)
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
        skew_signature=bool(own.get("skew_signature", False)), clocks=clocks,
        detection={k: v for k, v in det.items() if k != "condition"}, condition=det["condition"],
        path=str(path), tests=tests, raw=doc, builtin=builtin, measure=measure)
    rule.where()  # validate fields, modifiers and the condition now, not at match time
    rule.accepted_where()
    return rule


def _pattern(path: Path, what: str, s: object, builtin: bool) -> str:
    if not isinstance(s, str) or not s:
        raise RuleError(f"{path}: {what} entries are 'peer' or a pattern, not {s!r}")
    if s != PEER:
        problem = None if builtin else _re2_problem(s)
        if problem:
            raise RuleError(f"{path}: bad {what} pattern {s!r}: {problem}")
        try:
            groups = re.compile(s).groups
        except re.error as exc:
            raise RuleError(f"{path}: bad {what} pattern {s!r}: {exc}") from None
        if groups < 1:
            raise RuleError(f"{path}: {what} pattern {s!r} needs a capture group")
    return s


def _clocks(path: Path, own: dict, builtin: bool) -> Clocks:
    """The rule's ``clocks`` block, or the ``suspect`` list of an older rule read as one."""
    spec = own.get("clocks")
    if spec is None and own.get("suspect") is not None:
        legacy = own["suspect"] if isinstance(own["suspect"], list) else [own["suspect"]]
        other = tuple(_pattern(path, "suspect", s, builtin) for s in legacy if s != "self")
        return Clocks("judge" if other else "writer", other)
    if spec is None:
        return Clocks()
    if not isinstance(spec, dict):
        raise RuleError(f"{path}: skewsleuth.clocks must be a mapping (logged_by, other, writer, judge, trusted)")
    unknown = set(spec) - {"logged_by", "other", "writer", "judge", "trusted", "accepted"}
    if unknown:
        raise RuleError(f"{path}: skewsleuth.clocks has unknown key {sorted(unknown)[0]!r}")
    logged_by = spec.get("logged_by", "writer")
    if logged_by not in LOGGED_BY:
        raise RuleError(f"{path}: skewsleuth.clocks.logged_by must be one of {', '.join(LOGGED_BY)}")
    other = spec.get("other") or []
    other = other if isinstance(other, list) else [other]
    trusted = spec.get("trusted")
    if trusted not in (None, "judge", "writer"):
        raise RuleError(f"{path}: skewsleuth.clocks.trusted is judge or writer, not {trusted!r}")
    accepted = spec.get("accepted")
    if accepted is not None and (not isinstance(accepted, dict) or not accepted):
        raise RuleError(f"{path}: skewsleuth.clocks.accepted is a mapping of fields to values, as in detection")
    return Clocks(logged_by, tuple(_pattern(path, "clocks.other", s, builtin) for s in other),
                  str(spec.get("writer") or "writer"), str(spec.get("judge") or "judge"), trusted, accepted)


def _measure(path: Path, entries: Any, title: str, builtin: bool) -> list[Shape]:
    """The rule's ``measure:`` entries as shapes (a mapping or a list of them); each
    capture an RE2 pattern with one group, checked like ``clocks.other`` patterns."""
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


def load_rules(extra_dirs: list[Path] | None = None, *, builtin: bool = True,
               skipped: list[str] | None = None) -> list[Rule]:
    """The built-in pack (unless ``builtin=False``) plus every ``*.yml`` / ``*.yaml`` in
    ``extra_dirs``. With ``skipped``, a folder's rule that skewsleuth cannot express
    (:class:`RuleInexpressible`) is left out and its reason appended there, so that a
    SigmaHQ folder loads; otherwise it is an error like any other."""
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
            try:
                rules.append(_load_file(p, p.read_text(encoding="utf-8")))
            except RuleInexpressible as exc:
                if skipped is None:
                    raise
                skipped.append(str(exc))
    ids = [r.id for r in rules]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise RuleError(f"duplicate rule ids: {', '.join(sorted(dup))}")
    return rules
