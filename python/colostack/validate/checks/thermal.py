"""Thermals against NVML's own per-device thresholds, and active clock-event (throttle) reasons."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge

# nvmlClocksEventReasons bits that mean the GPU is being held back by a fault, not by policy.
BAD_CLOCK_EVENTS: dict[int, str] = {
    0x08: "HW slowdown",
    0x20: "SW thermal slowdown",
    0x40: "HW thermal slowdown",
    0x80: "HW power brake",
}


def _gpu_temp(ctx: Context, gpu: int) -> CheckResult:
    temp = float(ctx.readings.gpu(gpu, "temp.gpu"))
    slowdown = float(ctx.readings.gpu(gpu, "temp.threshold.slowdown"))
    shutdown = float(ctx.readings.gpu(gpu, "temp.threshold.shutdown"))
    limit = min(slowdown, shutdown) - ctx.settings.temp_margin_c
    return judge("gpu_temperature", gpu, temp < limit, temp, limit,
                 reason=f"{temp:g} C; slowdown {slowdown:g} C, limit {limit:g} C")


def _mem_temp(ctx: Context, gpu: int) -> CheckResult:
    temp = float(ctx.readings.gpu(gpu, "temp.memory"))
    mem_max = float(ctx.readings.gpu(gpu, "temp.threshold.mem_max"))
    limit = mem_max - ctx.settings.temp_margin_c
    return judge("hbm_temperature", gpu, temp < limit, temp, limit,
                 reason=f"{temp:g} C; HBM max {mem_max:g} C, limit {limit:g} C")


def _clock_events(ctx: Context, gpu: int) -> CheckResult:
    # Read both idle and under load: power brake and HW slowdown often show only under load.
    mask = int(ctx.readings.gpu(gpu, "clock_events")) | int(
        ctx.readings.gpu(gpu, "load.clock_events"))
    active = [name for bit, name in BAD_CLOCK_EVENTS.items() if mask & bit]
    return judge("clock_events", gpu, not active, f"{mask:#x}", "none of 0x8,0x20,0x40,0x80",
                 reason=", ".join(active) + " active" if active else "no throttle reasons active")


def run(ctx: Context) -> list[CheckResult]:
    return (per_gpu("gpu_temperature", ctx, lambda g: _gpu_temp(ctx, g))
            + per_gpu("hbm_temperature", ctx, lambda g: _mem_temp(ctx, g))
            + per_gpu("clock_events", ctx, lambda g: _clock_events(ctx, g)))
