"""Shared helpers for the repository-level tests (lint gates and Molecule scenarios)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from bench.testhost import children_cpu

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / ".artifacts"


def run_logged(cmd: list[str], name: str, cwd: Path = REPO, timeout: int = 3600,
               **extra_env: str) -> tuple[int, str]:
    """Run a command, keep its full log under .artifacts/, return (exit code, output)."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", PY_COLORS="0", NO_COLOR="1", **extra_env)
    before, start = children_cpu(), time.monotonic()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    (ARTIFACTS / f"{name}.log").write_text(out)
    # The controller's side of the run (every process it waited for: ansible-playbook, ssh, pytest).
    (ARTIFACTS / f"{name}.cpu.json").write_text(json.dumps(
        {"wall_s": round(time.monotonic() - start, 1), "controller_cpu_s": round(children_cpu() - before, 1)}))
    return proc.returncode, out


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


# Minutes each Molecule scenario took in a full `make test` on the 2-core machine (two at a time;
# run of 2026-12-03 at f731fc5, less what later changes saved: postgresql's three role runs fewer,
# check_mode's idempotence step). They split the scenarios into the workers' shares.
# Unknown scenarios count as 5.
SCENARIO_MINUTES = {
    "rolling_faults": 15.4, "lifecycle": 13.5, "postgresql_ha": 11, "postgresql": 6.5, "vllm": 5.1,
    "bad_input": 3.9, "cost_agent": 3.6, "pgvector_upgrade": 1.9, "nvidia_stack": 1.9,
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


def _chunk_sizes(total: int, workers: int) -> list[int]:
    """How many items `--dist worksteal` first sends each worker, in order (xdist's check_schedule)."""
    sizes: list[int] = []
    for remaining in range(workers, 0, -1):
        sizes.append((total - sum(sizes)) // remaining)
    return sizes


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Even shares for `pytest -n N --dist worksteal` (make test), which gives each worker one
    contiguous chunk and steals from the end: the Molecule tests split between the chunks by
    expected time (longest first, each to the lightest chunk), at the front, where nothing steals
    them; the quick tests fill each chunk up to its size."""
    groups: dict[str, list[pytest.Item]] = {}
    minutes: dict[str, float] = {}
    for item in items:
        if item.get_closest_marker("molecule"):
            key, minutes[key] = _group(item)
            groups.setdefault(key, []).append(item)
    if not groups:
        return
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "2")))
    quick = [i for i in items if not i.get_closest_marker("molecule")]
    shares: list[list[str]] = [[] for _ in range(workers)]
    for key in sorted(groups, key=minutes.__getitem__, reverse=True):
        min(shares, key=lambda share: sum(minutes[k] for k in share)).append(key)
    ordered: list[pytest.Item] = []
    for share, size in zip(shares, _chunk_sizes(len(items), workers)):
        slow = [i for k in share for i in groups[k]]
        fill = max(0, size - len(slow))
        ordered += slow + quick[:fill]
        quick = quick[fill:]
    items[:] = ordered + quick


_STARTED = pytest.StashKey[float]()
_CPU_TICKS = pytest.StashKey[list[int]]()


def _cpu_ticks() -> list[int]:
    """The machine's CPU time so far, all cores: user nice system idle iowait irq softirq steal."""
    return [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STARTED] = time.time()
    config.stash[_CPU_TICKS] = _cpu_ticks()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Each scenario this run finished: wall time and the CPU seconds of the controller and of the
    test hosts (molecule/shared/host_cpu.py, at destroy). On 2 cores the suite is CPU-bound, so the
    CPU columns, not the wall time, say what a cut saves."""
    started = config.stash.get(_STARTED, 0.0)
    rows = []
    for path in ARTIFACTS.glob("molecule-*.cpu.json") if ARTIFACTS.is_dir() else []:
        if path.stat().st_mtime < started:
            continue
        scenario = path.name.removeprefix("molecule-").removesuffix(".cpu.json")
        run = json.loads(path.read_text())
        hosts = ARTIFACTS / f"host-cpu-{scenario}.json"
        host_cpu = sum(json.loads(hosts.read_text()).values()) if hosts.exists() and hosts.stat().st_mtime >= started else None
        rows.append((scenario, run["wall_s"], run["controller_cpu_s"], host_cpu))
    if not rows:
        return
    terminalreporter.section("Molecule scenarios: wall and CPU seconds")
    terminalreporter.line(f"{'scenario':<20} {'wall':>8} {'controller':>11} {'hosts':>8}")
    for scenario, wall, ctl, host in sorted(rows, key=lambda r: -r[1]):
        hosts_text = f"{host:8.0f}" if host is not None else f"{'?':>8}"
        terminalreporter.line(f"{scenario:<20} {wall:8.0f} {ctl:11.0f} {hosts_text}")
    total_host = sum(r[3] or 0 for r in rows)
    terminalreporter.line(f"{'total':<20} {sum(r[1] for r in rows):8.0f} {sum(r[2] for r in rows):11.0f} {total_host:8.0f}")
    # Whether more workers could help: a machine that was busy all along gains nothing from them.
    start: list[int] = config.stash[_CPU_TICKS]
    used = [now - then for now, then in zip(_cpu_ticks(), start)]
    busy = used[0] + used[1] + used[2] + used[5] + used[6]
    share = {"busy": busy, "iowait": used[4], "idle": used[3], "steal": used[7]}
    terminalreporter.line("machine CPU during the run (all cores): " + ", ".join(
        f"{name} {100 * ticks / max(1, sum(used)):.0f}%" for name, ticks in share.items()))
