"""The one owner of NVML: init and shutdown, and every call bounded by one timeout.

A call stuck inside the driver cannot be cancelled from Python, so it is left in a daemon
thread and the caller gets an NvmlError. After one timeout NVML is treated as hung (a driver
stuck on a faulty GPU holds its lock): every later call fails at once and shutdown is skipped,
so the run still ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pynvml

from colostack.errors import UserError
from colostack.nvml.readers import GPU_READERS, SYSTEM_READERS

T = TypeVar("T")


def call_with_timeout(fn: Callable[[], T], seconds: float) -> T:
    """fn's result or exception, or TimeoutError once `seconds` pass (fn keeps running)."""
    box: dict[str, T | BaseException] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="bounded-call")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class NvmlError(UserError):
    """An NVML call failed, timed out or was skipped: which call, on which GPU, and why."""

    def __init__(self, call: str, gpu: int | None, reason: str, code: int | None = None,
                 timed_out: bool = False) -> None:
        where = "" if gpu is None else f" on GPU {gpu}"
        super().__init__(f"NVML {call} failed{where}: {reason}")
        self.call, self.gpu, self.reason = call, gpu, reason
        self.code = code  # NVML's return code, when NVML answered
        self.timed_out = timed_out


class Session:
    """`with Session(timeout_s) as nvml:` inits NVML once and shuts it down once.

    `nv` is the binding every call goes through: pynvml, or a test's fake.
    """

    def __init__(self, timeout_s: float = 5.0, nv: Any = pynvml) -> None:
        self.timeout_s, self.nv = timeout_s, nv
        self._open = False
        self._hung: str | None = None
        self._handles: dict[int, Any] = {}

    def __enter__(self) -> Session:
        self._bounded("init", None, self.nv.nvmlInit, self.timeout_s)
        self._open = True
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        was_open, self._open = self._open, False
        self._handles.clear()
        if not was_open or self._hung is not None:
            return
        try:
            self._bounded("shutdown", None, self.nv.nvmlShutdown, self.timeout_s)
        except NvmlError:
            if exc_type is None:  # never hide the error that ended the session
                raise

    def call(self, what: str, fn: Callable[[], T], gpu: int | None = None,
             timeout_s: float | None = None) -> T:
        """Run fn (NVML, or a CUDA run on the same driver) within the session and a timeout."""
        if not self._open:
            raise NvmlError(what, gpu, "no NVML session is open")
        return self._bounded(what, gpu, fn, timeout_s or self.timeout_s)

    def _bounded(self, what: str, gpu: int | None, fn: Callable[[], T], seconds: float) -> T:
        if self._hung is not None:
            raise NvmlError(what, gpu, f"skipped: NVML stopped answering at {self._hung}")
        try:
            return call_with_timeout(fn, seconds)
        except TimeoutError as exc:
            self._hung = what if gpu is None else f"{what} (GPU {gpu})"
            raise NvmlError(what, gpu, f"timeout: {exc}", timed_out=True) from exc
        except self.nv.NVMLError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise NvmlError(what, gpu, reason, code=getattr(exc, "value", None)) from exc

    def handle(self, index: int) -> Any:
        if index not in self._handles:
            self._handles[index] = self.call(
                "handle", lambda: self.nv.nvmlDeviceGetHandleByIndex(index), index)
        return self._handles[index]

    def read_system(self, key: str) -> Any:
        reader = SYSTEM_READERS.get(key)
        if reader is None:
            raise NvmlError(key, None, "unknown reading")
        return self.call(key, lambda: reader(self.nv))

    def gpu_count(self) -> int:
        return int(self.read_system("gpu_count"))

    def read(self, index: int, key: str) -> Any:
        return self.read_all(index, (key,))[key]

    def read_all(self, index: int, keys: Sequence[str]) -> dict[str, Any]:
        """Several readings of one GPU in one bounded call."""
        for key in keys:
            if key not in GPU_READERS:
                raise NvmlError(key, index, "unknown reading")
        handle = self.handle(index)
        return self.call(", ".join(keys),
                         lambda: {k: GPU_READERS[k](self.nv, handle) for k in keys}, index)

    def set_power_limit_mw(self, index: int, milliwatts: int) -> None:
        handle = self.handle(index)
        self.call("set power limit",
                  lambda: self.nv.nvmlDeviceSetPowerManagementLimit(handle, milliwatts), index)
