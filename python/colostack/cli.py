"""Command-line entry point. Parses arguments and prints; logic lives in the concern modules.

Exit codes: 0 success, 2 an error the message names (bad option, unreadable or malformed file,
unreachable service, or an internal error: --debug shows its traceback). Each command
documents its other codes (validate: 1 unhealthy; window check: 1 refused, 3 forced; rollout:
1 halted, 3 cancelled, 4 refused).
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
)


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="colostack", description=__doc__)
    parser.add_argument("--version", action="version", version=f"colostack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"colostack.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
