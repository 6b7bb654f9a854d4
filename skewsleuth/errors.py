"""Every exception skewsleuth raises on purpose, in one tree.

Each carries a one-line reason meant for the person who ran skewsleuth. The root
catches them all; each class also keeps the standard base it has always had (in
brackets), so that code catching ``ValueError`` still catches what it did::

    SkewsleuthError
    │   the investigation (offline)
    ├── InputError                 unusable input or arguments: the CLI exits with status 2
    │   └── NothingRead            no record of the evidence could be read (each file and why)
    ├── CaseError [ValueError]     a case file that cannot be used
    │   └── CaseKeyError           a case file with a key it does not define (a misspelling)
    ├── RuleError [ValueError]     a rule or rule folder that cannot be loaded
    │   └── RuleInexpressible      a valid Sigma rule the matcher cannot express: skipped
    ├── StoreError                 the case database cannot be set up as asked
    ├── SchedulerError             the Dask scheduler cannot be used
    ├── UnusableFile               nothing in one evidence file can be read
    ├── WorkerDied                 the process reading one file died
    │   probe (online)
    ├── TargetError [ValueError]   a target that cannot be probed as written
    ├── InventoryError [ValueError] an inventory that cannot be used as written
    ├── ReplyError [ValueError]    an NTP reply that must not be used
    ├── ReadingError               an HTTP Date or SMTP banner reading that failed
    │   watch (online)
    ├── WatchError [ValueError]    a watch that cannot start as asked
    ├── HistoryError [RuntimeError] the watch history cannot be opened, written or read
    │   fix (online)
    ├── FixHistoryError [ValueError] the history ``fix --history`` plans from cannot be read
    ├── Unreachable                a fix transport could not connect or log in
    └── MissingPywinrm             pywinrm is not installed

``investigate()`` raises InputError for all that makes a run impossible: it turns a
CaseError of the ``--case`` file, a RuleError, a StoreError and a SchedulerError into
one. A CaseError of a case file found among the evidence and an UnusableFile fail
that file only, and the run goes on; a CaseKeyError (a misspelt key, whose entries
would be lost silently) makes the run impossible wherever the case file was found. A
WorkerDied is yielded in place of its file's result, not raised. HistoryError and
FixHistoryError stay two classes: watch (which writes the history) and fix (which
only reads it) each read it their own way, and their standard bases differ.
"""

from __future__ import annotations


class SkewsleuthError(Exception):
    """The root: every exception skewsleuth raises on purpose."""


# The investigation


class InputError(SkewsleuthError):
    """Unusable input or arguments (exit status 2)."""


class NothingRead(InputError):
    """No record of the evidence could be read. ``unread`` holds (path, why) for every
    file, in the order they were found. The message is one line: the reasons of the
    first files (at most ``SHOWN``), each with the files it applies to (at most
    ``SHOWN``), then how many files more; ``why`` when there was no file to name."""

    SHOWN = 3

    def __init__(self, unread: list[tuple[str, str]], why: str = "") -> None:
        self.unread = list(unread)
        # The reasons of the first few files, each with (the first few of) its files.
        shown: dict[str, list[str]] = {}
        for path, reason in self.unread:
            reason = _one_line(reason)
            if reason in shown or len(shown) < self.SHOWN:
                named = shown.setdefault(reason, [])
                if len(named) < self.SHOWN:
                    named.append(_one_line(path))
        parts = [f"{', '.join(paths)}: {reason}" for reason, paths in shown.items()]
        more = len(self.unread) - sum(len(paths) for paths in shown.values())
        if more > 0:
            parts.append(f"and {more:,} more")
        detail = "; ".join(parts) or why
        super().__init__("nothing could be read from the input" + (f": {detail}" if detail else ""))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class CaseError(SkewsleuthError, ValueError):
    """The case file cannot be used at all."""


class CaseKeyError(CaseError):
    """A key the case file does not define, at any level (``refrences:``): refused,
    with the nearest known key, never ignored: what it holds would be lost."""


class RuleError(SkewsleuthError, ValueError):
    """A rule or rule folder that cannot be loaded, with the file and the reason."""


class RuleInexpressible(RuleError):
    """A valid Sigma rule using what skewsleuth cannot express in SQL (an aggregation,
    a placeholder): a rule folder skips it with the reason rather than failing."""


class StoreError(SkewsleuthError):
    """The case database cannot be set up as asked (one-line reason)."""


class SchedulerError(SkewsleuthError):
    """The Dask scheduler cannot be used (not installed, not reachable)."""


class UnusableFile(SkewsleuthError):
    """Nothing in the file can be read (empty, not the format it claimed, unreadable)."""


class WorkerDied(SkewsleuthError):
    """The worker process reading this task died (a crash in a parser, the kernel's
    out-of-memory killer): yielded in the task's place, so the rest go on."""


# probe


class TargetError(SkewsleuthError, ValueError):
    """A target that cannot be probed as written (bad scheme, port or host)."""


class InventoryError(SkewsleuthError, ValueError):
    """An inventory that cannot be used as written, with a one-line reason."""


class ReplyError(SkewsleuthError, ValueError):
    """A reply that must not be used, with the reason. ``genuine`` when it answers our
    request (its origin matches): the server's own word, final for that request; a
    reply that is not genuine is ignored and the real one still awaited. ``kiss`` is
    the kiss-o'-death code when the server sent one."""

    def __init__(self, message: str, *, genuine: bool = True, kiss: str | None = None):
        super().__init__(message)
        self.genuine, self.kiss = genuine, kiss


class ReadingError(SkewsleuthError):
    """A clock reading that failed, with a one-line reason."""


# watch


class WatchError(SkewsleuthError, ValueError):
    """A watch that cannot start as asked (address in use, history unwritable), one line."""


class HistoryError(SkewsleuthError, RuntimeError):
    """The history file cannot be opened or written, with a one-line reason."""


# fix


class FixHistoryError(SkewsleuthError, ValueError):
    """A history file that cannot be read (one line)."""


class Unreachable(SkewsleuthError):
    """The transport could not connect or log in (one line)."""


class MissingPywinrm(SkewsleuthError):
    """pywinrm is not installed (one line saying how to install it)."""
