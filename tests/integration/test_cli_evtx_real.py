"""The real EVTX samples in tests/data/evtx: steps found, damage survived, counts add up:
the part that runs the command line, a real daemon or another process (the rest is in
tests/unit/sources/test_evtx_real.py).
"""

from __future__ import annotations

import json


from conftest import run_cli


def test_every_sample_is_read_as_far_as_it_can_be_and_counts_add_up(evtx_dir, tmp_path):
    out = tmp_path / "v.json"
    r = run_cli("investigate", str(evtx_dir), "--json", str(out), "--db", str(tmp_path / "case.duckdb"), "-q")
    assert r.returncode == 1, r.stderr     # readable, but damaged records were quarantined
    v = json.loads(out.read_text())
    ing = v["ingest"]
    assert ing["files"] == len(list(evtx_dir.glob("*.evtx"))) and ing["files_failed"] == 0
    import duckdb
    con = duckdb.connect(str(tmp_path / "case.duckdb"), read_only=True)
    per_file = con.execute("SELECT path, records, ingested, quarantined FROM files").fetchall()
    events = dict(con.execute("SELECT f.path, count(*) FROM events e JOIN files f USING (file_id) GROUP BY 1").fetchall())
    quarantine = dict(con.execute("SELECT f.path, count(*) FROM quarantine q JOIN files f USING (file_id) GROUP BY 1").fetchall())
    dups = dict(con.execute("SELECT f.path, count(*) FROM duplicates d JOIN files f USING (file_id) GROUP BY 1").fetchall())
    for path, records, ingested, quarantined in per_file:
        assert records == ingested + quarantined
        assert events.get(path, 0) + dups.get(path, 0) == ingested   # copies are merged, never lost
        assert quarantine.get(path, 0) == quarantined
    assert sum(dups.values()) == ing["duplicates"] > 0   # security_bad_string_cache.evtx repeats security.evtx
    assert sum(p[1] for p in per_file) == ing["records"]
    assert sum(p[3] for p in per_file) == ing["quarantined"] > 0
    damaged = {p.split("/")[-1]: (i, q) for p, _, i, q in per_file}
    for name in ("sample_with_a_bad_chunk_magic.evtx", "sample-with-zero-data-size-event.evtx", "sysmon.evtx",
                 "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx"):
        ingested, quarantined = damaged[name]
        assert quarantined > 0 and ingested > 100, name   # read past the damage
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine").fetchall()]
    assert all(r.startswith("EVTX parser:") or r in ("no readable TimeCreated/@SystemTime",
               "TimeCreated is FILETIME 0 (1601-01-01): no time recorded") for r in reasons)
    assert "TimeCreated is FILETIME 0 (1601-01-01): no time recorded" in reasons   # HelloForBusiness
    assert not any(s["from"] and s["from"].startswith("1601") for h in v["hosts"] for s in h["segments"])


def test_unusable_input_is_one_line_and_exit_2(tmp_path):
    r = run_cli("investigate", str(tmp_path / "nope"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    empty = tmp_path / "host1" / "empty.evtx"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    r = run_cli("investigate", str(empty.parent))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "nothing could be read" in r.stderr


def test_truncated_evtx_and_junk_next_to_good_evidence_give_exit_1(evtx_dir, tmp_path):
    host = tmp_path / "srv01"
    host.mkdir()
    data = (evtx_dir / "system.evtx").read_bytes()
    (host / "System.evtx").write_bytes(data[: len(data) // 2 + 1234])   # cut mid-chunk
    (host / "notes.bin").write_bytes(b"\x00\x01garbage" * 10)
    out = tmp_path / "v.json"
    r = run_cli("investigate", str(tmp_path), "--json", str(out), "-q")
    assert r.returncode == 1, r.stderr
    v = json.loads(out.read_text())
    assert v["ingest"]["files"] == 2 and v["ingest"]["files_failed"] == 1
    assert v["ingest"]["records"] > 500
    assert any("unrecognised format" in f["reason"] for f in v["ingest"]["failures"])
    assert v["ingest"]["quarantined"] == 1   # the partial chunk at the end, said out loud
    import duckdb  # noqa: F401


def test_vmware_tools_steps_in_security_evtx_are_findings_with_process_and_sizes(evtx_dir, tmp_path):
    out = tmp_path / "v.json"
    r = run_cli("investigate", str(evtx_dir / "security.evtx"), "--json", str(out))
    assert r.returncode == 0, r.stderr
    v = json.loads(out.read_text())
    steps = {round(s["delta_s"], 3) for h in v["hosts"] for s in h["steps"]}
    big = [f for f in v["findings"] if f["level"] == "medium"]
    # every step the model cut is a finding of the same size, by VMware Tools as SYSTEM
    assert {f["delta_s"] for f in big} == steps and len(big) == 8
    for f in v["findings"]:
        assert f["process"].endswith("VMware Tools\\vmtoolsd.exe") and f["set_by"] == "agent"
        assert f["sid"] == "S-1-5-18" and f["user"] == "WORKGROUP\\WIN-03DLIIOFRRA$"
        assert f["sources"] == ["Security 4616"] and f["records"][0].startswith(str(evtx_dir / "security.evtx") + "#")
        assert (f["level"] == "informational") == (abs(f["delta_s"]) < 60)
    assert v["findings_summary"]["total"]["informational"] == len(v["findings"]) - 8 > 0
    # the terminal lists the large ones with their process and sizes, and counts the rest
    assert "Clock changes: 8 medium" in r.stdout and r.stdout.count("vmtoolsd.exe") == 8
    assert "+14,400 s (+4.00 h)" in r.stdout and "other changes not listed here" in r.stdout
