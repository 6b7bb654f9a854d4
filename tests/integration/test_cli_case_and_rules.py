"""The case file's times and the rule pack's own examples: the part that runs the command
line, a real daemon or another process (the rest is in
tests/unit/test_case_and_rules.py).
"""

from __future__ import annotations


import pytest

from skewsleuth.rules import RuleError, load_rules


def test_a_rules_folder_with_no_rules_is_an_error_on_the_command_line(tmp_path):
    from conftest import run_cli

    (tmp_path / "empty").mkdir()
    with pytest.raises(RuleError, match="holds no"):
        load_rules([tmp_path / "empty"])
    r = run_cli("demo", "--out", str(tmp_path / "d"), "-q")
    assert r.returncode == 0, r.stderr
    r = run_cli("investigate", str(tmp_path / "d"), "--rules", str(tmp_path / "empty"), "-q")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "holds no" in r.stderr, r.stderr
