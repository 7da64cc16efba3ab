#!/usr/bin/env python3
"""Write the CPU seconds each named test host used since it last started, as JSON, to OUT.

Usage: host_cpu.py OUT NAME...  Called by destroy.yml before it removes the hosts; the suite's
summary (tests/conftest.py) adds them up per scenario. A host that is gone or whose cgroup cannot
be read is left out; one restarted during the scenario counts from its last start only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: bench.testhost
from bench.testhost import container_cpu


def main(out: str, names: list[str]) -> int:
    used = {name: round(seconds, 1) for name in names if (seconds := container_cpu(name)) is not None}
    if used:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(used, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
