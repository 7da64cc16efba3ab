"""The one readings interface the checks use, its replay implementation, and the recorder.

A reading is a named raw value (`power.enforced_limit_mw`), either host-wide or per GPU.
Any error, timeout or absent value raises ReadingError, so a check can only pass on a real value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from colostack import schema
from colostack.errors import UserError
from colostack.validate.recording import ERROR_KEY, FORMAT, RecordingSchema

__all__ = ["ERROR_KEY", "FORMAT", "ReadingError", "Readings", "Recorder", "ReplayReadings",
           "SourceError"]


class ReadingError(Exception):
    """A reading could not be taken; carries which one and why."""

    def __init__(self, key: str, gpu: int | None, reason: str) -> None:
        where = "host" if gpu is None else f"GPU {gpu}"
        super().__init__(f"{where}: reading {key} failed: {reason}")
        self.key, self.gpu, self.reason = key, gpu, reason


class SourceError(UserError):
    """The recording as a whole is unusable: unreadable or invalid."""


class Readings(Protocol):
    def system(self, key: str) -> Any: ...

    def gpu(self, index: int, key: str) -> Any: ...


def _unwrap(value: Any, key: str, gpu: int | None) -> Any:
    if isinstance(value, dict) and set(value) == {ERROR_KEY}:
        raise ReadingError(key, gpu, str(value[ERROR_KEY]))
    return value


class ReplayReadings:
    """Readings served from a recording written by Recorder (or a labelled synthetic one)."""

    def __init__(self, data: dict[str, Any], where: str = "recording") -> None:
        try:
            schema.validated(RecordingSchema, data, where)
        except UserError as exc:
            raise SourceError(str(exc)) from None
        self.data = data
        self._system: dict[str, Any] = data.get("system", {})
        self._gpus: list[dict[str, Any]] = data.get("gpus", [])

    @classmethod
    def load(cls, path: Path) -> ReplayReadings:
        """Read and check a recording; NaN, infinity and out-of-range readings are refused."""
        where = f"recording {path}"
        try:
            data = schema.parse_json(schema.read_text(path, "recording"), where)
        except UserError as exc:
            raise SourceError(str(exc)) from None
        if not isinstance(data, dict):
            raise SourceError(f"{where}: expected a JSON object, got {type(data).__name__}")
        return cls(data, where)

    @property
    def synthetic(self) -> bool:
        return bool(self.data.get("synthetic", False))

    def system(self, key: str) -> Any:
        if key not in self._system:
            raise ReadingError(key, None, "not in recording")
        return _unwrap(self._system[key], key, None)

    def gpu(self, index: int, key: str) -> Any:
        if not 0 <= index < len(self._gpus):
            raise ReadingError(key, index, "GPU not in recording")
        if key not in self._gpus[index]:
            raise ReadingError(key, index, "not in recording")
        return _unwrap(self._gpus[index][key], key, index)


@dataclass
class Recorder:
    """Wraps a source and keeps every value and error it returns, for --record."""

    inner: Readings
    system_values: dict[str, Any] = field(default_factory=dict)
    gpu_values: dict[int, dict[str, Any]] = field(default_factory=dict)

    def _keep(self, store: dict[str, Any], key: str, read: Any, *args: Any) -> Any:
        try:
            value = read(*args)
        except ReadingError as exc:
            store[key] = {ERROR_KEY: exc.reason}
            raise
        store[key] = value
        return value

    def system(self, key: str) -> Any:
        return self._keep(self.system_values, key, self.inner.system, key)

    def gpu(self, index: int, key: str) -> Any:
        store = self.gpu_values.setdefault(index, {})
        return self._keep(store, key, self.inner.gpu, index, key)

    def recording(self, **meta: Any) -> dict[str, Any]:
        count = max(self.gpu_values, default=-1) + 1
        return {
            "format": FORMAT,
            **meta,
            "system": self.system_values,
            "gpus": [self.gpu_values.get(i, {}) for i in range(count)],
        }
