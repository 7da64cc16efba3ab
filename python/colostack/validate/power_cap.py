"""Power caps: parse the request, check it against NVML's constraints, apply and verify."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Protocol

from colostack.errors import UserError
from colostack.validate.readings import Readings


class PowerCapError(ValueError, UserError):
    """A requested cap cannot be applied; the message names the GPU, the cap and the range."""


class PowerLimitSetter(Readings, Protocol):
    def set_power_limit_mw(self, index: int, milliwatts: int) -> None: ...


@dataclass(frozen=True)
class CapPlan:
    gpu: int
    watts: float
    current_w: float

    @property
    def changes(self) -> bool:
        return round(self.current_w) != round(self.watts)


def parse_spec(spec: str) -> tuple[int | None, float]:
    """'600' -> (None, 600.0) for every GPU, '3=550' -> (3, 550.0); watts finite and > 0."""
    index, sep, watts = spec.rpartition("=")
    try:
        value = float(watts)
        gpu = int(index) if sep else None
    except ValueError:
        raise PowerCapError(f"{spec!r}: expected WATTS or GPU=WATTS") from None
    if not math.isfinite(value) or value <= 0:
        raise PowerCapError(f"{spec!r}: watts must be a positive number")
    if gpu is not None and gpu < 0:
        raise PowerCapError(f"{spec!r}: GPU index must not be negative")
    return gpu, value


def cap_spec(text: str) -> str:
    """argparse type for [GPU=]WATTS: the syntax and range now, the GPU count at run time."""
    try:
        parse_spec(text)
    except PowerCapError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parse_caps(specs: list[str], gpu_count: int) -> dict[int, float]:
    """'600' caps every GPU, '3=550' caps GPU 3; later entries win."""
    caps: dict[int, float] = {}
    for spec in specs:
        gpu, value = parse_spec(spec)
        targets = list(range(gpu_count)) if gpu is None else [gpu]
        for target in targets:
            if not 0 <= target < gpu_count:
                raise PowerCapError(f"power cap {spec!r}: no GPU {target} ({gpu_count} visible)")
            caps[target] = value
    return caps


def plan(readings: Readings, caps: dict[int, float]) -> list[CapPlan]:
    """Check every cap against NVML's constraints before any is applied."""
    plans = []
    for gpu, watts in sorted(caps.items()):
        low_mw, high_mw = readings.gpu(gpu, "power.limit_constraints_mw")
        low, high = int(low_mw) / 1000, int(high_mw) / 1000
        if not low <= watts <= high:
            raise PowerCapError(f"GPU {gpu}: power cap {watts:g} W is outside NVML's "
                                f"constraints {low:g}-{high:g} W")
        current = int(readings.gpu(gpu, "power.limit_mw")) / 1000
        plans.append(CapPlan(gpu, watts, current))
    return plans


def apply(device: PowerLimitSetter, plans: list[CapPlan]) -> list[CapPlan]:
    """Set the caps that differ and read them back; returns the ones that changed."""
    changed = [p for p in plans if p.changes]
    for p in changed:
        device.set_power_limit_mw(p.gpu, round(p.watts * 1000))
        now = int(device.gpu(p.gpu, "power.limit_mw")) / 1000
        if round(now) != round(p.watts):
            raise PowerCapError(f"GPU {p.gpu}: set {p.watts:g} W but NVML reports {now:g} W")
    return changed
