"""A FAKE of the pynvml binding, for tests of the NVML layer: every value here is made up.

It stands in for NVML's call contract as colostack uses it: init and shutdown counted,
handles by index, errors that carry a return code, calls that never return. It proves how the
session bounds, maps and owns calls; it proves nothing about what a real driver reports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

NOT_SUPPORTED, GPU_IS_LOST, DRIVER_NOT_LOADED = 3, 15, 9


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {NOT_SUPPORTED: "Not Supported", GPU_IS_LOST: "GPU is lost",
                DRIVER_NOT_LOADED: "Driver Not Loaded"}.get(self.value, f"error {self.value}")


class NVMLError_NotSupported(NVMLError):
    def __init__(self) -> None:
        super().__init__(NOT_SUPPORTED)


class NVMLError_InvalidArgument(NVMLError):
    def __init__(self) -> None:
        super().__init__(2)


class NVMLError_GPUIsLost(NVMLError):
    def __init__(self) -> None:
        super().__init__(GPU_IS_LOST)


@dataclass
class FakeNvml:
    """`gpus[i]` maps an NVML function name to what it returns for GPU i, or to an exception
    it raises. A name in `hang` blocks until `release()` (a driver stuck on a faulty GPU)."""

    gpus: list[dict[str, Any]]
    init_error: NVMLError | None = None
    hang: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    inits: int = 0
    shutdowns: int = 0
    _released: threading.Event = field(default_factory=threading.Event)

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_InvalidArgument = NVMLError_InvalidArgument

    def release(self) -> None:
        self._released.set()

    def _answer(self, name: str, gpu: int | None = None) -> Any:
        self.calls.append(name)
        if name in self.hang:
            self._released.wait(30)
        value = self.gpus[gpu].get(name) if gpu is not None else None
        if isinstance(value, BaseException):
            raise value
        return value

    def nvmlInit(self) -> None:
        self._answer("nvmlInit")
        if self.init_error is not None:
            raise self.init_error
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self._answer("nvmlShutdown")
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        self._answer("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._answer("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise NVMLError_InvalidArgument()
        return index  # the handle is the index

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("nvmlDevice"):
            raise AttributeError(name)
        return lambda handle, *_args: self._answer(name, handle)


def memory(used: int, total: int) -> SimpleNamespace:
    return SimpleNamespace(used=used, total=total)


def process(pid: int, used: int | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, usedGpuMemory=used)


def utilization(gpu: int) -> SimpleNamespace:
    return SimpleNamespace(gpu=gpu, memory=0)
