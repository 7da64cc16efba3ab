"""Regenerate the figures in docs/costs.md: the TCO plot from the defaults, and a chargeback
report from SYNTHETIC usage (a made-up November on two nodes, 10 GPUs) loaded into a throwaway
redis-server. Run from the repository root: .venv/bin/python docs/samples/regenerate.py"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import redis
from colostack.cli import main
from colostack.cost import usage
from colostack.cost.usage import Usage

DOCS = Path(__file__).resolve().parent.parent
# The same throwaway redis-server the cost tests use.
sys.path.insert(0, str(DOCS.parent / "python" / "tests"))
from redisproc import redis_server

RATE_CARD = DOCS.parent / "inventories/colo/group_vars/gpu_nodes/cost_agent.yml"
NOTE = "SYNTHETIC sample: usage made up by docs/samples/regenerate.py, not measured."


def synthetic_day(day: int) -> dict[str, Usage]:
    """10 GPUs x 24 h = 240 GPU-hours a day; weekends (7, 8, 14, ...) are quieter."""
    weekend = (day + 6) % 7 in (5, 6)       # 2026-11-01 is a Sunday
    chat = 110.0 if weekend else 150.0
    search = 30.0 + (day % 5) * 2
    batch = 24.0 if day % 7 == 3 else 0.0
    idle = 240.0 - chat - search - batch
    # Busy GPUs average about 0.30 kWh per GPU-hour under 350 W caps; idle about 0.07.
    return {
        "chat-api": Usage(chat * 3600, chat * 0.30, 150.0),
        "search": Usage(search * 3600, search * 0.25, 520.0),
        "batch": Usage(batch * 3600, batch * 0.33, 40.0),
        "idle": Usage(idle * 3600, idle * 0.07, 0.0),
    }


def chargeback_sample() -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        client = redis.Redis.from_url(url)
        for day in range(1, 31):
            usage.write(client, f"2026-11-{day:02d}", synthetic_day(day), 86400)
        main(["chargeback", "--month", "2026-11", "--rate-card", str(RATE_CARD),
              "--redis-url", url, "--out", str(DOCS / "samples"), "--note", NOTE])


if __name__ == "__main__":
    main(["tco", "--plot", str(DOCS / "img/tco.png")])
    chargeback_sample()
