"""skewsleuth: find the clock that lied.

    >>> import skewsleuth
    >>> verdict = skewsleuth.investigate(["evidence/"], case="case.yml")
    >>> verdict.to_dict()["incidents"][0]["root_causes"][0]["host"]

Data flows one way: sources -> store -> clock -> incident -> rca -> report.
"""

from .investigation import InputError, Verdict, investigate

__all__ = ["InputError", "Verdict", "investigate", "__version__"]
__version__ = "0.1.0"
