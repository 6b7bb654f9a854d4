"""Symptom rules: which records are skew-sensitive failures, and whose clock they accuse.

Rules are Sigma-style YAML (``title``, ``id``, ``logsource``, ``detection`` with one
``selection`` and ``condition: selection``) with skewsleuth's own block::

    skewsleuth:
      signature: SIP_E_CRYPT_REFERRER_DATE_SKEWED  # what the verdict calls it
      protocol: sip-ms-identity                    # the protocol that failed
      tolerance_s: 300                             # the skew it tolerates (null: n/a)
      role: symptom | consequence | clock_evidence
      skew_signature: true     # the failure itself says a time was out of bounds
      suspect: ['ms-ep-fqdn=([^;]+)', peer, self]  # whose clock, first that applies

Selection fields map to event columns: ``Provider``, ``EventID``, ``Channel``,
``Format`` and ``Message`` (the record's text and its structured data). Modifiers:
``contains``, ``startswith``, ``endswith``, ``re``, and ``all`` (every value must
match; otherwise any). Every rule is matched by one SQL statement over the whole
``timeline`` in DuckDB, never record by record in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

FIELDS = {
    "provider": "provider",
    "eventid": "event_id",
    "channel": "channel",
    "format": "format",
    "message": "(coalesce(message, '') || chr(10) || coalesce(data, ''))",
}
ROLES = ("symptom", "consequence", "clock_evidence")
# Sigma modifiers as SQL over a column; comparisons are case-insensitive as in Sigma,
# regular expressions are not (RE2 takes (?i) for that).
_OPERATORS = {
    "equals": "lower({col}) = lower(?)",
    "contains": "contains(lower({col}), lower(?))",
    "startswith": "starts_with(lower({col}), lower(?))",
    "endswith": "ends_with(lower({col}), lower(?))",
    "re": "regexp_matches({col}, ?)",
}


class RuleError(ValueError):
    pass


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
    selection: dict[str, Any]
    path: str
    tests: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def where(self) -> tuple[str, list[Any]]:
        """The rule's selection as a SQL condition with parameters."""
        clauses, params = [], []
        for key, values in self.selection.items():
            name, *mods = key.split("|")
            column = FIELDS.get(name.lower())
            if column is None:
                raise RuleError(f"{self.path}: unknown field {name!r} (known: {', '.join(FIELDS)})")
            values = values if isinstance(values, list) else [values]
            every = "all" in mods
            op = next((m for m in mods if m != "all"), "equals")
            if column == "event_id" and op == "equals":
                parts = [f"{column} = ?"] * len(values)
                params += [int(v) for v in values]
            elif op in _OPERATORS:
                parts = [_OPERATORS[op].format(col=column)] * len(values)
                params += [str(v) for v in values]
            else:
                raise RuleError(f"{self.path}: unknown modifier {op!r}")
            clauses.append("(" + (" AND " if every else " OR ").join(parts) + ")")
        return " AND ".join(clauses) or "TRUE", params


def _load_file(path: Path, text: str) -> Rule:
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise RuleError(f"{path}: a rule is a YAML mapping")
    det = doc.get("detection") or {}
    if det.get("condition", "selection") != "selection" or not isinstance(det.get("selection"), dict):
        raise RuleError(f"{path}: detection must have one 'selection' and 'condition: selection'")
    own = doc.get("skewsleuth") or {}
    role = own.get("role", "symptom")
    if role not in ROLES:
        raise RuleError(f"{path}: role must be one of {', '.join(ROLES)}")
    suspect = own.get("suspect") or ["self"]
    for s in suspect:
        if s not in ("self", "peer"):
            try:
                if re.compile(s).groups < 1:
                    raise RuleError(f"{path}: suspect pattern {s!r} needs a capture group")
            except re.error as exc:
                raise RuleError(f"{path}: bad suspect pattern {s!r}: {exc}") from None
    tol = own.get("tolerance_s")
    rule = Rule(
        id=str(doc.get("id") or path.stem), title=str(doc.get("title") or path.stem),
        signature=str(own.get("signature") or path.stem.upper()), protocol=str(own.get("protocol") or "unknown"),
        tolerance_s=float(tol) if tol is not None else None, role=role,
        skew_signature=bool(own.get("skew_signature", False)), suspect=list(suspect),
        selection=det["selection"], path=str(path), tests=own.get("tests") or {}, raw=doc)
    rule.where()  # validate fields and modifiers now, not at match time
    return rule


def load_rules(extra_dirs: list[Path] | None = None) -> list[Rule]:
    """The built-in pack plus every ``*.yml`` / ``*.yaml`` in ``extra_dirs``."""
    rules = []
    builtin = resources.files(__package__) / "builtin"
    for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yml", ".yaml")):
            rules.append(_load_file(Path(entry.name), entry.read_text(encoding="utf-8")))
    for d in extra_dirs or []:
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
