"""How many examples a property test draws in the run at hand.

Profiles (registered in tests/conftest.py): ``thorough`` (Hypothesis' ``ci`` profile:
every example, derandomized) is what CI and ``scripts/test-all.sh`` run; ``quick`` is
what a bare ``python -m pytest tests/unit`` runs while you work, so that the unit tier
answers within a minute on 2 cores. ``--hypothesis-profile=thorough`` picks the full one.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings

FULL = 100          # Hypothesis' own default: a profile of FULL examples draws every one


def examples(thorough: int) -> int:
    """``thorough`` under a full profile; the same share of it that the loaded profile
    draws of Hypothesis' default (a quarter under ``quick``), never fewer than 10."""
    return max(10, thorough * settings.default.max_examples // FULL)


def json_lines(entries: list[str | list[tuple[str, Any]]], first: tuple[str, Any]) -> list[str]:
    """JSON Lines from drawn entries: a line as it is, or an object of ``first`` and
    the drawn (key, value) pairs, written pair by pair so that keys may repeat (and
    json writes nan as NaN)."""
    lines = []
    for e in entries:
        if isinstance(e, str):
            lines.append(e)
        else:
            body = ", ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in [first] + e)
            lines.append("{" + body + "}")
    return lines
