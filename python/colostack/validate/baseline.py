"""Compare a report with an earlier one (before a driver update) and flag regressions."""

from __future__ import annotations

from typing import Any

from colostack.validate.model import CheckResult, judge

# check -> largest allowed drop of the numeric observed value, as a fraction of the baseline.
REGRESSION_LIMITS: dict[str, float] = {"hbm_bandwidth": 0.05}


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
