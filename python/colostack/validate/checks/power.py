"""Power: the enforced limit equals the intended cap (the pinned cap, else NVML's default)."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge

TOLERANCE_W = 1.0


def _power_cap(ctx: Context, gpu: int) -> CheckResult:
    enforced = int(ctx.readings.gpu(gpu, "power.enforced_limit_mw")) / 1000
    intended = ctx.settings.power_caps_w.get(gpu)
    source = "pinned cap"
    if intended is None:
        intended = int(ctx.readings.gpu(gpu, "power.default_limit_mw")) / 1000
        source = "NVML default limit"
    ok = abs(enforced - intended) <= TOLERANCE_W
    return judge("power_cap", gpu, ok, enforced, intended,
                 reason=f"enforced {enforced:g} W, {source} {intended:g} W")


def run(ctx: Context) -> list[CheckResult]:
    return per_gpu("power_cap", ctx, lambda g: _power_cap(ctx, g))
