"""The rule pack: every rule passes its own examples, loads and converts with pySigma
(as sigma-cli would), and the rules commands keep their contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from skewsleuth.case import load_case
from skewsleuth.rules import Rule, RuleError, load_rules, with_message_lower
from skewsleuth.rules.export import export_sigma, sigma_texts
from skewsleuth.rules.testing import test_rule


PACK = load_rules()


# pySigma's validators that need a download: the tag validators fetch MITRE data, and
# SigmaHQ's taxonomy validators its field, log source and event lists from GitHub.
OFFLINE_SKIP = {"attacktag", "d3_fendtag", "cartag", "stptag", "cvetag", "detection_tag",
                "sigmahq_category_event_id", "sigmahq_category_windows_provider_name", "sigmahq_fieldname_cast",
                "sigmahq_filename_prefix", "sigmahq_invalid_fieldname", "sigmahq_logsource_unknown",
                "sigmahq_redundant_field"}


@pytest.mark.parametrize("rule", PACK, ids=lambda r: r.path)
def test_every_rule_passes_its_examples(rule):
    result = test_rule(rule)
    assert result.passed, result.problems
    assert rule.tests.get("source"), f"{rule.path}: name where its examples come from (tests.source)"


def test_the_pack_covers_the_protocols_of_the_issue():
    protocols = {r.protocol for r in PACK}
    assert {"kerberos", "tls", "oauth", "saml", "aws-sigv4", "totp", "ceph", "cockroachdb", "etcd", "cassandra",
            "ntp", "sip-ms-identity"} <= protocols


def test_every_rule_loads_and_converts_with_pysigma(tmp_path):
    from sigma.backends.elasticsearch import LuceneBackend
    from sigma.backends.splunk import SplunkBackend
    from sigma.collection import SigmaCollection
    from sigma.plugins import InstalledSigmaPlugins
    from sigma.validation import SigmaValidator

    kept = SigmaCollection.load_ruleset([str(p) for p in export_sigma(PACK, tmp_path / "kept", keep_own=True)])
    assert all("skewsleuth" in rule.custom_attributes for rule in kept)     # kept, not refused, when asked
    paths = export_sigma(PACK, tmp_path / "sigma")
    collection = SigmaCollection.load_ruleset([str(p) for p in paths])
    assert len(collection.rules) == len(PACK)
    for rule in collection:
        assert not rule.errors, (rule.title, rule.errors)
    for backend in (SplunkBackend(), LuceneBackend()):
        queries = backend.convert(collection)
        assert len(queries) == len(PACK) and all(q for q in queries)
    validators = InstalledSigmaPlugins.autodiscover().validators
    issues = SigmaValidator([v for n, v in validators.items() if n not in OFFLINE_SKIP]).validate_rules(collection)
    assert not issues, [(type(i).__name__, [r.title for r in i.rules]) for i in issues]


def test_the_sql_and_pysigma_agree_on_a_condition_with_a_filter():
    from sigma.backends.splunk import SplunkBackend
    from sigma.collection import SigmaCollection

    rule = next(r for r in PACK if r.path.endswith("kerberos-client-clock-skew.yml"))
    text = dict(sigma_texts([rule]))["kerberos_client_clock_skew.yml"]
    query = SplunkBackend().convert(SigmaCollection.from_yaml(text))[0]
    assert "NOT" in query and "Clock skew too great" in query


def _one(tmp_path, detection: str, **own) -> Rule:
    d = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
    d.mkdir()
    (d / "r.yml").write_text("title: t\nid: t-1\nlogsource: {product: x}\ndetection:\n" + detection +
                             "skewsleuth: " + json.dumps(own) + "\n")
    return load_rules([d], builtin=False)[0]


def _matches(rule: Rule, **record) -> bool:
    where, params = rule.where()
    row = [record.get("message"), json.dumps(record["data"]) if "data" in record else None, record.get("provider"),
           record.get("event_id")]
    return duckdb.connect().execute(
        f"WITH t AS (SELECT ?::VARCHAR AS message, ?::VARCHAR AS data, ?::VARCHAR AS provider, "
        f"?::INTEGER AS event_id, NULL::VARCHAR AS channel, NULL::VARCHAR AS format, NULL::VARCHAR AS host) "
        f"SELECT coalesce(({where}), FALSE) FROM {with_message_lower('t')}", row + params).fetchone()[0]


def test_sigma_conditions_wildcards_keywords_and_data_fields(tmp_path):
    r = _one(tmp_path, "  a:\n    Message|contains: skew\n  b:\n    Message|contains: kdc\n"
                       "  condition: a and not b\n")
    assert _matches(r, message="clock skew") and not _matches(r, message="kdc clock skew")
    r = _one(tmp_path, "  sel_1: {Provider: 'LS*'}\n  sel_2: {EventID: 14619}\n  condition: all of sel_*\n")
    assert _matches(r, provider="LS Protocol Stack", event_id=14619) and not _matches(r, provider="X", event_id=14619)
    r = _one(tmp_path, "  keywords: ['50%_done', 'a\\*b']\n  condition: keywords\n")
    assert _matches(r, message="it is 50%_done") and not _matches(r, message="50x_done")
    assert _matches(r, message="a*b") and not _matches(r, message="aXb")
    r = _one(tmp_path, "  s: {EventID: 4771, Status: '0x25'}\n  condition: s\n")
    assert _matches(r, event_id=4771, data={"Status": "0x25"}) and not _matches(r, event_id=4771, data={"Status": "0x18"})
    r = _one(tmp_path, "  s: {Message|re|i: 'CLOCK skew'}\n  condition: 1 of them\n")
    assert _matches(r, message="Clock skew too great")


@pytest.mark.parametrize("detection, needles", [
    ("  s: {Message|contains: [Clock Skew, KRB_AP_ERR]}\n  condition: s\n", {"clock skew", "krb_ap_err"}),
    ("  s: {Message|contains|all: [skew, too great]}\n  condition: s\n", {"too great"}),
    ("  a: {Message|contains: skew}\n  b: {EventID: 4}\n  condition: a and b\n", {"skew"}),
    ("  a: {Message|contains: skew}\n  b: {EventID: 4}\n  condition: a or b\n", None),
    ("  a: {Message|contains: skew}\n  b: {Message|contains: kdc}\n  condition: a and not b\n", {"skew"}),
    ("  a: {Message|contains: skew}\n  condition: not a\n", None),
    ("  s_1: {Message|contains: x1}\n  s_2: {Message|startswith: 'y*zz'}\n  condition: 1 of s_*\n", {"x1", "zz"}),
    ("  keywords: ['50%_done', 'a\\*b', 'wild*cards']\n  condition: keywords\n", {"50%_done", "a*b", "cards"}),
    ("  s: {Message|contains: '*'}\n  condition: s\n", None),
    # an escaped backslash before a wildcard: the backslash is text, the * is not
    ("  s: {Message|contains: 'ab\\\\*z'}\n  condition: s\n", {"ab\\"}),
    ("  s: {Message|re: 'clock skew'}\n  condition: s\n", None),
    ("  s: {Status: '0x25'}\n  condition: s\n", None),
    ("  s: [{Message|contains: a1, EventID: 1}, {Message|contains: b2}]\n  condition: s\n", {"a1", "b2"}),
])
def test_a_rule_names_the_texts_a_record_it_matches_must_contain(tmp_path, detection, needles):
    """The matcher tests these first, with one regular expression for all the rules:
    a text named that a match may lack would hide records from the rule."""
    r = _one(tmp_path, detection)
    assert r.needles() == (None if needles is None else frozenset(needles))


def test_the_matchers_first_test_hides_no_record_from_any_rule(tmp_path, monkeypatch, seed_copy):
    """The symptoms are the same with the texts tested first as with every rule's own
    condition over every record."""
    from skewsleuth import investigate
    from skewsleuth.report.json import write_json

    ev = seed_copy
    with_first = investigate([ev])
    assert with_first.to_dict()["incidents"]
    monkeypatch.setattr(Rule, "needles", lambda self: None)
    without = investigate([ev])
    write_json(with_first.to_dict(), str(tmp_path / "a.json"))
    write_json(without.to_dict(), str(tmp_path / "b.json"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_rules_test_says_when_a_match_lacks_the_texts_the_matcher_looks_for(tmp_path, monkeypatch):
    r = _one(tmp_path, "  s: {Message|contains: skew}\n  condition: s\n")
    r.tests = {"match": ["clock skew"]}
    assert test_rule(r).passed
    monkeypatch.setattr(Rule, "needles", lambda self: frozenset({"something else"}))
    assert "looks for first" in test_rule(r).examples[0].problem


@pytest.mark.parametrize("detection, error", [
    ("  s: {Message: x}\n  condition: s and nope\n", "does not define"),
    ("  s: {Message: x}\n  condition: (s\n", "ends too early"),
    ("  s: {Message|frobnicate: x}\n  condition: s\n", "unknown modifier"),
    ("  s: {Message|re: '(' }\n  condition: s\n", "bad regular expression"),
    ("  s: {'Nope Nope': 1}\n  condition: s\n", "unknown field"),
])
def test_a_bad_rule_is_refused_with_the_reason(tmp_path, detection, error):
    with pytest.raises(RuleError, match=error):
        _one(tmp_path, detection)


def test_case_file_hosts_map_addresses_to_hosts(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("hosts:\n  client01.corp: [10.0.0.5, '::ffff:10.0.0.6', '[fe80::1]:88']\n  web01: 10.0.0.9\n"
                 "  bad: {x: 1}\n  dup.corp: [10.0.0.5]\n")
    case = load_case(p)
    assert case.addresses == {"10.0.0.5": "client01.corp", "10.0.0.6": "client01.corp", "fe80::1": "client01.corp",
                              "10.0.0.9": "web01"}
    assert [r[2] for r in case.rejected] == ["a host maps to a list of addresses",
                                             "10.0.0.5 is already the address of client01.corp"]


def test_the_user_rule_in_the_usage_guide_loads_and_passes_its_examples(tmp_path):
    text = (Path(__file__).parents[3] / "docs" / "usage.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "PAYMENTS_TIMESTAMP_WINDOW" in b)
    (tmp_path / "payments.yml").write_text(block, encoding="utf-8")
    rule = load_rules([tmp_path], builtin=False)[0]
    assert rule.clocks.logged_by == "judge" and rule.clocks.accepted
    assert test_rule(rule).passed, test_rule(rule).problems
    # a rule written with the older ``suspect`` still loads, read as the two clocks
    legacy = block.replace("  clocks:", "  suspect: ['client=([A-Za-z0-9_.:-]+)', self]\n  old_clocks:")
    legacy = re.sub(r"  old_clocks:\n(    .*\n)+", "", legacy)
    (tmp_path / "payments.yml").write_text(legacy, encoding="utf-8")
    rule = load_rules([tmp_path], builtin=False)[0]
    assert rule.clocks.logged_by == "judge" and rule.clocks.other == ("client=([A-Za-z0-9_.:-]+)",)
    assert test_rule(rule).passed
    (tmp_path / "payments.yml").write_text(block.replace("logged_by: judge", "logged_by: server"), encoding="utf-8")
    with pytest.raises(RuleError, match="logged_by must be one of"):
        load_rules([tmp_path], builtin=False)
