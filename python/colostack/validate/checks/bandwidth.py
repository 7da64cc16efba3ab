"""HBM bandwidth: median of repeated kernel copies against the peak NVML implies."""

from __future__ import annotations

import statistics

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge


def peak_gbps(bus_width_bits: int, max_mem_clock_mhz: int) -> float:
    """Theoretical HBM bandwidth: bus width x max memory clock x 2 (DDR) / 8 bits, in GB/s."""
    return bus_width_bits * max_mem_clock_mhz * 1e6 * 2 / 8 / 1e9


def _bandwidth(ctx: Context, gpu: int) -> CheckResult:
    r = ctx.readings
    peak = peak_gbps(int(r.gpu(gpu, "memory.bus_width")), int(r.gpu(gpu, "clock.mem_max_mhz")))
    samples = [float(x) for x in r.gpu(gpu, "load.bandwidth_gbps")]
    if not samples or peak <= 0:
        return judge("hbm_bandwidth", gpu, False, None, None, reason="no bandwidth samples or peak")
    floor = ctx.settings.bandwidth_floor or ctx.profile(gpu).bandwidth_floor
    median = statistics.median(samples)
    limit = round(floor * peak, 1)
    return judge("hbm_bandwidth", gpu, median >= limit, round(median, 1), limit,
                 reason=f"median {median:.0f} GB/s of {len(samples)} runs = {median / peak:.0%} of "
                 f"{peak:.0f} GB/s peak, floor {floor:.0%}")


def run(ctx: Context) -> list[CheckResult]:
    return per_gpu("hbm_bandwidth", ctx, lambda g: _bandwidth(ctx, g))
