"""Per-GPU power caps derived from a per-node power budget (for example 4 kW at the rack),
kept inside NVML's limit constraints. `colostack validate --set-power-cap` applies them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from colostack import argtypes
from colostack.errors import UserError


class PowerBudgetError(ValueError, UserError):
    """The budget cannot be met within the GPUs' constraints."""


@dataclass(frozen=True)
class Constraint:
    """nvmlDeviceGetPowerManagementLimitConstraints, in watts."""

    min_w: float
    max_w: float


@dataclass(frozen=True)
class CapPlan:
    budget_w: float
    base_w: float
    caps_w: tuple[int, ...]
    limited_by_max: bool   # the budget allows more than the GPUs can take

    @property
    def node_max_w(self) -> float:
        """The most the node can draw with these caps: what power and cooling must carry."""
        return self.base_w + sum(self.caps_w)


def plan(budget_w: float, base_w: float, gpus: list[Constraint], step_w: int = 5) -> CapPlan:
    """Share what the budget leaves after the non-GPU load equally, rounded down to step_w,
    clamped to each GPU's maximum. Fails if any GPU would sit below its minimum."""
    if not gpus:
        raise PowerBudgetError("no GPUs to cap")
    if budget_w <= 0 or base_w < 0:
        raise PowerBudgetError(f"budget_w {budget_w} must be > 0 and base_w {base_w} >= 0")
    share = (budget_w - base_w) / len(gpus)
    caps: list[int] = []
    for i, c in enumerate(gpus):
        cap = int(min(share, c.max_w) // step_w * step_w)
        if cap < c.min_w:
            need = base_w + sum(g.min_w for g in gpus)
            raise PowerBudgetError(
                f"budget {budget_w:g} W leaves {share:.0f} W for GPU {i}, under its NVML "
                f"minimum {c.min_w:g} W; the node needs at least {need:g} W")
        caps.append(cap)
    return CapPlan(budget_w, base_w, tuple(caps), any(share > c.max_w for c in gpus))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("powercap", help="derive per-GPU power caps from a node power budget")
    p.add_argument("--budget-w", type=argtypes.positive, required=True,
                   help="node budget, e.g. 4000")
    p.add_argument("--base-w", type=argtypes.non_negative, default=1200.0,
                   help="non-GPU draw: CPUs, memory, fans, NICs, NVSwitch")
    p.add_argument("--gpus", type=argtypes.number(int, ge=1, le=1024), required=True,
                   help="number of GPUs sharing the budget")
    p.add_argument("--min-w", type=argtypes.non_negative, default=200.0,
                   help="NVML minimum limit (H100 SXM)")
    p.add_argument("--max-w", type=argtypes.positive, default=700.0,
                   help="NVML maximum limit (H100 SXM)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.min_w > args.max_w:
        raise PowerBudgetError(f"--min-w {args.min_w:g} is above --max-w {args.max_w:g}")
    result = plan(args.budget_w, args.base_w, [Constraint(args.min_w, args.max_w)] * args.gpus)
    for i, cap in enumerate(result.caps_w):
        print(f"gpu {i}: {cap} W")
    print(f"node max {result.node_max_w:g} W of {result.budget_w:g} W budget")
    if result.limited_by_max:
        print("note: GPUs are at their NVML maximum; the budget is not the limit")
    return 0
