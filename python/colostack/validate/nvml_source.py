"""Readings from the hardware: NVML through pynvml, the kernel log, and the CUDA load run.

Every call is bounded by a timeout. After one timeout NVML is treated as hung and every later
reading fails at once (a driver stuck on a faulty GPU holds its lock), so the run still ends.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pynvml

from colostack.validate import cuda
from colostack.validate.checks.xid import bus_key
from colostack.validate.readings import ReadingError, SourceError
from colostack.validate.timeout import call_with_timeout

_ECC_KIND = {"corrected": pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED,
             "uncorrected": pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED}
_ECC_SCOPE = {"volatile": pynvml.NVML_VOLATILE_ECC, "aggregate": pynvml.NVML_AGGREGATE_ECC}
_ECC_LOC = {"sram": pynvml.NVML_MEMORY_LOCATION_SRAM, "dram": pynvml.NVML_MEMORY_LOCATION_DRAM}
_THRESHOLDS = {"shutdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
               "slowdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
               "mem_max": pynvml.NVML_TEMPERATURE_THRESHOLD_MEM_MAX,
               "gpu_max": pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX}
_REMAP = ("remap.correctable_rows", "remap.uncorrectable_rows", "remap.pending", "remap.failure")
_NO_LINK = (pynvml.NVMLError_NotSupported, pynvml.NVMLError_InvalidArgument)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(handle: Any, field_id: int) -> float | int:
    value = pynvml.nvmlDeviceGetFieldValues(handle, [field_id])[0]
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise pynvml.NVMLError(value.nvmlReturn)
    member = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")[value.valueType]
    result: float | int = getattr(value.value, member)
    return result


def _nvlink(handle: Any, read: Callable[[Any, int], int]) -> list[int]:
    """Per-link values for every link the GPU has; links past the last raise NotSupported."""
    values = []
    for link in range(pynvml.NVML_NVLINK_MAX_LINKS):
        try:
            pynvml.nvmlDeviceGetNvLinkState(handle, link)
        except _NO_LINK:
            break
        values.append(int(read(handle, link)))
    return values


def _fabric(handle: Any) -> tuple[int, int]:
    info = pynvml.c_nvmlGpuFabricInfoV_t()
    pynvml.nvmlDeviceGetGpuFabricInfoV(handle, pynvml.byref(info))
    return int(info.state), int(info.status)


def _ecc(handle: Any, scope: str, loc: str, kind: str) -> int:
    return int(pynvml.nvmlDeviceGetMemoryErrorCounter(
        handle, _ECC_KIND[kind], _ECC_SCOPE[scope], _ECC_LOC[loc]))


def _threshold(handle: Any, which: int) -> int:
    return int(pynvml.nvmlDeviceGetTemperatureThreshold(handle, which))


def _remap(handle: Any, item: int) -> int:
    return int(pynvml.nvmlDeviceGetRemappedRows(handle)[item])


def _recovery_errors(handle: Any, link: int) -> int:
    return int(pynvml.nvmlDeviceGetNvLinkErrorCounter(
        handle, link, pynvml.NVML_NVLINK_ERROR_DL_RECOVERY))


GPU_READERS: dict[str, Callable[[Any], Any]] = {
    "name": lambda h: _text(pynvml.nvmlDeviceGetName(h)),
    "pci.device_id": lambda h: pynvml.nvmlDeviceGetPciInfo(h).pciDeviceId >> 16,
    "pci.bus_id": lambda h: _text(pynvml.nvmlDeviceGetPciInfo(h).busId),
    "uuid": lambda h: _text(pynvml.nvmlDeviceGetUUID(h)),
    "serial": lambda h: _text(pynvml.nvmlDeviceGetSerial(h)),
    "vbios": lambda h: _text(pynvml.nvmlDeviceGetVbiosVersion(h)),
    "inforom": lambda h: _text(pynvml.nvmlDeviceGetInforomImageVersion(h)),
    "compute_capability": lambda h: list(pynvml.nvmlDeviceGetCudaComputeCapability(h)),
    "persistence_mode": pynvml.nvmlDeviceGetPersistenceMode,
    "power.limit_constraints_mw": lambda h: list(
        pynvml.nvmlDeviceGetPowerManagementLimitConstraints(h)),
    "power.default_limit_mw": pynvml.nvmlDeviceGetPowerManagementDefaultLimit,
    "power.limit_mw": pynvml.nvmlDeviceGetPowerManagementLimit,
    "power.enforced_limit_mw": pynvml.nvmlDeviceGetEnforcedPowerLimit,
    "power.usage_mw": pynvml.nvmlDeviceGetPowerUsage,
    "clock_events": pynvml.nvmlDeviceGetCurrentClocksEventReasons,
    "temp.gpu": lambda h: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
    "temp.memory": lambda h: _field(h, pynvml.NVML_FI_DEV_MEMORY_TEMP),
    **{f"temp.threshold.{name}": partial(_threshold, which=t) for name, t in _THRESHOLDS.items()},
    "ecc.mode": lambda h: pynvml.nvmlDeviceGetEccMode(h)[0],
    **{f"ecc.{s}.{loc}.{k}": partial(_ecc, scope=s, loc=loc, kind=k)
       for s in _ECC_SCOPE for loc in _ECC_LOC for k in _ECC_KIND},
    **{key: partial(_remap, item=i) for i, key in enumerate(_REMAP)},
    "retired_pages.count": lambda h: sum(len(pynvml.nvmlDeviceGetRetiredPages(h, cause))
                                         for cause in (0, 1)),
    "retired_pages.pending": pynvml.nvmlDeviceGetRetiredPagesPendingStatus,
    "pcie.max_gen": pynvml.nvmlDeviceGetMaxPcieLinkGeneration,
    "pcie.gpu_max_gen": pynvml.nvmlDeviceGetGpuMaxPcieLinkGeneration,
    "pcie.max_width": pynvml.nvmlDeviceGetMaxPcieLinkWidth,
    "pcie.curr_gen": pynvml.nvmlDeviceGetCurrPcieLinkGeneration,
    "pcie.curr_width": pynvml.nvmlDeviceGetCurrPcieLinkWidth,
    "pcie.replay_counter": pynvml.nvmlDeviceGetPcieReplayCounter,
    "nvlink.states": lambda h: _nvlink(h, pynvml.nvmlDeviceGetNvLinkState),
    "nvlink.recovery_errors": lambda h: _nvlink(h, _recovery_errors),
    "fabric.state": lambda h: _fabric(h)[0],
    "fabric.status": lambda h: _fabric(h)[1],
    "recovery_action": lambda h: _field(h, pynvml.NVML_FI_DEV_GET_GPU_RECOVERY_ACTION),
    "memory.bus_width": pynvml.nvmlDeviceGetMemoryBusWidth,
    "clock.mem_max_mhz": lambda h: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM),
}


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
    """The hardware implementation of the readings interface."""

    def __init__(self, timeout_s: float = 5.0, load_timeout_s: float = 120.0,
                 bandwidth_reps: int = 5, xid_window_s: float = 7200.0) -> None:
        self.timeout_s, self.load_timeout_s = timeout_s, load_timeout_s
        self.bandwidth_reps, self.xid_window_s = bandwidth_reps, xid_window_s
        self._hung: str | None = None
        self._loads: dict[int, _Load] = {}
        try:
            call_with_timeout(pynvml.nvmlInit, timeout_s)
        except (pynvml.NVMLError, TimeoutError, OSError) as exc:
            raise SourceError(f"NVML init failed: {exc}") from exc

    def close(self) -> None:
        if self._hung is None:
            call_with_timeout(pynvml.nvmlShutdown, self.timeout_s)

    def _call(self, key: str, gpu: int | None, fn: Callable[[], Any],
              timeout_s: float | None = None) -> Any:
        if self._hung is not None:
            raise ReadingError(key, gpu, f"skipped: NVML stopped answering at {self._hung}")
        try:
            return call_with_timeout(fn, timeout_s or self.timeout_s)
        except TimeoutError as exc:
            self._hung = f"{key} (GPU {gpu})"
            raise ReadingError(key, gpu, f"timeout: {exc}") from exc
        except (pynvml.NVMLError, cuda.CudaError, OSError) as exc:
            raise ReadingError(key, gpu, f"{type(exc).__name__}: {exc}") from exc

    def system(self, key: str) -> Any:
        readers: dict[str, Callable[[], Any]] = {
            "gpu_count": pynvml.nvmlDeviceGetCount,
            "driver_version": lambda: _text(pynvml.nvmlSystemGetDriverVersion()),
            "cuda_driver_version": pynvml.nvmlSystemGetCudaDriverVersion_v2,
            "clock.now": time.time,
            "kernel_log": lambda: kernel_log(time.time() - self.xid_window_s, self.timeout_s),
        }
        if key not in readers:
            raise ReadingError(key, None, "unknown reading")
        return self._call(key, None, readers[key])

    def _handle(self, index: int, key: str) -> Any:
        return self._call(key, index, lambda: pynvml.nvmlDeviceGetHandleByIndex(index))

    def gpu(self, index: int, key: str) -> Any:
        if key.startswith("load."):
            return self._load_value(index, key)
        if key not in GPU_READERS:
            raise ReadingError(key, index, "unknown reading")
        handle = self._handle(index, key)
        return self._call(key, index, lambda: GPU_READERS[key](handle))

    def set_power_limit_mw(self, index: int, milliwatts: int) -> None:
        handle = self._handle(index, "power.limit_mw")
        self._call("power.limit_mw", index,
                   lambda: pynvml.nvmlDeviceSetPowerManagementLimit(handle, milliwatts))

    def _load_value(self, index: int, key: str) -> Any:
        load = self._loads.get(index)
        if load is None:
            load = self._loads[index] = _Load()
            handle = self._handle(index, key)
            domain, bus, dev = bus_key(_text(self.gpu(index, "pci.bus_id")))
            bus_id = f"{domain:04x}:{bus:02x}:{dev:02x}.0"
            try:
                load.result = self._call(key, index, lambda: cuda.run_device_tests(
                    bus_id, self.bandwidth_reps, lambda: _sample(handle, load)),
                    self.load_timeout_s)
            except ReadingError as exc:
                load.errors.insert(0, exc.reason)
                raise
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


def _sample(handle: Any, load: _Load) -> None:
    """Keep the best link and every throttle reason seen while the copy runs."""
    try:
        load.pcie_gen = max(load.pcie_gen, pynvml.nvmlDeviceGetCurrPcieLinkGeneration(handle))
        load.pcie_width = max(load.pcie_width, pynvml.nvmlDeviceGetCurrPcieLinkWidth(handle))
        load.clock_events |= pynvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
        load.samples += 1
    except pynvml.NVMLError as exc:
        load.errors.append(str(exc))
