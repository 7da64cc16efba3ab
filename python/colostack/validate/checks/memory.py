"""ECC (SRAM and DRAM apart), row remapping and retired pages."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge, passed

# (reading, most allowed). Azure HPC health checks and Meta gcm thresholds.
ECC_LIMITS: tuple[tuple[str, int], ...] = (
    ("ecc.volatile.sram.uncorrected", 0),
    ("ecc.aggregate.sram.uncorrected", 0),
    ("ecc.volatile.dram.uncorrected", 0),
    ("ecc.aggregate.sram.corrected", 10_000),
    ("ecc.aggregate.dram.corrected", 20_000_000),
)
RETIRED_PAGES_MAX = 10


def _ecc(ctx: Context, gpu: int) -> CheckResult:
    mode = int(ctx.readings.gpu(gpu, "ecc.mode"))
    if mode != 1:
        return judge("ecc", gpu, False, mode, 1, reason="ECC is disabled")
    over = []
    for key, limit in ECC_LIMITS:
        count = int(ctx.readings.gpu(gpu, key))
        if count > limit:
            over.append(f"{key}={count} > {limit}")
    return judge("ecc", gpu, not over, len(over), 0,
                 reason="; ".join(over) if over else "ECC enabled, counters within limits")


def _row_remap(ctx: Context, gpu: int) -> CheckResult:
    pending = int(ctx.readings.gpu(gpu, "remap.pending"))
    failure = int(ctx.readings.gpu(gpu, "remap.failure"))
    rows = int(ctx.readings.gpu(gpu, "remap.uncorrectable_rows"))
    ok = pending == 0 and failure == 0
    return judge("row_remap", gpu, ok, f"pending={pending} failure={failure}", "0/0",
                 reason=f"remap pending {pending}, failure {failure}, uncorrectable rows {rows}"
                 + ("" if ok else ": reset the GPU (pending) or replace it (failure)"))


def _retired_pages(ctx: Context, gpu: int) -> CheckResult:
    if not ctx.profile(gpu).retired_pages:
        return passed("retired_pages", gpu, None, None, "not used on this SKU (row remapping)")
    count = int(ctx.readings.gpu(gpu, "retired_pages.count"))
    pending = int(ctx.readings.gpu(gpu, "retired_pages.pending"))
    ok = count <= RETIRED_PAGES_MAX and pending == 0
    return judge("retired_pages", gpu, ok, count, RETIRED_PAGES_MAX,
                 reason=f"{count} retired, pending {pending}")


def run(ctx: Context) -> list[CheckResult]:
    return (per_gpu("ecc", ctx, lambda g: _ecc(ctx, g))
            + per_gpu("row_remap", ctx, lambda g: _row_remap(ctx, g))
            + per_gpu("retired_pages", ctx, lambda g: _retired_pages(ctx, g)))
