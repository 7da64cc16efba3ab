"""Per-request samples and their summary: latency percentiles, throughput, errors, SLO breaks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Sample:
    start: float  # seconds since the run began
    ttft: float  # time to first token (the whole request when not streamed)
    e2e: float
    tokens: int
    itl: float | None  # mean inter-token latency of a streamed answer
    error: str | None = None


@dataclass(frozen=True)
class Slo:
    ttft_p95_s: float | None = 0.2  # the seed's bar: 200 ms for 100-token completions
    e2e_p95_s: float | None = None
    max_error_rate: float = 0.01

    def breaks(self, s: Sample) -> bool:
        return s.error is not None or (
            (self.ttft_p95_s is not None and s.ttft > self.ttft_p95_s)
            or (self.e2e_p95_s is not None and s.e2e > self.e2e_p95_s)
        )


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Summary:
    requests: int
    errors: int
    error_rate: float
    duration_s: float
    tokens_per_s: float
    ttft_s: dict[str, float | None]
    itl_s: dict[str, float | None]
    e2e_s: dict[str, float | None]
    slo_break_rate: float
    slo_met: bool
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pcts(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q) for q in (50, 95, 99)}


def summarise(samples: list[Sample], duration_s: float, slo: Slo) -> Summary:
    ok = [s for s in samples if s.error is None]
    errors = len(samples) - len(ok)
    ttft = _pcts([s.ttft for s in ok])
    e2e = _pcts([s.e2e for s in ok])
    rate = errors / len(samples) if samples else 0.0
    failures = []
    if not samples:
        failures.append("no request completed")
    if rate > slo.max_error_rate:
        failures.append(f"error rate {rate:.3f} > {slo.max_error_rate}")
    for name, got, limit in (
        ("ttft p95", ttft["p95"], slo.ttft_p95_s),
        ("e2e p95", e2e["p95"], slo.e2e_p95_s),
    ):
        if limit is not None and got is not None and got > limit:
            failures.append(f"{name} {got * 1000:.0f} ms > {limit * 1000:.0f} ms")
    return Summary(
        requests=len(samples),
        errors=errors,
        error_rate=rate,
        duration_s=duration_s,
        tokens_per_s=sum(s.tokens for s in ok) / duration_s if duration_s > 0 else 0.0,
        ttft_s=ttft,
        itl_s=_pcts([s.itl for s in ok if s.itl is not None]),
        e2e_s=e2e,
        slo_break_rate=sum(slo.breaks(s) for s in samples) / len(samples) if samples else 0.0,
        slo_met=not failures,
        failures=failures,
    )
