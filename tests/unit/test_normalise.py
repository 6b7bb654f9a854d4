"""Normalisation: every spelling of a host becomes its one name."""

from __future__ import annotations

import json

import skewsleuth


def test_every_spelling_of_a_host_becomes_its_one_name(tmp_path):
    """Upper case, a trailing dot, a tab, a short name: one host, as the case file and the
    rules' suspects spell it (the same function makes every name)."""
    ev = tmp_path / "ev"
    (ev / "a").mkdir(parents=True)
    (ev / "b").mkdir()
    lines = [{"__REALTIME_TIMESTAMP": str(1_700_000_000_000_000 + k), "MESSAGE": f"m{k}",
              "SYSLOG_IDENTIFIER": "app", "_HOSTNAME": name}
             for k, name in enumerate(["Web01.Example.COM.", "web01.example.com\t", "WEB01", "db02"])]
    (ev / "a" / "journal.json").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    (ev / "b" / "messages").write_text("<34>Nov 14 22:13:20 Web01 app[1]: hello\n", encoding="utf-8")
    verdict = skewsleuth.investigate([ev])
    hosts = sorted(h for (h,) in verdict.store.con.execute("SELECT DISTINCT host FROM events").fetchall())
    assert hosts == ["db02", "web01.example.com"]


def test_the_names_a_case_file_gives_a_host_join_its_records(tmp_path):
    """A Mac's syslog names it by whatever DHCP called it that day: the case file's
    hosts: lists those names beside its address, and they become one host. An address
    there stays an address: records never take a peer's name for it."""
    ev = tmp_path / "ev"
    (ev / "mac01").mkdir(parents=True)
    names = ["calvisitor-10-105-160-95", "authorMacBook-Pro", "Johns-MBP.local", "mac01"]
    (ev / "mac01" / "system.log").write_text("".join(
        f"Jul  1 09:0{k}:06 {n} ntpd[1234]: wake time set -0.85567{k} s\n" for k, n in enumerate(names)))
    (ev / "case.yml").write_text("hosts:\n  mac01: [10.105.160.95, calvisitor-10-105-160-95, authormacbook-pro, "
                                 "Johns-MBP.local]\n")
    verdict = skewsleuth.investigate([ev])
    hosts = sorted(h for (h,) in verdict.store.con.execute("SELECT DISTINCT host FROM events").fetchall())
    assert hosts == ["mac01"]
