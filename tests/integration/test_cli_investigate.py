"""End to end: the seed incident (skewsleuth demo) and a different layout.

These would fail if any stage broke: sources, clock model, rules, incidents, ranking,
ruled-out reasons, remediation, or the JSON contract.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import skewsleuth
from skewsleuth.demo.scenario import write_evidence
from synth.scenarios import two_edges_scenario
from conftest import run_cli


CHICAGO = ZoneInfo("America/Chicago")


BERLIN = ZoneInfo("Europe/Berlin")


def _t(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00"))


def _local(s: str, zone) -> datetime:
    return _t(s).astimezone(zone)


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed")
    r = run_cli("demo", "--out", str(out / "evidence"), "--json", str(out / "verdict.json"),
                "--md", str(out / "ticket.md"))
    return r, json.loads((out / "verdict.json").read_text()), (out / "ticket.md").read_text(), out


def test_demo_exits_0_and_prints_the_verdict(seed):
    r, _, _, _ = seed
    assert r.returncode == 0, r.stderr
    assert "srv-lyncedge01.domain.com" in r.stdout and "Root cause" in r.stdout
    assert "-18,000 s" in r.stdout and "Password Sync re-enabled" in r.stdout


def test_demo_verdict_piped_is_whole_lines_not_wrapped_at_80_columns(seed):
    r, v, _, _ = seed
    lines = r.stdout.splitlines()
    assert lines[0] == "Read 7 files, 2,381 records: 0 quarantined, 0 files failed. Times in America/Chicago."
    fix = v["incidents"][0]["remediation"][0]
    for text in fix["notes"] + [fix["verify"]]:           # each on its one line, inside the panel
        assert any(text in line for line in lines), text
    # Nothing cut short by the terminal's width (the first symptom is cut by the verdict itself).
    assert not re.search(r"\w…", r.stdout.replace(v["incidents"][0]["first_symptoms"][0], ""))
    assert len(lines) < 40


def test_demo_reads_every_record(seed):
    _, v, _, _ = seed
    ing = v["ingest"]
    assert ing["quarantined"] == 0 and ing["files_failed"] == 0 and ing["files"] >= 7 and ing["records"] > 1000


def test_demo_names_the_edge_five_hours_behind_from_its_reboot_to_the_resync(seed):
    _, v, _, _ = seed
    assert len(v["incidents"]) == 1
    inc = v["incidents"][0]
    assert "SIP_E_CRYPT_REFERRER_DATE_SKEWED" in inc["signatures"]
    rc = inc["root_causes"][0]
    assert rc["rank"] == 1 and rc["kind"] == "clock_skew" and rc["host"] == "srv-lyncedge01.domain.com"
    assert rc["offset_s"] == pytest.approx(-18000, abs=60)
    assert rc["offset_low_s"] <= -18000 <= rc["offset_high_s"]
    since = _local(rc["since"], CHICAGO)
    assert since.date().isoformat() == "2014-10-20" and (18, 18) <= (since.hour, since.minute) <= (18, 21)
    until = _local(rc["until"], CHICAGO)
    assert (until.hour, until.minute) in ((21, 33), (21, 34))
    onset = _local(inc["onset"], CHICAGO)
    assert (18, 18) <= (onset.hour, onset.minute) <= (18, 22)
    assert since <= onset
    assert any("stopped" in e for e in rc["evidence"])
    # the reboot that brought the wrong clock back is the second candidate
    assert inc["root_causes"][1]["kind"] == "reboot" and inc["root_causes"][1]["host"] == rc["host"]


def test_demo_rules_out_password_sync_for_the_right_reasons(seed):
    _, v, _, _ = seed
    inc = v["incidents"][0]
    ps = next(r for r in inc["ruled_out"] if "Password Sync" in r["what"])
    assert "after the onset" in ps["reason"] and "no mechanism" in ps["reason"]
    fe = next(r for r in inc["ruled_out"] if r["host"] == "srv-lyncfe01.domain.com")
    assert "within the 300 s tolerance" in fe["reason"]
    assert not any(c["host"] == "srv-lyncfe01.domain.com" for c in inc["root_causes"])


def test_demo_gives_the_fix_from_the_report_and_its_check(seed):
    _, v, _, _ = seed
    fix = v["incidents"][0]["remediation"][0]
    assert fix["host"] == "srv-lyncedge01.domain.com"
    text = "\n".join(fix["steps"])
    assert "w32tm /resync" in text and "w32tm /config" in text and "RTCSRV" in text
    assert "stripchart" in fix["verify"]
    assert any("whole number of hours" in n for n in fix["notes"])


def test_demo_clock_model_of_the_edge(seed):
    _, v, _, _ = seed
    edge = next(h for h in v["hosts"] if h["host"] == "srv-lyncedge01.domain.com")
    step = next(s for s in edge["steps"] if not s["inferred"] and s["source"] == "Kernel-General 1")
    assert step["delta_s"] == pytest.approx(18000, abs=1) and step["set_by"] == "time_service"
    assert _local(step["at"], CHICAGO).strftime("%H:%M") == "16:33"   # logged on the wrong clock
    assert len(edge["boots"]) >= 1
    wrong = [s for s in edge["segments"] if s["offset_s"] is not None and s["offset_s"] < -17000]
    assert len(wrong) == 1 and {"step", "pairs"} <= set(wrong[0]["basis"])
    fe = next(h for h in v["hosts"] if h["host"] == "srv-lyncfe01.domain.com")
    assert all(s["basis"] == ["reference"] or "reference" in s["basis"] for s in fe["segments"])


def test_demo_markdown_ticket(seed):
    _, _, md, _ = seed
    assert md.startswith("# skewsleuth verdict")
    assert "**Root cause:** the clock of **srv-lyncedge01.domain.com** was -18,000 s" in md
    assert "`SIP_E_CRYPT_REFERRER_DATE_SKEWED`" in md          # code spans are not escaped inside
    assert "### Ruled out" in md and "### Fix on srv-lyncedge01.domain.com" in md and "~~~" in md
    assert "Password Sync re-enabled" in md and "no mechanism" in md
    assert "\\-" not in md and "\\." not in md               # no needless escapes


def test_library_api_returns_the_same_verdict(seed):
    _, v, _, out = seed
    verdict = skewsleuth.investigate([out / "evidence"])   # the case file is found among the evidence
    d = verdict.to_dict()
    assert d["incidents"][0]["root_causes"][0]["host"] == v["incidents"][0]["root_causes"][0]["host"]
    assert d["case"]["timezone"] == "America/Chicago"
    assert verdict.exit_status == 0


@pytest.fixture(scope="module")
def two_edges(tmp_path_factory):
    out = tmp_path_factory.mktemp("two")
    evidence = write_evidence(two_edges_scenario(), out / "evidence")
    r = run_cli("investigate", str(evidence), "--json", str(out / "v.json"), "-q")
    return r, json.loads((out / "v.json").read_text())


def test_two_edges_only_the_skewed_one_ahead_is_named(two_edges):
    r, v = two_edges
    assert r.returncode == 0, r.stderr
    assert len(v["incidents"]) == 1
    inc = v["incidents"][0]
    rc = inc["root_causes"][0]
    assert rc["kind"] == "clock_skew" and rc["host"] == "sfb-edge02.contoso.de"
    assert rc["offset_s"] == pytest.approx(7200, abs=60) and rc["offset_s"] > 0
    since = _local(rc["since"], BERLIN)
    assert (since.hour, since.minute) in ((10, 42), (10, 43))
    assert not any(c["host"] == "sfb-edge01.contoso.de" and c["kind"] == "clock_skew" for c in inc["root_causes"])
    assert any(c["host"] == "sfb-edge02.contoso.de" for c in inc["remediation"][:1])


def test_two_edges_red_herrings_are_ruled_out_with_specific_reasons(two_edges):
    _, v = two_edges
    inc = v["incidents"][0]
    cu = next(r for r in inc["ruled_out"] if "cumulative update" in r["what"])
    assert "after the onset" in cu["reason"] and "no mechanism" in cu["reason"]
    # Some of edge02's own 429 records name no signer; edge02's clock, measured five hours
    # off, explains them, so no unnamed Edge is needed and edge01 is surely uninvolved.
    assert "sfb-edge01.contoso.de is not among the hosts the failures involve" in cu["reason"]
    assert {"writer": "sfb-edge02.contoso.de", "judge": "sfb-fe01.contoso.de", "symptoms": 100} in inc["clock_pairs"]
    fw = next(r for r in inc["ruled_out"] if "firewall" in r["what"])
    assert "after the onset" not in fw["reason"]
    assert "no mechanism" in fw["reason"] and "fw01.contoso.de is not among" in fw["reason"]


def test_hostile_evidence_is_escaped_in_markdown_and_terminal(tmp_path):
    host = tmp_path / "kdc01"
    host.mkdir()
    evil = "<script>alert(1)</script> [x](javascript:alert(1)) [bold red]boom[/]"
    lines = [f"Oct 20 18:{m:02d}:05 kdc01 krb5kdc[1234](info): AS_REQ (2 etypes {{aes256-cts(18)}}) "
             f"10.0.0.5: PREAUTH_FAILED: {evil}@EXAMPLE.TEST for krbtgt/EXAMPLE.TEST@EXAMPLE.TEST, Clock skew too great"
             for m in range(10, 20)]
    (host / "krb5kdc.log").write_text("\n".join(lines) + "\n")
    r = run_cli("investigate", str(tmp_path), "--md", str(tmp_path / "t.md"), "--timezone", "UTC")
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "t.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md
    import re
    assert not re.search(r"(?<!\\)\]\(javascript:", md)      # brackets escaped: no link can form
    assert "\\[x\\](javascript:alert(1))" in md
    assert "[bold red]boom[/]" in r.stdout   # rich markup shown as text, never applied


def test_no_incident_is_a_verdict_with_exit_0(evtx_dir):
    r = run_cli("investigate", str(evtx_dir / "system.evtx"), "--json", "-")
    assert r.returncode == 0
    v = json.loads(r.stdout)
    assert v["incidents"] == [] and v["hosts"]


CONTRACT = {
    "ingest": {"files", "records", "quarantined", "files_failed"},
    "host": {"host", "boots", "steps", "segments"},
    "step": {"at", "delta_s", "source", "inferred"},
    "segment": {"from", "to", "offset_s", "offset_low_s", "offset_high_s", "basis"},
    "incident": {"onset", "end", "symptoms", "signatures", "root_causes", "ruled_out", "remediation"},
    "root_cause": {"rank", "kind", "host", "offset_s", "since", "until", "score", "evidence"},
    "ruled_out": {"what", "at", "reason"},
    "remediation": {"host", "steps", "verify"},
}


def test_json_has_every_field_of_the_contract_with_its_type(seed):
    _, v, _, _ = seed
    assert CONTRACT["ingest"] <= set(v["ingest"]) and all(isinstance(v["ingest"][k], int) for k in CONTRACT["ingest"])
    for h in v["hosts"]:
        assert CONTRACT["host"] <= set(h)
        assert all(isinstance(b, str) for b in h["boots"])
        for s in h["steps"]:
            assert CONTRACT["step"] <= set(s) and isinstance(s["inferred"], bool) and isinstance(s["delta_s"], float)
        for s in h["segments"]:
            assert CONTRACT["segment"] <= set(s) and isinstance(s["basis"], list) and s["basis"]
    for inc in v["incidents"]:
        assert CONTRACT["incident"] <= set(inc) and isinstance(inc["symptoms"], int)
        for c in inc["root_causes"]:
            assert CONTRACT["root_cause"] <= set(c) and isinstance(c["score"], float)
        for r in inc["ruled_out"]:
            assert CONTRACT["ruled_out"] <= set(r) and r["reason"]
        for r in inc["remediation"]:
            assert CONTRACT["remediation"] <= set(r) and r["steps"] and r["verify"]
    for t in [v["incidents"][0]["onset"], v["hosts"][0]["boots"][0]]:
        assert datetime.fromisoformat(t.replace("Z", "+00:00")).tzinfo is not None


def test_a_bad_case_file_is_exit_2_in_one_line(seed, tmp_path):
    _, _, _, out = seed
    bad = tmp_path / "case.yml"
    bad.write_text("timezone: Nowhere/Land\n")
    r = run_cli("investigate", str(out / "evidence" / "srv-lyncfe01"), "--case", str(bad))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown time zone" in r.stderr


def test_host_option_names_the_host_of_a_file_given_directly(seed, tmp_path):
    _, _, _, out = seed
    trace = out / "evidence" / "srv-lyncfe01" / "SIPStack.log"
    copy = tmp_path / "trace.txt"
    copy.write_bytes(trace.read_bytes())
    v = skewsleuth.investigate([copy], host="srv-lyncfe01").to_dict()
    assert [h["host"] for h in v["hosts"]] == ["srv-lyncfe01"]
    v = skewsleuth.investigate([copy]).to_dict()
    assert [h["host"] for h in v["hosts"]] == [tmp_path.name.lower()]


def test_a_bad_case_entry_among_the_evidence_is_quarantined_and_counted(seed, tmp_path):
    _, v, _, out = seed
    import shutil
    ev = tmp_path / "evidence"
    shutil.copytree(out / "evidence", ev)
    case = (ev / "case.yml").read_text()
    (ev / "case.yml").write_text(case + "  - host: srv-lyncedge01.domain.com\n    at: someday\n    shown: 2014-10-20 16:31\n")
    r = run_cli("investigate", str(ev), "--json", str(tmp_path / "v.json"), "-q")
    assert r.returncode == 1
    w = json.loads((tmp_path / "v.json").read_text())
    assert w["ingest"]["quarantined"] == 1
    assert w["ingest"]["records"] == v["ingest"]["records"] + 1
    assert any("not a time" in n for n in w["notes"])
    assert w["incidents"][0]["root_causes"][0]["host"] == "srv-lyncedge01.domain.com"


def test_the_same_evidence_gives_byte_identical_json_whatever_the_order_or_overlap(seed, tmp_path):
    """A rerun, the host folders named in another order, and a folder named with its
    parent (each file is read once) give the same bytes."""
    ev = seed[3] / "evidence"
    outs = []
    for k, args in enumerate([[str(ev)], [str(ev)],
                              [str(ev / "srv-lyncfe01"), str(ev / "srv-lyncedge01"), str(ev / "case.yml")],
                              [str(ev), str(ev / "srv-lyncedge01")]]):
        r = run_cli("investigate", *args, "--json", str(tmp_path / f"{k}.json"), "-q")
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / f"{k}.json").read_bytes())
    assert all(o == outs[0] for o in outs[1:])
    assert json.loads(outs[0])["ingest"]["duplicates"] == 0
