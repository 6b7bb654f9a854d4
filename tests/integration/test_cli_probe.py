"""probe's arguments and inventory: every mistake is exit 2 with one line on stderr: the
part that runs the command line, a real daemon or another process (the rest is in
tests/unit/probe/test_inventory.py).
"""

from __future__ import annotations

import pytest

from conftest import one_line_error, run_cli


def _one_line_exit_2(*args: str, cwd=None) -> str:
    return one_line_error("probe", *args, cwd=cwd)


def test_bad_arguments_are_one_line_exit_2(tmp_path):
    assert "unknown protocol 'ftp'" in _one_line_exit_2("ftp://x")
    assert "needs a scheme" in _one_line_exit_2("dc01.domain.com")
    assert "port out of range" in _one_line_exit_2("ntp://x:99999")
    assert "at least one TARGET" in _one_line_exit_2()
    assert "--timeout must be > 0" in _one_line_exit_2("ntp://127.0.0.1", "--timeout", "0")
    assert "does not exist" in _one_line_exit_2("ntp://127.0.0.1", "--json", str(tmp_path / "no" / "m.json"))
    bad = tmp_path / "hosts.yml"
    bad.write_text("hosts:\n  - name: dc01\n    roles: [kerberos-kdc, wizard]\n")
    assert "hosts[0] (dc01): unknown role 'wizard'" in _one_line_exit_2("--inventory", str(bad))
    assert "cannot read inventory" in _one_line_exit_2("--inventory", str(tmp_path / "none.yml"))
    bad.write_text("hosts: []\n")
    assert "lists no hosts" in _one_line_exit_2("--inventory", str(bad))


def test_help_has_examples_and_exit_statuses():
    r = run_cli("probe", "--help")
    assert r.returncode == 0
    assert "skewsleuth probe ntp://" in r.stdout and "--inventory hosts.yml" in r.stdout
    assert "Exit status: 0" in r.stdout and "2 some could not be measured" in r.stdout


def test_missing_real_component_fails_in_ci(monkeypatch):
    import support.probe_helpers as probe_helpers
    monkeypatch.setattr(probe_helpers, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="no-such-daemon not installed"):
        probe_helpers.need("no-such-daemon")
