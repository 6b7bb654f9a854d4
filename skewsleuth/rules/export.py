"""The rule pack as SigmaHQ writes rules (``rules export --sigma``): SigmaHQ's Windows
field names, its conventions (status, author, date, tags, falsepositives, Title Case,
file names) and its 4-space layout, so that ``sigma check`` with SigmaHQ's validators
and ``sigma convert`` with the Windows pipelines take the export as they take SigmaHQ's
own rules. The custom log sources' pipeline is ``sigma-pipeline.yml`` beside this file."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from . import Rule

# SigmaHQ's Windows taxonomy (what ecs_windows / splunk_windows map) for our column names.
_SIGMAHQ_NAMES = {"provider": "Provider_Name", "host": "Computer"}
# SigmaHQ's order of a rule's keys; ours (skewsleuth) goes last, a custom attribute.
_KEY_ORDER = ("title", "id", "related", "name", "status", "description", "references", "author", "date",
              "modified", "tags", "logsource", "detection", "falsepositives", "level")
# When a rule gives none: the date the pack took SigmaHQ's conventions, and what else
# raises each role's records.
_PACK_DATE = datetime.date(2026, 12, 3)
_FALSEPOSITIVES = {
    "symptom": ["The same failure for a reason other than a clock: a token, ticket or certificate truly "
                "outside its validity window"],
    "consequence": ["The same failure from another cause (a network or service outage)"],
    "clock_evidence": ["A planned clock change (a lab host, a time zone or daylight-saving adjustment)"],
}


# SigmaHQ's file name prefixes (its filename convention, as pySigma-validators-sigmaHQ's
# sigmahq_filename.json 20240809 lists it) for the log sources of the pack, by (product,
# service); a log source it does not list takes its product's.
_SIGMAHQ_PREFIX = {("windows", None): "win_", ("windows", "security"): "win_security_",
                   ("windows", "system"): "win_system_", ("linux", None): "lnx_", ("linux", "auth"): "lnx_auth_",
                   ("azure", None): "azure_", ("aws", None): "aws_"}
# the words our own file names start with that a prefix already says
_PRODUCT_WORDS = ("windows_", "win_", "linux_", "lnx_")


def sigmahq_file_stem(rule: Rule) -> str:
    """The rule's file name without ``.yml``, as SigmaHQ names its rules: lower case,
    words joined by underscores, after the prefix of its log source."""
    stem = Path(rule.path).stem.lower().replace("-", "_")
    logsource = rule.raw.get("logsource") or {}
    product, service = logsource.get("product"), logsource.get("service")
    prefix = _SIGMAHQ_PREFIX.get((product, service)) or _SIGMAHQ_PREFIX.get((product, None))
    if not prefix or stem.startswith(prefix):
        return stem
    for word in _PRODUCT_WORDS:
        if stem.startswith(word):
            stem = stem[len(word):]
            break
    return prefix + stem


class _Yaml(yaml.SafeDumper):
    """SigmaHQ's layout: 4-space indentation, list items indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, False)


def _sigmahq_key(key: str) -> str:
    name, *mods = str(key).split("|")
    name = _SIGMAHQ_NAMES.get(name.lower(), name)
    return "|".join([name, *mods])


def _sigmahq_item(item: Any) -> Any:
    """A search identifier in SigmaHQ's names; one that only searches the message's text
    becomes keywords (Sigma's full-text search), as SigmaHQ's Linux rules are written."""
    if isinstance(item, list):   # a list of mappings (any of them): keys renamed only
        return [{_sigmahq_key(k): v for k, v in x.items()} if isinstance(x, dict) else x for x in item]
    if not isinstance(item, dict):
        return item
    if len(item) == 1:
        (key, values), = item.items()
        name, *mods = str(key).split("|")
        if name.lower() == "message" and set(mods) <= {"contains", "all"} and "contains" in mods:
            values = values if isinstance(values, list) else [values]
            return {"|all": values} if "all" in mods else values
    return {_sigmahq_key(k): v for k, v in item.items()}


_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or",
                "the", "to", "via", "with"}


def _title_case(title: str) -> str:
    """SigmaHQ's title casing: every word capitalised but the small ones inside."""
    def word(i: int, w: str) -> str:
        lead = len(w) - len(w.lstrip("('\"/"))
        if (i and not lead and w.lower() in _SMALL_WORDS) or not w[lead:lead + 1].islower():
            return w
        return w[:lead] + w[lead].upper() + w[lead + 1:]
    return " ".join(word(i, w) for i, w in enumerate(title.split(" ")))


def _date(value: Any) -> datetime.date | None:
    """A rule's date as YAML writes a date (unquoted), from a date or SigmaHQ's older 2024/01/15."""
    if isinstance(value, datetime.date) or not value:
        return value or None
    try:
        return datetime.date.fromisoformat(str(value).replace("/", "-"))
    except ValueError:
        return None


def sigmahq_document(rule: Rule, keep_own: bool = False) -> dict[str, Any]:
    """The rule in SigmaHQ's taxonomy and conventions (see docs/usage.md). SigmaHQ's
    validators refuse custom attributes, so the ``skewsleuth`` block goes only when
    ``keep_own`` (a copy meant to load back into skewsleuth)."""
    raw = dict(rule.raw)
    detection = {k: _sigmahq_item(v) for k, v in raw["detection"].items() if k != "condition"}
    detection["condition"] = raw["detection"]["condition"]
    status = str(raw.get("status") or "experimental")
    out = dict(raw)
    out.update(
        # SigmaHQ holds a rule dated this year at experimental, whatever its tests say
        status="experimental" if status in ("stable", "test") else status,
        title=_title_case(str(raw.get("title") or rule.title)),
        author=raw.get("author") or "skewsleuth",
        date=_date(raw.get("date")) or _PACK_DATE,
        tags=raw.get("tags") or ["detection.dfir"],
        falsepositives=raw.get("falsepositives") or _FALSEPOSITIVES[rule.role],
        detection=detection)
    if out.get("modified"):
        out["modified"] = _date(out["modified"])
    own = raw.get("skewsleuth") or {}
    if not keep_own:
        out.pop("skewsleuth", None)
    elif isinstance(own.get("clocks"), dict) and own["clocks"].get("accepted"):
        out["skewsleuth"] = {**own, "clocks": {**own["clocks"], "accepted": {_sigmahq_key(k): v for k, v in own["clocks"]["accepted"].items()}}}
    ordered = {k: out[k] for k in _KEY_ORDER if k in out}
    ordered.update((k, v) for k, v in out.items() if k not in ordered)
    return ordered


def sigma_texts(rules: list[Rule], keep_own: bool = False) -> list[tuple[str, str]]:
    """(file name, YAML text) of each rule in SigmaHQ's taxonomy and layout; with
    ``keep_own``, its ``skewsleuth`` block too, a custom attribute Sigma tools keep and ignore."""
    out, names = [], set()
    for r in rules:
        stem, n = sigmahq_file_stem(r), 1
        name = f"{stem}.yml"
        while name in names:   # user folders may reuse a built-in's file name
            n += 1
            name = f"{stem}-{n}.yml"
        names.add(name)
        out.append((name, yaml.dump(sigmahq_document(r, keep_own), Dumper=_Yaml, indent=4, sort_keys=False,
                                    allow_unicode=True, width=100)))
    return out


def export_sigma(rules: list[Rule], out_dir: Path, keep_own: bool = False) -> list[Path]:
    """Write every rule as a Sigma YAML file in ``out_dir`` (made if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in sigma_texts(rules, keep_own):
        p = out_dir / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths
