"""Summaries of a recording: percentiles, busy hours per day, memory saturation, steadiness,
a sizing suggestion (p95 over 30 days plus 20% headroom) and an own-or-rent verdict."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from colostack.profile.samples import Sample

DAY_S = 86400.0


@dataclass(frozen=True)
class Thresholds:
    busy_util_pct: float = 50.0        # a GPU counts as busy at or above this utilisation
    mem_saturated_frac: float = 0.9    # memory counts as saturated at or above this fraction
    min_busy_hours_per_day: float = 6.0  # seed: ownership pays back at 6+ busy hours a day
    max_cv: float = 0.5                # above this coefficient of variation the load is bursty
    headroom: float = 0.2              # seed: size for p95 plus 20%
    sizing_window_days: float = 30.0   # seed: the p95 is taken over 30 days


@dataclass(frozen=True)
class GpuSummary:
    gpu: int
    samples: int
    util_p50: float
    util_p95: float
    util_mean: float
    util_variance: float
    util_cv: float
    busy_hours_per_day: float
    mem_p95_frac: float
    mem_saturated_frac_of_time: float
    mean_power_w: float
    energy_kwh: float | None


@dataclass(frozen=True)
class Profile:
    days: float
    gpus: list[GpuSummary]
    demand_p95_gpus: float        # p95 of the summed load, in whole-GPU equivalents
    suggested_gpus: int
    mem_p95_gib: float
    suggested_mem_gib: float
    sizing_days: float
    steady: bool
    reasons: list[str]


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def _durations(times: list[float]) -> list[float]:
    """Each sample stands for the time until the next; the last one for the median step."""
    steps = [b - a for a, b in itertools.pairwise(times)]
    typical = statistics.median(steps) if steps else 0.0
    # A gap (sampler down) longer than 2 steps is not evidence of load either way.
    return [min(s, 2 * typical) for s in steps] + [typical]


def summarise_gpu(gpu: int, samples: list[Sample], th: Thresholds) -> GpuSummary:
    samples = sorted(samples, key=lambda s: s.t)
    utils = [s.util for s in samples]
    durs = _durations([s.t for s in samples])
    covered = sum(durs)
    days = covered / DAY_S if covered else 0.0
    busy_s = sum(d for s, d in zip(samples, durs, strict=True) if s.util >= th.busy_util_pct)
    mem_frac = [s.mem_used_mib / s.mem_total_mib for s in samples if s.mem_total_mib > 0]
    sat_s = sum(d for s, d in zip(samples, durs, strict=True)
                if s.mem_total_mib > 0
                and s.mem_used_mib / s.mem_total_mib >= th.mem_saturated_frac)
    mean = statistics.fmean(utils)
    var = statistics.pvariance(utils)
    energies = [s.energy_mj for s in samples if s.energy_mj is not None]
    energy = (energies[-1] - energies[0]) / 3.6e9 if len(energies) >= 2 else None
    return GpuSummary(
        gpu=gpu, samples=len(samples),
        util_p50=percentile(utils, 50), util_p95=percentile(utils, 95),
        util_mean=mean, util_variance=var,
        util_cv=math.sqrt(var) / mean if mean > 0 else math.inf,
        busy_hours_per_day=busy_s / 3600.0 / days if days else 0.0,
        mem_p95_frac=percentile(mem_frac, 95) if mem_frac else 0.0,
        mem_saturated_frac_of_time=sat_s / covered if covered else 0.0,
        mean_power_w=statistics.fmean(s.power_w for s in samples),
        energy_kwh=energy,
    )


def analyse(samples: list[Sample], th: Thresholds | None = None) -> Profile:
    th = th or Thresholds()
    if not samples:
        raise ValueError("no samples to analyse")
    by_gpu: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_gpu[s.gpu].append(s)
    gpus = [summarise_gpu(g, ss, th) for g, ss in sorted(by_gpu.items())]

    # Fleet demand per sampling instant, over the last sizing window only.
    end = max(s.t for s in samples)
    start = min(s.t for s in samples)
    window_start = end - th.sizing_window_days * DAY_S
    load: dict[float, float] = defaultdict(float)
    mem: dict[float, float] = defaultdict(float)
    for s in samples:
        if s.t >= window_start:
            load[s.t] += s.util / 100.0
            mem[s.t] += s.mem_used_mib / 1024.0
    demand = percentile(list(load.values()), 95)
    mem_p95 = percentile(list(mem.values()), 95)
    days = (end - start) / DAY_S
    sizing_days = min(days, th.sizing_window_days)

    reasons: list[str] = []
    busy = statistics.fmean(g.busy_hours_per_day for g in gpus)
    cv = statistics.fmean(g.util_cv for g in gpus)
    steady = True
    if busy < th.min_busy_hours_per_day:
        steady = False
        reasons.append(f"busy {busy:.1f} h/day (at >= {th.busy_util_pct:g}% util) is under "
                       f"{th.min_busy_hours_per_day:g} h/day")
    else:
        reasons.append(f"busy {busy:.1f} h/day meets {th.min_busy_hours_per_day:g} h/day")
    if cv > th.max_cv:
        steady = False
        reasons.append(f"utilisation CV {cv:.2f} is above {th.max_cv:g} (bursty)")
    else:
        reasons.append(f"utilisation CV {cv:.2f} is within {th.max_cv:g}")
    if sizing_days < th.sizing_window_days:
        reasons.append(f"only {sizing_days:.1f} days recorded; the sizing rule wants "
                       f"{th.sizing_window_days:g}")
    return Profile(
        days=days, gpus=gpus, demand_p95_gpus=demand,
        suggested_gpus=max(1, math.ceil(round(demand * (1 + th.headroom), 9))),
        mem_p95_gib=mem_p95, suggested_mem_gib=mem_p95 * (1 + th.headroom),
        sizing_days=sizing_days, steady=steady, reasons=reasons,
    )
