"""The schema of a validate recording (colostack-validate-recording/1), checked before replay.

Every reading a check judges has a type and physical bounds here, so a recording that holds
NaN, infinity, a negative counter or an impossible temperature or bandwidth is refused (could
not validate) instead of being scored. A reading may instead be {"__error__": "why"}: the
source failed to read it, and the check that needs it fails closed.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

FORMAT = "colostack-validate-recording/1"
ERROR_KEY = "__error__"  # {"__error__": "why"}: the source could not take this reading

# Bounds no working sensor reports: a reading outside them is a corrupt recording, not a fault.
MIN_CELSIUS, MAX_CELSIUS = -50.0, 150.0
MAX_HBM_GBPS = 20_000.0  # over twice the fastest HBM part (B200, 8 TB/s)
MAX_POWER_MW = 5_000_000  # 5 kW for one GPU; the largest parts are rated near 1.2 kW
MAX_GPUS = 1024

Celsius = Annotated[float, Field(ge=MIN_CELSIUS, le=MAX_CELSIUS)]
Count = Annotated[int, Field(ge=0)]
Flag = Annotated[int, Field(ge=0, le=1)]
Milliwatts = Annotated[int, Field(ge=0, le=MAX_POWER_MW)]
Bandwidth = Annotated[float, Field(ge=0, le=MAX_HBM_GBPS)]
PcieGen = Annotated[int, Field(ge=0, le=8)]
PcieWidth = Annotated[int, Field(ge=0, le=32)]

# reading -> type and bounds. Readings not listed (informational ones a newer recorder adds)
# are accepted if they hold only finite JSON values.
GPU_READINGS: dict[str, Any] = {
    "name": str, "pci.device_id": Annotated[int, Field(ge=0, le=0xFFFF)], "pci.bus_id": str,
    "uuid": str, "serial": str, "vbios": str, "inforom": str,
    "compute_capability": tuple[Count, Count], "persistence_mode": Flag,
    "power.limit_constraints_mw": tuple[Milliwatts, Milliwatts],
    "power.default_limit_mw": Milliwatts, "power.limit_mw": Milliwatts,
    "power.enforced_limit_mw": Milliwatts, "power.usage_mw": Milliwatts,
    "clock_events": Count, "load.clock_events": Count,
    "temp.gpu": Celsius, "temp.memory": Celsius,
    **{f"temp.threshold.{t}": Celsius for t in ("shutdown", "slowdown", "mem_max", "gpu_max")},
    "ecc.mode": Flag,
    **{f"ecc.{scope}.{loc}.{kind}": Count for scope in ("volatile", "aggregate")
       for loc in ("sram", "dram") for kind in ("corrected", "uncorrected")},
    **{f"remap.{k}": Count for k in ("correctable_rows", "uncorrectable_rows", "pending",
                                      "failure")},
    "retired_pages.count": Count, "retired_pages.pending": Count,
    "pcie.max_gen": PcieGen, "pcie.gpu_max_gen": PcieGen, "pcie.curr_gen": PcieGen,
    "load.pcie_gen": PcieGen, "pcie.max_width": PcieWidth, "pcie.curr_width": PcieWidth,
    "load.pcie_width": PcieWidth, "pcie.replay_counter": Count,
    "nvlink.states": list[Flag], "nvlink.recovery_errors": list[Count],
    "fabric.state": Count, "fabric.status": Count, "recovery_action": Count,
    "memory.bus_width": Annotated[int, Field(gt=0, le=16_384)],
    "clock.mem_max_mhz": Annotated[int, Field(gt=0, le=100_000)],
    "load.bandwidth_gbps": list[Bandwidth],
    "load.compute_elements": Count, "load.compute_mismatches": Count,
}
SYSTEM_READINGS: dict[str, Any] = {
    "gpu_count": Annotated[int, Field(ge=0, le=MAX_GPUS)], "driver_version": str,
    "cuda_driver_version": Annotated[int, Field(gt=0)],
    "clock.now": Annotated[float, Field(ge=0)], "kernel_log": list[str],
}


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


class _Readings(BaseModel):
    """Readings as stored: a source's error entries are set aside before the bounds apply."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=False,
                              strict=False)

    @model_validator(mode="before")
    @classmethod
    def _skip_errors(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items()
                if not (isinstance(v, dict) and set(v) == {ERROR_KEY}
                        and isinstance(v[ERROR_KEY], str))}

    @model_validator(mode="after")
    def _finite_extras(self) -> _Readings:
        for key, value in (self.model_extra or {}).items():
            if not _finite(value):
                raise ValueError(f"reading {key} holds a non-finite number")
        return self


def _readings_model(name: str, table: dict[str, Any]) -> type[_Readings]:
    fields: dict[str, Any] = {
        key.replace(".", "__"): (kind, Field(default=None, alias=key))
        for key, kind in table.items()}
    return create_model(name, __base__=_Readings, **fields)


GpuReadings = _readings_model("GpuReadings", GPU_READINGS)
SystemReadings = _readings_model("SystemReadings", SYSTEM_READINGS)


class RecordingSchema(BaseModel):
    """The document: its format, what it is (synthetic, note, fault...), and the readings."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    format: str
    synthetic: bool = False
    note: str = ""
    recorded_at: str = ""
    system: SystemReadings = Field(default_factory=SystemReadings)  # type: ignore[valid-type]
    gpus: list[GpuReadings] = Field(default_factory=list)  # type: ignore[valid-type]

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != FORMAT:
            raise ValueError(f"not a {FORMAT} recording")
        return value

    @model_validator(mode="after")
    def _constraints_in_order(self) -> RecordingSchema:
        for index, gpu in enumerate(self.gpus):
            pair = getattr(gpu, "power__limit_constraints_mw", None)
            if pair is not None and pair[0] > pair[1]:
                raise ValueError(f"gpus[{index}].power.limit_constraints_mw: minimum "
                                 f"{pair[0]} is above maximum {pair[1]}")
        return self
