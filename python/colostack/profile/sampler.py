"""Read utilisation, memory, power and energy through the NVML session, on a fixed schedule."""

from __future__ import annotations

import time
from collections.abc import Iterator

from colostack.nvml.session import Session
from colostack.profile.samples import Sample

MIB = 1024 * 1024
_KEYS = ("utilization.gpu_pct", "memory.used_bytes", "memory.total_bytes", "power.usage_mw",
         "energy.total_mj")


def sample(nvml: Session) -> list[Sample]:
    """One sample per GPU; each GPU's readings are one bounded call."""
    now = time.time()
    out: list[Sample] = []
    for i in range(nvml.gpu_count()):
        r = nvml.read_all(i, _KEYS)
        out.append(Sample(now, i, float(r["utilization.gpu_pct"]), r["memory.used_bytes"] / MIB,
                          r["memory.total_bytes"] / MIB, r["power.usage_mw"] / 1000.0,
                          r["energy.total_mj"]))
    return out


def sample_forever(nvml: Session, interval_s: float,
                   duration_s: float | None) -> Iterator[list[Sample]]:
    """Yield one batch per interval, on a fixed schedule so slow calls do not drift it."""
    start = time.monotonic()
    n = 0
    while duration_s is None or time.monotonic() - start < duration_s:
        yield sample(nvml)
        n += 1
        time.sleep(max(0.0, start + n * interval_s - time.monotonic()))
