"""Run every check family against one readings source and collect a report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from colostack.validate.checks import (
    bandwidth,
    compute,
    inventory,
    memory,
    nvlink,
    pcie,
    power,
    thermal,
    xid,
)
from colostack.validate.checks.base import Context
from colostack.validate.model import CheckResult, ExitCode, exit_code
from colostack.validate.readings import ReadingError, Readings
from colostack.validate.settings import Settings

# Order matters only for reading: inventory first, the load-based checks last.
FAMILIES: tuple[Callable[[Context], list[CheckResult]], ...] = (
    inventory.run, power.run, thermal.run, memory.run, pcie.run, nvlink.run, xid.run,
    bandwidth.run, compute.run,
)


@dataclass
class Report:
    source: str
    synthetic: bool
    started: str
    duration_s: float
    results: list[CheckResult]
    gpus: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quarantined: bool | None = None  # None: quarantine not enabled for this run

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.results)

    @property
    def verdict(self) -> str:
        return {ExitCode.HEALTHY: "healthy", ExitCode.UNHEALTHY: "unhealthy",
                ExitCode.COULD_NOT_VALIDATE: "could not validate"}[self.exit_code]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "colostack-validate-report/1",
            "source": self.source,
            "synthetic": self.synthetic,
            "started": self.started,
            "duration_s": round(self.duration_s, 4),
            "verdict": self.verdict,
            "exit_code": int(self.exit_code),
            "gpus": self.gpus,
            "notes": self.notes,
            "quarantined": self.quarantined,
            "results": [r.to_json() for r in self.results],
        }


def _gpu_indices(readings: Readings) -> tuple[int, ...]:
    try:
        return tuple(range(int(readings.system("gpu_count"))))
    except (ReadingError, ValueError, TypeError):
        return ()


# Read for the report and the recording only; no check judges them.
INFO_READINGS = ("uuid", "name", "serial", "pci.bus_id", "vbios", "inforom", "power.usage_mw",
                 "pcie.curr_gen", "pcie.curr_width", "temp.threshold.gpu_max")


def _identity(readings: Readings, gpu: int) -> dict[str, Any]:
    info: dict[str, Any] = {"index": gpu}
    for key in INFO_READINGS:
        try:
            info[key] = readings.gpu(gpu, key)
        except ReadingError:
            info[key] = None
    return info


def validate(readings: Readings, settings: Settings, source: str, synthetic: bool) -> Report:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    ctx = Context(readings, settings, _gpu_indices(readings))
    results = [result for family in FAMILIES for result in family(ctx)]
    return Report(source, synthetic, started, time.perf_counter() - t0, results,
                  [_identity(readings, g) for g in ctx.gpus])
