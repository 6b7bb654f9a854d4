"""Hostile and damaged input (issue 7): real EVTX files mutated, event XML and case files
mutated, whole damaged collections investigated, times no timeline can hold, and the
verdict the same whatever order the evidence is named in.

Every fuzz test here is bounded for the suite; ``SKEWSLEUTH_FUZZ_EXAMPLES=N`` runs N
examples each (docs/reliability.md records a long run).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from skewsleuth.case import CaseError, load_case
from skewsleuth.reading.files import FileTask, read_file
from skewsleuth.demo.eventxml import event_stream, event_xml, events_document
from skewsleuth.demo.scenario import SEED, case_yaml
from conftest import mutate
from support.reliability import EXAMPLES, FUZZ, UTC, _read  # noqa: F401


_T = datetime(2014, 10, 20, 23, 19, 47, tzinfo=UTC)


_EVENTS = [event_xml(provider="Microsoft-Windows-Kernel-General", event_id=1, logged=_T + timedelta(seconds=k),
                     computer="srv-lyncedge01.domain.com", channel="System", record_id=k + 1,
                     data={"NewTime": "2014-10-20T18:19:47.5000000Z", "OldTime": "2014-10-20T23:19:47.5000000Z"})
           for k in range(4)]


XML_VALID = {"document": events_document(_EVENTS).encode("utf-8"), "stream": event_stream(_EVENTS).encode("utf-8")}


XML_TOKENS = [b"<Event ", b"</Event>", b"<Events>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;", b"<![CDATA[",
              b"]]>", b"\x00", b"<?xml version='1.0' encoding='utf-16'?>", b"SystemTime='", b"\xff\xfe", b"&#0;"]


@pytest.mark.parametrize("shape", sorted(XML_VALID))
@FUZZ
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 12))
def test_mutated_event_xml_never_crashes_and_counts_add_up(tmp_path, shape, seed, steps):
    p = tmp_path / "events.xml"
    p.write_bytes(mutate(XML_VALID[shape], random.Random(seed), steps, XML_TOKENS))
    _read(p)


def test_the_valid_event_xml_samples_read_clean(tmp_path):
    for shape, data in XML_VALID.items():
        p = tmp_path / f"{shape}.xml"
        p.write_bytes(data)
        result = _read(p)
        assert result.ingested == 4 and result.quarantined == 0, shape


CASE_TOKENS = [b"\n", b": ", b"- ", b"  ", b"at: ", b"2014-03-09 02:30", b"{", b"[", b"&a ", b"*a", b"!!python/object:os.system",
               b"timezone: Mars/Olympus", b"\t", b"\x00", b"'", b'"']


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 10))
def test_a_mutated_case_file_is_read_or_refused_with_a_reason(tmp_path, seed, steps):
    p = tmp_path / "case.yml"
    p.write_bytes(mutate(case_yaml(SEED).encode(), random.Random(seed), steps, CASE_TOKENS))
    try:
        case = load_case(p)
    except CaseError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    # Read: every entry is used or rejected with a reason, never lost.
    assert all(reason for _, _, reason in case.rejected)


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    p = tmp_path / "case.yml"
    p.write_text("timezone: UTC\nchanges:\n  - at: 2014-10-20 18:30\n    what: !!python/object/apply:os.system ['touch "
                 f"{tmp_path}/pwned']\n")
    with pytest.raises(CaseError):
        load_case(p)
    assert not (tmp_path / "pwned").exists()


def test_fix_runs_commands_as_argument_free_strings_of_the_runbook_only(tmp_path):
    """The inventory's strings that reach a command are names and program paths, checked
    when the inventory is read; a host's name goes to the transport, never into a command."""
    from skewsleuth.remediation.runbook import Basis, build
    from skewsleuth.remediation.settings import parse_fix

    settings = parse_fix({"peers": ["ntp1.corp"], "services": ["RTCSRV"], "chronyc": "/usr/bin/chronyc"})
    evil_host = "edge01; reboot"
    for platform in ("windows", "linux"):
        rb = build(evil_host, platform, roles=("lync-edge",), basis=Basis(-18000.0), limit_s=300,
                   settings=settings)
        assert all(evil_host not in s.command for s in (*rb.steps, rb.verify))
    for bad in ({"peers": ["a b"]}, {"services": ["x`id`"]}, {"chronyc": "$(id)"}, {"reference": ["a;b"]}):
        with pytest.raises(ValueError):
            parse_fix(bad)


@pytest.mark.parametrize("fmt", ["evtx", "eventxml", "sipstack", "syslog", "journald", "applog"])
def test_a_file_gone_before_it_is_read_is_a_failed_file_not_a_quarantined_record(tmp_path, fmt):
    result = read_file(FileTask(str(tmp_path / "gone.log"), 1, fmt, "h", UTC, datetime(2024, 12, 31, tzinfo=UTC)))
    assert result.failed and result.ingested == 0 and result.quarantined == 0
