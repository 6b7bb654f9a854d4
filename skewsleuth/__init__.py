"""skewsleuth: find the clock that lied.

    >>> import skewsleuth
    >>> verdict = skewsleuth.investigate(["evidence/"], case="case.yml")
    >>> verdict.to_dict()["incidents"][0]["root_causes"][0]["host"]

Data flows one way: sources -> store -> normalise -> clock -> rules -> incident -> rca
-> verdict -> report.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import InputError
    from .investigation import investigate
    from .verdict import Verdict

__all__ = ["InputError", "Verdict", "investigate", "__version__"]
__version__ = "0.1.0"

# Where each name of the public API is defined.
_API = {"InputError": "errors", "investigate": "investigation", "Verdict": "verdict"}


def __getattr__(name: str) -> Any:
    # The pipeline is imported when first asked for: a worker process that only reads
    # files (skewsleuth.reading.files), and `skewsleuth --version`, need none of it.
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'skewsleuth' has no attribute {name!r}")
