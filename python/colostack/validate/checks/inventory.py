"""Inventory: count, model, identity, driver and CUDA pins, compute capability, persistence."""

from __future__ import annotations

from colostack.validate.checks.base import Context, guarded, per_gpu
from colostack.validate.model import CheckResult, judge, passed


def _cuda_text(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"


def _gpu_count(ctx: Context) -> CheckResult:
    seen = int(ctx.readings.system("gpu_count"))
    expected = ctx.settings.expect_gpus
    if expected is None:
        if not ctx.gpus:
            return judge("gpu_count", None, False, seen, None, reason="no GPUs visible to NVML")
        expected = ctx.host_profile().gpu_count
    return judge("gpu_count", None, seen == expected, seen, expected,
                 reason=f"{seen} GPUs visible, {expected} expected")


def _pinned(check: str, observed: str, pin: str | None) -> CheckResult:
    if pin is None:
        return passed(check, None, observed, None, f"{observed} readable; no pin given")
    return judge(check, None, observed == pin, observed, pin,
                 reason=f"{observed} installed, {pin} pinned")


def _model(ctx: Context, gpu: int) -> CheckResult:
    profile = ctx.profile(gpu)
    first = ctx.host_profile()
    name = str(ctx.readings.gpu(gpu, "name"))
    return judge("model", gpu, profile == first, name, first.name,
                 reason=f"{name} ({profile.name}); host profile {first.name}")


def _identity(ctx: Context, gpu: int) -> CheckResult:
    values = {k: str(ctx.readings.gpu(gpu, k)).strip() for k in ("uuid", "serial", "vbios")}
    empty = [k for k, v in values.items() if not v or v.upper().startswith("N/A")]
    if empty:
        return judge("identity", gpu, False, None, None, reason=f"empty {', '.join(empty)}")
    pin = ctx.settings.expect_vbios
    ok = pin is None or values["vbios"] == pin
    return judge("identity", gpu, ok, values["vbios"], pin,
                 reason=f"{values['uuid']} serial {values['serial']} VBIOS {values['vbios']}")


def _compute_capability(ctx: Context, gpu: int) -> CheckResult:
    major, minor = ctx.readings.gpu(gpu, "compute_capability")
    want = ctx.profile(gpu).compute_capability
    seen = f"{major}.{minor}"
    return judge("compute_capability", gpu, (major, minor) == want, seen, f"{want[0]}.{want[1]}",
                 reason=f"compute capability {seen}")


def _persistence(ctx: Context, gpu: int) -> CheckResult:
    mode = int(ctx.readings.gpu(gpu, "persistence_mode"))
    return judge("persistence_mode", gpu, mode == 1, mode, 1,
                 reason="persistence mode " + ("enabled" if mode == 1 else "disabled"))


def run(ctx: Context) -> list[CheckResult]:
    r, s = ctx.readings, ctx.settings
    results = [
        guarded("gpu_count", None, lambda: _gpu_count(ctx)),
        guarded("driver_version", None, lambda: _pinned(
            "driver_version", str(r.system("driver_version")), s.expect_driver)),
        guarded("cuda_driver_version", None,
                lambda: _pinned("cuda_driver_version",
                                _cuda_text(int(r.system("cuda_driver_version"))), s.expect_cuda)),
    ]
    if ctx.gpus:
        results += per_gpu("model", ctx, lambda g: _model(ctx, g))
    results += per_gpu("identity", ctx, lambda g: _identity(ctx, g))
    results += per_gpu("compute_capability", ctx, lambda g: _compute_capability(ctx, g))
    results += per_gpu("persistence_mode", ctx, lambda g: _persistence(ctx, g))
    return results

