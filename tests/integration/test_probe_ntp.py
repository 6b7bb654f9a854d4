"""NTP probe: real chronyd servers (one five hours behind under faketime, like the seed's
Edge), hostile servers whose every bad reply must be rejected with a reason, and the
packet and era arithmetic as properties: the part that runs the command line, a real
daemon or another process (the rest is in tests/unit/probe/test_ntp.py).
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_cli
from support.probe_helpers import chronyd
from skewsleuth.probe import Inventory, probe


@pytest.fixture(scope="module")
def chrony_behind(tmp_path_factory):
    with chronyd(tmp_path_factory.mktemp("chrony-behind"), fake="-5h") as port:
        yield port


@pytest.fixture(scope="module")
def chrony_true(tmp_path_factory):
    with chronyd(tmp_path_factory.mktemp("chrony-true")) as port:
        yield port


def test_chronyd_five_hours_behind_is_measured_at_minus_18000(chrony_behind):
    (m,) = probe([f"ntp://127.0.0.1:{chrony_behind}"], timeout=3, interval=0.05)
    assert m.ok, m.error
    assert abs(m.offset_s - (-18000)) <= 0.05
    # The interval it reports holds the truth (faketime's offset), and is honest but tight.
    assert abs(m.offset_s + 18000) <= m.uncertainty_s + 0.005
    assert m.uncertainty_s < 0.05 and m.rtt_s < 0.05
    assert m.evidence["stratum"] == 8 and m.evidence["leap"] == 0 and m.samples_sent == 4 and m.samples_kept == 4


def test_chronyd_on_true_time_is_measured_at_zero(chrony_true):
    (m,) = probe([f"ntp://127.0.0.1:{chrony_true}"], timeout=3, interval=0.05)
    assert m.ok, m.error
    assert abs(m.offset_s) <= 0.05
    assert m.evidence["refid"] == "127.127.1.1"      # chrony's local reference


def test_chronyd_without_a_source_is_unsynchronised(tmp_path):
    with chronyd(tmp_path, local=None) as port:
        (m,) = probe([f"ntp://127.0.0.1:{port}"], timeout=1, interval=0)
    assert not m.ok and m.error == "no valid reply: server not synchronised (leap indicator 3)"


def test_rate_limited_chronyd_is_still_measured(tmp_path):
    # One answer per 8 s per client address after a burst of two (one of which the
    # fixture's readiness probe takes): the replies after the first are dropped
    # (rarely leaked); the sample in hand is the measurement.
    with chronyd(tmp_path, extra="ratelimit interval 3 burst 2 leak 4\n") as port:
        t0 = time.monotonic()
        (m,) = probe([f"ntp://127.0.0.1:{port}"], timeout=4, interval=0)
    assert m.ok and abs(m.offset_s) <= 0.05 and m.samples_kept >= 1
    assert time.monotonic() - t0 < 3       # a lost reply after a good one ends the burst


def test_cli_exit_status_follows_the_contract(chrony_behind, chrony_true, tmp_path):
    behind, true = f"ntp://127.0.0.1:{chrony_behind}", f"ntp://127.0.0.1:{chrony_true}"
    fast = ["--interval", "0", "--timeout", "2"]
    r = run_cli("probe", true, *fast, "--json", "-")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)            # --json - writes only JSON on stdout
    assert {"target", "protocol", "offset_s", "uncertainty_s", "rtt_s", "ok", "error"} <= set(row)
    assert row["target"] == true and row["protocol"] == "ntp" and row["ok"] is True and row["error"] is None

    r = run_cli("probe", true, behind, *fast)
    assert r.returncode == 1, r.stderr
    assert "BEYOND 1 s" in r.stdout and "-18,000.0" in r.stdout and "(-5.00 h)" in r.stdout
    assert run_cli("probe", behind, *fast, "--max-offset", "18001").returncode == 0

    r = run_cli("probe", true, "ntp://127.0.0.1:9", "--timeout", "0.5", "--json", str(tmp_path / "m.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    rows = json.loads((tmp_path / "m.json").read_text())
    assert [x["ok"] for x in rows] == [True, False]
    assert rows[1]["error"] == "no reply from 127.0.0.1:9 (udp)" and rows[1]["offset_s"] is None


def test_inventory_roles_set_the_limit(chrony_behind, chrony_true, tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(f"""
roles:
  lab: {{tolerance_s: 0.000001}}
hosts:
  - name: srv-lyncedge01.domain.com
    roles: [lync-edge]
    probe: ["ntp://127.0.0.1:{chrony_behind}"]
  - name: dc01.domain.com
    roles: [domain-controller, lab]
    probe: ["ntp://127.0.0.1:{chrony_true}"]
""")
    assert [h.tolerance_s for h in Inventory.load(inv).hosts] == [300.0, 0.000001]
    r = run_cli("probe", "--inventory", str(inv), "--max-offset", "100000", "--interval", "0", "--json", "-")
    rows = json.loads(r.stdout)
    # The Edge is five hours off but within --max-offset; dc01 is a microsecond-class
    # "lab" host, so any measurable offset is beyond its own tolerance.
    assert r.returncode == 1, r.stderr
    assert [(x["host"], x["roles"], x["tolerance_s"]) for x in rows] == [
        ("srv-lyncedge01.domain.com", ["lync-edge"], 300.0),
        ("dc01.domain.com", ["domain-controller", "lab"], 0.000001)]
