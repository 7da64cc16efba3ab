"""`python -m colostack.validate ARGS`: the validate command alone, for GPU hosts.

It loads no other command module, so a host needs only the validator's dependencies, and an
unexpected crash exits 2 (could not validate) rather than Python's 1, which means unhealthy.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from colostack.validate import cli
from colostack.validate.model import ExitCode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colostack.validate")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["validate", *(sys.argv[1:] if argv is None else argv)])
    try:
        code: int = args.func(args)
    except Exception:  # any crash is "could not validate", never healthy
        traceback.print_exc()
        return int(ExitCode.COULD_NOT_VALIDATE)
    return code


if __name__ == "__main__":
    sys.exit(main())
