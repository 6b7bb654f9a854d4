"""The examples in docs/usage.md run, in order, and do what the page says."""

from __future__ import annotations

import json
import re

from conftest import ROOT


USAGE = ROOT / "docs" / "usage.md"


def test_case_file_example_is_the_shape_the_code_reads(tmp_path):
    from skewsleuth.case import load_case
    yaml_block = re.findall(r"```yaml\n(.*?)```", USAGE.read_text(), re.S)[0]
    (tmp_path / "case.yml").write_text(yaml_block)
    case = load_case(tmp_path / "case.yml")
    assert case.timezone_name == "America/Chicago" and len(case.changes) == 1 and len(case.observations) == 1
    assert case.observations[0].offset_s == -18000


def _watch_section() -> str:
    text = USAGE.read_text()
    return text[text.index("## Watch clocks on a schedule"):]


def test_watch_metrics_table_is_what_is_served():
    from skewsleuth.watch.metrics import HELP
    rows = dict(re.findall(r"^\| `(skewsleuth_[a-z_]+)(?:\{[a-z,]+\})?` \| (?:gauge|counter) \| (.+?) \|$",
                           _watch_section(), re.M))
    assert rows == HELP


def test_watch_payload_example_has_the_keys_webhooks_get():
    from skewsleuth.probe import Measurement
    from skewsleuth.watch import Alerter
    from skewsleuth.watch.alerts import webhook_payload

    documented = json.loads(re.findall(r"```json\n(.*?)```", _watch_section(), re.S)[0])
    alerter = Alerter()

    def reading(offset: float) -> Measurement:
        return Measurement(target="ntp://srv-lyncedge01.domain.com", protocol="ntp", host="srv-lyncedge01.domain.com",
                           offset_s=offset, uncertainty_s=6.1e-5, rtt_s=1.2e-4, ok=True,
                           measured_at="2014-10-20T21:31:00.123Z", tolerance_s=300.0)
    alerter.evaluate([reading(0.002)])
    real = webhook_payload([a for a in alerter.evaluate([reading(-18000.0)]) if a.kind == "jump"],
                           external_url="http://127.0.0.1:9393/metrics")

    def same_keys(doc, actual, path="$"):
        if isinstance(doc, dict):
            assert isinstance(actual, dict) and set(doc) == set(actual), (path, set(doc) ^ set(actual))
            for k in doc:
                same_keys(doc[k], actual[k], f"{path}.{k}")
        elif isinstance(doc, list) and doc:
            assert isinstance(actual, list) and actual, path
            same_keys(doc[0], actual[0], f"{path}[0]")
    same_keys(documented, real)
    assert documented["commonLabels"] == real["commonLabels"]


def test_watch_history_schema_is_the_one_written(tmp_path):
    import duckdb

    from skewsleuth.watch import History

    sql = re.findall(r"```sql\n(.*?)```", _watch_section(), re.S)[0]
    History(tmp_path / "real.duckdb").create()
    documented, real = duckdb.connect(), duckdb.connect(str(tmp_path / "real.duckdb"), read_only=True)
    documented.execute(sql)
    for table in ("measurements", "alerts"):
        assert documented.execute(f"DESCRIBE {table}").fetchall() == real.execute(f"DESCRIBE {table}").fetchall()


def test_the_misspelt_key_example_is_what_the_case_file_reader_says(tmp_path, monkeypatch):
    from pathlib import Path

    import pytest

    from skewsleuth.case import load_case
    from skewsleuth.errors import CaseKeyError

    shown = re.search(r"\$ skewsleuth investigate seed/ --case case.yml\n(skewsleuth: .*)\n", USAGE.read_text())
    monkeypatch.chdir(tmp_path)
    Path("case.yml").write_text("timezone: UTC\nrefrences: [srv-lyncfe01.domain.com]\n")
    with pytest.raises(CaseKeyError) as refused:
        load_case(Path("case.yml"))
    assert shown and shown.group(1) == f"skewsleuth: {refused.value}"
