#!/usr/bin/env python3
"""Write the CPU seconds each named test host used since it last started, as JSON, to OUT.

Usage: host_cpu.py OUT NAME...  Called by destroy.yml before it removes the hosts; the suite's
summary (tests/conftest.py) adds them up per scenario. Reads the container's cgroup (v1 cpuacct
or v2 cpu.stat); a host that is gone or whose cgroup cannot be read is left out. A host restarted
during the scenario counts from its last start only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cpu_seconds(cgroup: str) -> float | None:
    v1 = CGROUP / "cpuacct" / cgroup.lstrip("/") / "cpuacct.usage"
    if v1.is_file():
        return int(v1.read_text()) / 1e9
    v2 = CGROUP / cgroup.lstrip("/") / "cpu.stat"
    if v2.is_file():
        stat = dict(line.split() for line in v2.read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6
    return None


def main(out: str, names: list[str]) -> int:
    used: dict[str, float] = {}
    for name in names:
        found = subprocess.run(["podman", "inspect", "-f", "{{.State.CgroupPath}}", name],
                               capture_output=True, text=True, check=False)
        seconds = cpu_seconds(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None
        if seconds is not None:
            used[name] = round(seconds, 1)
    if used:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(used, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
