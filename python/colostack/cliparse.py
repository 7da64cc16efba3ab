"""The argument parser and the error boundary every colostack entry point shares.

The parser reports a bad invocation in one line (argparse prints the whole usage). The
boundary turns any exception into one line and exit 2; --debug adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from colostack.errors import EXIT_USER_ERROR, describe, one_line


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, and whose every subcommand takes --debug."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand's absent --debug must not reset one given before it.
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="on an error, print the Python traceback too")
        self.set_defaults(command_prog=self.prog)  # the innermost subcommand's wins

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {one_line(message)}\n")


def run_guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; an exception is one line on stderr and exit 2 (never Python's 1)."""
    prog = str(getattr(args, "command_prog", "colostack"))
    try:
        return func(args)
    except Exception as exc:  # the boundary: every error becomes one line
        if getattr(args, "debug", False):
            traceback.print_exc()
        message = describe(exc)
        if message is None:
            message = one_line(f"internal error: {type(exc).__name__}: {exc} "
                               "(rerun with --debug for the traceback)")
        print(f"{prog}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
