"""Shared helpers for the repository-level tests (lint gates and Molecule scenarios)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / ".artifacts"


def run_logged(cmd: list[str], name: str, cwd: Path = REPO, timeout: int = 3600,
               **extra_env: str) -> tuple[int, str]:
    """Run a command, keep its full log under .artifacts/, return (exit code, output)."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", PY_COLORS="0", NO_COLOR="1", **extra_env)
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    (ARTIFACTS / f"{name}.log").write_text(out)
    return proc.returncode, out


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


# Minutes each Molecule scenario took in a full `make test` on the 2-core machine (two at a time;
# run of 2026-12-03 at f731fc5, less what later changes saved: postgresql's three role runs fewer,
# check_mode's idempotence step). They split the scenarios into the two workers' halves.
# Unknown scenarios count as 5.
SCENARIO_MINUTES = {
    "rolling_faults": 15.4, "lifecycle": 13.5, "postgresql_ha": 11, "postgresql": 6.5, "vllm": 5.1,
    "bad_input": 3.9, "cost_agent": 2.6, "observability": 2.2, "pgvector_upgrade": 1.9, "nvidia_stack": 1.9,
    "site": 1.7, "gpu_validate": 1.6, "control_node": 1.6, "check_mode": 1.1, "colostack_runtime": 1.4,
    "host_storage": 1.1, "nvidia_distro": 0.8,
}


def _group(item: pytest.Item) -> tuple[str, float]:
    """A scenario on its own; other Molecule-marked tests by module (they share its hosts)."""
    callspec = getattr(item, "callspec", None)
    scenario = callspec.params.get("scenario") if callspec else None
    if scenario:
        return scenario, SCENARIO_MINUTES.get(scenario, 5)
    return item.nodeid.split("::")[0], 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Two even halves for `pytest -n 2 --dist worksteal` (make test), which gives each worker one
    contiguous half and steals from the end: the Molecule tests split between the halves by
    expected time (longest first, each to the lighter half), at the front, where nothing steals them."""
    groups: dict[str, list[pytest.Item]] = {}
    minutes: dict[str, float] = {}
    for item in items:
        if item.get_closest_marker("molecule"):
            key, minutes[key] = _group(item)
            groups.setdefault(key, []).append(item)
    if not groups:
        return
    quick = [i for i in items if not i.get_closest_marker("molecule")]
    halves: tuple[list[str], list[str]] = ([], [])
    for key in sorted(groups, key=minutes.__getitem__, reverse=True):
        min(halves, key=lambda h: sum(minutes[k] for k in h)).append(key)
    first, second = ([i for k in h for i in groups[k]] for h in halves)
    cut = max(0, len(items) // 2 - len(first))
    items[:] = first + quick[:cut] + second + quick[cut:]
