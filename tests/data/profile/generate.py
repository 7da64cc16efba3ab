"""Regenerate synthetic-2gpu-7d.jsonl: a SYNTHETIC recording (not from hardware) for replay tests
and docs. GPU 0 serves a steady day/night chat load; GPU 1 runs a 2-hour nightly batch."""

from __future__ import annotations

import json
import random
from pathlib import Path

START = 1_793_491_200  # 2026-11-01T00:00:00Z
STEP = 900             # 15 minutes
DAYS = 7


def main() -> None:
    rng = random.Random(7)
    out = Path(__file__).with_name("synthetic-2gpu-7d.jsonl")
    header = {"format": "colostack-profile/1",
              "fields": ["t", "gpu", "util", "mem_used_mib", "mem_total_mib", "power_w",
                         "energy_mj"],
              "host": "synthetic-h100-pcie", "synthetic": True,
              "source": "tests/data/profile/generate.py (synthetic, not from real hardware)"}
    lines = [json.dumps(header, separators=(",", ":"))]
    energy = [0, 0]
    for i in range(DAYS * 86400 // STEP):
        t = START + i * STEP
        hour = (t % 86400) / 3600
        day_load = 70 if 8 <= hour < 20 else 25
        utils = [min(100.0, max(0.0, day_load + rng.uniform(-8, 8))),
                 95.0 if 1 <= hour < 3 else 2.0]
        for gpu, util in enumerate(utils):
            power = round(60 + util / 100 * 290, 1)  # 350 W PCIe card
            mem = 70_000.0 if gpu == 0 else (76_000.0 if util > 50 else 1_000.0)
            lines.append(json.dumps([t, gpu, round(util, 1), mem, 81_559.0, power, energy[gpu]],
                                    separators=(",", ":")))
            energy[gpu] += int(power * STEP * 1000)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
