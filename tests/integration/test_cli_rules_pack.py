"""The rule pack: every rule passes its own examples, loads and converts with pySigma (as
sigma-cli would), and the rules commands keep their contract: the part that runs the
command line, a real daemon or another process (the rest is in
tests/unit/rules/test_pack.py).
"""

from __future__ import annotations

import json


from conftest import one_line_error, run_cli
from skewsleuth.rules import load_rules


PACK = load_rules()


def test_rules_commands(tmp_path):
    r = run_cli("rules", "list", "--json", "-")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == len(PACK) and {"signature", "protocol", "tolerance_s", "clocks"} <= set(rows[0])
    r = run_cli("rules", "test")
    assert r.returncode == 0 and f"{len(PACK)} of {len(PACK)} rules pass" in r.stdout, r.stdout + r.stderr
    r = run_cli("rules", "export", "--sigma", "--out", str(tmp_path / "out"))
    assert r.returncode == 0 and len(list((tmp_path / "out").glob("*.yml"))) == len(PACK)
    r = run_cli("rules", "export", "--sigma")
    assert r.returncode == 0 and r.stdout.count("\n---\n") == len(PACK) - 1
    # a user's folder: a failing example fails `rules test` (exit 1) and names the rule
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "skew.yml").write_text(
        "title: My app clock skew\nid: my-1\nlogsource: {product: myapp}\n"
        "detection:\n  s: {Message|contains: 'token from the future'}\n  condition: s\n"
        "skewsleuth: {signature: MYAPP_SKEW, protocol: myapp, tolerance_s: 60,\n"
        "  tests: {source: made up, match: ['a token from the past']}}\n")
    r = run_cli("rules", "test", "--rules", str(mine), "--no-builtin")
    assert r.returncode == 1 and "FAIL  MYAPP_SKEW" in r.stdout and "did not match" in r.stdout, r.stdout
    listed = run_cli("rules", "list", "--rules", str(mine)).stdout
    assert "MYAPP_SKEW" in listed
    # tolerances as people write them, whole: Ceph's 0.05 s, Kerberos's 300 s, MongoDB's year
    assert all(t in listed for t in ("0.05 s", "300 s", "365 d")), listed
    assert "does not exist" in one_line_error("rules", "test", "--rules", str(tmp_path / "out" / "nope"))
    assert "--sigma" in one_line_error("rules", "export")
    assert "--rules" in one_line_error("rules", "list", "--no-builtin")
