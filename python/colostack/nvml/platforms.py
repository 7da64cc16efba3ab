"""The one SKU and platform table. `colostack validate` selects a SKU by PCI device id; the
nvidia_driver role's `vars/platforms.yml` is generated from PLATFORMS (repository root):

    .venv/bin/python -m colostack.nvml.platforms > roles/nvidia_driver/vars/platforms.yml

Facts NVML can report are not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

NVIDIA_VENDOR_ID = 0x10DE


@dataclass(frozen=True)
class Sku:
    name: str
    pci_device_id: int
    gpu_count: int  # validate's default expectation per host; override with --expect-gpus
    compute_capability: tuple[int, int]
    nvlink_links: int  # active links required; 0: not expected (PCIe; bridges optional)
    nvswitch_fabric: bool  # HGX boards: the NVSwitch fabric must report completed
    bandwidth_floor: float  # fraction of the NVML-derived HBM peak a kernel copy must reach
    retired_pages: bool  # page retirement exists (pre-Hopper); Hopper uses row remapping only
    nvlink: bool  # the GPU has NVLink (board or bridge); reported in the role's table

    @property
    def pci_match(self) -> str:
        """The GPU as it appears in the role's platform key ('gpu=10de:2330')."""
        return f"gpu={NVIDIA_VENDOR_ID:04x}:{self.pci_device_id:04x}"


# Sources: DCGM diag-skus.yaml.in, NVIDIA product briefs (see docs/reference gpu-health sheet).
H100_SXM5 = Sku("H100 SXM5 80GB", 0x2330, 8, (9, 0), 18, True, 0.80, False, True)
H100_PCIE = Sku("H100 PCIe 80GB", 0x2331, 2, (9, 0), 0, False, 0.80, False, False)
H100_NVL = Sku("H100 NVL 94GB", 0x2321, 2, (9, 0), 0, False, 0.80, False, True)
H200_SXM = Sku("H200 SXM 141GB", 0x2335, 8, (9, 0), 18, True, 0.80, False, True)
SKUS: tuple[Sku, ...] = (H100_SXM5, H100_PCIE, H100_NVL, H200_SXM)
BY_DEVICE_ID: dict[int, Sku] = {s.pci_device_id: s for s in SKUS}


def for_device(pci_device_id: int) -> Sku | None:
    return BY_DEVICE_ID.get(pci_device_id)


@dataclass(frozen=True)
class Platform:
    """A row of the role's table: the first whose `match` regex is found in
    "<DMI product name> gpu=<vendor:device> ..." wins."""

    name: str
    match: str
    sku: Sku | None
    board: bool = False  # a known board: the SKU's GPU count and NVSwitch fabric are required

    @property
    def nvswitch(self) -> bool:
        return self.board and self.sku is not None and self.sku.nvswitch_fabric

    @property
    def gpu_count(self) -> int:
        """GPUs the role requires; 0 means any count (the board is unknown)."""
        return self.sku.gpu_count if self.board and self.sku else 0

    @property
    def nvlink(self) -> bool:
        return self.sku is not None and self.sku.nvlink


PLATFORMS: tuple[Platform, ...] = (
    Platform("DGX H100", "DGX H100", H100_SXM5, board=True),
    Platform("HGX H100 8-GPU (SXM5)", "(XE9680|SYS-821GE|SR680a|G593-SD|ESC N8)", H100_SXM5,
             board=True),
    Platform("HGX H200 8-GPU (SXM5)", H200_SXM.pci_match, H200_SXM, board=True),
    Platform("H100 SXM5 (board unknown)", H100_SXM5.pci_match, H100_SXM5),
    Platform("H100 PCIe", H100_PCIE.pci_match, H100_PCIE),
    Platform("H100 NVL", H100_NVL.pci_match, H100_NVL),
    Platform("other NVIDIA GPU", f"gpu={NVIDIA_VENDOR_ID:04x}:", None),
    Platform("no NVIDIA GPU", "", None),
)

_HEADER = """\
---
# GENERATED from python/colostack/nvml/platforms.py; do not edit. Regenerate (repository root):
#   .venv/bin/python -m colostack.nvml.platforms > roles/nvidia_driver/vars/platforms.yml
# Platform table: first row whose `match` regex is found in
# "<DMI product name> gpu=<vendor:device> ..." wins. gpu_count 0 means "any count".
# nvswitch true makes the fabric manager mandatory; detection from PCI or /proc also turns it on.
__nvidia_driver_platforms:
"""


def _yaml_row(p: Platform) -> str:
    match = "'" + p.match.replace("'", "''") + "'"  # single-quoted: backslashes stay literal
    flags = ", ".join(f"{k}: {str(v).lower()}" for k, v in
                      (("nvswitch", p.nvswitch), ("nvlink", p.nvlink)))
    return f"  - {{name: {json.dumps(p.name)}, match: {match}, {flags}, gpu_count: {p.gpu_count}}}"


def role_yaml() -> str:
    """The nvidia_driver role's vars/platforms.yml."""
    return _HEADER + "".join(_yaml_row(p) + "\n" for p in PLATFORMS)


if __name__ == "__main__":
    print(role_yaml(), end="")
