"""The Prometheus rules shipped in the package, checked and unit-tested by Prometheus's
own promtool (Debian's prometheus package) over the series watch exports, with known
outcomes (tests/data/prometheus/rules-test.yml)."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from conftest import ROOT, run_cli
from support.probe_helpers import need

RULES_TEST = ROOT / "tests" / "data" / "prometheus" / "rules-test.yml"


def test_shipped_rules_pass_promtool_check_and_their_unit_tests(tmp_path):
    need("promtool")
    r = run_cli("watch", "--print", "prometheus-rules")
    assert r.returncode == 0, r.stderr
    rules = tmp_path / "prometheus-rules.yml"
    rules.write_text(r.stdout)
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS: 8 rules found" in check.stdout, check.stdout + check.stderr
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    test = subprocess.run(["promtool", "test", "rules", RULES_TEST.name], cwd=tmp_path, capture_output=True, text=True)
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr
    # every alert has a severity and a summary; every one shipped is unit-tested
    doc = yaml.safe_load(r.stdout)
    alerts = [rule for g in doc["groups"] for rule in g["rules"] if "alert" in rule]
    assert all(a["labels"]["severity"] in ("critical", "warning") and a["annotations"]["summary"] for a in alerts)
    tested = {t["alertname"] for t in yaml.safe_load(RULES_TEST.read_text())["tests"][0]["alert_rule_test"]}
    assert tested == {a["alert"] for a in alerts}
    # a rule that no longer fires as tested fails the unit tests
    (tmp_path / "prometheus-rules.yml").write_text(r.stdout.replace("> 1\n", "> 100000\n"))
    broken = subprocess.run(["promtool", "test", "rules", RULES_TEST.name], cwd=tmp_path, capture_output=True, text=True)
    assert broken.returncode != 0 and "ClockJump" in broken.stdout + broken.stderr
