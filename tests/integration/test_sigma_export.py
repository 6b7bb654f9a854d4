"""``rules export --sigma`` as SigmaHQ's own tools read it: sigma-cli converts every rule
with the Windows pipelines, the provider landing where Winlogbeat / Splunk keep it, and
the export loads back into skewsleuth with the same examples passing."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

from support.probe_helpers import need

from skewsleuth.rules import load_rules
from skewsleuth.rules.testing import test_rules

PIPELINE = str(resources.files("skewsleuth.rules") / "sigma-pipeline.yml")


def _export(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / ("sigma" + "".join(extra))
    r = subprocess.run([sys.executable, "-m", "skewsleuth.cli", "rules", "export", "--sigma", "--out", str(out), *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_export_is_in_sigmahq_layout_and_loads_back(tmp_path):
    out = _export(tmp_path)
    text = (out / "lync_edge_14619.yml").read_text()
    assert "Provider_Name|startswith: LS" in text and "\n    selection:\n        EventID: 14619" in text
    assert "status: experimental" in text and "tags:\n    - detection.dfir" in text and "falsepositives:" in text
    assert "skewsleuth:" not in text                       # SigmaHQ's validators refuse custom attributes
    kept = _export(tmp_path, "--keep-skewsleuth")
    assert "Provider:" not in "".join(p.read_text() for p in kept.glob("*.yml"))
    back = test_rules(load_rules([kept], builtin=False))
    assert len(back) == 24 and all(r.passed for r in back), [r.problems for r in back if not r.passed]


def test_sigma_cli_checks_and_converts_the_export_with_the_provider_in_the_pipelines_field(tmp_path):
    need("sigma")
    out = _export(tmp_path)
    # SigmaHQ's validators, but those that download SigmaHQ's taxonomy (not reachable offline)
    offline = [a for v in ("sigmahq_category_event_id", "sigmahq_category_windows_provider_name",
                           "sigmahq_fieldname_cast", "sigmahq_filename_prefix", "sigmahq_invalid_fieldname",
                           "sigmahq_logsource_unknown", "sigmahq_redundant_field", "attacktag", "d3_fendtag")
               for a in ("--exclude", v)]
    check = subprocess.run(["sigma", "check", "--fail-on-issues", *offline, str(out)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0 and "No validation issues found." in check.stdout, check.stdout[-2000:] + check.stderr[-2000:]
    rule = str(out / "windows_kerberos_0x25.yml")
    ecs = subprocess.run(["sigma", "convert", "-t", "lucene", "-p", "ecs_windows", rule],
                         capture_output=True, text=True, cwd=tmp_path)
    assert ecs.returncode == 0, ecs.stderr
    assert "winlog.provider_name:Microsoft\\-Windows\\-Security\\-Auditing" in ecs.stdout
    assert "winlog.event_data.Provider" not in ecs.stdout
    spl = subprocess.run(["sigma", "convert", "-t", "splunk", "-p", "splunk_windows", rule],
                         capture_output=True, text=True, cwd=tmp_path)
    assert spl.returncode == 0 and 'Provider_Name="Microsoft-Windows-Security-Auditing"' in spl.stdout, spl.stderr
    lync = subprocess.run(["sigma", "convert", "-t", "lucene", "-p", "ecs_windows", "-p", PIPELINE,
                           str(out / "lync_edge_14619.yml")], capture_output=True, text=True, cwd=tmp_path)
    assert 'winlog.channel:"Lync Server"' in lync.stdout and "winlog.provider_name:LS*" in lync.stdout, lync.stderr
    every = subprocess.run(["sigma", "convert", "-t", "splunk", "-p", "splunk_windows", "-p", PIPELINE, str(out)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert every.returncode == 0, every.stderr


def test_sigmahq_folder_loads_with_the_inexpressible_rule_skipped(tmp_path):
    folder = Path(__file__).parents[1] / "data" / "sigmahq"
    r = subprocess.run([sys.executable, "-m", "skewsleuth.cli", "rules", "list", "--rules", str(folder), "--no-builtin"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: rule skipped:") == 1 and "correlation_win_security" in r.stderr
