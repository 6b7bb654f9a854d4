"""The ``skewsleuth`` command's entry point: Ctrl-C and a closed standard output handled
the same way for every command, then the commands themselves (``commands.py``, typer).

This module imports nothing beyond the standard library: ``skewsleuth --version`` (and
``skewsleuth version``) is answered here, before typer and rich load (~50 ms of the
~120 ms it took), with the same output and exit status as the command gives. Every
other argument list goes to typer, in a process where pandas is not importable
(``without_pandas``).

Ctrl-C is handled from the moment ``main`` starts, while the commands load included:
one line on stderr and status 130.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from typing import Any

from .without_pandas import leave_out_pandas

INTERRUPTED = 130
CLOSED_PIPE = 141      # timeline's: 128 + SIGPIPE, as a Unix tool killed by it


class _Interrupt:
    """Whether SIGINT (Ctrl-C) arrived. What it interrupts may surface as anything: a
    KeyboardInterrupt, DuckDB's "Query interrupted" RuntimeError or INTERRUPT error, a
    worker pool broken under it, a library that caught the KeyboardInterrupt and went
    on. Once it arrived, however the command ends, it ends as interrupted."""

    seen = False
    said = False


def _on_sigint(signum: int, frame: Any) -> None:
    if _Interrupt.seen:
        # Asked again while stopping: stop now (the case database's write-ahead log
        # keeps it consistent).
        _say_interrupted()
        os._exit(INTERRUPTED)
    _Interrupt.seen = True
    raise KeyboardInterrupt


def _say_interrupted() -> None:
    if not _Interrupt.said:
        _Interrupt.said = True
        try:
            os.write(2, b"skewsleuth: interrupted\n")
        except OSError:
            pass


def _exit_interrupted() -> None:
    _say_interrupted()
    _stdout_gone()      # what was written but not flushed goes nowhere, quietly
    raise SystemExit(INTERRUPTED)


def _stdout_gone() -> None:
    """Point standard output at /dev/null, as Python's documentation on SIGPIPE says:
    what is still buffered for a reader that went away is flushed there at exit, not
    into the closed pipe (no "Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _status_of_an_interrupt() -> None:
    """The last thing at exit (registered first): after an interrupt, exit 130. Python
    itself would end the process by SIGINT instead (status -2 to a parent that is not
    a shell) once a KeyboardInterrupt passed through an ``exec`` of a string, as when a
    module defining a dataclass was loading, whatever became of it after."""
    if _Interrupt.seen:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(INTERRUPTED)


# What `--version` (the root option) and the `version` command print; commands.py
# prints these too, for the argument lists this module does not answer itself.
VERSION_LINE = "skewsleuth {}"
VERSION_COMMAND_LINE = "{}"
# The argument lists answered without typer.
_VERSION_LINES = {("--version",): VERSION_LINE, ("version",): VERSION_COMMAND_LINE}


def _answer_version(line: str) -> None:
    """Print the version as click's echo does (one line, flushed) and exit 0; a reader
    that went away, or no stdout at all, is no error, as for the command."""
    from . import __version__

    try:
        if sys.stdout is not None:
            sys.stdout.write(line.format(__version__) + "\n")
            sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()
    sys.exit(0)


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:   # not when started ignoring it (nohup, &)
        signal.signal(signal.SIGINT, _on_sigint)
        atexit.register(_status_of_an_interrupt)
    try:
        version = _VERSION_LINES.get(tuple(sys.argv[1:]))
        if version is not None:
            _answer_version(version)
        leave_out_pandas()
        from .commands import app

        app()
    except SystemExit:
        if _Interrupt.seen:
            _exit_interrupted()
        raise
    except KeyboardInterrupt:
        _exit_interrupted()
    except BrokenPipeError:
        # A reader that went away before any command ran: stop quietly, as Unix tools do.
        _stdout_gone()
        sys.exit(CLOSED_PIPE)
    except Exception as exc:  # noqa: BLE001 - the contract promises one line, not a traceback
        if _Interrupt.seen:
            _exit_interrupted()
        if os.environ.get("SKEWSLEUTH_DEBUG"):
            raise
        from .commands import err

        err.print(f"skewsleuth: internal error: {type(exc).__name__}: {exc} (set SKEWSLEUTH_DEBUG=1 for details)",
                  markup=False, highlight=False)
        sys.exit(2)


def __getattr__(name: str) -> Any:
    # `skewsleuth.cli.app`, where typer's own tools (typer ... utils docs) look for it.
    if name == "app":
        from .commands import app

        return app
    raise AttributeError(f"module 'skewsleuth.cli' has no attribute {name!r}")


if __name__ == "__main__":
    # `python -m skewsleuth.cli` runs this file as __main__: run the module commands.py
    # imports instead, so that both see one _Interrupt.
    from skewsleuth.cli import main as _main

    _main()
