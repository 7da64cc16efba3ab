"""What can be read from NVML, by name: one function per reading, given the binding and a handle.

Names are the readings `colostack validate` records and replays, plus the samples of `profile`
and `cost`. Calls go through the binding passed in (the session's: pynvml or a test's fake);
constants and structs come from pynvml itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pynvml

Reader = Callable[[Any, Any], Any]  # (binding, device handle) -> value

_ECC_KIND = {"corrected": pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED,
             "uncorrected": pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED}
_ECC_SCOPE = {"volatile": pynvml.NVML_VOLATILE_ECC, "aggregate": pynvml.NVML_AGGREGATE_ECC}
_ECC_LOC = {"sram": pynvml.NVML_MEMORY_LOCATION_SRAM, "dram": pynvml.NVML_MEMORY_LOCATION_DRAM}
_THRESHOLDS = {"shutdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
               "slowdown": pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
               "mem_max": pynvml.NVML_TEMPERATURE_THRESHOLD_MEM_MAX,
               "gpu_max": pynvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX}
_REMAP = ("remap.correctable_rows", "remap.uncorrectable_rows", "remap.pending", "remap.failure")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(nv: Any, handle: Any, field_id: int) -> float | int:
    value = nv.nvmlDeviceGetFieldValues(handle, [field_id])[0]
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise nv.NVMLError(value.nvmlReturn)
    member = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")[value.valueType]
    result: float | int = getattr(value.value, member)
    return result


def _nvlink(nv: Any, handle: Any, read: Callable[[Any, int], int]) -> list[int]:
    """Per-link values for every link the GPU has; links past the last raise NotSupported."""
    values = []
    for link in range(pynvml.NVML_NVLINK_MAX_LINKS):
        try:
            nv.nvmlDeviceGetNvLinkState(handle, link)
        except (nv.NVMLError_NotSupported, nv.NVMLError_InvalidArgument):
            break
        values.append(int(read(handle, link)))
    return values


def _fabric(nv: Any, handle: Any) -> tuple[int, int]:
    info = pynvml.c_nvmlGpuFabricInfoV_t()
    nv.nvmlDeviceGetGpuFabricInfoV(handle, pynvml.byref(info))
    return int(info.state), int(info.status)


def _ecc(nv: Any, handle: Any, scope: str, loc: str, kind: str) -> int:
    return int(nv.nvmlDeviceGetMemoryErrorCounter(
        handle, _ECC_KIND[kind], _ECC_SCOPE[scope], _ECC_LOC[loc]))


def _threshold(nv: Any, handle: Any, which: int) -> int:
    return int(nv.nvmlDeviceGetTemperatureThreshold(handle, which))


def _remap(nv: Any, handle: Any, item: int) -> int:
    return int(nv.nvmlDeviceGetRemappedRows(handle)[item])


def _recovery_errors(nv: Any, handle: Any) -> list[int]:
    return _nvlink(nv, handle, lambda h, link: nv.nvmlDeviceGetNvLinkErrorCounter(
        h, link, pynvml.NVML_NVLINK_ERROR_DL_RECOVERY))


def _energy_mj(nv: Any, handle: Any) -> int | None:
    try:
        return int(nv.nvmlDeviceGetTotalEnergyConsumption(handle))
    except nv.NVMLError_NotSupported:  # pre-Volta boards and some vGPUs
        return None


def _processes(nv: Any, handle: Any) -> list[tuple[int, int | None]]:
    """(pid, bytes of GPU memory or None when NVML cannot say) per compute process."""
    return [(int(p.pid), None if p.usedGpuMemory is None else int(p.usedGpuMemory))
            for p in nv.nvmlDeviceGetComputeRunningProcesses(handle)]


SYSTEM_READERS: dict[str, Callable[[Any], Any]] = {
    "gpu_count": lambda nv: int(nv.nvmlDeviceGetCount()),
    "driver_version": lambda nv: _text(nv.nvmlSystemGetDriverVersion()),
    "cuda_driver_version": lambda nv: nv.nvmlSystemGetCudaDriverVersion_v2(),
}

GPU_READERS: dict[str, Reader] = {
    "name": lambda nv, h: _text(nv.nvmlDeviceGetName(h)),
    "pci.device_id": lambda nv, h: nv.nvmlDeviceGetPciInfo(h).pciDeviceId >> 16,
    "pci.bus_id": lambda nv, h: _text(nv.nvmlDeviceGetPciInfo(h).busId),
    "uuid": lambda nv, h: _text(nv.nvmlDeviceGetUUID(h)),
    "serial": lambda nv, h: _text(nv.nvmlDeviceGetSerial(h)),
    "vbios": lambda nv, h: _text(nv.nvmlDeviceGetVbiosVersion(h)),
    "inforom": lambda nv, h: _text(nv.nvmlDeviceGetInforomImageVersion(h)),
    "compute_capability": lambda nv, h: list(nv.nvmlDeviceGetCudaComputeCapability(h)),
    "persistence_mode": lambda nv, h: nv.nvmlDeviceGetPersistenceMode(h),
    "power.limit_constraints_mw": lambda nv, h: list(
        nv.nvmlDeviceGetPowerManagementLimitConstraints(h)),
    "power.default_limit_mw": lambda nv, h: nv.nvmlDeviceGetPowerManagementDefaultLimit(h),
    "power.limit_mw": lambda nv, h: nv.nvmlDeviceGetPowerManagementLimit(h),
    "power.enforced_limit_mw": lambda nv, h: nv.nvmlDeviceGetEnforcedPowerLimit(h),
    "power.usage_mw": lambda nv, h: nv.nvmlDeviceGetPowerUsage(h),
    "energy.total_mj": _energy_mj,
    "utilization.gpu_pct": lambda nv, h: nv.nvmlDeviceGetUtilizationRates(h).gpu,
    "memory.used_bytes": lambda nv, h: nv.nvmlDeviceGetMemoryInfo(h).used,
    "memory.total_bytes": lambda nv, h: nv.nvmlDeviceGetMemoryInfo(h).total,
    "processes.compute": _processes,
    "clock_events": lambda nv, h: nv.nvmlDeviceGetCurrentClocksEventReasons(h),
    "temp.gpu": lambda nv, h: nv.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
    "temp.memory": lambda nv, h: _field(nv, h, pynvml.NVML_FI_DEV_MEMORY_TEMP),
    **{f"temp.threshold.{name}": partial(_threshold, which=t) for name, t in _THRESHOLDS.items()},
    "ecc.mode": lambda nv, h: nv.nvmlDeviceGetEccMode(h)[0],
    **{f"ecc.{s}.{loc}.{k}": partial(_ecc, scope=s, loc=loc, kind=k)
       for s in _ECC_SCOPE for loc in _ECC_LOC for k in _ECC_KIND},
    **{key: partial(_remap, item=i) for i, key in enumerate(_REMAP)},
    "retired_pages.count": lambda nv, h: sum(len(nv.nvmlDeviceGetRetiredPages(h, cause))
                                             for cause in (0, 1)),
    "retired_pages.pending": lambda nv, h: nv.nvmlDeviceGetRetiredPagesPendingStatus(h),
    "pcie.max_gen": lambda nv, h: nv.nvmlDeviceGetMaxPcieLinkGeneration(h),
    "pcie.gpu_max_gen": lambda nv, h: nv.nvmlDeviceGetGpuMaxPcieLinkGeneration(h),
    "pcie.max_width": lambda nv, h: nv.nvmlDeviceGetMaxPcieLinkWidth(h),
    "pcie.curr_gen": lambda nv, h: nv.nvmlDeviceGetCurrPcieLinkGeneration(h),
    "pcie.curr_width": lambda nv, h: nv.nvmlDeviceGetCurrPcieLinkWidth(h),
    "pcie.replay_counter": lambda nv, h: nv.nvmlDeviceGetPcieReplayCounter(h),
    "nvlink.states": lambda nv, h: _nvlink(nv, h, nv.nvmlDeviceGetNvLinkState),
    "nvlink.recovery_errors": _recovery_errors,
    "fabric.state": lambda nv, h: _fabric(nv, h)[0],
    "fabric.status": lambda nv, h: _fabric(nv, h)[1],
    "recovery_action": lambda nv, h: _field(nv, h, pynvml.NVML_FI_DEV_GET_GPU_RECOVERY_ACTION),
    "memory.bus_width": lambda nv, h: nv.nvmlDeviceGetMemoryBusWidth(h),
    "clock.mem_max_mhz": lambda nv, h: nv.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM),
}
