"""Clock facts and segments on the seed: the Edge's boot and its one resync, read from
its own records, cut its log into the segments the model solves."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, strategies as st

from skewsleuth.clock.drift import _rate
from skewsleuth.clock.facts import classify_setter, read_facts
from skewsleuth.clock.segments import order_chain

EDGE, FE = "srv-lyncedge01.domain.com", "srv-lyncfe01.domain.com"
UTC = timezone.utc


@pytest.fixture(scope="module")
def facts(seed_verdict):
    return read_facts(seed_verdict.store)


def test_the_edge_resync_is_read_from_kernel_general_1_with_its_size_and_setter(facts):
    (step,) = [f for f in facts if f.kind == "step"]
    assert (step.host, step.source, step.delta_s) == (EDGE, "Kernel-General 1", 18000.0)
    assert step.before == datetime(2014, 10, 20, 21, 33, 25, tzinfo=UTC)      # 4:33:25 PM CDT, as logged
    assert step.process == "W32Time" and step.setter == "time_service"


def test_the_edge_boot_and_the_shutdown_before_it_are_facts_the_frontend_has_none(facts):
    kinds = {(f.host, f.kind) for f in facts}
    assert {(EDGE, "boot"), (EDGE, "shutdown")} <= kinds
    assert not any(h == FE and k in ("boot", "shutdown", "step") for h, k in kinds)


def test_who_set_the_clock_is_named_from_the_process():
    assert classify_setter(r"C:\Windows\System32\svchost.exe") == "time_service"
    assert classify_setter(None) == "unknown"


def test_the_edge_chain_is_its_boot_then_its_resync(seed_verdict):
    chain = seed_verdict.model.chains[EDGE]
    assert [(b.kind, b.source, b.inferred) for b in chain] == [("boot", "Kernel-General 12", False),
                                                               ("step", "Kernel-General 1", False)]
    assert order_chain(list(reversed(chain))) == chain
    assert seed_verdict.model.chains.get(FE, []) == []


def test_segments_hold_every_event_once(seed_verdict):
    con = seed_verdict.store.con
    events, placed, distinct = con.execute("""
        SELECT (SELECT count(*) FROM events), count(*), count(DISTINCT (file_id, record_no))
        FROM event_segments""").fetchone()
    assert events == placed == distinct


@given(rate=st.floats(-50e-6, 50e-6), c=st.floats(-100, 100), n=st.integers(3, 30))
def test_a_drift_rate_interval_holds_the_true_rate(rate, c, n):
    """Readings of o_b - o_a = c + rate * t bounded from above and below by 1-50 ms
    around it, over eight hours: the feasible rates hold the true one."""
    rng = np.random.default_rng(n)
    ux, lx = np.sort(rng.uniform(0, 8 * 3600e6, n)), np.sort(rng.uniform(0, 8 * 3600e6, n))
    u = c + rate * ux / 1e6 + rng.uniform(0.001, 0.05, n)
    lo = c + rate * lx / 1e6 - rng.uniform(0.001, 0.05, n)
    got = _rate(ux, u, lx, lo)
    assert got is not None and got[0] - 1e-12 <= rate <= got[1] + 1e-12


def test_a_4616_naming_the_process_outweighs_the_account_a_kernel_general_1_was_logged_under():
    """Kernel-General 1 names no process; logged under SYSTEM it is guessed to be a
    service such as VMware Tools. The Security 4616 of the same change names svchost
    (W32Time's host): that is who set the clock, whichever record comes first."""
    from datetime import timedelta

    from skewsleuth.clock.facts import ClockFact, _attribute_kernel_steps

    old = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    new = old + timedelta(hours=-3)
    kernel = ClockFact("dc01", "step", 1, 40, 40, new, "Kernel-General 1", before=old, after=new,
                       delta_s=-10800.0, setter="agent", process="a SYSTEM service (e.g. VMware Tools)")
    audit = ClockFact("dc01", "step", 2, 7, 7, new, "Security 4616", before=old, after=new, delta_s=-10800.0,
                      setter=classify_setter(r"C:\Windows\System32\svchost.exe"),
                      process=r"C:\Windows\System32\svchost.exe")
    _attribute_kernel_steps([kernel, audit])
    assert (kernel.setter, kernel.process) == ("time_service", r"C:\Windows\System32\svchost.exe")
    # an audit that names no process leaves the guess alone
    guess = ClockFact("dc01", "step", 1, 41, 41, new, "Kernel-General 1", before=old, after=new, delta_s=-10800.0,
                      setter="agent", process="a SYSTEM service (e.g. VMware Tools)")
    _attribute_kernel_steps([guess, ClockFact("dc01", "step", 2, 8, 8, new, "Security 4616", before=old,
                                              after=new, delta_s=-10800.0)])
    assert guess.setter == "agent"


def test_every_systemd_timesyncd_wording_of_a_sync_is_a_sync_report(tmp_path):
    # systemd < 241, >= 241 and >= 243 (timesyncd-manager.c; the three strings coreos/
    # mantle's kola test linux.ntp waits for), as rsyslog writes them to /var/log/syslog
    lines = ["2026-11-30T08:00:00.000000+00:00 deb1 systemd-timesyncd[480]: "
             "Synchronized to time server 10.0.0.1:123 (ntp1.corp.test).",
             "2026-11-30T08:10:00.000000+00:00 deb1 systemd-timesyncd[480]: "
             "Synchronized to time server for the first time 10.0.0.1:123 (ntp1.corp.test).",
             "2026-11-30T08:20:00.000000+00:00 deb1 systemd-timesyncd[480]: "
             "Initial synchronization to time server 10.0.0.1:123 (ntp1.corp.test).",
             "2026-11-30T08:30:00.000000+00:00 deb1 systemd-timesyncd[480]: "
             "Timed out waiting for reply from 10.0.0.1:123 (ntp1.corp.test)."]
    syncs = [f for f in _facts_of(tmp_path / "deb1" / "syslog", lines) if f.kind == "sync"]
    assert [f.logged.minute for f in syncs] == [0, 10, 20]


def test_macos_ntpd_on_waking_is_a_step_by_the_time_service(tmp_path):
    # Apple's ntpd in a Mac's system.log (loghub's Mac sample: "ntpd[...]: wake time set
    # -0.855670 s"), beside the older "time reset" wording
    lines = ["Jul  1 09:01:05 calvisitor-10-105-160-95 kernel[0]: Wake reason: EC.LidOpen (User)",
             "Jul  1 09:01:06 calvisitor-10-105-160-95 ntpd[1234]: wake time set -0.855670 s",
             "Jul  1 09:30:00 calvisitor-10-105-160-95 ntpd[1234]: time reset +600.250000 s"]
    steps = [f for f in _facts_of(tmp_path / "mac01" / "system.log", lines) if f.kind == "step"]
    assert [(f.delta_s, f.setter, f.process) for f in steps] == [(-0.85567, "time_service", "ntpd"),
                                                                 (600.25, "time_service", "ntpd")]


def _facts_of(path, lines: list[str]):
    """The clock facts of one log file of ``lines``, its folder the host's."""
    from skewsleuth.case import Case
    from skewsleuth.reading.ingest import ingest
    from skewsleuth.store import Store

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store()
    ingest(store, [path.parent.parent], Case())
    return read_facts(store)
