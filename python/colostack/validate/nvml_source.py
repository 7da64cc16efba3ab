"""Readings from the hardware: NVML through the one session, the kernel log, and the CUDA run.

NVML calls and the CUDA run are bounded by the session; after one timeout it skips every later
NVML call, so the run still ends. The kernel log has its own timeout and is read regardless.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from colostack.nvml.pci import cuda_bus_id
from colostack.nvml.session import NvmlError, Session
from colostack.validate import cuda
from colostack.validate.readings import ReadingError

_UNDER_LOAD = ("pcie.curr_gen", "pcie.curr_width", "clock_events")


@dataclass
class _Load:
    """NVML values seen while the copy kernel runs, plus the CUDA results."""

    pcie_gen: int = 0
    pcie_width: int = 0
    clock_events: int = 0
    samples: int = 0
    errors: list[str] = field(default_factory=list)
    result: cuda.DeviceTestResult | None = None


def kernel_log(since_epoch: float, timeout_s: float) -> list[str]:
    """Kernel messages since a time, across reboots (journald), else the current boot (dmesg)."""
    commands = (
        ["journalctl", "_TRANSPORT=kernel", "-o", "short-iso-precise", "--no-pager", "-q",
         f"--since=@{int(since_epoch)}"],
        ["dmesg", "--time-format", "iso"],
    )
    problems = []
    for cmd in commands:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{cmd[0]}: {exc}")
            continue
        if proc.returncode == 0:
            return proc.stdout.splitlines()
        problems.append(f"{cmd[0]} exited {proc.returncode}: {proc.stderr.strip()[:200]}")
    raise OSError("; ".join(problems))


class NvmlReadings:
    """The hardware implementation of the readings interface, over an open NVML session."""

    def __init__(self, nvml: Session, load_timeout_s: float = 120.0, bandwidth_reps: int = 5,
                 xid_window_s: float = 7200.0,
                 on_load_done: Callable[[int], None] | None = None) -> None:
        """`on_load_done(gpu)` is called when a GPU's copy and compute run ends (progress)."""
        self.nvml, self.load_timeout_s = nvml, load_timeout_s
        self.on_load_done = on_load_done
        self.bandwidth_reps, self.xid_window_s = bandwidth_reps, xid_window_s
        self._loads: dict[int, _Load] = {}

    def system(self, key: str) -> Any:
        if key == "clock.now":
            return time.time()
        if key == "kernel_log":
            try:
                return kernel_log(time.time() - self.xid_window_s, self.nvml.timeout_s)
            except OSError as exc:
                raise ReadingError(key, None, f"OSError: {exc}") from exc
        try:
            return self.nvml.read_system(key)
        except NvmlError as exc:
            raise ReadingError(key, None, exc.reason) from exc

    def gpu(self, index: int, key: str) -> Any:
        if key.startswith("load."):
            return self._load_value(index, key)
        try:
            return self.nvml.read(index, key)
        except NvmlError as exc:
            raise ReadingError(key, index, exc.reason) from exc

    def set_power_limit_mw(self, index: int, milliwatts: int) -> None:
        try:
            self.nvml.set_power_limit_mw(index, milliwatts)
        except NvmlError as exc:
            raise ReadingError("power.limit_mw", index, exc.reason) from exc

    def _run_load(self, index: int, key: str, load: _Load) -> None:
        bus_id = cuda_bus_id(str(self.gpu(index, "pci.bus_id")))
        try:
            load.result = self.nvml.call(key, lambda: cuda.run_device_tests(
                bus_id, self.bandwidth_reps, lambda: _sample(self.nvml, index, load)),
                index, self.load_timeout_s)
        except NvmlError as exc:
            load.errors.insert(0, exc.reason)
            raise ReadingError(key, index, exc.reason) from exc
        except cuda.CudaError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            load.errors.insert(0, reason)
            raise ReadingError(key, index, reason) from exc

    def _load_value(self, index: int, key: str) -> Any:
        load = self._loads.get(index)
        if load is None:
            load = self._loads[index] = _Load()
            try:
                self._run_load(index, key, load)
            finally:
                if self.on_load_done is not None:
                    self.on_load_done(index)
        if load.result is None:
            raise ReadingError(key, index, f"load run failed: {'; '.join(load.errors[:3])}")
        values: dict[str, Any] = {
            "load.bandwidth_gbps": load.result.bandwidth_gbps,
            "load.compute_elements": load.result.compute_elements,
            "load.compute_mismatches": load.result.compute_mismatches,
        }
        if load.samples:  # NVML values under load exist only if the sampler got readings
            values |= {"load.pcie_gen": load.pcie_gen, "load.pcie_width": load.pcie_width,
                       "load.clock_events": load.clock_events}
        if key not in values:
            raise ReadingError(key, index, "; ".join(load.errors[:3]) or "no samples under load")
        return values[key]


def _sample(nvml: Session, index: int, load: _Load) -> None:
    """Keep the best link and every throttle reason seen while the copy runs."""
    try:
        seen = nvml.read_all(index, _UNDER_LOAD)
    except NvmlError as exc:
        if exc.reason not in load.errors:  # sampled every few ms: keep each reason once
            load.errors.append(exc.reason)
        return
    load.pcie_gen = max(load.pcie_gen, seen["pcie.curr_gen"])
    load.pcie_width = max(load.pcie_width, seen["pcie.curr_width"])
    load.clock_events |= seen["clock_events"]
    load.samples += 1
