"""The rich consoles every command prints through: one definition.

On a terminal, text wraps at the terminal's width as usual. Anywhere else (a pipe, a
file: ``rules list > rules.txt``, ``investigate ... | less``) nothing is wrapped or cut
at 80 columns: each table, panel or line is printed as wide as its content, whole, for
``grep`` and ``awk`` to find it on one line.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.protocol import is_renderable

# The most columns a line takes when not on a terminal: beyond it (a log line of a
# megabyte) a line folds onto the next, never cut.
PIPE_WIDTH = 1 << 16


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (``| head``): rich would exit with status 1 here; the
        command decides instead (it exits quietly with the status it had reached)."""
        self.quiet = True
        raise BrokenPipeError("the reader of the output went away")


class _NaturalWidth(_Console):
    """A console that prints each renderable as wide as its content needs: a table
    gets every column whole, a panel is as wide as its longest line (not the
    console's width, which here is only a ceiling)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if objects and kwargs.get("width") is None:
            kwargs["width"] = max(1, min(self.width, self._natural(objects, kwargs)))
        super().print(*objects, **kwargs)

    def _natural(self, objects: tuple, kwargs: dict) -> int:
        widths = []
        for obj in objects:
            if not is_renderable(obj):
                obj = str(obj)
            if isinstance(obj, str):       # as print will render it (markup on or off)
                obj = self.render_str(obj, markup=kwargs.get("markup"), emoji=kwargs.get("emoji"), highlight=False)
            try:
                widths.append(Measurement.get(self, self.options, obj).maximum)
            except Exception:  # noqa: BLE001 - a renderable that cannot say: the ceiling
                return self.width
        return sum(widths) + len(kwargs.get("sep", " ")) * (len(widths) - 1)


def terminal(stderr: bool = False) -> Console:
    """The console to print a command's output on: stdout, or stderr when stdout
    carries something else (``--json -``)."""
    console = _Console(stderr=stderr, highlight=False, soft_wrap=False)
    if console.is_terminal:
        return console
    return _NaturalWidth(stderr=stderr, highlight=False, soft_wrap=False, width=PIPE_WIDTH)
