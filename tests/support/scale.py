"""The seed's evidence with every real EVTX sample as a third host (reading tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skewsleuth import investigate
from skewsleuth.report.json import write_json


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, evtx_dir, seed_evidence):
    """The seed incident's text evidence plus the real EVTX samples (damaged ones
    included) as a third host: every reader, and quarantined records, in one case."""
    folder = Path(shutil.copytree(seed_evidence, tmp_path_factory.mktemp("scale") / "ev"))
    shutil.copytree(evtx_dir, folder / "win01")
    return folder


def _json(verdict, path) -> bytes:
    write_json(verdict.to_dict(), str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def inline_json(evidence, tmp_path_factory):
    return _json(investigate([evidence], workers=1), tmp_path_factory.mktemp("j") / "inline.json")
