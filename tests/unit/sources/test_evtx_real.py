"""The real EVTX samples in tests/data/evtx: steps found, damage survived, counts add up."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import skewsleuth


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def system_verdict(evtx_dir):
    return skewsleuth.investigate([evtx_dir / "system.evtx"]).to_dict()


def test_system_evtx_lists_the_boot_time_step_of_minus_36000_s(system_verdict):
    host = next(h for h in system_verdict["hosts"] if h["host"] == "desktop-2kgm189")
    step = next(s for s in host["steps"] if s["at"].startswith("2017-07-12T17:18:24"))
    assert step["delta_s"] == pytest.approx(-36000, abs=2)
    assert step["source"] == "Kernel-General 1"
    assert step["set_by"] == "time_service"  # W32Time (LocalService), confirmed by Time-Service 52
    assert not step["inferred"]
    assert host["boots"] and host["boots"][0].startswith("2017-07-12T17:18:03")


def test_system_evtx_segment_before_the_step_is_ten_hours_ahead(system_verdict):
    host = next(h for h in system_verdict["hosts"] if h["host"] == "desktop-2kgm189")
    seg = next(s for s in host["segments"] if s["to"] and s["to"].startswith("2017-07-12T17:18:24"))
    assert seg["offset_s"] == pytest.approx(36000, abs=5)
    assert seg["offset_low_s"] <= 35999.7 <= seg["offset_high_s"]
    assert "step" in seg["basis"] and "sync" in seg["basis"]   # W32Time's sync report after its step
    after = next(s for s in host["segments"] if s["from"] and s["from"].startswith("2017-07-12T07:18:24"))
    assert abs(after["offset_s"]) <= 2 and after["offset_high_s"] - after["offset_low_s"] <= 4


def test_security_evtx_lists_vmware_tools_steps_with_sizes(evtx_dir):
    v = skewsleuth.investigate([evtx_dir / "security.evtx"]).to_dict()
    host = next(h for h in v["hosts"] if h["host"] == "win-03dliiofrra")
    steps = [s for s in host["steps"] if s["source"] == "Security 4616"]
    assert len(steps) >= 5
    first = steps[0]
    assert first["at"].startswith("2016-07-08T18:16:31")
    assert first["delta_s"] == pytest.approx(14400.1, abs=1)   # "+4 h" set by VMware Tools
    assert first["set_by"] == "agent"
    assert all(s["delta_s"] and abs(s["delta_s"]) >= 1 for s in steps)


def test_a_cut_short_evtx_says_so(evtx_dir, tmp_path):
    data = (evtx_dir / "system.evtx").read_bytes()
    (tmp_path / "cut.evtx").write_bytes(data[:300_000])
    v = skewsleuth.investigate([tmp_path / "cut.evtx"])
    reasons = [r["reason"] for r in v.store.rows("SELECT reason FROM quarantine")]
    # The records of the partial chunk before the cut are read: 4 whole chunks hold 444.
    assert reasons == ["file ends inside chunk 4: its records after EventRecordID 509 are lost "
                       "(the file was cut short)"]
    assert v.store.rows("SELECT count(*) AS n, max(record_id) AS last FROM events")[0] == {"n": 509, "last": 509}
    assert v.ingest.records == v.ingest.quarantined + v.store.rows("SELECT count(*) AS n FROM events")[0]["n"]
    assert v.exit_status == 1


def test_a_log_collected_twice_counts_once(evtx_dir, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Security.evtx").write_bytes((evtx_dir / "security.evtx").read_bytes())
    v = skewsleuth.investigate([tmp_path])
    d = v.to_dict()
    assert d["ingest"]["records"] == 2 * 2261 and d["ingest"]["duplicates"] == 2261
    assert v.store.rows("SELECT count(*) AS n FROM events")[0]["n"] == 2261
    host = next(h for h in d["hosts"] if h["host"] == "win-03dliiofrra")
    assert len([s for s in host["steps"] if s["source"] == "Security 4616"]) == 8   # not 16


@pytest.mark.parametrize("name", ["sample-with-zero-data-size-event.evtx", "sample_with_a_bad_chunk_magic.evtx",
                                  "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
                                  "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx"])
def test_records_after_a_damaged_one_keep_their_place(evtx_dir, name):
    """Each record keeps the number of its place in the parser's sequence, whatever was
    damaged before it: held to a plain next() loop over the same parser."""
    import evtx

    from skewsleuth.sources.base import FileContext
    from skewsleuth.sources.evtx import read_raw

    expected, damaged, it = {}, [], evtx.PyEvtxParser(str(evtx_dir / name)).records_json()
    while True:
        try:
            record = next(it)
        except StopIteration:
            break
        except Exception:  # noqa: BLE001 - the parser's damage
            damaged.append(len(expected) + len(damaged))
            continue
        expected[len(expected) + len(damaged)] = record["event_record_id"]
    ctx = FileContext(path=evtx_dir / name, file_id=1, default_host="h", timezone=timezone.utc)
    got = {no: rid for nos, ids, _ in read_raw(ctx) for no, rid in zip(nos, ids)}
    assert damaged and max(expected) > damaged[0]   # records follow the damage
    assert got == expected
    assert [q.record_no for q in ctx.quarantined if q.record_no is not None] == damaged
