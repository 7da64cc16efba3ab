"""GPU processes and energy counters: read live from NVML, or replayed from a recording."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from colostack.nvml.session import Session

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


def read_nvml(nvml: Session) -> list[GpuReading]:
    out: list[GpuReading] = []
    for i in range(nvml.gpu_count()):
        r = nvml.read_all(i, ("uuid", "energy.total_mj", "processes.compute"))
        out.append(GpuReading(i, r["uuid"], r["energy.total_mj"], tuple(
            GpuProc(pid, None if used is None else used / MIB)
            for pid, used in r["processes.compute"])))
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
