"""cost_agent: the agent unit's systemd sandbox (molecule/sandbox_scores.py)."""

from __future__ import annotations

from conftest import ssh_host
from sandbox_scores import check_unit


def test_cost_agent_unit_stays_under_its_exposure_threshold() -> None:
    check_unit(ssh_host("cost-node"), "colostack-cost-agent.service")
