"""skewsleuth: find the clock that lied.

    >>> import skewsleuth
    >>> verdict = skewsleuth.investigate(["evidence/"], case="case.yml")
    >>> verdict.to_dict()["incidents"][0]["root_causes"][0]["host"]

Data flows one way: sources -> store -> clock -> incident -> rca -> report.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .investigation import InputError, Verdict, investigate

__all__ = ["InputError", "Verdict", "investigate", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The pipeline is imported when first asked for: a worker process that only reads
    # files (skewsleuth.reading.files), and `skewsleuth --version`, need none of it.
    if name in ("InputError", "Verdict", "investigate"):
        from . import investigation

        return getattr(investigation, name)
    raise AttributeError(f"module 'skewsleuth' has no attribute {name!r}")
