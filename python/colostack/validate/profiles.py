"""SKU profiles: one data table, selected by PCI device id. Facts NVML can report are not here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    pci_device_id: int
    gpu_count: int  # default expectation per host; override with --expect-gpus
    compute_capability: tuple[int, int]
    nvlink_links: int  # active links required; 0: not expected (PCIe; bridges optional)
    nvswitch_fabric: bool  # HGX boards: the NVSwitch fabric must report completed
    bandwidth_floor: float  # fraction of the NVML-derived HBM peak a kernel copy must reach
    retired_pages: bool  # page retirement exists (pre-Hopper); Hopper uses row remapping only


# Sources: DCGM diag-skus.yaml.in, NVIDIA product briefs (see docs/reference gpu-health sheet).
PROFILES: tuple[Profile, ...] = (
    Profile("H100 SXM5 80GB", 0x2330, 8, (9, 0), 18, True, 0.80, False),
    Profile("H100 PCIe 80GB", 0x2331, 2, (9, 0), 0, False, 0.80, False),
    Profile("H100 NVL 94GB", 0x2321, 2, (9, 0), 0, False, 0.80, False),
    Profile("H200 SXM 141GB", 0x2335, 8, (9, 0), 18, True, 0.80, False),
)

BY_DEVICE_ID: dict[int, Profile] = {p.pci_device_id: p for p in PROFILES}


def for_device(pci_device_id: int) -> Profile | None:
    return BY_DEVICE_ID.get(pci_device_id)
