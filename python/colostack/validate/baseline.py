"""Compare a report with an earlier one (before a driver update) and flag regressions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from colostack import schema
from colostack.validate.model import CheckResult, judge

# check -> largest allowed drop of the numeric observed value, as a fraction of the baseline.
REGRESSION_LIMITS: dict[str, float] = {"hbm_bandwidth": 0.05}


class _BaselineResult(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    check: str
    gpu: int | None
    observed: float | int | str | None = None


class BaselineReport(BaseModel):
    """The part of an earlier JSON report (colostack validate --json) a comparison reads."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    results: list[_BaselineResult] = Field(default_factory=list)


def load(path: Path) -> dict[str, Any]:
    """An earlier report, checked: a malformed one is a UserError naming the field."""
    where = f"baseline report {path}"
    data = schema.parse_json(schema.read_text(path, "baseline report"), where)
    schema.validated(BaselineReport, data, where)
    loaded: dict[str, Any] = data
    return loaded


def _numeric(results: list[dict[str, Any]]) -> dict[tuple[str, int | None], float]:
    return {(r["check"], r["gpu"]): float(r["observed"]) for r in results
            if r["check"] in REGRESSION_LIMITS and isinstance(r.get("observed"), int | float)}


def compare(current: list[CheckResult], baseline: dict[str, Any]) -> list[CheckResult]:
    before = _numeric(baseline.get("results", []))
    now = _numeric([r.to_json() for r in current])
    results = []
    for (check, gpu), old in sorted(before.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
        name = f"baseline_{check}"
        limit = round(old * (1 - REGRESSION_LIMITS[check]), 1)
        new = now.get((check, gpu))
        if new is None:
            results.append(judge(name, gpu, False, None, limit,
                                 reason=f"{check} was {old:g} before and has no value now"))
            continue
        results.append(judge(name, gpu, new >= limit, new, limit,
                             reason=f"{check} {new:g} now, {old:g} before ({new / old - 1:+.1%})"))
    return results
