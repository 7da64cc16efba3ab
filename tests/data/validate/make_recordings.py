"""Write the SYNTHETIC H100 SXM5 recordings used by python/tests/test_validate*.py.

Not hardware data. Values come from shared/reference/gpu-health.md (DCGM diag-skus, NVIDIA
product briefs, nvidia-smi -q captures of Hopper SXM). Each fault copy changes exactly the
readings named in FAULTS. Run: python tests/data/validate/make_recordings.py
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC).timestamp()
BUS_IDS = ("18", "2a", "3a", "5d", "9a", "ab", "ba", "db")  # a typical HGX H100 layout
NOTE = ("SYNTHETIC recording, not measured on hardware: values from the reference sheet "
        "for an 8x H100 SXM5 80GB HGX board")


def _gpu(i: int) -> dict[str, Any]:
    bw = [3010.2, 3008.9, 3015.1, 3011.7, 3012.4]  # about 90% of 3352 GB/s, a kernel copy's figure
    return {
        "name": "NVIDIA H100 80GB HBM3", "pci.device_id": 0x2330,
        "pci.bus_id": f"00000000:{BUS_IDS[i].upper()}:00.0",
        "uuid": f"GPU-5e7a0000-0000-4000-8000-00000000000{i}", "serial": f"SYNTHETIC{i:05d}",
        "vbios": "96.00.99.00.01", "inforom": "G520.0200.00.05", "compute_capability": [9, 0],
        "persistence_mode": 1,
        "power.limit_constraints_mw": [200000, 700000], "power.default_limit_mw": 700000,
        "power.limit_mw": 700000, "power.enforced_limit_mw": 700000, "power.usage_mw": 71500,
        "clock_events": 0x1, "load.clock_events": 0x0,
        "temp.gpu": 33, "temp.memory": 41, "temp.threshold.shutdown": 92,
        "temp.threshold.slowdown": 89, "temp.threshold.mem_max": 95, "temp.threshold.gpu_max": 87,
        "ecc.mode": 1,
        **{f"ecc.{scope}.{loc}.{kind}": 0 for scope in ("volatile", "aggregate")
           for loc in ("sram", "dram") for kind in ("corrected", "uncorrected")},
        "remap.correctable_rows": 0, "remap.uncorrectable_rows": 0,
        "remap.pending": 0, "remap.failure": 0,
        "pcie.max_gen": 5, "pcie.max_width": 16, "pcie.curr_gen": 1, "pcie.curr_width": 16,
        "pcie.replay_counter": 0, "load.pcie_gen": 5, "load.pcie_width": 16,
        "nvlink.states": [1] * 18, "nvlink.recovery_errors": [0] * 18,
        "fabric.state": 3, "fabric.status": 0, "recovery_action": 0,
        "memory.bus_width": 5120, "clock.mem_max_mhz": 2619,
        "load.bandwidth_gbps": [round(x - 0.3 * i, 1) for x in bw],
        "load.compute_elements": 65536, "load.compute_mismatches": 0,
    }


def healthy() -> dict[str, Any]:
    return {
        "format": "colostack-validate-recording/1",
        "synthetic": True,
        "note": NOTE,
        "recorded_at": datetime.fromtimestamp(NOW, UTC).isoformat(),
        "system": {
            "gpu_count": 8, "driver_version": "550.163.01", "cuda_driver_version": 12040,
            "clock.now": NOW,
            "kernel_log": [
                "2026-11-27T19:41:02,118422+00:00 nvidia-nvlink: Nvlink Core is being initialized",
                ("2026-11-27T19:41:03,552301+00:00 NVRM: loading NVIDIA UNIX Open Kernel Module "
                 "for x86_64  550.163.01"),
            ],
        },
        "gpus": [_gpu(i) for i in range(8)],
    }


def _xid_line(minutes_ago: float, gpu: int, xid: int) -> str:
    at = datetime.fromtimestamp(NOW - minutes_ago * 60, UTC).strftime("%Y-%m-%dT%H:%M:%S,000000+00:00")
    return (f"{at} NVRM: Xid (PCI:0000:{BUS_IDS[gpu]}:00): {xid}, pid='<unknown>', "
            "name=<unknown>, GPU has fallen off the bus.")


def _set(gpu: int, **values: Any) -> Callable[[dict[str, Any]], None]:
    def apply(rec: dict[str, Any]) -> None:
        rec["gpus"][gpu].update({k.replace("__", "."): v for k, v in values.items()})
    return apply


def _log(line: str) -> Callable[[dict[str, Any]], None]:
    return lambda rec: rec["system"]["kernel_log"].append(line)


def _drop_last_gpu(rec: dict[str, Any]) -> None:
    rec["gpus"].pop()
    rec["system"]["gpu_count"] = 7


def _gpu_lost(rec: dict[str, Any]) -> None:
    rec["gpus"][0] = {k: {"__error__": "NVML_ERROR_GPU_IS_LOST"} for k in rec["gpus"][0]}


# name -> (what was injected, mutation). Readings named with "__" stand for ".".
FAULTS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "thermal-slowdown": ("GPU 2: HW and SW thermal slowdown active under load at 88 C",
                         _set(2, load__clock_events=0x60, temp__gpu=88)),
    "power-cap-drift": ("GPU 1: enforced power limit drifted to 500 W (intended 700 W)",
                        _set(1, power__limit_mw=500000, power__enforced_limit_mw=500000)),
    "row-remap-pending": ("GPU 4: one row remapping pending",
                          _set(4, remap__pending=1, remap__uncorrectable_rows=1)),
    "sram-uncorrected": ("GPU 6: one uncorrected SRAM ECC error",
                         _set(6, ecc__volatile__sram__uncorrected=1,
                              ecc__aggregate__sram__uncorrected=1)),
    "pcie-gen4": ("GPU 3: link downtrained to Gen4 under load", _set(3, load__pcie_gen=4)),
    "xid79-in-window": ("GPU 5: XID 79 ten minutes before the run", _log(_xid_line(10, 5, 79))),
    "xid79-outside-window": ("GPU 5: XID 79 five hours before the run (outside the 2 h window)",
                             _log(_xid_line(300, 5, 79))),
    "bandwidth-60pct": ("GPU 7: HBM copy at 60% of peak",
                        _set(7, load__bandwidth_gbps=[2011.0, 2010.2, 2012.5, 2009.8, 2011.3])),
    "missing-gpu": ("GPU 7 missing: NVML sees 7 GPUs", _drop_last_gpu),
    "nvml-error": ("GPU 0: every NVML call returns NVML_ERROR_GPU_IS_LOST", _gpu_lost),
}


def recordings() -> dict[str, dict[str, Any]]:
    base = healthy()
    out = {"h100-sxm-healthy": base}
    for name, (what, mutate) in FAULTS.items():
        rec = copy.deepcopy(base)
        rec["fault"] = what
        rec["note"] = f"{NOTE}; FAULT-INJECTED copy of h100-sxm-healthy: {what}"
        mutate(rec)
        out[f"h100-sxm-{name}"] = rec
    return out


def render(rec: dict[str, Any]) -> str:
    return json.dumps(rec, indent=1) + "\n"


if __name__ == "__main__":
    for name, rec in recordings().items():
        (HERE / f"{name}.synthetic.json").write_text(render(rec))
