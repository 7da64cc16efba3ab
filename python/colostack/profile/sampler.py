"""Read utilisation, memory, power and energy from NVML, every call bounded by a timeout.

A faulty GPU can hang an NVML call forever; the call runs in a worker thread and the sampler
gives up on it after `timeout_s` rather than hanging the whole profile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pynvml

from colostack.profile.samples import Sample

T = TypeVar("T")
MIB = 1024 * 1024


class NvmlTimeoutError(RuntimeError):
    """An NVML call did not return within its timeout."""


@dataclass
class NvmlSampler:
    timeout_s: float = 5.0
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    nvml: Any = None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout as exc:
            name = getattr(fn, "__name__", repr(fn))
            raise NvmlTimeoutError(f"{name}{args!r} took longer than {self.timeout_s}s") from exc

    def __enter__(self) -> NvmlSampler:
        self.nvml = pynvml
        self.call(pynvml.nvmlInit)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.nvml.nvmlShutdown)
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def sample(self) -> list[Sample]:
        nv = self.nvml
        now = time.time()
        out: list[Sample] = []
        for i in range(self.call(nv.nvmlDeviceGetCount)):
            h = self.call(nv.nvmlDeviceGetHandleByIndex, i)
            util = self.call(nv.nvmlDeviceGetUtilizationRates, h)
            mem = self.call(nv.nvmlDeviceGetMemoryInfo, h)
            power_mw = self.call(nv.nvmlDeviceGetPowerUsage, h)
            try:
                energy: int | None = int(self.call(nv.nvmlDeviceGetTotalEnergyConsumption, h))
            except nv.NVMLError_NotSupported:
                energy = None
            out.append(Sample(now, i, float(util.gpu), mem.used / MIB, mem.total / MIB,
                              power_mw / 1000.0, energy))
        return out


def sample_forever(sampler: NvmlSampler, interval_s: float,
                   duration_s: float | None) -> Iterator[list[Sample]]:
    """Yield one batch per interval, on a fixed schedule so slow calls do not drift it."""
    start = time.monotonic()
    n = 0
    while duration_s is None or time.monotonic() - start < duration_s:
        yield sampler.sample()
        n += 1
        time.sleep(max(0.0, start + n * interval_s - time.monotonic()))
