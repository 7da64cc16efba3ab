"""Per-GPU power caps from a per-node budget, inside NVML's constraints."""

from __future__ import annotations

import pytest

from colostack.cli import main
from colostack.powercap import Constraint, PowerBudgetError, plan

SXM = Constraint(200, 700)


def test_four_kilowatts_for_eight_sxm_gpus() -> None:
    p = plan(4000, 1200, [SXM] * 8)
    assert p.caps_w == (350,) * 8
    assert p.node_max_w == 4000
    assert not p.limited_by_max


def test_caps_round_down_to_the_step_and_never_exceed_the_budget() -> None:
    p = plan(4000, 1000, [SXM] * 7)          # 428.57 -> 425
    assert p.caps_w == (425,) * 7
    assert p.node_max_w <= 4000


def test_caps_clamp_to_each_gpus_maximum() -> None:
    p = plan(4000, 500, [Constraint(150, 350)] * 2 + [SXM])
    assert p.caps_w == (350, 350, 700)       # share 3500/3 = 1166.7, clamped per GPU
    assert plan(10_000, 1000, [SXM] * 2).caps_w == (700, 700)
    assert plan(10_000, 1000, [SXM] * 2).limited_by_max


def test_a_budget_below_the_nvml_minimum_is_refused_with_the_needed_power() -> None:
    with pytest.raises(PowerBudgetError, match="needs at least 2800 W"):
        plan(2500, 1200, [SXM] * 8)


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["powercap", "--budget-w", "4000", "--gpus", "8"]) == 0
    assert "gpu 7: 350 W" in capsys.readouterr().out
    assert main(["powercap", "--budget-w", "1000", "--gpus", "8"]) == 2
