"""Command-line entry point. Parses arguments and prints; logic lives in the concern modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from colostack import __version__

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colostack", description=__doc__)
    parser.add_argument("--version", action="version", version=f"colostack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"colostack.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
