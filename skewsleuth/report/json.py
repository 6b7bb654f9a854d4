"""The verdict and probe measurements as JSON: the contract users script against (see BRIEF)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_json(data: dict | list, target: str | Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(target).write_text(text, encoding="utf-8")
