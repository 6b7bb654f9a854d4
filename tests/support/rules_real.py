"""The built-in rule pack and which of its rules mark a message."""

from __future__ import annotations


from skewsleuth.rules import load_rules
from skewsleuth.rules.testing import test_rule

PACK = load_rules()


def signatures(message: str) -> set[str]:
    """The signatures of the rules that mark ``message``."""
    out = set()
    for rule in PACK:
        probe = type(rule)(**{**rule.__dict__, "tests": {"match": [message]}})
        if test_rule(probe).examples[0].matched:
            out.add(rule.signature)
    return out
