"""Runbook content per platform, role and offset; the inventory's fix: key; the WinRM guard
and session construction (no Windows host here: see test names): the part that runs the
command line, a real daemon or another process (the rest is in
tests/unit/remediation/test_runbook.py).
"""

from __future__ import annotations


from conftest import run_cli


def test_fix_cli_bad_input_is_one_line_exit_2(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("hosts:\n  - name: web01\n    probe: ['ntp://127.0.0.1:9']\n")
    for args, says in [(["nope", "-i", str(inv)], "host 'nope' is not in inventory"),
                       (["web01", "-i", str(inv), "--yes"], "--yes only goes with --apply"),
                       (["web01", "-i", str(inv), "--history", str(tmp_path / "none.duckdb")], "no such file"),
                       (["web01", "-i", str(inv), "--timeout", "0.3", "--apply", "--yes"], "refusing to apply: the "
                        "inventory gives web01 no platform")]:
        r = run_cli("fix", *args, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert says in r.stderr.strip().splitlines()[-1], (args, r.stderr)
    assert not (tmp_path / "skewsleuth-audit.jsonl").exists()


def test_fix_help_has_examples_and_exit_statuses():
    r = run_cli("fix", "--help")
    assert r.returncode == 0 and "skewsleuth fix srv-lyncedge01 --inventory hosts.yml" in r.stdout
    assert "Exit status: 0" in r.stdout and "refused" in r.stdout
