"""A rule pack's own examples, run through the same SQL the matcher uses.

A rule's examples sit in its ``skewsleuth.tests`` block: ``match`` (records it must
mark) and ``no_match`` (records it must not), each a message text or a record::

    tests:
      source: what produced the messages (the real program, a public sample's address)
      match:
        - 'krb5kdc ... 10.0.0.5: PREAUTH_FAILED: alice@EXAMPLE.TEST for ..., Clock skew too great'
        - {provider: Microsoft-Windows-Security-Auditing, event_id: 4771,
           data: {Status: '0x25', IpAddress: '::ffff:10.0.0.5'}, other: 10.0.0.5}
      no_match: ['...']

A record's ``other`` is the host the rule must read as the other clock's (before the
case file's ``hosts:`` turns an address into its host; ``suspect`` in older rules);
``host`` is the host that logged it (default ``logger``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from ..errors import RuleError
from . import MESSAGE_LOWER, Rule, with_message_lower
from .matcher import other_sql

_RECORD_KEYS = {"message", "provider", "event_id", "channel", "format", "host", "data", "other", "suspect"}


@dataclass
class Example:
    rule: Rule
    expected: bool
    record: dict[str, Any]
    matched: bool | None = None
    other: str | None = None
    problem: str | None = None

    @property
    def passed(self) -> bool:
        if self.problem or self.matched is not self.expected:
            return False
        want = self.wanted_other
        return want is None or not self.expected or (self.other or "").lower() == str(want).lower()

    @property
    def wanted_other(self) -> str | None:
        return self.record.get("other", self.record.get("suspect"))

    def describe(self) -> str:
        text = self.record.get("message") or json.dumps(self.record.get("data"), ensure_ascii=False)
        text = " ".join(str(text).split())
        return text if len(text) <= 100 else text[:99] + "…"


@dataclass
class RuleResult:
    rule: Rule
    examples: list[Example]

    @property
    def problems(self) -> list[str]:
        out = []
        if not any(e.expected for e in self.examples):
            out.append("no example it must match (skewsleuth.tests.match)")
        for e in self.examples:
            if e.problem:
                out.append(e.problem)
            elif e.matched is not e.expected:
                out.append(f"{'did not match' if e.expected else 'matched'}: {e.describe()}")
            elif not e.passed:
                out.append(f"other clock {e.other!r}, expected {e.wanted_other!r}: {e.describe()}")
        return out

    @property
    def passed(self) -> bool:
        return not self.problems


def _record(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"message": value}
    if isinstance(value, dict) and set(value) <= _RECORD_KEYS:
        return dict(value)
    raise RuleError(f"an example is a message text or a mapping of {', '.join(sorted(_RECORD_KEYS))}")


def test_rule(rule: Rule, con: duckdb.DuckDBPyConnection | None = None) -> RuleResult:
    """Run the rule over its own examples, as the matcher would over the timeline."""
    con = con or duckdb.connect()
    examples = []
    for key, expected in (("match", True), ("no_match", False)):
        for value in rule.tests.get(key) or []:
            try:
                examples.append(Example(rule, expected, _record(value)))
            except RuleError as exc:
                examples.append(Example(rule, expected, {"message": str(value)}, problem=str(exc)))
    where, wparams = rule.where()
    needles = rule.needles()
    oparams: list = []
    other = other_sql(rule, oparams)
    for ex in examples:
        if ex.problem:
            continue
        r = ex.record
        data = r.get("data")
        row = [r.get("message"), data if data is None or isinstance(data, str) else json.dumps(data),
               r.get("provider"), r.get("event_id"), r.get("channel"), r.get("format"), r.get("host") or "logger"]
        try:
            got = con.execute(
                f"""WITH timeline AS (SELECT ?::VARCHAR AS message, ?::VARCHAR AS data, ?::VARCHAR AS provider,
                                             ?::INTEGER AS event_id, ?::VARCHAR AS channel, ?::VARCHAR AS format,
                                             ?::VARCHAR AS host)
                    SELECT coalesce(({where}), FALSE), {other}, {MESSAGE_LOWER}
                    FROM {with_message_lower('timeline')}""",
                row + wparams + oparams).fetchone()
        except duckdb.Error as exc:
            ex.problem = f"cannot run: {str(exc).splitlines()[0]}"
            continue
        ex.matched, ex.other = bool(got[0]), got[1]
        if ex.matched and needles is not None and not any(n in got[2] for n in needles):
            # The matcher would never have shown the rule this record (see Rule.needles).
            ex.problem = "matched without any of the texts the matcher looks for first: " + ", ".join(sorted(needles))
    return RuleResult(rule, examples)


def test_rules(rules: list[Rule]) -> list[RuleResult]:
    con = duckdb.connect()
    return [test_rule(r, con) for r in rules]


# pytest must not collect these as tests when a test module imports them.
test_rule.__test__ = False  # type: ignore[attr-defined]
test_rules.__test__ = False  # type: ignore[attr-defined]
