"""What one validation run expects: pins and overrides from the command line or the role."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    expect_gpus: int | None = None  # None: the SKU profile's count
    expect_driver: str | None = None
    expect_cuda: str | None = None  # "12.4"
    expect_vbios: str | None = None
    power_caps_w: dict[int, float] = field(default_factory=dict)  # intended cap per GPU index
    bandwidth_floor: float | None = None  # None: the SKU profile's floor
    temp_margin_c: float = 5.0
    xid_window_s: float = 2 * 3600.0
    pcie_replay_max: int = 1000
