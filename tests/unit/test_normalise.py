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
