"""Result records shared by every check, and the verdict they add up to."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # nothing to judge against (no profile, no pin): never counts as healthy


class ExitCode(enum.IntEnum):
    HEALTHY = 0
    UNHEALTHY = 1
    COULD_NOT_VALIDATE = 2


Observed = str | int | float | None


@dataclass(frozen=True)
class CheckResult:
    check: str
    gpu: int | None  # None for host-wide checks
    status: Status
    observed: Observed
    limit: Observed
    reason: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @property
    def where(self) -> str:
        return "host" if self.gpu is None else f"GPU {self.gpu}"


def passed(check: str, gpu: int | None, observed: Observed, limit: Observed,
           reason: str) -> CheckResult:
    return CheckResult(check, gpu, Status.PASS, observed, limit, reason)


def failed(check: str, gpu: int | None, observed: Observed, limit: Observed,
           reason: str) -> CheckResult:
    return CheckResult(check, gpu, Status.FAIL, observed, limit, reason)


def judge(check: str, gpu: int | None, ok: bool, observed: Observed, limit: Observed, *,
          reason: str) -> CheckResult:
    """One result whose status follows `ok`; the reason is written for both outcomes."""
    return CheckResult(check, gpu, Status.PASS if ok else Status.FAIL, observed, limit, reason)


def exit_code(results: list[CheckResult]) -> ExitCode:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return ExitCode.UNHEALTHY
    if not results or Status.UNKNOWN in statuses:
        return ExitCode.COULD_NOT_VALIDATE
    return ExitCode.HEALTHY
