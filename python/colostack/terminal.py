"""Where command output goes: prose wrapped to the terminal, progress bars on a terminal only.

stdout may carry a table or JSON that a script reads, and under systemd it is the journal: a bar
there would corrupt it, and a line wrapped there would become two journal entries.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def stdout_console() -> Console:
    """Wraps at the terminal's width (or COLUMNS); a pipe or the journal gets whole lines."""
    console = Console(highlight=False)
    console.soft_wrap = not (console.is_terminal or "COLUMNS" in os.environ)
    return console


def stderr_progress(console: Console | None = None) -> Progress:
    """A transient bar on stderr; disabled (draws nothing) when stderr is not a terminal."""
    console = console or Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)
