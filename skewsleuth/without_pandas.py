"""pandas left out of skewsleuth's own processes: the command's, and its reader workers'.

pyarrow imports pandas, when it is installed, the first time it builds any array (its
pandas shim asks whether the input is a pandas object): 0.2-0.5 s of CPU in each
process, more than a small investigation's other imports. skewsleuth never hands
pyarrow a pandas object nor asks for one back, and pandas is no dependency of it: in
these processes pandas is said not to be installed, and they run as they do wherever it
is not. The library's API leaves its caller's process alone.

The standard library only: the command's entry point imports this before anything else.
"""

from __future__ import annotations

import sys
from typing import Any


class WithoutPandas:
    """An import finder that says pandas is not installed."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (left out by skewsleuth)", name=name)


def leave_out_pandas() -> None:
    """From now on in this process, importing pandas fails as if it were not installed
    (unless it is imported already)."""
    if "pandas" not in sys.modules and not any(isinstance(f, WithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, WithoutPandas())
