"""The evidence generators write what the readers read, and what the scenario says happened."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skewsleuth.case import load_case, sniff_case
from skewsleuth.sources import READERS, sniff
from skewsleuth.sources.base import FileContext
from skewsleuth.demo.eventxml import event_stream, event_xml, events_document
from skewsleuth.demo.scenario import SEED, ClockFault, EdgeSpec, Scenario, build, write_evidence
from synth.scenarios import two_edges_scenario

UTC = timezone.utc


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def read(path: Path, zone: str = "America/Chicago") -> tuple[str | None, list[dict], list]:
    fmt = sniff(path.read_bytes()[:8192])
    assert fmt is not None, f"{path} not sniffed"
    ctx = FileContext(path=path, file_id=1, default_host=path.parent.name, timezone=ZoneInfo(zone),
                      modified=datetime(2014, 12, 31, tzinfo=UTC))
    rows = [r for batch in READERS[fmt](ctx) for r in batch.to_pylist()]
    for r in rows:
        r["data"] = json.loads(r["data"]) if r["data"] else {}
    return fmt, rows, ctx.quarantined


# ----------------------------------------------------------------------------------
# eventxml writer


def _sample_events() -> list[str]:
    return [
        event_xml(provider="Microsoft-Windows-Kernel-General", event_id=1, logged=utc(2014, 10, 21, 2, 33, 25, 500),
                  computer="srv-lyncedge01.domain.com", channel="System", record_id=41, level=4,
                  data={"NewTime": "2014-10-21T02:33:25.000000000Z", "OldTime": "2014-10-20T21:33:25.000000000Z",
                        "Reason": "1"},
                  user_sid="S-1-5-19", process_id=1012, message="The system time has changed."),
        event_xml(provider="Service Control Manager", event_id=7036, logged=utc(2014, 10, 21, 2, 34, 27),
                  computer="srv-lyncedge01.domain.com", channel="System", record_id=42, qualifiers=16384,
                  data=["Lync <Server> & \"Access\" 'Edge'", "stopped"], process_id=540,
                  message="line one\r\nline <two> & three"),
        event_xml(provider="LS Protocol Stack", event_id=14619, logged=datetime(2014, 10, 20, 18, 20, 1),
                  computer="SRV-LYNCEDGE01", channel="Lync Server", record_id=7, level=2),
    ]


@pytest.mark.parametrize("shape", ["document", "stream"])
def test_event_xml_round_trips_through_the_reader(tmp_path: Path, shape: str) -> None:
    events = _sample_events()
    text = events_document(events) if shape == "document" else event_stream(events)
    if shape == "document":
        assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<Events>')
    else:
        assert text.count("\n") == len(events) and text.startswith("<Event xmlns=")
    path = tmp_path / "host" / "System.xml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    fmt, rows, quarantined = read(path)
    assert fmt == "eventxml" and quarantined == []
    assert [r["record_id"] for r in rows] == [41, 42, 7]
    step, scm, lync = rows
    assert step["host"] == "srv-lyncedge01.domain.com"
    assert step["logged"] == utc(2014, 10, 21, 2, 33, 25, 500)
    assert (step["provider"], step["event_id"], step["channel"]) == ("Microsoft-Windows-Kernel-General", 1, "System")
    assert step["data"]["NewTime"] == "2014-10-21T02:33:25.000000000Z"
    assert step["data"]["Reason"] == 1
    assert step["data"]["@UserID"] == "S-1-5-19" and step["data"]["@ProcessID"] == 1012
    assert step["message"] == "The system time has changed."
    assert scm["event_id"] == 7036  # with Qualifiers
    assert scm["data"]["Data"]["#text"] == ["Lync <Server> & \"Access\" 'Edge'", "stopped"]
    assert scm["message"] == "line one\r\nline <two> & three"
    assert lync["logged"] == utc(2014, 10, 20, 18, 20, 1)  # naive is UTC
    assert lync["message"] is None


def test_event_xml_refuses_what_xml_cannot_carry() -> None:
    with pytest.raises(ValueError):
        event_xml(provider="X", event_id=1, logged=utc(2014, 1, 1), computer="h", channel="System", record_id=1,
                  data={"a": "bell\x07"})


# ----------------------------------------------------------------------------------
# The seed scenario


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    assert write_evidence(SEED, out) == out
    return out


@pytest.fixture(scope="module")
def two_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_evidence(two_edges_scenario(), tmp_path_factory.mktemp("two"))


def test_seed_layout(seed_dir: Path) -> None:
    assert sorted(p.name for p in seed_dir.iterdir()) == ["case.yml", "srv-lyncedge01", "srv-lyncfe01"]
    assert sorted(p.name for p in (seed_dir / "srv-lyncfe01").iterdir()) == \
        ["Application.xml", "SIPStack.log", "System.xml"]
    assert sorted(p.name for p in (seed_dir / "srv-lyncedge01").iterdir()) == \
        ["Lync Server.xml", "SIPStack.log", "System.xml"]
    # Both XML shapes: the Front End saved from Event Viewer, the Edge from wevtutil.
    assert (seed_dir / "srv-lyncfe01" / "System.xml").read_text().startswith("<?xml")
    assert (seed_dir / "srv-lyncedge01" / "System.xml").read_text().startswith("<Event xmlns=")


@pytest.mark.parametrize("which", ["seed", "two"])
def test_every_file_sniffs_and_parses_without_quarantine(which: str, seed_dir: Path, two_dir: Path) -> None:
    root, zone = (seed_dir, "America/Chicago") if which == "seed" else (two_dir, "Europe/Berlin")
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        if path.name == "case.yml":
            assert sniff_case(path.read_bytes()[:8192])
            continue
        fmt, rows, quarantined = read(path, zone)
        assert fmt == ("sipstack" if path.suffix == ".log" else "eventxml"), path
        assert quarantined == [], (path, quarantined[:3])
        assert rows, path
        total += len(rows)
        if fmt == "eventxml":
            ids = [r["record_id"] for r in rows]
            assert ids == list(range(ids[0], ids[0] + len(ids))), f"EventRecordID not increasing in {path}"
            assert {r["host"] for r in rows} == {path.parent.name + (".domain.com" if which == "seed"
                                                                     else ".contoso.de")}
    assert 1000 < total < 10000


def test_seed_case_file(seed_dir: Path) -> None:
    text = (seed_dir / "case.yml").read_text()
    assert "at: 2014-10-20 18:30" in text and "at: 2014-10-20 21:31" in text and "shown: 2014-10-20 16:31" in text
    case = load_case(seed_dir / "case.yml")
    assert case.timezone_name == "America/Chicago" and not case.rejected
    assert case.references == ["srv-lyncfe01.domain.com"]
    (change,) = case.changes
    assert (change.at, change.what, change.host) == (utc(2014, 10, 20, 23, 30), "Password Sync re-enabled",
                                                     "dirsync01.domain.com")
    (ob,) = case.observations
    assert ob.host == "srv-lyncedge01.domain.com" and ob.at == utc(2014, 10, 21, 2, 31)
    assert ob.offset_s == -18000


def _by_event(rows: list[dict], provider: str, event_id: int) -> list[dict]:
    return [r for r in rows if r["provider"] == provider and r["event_id"] == event_id]


def test_seed_edge_system_log_tells_the_clock_story(seed_dir: Path) -> None:
    _, rows, _ = read(seed_dir / "srv-lyncedge01" / "System.xml")
    (step,) = _by_event(rows, "Microsoft-Windows-Kernel-General", 1)
    new = datetime.fromisoformat(step["data"]["NewTime"][:26] + "+00:00")
    old = datetime.fromisoformat(step["data"]["OldTime"][:26] + "+00:00")
    assert new == utc(2014, 10, 21, 2, 33, 25)              # 9:33:25 PM CDT
    assert (new - old).total_seconds() == 18000.0
    assert step["data"]["@UserID"] == "S-1-5-19" and step["data"]["Reason"] == 1
    assert abs((step["logged"] - new).total_seconds()) < 1
    k = rows.index(step)
    # The log jumps from 4:21:04 PM to 9:33:25 PM (CDT), as in the report.
    assert rows[k - 1]["logged"] == utc(2014, 10, 20, 21, 21, 4)
    after = rows[k + 1]
    assert (after["provider"], after["event_id"]) == ("Microsoft-Windows-Time-Service", 35)
    assert 0 < (after["logged"] - step["logged"]).total_seconds() < 10
    # The reboot: requested, shut down on the good clock, started on the bad one.
    (restart,) = _by_event(rows, "User32", 1074)
    assert restart["data"]["param5"] == "restart" and restart["logged"] == utc(2014, 10, 20, 23, 19, 10)
    (stopped,) = _by_event(rows, "EventLog", 6006)
    (booted,) = _by_event(rows, "Microsoft-Windows-Kernel-General", 12)
    assert rows.index(restart) < rows.index(stopped) < rows.index(booted)
    start = datetime.fromisoformat(booted["data"]["StartTime"][:26] + "+00:00")
    # Down for half a minute, back five hours earlier by its own clock.
    assert timedelta(0) < (start - stopped["logged"]) - timedelta(hours=-5) < timedelta(minutes=1)
    for pid, eid in (("EventLog", 6009), ("EventLog", 6005), ("Microsoft-Windows-Kernel-Boot", 20)):
        (r,) = _by_event(rows, pid, eid)
        assert utc(2014, 10, 20, 18, 19) < r["logged"] < utc(2014, 10, 20, 18, 21)
    # W32Time: synced before the reboot and after the fix, failing in between.
    syncs = [r["logged"] for r in _by_event(rows, "Microsoft-Windows-Time-Service", 37)]
    assert syncs and all(t < restart["logged"] or t >= step["logged"] for t in syncs)
    assert any(t < restart["logged"] for t in syncs) and any(t > step["logged"] for t in syncs)
    fails = _by_event(rows, "Microsoft-Windows-Time-Service", 129)
    assert len(fails) >= 10 and all(booted["logged"] < r["logged"] < rows[k - 1]["logged"] + timedelta(seconds=1)
                                    for r in fails)
    # The Access Edge restart a minute after the fix.
    access = [r for r in _by_event(rows, "Service Control Manager", 7036)
              if r["data"]["param1"] == "Lync Server Access Edge"]
    assert [r["data"]["param2"] for r in access] == ["running", "stopped", "running"]
    assert 30 < (access[1]["logged"] - step["logged"]).total_seconds() < 120


def _calls(path: Path, zone: str = "America/Chicago") -> dict[str, list[dict]]:
    _, rows, _ = read(path, zone)
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["data"]["call_id"], []).append(r)
    return out


def test_seed_sip_traces_pair_across_hosts(seed_dir: Path) -> None:
    fe = _calls(seed_dir / "srv-lyncfe01" / "SIPStack.log")
    edge = _calls(seed_dir / "srv-lyncedge01" / "SIPStack.log")
    assert set(fe) == set(edge)
    onset, restart = utc(2014, 10, 20, 23, 19, 10), utc(2014, 10, 21, 2, 34, 27)
    failed = ok = 0
    for call_id, fe_recs in fe.items():
        invite = fe_recs[0]
        assert invite["data"]["start_line"].startswith("INVITE sip:") and "@exap.um.outlook.com" in \
            invite["data"]["start_line"]
        assert {r["data"]["cseq"] for r in fe_recs + edge[call_id]} == {"1 INVITE"}
        lines = [r["data"].get("start_line") for r in fe_recs]
        skew = (edge[call_id][0]["logged"] - invite["logged"]).total_seconds()
        t = invite["logged"]  # the Front End is the reference clock
        if "SIP/2.0 429 Provide Referrer Identity" in lines:
            failed += 1
            assert onset < t < restart
            resp = fe_recs[lines.index("SIP/2.0 429 Provide Referrer Identity")]
            h = resp["data"]["headers"]
            assert 'HRESULT="0xC3E93EE0(SIP_E_CRYPT_REFERRER_DATE_SKEWED)"' in h["ms-diagnostics"]
            assert h["ms-diagnostics"].startswith("1020;")
            assert "ms-ep-fqdn=srv-lyncedge01.domain.com" in h["ms-edge-proxy-message-trust"]
            diag = [r for r in fe_recs if r["data"].get("level") == "TL_WARN"]
            assert diag and diag[0]["data"]["result_code"] == "0xc3e93ee0 SIP_E_CRYPT_REFERRER_DATE_SKEWED"
            (unavailable,) = [r for r in fe_recs if r["data"].get("start_line", "").startswith("SIP/2.0 480")]
            d15030 = unavailable["data"]["headers"]["ms-diagnostics"]
            assert d15030.startswith("15030;") and 'source="SRV-LYNCFE01.DOMAIN.COM"' in d15030
            assert 'dialplan="Hosted__exap.um.outlook.com__domain.onmicrosoft.com"' in d15030
            if t < utc(2014, 10, 21, 2, 33, 25):
                assert abs(skew + 18000) < 1, call_id   # logged on a clock five hours behind
            else:
                assert abs(skew) < 1                    # fixed, but Access Edge not yet restarted
        else:
            ok += 1
            assert "SIP/2.0 200 OK" in lines
            assert not onset < t < restart
            assert abs(skew) < 5
    assert failed > 100 and ok > 100
    # The failures start between 6:19 and 6:21 PM CDT, as in the report.
    first = min(fe[c][0]["logged"] for c in fe if any("429" in (r["data"].get("start_line") or "") for r in fe[c]))
    assert utc(2014, 10, 20, 23, 19) < first < utc(2014, 10, 20, 23, 21)


def test_seed_event_logs_match_the_failed_calls(seed_dir: Path) -> None:
    fe = _calls(seed_dir / "srv-lyncfe01" / "SIPStack.log")
    failed = {c for c, recs in fe.items() if any("429" in (r["data"].get("start_line") or "") for r in recs)}
    _, app, _ = read(seed_dir / "srv-lyncfe01" / "Application.xml")
    um = _by_event(app, "LS Exchange Unified Messaging Routing", 44009)
    assert len(um) == len(failed) and all("Failed to route to Exchange Server" in r["message"] for r in um)
    _, lync, _ = read(seed_dir / "srv-lyncedge01" / "Lync Server.xml")
    rejected = _by_event(lync, "LS Protocol Stack", 14619)
    assert len(rejected) == len(failed)
    assert all("exap.um.outlook.com" in r["message"] and "date is skewed" in r["message"] for r in rejected)
    assert all(r["channel"] == "Lync Server" for r in lync)


# ----------------------------------------------------------------------------------
# A different layout


def test_two_edges_scenario_generates_its_own_story(two_dir: Path) -> None:
    zone = "Europe/Berlin"
    sc = two_edges_scenario()
    assert [p.name for p in sorted(two_dir.iterdir())] == ["case.yml", "sfb-edge01", "sfb-edge02", "sfb-fe01"]
    case = load_case(two_dir / "case.yml")
    assert case.timezone_name == zone and not case.rejected
    fault = sc.edges[1].fault
    assert fault is not None and fault.offset_s == 7200
    herring, unrelated = sorted(case.changes, key=lambda c: c.at, reverse=True)
    assert herring.host == "sfb-edge01.contoso.de" and herring.at > fault.reboot_at
    assert unrelated.at < fault.reboot_at
    # The faulty Edge is set back by two hours by W32Time.
    _, system, _ = read(two_dir / "sfb-edge02" / "System.xml", zone)
    (step,) = _by_event(system, "Microsoft-Windows-Kernel-General", 1)
    new = datetime.fromisoformat(step["data"]["NewTime"][:26] + "+00:00")
    old = datetime.fromisoformat(step["data"]["OldTime"][:26] + "+00:00")
    assert (new - old).total_seconds() == -7200 and new == fault.fixed_at
    # The red herring leaves a trace on the healthy Edge, on a good clock.
    _, app, _ = read(two_dir / "sfb-edge01" / "Application.xml", zone)
    (install,) = _by_event(app, "MsiInstaller", 11707)
    assert abs((install["logged"] - herring.at).total_seconds()) < 1
    # Calls alternate; only those through sfb-edge02 during the fault fail.
    fe = _calls(two_dir / "sfb-fe01" / "SIPStack.log", zone)
    edges = {name: _calls(two_dir / name / "SIPStack.log", zone) for name in ("sfb-edge01", "sfb-edge02")}
    assert set(fe) == set(edges["sfb-edge01"]) | set(edges["sfb-edge02"])
    assert not set(edges["sfb-edge01"]) & set(edges["sfb-edge02"])
    seen = {"sfb-edge01": [0, 0], "sfb-edge02": [0, 0]}
    for call_id, recs in fe.items():
        name = "sfb-edge01" if call_id in edges["sfb-edge01"] else "sfb-edge02"
        t = recs[0]["logged"]
        skew = (edges[name][call_id][0]["logged"] - t).total_seconds()
        failed = any("429" in (r["data"].get("start_line") or "") for r in recs)
        seen[name][failed] += 1
        assert failed == (name == "sfb-edge02" and fault.reboot_at < t < fault.service_restart_at)
        if failed and t < fault.fixed_at:
            assert abs(skew - 7200) < 1
        else:
            assert abs(skew) < 5
    assert seen["sfb-edge01"][1] == 0 and seen["sfb-edge01"][0] > 50
    assert seen["sfb-edge02"][1] > 30 and seen["sfb-edge02"][0] > 30
    _, lync_ok, _ = read(two_dir / "sfb-edge01" / "Lync Server.xml", zone)
    assert lync_ok and not _by_event(lync_ok, "LS Protocol Stack", 14619)
    _, lync_bad, _ = read(two_dir / "sfb-edge02" / "Lync Server.xml", zone)
    assert len(_by_event(lync_bad, "LS Protocol Stack", 14619)) == seen["sfb-edge02"][1]


def test_generation_is_deterministic_and_seeded() -> None:
    assert build(SEED) == build(SEED)
    other = Scenario(SEED.timezone, SEED.start, SEED.end, SEED.frontend, SEED.edges, SEED.tenant, SEED.changes,
                     SEED.observations, SEED.references, seed=2)
    assert build(other) != build(SEED)


def test_clock_fault_checks_its_order() -> None:
    r = utc(2014, 10, 20, 23, 19, 10)
    with pytest.raises(ValueError):
        ClockFault(r, -18000, fixed_at=r + timedelta(seconds=10))
    with pytest.raises(ValueError):
        ClockFault(r, -18000, fixed_at=r + timedelta(hours=1), service_restart_at=r + timedelta(minutes=30))
    with pytest.raises(ValueError):
        Scenario("America/Chicago", r, r + timedelta(hours=1), "fe.a.com",
                 [EdgeSpec("fe.b.com")], "t.onmicrosoft.com")
