"""PCIe link generation and width under load against the link's maximum; replay counter."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge


def _link(ctx: Context, gpu: int) -> CheckResult:
    r = ctx.readings
    # Idle links downtrain to save power, so the current values are the ones seen under load.
    gen, width = int(r.gpu(gpu, "load.pcie_gen")), int(r.gpu(gpu, "load.pcie_width"))
    max_gen, max_width = int(r.gpu(gpu, "pcie.max_gen")), int(r.gpu(gpu, "pcie.max_width"))
    ok = gen >= max_gen and width >= max_width
    return judge("pcie_link", gpu, ok, f"Gen{gen} x{width}", f"Gen{max_gen} x{max_width}",
                 reason=f"under load Gen{gen} x{width}, link max Gen{max_gen} x{max_width}")


def _replays(ctx: Context, gpu: int) -> CheckResult:
    count = int(ctx.readings.gpu(gpu, "pcie.replay_counter"))
    limit = ctx.settings.pcie_replay_max
    return judge("pcie_replays", gpu, count <= limit, count, limit, reason=f"{count} PCIe replays")


def run(ctx: Context) -> list[CheckResult]:
    return (per_gpu("pcie_link", ctx, lambda g: _link(ctx, g))
            + per_gpu("pcie_replays", ctx, lambda g: _replays(ctx, g)))
