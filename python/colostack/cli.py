"""Command-line entry point: builds the parser from each command module, runs one command.

Exit codes: 0 success, 2 an error the message names (--debug shows its traceback); each command
documents its others in its own --help.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from colostack import __version__
from colostack.cliparse import OneLineParser, run_guarded

# Each module exposes register(subparsers) and sets a `func` default returning an exit code.
_COMMAND_MODULES: tuple[str, ...] = (
    "windows.cli",
    "rollout.cli",
    "profile.command",
    "cost.command",
    "tco.command",
    "powercap",
    "validate.cli",
    "loadtest.command",
    "recall.command",
)


DESCRIPTION = (
    "colostack validates NVIDIA GPU hosts through NVML, runs rolling updates only inside their "
    "maintenance windows, profiles GPU load, and turns measured usage into chargeback and "
    "total-cost figures. It is the Python package of the colostack Ansible collection, used by "
    "its roles and timers and by operators at the shell."
)
EPILOG = ("Run 'colostack COMMAND --help' for a command's options and exit codes. Every error "
          "is one line on stderr with exit 2; --debug adds the traceback.")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="colostack", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"colostack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands",
                                metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"colostack.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
