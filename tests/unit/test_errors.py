"""One exception hierarchy: every exception class of the package is defined in
skewsleuth/errors.py and derives from SkewsleuthError, keeping its standard base."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Iterator

import skewsleuth
from skewsleuth import errors
from skewsleuth.errors import SkewsleuthError

# __main__ runs the CLI when imported; the test-data generators are leaving the package.
SKIP = ("skewsleuth.__main__",)


def _modules() -> Iterator[ModuleType]:
    yield skewsleuth
    todo = [(list(skewsleuth.__path__), "skewsleuth.")]
    while todo:
        path, prefix = todo.pop()
        for info in pkgutil.iter_modules(path, prefix):
            if info.name in SKIP:
                continue
            module = importlib.import_module(info.name)
            yield module
            if info.ispkg:
                todo.append((list(module.__path__), info.name + "."))


def _exceptions_defined_in(module: ModuleType) -> list[type[BaseException]]:
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__]


def test_every_exception_class_is_defined_in_errors_and_derives_from_the_root():
    modules = list(_modules())
    names = {m.__name__ for m in modules}
    # The walk reached the whole package (a broken walk must not pass for a clean one).
    assert {"skewsleuth.errors", "skewsleuth.rca", "skewsleuth.probe.ntp", "skewsleuth.fix.winrm",
            "skewsleuth.watch.history", "skewsleuth.sources.base", "skewsleuth.remediation.runbook"} <= names
    assert not any(n == s or n.startswith(s + ".") for n in names for s in SKIP)
    elsewhere = [f"{m.__name__}.{cls.__name__}" for m in modules if m is not errors
                 for cls in _exceptions_defined_in(m)]
    assert elsewhere == [], "define these in skewsleuth/errors.py"
    defined = _exceptions_defined_in(errors)
    assert len(defined) >= 17
    assert [c.__name__ for c in defined if not issubclass(c, SkewsleuthError)] == []


def test_each_class_keeps_the_standard_base_its_callers_catch():
    # `except ValueError` around case, rule, target and inventory parsing, and the
    # watch's `except HistoryError` next to RuntimeError, rely on these.
    bases = {"CaseError": ValueError, "RuleError": ValueError, "TargetError": ValueError,
             "InventoryError": ValueError, "ReplyError": ValueError, "WatchError": ValueError,
             "FixHistoryError": ValueError, "HistoryError": RuntimeError}
    for name, base in bases.items():
        assert issubclass(getattr(errors, name), base), name
    plain = ["InputError", "StoreError", "SchedulerError", "WorkerDied", "UnusableFile", "ReadingError",
             "Unreachable", "MissingPywinrm"]
    for name in plain:
        assert getattr(errors, name).__mro__[1:] == (SkewsleuthError, Exception, BaseException, object), name


def test_the_tree_in_the_docstring_names_every_class():
    for cls in _exceptions_defined_in(errors):
        assert f" {cls.__name__}" in errors.__doc__, cls.__name__


def test_the_public_exports_are_the_same_classes():
    from skewsleuth import fix, probe, watch

    assert skewsleuth.InputError is errors.InputError
    assert probe.InventoryError is errors.InventoryError and probe.TargetError is errors.TargetError
    assert watch.HistoryError is errors.HistoryError and watch.WatchError is errors.WatchError
    assert fix.Unreachable is errors.Unreachable
