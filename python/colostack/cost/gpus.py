"""GPU processes and energy counters: read live from NVML, or replayed from a recording."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colostack.profile.sampler import NvmlSampler

MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProc:
    pid: int
    used_memory_mib: float | None


@dataclass(frozen=True)
class GpuReading:
    index: int
    uuid: str
    energy_mj: int | None
    procs: tuple[GpuProc, ...]


def read_nvml(timeout_s: float) -> list[GpuReading]:
    out: list[GpuReading] = []
    with NvmlSampler(timeout_s=timeout_s) as s:
        nv: Any = s.nvml
        for i in range(s.call(nv.nvmlDeviceGetCount)):
            h = s.call(nv.nvmlDeviceGetHandleByIndex, i)
            uuid = str(s.call(nv.nvmlDeviceGetUUID, h))
            try:
                energy: int | None = int(s.call(nv.nvmlDeviceGetTotalEnergyConsumption, h))
            except nv.NVMLError_NotSupported:
                energy = None
            procs = s.call(nv.nvmlDeviceGetComputeRunningProcesses, h)
            out.append(GpuReading(i, uuid, energy, tuple(
                GpuProc(int(p.pid), None if p.usedGpuMemory is None else p.usedGpuMemory / MIB)
                for p in procs)))
    return out


def read_replay(path: Path, frame: int) -> tuple[list[GpuReading], int]:
    """Frame `frame` of a recording (the last one once past the end) and the frame count."""
    doc = json.loads(path.read_text())
    if "synthetic" not in doc:
        raise ValueError(f"{path}: a recording must say whether it is synthetic")
    frames = doc["frames"]
    raw = frames[min(frame, len(frames) - 1)]
    readings = [GpuReading(int(g["index"]), str(g["uuid"]), g.get("energy_mj"), tuple(
        GpuProc(int(p["pid"]), p.get("used_memory_mib")) for p in g.get("processes", [])))
        for g in raw["gpus"]]
    return readings, len(frames)
