#!/usr/bin/python
"""What HAProxy served since a time, from its access log in the journal: the route shift's guard."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Iterable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: haproxy_traffic
short_description: Count requests, errors and the p95 latency HAProxy logged since a time
description:
  - Reads HAProxy's access log (option httplog, sent to the journal through /dev/log) since a Unix
    time and sums it over the backends not excluded. HAProxy's own statistics carry averages only, so the p95 comes
    from the log's per-request total time (Ta).
  - An error is a 5xx answer, a 429 (the gateway's queue is full) or a request the gateway could
    not answer at all (status -1). Read-only.
options:
  since:
    description: Unix time; only requests logged from then on count.
    type: int
    required: true
  exclude_prefix:
    description: Backends whose name starts with this are left out (the cloud endpoints' backends).
    type: str
    default: cloud_
  identifier:
    description: The syslog identifier HAProxy logs under.
    type: str
    default: haproxy
author: colostack
"""

# "<frontend> <backend>/<server> TR/Tw/Tc/Tr/Ta <status> " of HAProxy's httplog format.
_LINE = re.compile(r" (\S+) ([^/\s]+)/(\S+) -?\d+/-?\d+/-?\d+/-?\d+/\+?(-?\d+) (-?\d+) ")


def parse(lines: Iterable[str], exclude_prefix: str) -> list[tuple[str, int, int]]:
    """(backend, status, total ms) of each logged request outside the excluded backends."""
    found = []
    for line in lines:
        match = _LINE.search(line)
        if match and not match.group(2).startswith(exclude_prefix):
            found.append((match.group(2), int(match.group(5)), int(match.group(4))))
    return found


def is_error(status: int) -> bool:
    return status >= 500 or status in (429, -1)


def summary(requests: list[tuple[str, int, int]]) -> dict[str, Any]:
    times = [ms for _, status, ms in requests if status != -1 and ms >= 0]
    errors = sum(1 for _, status, _ in requests if is_error(status))
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) >= 2 else float(sum(times))
    return {"requests": len(requests), "errors": errors,
            "error_rate": errors / len(requests) if requests else 0.0,
            "p95_ms": round(p95, 1), "backends": sorted({backend for backend, _, _ in requests})}


def main() -> None:
    module = AnsibleModule(
        argument_spec={"since": {"type": "int", "required": True},
                       "exclude_prefix": {"type": "str", "default": "cloud_"},
                       "identifier": {"type": "str", "default": "haproxy"}},
        supports_check_mode=True,
    )
    argv = ["journalctl", "--no-pager", "-o", "cat", "-t", module.params["identifier"],
            "--since", f"@{module.params['since']}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        module.fail_json(msg=f"journalctl failed: {done.stderr.strip()}")
    module.exit_json(changed=False, **summary(parse(done.stdout.splitlines(), module.params["exclude_prefix"])))


if __name__ == "__main__":
    main()
