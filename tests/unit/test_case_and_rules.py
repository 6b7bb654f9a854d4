"""The case file's times and the rule pack's own examples."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
from support.properties import examples
import pyarrow as pa
import pytest

from skewsleuth.case import CaseError, CorrelationKey, load_case, load_changes_csv, parse_time
from skewsleuth.errors import CaseKeyError
from skewsleuth.hosts import canonical, canonical_map, host_key, host_keys
from skewsleuth.rules import RuleError, load_rules


CHICAGO = ZoneInfo("America/Chicago")


UTC = timezone.utc


def test_case_times_are_read_in_the_case_zone_not_as_utc(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("timezone: America/Chicago\nreferences: [srv-lyncfe01.domain.com]\n"
                 "changes:\n  - at: 2014-10-20 18:30:00\n    host: dirsync01.domain.com\n    what: Password Sync re-enabled\n"
                 "observations:\n  - host: srv-lyncedge01.domain.com\n    at: 2014-10-20 21:31\n    shown: 2014-10-20 16:31\n")
    case = load_case(p)
    assert case.changes[0].at == datetime(2014, 10, 20, 23, 30, tzinfo=UTC)
    ob = case.observations[0]
    assert ob.offset_s == -18000 and ob.uncertainty_s == 120   # both written to the minute
    assert case.references == ["srv-lyncfe01.domain.com"]


def test_daylight_saving_ambiguity_is_flagged_not_shifted():
    repeated = parse_time("2014-11-02 01:30", CHICAGO)
    assert repeated.note and "ambiguous" in repeated.note
    assert repeated.utc == datetime(2014, 11, 2, 6, 30, tzinfo=UTC)   # first reading (CDT)
    skipped = parse_time("2014-03-09 02:30", CHICAGO)
    assert skipped.note and "non-existent" in skipped.note
    assert parse_time("2014-10-20T23:30:00Z", CHICAGO).utc == datetime(2014, 10, 20, 23, 30, tzinfo=UTC)
    assert parse_time("2014-10-20 18:30+02:00", CHICAGO).utc == datetime(2014, 10, 20, 16, 30, tzinfo=UTC)


def test_bad_case_entries_are_rejected_with_a_reason_and_a_bad_file_is_an_error(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("timezone: UTC\nchanges:\n  - at: yesterday\n    what: x\n  - what: no time\n  - at: 2014-10-20 10:00\n    what: ok\n")
    case = load_case(p)
    assert len(case.changes) == 1 and len(case.rejected) == 2
    assert any("not a time" in r for _, _, r in case.rejected)
    bad = tmp_path / "bad.yml"
    bad.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(CaseError, match="unknown time zone"):
        load_case(bad)
    (tmp_path / "worse.yml").write_text("changes: [\n")
    with pytest.raises(CaseError, match="not valid YAML"):
        load_case(tmp_path / "worse.yml")


def test_change_log_csv(tmp_path):
    p = tmp_path / "changes.csv"
    p.write_text("time,host,change\n2014-10-20 18:30,dirsync01,Password Sync re-enabled\nnot a time,x,y\n")
    case = load_changes_csv(p, CHICAGO)
    assert [c.what for c in case.changes] == ["Password Sync re-enabled"] and len(case.rejected) == 1


def test_host_names_join_short_names_to_their_fqdn():
    m = canonical_map(["SRV-LYNCEDGE01", "srv-lyncedge01.domain.com", "web", "web.a.com", "web.b.com", "10.0.0.5"])
    assert m["srv-lyncedge01"] == "srv-lyncedge01.domain.com"
    assert m["web"] == "web"          # ambiguous: stays short
    assert m["10.0.0.5"] == "10.0.0.5"


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.sampled_from("aZİß. \t\n.Ab"), max_size=12))
def test_a_host_key_keyed_again_is_the_same(name):
    assert host_key(host_key(name)) == host_key(name)
    assert canonical(host_key(name) or name, {}) == canonical(name, {})


def test_names_are_keyed_as_stored_once_per_name_and_a_blank_one_kept():
    column = pa.chunked_array([["SRV01.Domain.COM.", None, " ", "srv01.domain.com"], ["a. .", "SRV01.Domain.COM."]])
    assert host_keys(column).to_pylist() == ["srv01.domain.com", None, " ", "srv01.domain.com", "a",
                                             "srv01.domain.com"]


def test_a_rule_with_a_field_that_is_neither_a_column_nor_a_data_field_is_refused(tmp_path):
    (tmp_path / "r.yml").write_text("title: t\nid: x1\nlogsource: {product: x}\ndetection:\n  selection:\n"
                                    "    'Nope Nope': 1\n  condition: selection\n")
    with pytest.raises(RuleError, match="unknown field"):
        load_rules([tmp_path])


@pytest.mark.parametrize("text, message", [
    ("timezone: UTC\nrefrences: [fe01]\n", "unknown key 'refrences' in {p}; did you mean 'references'?"),
    ("Timezone: UTC\n", "unknown key 'Timezone' in {p}; did you mean 'timezone'?"),
    ("changes:\n  - at: 2014-10-20 18:30\n    what: x\n  - at: 2014-10-20 18:31\n    wat: y\n",
     "unknown key 'wat' in changes[1] of {p}; did you mean 'what'?"),
    ("observations:\n  - {host: e1, at: 2014-10-20 21:31, shwon: 2014-10-20 16:31}\n",
     "unknown key 'shwon' in observations[0] of {p}; did you mean 'shown'?"),
    ("correlation_keys:\n  - {key: job, direktion: dir}\n",
     "unknown key 'direktion' in correlation_keys[0] of {p}; did you mean 'direction'?"),
    ("correlation_keys: {key: job, colour: red}\n",
     "unknown key 'colour' in correlation_keys of {p} (known: key, direction, phase)"),
    ("timezone: UTC\nnotes: whatever\n", "unknown key 'notes' in {p} (known: timezone, references, "),
])
def test_a_misspelt_key_is_refused_with_the_nearest_known_one(tmp_path, text, message):
    """At any level the case file defines: what a misspelt key holds would be lost."""
    p = tmp_path / "case.yml"
    p.write_text(text)
    with pytest.raises(CaseKeyError) as caught:
        load_case(p)
    assert str(caught.value).startswith(message.format(p=p)), str(caught.value)
    assert isinstance(caught.value, CaseError) and "\n" not in str(caught.value)


def test_references_are_names_not_mappings_and_hosts_are_keyed_by_any_name(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("references: [{host: fe01}]\n")
    with pytest.raises(CaseError, match="'references' is a list of host names"):
        load_case(p)
    p.write_text("references: fe01\nhosts:\n  Any-Name.corp: [10.0.0.5]\nchanges:\n  - {at: 2014-10-20 18:30, "
                 "change: x}\n")
    case = load_case(p)
    assert case.references == ["fe01"] and case.addresses == {"10.0.0.5": "Any-Name.corp"}
    assert case.changes[0].what == "x" and not case.rejected


def test_two_case_files_with_different_zones_are_noted(tmp_path):
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("timezone: America/Chicago\n")
    b.write_text("timezone: Europe/Paris\nchanges:\n  - at: 2014-10-20 10:00\n    what: x\n")
    case = load_case(a)
    case.merge(load_case(b))
    assert case.timezone_name == "America/Chicago" and any("Europe/Paris" in n for n in case.notes)
    assert case.changes[0].at == datetime(2014, 10, 20, 8, 0, tzinfo=UTC)   # read in its own zone


def test_correlation_keys_name_a_field_and_optionally_its_direction_and_phase(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("correlation_keys:\n  - order_id\n  - {key: job, direction: dir, phase: step}\n  - order_id\n"
                 "  - {direction: dir}\n  - 'a b'\n  - {key: \"x'; DROP\"}\n")
    case = load_case(p)
    assert case.correlation_keys == [CorrelationKey("order_id"), CorrelationKey("job", "dir", "step")]
    # (a key of its own, {key: job, via: x}, is refused with the whole file: see above)
    assert [r[1] for r in case.rejected] == ["correlation_keys: {'direction': 'dir'}", "correlation_keys: a b",
                                             "correlation_keys: {'key': \"x'; DROP\"}"]


def test_every_spelling_of_an_address_maps_to_its_host_in_one_definition():
    """The case file's addresses and the logs' (KDC lines, rule suspects) are spelled one
    way by one function: ports, brackets, ::ffff: and IPv6 zeros do not hide a host."""
    from skewsleuth.case import address_rows, normalize_address

    hosts = {normalize_address("2001:db8::5"): "client01.corp", normalize_address("10.0.0.5"): "client02.corp"}
    raws = ["[2001:0db8:0000:0000:0000:0000:0000:0005]:88", "2001:DB8::5", "::ffff:10.0.0.5", "10.0.0.5:51234",
            '"10.0.0.5"', "10.0.0.6"]
    got = {raw: host for raw, _, host in address_rows(raws, hosts)}
    assert got == {raws[0]: "client01.corp", raws[1]: "client01.corp", raws[2]: "client02.corp",
                   raws[3]: "client02.corp", raws[4]: "client02.corp", raws[5]: None}
