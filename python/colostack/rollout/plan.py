"""Batch sizes, the drained budget and the failure budget of a rolling change, checked up front."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_SIZE = re.compile(r"\A(?P<n>[0-9]+)(?P<pct>%?)\Z")


class PlanError(ValueError):
    """Bad rollout input; the message names the variable."""


@dataclass(frozen=True)
class Amount:
    """A count of hosts, or a percentage of some number of hosts."""

    value: int
    percent: bool

    def of(self, hosts: int, minimum: int = 1) -> int:
        """As Ansible's serial does: a percentage rounds down, with `minimum` as the floor."""
        if not self.percent:
            return self.value
        return max(minimum, math.floor(self.value * hosts / 100))


def parse_amount(value: Any, variable: str, *, allow_zero: bool = False) -> Amount:
    usable = isinstance(value, int | str) and not isinstance(value, bool)
    text = str(value) if usable else ""
    match = _SIZE.match(text)
    if match is None:
        raise PlanError(f"{variable} must be a whole number of hosts or a percentage such as "
                        f"'10%' (got {value!r})")
    amount = Amount(int(match["n"]), bool(match["pct"]))
    if (amount.value == 0 and not allow_zero) or (amount.percent and amount.value > 100):
        low = 0 if allow_zero else 1
        raise PlanError(f"{variable} must be between {low} and the fleet size, or {low}% to "
                        f"100% (got {value!r})")
    return amount


def batch_sizes(serial: Any, hosts: int, prefix: str = "rolling_update") -> list[int]:
    """The batches Ansible will run for `serial` over `hosts` hosts (it repeats the last item)."""
    items = serial if isinstance(serial, list) else [serial]
    if not items:
        raise PlanError(f"{prefix}_serial must not be an empty list")
    amounts = [parse_amount(item, f"{prefix}_serial") for item in items]
    sizes: list[int] = []
    left, index = hosts, 0
    while left > 0:
        size = min(amounts[min(index, len(amounts) - 1)].of(hosts), left)
        sizes.append(size)
        left -= size
        index += 1
    return sizes


@dataclass(frozen=True)
class Plan:
    batches: list[int]
    max_drained: int
    failure_budget: Amount

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "max_drained": self.max_drained,
                "failure_budget": {"value": self.failure_budget.value,
                                   "percent": self.failure_budget.percent}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        budget = data["failure_budget"]
        return cls(list(data["batches"]), int(data["max_drained"]),
                   Amount(int(budget["value"]), bool(budget["percent"])))


def make_plan(serial: Any, max_drained: Any, failure_budget: Any, hosts: int,
              prefix: str = "rolling_update") -> Plan:
    """Check every input against the fleet before any host changes; errors name the variable."""
    batches = batch_sizes(serial, hosts, prefix)
    limit = parse_amount(max_drained, f"{prefix}_max_drained").of(hosts)
    widest = max(batches, default=0)
    if widest > limit:
        raise PlanError(f"{prefix}_serial gives a batch of {widest} hosts, more than "
                        f"{prefix}_max_drained allows ({limit} of {hosts} hosts)")
    budget = parse_amount(failure_budget, f"{prefix}_failure_budget", allow_zero=True)
    return Plan(batches, limit, budget)


def check_keyword_batches(plan: Plan, serial: Any, seen: list[list[str]],
                          prefix: str = "rolling_update") -> None:
    """Refuse a serial the play's keyword did not see: Ansible templates `serial` before host
    variables exist, so a value set in the inventory silently runs other batches. `seen` is each
    host's batch as the keyword formed it, in play order."""
    sizes = [len(batch) for i, batch in enumerate(seen) if i == 0 or batch != seen[i - 1]]
    if sizes != plan.batches:
        raise PlanError(
            f"{prefix}_serial is {serial!r} for these hosts (batches {plan.batches}), but the "
            f"play's serial keyword formed batches {sizes}: Ansible reads serial before host "
            f"variables exist, so give {prefix}_serial with -e (or in the rollout's extra_vars "
            f"in control_node_rollouts), not in the inventory")


def halt_after_batch(plan: Plan, attempted: int, failed: int, canary: bool) -> str:
    """Why the rollout stops after this batch ('' to go on).

    The canary batch halts on any failure; later batches halt once the failures so far exceed the
    budget, a count or a percentage (rounded down) of the hosts attempted so far.
    """
    if failed == 0:
        return ""
    if canary:
        return f"the canary batch had {failed} failed host(s)"
    allowed = plan.failure_budget.of(attempted, minimum=0)
    if failed > allowed:
        return (f"{failed} failed host(s) of {attempted} attempted exceed the failure budget "
                f"of {allowed}")
    return ""
