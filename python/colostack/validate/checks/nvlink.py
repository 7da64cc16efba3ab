"""NVLink link states and error counters, and the NVSwitch fabric state, where the SKU has them."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge, passed

FABRIC_COMPLETED = 3  # NVML_GPU_FABRIC_STATE_COMPLETED


def _links(ctx: Context, gpu: int) -> CheckResult:
    want = ctx.profile(gpu).nvlink_links
    if want == 0:
        return passed("nvlink", gpu, None, 0, "NVLink not expected on this SKU")
    states = [int(s) for s in ctx.readings.gpu(gpu, "nvlink.states")]
    recovery = [int(c) for c in ctx.readings.gpu(gpu, "nvlink.recovery_errors")]
    active = sum(1 for s in states if s == 1)
    down = [i for i, s in enumerate(states) if s != 1]
    retrained = [i for i, c in enumerate(recovery) if c > 0]
    problems = []
    if active < want:
        problems.append(f"{active}/{want} links active (down: {down})")
    if retrained:
        problems.append(f"recovery errors on links {retrained}")
    fine = f"{active}/{want} links active, no recoveries"
    return judge("nvlink", gpu, not problems, active, want,
                 reason="; ".join(problems) if problems else fine)


def _fabric(ctx: Context, gpu: int) -> CheckResult:
    if not ctx.profile(gpu).nvswitch_fabric:
        return passed("nvswitch_fabric", gpu, None, None, "no NVSwitch fabric on this SKU")
    state = int(ctx.readings.gpu(gpu, "fabric.state"))
    status = int(ctx.readings.gpu(gpu, "fabric.status"))
    ok = state == FABRIC_COMPLETED and status == 0
    return judge("nvswitch_fabric", gpu, ok, f"state={state} status={status}",
                 f"state={FABRIC_COMPLETED} status=0",
                 reason="fabric registration completed" if ok
                 else "fabric not completed: check nvidia-fabricmanager")


def run(ctx: Context) -> list[CheckResult]:
    return (per_gpu("nvlink", ctx, lambda g: _links(ctx, g))
            + per_gpu("nvswitch_fabric", ctx, lambda g: _fabric(ctx, g)))
