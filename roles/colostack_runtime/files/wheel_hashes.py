"""Print a pip requirements line with its sha256 for each wheel in a wheelhouse (run on the controller).

The wheels the controller gathered are the ones trusted: the hosts install with --require-hashes
against these lines, so a wheel changed after the controller hashed it is refused.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def main(wheelhouse: Path) -> None:
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        print(f"{name}=={version} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
