"""The verdict JSON is unchanged, byte for byte, on the seed, every real EVTX sample
and the synthetic fleets the tests use (tests/golden/verdicts.py builds each case)."""

from __future__ import annotations

import pytest

from golden.verdicts import CASES, path_of, render


@pytest.mark.parametrize("name", list(CASES))
def test_verdict_is_byte_identical_to_the_golden_file(name):
    expected = path_of(name).read_text(encoding="utf-8")
    assert render(name) == expected, f"{name}: rewrite with tests/golden/verdicts.py --write only if meant"
