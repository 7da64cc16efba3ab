"""What every check gets, and the guard that turns a missing reading into a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from colostack.nvml.platforms import Sku, for_device
from colostack.validate.model import CheckResult, Status, failed
from colostack.validate.readings import ReadingError, Readings
from colostack.validate.settings import Settings


class Unjudgeable(Exception):
    """Nothing to judge against (unknown SKU): the result is `unknown`, never `pass`."""


@dataclass(frozen=True)
class Context:
    readings: Readings
    settings: Settings
    gpus: tuple[int, ...]

    def profile(self, gpu: int) -> Sku:
        device_id = int(self.readings.gpu(gpu, "pci.device_id"))
        profile = for_device(device_id)
        if profile is None:
            raise Unjudgeable(f"no SKU profile for PCI device id {device_id:#06x}")
        return profile

    def host_profile(self) -> Sku:
        """The profile of the first GPU whose device id reads; a lost GPU must not hide the SKU."""
        for gpu in self.gpus:
            try:
                return self.profile(gpu)
            except ReadingError:
                continue
        raise Unjudgeable("no GPU reports a PCI device id")


def per_gpu(check: str, ctx: Context, judge: Callable[[int], CheckResult]) -> list[CheckResult]:
    """Run `judge` for each GPU; a failed reading fails the check (fail closed)."""
    return [guarded(check, gpu, partial(judge, gpu)) for gpu in ctx.gpus]


def guarded(check: str, gpu: int | None, judge: Callable[[], CheckResult]) -> CheckResult:
    try:
        return judge()
    except ReadingError as exc:
        return failed(check, gpu, None, None, str(exc))
    except Unjudgeable as exc:
        return CheckResult(check, gpu, Status.UNKNOWN, None, None, str(exc))
