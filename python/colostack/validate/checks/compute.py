"""Compute: the embedded FMA kernel's output matches the host's expectation on every element."""

from __future__ import annotations

from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge


def _compute(ctx: Context, gpu: int) -> CheckResult:
    elements = int(ctx.readings.gpu(gpu, "load.compute_elements"))
    wrong = int(ctx.readings.gpu(gpu, "load.compute_mismatches"))
    ok = elements > 0 and wrong == 0
    return judge("compute", gpu, ok, wrong, 0, reason=f"{wrong} of {elements} results wrong")


def run(ctx: Context) -> list[CheckResult]:
    return per_gpu("compute", ctx, lambda g: _compute(ctx, g))
