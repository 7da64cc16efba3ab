"""Bound a blocking call (NVML, CUDA) with a wall-clock timeout.

A call stuck inside the driver cannot be cancelled from Python, so it is left in a daemon
thread and the caller gets TimeoutError; the owner then stops issuing calls (see NvmlReadings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_with_timeout(fn: Callable[[], T], seconds: float) -> T:
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
