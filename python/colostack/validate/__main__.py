"""`python -m colostack.validate ARGS`: the validate command alone, for GPU hosts.

It loads no other command module, so a host needs only the validator's dependencies, and an
unexpected crash exits 2 (could not validate) rather than Python's 1, which means unhealthy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from colostack.cliparse import OneLineParser, run_guarded
from colostack.validate import cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m colostack.validate")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["validate", *(sys.argv[1:] if argv is None else argv)])
    return run_guarded(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
