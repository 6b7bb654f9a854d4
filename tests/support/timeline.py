"""The seed's evidence with a host whose syslog holds hostile messages (timeline tests)."""

from __future__ import annotations

import shutil
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest

from synth.syslog import rfc5424_line


UTC = timezone.utc
HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
           "<script>alert(1)</script>"]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, seed_evidence):
    folder = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("seed") / "ev"))
    web = folder / "web01"
    web.mkdir()
    t0 = datetime(2014, 10, 20, 22, 0, tzinfo=UTC)
    (web / "syslog").write_text("".join(rfc5424_line(t0 + timedelta(seconds=k), "web01", "app", 1, m) + "\n"
                                        for k, m in enumerate(HOSTILE)))
    return folder
