"""`python -m colostack.cost --config FILE`: one agent run, importing only what the agent needs
(the systemd unit uses this, so a GPU host needs no matplotlib or other commands' extras)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from colostack.cost.agent import AgentConfig, run_once


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m colostack.cost")
    parser.add_argument("--config", type=Path, default=Path("/etc/colostack/cost-agent.yml"))
    args = parser.parse_args()
    for service, u in sorted(run_once(AgentConfig.load(args.config), time.time()).items()):
        print(f"{service}: +{u.gpu_seconds:.1f} GPU-s, +{u.gpu_kwh:.6f} kWh, "
              f"+{u.storage_gb_days:.6f} GB-days")
    return 0


if __name__ == "__main__":
    sys.exit(main())
