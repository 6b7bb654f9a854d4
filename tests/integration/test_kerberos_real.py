"""A real MIT KDC on 127.0.0.1 and a client whose clock is ten minutes ahead (faketime):
the investigation names the client, by the address the KDC logs it by, as skewed
beyond Kerberos' 300 s, by about +600 s where the client's own trace pairs its
requests with the KDC's records, and rules out the red-herring change."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli
from support.probe_helpers import faked, free_port, need, running

import skewsleuth

REALM = "EXAMPLE.TEST"
CLIENT = "client01.corp"


@pytest.fixture(scope="module")
def kerberos(tmp_path_factory) -> dict:
    """Run a KDC, a skewed kinit (three tries, traced) and a right one; keep the logs."""
    need("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "faketime")
    tmp = tmp_path_factory.mktemp("krb5")
    port = free_port()
    (tmp / "krb5.conf").write_text(
        f"[libdefaults]\n  default_realm = {REALM}\n  kdc_timesync = 0\n  dns_lookup_kdc = false\n"
        f"  dns_lookup_realm = false\n  rdns = false\n"
        f"[realms]\n  {REALM} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n")
    (tmp / "kdc.conf").write_text(
        f"[kdcdefaults]\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n"
        f"[realms]\n  {REALM} = {{\n    database_name = {tmp}/principal\n    key_stash_file = {tmp}/stash\n"
        f"    acl_file = {tmp}/kadm5.acl\n    kdc_listen = 127.0.0.1:{port}\n    kdc_tcp_listen = 127.0.0.1:{port}\n  }}\n"
        f"[logging]\n  kdc = FILE:{tmp}/kdc.log\n")
    env = dict(os.environ, KRB5_CONFIG=str(tmp / "krb5.conf"), KRB5_KDC_PROFILE=str(tmp / "kdc.conf"), TZ="UTC")
    run = lambda *cmd, **kw: subprocess.run(cmd, env=kw.pop("env", env), capture_output=True, text=True,  # noqa: E731
                                            timeout=60, **kw)
    r = run("kdb5_util", "create", "-s", "-r", REALM, "-P", "master-pw")
    assert r.returncode == 0, r.stderr
    r = run("kadmin.local", "-r", REALM, "-q", "addprinc -pw alice-pw +requires_preauth alice")
    assert r.returncode == 0 and "created" in r.stdout + r.stderr, r.stdout + r.stderr
    trace = tmp / "trace.log"
    started = datetime.now(timezone.utc)
    with running(["krb5kdc", "-n", "-r", REALM], tmp / "krb5kdc.out",
                 lambda: (tmp / "kdc.log").exists() and "commencing operation" in (tmp / "kdc.log").read_text(),
                 env=env):
        for i in range(3):
            r = run(*faked("+10m", ["kinit", "alice"]), input="alice-pw\n",
                    env=dict(env, KRB5_TRACE=str(trace), KRB5CCNAME=f"FILE:{tmp}/cc-skewed"))
            assert r.returncode != 0 and "Clock skew too great" in r.stderr, r.stderr
        r = run("kinit", "alice", input="alice-pw\n", env=dict(env, KRB5CCNAME=f"FILE:{tmp}/cc-right"))
        assert r.returncode == 0, r.stderr
    kdc_log = (tmp / "kdc.log").read_text()
    assert "PREAUTH_FAILED" in kdc_log and "Clock skew too great" in kdc_log, kdc_log
    return {"kdc_log": kdc_log, "trace": trace.read_text(), "kdc_host": socket.gethostname().lower(),
            "started": started}


def _evidence(root: Path, k: dict, *, with_trace: bool) -> Path:
    (root / k["kdc_host"]).mkdir(parents=True)
    (root / k["kdc_host"] / "krb5kdc.log").write_text(k["kdc_log"])
    if with_trace:
        (root / CLIENT).mkdir()
        (root / CLIENT / "krb5_trace.log").write_text(k["trace"])
    herring = (k["started"] - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M")
    (root / "case.yml").write_text(
        f"timezone: UTC\nreferences: [{k['kdc_host']}]\nhosts:\n  {CLIENT}: [127.0.0.1]\n"
        f"changes:\n  - at: {herring}\n    host: {k['kdc_host']}\n    what: Password policy raised to 14 characters\n")
    return root / "case.yml"


def _incident(verdict: dict) -> dict:
    skew = [i for i in verdict["incidents"] if "KRB_AP_ERR_SKEW" in i["signatures"]]
    assert len(skew) == 1, verdict["incidents"]
    return skew[0]


def _herring_ruled_out(inc: dict) -> None:
    out = [r for r in inc["ruled_out"] if r["kind"] == "change"]
    assert len(out) == 1 and "Password policy" in out[0]["what"] and "no mechanism" in out[0]["reason"], out
    assert all(c["kind"] != "change" for c in inc["root_causes"])


def test_the_kdc_log_alone_names_the_client_by_its_address_beyond_300_s(kerberos, tmp_path):
    case = _evidence(tmp_path / "ev", kerberos, with_trace=False)
    v = skewsleuth.investigate([tmp_path / "ev"], case=case).to_dict()
    inc = _incident(v)
    top = inc["root_causes"][0]
    assert top["kind"] == "clock_skew" and top["host"] == CLIENT, inc["root_causes"]
    assert top["offset_s"] is None and top["beyond_s"] == 300 and inc["tolerance_s"] == 300
    assert any("127.0.0.1" not in e and CLIENT in e for e in top["evidence"])
    _herring_ruled_out(inc)


def test_the_clients_trace_pairs_its_requests_with_the_kdc_and_gives_plus_600_s(kerberos, tmp_path):
    case = _evidence(tmp_path / "ev", kerberos, with_trace=True)
    out = tmp_path / "verdict.json"
    r = run_cli("investigate", str(tmp_path / "ev"), "--case", str(case), "--json", str(out))
    assert r.returncode == 0, r.stderr
    v = json.loads(out.read_text())
    inc = _incident(v)
    top = inc["root_causes"][0]
    assert top["kind"] == "clock_skew" and top["host"] == CLIENT, inc["root_causes"]
    # the KDC logs whole seconds: the pairs bound the offset to about a second
    assert 598 <= top["offset_s"] <= 602 and top["offset_low_s"] >= 597 and top["offset_high_s"] <= 603, top
    client = next(h for h in v["hosts"] if h["host"] == CLIENT)
    assert any("pairs" in s["basis"] for s in client["segments"]), client
    assert any("Kerberos" in e for e in top["evidence"]), top["evidence"]
    _herring_ruled_out(inc)
    assert CLIENT in r.stdout and "Password policy" in r.stdout
